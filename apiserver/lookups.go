package apiserver

import (
	"context"

	"github.com/skiff-sh/skiff/apiserver/auth"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// GetVolume reads a stored Volume, for the authorizer.
func (s *Server) GetVolume(ctx context.Context, namespace, name string) (*skiffv1.Volume, error) {
	info, _ := skiffv1.Info(skiffv1.Kind_KIND_VOLUME)
	ns := namespaceOf(info, namespace)
	obj, err := s.store.Get(ctx, skiffv1.Kind_KIND_VOLUME, ns, name)
	if err != nil {
		return nil, toStatus(err, ref{info: info, namespace: ns, name: name})
	}
	return obj.(*skiffv1.Volume), nil
}

// GetPersistentVolume reads a stored PersistentVolume, for the authorizer.
func (s *Server) GetPersistentVolume(ctx context.Context, name string) (*skiffv1.PersistentVolume, error) {
	info, _ := skiffv1.Info(skiffv1.Kind_KIND_PERSISTENT_VOLUME)
	obj, err := s.store.Get(ctx, skiffv1.Kind_KIND_PERSISTENT_VOLUME, "", name)
	if err != nil {
		return nil, toStatus(err, ref{info: info, name: name})
	}
	return obj.(*skiffv1.PersistentVolume), nil
}

// NodePods lists the stored pods of a namespace bound to node, for the
// authorizer.
func (s *Server) NodePods(ctx context.Context, node, namespace string) ([]*skiffv1.Pod, error) {
	if pods, ok := s.podsByNode.pods(node, namespace); ok {
		return pods, nil
	}
	return s.StoredNodePods(ctx, node, namespace)
}

// StoredNodePods is NodePods read from etcd, for when the index may lag.
func (s *Server) StoredNodePods(ctx context.Context, node, namespace string) ([]*skiffv1.Pod, error) {
	info, _ := skiffv1.Info(skiffv1.Kind_KIND_POD)
	objs, _, err := s.store.List(ctx, skiffv1.Kind_KIND_POD, namespaceOf(info, namespace))
	if err != nil {
		return nil, toStatus(err, ref{info: info, namespace: namespace})
	}
	var out []*skiffv1.Pod
	for _, o := range objs {
		if p := o.(*skiffv1.Pod); p.GetSpec().GetNodeName() == node {
			out = append(out, p)
		}
	}
	return out, nil
}

// NewAuthorizer makes an authorizer whose node rules read the stored
// objects of s. The gRPC options that hold it come from
// Config.ServerOptions, which is given the server once it exists.
func NewAuthorizer(s *Server) *auth.Authorizer {
	return &auth.Authorizer{Pods: s.GetPod, Volumes: s.GetVolume, PersistentVolumes: s.GetPersistentVolume, NodePods: s.NodePods, StoredNodePods: s.StoredNodePods}
}
