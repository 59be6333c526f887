package apiserver

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/apiserver/listwire"
	"github.com/skiff-sh/skiff/apiserver/storage"
	"github.com/skiff-sh/skiff/apiserver/validation"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// maxBlindRetries bounds retries of writes made without a resource version
// (last writer wins) that keep losing races.
const maxBlindRetries = 50

// kindOf resolves the kind of a request.
func kindOf(k skiffv1.Kind) (skiffv1.KindInfo, error) {
	info, ok := skiffv1.Info(k)
	if !ok {
		return info, invalid("kind: %v is not a kind; use one of the KIND_* values", k)
	}
	return info, nil
}

// namespaceOf defaults the namespace of a namespaced kind to "default".
func namespaceOf(info skiffv1.KindInfo, ns string) string {
	if !info.Namespaced {
		return ""
	}
	if ns == "" {
		return "default"
	}
	return ns
}

// unwrapRequest takes the object out of a request and normalises its
// namespace.
func unwrapRequest(o *skiffv1.Object) (skiffv1.Resource, skiffv1.KindInfo, error) {
	obj := o.Unwrap()
	if obj == nil {
		return nil, skiffv1.KindInfo{}, invalid("object: no kind set")
	}
	info, _ := skiffv1.Info(skiffv1.KindOf(obj))
	m := obj.GetMetadata()
	if m == nil {
		return nil, info, invalid("%s: metadata is required", info.Name)
	}
	// Fields this server does not know are dropped, as Kubernetes prunes
	// them: stored, they would be bytes no validation has seen, lost by
	// every JSON reader and writer.
	discardUnknown(obj.ProtoReflect())
	if info.Namespaced {
		m.Namespace = namespaceOf(info, m.Namespace)
	}
	return obj, info, nil
}

func refOf(info skiffv1.KindInfo, obj skiffv1.Resource) ref {
	m := obj.GetMetadata()
	return ref{info: info, namespace: m.GetNamespace(), name: m.GetName()}
}

func (s *Server) Create(ctx context.Context, req *skiffv1.CreateRequest) (*skiffv1.Object, error) {
	obj, info, err := unwrapRequest(req.GetObject())
	if err != nil {
		return nil, err
	}
	dry := req.GetDryRun()
	if obj.GetMetadata().GetName() == "" && obj.GetMetadata().GetGenerateName() != "" {
		return s.createGenerated(ctx, obj, info, dry)
	}
	return s.create(ctx, obj, info, dry)
}

func (s *Server) create(ctx context.Context, obj skiffv1.Resource, info skiffv1.KindInfo, dry bool) (*skiffv1.Object, error) {
	r := refOf(info, obj)
	if err := prepareCreate(obj); err != nil {
		return nil, toStatus(err, r)
	}
	m := obj.GetMetadata()
	if info.Namespaced {
		if err := s.checkNamespaceOpen(ctx, m.Namespace); err != nil {
			return nil, err
		}
	}
	if dry {
		return s.dryRunCreate(ctx, obj, r)
	}
	var claims []string
	var ttl time.Duration
	switch o := obj.(type) {
	case *skiffv1.Node:
		return s.createNode(ctx, o, r)
	case *skiffv1.Service:
		return s.createService(ctx, o, r)
	case *skiffv1.Event:
		if err := s.checkEventQuota(ctx, m.Namespace); err != nil {
			return nil, err
		}
		ttl = s.cfg.EventTTL
	}
	created, err := s.store.Create(ctx, obj, claims, ttl)
	if err != nil {
		return nil, toStatus(err, r)
	}
	return skiffv1.Wrap(created), nil
}

// prepareCreate makes a requested object the one to store: what only the
// server sets, the initial status, defaults; then validates it.
func prepareCreate(obj skiffv1.Resource) error {
	m := obj.GetMetadata()
	m.Uid = newUID()
	m.CreationTimestamp = timestamppb.Now()
	m.Generation = 1
	m.ResourceVersion = ""
	m.DeletionTimestamp = nil
	m.DeletionGracePeriodSeconds = 0
	initialStatus(obj)
	validation.Default(obj)
	return validation.Validate(obj)
}

