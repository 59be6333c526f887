package storage

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// opTimeout bounds every single etcd call.
const opTimeout = 10 * time.Second

// Store reads and writes objects of every kind.
type Store struct {
	etcd    *clientv3.Client
	metrics *Metrics
	leases  leaseCache
	// readOpts make reads serializable when etcd is a single local member:
	// its own state is then the cluster's, and skipping the read-index
	// round trip makes reads several times cheaper. See GetAtLeast for
	// the one thing they do not see.
	readOpts []clientv3.OpOption
	sealer   Sealer
	// compacted is the newest revision this store compacted to: history
	// before it is gone.
	compacted atomic.Int64
	// watched is the newest revision this store's watches have delivered:
	// a serializable read from before it may hide a write that a watcher
	// (and through the watch cache, a client) already knows of.
	watched atomic.Int64
}

// Sealer encrypts the stored values of kinds that hold secrets.
type Sealer interface {
	// Seal encrypts plain; aad is the etcd key, bound to the result.
	Seal(plain, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
	// SealedByPrimary reports whether a stored value needs no
	// re-encryption.
	SealedByPrimary(sealed []byte) bool
}

// Options tune a store.
type Options struct {
	Metrics *Metrics // may be nil
	// SingleMember says etcd is one member in this process, so local reads
	// see every acknowledged write (but see GetAtLeast).
	SingleMember bool
	// Sealer, when set, encrypts Secrets at rest.
	Sealer Sealer
}

// New makes a store over an etcd client.
func New(etcd *clientv3.Client, opts Options) *Store {
	s := &Store{etcd: etcd, metrics: opts.Metrics, sealer: opts.Sealer}
	if opts.SingleMember {
		s.readOpts = []clientv3.OpOption{clientv3.WithSerializable()}
	}
	return s
}

// Create stores a new object. claims are extra keys (see claimKey) created in
// the same transaction, which must not exist yet. ttl > 0 makes the object
// expire after about that long (events).
func (s *Store) Create(ctx context.Context, obj skiffv1.Resource, claims []string, ttl time.Duration) (skiffv1.Resource, error) {
	info, key, err := s.locate(obj)
	if err != nil {
		return nil, err
	}
	data, err := s.encode(info, key, obj)
	if err != nil {
		return nil, err
	}
	var opts []clientv3.OpOption
	if ttl > 0 {
		lease, err := s.lease(ctx, ttl)
		if err != nil {
			return nil, fmt.Errorf("storage: lease for %s: %w", key, err)
		}
		opts = append(opts, clientv3.WithLease(lease))
	}
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(key), "=", 0)}
	ops := []clientv3.Op{clientv3.OpPut(key, string(data), opts...)}
	for _, c := range claims {
		ck := claimKey(c)
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(ck), "=", 0))
		ops = append(ops, clientv3.OpPut(ck, key))
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	start := time.Now()
	resp, err := s.etcd.Txn(ctx).If(cmps...).Then(ops...).Commit()
	s.metrics.observe("create", start)
	if err != nil {
		return nil, fmt.Errorf("storage: create %s: %w", key, err)
	}
	if !resp.Succeeded {
		if len(claims) > 0 {
			if got, gerr := s.etcd.Get(ctx, key, clientv3.WithCountOnly()); gerr == nil && got.Count == 0 {
				return nil, ErrClaimed
			}
		}
		return nil, ErrExists
	}
	out := proto.Clone(obj).(skiffv1.Resource)
	setRevision(out, resp.Header.Revision)
	return out, nil
}

// Get reads one object.
func (s *Store) Get(ctx context.Context, kind skiffv1.Kind, namespace, name string) (skiffv1.Resource, error) {
	return s.GetAtLeast(ctx, kind, namespace, name, 0)
}

