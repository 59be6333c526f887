package validation

import (
	"strings"
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func svcWith(mutate func(*skiffv1.ServiceSpec)) *skiffv1.Service {
	s := &skiffv1.Service{Metadata: &skiffv1.ObjectMeta{Name: "s", Namespace: "d"},
		Spec: &skiffv1.ServiceSpec{Ports: []*skiffv1.ServicePort{{Port: 80}}}}
	mutate(s.Spec)
	return s
}

func TestServicePolicyValidation(t *testing.T) {
	timeout := func(n int32) *skiffv1.SessionAffinityConfig {
		return &skiffv1.SessionAffinityConfig{ClientIp: &skiffv1.ClientIPConfig{TimeoutSeconds: &n}}
	}
	for _, c := range []struct {
		name   string
		mutate func(*skiffv1.ServiceSpec)
		want   string
	}{
		{"ClientIP", func(s *skiffv1.ServiceSpec) { s.SessionAffinity = "ClientIP" }, ""},
		{"ClientIP timeout", func(s *skiffv1.ServiceSpec) { s.SessionAffinity = "ClientIP"; s.SessionAffinityConfig = timeout(60) }, ""},
		{"timeout zero", func(s *skiffv1.ServiceSpec) { s.SessionAffinity = "ClientIP"; s.SessionAffinityConfig = timeout(0) },
			"spec.sessionAffinityConfig.clientIP.timeoutSeconds: 0 must be between 1 and 86400"},
		{"timeout over a day", func(s *skiffv1.ServiceSpec) { s.SessionAffinity = "ClientIP"; s.SessionAffinityConfig = timeout(86401) },
			"timeoutSeconds: 86401"},
		// Defaulting drops it, as Kubernetes' does (a ClientIP service
		// edited to None); Validate alone still refuses it, below.
		{"config without affinity", func(s *skiffv1.ServiceSpec) { s.SessionAffinityConfig = timeout(60) }, ""},
		{"unknown affinity", func(s *skiffv1.ServiceSpec) { s.SessionAffinity = "Cookie" }, `spec.sessionAffinity: "Cookie"`},
		{"Local NodePort", func(s *skiffv1.ServiceSpec) { s.Type = "NodePort"; s.ExternalTrafficPolicy = "Local" }, ""},
		{"external policy on ClusterIP", func(s *skiffv1.ServiceSpec) { s.ExternalTrafficPolicy = "Local" },
			"spec.externalTrafficPolicy: may only be set for a NodePort or LoadBalancer service"},
		{"unknown external policy", func(s *skiffv1.ServiceSpec) { s.Type = "NodePort"; s.ExternalTrafficPolicy = "Nearest" },
			`spec.externalTrafficPolicy: "Nearest" is not a traffic policy`},
		{"internal Local", func(s *skiffv1.ServiceSpec) { s.InternalTrafficPolicy = "Local" }, ""},
		{"unknown internal policy", func(s *skiffv1.ServiceSpec) { s.InternalTrafficPolicy = "local" },
			`spec.internalTrafficPolicy: "local" is not a traffic policy`},
	} {
		t.Run(c.name, func(t *testing.T) { wantValidation(t, svcWith(c.mutate), c.want) })
	}
}

func TestServicePolicyDefaults(t *testing.T) {
	s := svcWith(func(s *skiffv1.ServiceSpec) { s.SessionAffinity = "ClientIP"; s.Type = "NodePort" })
	Default(s)
	if got := s.Spec.GetSessionAffinityConfig().GetClientIp().GetTimeoutSeconds(); got != 10800 {
		t.Errorf("timeout defaulted to %d, want 10800", got)
	}
	if s.Spec.ExternalTrafficPolicy != "Cluster" || s.Spec.InternalTrafficPolicy != "Cluster" {
		t.Errorf("policies defaulted to %q/%q, want Cluster/Cluster", s.Spec.ExternalTrafficPolicy, s.Spec.InternalTrafficPolicy)
	}
	plain := svcWith(func(*skiffv1.ServiceSpec) {})
	Default(plain)
	if plain.Spec.SessionAffinity != "None" || plain.Spec.SessionAffinityConfig != nil || plain.Spec.ExternalTrafficPolicy != "" {
		t.Errorf("ClusterIP service defaulted to affinity %q config %v external %q; want None, none, empty",
			plain.Spec.SessionAffinity, plain.Spec.SessionAffinityConfig, plain.Spec.ExternalTrafficPolicy)
	}
	if err := Validate(plain); err != nil {
		t.Fatal(err)
	}
	n := int32(60)
	undefaulted := svcWith(func(s *skiffv1.ServiceSpec) {
		s.SessionAffinity = "None"
		s.SessionAffinityConfig = &skiffv1.SessionAffinityConfig{ClientIp: &skiffv1.ClientIPConfig{TimeoutSeconds: &n}}
	})
	if err := Validate(undefaulted); err == nil || !strings.Contains(err.Error(), "spec.sessionAffinityConfig: must not be set when spec.sessionAffinity is None") {
		t.Errorf("None with a config, not defaulted: %v", err)
	}
	Default(undefaulted)
	if undefaulted.Spec.SessionAffinityConfig != nil {
		t.Errorf("defaulting None kept the config %v", undefaulted.Spec.SessionAffinityConfig)
	}
}
