package nodeagent

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A container gets the link variables of its namespace's Services with a
// ClusterIP, and of default/kubernetes, as from the kubelet: the pod's own
// variables win and may use them in $(VAR); enableServiceLinks: false
// leaves only default/kubernetes'.
func TestServiceLinkVariables(t *testing.T) {
	s := apitest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, ns := range []string{"shop", "other"} {
		if _, err := s.Client.Namespaces().Create(ctx, &skiffv1.Namespace{Metadata: &skiffv1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, svc := range []*skiffv1.Service{
		{Metadata: &skiffv1.ObjectMeta{Namespace: "shop", Name: "redis-primary"}, Spec: &skiffv1.ServiceSpec{
			ClusterIp: "10.96.0.30", Ports: []*skiffv1.ServicePort{{Name: "redis", Port: 6379}, {Name: "metrics-udp", Protocol: "UDP", Port: 9121}}}},
		{Metadata: &skiffv1.ObjectMeta{Namespace: "shop", Name: "headless"}, Spec: &skiffv1.ServiceSpec{
			ClusterIp: "None", Ports: []*skiffv1.ServicePort{{Port: 80}}}},
		{Metadata: &skiffv1.ObjectMeta{Namespace: "other", Name: "elsewhere"}, Spec: &skiffv1.ServiceSpec{
			ClusterIp: "10.96.0.31", Ports: []*skiffv1.ServicePort{{Port: 80}}}},
		{Metadata: &skiffv1.ObjectMeta{Namespace: "default", Name: "kubernetes"}, Spec: &skiffv1.ServiceSpec{
			ClusterIp: "10.96.0.1", Ports: []*skiffv1.ServicePort{{Name: "https", Port: 443}}}},
	} {
		if _, err := s.Client.Services().Create(ctx, svc); err != nil {
			t.Fatal(err)
		}
	}
	a := &Agent{cfg: Config{Client: s.Client}, services: newServicesInformer(s.Client, nil)}
	go a.services.Run(ctx)
	if !a.services.WaitForSync(ctx) {
		t.Fatal("informer did not sync")
	}
	pod := &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Namespace: "shop", Name: "p"}, Spec: &skiffv1.PodSpec{}}
	c := &skiffv1.Container{Name: "app", Env: []*skiffv1.EnvVar{
		{Name: "REDIS_URL", Value: "redis://$(REDIS_PRIMARY_SERVICE_HOST):$(REDIS_PRIMARY_SERVICE_PORT)"},
		{Name: "REDIS_PRIMARY_SERVICE_PORT", Value: "mine"},
	}}
	env := envMap(t, a, ctx, pod, c)
	want := map[string]string{
		"REDIS_URL":                              "redis://10.96.0.30:6379",
		"REDIS_PRIMARY_SERVICE_HOST":             "10.96.0.30",
		"REDIS_PRIMARY_SERVICE_PORT":             "mine",
		"REDIS_PRIMARY_SERVICE_PORT_REDIS":       "6379",
		"REDIS_PRIMARY_SERVICE_PORT_METRICS_UDP": "9121",
		"REDIS_PRIMARY_PORT":                     "tcp://10.96.0.30:6379",
		"REDIS_PRIMARY_PORT_6379_TCP":            "tcp://10.96.0.30:6379",
		"REDIS_PRIMARY_PORT_6379_TCP_PROTO":      "tcp",
		"REDIS_PRIMARY_PORT_6379_TCP_PORT":       "6379",
		"REDIS_PRIMARY_PORT_6379_TCP_ADDR":       "10.96.0.30",
		"REDIS_PRIMARY_PORT_9121_UDP":            "udp://10.96.0.30:9121",
		"REDIS_PRIMARY_PORT_9121_UDP_PROTO":      "udp",
		"KUBERNETES_SERVICE_HOST":                "10.96.0.1",
		"KUBERNETES_SERVICE_PORT":                "443",
		"KUBERNETES_SERVICE_PORT_HTTPS":          "443",
		"KUBERNETES_PORT":                        "tcp://10.96.0.1:443",
		"KUBERNETES_PORT_443_TCP_ADDR":           "10.96.0.1",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	for _, k := range []string{"HEADLESS_SERVICE_HOST", "ELSEWHERE_SERVICE_HOST"} {
		if v, ok := env[k]; ok {
			t.Errorf("%s = %q: a headless service, or another namespace's, gives no variables", k, v)
		}
	}

	off := false
	pod.Spec.EnableServiceLinks = &off
	env = envMap(t, a, ctx, pod, &skiffv1.Container{Name: "app"})
	if _, ok := env["REDIS_PRIMARY_SERVICE_HOST"]; ok {
		t.Error("enableServiceLinks: false still gave the namespace's services")
	}
	if env["KUBERNETES_SERVICE_HOST"] != "10.96.0.1" {
		t.Errorf("enableServiceLinks: false dropped default/kubernetes: %v", env)
	}
}

func envMap(t *testing.T, a *Agent, ctx context.Context, pod *skiffv1.Pod, c *skiffv1.Container) map[string]string {
	t.Helper()
	env, err := a.configEnv(ctx, pod, c)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, v := range env {
		if _, dup := m[v.Name]; dup {
			t.Errorf("%s twice in %v", v.Name, env)
		}
		m[v.Name] = v.Value
	}
	return m
}

// A pod worker can start before the Services cache has its first list: a
// container's variables wait for it rather than come out empty, and a
// worker whose pod goes away meanwhile is not stuck.
func TestServiceVariablesWaitForTheServicesCache(t *testing.T) {
	s := apitest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client.Services().Create(ctx, &skiffv1.Service{Metadata: &skiffv1.ObjectMeta{Namespace: "default", Name: "kubernetes"},
		Spec: &skiffv1.ServiceSpec{ClusterIp: "10.96.0.1", Ports: []*skiffv1.ServicePort{{Name: "https", Port: 443}}}}); err != nil {
		t.Fatal(err)
	}
	a := &Agent{cfg: Config{Client: s.Client}, services: newServicesInformer(s.Client, nil)}
	pod := &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Namespace: "default", Name: "p"}, Spec: &skiffv1.PodSpec{}}

	gone, stop := context.WithCancel(ctx)
	stop()
	if _, err := a.configEnv(gone, pod, &skiffv1.Container{Name: "app"}); err == nil || !strings.Contains(err.Error(), "Services cache") {
		t.Fatalf("configEnv before the cache synced, with its pod gone: err %v, want one naming the Services cache", err)
	}

	go func() {
		time.Sleep(100 * time.Millisecond) // the worker asks first
		a.services.Run(ctx)
	}()
	if env := envMap(t, a, ctx, pod, &skiffv1.Container{Name: "app"}); env["KUBERNETES_SERVICE_HOST"] != "10.96.0.1" {
		t.Errorf("variables made before the Services cache synced: %v", env)
	}
}