// GetAtLeast is Get for a caller that has seen the object at revision rev
// (a watch event, a client's resourceVersion).
//
// A serializable read (readOpts) can miss a write its caller already
// knows of: etcd tells watchers of a write just before new reads can see
// it, so a client that reads what a watch just told it of may find the
// object missing, at its previous version, or still there after its
// deletion. A read whose view is older than rev, or than anything this
// store's watches delivered, is made again linearizable before it is
// believed.
func (s *Store) GetAtLeast(ctx context.Context, kind skiffv1.Kind, namespace, name string, rev int64) (skiffv1.Resource, error) {
	info, ok := skiffv1.Info(kind)
	if !ok {
		return nil, fmt.Errorf("storage: unknown kind %v", kind)
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	key := objectKey(info, namespace, name)
	start := time.Now()
	resp, err := s.etcd.Get(ctx, key, s.readOpts...)
	if err == nil && s.readBehind(resp.Header.Revision, rev) {
		resp, err = s.etcd.Get(ctx, key)
	}
	s.metrics.observe("get", start)
	if err != nil {
		return nil, fmt.Errorf("storage: get: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return nil, ErrNotFound
	}
	return s.decode(info, resp.Kvs[0].Key, resp.Kvs[0].Value, resp.Kvs[0].ModRevision)
}

// readBehind reports whether a serializable read made at revision read
// may miss a write its caller knows of: one at revision rev, or one this
// store's watches delivered.
func (s *Store) readBehind(read, rev int64) bool {
	return len(s.readOpts) > 0 && read < max(rev, s.watched.Load())
}

// noteWatched records that a watch delivered revision rev.
func (s *Store) noteWatched(rev int64) {
	for {
		cur := s.watched.Load()
		if rev <= cur || s.watched.CompareAndSwap(cur, rev) {
			return
		}
	}
}

// List reads every object of a kind (in one namespace when set) and the
// revision the read was made at.
func (s *Store) List(ctx context.Context, kind skiffv1.Kind, namespace string) ([]skiffv1.Resource, int64, error) {
	page, err := s.ListPage(ctx, kind, namespace, ListOptions{})
	if err != nil {
		return nil, 0, err
	}
	return page.Items, page.Revision, nil
}

// Count tells how many objects of a kind are stored.
func (s *Store) Count(ctx context.Context, kind skiffv1.Kind) (int64, error) {
	return s.CountIn(ctx, kind, "")
}

// CountIn tells how many objects of a kind are stored in one namespace
// (every namespace when empty).
func (s *Store) CountIn(ctx context.Context, kind skiffv1.Kind, namespace string) (int64, error) {
	info, _ := skiffv1.Info(kind)
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	resp, err := s.etcd.Get(ctx, prefixKey(info, namespace), clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, err
	}
	return resp.Count, nil
}

// Update writes obj if the stored revision is still expect (compare and swap).
func (s *Store) Update(ctx context.Context, obj skiffv1.Resource, expect int64) (skiffv1.Resource, error) {
	info, key, err := s.locate(obj)
	if err != nil {
		return nil, err
	}
	data, err := s.encode(info, key, obj)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	start := time.Now()
	// Keep the lease an object was created with (events).
	resp, err := s.etcd.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", expect)).
		Then(clientv3.OpPut(key, string(data), clientv3.WithIgnoreLease())).
		Else(clientv3.OpGet(key, clientv3.WithCountOnly())).
		Commit()
	s.metrics.observe("update", start)
	if err != nil {
		return nil, fmt.Errorf("storage: update %s: %w", key, err)
	}
	if !resp.Succeeded {
		return nil, compareFailed(resp)
	}
	out := proto.Clone(obj).(skiffv1.Resource)
	setRevision(out, resp.Header.Revision)
	return out, nil
}

// Delete removes an object if its stored revision is still expect (0: any)
// and releases the given claims. It returns the object as it was, with the
// revision of the deletion.
func (s *Store) Delete(ctx context.Context, kind skiffv1.Kind, namespace, name string, expect int64, claims []string) (skiffv1.Resource, error) {
	info, ok := skiffv1.Info(kind)
	if !ok {
		return nil, fmt.Errorf("storage: unknown kind %v", kind)
	}
	key := objectKey(info, namespace, name)
	var cmps []clientv3.Cmp
	if expect != 0 {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", expect))
	} else {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(key), ">", 0))
	}
	ops := []clientv3.Op{clientv3.OpDelete(key, clientv3.WithPrevKV())}
	for _, c := range claims {
		ops = append(ops, clientv3.OpDelete(claimKey(c)))
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	start := time.Now()
	resp, err := s.etcd.Txn(ctx).If(cmps...).Then(ops...).Else(clientv3.OpGet(key, clientv3.WithCountOnly())).Commit()
	s.metrics.observe("delete", start)
	if err != nil {
		return nil, fmt.Errorf("storage: delete %s: %w", key, err)
	}
	if !resp.Succeeded {
		return nil, compareFailed(resp)
	}
	prev := resp.Responses[0].GetResponseDeleteRange().PrevKvs
	if len(prev) == 0 {
		return nil, ErrNotFound
	}
	return s.decode(info, prev[0].Key, prev[0].Value, resp.Header.Revision)
}

// GuaranteedUpdate reads an object, applies change and writes the result,
// retrying on conflicts. change may return the object unchanged (same
// pointer, untouched) to skip the write.
func (s *Store) GuaranteedUpdate(ctx context.Context, kind skiffv1.Kind, namespace, name string, change func(cur skiffv1.Resource) (skiffv1.Resource, error)) (skiffv1.Resource, error) {
	for attempt := 0; ; attempt++ {
		cur, err := s.Get(ctx, kind, namespace, name)
		if err != nil {
			return nil, err
		}
		rev := Revision(cur)
		before := proto.Clone(cur)
		next, err := change(cur)
		if err != nil {
			return nil, err
		}
		if proto.Equal(before, next) {
			return next, nil
		}
		out, err := s.Update(ctx, next, rev)
		if err == ErrConflict && attempt < 100 && ctx.Err() == nil {
			continue
		}
		return out, err
	}
}

// Compact drops the history before rev.
func (s *Store) Compact(ctx context.Context, rev int64) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if _, err := s.etcd.Compact(ctx, rev); err != nil {
		return err
	}
	for {
		cur := s.compacted.Load()
		if rev <= cur || s.compacted.CompareAndSwap(cur, rev) {
			return nil
		}
	}
}

