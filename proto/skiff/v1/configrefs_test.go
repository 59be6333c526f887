package skiffv1

import (
	"slices"
	"testing"
)

// An init container's ConfigMap and Secret references count: the node
// may read them and the pod waits for them.
func TestConfigRefsIncludeInitContainers(t *testing.T) {
	s := &PodSpec{
		InitContainers: []*Container{{Name: "setup", EnvFrom: []*EnvFromSource{{ConfigMapRef: &ObjectRef{Name: "init-config"}}},
			Env: []*EnvVar{{Name: "P", ValueFrom: &EnvVarSource{SecretKeyRef: &KeySelector{Name: "init-secret", Key: "p"}}}}}},
		Containers: []*Container{{Name: "app", EnvFrom: []*EnvFromSource{{ConfigMapRef: &ObjectRef{Name: "app-config"}}}}},
	}
	if got := s.ConfigMapNames(); !slices.Equal(got, []string{"init-config", "app-config"}) {
		t.Errorf("ConfigMapNames = %v", got)
	}
	if !s.Uses(Kind_KIND_SECRET, "init-secret") {
		t.Error("the init container's secret is not used")
	}
}

// A pod's imagePullSecrets are Secrets it uses: its node may read them.
func TestImagePullSecretsAreUsed(t *testing.T) {
	s := &PodSpec{ImagePullSecrets: []*LocalObjectReference{{Name: "regcred"}}, Containers: []*Container{{Name: "app"}}}
	if !s.Uses(Kind_KIND_SECRET, "regcred") || !slices.Equal(s.SecretNames(), []string{"regcred"}) {
		t.Errorf("imagePullSecrets not among the Secrets used: %v", s.SecretNames())
	}
}
