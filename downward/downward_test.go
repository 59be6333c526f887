package downward

import (
	"strings"
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func testPod() *skiffv1.Pod {
	return &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{
			Name: "web", Namespace: "shop", Uid: "u-1",
			Labels:      map[string]string{"zone": "us-est-coast", "app": "web"},
			Annotations: map[string]string{"builder": "john \"doe\""},
		},
		Spec: &skiffv1.PodSpec{NodeName: "n1", Containers: []*skiffv1.Container{
			{Name: "limited", Resources: &skiffv1.ResourceRequirements{
				Requests: map[string]string{"cpu": "125m", "memory": "32Mi"},
				Limits:   map[string]string{"cpu": "250m", "memory": "64Mi"},
			}},
			{Name: "limitsonly", Resources: &skiffv1.ResourceRequirements{Limits: map[string]string{"cpu": "1500m"}}},
			{Name: "open"},
		}},
	}
}

var env = Env{PodIP: "10.88.0.5", HostIP: "192.168.1.2", Allocatable: map[string]string{"cpu": "2", "memory": "4Gi"}}

func TestFieldValue(t *testing.T) {
	for path, want := range map[string]string{
		"metadata.name":              "web",
		"metadata.namespace":         "shop",
		"metadata.uid":               "u-1",
		"metadata.labels['zone']":    "us-est-coast",
		"metadata.labels['absent']":  "",
		"metadata.annotations":       `builder="john \"doe\""`,
		"metadata.labels":            "app=\"web\"\nzone=\"us-est-coast\"",
		"spec.nodeName":              "n1",
		"spec.serviceAccountName":    "default",
		"status.podIP":               "10.88.0.5",
		"status.podIPs":              "10.88.0.5",
		"status.hostIP":              "192.168.1.2",
		"metadata.annotations['no']": "",
	} {
		got, err := FieldValue(testPod(), path, env)
		if err != nil || got != want {
			t.Errorf("FieldValue(%s) = %q, %v; want %q", path, got, err, want)
		}
	}
	if _, err := FieldValue(testPod(), "spec.hostname", env); err == nil {
		t.Error("spec.hostname: want an error")
	}
}

func TestResourceValue(t *testing.T) {
	for _, tc := range []struct {
		container, resource, divisor, want string
	}{
		{"limited", "limits.cpu", "", "1"},     // 250m rounds up to 1 core
		{"limited", "limits.cpu", "1m", "250"}, // in millicores
		{"limited", "requests.cpu", "1m", "125"},
		{"limited", "limits.memory", "1Mi", "64"},
		{"limited", "requests.memory", "", "33554432"},
		{"limited", "limits.memory", "1M", "68"},     // 67.1 MB rounds up
		{"limitsonly", "requests.cpu", "1m", "1500"}, // request defaults to limit
		{"limitsonly", "limits.memory", "1Gi", "4"},  // node allocatable
		{"open", "limits.cpu", "", "2"},
		{"open", "requests.cpu", "", "0"},
	} {
		got, err := ResourceValue(testPod(), tc.container, tc.resource, tc.divisor, env)
		if err != nil || got != tc.want {
			t.Errorf("%s %s /%s = %q, %v; want %q", tc.container, tc.resource, tc.divisor, got, err, tc.want)
		}
	}
	for _, bad := range [][3]string{{"nope", "limits.cpu", ""}, {"open", "limits.gpu", ""}, {"open", "limits.cpu", "0"}} {
		if _, err := ResourceValue(testPod(), bad[0], bad[1], bad[2], env); err == nil {
			t.Errorf("%v: want an error", bad)
		}
	}
}

func TestCheckFieldPath(t *testing.T) {
	if err := CheckFieldPath("metadata.labels['a']", EnvFieldPaths); err != nil {
		t.Error(err)
	}
	if err := CheckFieldPath("metadata.labels", EnvFieldPaths); err == nil || !strings.Contains(err.Error(), "supported:") {
		t.Errorf("whole labels in env: %v", err)
	}
	if err := CheckFieldPath("metadata.labels", VolumeFieldPaths); err != nil {
		t.Error(err)
	}
	if err := CheckFieldPath("status.podIP", VolumeFieldPaths); err == nil {
		t.Error("status.podIP in a volume: want an error (Kubernetes allows it in env only)")
	}
	if err := CheckFieldPath("metadata.labels['']", EnvFieldPaths); err == nil {
		t.Error("empty key: want an error")
	}
}