// Kept reports whether etcd still keeps the history after revision after,
// so that a watch from it can start: false when it was compacted away.
func (s *Store) Kept(ctx context.Context, after int64) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	_, err := s.etcd.Get(ctx, root+"_revision", clientv3.WithRev(after+1), clientv3.WithCountOnly())
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, rpctypes.ErrCompacted):
		return false, nil
	}
	return false, fmt.Errorf("storage: read at revision %d: %w", after+1, err)
}

// CompactedRevision is the newest revision this store compacted etcd's
// history to (0: none yet); revisions before it are gone. Another server
// may have compacted further.
func (s *Store) CompactedRevision() int64 { return s.compacted.Load() }

// CurrentRevision is etcd's newest revision.
func (s *Store) CurrentRevision(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	resp, err := s.etcd.Get(ctx, root+"_revision", clientv3.WithCountOnly())
	if err != nil {
		return 0, err
	}
	return resp.Header.Revision, nil
}

// Revision reads an object's resource_version as a number (0 when unset or
// malformed).
func Revision(obj skiffv1.Resource) int64 {
	n, _ := ParseRevision(obj.GetMetadata().GetResourceVersion())
	return n
}

// ParseRevision reads a resource_version string.
func ParseRevision(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("resource_version %q is not a revision", s)
	}
	return n, nil
}

func (s *Store) locate(obj skiffv1.Resource) (skiffv1.KindInfo, string, error) {
	info, ok := skiffv1.Info(skiffv1.KindOf(obj))
	if !ok {
		return info, "", fmt.Errorf("storage: unknown kind of %T", obj)
	}
	m := obj.GetMetadata()
	return info, objectKey(info, m.GetNamespace(), m.GetName()), nil
}

// sealed says whether objects of a kind are encrypted at rest.
func (s *Store) sealed(info skiffv1.KindInfo) bool {
	return s.sealer != nil && info.Kind == skiffv1.Kind_KIND_SECRET
}

func (s *Store) encode(info skiffv1.KindInfo, key string, obj skiffv1.Resource) ([]byte, error) {
	data, err := encode(obj)
	if err != nil || !s.sealed(info) {
		return data, err
	}
	out, err := s.sealer.Seal(data, []byte(key))
	if err != nil {
		return nil, fmt.Errorf("storage: encrypt %s: %w", key, err)
	}
	return out, nil
}

func (s *Store) decode(info skiffv1.KindInfo, key, data []byte, rev int64) (skiffv1.Resource, error) {
	if s.sealed(info) {
		plain, err := s.sealer.Open(data, key)
		switch {
		case err == nil:
			data = plain
		case !isNotSealed(err):
			return nil, fmt.Errorf("storage: decrypt %s: %w", key, err)
		}
	}
	return decode(info, data, rev)
}

// withoutRevision is a copy of obj sharing every field but metadata,
// whose copy has no resourceVersion.
func withoutRevision(obj skiffv1.Resource) proto.Message {
	src := obj.ProtoReflect()
	dst := src.New()
	src.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		dst.Set(fd, v)
		return true
	})
	meta := proto.Clone(obj.GetMetadata()).(*skiffv1.ObjectMeta)
	meta.ResourceVersion = ""
	dst.Set(src.Descriptor().Fields().ByName("metadata"), protoreflect.ValueOfMessage(meta.ProtoReflect()))
	return dst.Interface()
}

func encode(obj skiffv1.Resource) ([]byte, error) {
	// The revision lives in etcd, not in the value. obj itself is left
	// alone (it may be shared with readers): the value is written from a
	// shallow copy whose metadata, copied, has no revision.
	msg := proto.Message(obj)
	if rv := obj.GetMetadata().GetResourceVersion(); rv != "" {
		msg = withoutRevision(obj)
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("storage: encode: %w", err)
	}
	return data, nil
}

func decode(info skiffv1.KindInfo, data []byte, rev int64) (skiffv1.Resource, error) {
	obj := info.New()
	if err := proto.Unmarshal(data, obj); err != nil {
		return nil, fmt.Errorf("storage: decode %s: %w", info.Name, err)
	}
	if obj.GetMetadata() == nil {
		return nil, fmt.Errorf("storage: decode %s: no metadata", info.Name)
	}
	setRevision(obj, rev)
	return obj, nil
}

func setRevision(obj skiffv1.Resource, rev int64) {
	obj.GetMetadata().ResourceVersion = strconv.FormatInt(rev, 10)
}

// compareFailed explains a transaction whose revision comparison failed;
// its Else branch counted the key.
func compareFailed(resp *clientv3.TxnResponse) error {
	if resp.Responses[0].GetResponseRange().Count == 0 {
		return ErrNotFound
	}
	return ErrConflict
}
