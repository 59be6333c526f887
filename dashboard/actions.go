package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller/rollout"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// actionJSON is the body of every action.
type actionJSON struct {
	Kind      string `json:"kind"` // plural: "deployments"
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Replicas  *int32 `json:"replicas,omitempty"`
	Cordon    *bool  `json:"cordon,omitempty"`
}

// restartable are the kinds `kubectl rollout restart` takes.
var restartable = map[string]bool{"Deployment": true, "StatefulSet": true, "DaemonSet": true}

func readAction(w http.ResponseWriter, r *http.Request) (actionJSON, bool) {
	var a actionJSON
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		httpError(w, http.StatusBadRequest, "body: "+err.Error())
		return a, false
	}
	if a.Name == "" {
		httpError(w, http.StatusBadRequest, "name: required")
		return a, false
	}
	return a, true
}

// modify reads an object as the admin, changes it and writes it back,
// retrying on conflicts; the API server authorizes and audits each call.
func (s *Server) modify(ctx context.Context, kind skiffv1.Kind, ns, name string, change func(skiffv1.Resource) error) error {
	api := s.cfg.Admin.API()
	return client.RetryOnConflict(ctx, func() error {
		o, err := api.Get(ctx, &skiffv1.GetRequest{Kind: kind, Namespace: ns, Name: name})
		if err != nil {
			return err
		}
		obj := o.Unwrap()
		if err := change(obj); err != nil {
			return err
		}
		_, err = api.Update(ctx, &skiffv1.UpdateRequest{Object: skiffv1.Wrap(obj)})
		return err
	})
}

// specMessage is the object's spec, made if unset; nil if the kind has
// none.
func specMessage(obj skiffv1.Resource) protoreflect.Message {
	m := obj.ProtoReflect()
	fd := m.Descriptor().Fields().ByName("spec")
	if fd == nil || fd.Message() == nil {
		return nil
	}
	return m.Mutable(fd).Message()
}

func (s *Server) done(w http.ResponseWriter, sess *session, what string, a actionJSON, err error) {
	if err != nil {
		code := http.StatusBadGateway
		switch status.Code(err) {
		case codes.PermissionDenied:
			code = http.StatusForbidden
		case codes.NotFound:
			code = http.StatusNotFound
		case codes.InvalidArgument, codes.FailedPrecondition:
			code = http.StatusBadRequest
		}
		var bad badRequest
		if errors.As(err, &bad) {
			code = http.StatusBadRequest
		}
		httpError(w, code, what+": "+status.Convert(err).Message())
		return
	}
	s.log.Info("dashboard action", "action", what, "kind", a.Kind, "namespace", a.Namespace, "name", a.Name, "token", sess.tokenID)
	writeJSON(w, map[string]string{"result": what + " " + a.Kind + " " + a.Name})
}

type badRequest struct{ msg string }

func (b badRequest) Error() string { return b.msg }

func actionCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), 15*time.Second)
}

// scale sets spec.replicas of any kind that has it (Deployments,
// ReplicaSets and kinds added later).
func (s *Server) scale(w http.ResponseWriter, r *http.Request, sess *session) {
	a, ok := readAction(w, r)
	if !ok {
		return
	}
	info, ok := kindByPlural(a.Kind)
	if !ok {
		httpError(w, http.StatusBadRequest, "kind: unknown kind "+a.Kind)
		return
	}
	if a.Replicas == nil || *a.Replicas < 0 {
		httpError(w, http.StatusBadRequest, "replicas: required, 0 or more")
		return
	}
	ctx, cancel := actionCtx(r)
	defer cancel()
	err := s.modify(ctx, info.Kind, a.Namespace, a.Name, func(obj skiffv1.Resource) error {
		spec := specMessage(obj)
		var fd protoreflect.FieldDescriptor
		if spec != nil {
			fd = spec.Descriptor().Fields().ByName("replicas")
		}
		if fd == nil || fd.Kind() != protoreflect.Int32Kind || fd.IsList() {
			return badRequest{fmt.Sprintf("a %s cannot be scaled", info.Name)}
		}
		spec.Set(fd, protoreflect.ValueOfInt32(*a.Replicas))
		return nil
	})
	s.done(w, sess, "scale", a, err)
}

// restartRollout sets the restartedAt annotation on the pod template, as
// `skiff rollout restart` does, so the controller rolls every pod.
func (s *Server) restartRollout(w http.ResponseWriter, r *http.Request, sess *session) {
	a, ok := readAction(w, r)
	if !ok {
		return
	}
	info, ok := kindByPlural(a.Kind)
	if !ok || !restartable[info.Name] {
		httpError(w, http.StatusBadRequest, "kind: "+a.Kind+" has no rollout to restart (Deployments do)")
		return
	}
	ctx, cancel := actionCtx(r)
	defer cancel()
	now := s.cfg.Now().UTC().Format(time.RFC3339)
	err := s.modify(ctx, info.Kind, a.Namespace, a.Name, func(obj skiffv1.Resource) error {
		spec := specMessage(obj)
		tfd := spec.Descriptor().Fields().ByName("template")
		if tfd == nil || tfd.Message() == nil {
			return badRequest{info.Name + " has no pod template"}
		}
		tmpl := spec.Mutable(tfd).Message()
		mfd := tmpl.Descriptor().Fields().ByName("metadata")
		meta, ok := tmpl.Mutable(mfd).Message().Interface().(*skiffv1.ObjectMeta)
		if !ok {
			return badRequest{info.Name + " has no template metadata"}
		}
		if meta.Annotations == nil {
			meta.Annotations = map[string]string{}
		}
		meta.Annotations[rollout.RestartedAtAnnotation] = now
		return nil
	})
	s.done(w, sess, "restart", a, err)
}

// deletePod deletes a pod gracefully, as `skiff delete pod` does.
func (s *Server) deletePod(w http.ResponseWriter, r *http.Request, sess *session) {
	a, ok := readAction(w, r)
	if !ok {
		return
	}
	a.Kind = "pods"
	ctx, cancel := actionCtx(r)
	defer cancel()
	_, _, err := s.cfg.Admin.Pods().Delete(ctx, a.Namespace, a.Name, client.DeleteOptions{})
	s.done(w, sess, "delete", a, err)
}

// cordon marks a node unschedulable (or schedulable again with
// "cordon": false), as `skiff cordon` does.
func (s *Server) cordon(w http.ResponseWriter, r *http.Request, sess *session) {
	a, ok := readAction(w, r)
	if !ok {
		return
	}
	a.Kind, a.Namespace = "nodes", ""
	want := a.Cordon == nil || *a.Cordon
	ctx, cancel := actionCtx(r)
	defer cancel()
	_, err := s.cfg.Admin.Nodes().Modify(ctx, "", a.Name, func(n *skiffv1.Node) error {
		if n.GetSpec().GetUnschedulable() == want {
			return client.ErrNoChange
		}
		if n.Spec == nil {
			n.Spec = &skiffv1.NodeSpec{}
		}
		n.Spec.Unschedulable = want
		return nil
	})
	what := "cordon"
	if !want {
		what = "uncordon"
	}
	s.done(w, sess, what, a, err)
}
