package scheduler

import (
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A pod's effective request as Kubernetes computes it: init containers
// one at a time, sidecars running beside every later step.
func TestEffectiveRequestWithSidecars(t *testing.T) {
	always := "Always"
	c := func(name, cpu, mem string, sidecar bool) *skiffv1.Container {
		out := &skiffv1.Container{Name: name, Image: "busybox", Resources: &skiffv1.ResourceRequirements{Requests: map[string]string{"cpu": cpu, "memory": mem}}}
		if sidecar {
			out.RestartPolicy = &always
		}
		return out
	}
	cases := []struct {
		name     string
		init     []*skiffv1.Container
		cpu, mem int64 // milli, MiB
	}{
		{"regular init containers: the largest, or the containers' sum", []*skiffv1.Container{c("a", "2", "64Mi", false), c("b", "500m", "512Mi", false)}, 2000, 512},
		{"a sidecar adds to the containers", []*skiffv1.Container{c("s", "300m", "32Mi", true)}, 1300, 160},
		{"an init container after a sidecar runs beside it", []*skiffv1.Container{c("s", "300m", "32Mi", true), c("big", "2", "256Mi", false)}, 2300, 288},
		{"an init container before a sidecar does not", []*skiffv1.Container{c("big", "2", "256Mi", false), c("s", "300m", "32Mi", true)}, 2000, 256},
		{"sidecars add up", []*skiffv1.Container{c("s1", "100m", "16Mi", true), c("s2", "200m", "16Mi", true), c("i", "1200m", "8Mi", false)}, 1500, 160},
	}
	for _, tc := range cases {
		pod := testPod("p", "1", "128Mi")
		pod.Spec.InitContainers = tc.init
		got := NewPodInfo(pod).Requests
		if got.MilliCPU != tc.cpu || got.Memory != tc.mem<<20 {
			t.Errorf("%s: cpu %dm, memory %dMi; want %dm, %dMi", tc.name, got.MilliCPU, got.Memory>>20, tc.cpu, tc.mem)
		}
	}
}