// initialStatus sets the status an object starts with: what the user wrote
// is ignored, except for nodes, which report their own on registration.
func initialStatus(obj skiffv1.Resource) {
	switch o := obj.(type) {
	case *skiffv1.Node:
	case *skiffv1.Namespace:
		o.Status = &skiffv1.NamespaceStatus{Phase: "Active"}
	case *skiffv1.Pod:
		o.Status = &skiffv1.PodStatus{Phase: skiffv1.PodPending}
		if o.GetSpec().GetNodeName() != "" {
			o.Status.Conditions = []*skiffv1.Condition{scheduledCondition()}
		}
	case *skiffv1.Volume:
		o.Status = &skiffv1.VolumeStatus{Phase: skiffv1.VolumePending}
	case *skiffv1.PersistentVolume:
		o.Status = &skiffv1.PersistentVolumeStatus{Phase: skiffv1.VolumePending}
	default:
		clearField(obj, "status")
	}
}

func scheduledCondition() *skiffv1.Condition {
	return &skiffv1.Condition{Type: skiffv1.PodScheduled, Status: skiffv1.ConditionTrue, LastTransitionTime: timestamppb.Now()}
}

func (s *Server) Get(ctx context.Context, req *skiffv1.GetRequest) (*skiffv1.Object, error) {
	info, err := kindOf(req.GetKind())
	if err != nil {
		return nil, err
	}
	if req.GetName() == "" {
		return nil, invalid("name: required")
	}
	r := ref{info: info, namespace: namespaceOf(info, req.GetNamespace()), name: req.GetName()}
	obj, err := s.store.Get(ctx, info.Kind, r.namespace, r.name)
	if err != nil {
		return nil, toStatus(err, r)
	}
	return skiffv1.Wrap(obj), nil
}

func (s *Server) List(ctx context.Context, req *skiffv1.ListRequest) (*skiffv1.ListResponse, error) {
	page, err := s.listPage(ctx, req)
	if err != nil {
		return nil, err
	}
	return listResponse(page), nil
}

// listResponse is a page as the message List returns.
func listResponse(page *storage.ListPage) *skiffv1.ListResponse {
	resp := &skiffv1.ListResponse{
		Items:              make([]*skiffv1.Object, 0, len(page.Items)),
		ResourceVersion:    itoaRev(page.Revision),
		Continue:           page.Continue,
		RemainingItemCount: page.RemainingItemCount,
	}
	for _, o := range page.Items {
		resp.Items = append(resp.Items, skiffv1.Wrap(o))
	}
	return resp
}

// listForWire is List as the gRPC service answers it: a page read from
// the watch cache goes out as the bytes the cache encoded its objects to
// (a *listwire.Response, which listwire.Codec writes), without marshalling
// them again; any other as List's *skiffv1.ListResponse.
func (s *Server) listForWire(ctx context.Context, req *skiffv1.ListRequest) (any, error) {
	page, err := s.listPage(ctx, req)
	if err != nil {
		return nil, err
	}
	if page.Encoded == nil {
		return listResponse(page), nil
	}
	return &listwire.Response{
		Items:              page.Encoded,
		ResourceVersion:    itoaRev(page.Revision),
		Continue:           page.Continue,
		RemainingItemCount: page.RemainingItemCount,
	}, nil
}

// listPage reads the page a list request asks for, from the watch cache
// when the server has one.
func (s *Server) listPage(ctx context.Context, req *skiffv1.ListRequest) (*storage.ListPage, error) {
	info, err := kindOf(req.GetKind())
	if err != nil {
		return nil, err
	}
	match, err := selectorPredicate(info.Kind, req.GetLabelSelector(), req.GetFieldSelector())
	if err != nil {
		return nil, err
	}
	ns := req.GetNamespace()
	if !info.Namespaced {
		ns = ""
	}
	if req.GetLimit() < 0 {
		return nil, invalid("limit: %d is negative; give 0 for every item or a page size", req.GetLimit())
	}
	opts := storage.ListOptions{Limit: req.GetLimit(), Continue: req.GetContinue()}
	if req.GetLabelSelector() != "" || req.GetFieldSelector() != "" {
		opts.Match = match
		opts.Selector = req.GetLabelSelector() + "\x00" + req.GetFieldSelector()
	}
	list := s.store.ListPage
	if s.watches != nil {
		// The same answer, from memory.
		list = s.watches.ListPage
	}
	page, err := list(ctx, info.Kind, ns, opts)
	if err != nil {
		return nil, toStatus(err, ref{info: info, namespace: ns})
	}
	return page, nil
}

