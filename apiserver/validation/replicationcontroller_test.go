package validation

import (
	"testing"

	"google.golang.org/protobuf/proto"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func baseReplicationController(mutate func(*skiffv1.ReplicationControllerSpec)) *skiffv1.ReplicationController {
	rc := &skiffv1.ReplicationController{Metadata: &skiffv1.ObjectMeta{Name: "nginx", Namespace: "d"},
		Spec: &skiffv1.ReplicationControllerSpec{Template: baseTemplate()}}
	if mutate != nil {
		mutate(rc.Spec)
	}
	return rc
}

func TestReplicationControllerValidation(t *testing.T) {
	for _, c := range []struct {
		name   string
		mutate func(*skiffv1.ReplicationControllerSpec)
		want   string
	}{
		{"valid, selector from the template", nil, ""},
		{"selector given", func(s *skiffv1.ReplicationControllerSpec) { s.Selector = map[string]string{"app": "a"} }, ""},
		{"selector a subset of the labels", func(s *skiffv1.ReplicationControllerSpec) {
			s.Template.Metadata.Labels["tier"] = "web"
			s.Selector = map[string]string{"tier": "web"}
		}, ""},
		{"selector not matching the template", func(s *skiffv1.ReplicationControllerSpec) { s.Selector = map[string]string{"app": "b"} },
			`spec.selector: "app=b" does not match the template's labels`},
		{"no selector, no template labels", func(s *skiffv1.ReplicationControllerSpec) { s.Template.Metadata.Labels = nil },
			"spec.selector: required"},
		{"selector key", func(s *skiffv1.ReplicationControllerSpec) { s.Selector = map[string]string{"not a key!": "a"} }, "spec.selector"},
		{"selector value", func(s *skiffv1.ReplicationControllerSpec) { s.Selector = map[string]string{"app": "no spaces"} }, "spec.selector"},
		{"template required", func(s *skiffv1.ReplicationControllerSpec) { s.Template = nil }, "spec.template: required"},
		{"negative replicas", func(s *skiffv1.ReplicationControllerSpec) { s.Replicas = proto.Int32(-1) }, "spec.replicas: -1 must not be negative"},
		{"negative minReadySeconds", func(s *skiffv1.ReplicationControllerSpec) { s.MinReadySeconds = -5 }, "spec.minReadySeconds: -5 must not be negative"},
		{"template node", func(s *skiffv1.ReplicationControllerSpec) { s.Template.Spec.NodeName = "n1" }, "spec.template.spec.nodeName: must be empty"},
		{"template container", func(s *skiffv1.ReplicationControllerSpec) { s.Template.Spec.Containers[0].Image = "" }, "spec.template.spec.containers[0].image"},
	} {
		t.Run(c.name, func(t *testing.T) { wantValidation(t, baseReplicationController(c.mutate), c.want) })
	}
}

func TestReplicationControllerDefaults(t *testing.T) {
	rc := baseReplicationController(nil)
	Default(rc)
	if rc.Spec.GetReplicas() != 1 {
		t.Errorf("replicas defaulted to %d, want 1", rc.Spec.GetReplicas())
	}
	if want := map[string]string{"app": "a"}; len(rc.Spec.Selector) != 1 || rc.Spec.Selector["app"] != "a" {
		t.Errorf("selector defaulted to %v, want %v", rc.Spec.Selector, want)
	}
	// The selector is a copy: changing the template's labels later does
	// not change what the controller selects.
	rc.Spec.Template.Metadata.Labels["app"] = "b"
	if rc.Spec.Selector["app"] != "a" {
		t.Error("the defaulted selector shares its map with the template's labels")
	}

	given := baseReplicationController(func(s *skiffv1.ReplicationControllerSpec) {
		s.Replicas = proto.Int32(0)
		s.Template.Metadata.Labels["tier"] = "web"
		s.Selector = map[string]string{"tier": "web"}
	})
	Default(given)
	if given.Spec.GetReplicas() != 0 || len(given.Spec.Selector) != 1 {
		t.Errorf("defaults overwrote given values: replicas %d, selector %v", given.Spec.GetReplicas(), given.Spec.Selector)
	}
}