func (s *Server) Update(ctx context.Context, req *skiffv1.UpdateRequest) (*skiffv1.Object, error) {
	obj, info, err := unwrapRequest(req.GetObject())
	if err != nil {
		return nil, err
	}
	r := refOf(info, obj)
	want, err := storage.ParseRevision(obj.GetMetadata().GetResourceVersion())
	if err != nil {
		return nil, invalid("metadata.resourceVersion: %v", err)
	}
	for attempt := 0; ; attempt++ {
		out, err := s.updateOnce(ctx, proto.Clone(obj).(skiffv1.Resource), want, r, req.GetDryRun())
		if storageConflict(err) && want == 0 && attempt < maxBlindRetries {
			continue
		}
		if err != nil {
			return nil, toStatus(err, r)
		}
		return skiffv1.Wrap(out), nil
	}
}

func storageConflict(err error) bool { return err == storage.ErrConflict }

// updateOnce replaces metadata and spec of the stored object, keeping what
// only the server or UpdateStatus may change.
func (s *Server) updateOnce(ctx context.Context, obj skiffv1.Resource, want int64, r ref, dry bool) (skiffv1.Resource, error) {
	cur, err := s.store.GetAtLeast(ctx, r.info.Kind, r.namespace, r.name, want)
	if err != nil {
		return nil, err
	}
	curRev := storage.Revision(cur)
	if want != 0 && want != curRev {
		return nil, storage.ErrConflict
	}
	cm, m := cur.GetMetadata(), obj.GetMetadata()
	m.Uid = cm.Uid
	m.CreationTimestamp = cm.CreationTimestamp
	m.DeletionTimestamp = cm.DeletionTimestamp
	m.DeletionGracePeriodSeconds = cm.DeletionGracePeriodSeconds
	m.Generation = cm.Generation
	m.ResourceVersion = cm.ResourceVersion
	copyField(obj, cur, "status")
	switch o := obj.(type) {
	case *skiffv1.Pod:
		// spec.nodeName is the scheduler's, written through Bind.
		cn := cur.(*skiffv1.Pod).GetSpec().GetNodeName()
		if o.GetSpec() != nil && o.Spec.NodeName == "" {
			o.Spec.NodeName = cn
		}
		if o.GetSpec().GetNodeName() != cn {
			return nil, invalid("spec.nodeName: the scheduler sets it through Bind; it cannot change (%q → %q)", cn, o.GetSpec().GetNodeName())
		}
	case *skiffv1.Node:
		had := cur.(*skiffv1.Node).GetSpec().GetPodCidr()
		if o.Spec == nil {
			o.Spec = &skiffv1.NodeSpec{}
		}
		if o.Spec.PodCidr == "" {
			o.Spec.PodCidr = had
		}
		// Pod CIDRs are claimed in etcd when the server gives them out; one
		// set by an update would have no claim and could be another node's.
		if had == "" && o.GetSpec().GetPodCidr() != "" {
			return nil, invalid("spec.podCIDR: the server gives pod CIDRs when a node registers; it cannot be set by an update")
		}
	case *skiffv1.Service:
		if err := keepAllocated(cur.(*skiffv1.Service), o); err != nil {
			return nil, err
		}
	}
	validation.Default(obj)
	if err := validation.Validate(obj); err != nil {
		return nil, err
	}
	if err := validation.ValidateUpdate(cur, obj); err != nil {
		return nil, err
	}
	if !fieldEqual(cur, obj, "spec") {
		m.Generation++
	}
	if proto.Equal(cur, obj) {
		return cur, nil
	}
	if dry {
		return s.dryRunUpdate(ctx, cur, obj)
	}
	// The last finalizer gone from an object being deleted: it goes now,
	// unless a grace period still runs (a pod its node has yet to stop) or
	// it is a namespace, which the namespace finalizer removes once empty.
	if m.DeletionTimestamp != nil && len(cm.Finalizers) > 0 && len(m.Finalizers) == 0 &&
		m.DeletionGracePeriodSeconds == 0 && r.info.Kind != skiffv1.Kind_KIND_NAMESPACE {
		gone, err := s.store.Delete(ctx, r.info.Kind, r.namespace, r.name, curRev, claimsOf(cur))
		if svc, ok := gone.(*skiffv1.Service); ok && err == nil {
			s.services.release(serviceClaims(svc))
		}
		return gone, err
	}
	if svc, ok := obj.(*skiffv1.Service); ok {
		return s.updateService(ctx, cur.(*skiffv1.Service), svc, curRev)
	}
	return s.store.Update(ctx, obj, curRev)
}

func (s *Server) UpdateStatus(ctx context.Context, req *skiffv1.UpdateRequest) (*skiffv1.Object, error) {
	obj, info, err := unwrapRequest(req.GetObject())
	if err != nil {
		return nil, err
	}
	if !info.HasStatus {
		return nil, invalid("a %s has no status", info.Name)
	}
	if req.GetDryRun() {
		return nil, invalid("dryRun: UpdateStatus does not take it; only Create and Update do")
	}
	if fd := field(obj, "status"); fd == nil || !obj.ProtoReflect().Has(fd) {
		return nil, invalid("status: required; UpdateStatus replaces the %s's status with the one sent", strings.ToLower(info.Name))
	}
	r := refOf(info, obj)
	want, err := storage.ParseRevision(obj.GetMetadata().GetResourceVersion())
	if err != nil {
		return nil, invalid("metadata.resourceVersion: %v", err)
	}
	for attempt := 0; ; attempt++ {
		cur, err := s.store.GetAtLeast(ctx, info.Kind, r.namespace, r.name, want)
		if err != nil {
			return nil, toStatus(err, r)
		}
		curRev := storage.Revision(cur)
		if want != 0 && want != curRev {
			return nil, toStatus(storage.ErrConflict, r)
		}
		if uid := obj.GetMetadata().GetUid(); uid != "" && uid != cur.GetMetadata().GetUid() {
			return nil, status.Errorf(codes.Aborted, "conflict: %s was deleted and created again (uid %s, not %s)", r, cur.GetMetadata().GetUid(), uid)
		}
		next := proto.Clone(cur).(skiffv1.Resource)
		copyField(next, obj, "status")
		if proto.Equal(cur, next) {
			return skiffv1.Wrap(cur), nil
		}
		if err := validation.Validate(next); err != nil {
			return nil, toStatus(err, r)
		}
		out, err := s.store.Update(ctx, next, curRev)
		if storageConflict(err) && want == 0 && attempt < maxBlindRetries {
			continue
		}
		if err != nil {
			return nil, toStatus(err, r)
		}
		return skiffv1.Wrap(out), nil
	}
}

func (s *Server) Bind(ctx context.Context, req *skiffv1.BindRequest) (*skiffv1.Pod, error) {
	podInfo, _ := skiffv1.Info(skiffv1.Kind_KIND_POD)
	nodeInfo, _ := skiffv1.Info(skiffv1.Kind_KIND_NODE)
	r := ref{info: podInfo, namespace: namespaceOf(podInfo, req.GetNamespace()), name: req.GetName()}
	if req.GetName() == "" {
		return nil, invalid("name: required")
	}
	if req.GetNodeName() == "" {
		return nil, invalid("nodeName: required")
	}
	if _, err := s.store.Get(ctx, skiffv1.Kind_KIND_NODE, "", req.GetNodeName()); err != nil {
		return nil, toStatus(err, ref{info: nodeInfo, name: req.GetNodeName()})
	}
	want, err := storage.ParseRevision(req.GetResourceVersion())
	if err != nil {
		return nil, invalid("resourceVersion: %v", err)
	}
	out, err := s.store.GuaranteedUpdate(ctx, skiffv1.Kind_KIND_POD, r.namespace, r.name, func(cur skiffv1.Resource) (skiffv1.Resource, error) {
		pod := cur.(*skiffv1.Pod)
		if want != 0 && want != storage.Revision(pod) {
			return nil, storage.ErrConflict
		}
		if req.GetUid() != "" && req.GetUid() != pod.GetMetadata().GetUid() {
			return nil, status.Errorf(codes.Aborted, "conflict: %s was deleted and created again", r)
		}
		if n := pod.GetSpec().GetNodeName(); n != "" {
			return nil, status.Errorf(codes.FailedPrecondition, "%s is already bound to node %q", r, n)
		}
		if pod.GetMetadata().GetDeletionTimestamp() != nil {
			return nil, status.Errorf(codes.FailedPrecondition, "%s is being deleted", r)
		}
		if pod.Spec == nil {
			return nil, status.Errorf(codes.FailedPrecondition, "%s has no spec", r)
		}
		if pod.Status == nil {
			pod.Status = &skiffv1.PodStatus{Phase: "Pending"}
		}
		pod.Spec.NodeName = req.GetNodeName()
		skiffv1.SetCondition(&pod.Status.Conditions, scheduledCondition(), time.Now())
		return pod, nil
	})
	if err != nil {
		return nil, toStatus(err, r)
	}
	return out.(*skiffv1.Pod), nil
}

func newUID() string { return uuid.NewString() }

func itoaRev(rev int64) string { return strconv.FormatInt(rev, 10) }
