package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func TestParsePortSpecs(t *testing.T) {
	specs, err := parsePortSpecs([]string{"8080:80", "9090", ":443", "5000:http"})
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]any{{8080, "80"}, {9090, "9090"}, {0, "443"}, {5000, "http"}}
	for i, s := range specs {
		if s.local != want[i][0] || s.remote != want[i][1] {
			t.Errorf("%s: local %d remote %q, want %v", s.arg, s.local, s.remote, want[i])
		}
	}
	for arg, msg := range map[string]string{
		"http":     "a port name needs a local port",
		"70000":    "must be a number from 0 to 65535",
		"8080:0":   "remote port 0 must be from 1 to 65535",
		"8080:":    "give the remote port after the colon",
		"web:8080": `the local port "web" must be a number`,
	} {
		if _, err := parsePortSpecs([]string{arg}); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: error %v, want %q", arg, err, msg)
		}
	}
}

// A service's port leads to its targetPort, which may name a container
// port; a pod's named port is looked up in its containers.
func TestResolvePorts(t *testing.T) {
	pod := &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Name: "web-1"}, Spec: &skiffv1.PodSpec{Containers: []*skiffv1.Container{
		{Name: "a", Ports: []*skiffv1.ContainerPort{{Name: "metrics", ContainerPort: 9100}}},
		{Name: "b", Ports: []*skiffv1.ContainerPort{{Name: "web", ContainerPort: 8080}}},
	}}}
	svc := &skiffv1.Service{Metadata: &skiffv1.ObjectMeta{Name: "web"}, Spec: &skiffv1.ServiceSpec{Ports: []*skiffv1.ServicePort{
		{Name: "http", Port: 80, TargetPort: "web"}, {Name: "raw", Port: 81, TargetPort: "7000"}, {Name: "same", Port: 82},
	}}}
	specs, _ := parsePortSpecs([]string{"1:http", "2:81", "3:same"})
	if err := resolvePorts(pod, svc, specs); err != nil {
		t.Fatal(err)
	}
	if specs[0].port != 8080 || specs[1].port != 7000 || specs[2].port != 82 {
		t.Errorf("service ports resolved to %d, %d, %d; want 8080, 7000, 82", specs[0].port, specs[1].port, specs[2].port)
	}
	specs, _ = parsePortSpecs([]string{"1:metrics", "2:6000"})
	if err := resolvePorts(pod, nil, specs); err != nil || specs[0].port != 9100 || specs[1].port != 6000 {
		t.Errorf("pod ports %d, %d (%v); want 9100, 6000", specs[0].port, specs[1].port, err)
	}
	specs, _ = parsePortSpecs([]string{"1:nope"})
	if err := resolvePorts(pod, nil, specs); err == nil || !strings.Contains(err.Error(), `pod "web-1" has no container port named "nope"`) {
		t.Errorf("unknown name: %v", err)
	}
	specs, _ = parsePortSpecs([]string{"1:99"})
	if err := resolvePorts(pod, svc, specs); err == nil || !strings.Contains(err.Error(), `service "web" has no port 99`) {
		t.Errorf("unknown service port: %v", err)
	}
}

// Ready pods come first, then the oldest; pods not running or going
// away are never picked.
func TestPickPod(t *testing.T) {
	at := func(name, phase string, ready bool, age time.Duration, deleting bool) *skiffv1.Pod {
		p := &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Name: name, CreationTimestamp: timestamppb.New(time.Now().Add(-age))},
			Status: &skiffv1.PodStatus{Phase: phase}}
		if ready {
			p.Status.Conditions = []*skiffv1.Condition{{Type: skiffv1.PodReady, Status: "True"}}
		}
		if deleting {
			p.Metadata.DeletionTimestamp = timestamppb.Now()
		}
		return p
	}
	pods := []*skiffv1.Pod{
		at("pending", "Pending", false, time.Hour, false),
		at("unready-old", "Running", false, time.Hour, false),
		at("going", "Running", true, 2*time.Hour, true),
		at("ready-young", "Running", true, time.Minute, false),
		at("ready-old", "Running", true, 30*time.Minute, false),
	}
	if got := pickPod(pods); got.GetMetadata().GetName() != "ready-old" {
		t.Errorf("picked %s, want ready-old", got.GetMetadata().GetName())
	}
	if got := pickPod(pods[:1]); got != nil {
		t.Errorf("picked %s of pods that do not run", got.GetMetadata().GetName())
	}
}

// Without a running pod the command waits, says so, and gives up at
// --pod-running-timeout; kinds without pods are refused by name.
func TestPortForwardWaitsForARunningPod(t *testing.T) {
	r := newRunner(t)
	r.ok("run", "web", "--image=nginx", "--port=80")
	res := r.run("port-forward", "pod/web", "0:80", "--pod-running-timeout=300ms")
	if res.e == nil || !strings.Contains(res.e.Error(), "no running pod of pod/web after 300ms") || !strings.Contains(res.err, "waiting for a running pod of pod/web") {
		t.Errorf("a pending pod: %v, stderr %q", res.e, res.err)
	}
	r.ok("create", "configmap", "cm", "--from-literal=a=b")
	for args, want := range map[string]string{
		"configmap/cm 80": "cannot port-forward to a ConfigMap",
		"pod/none 80":     `"none" not found`,
		"web nope":        "a port name needs a local port",
	} {
		if res := r.run(append([]string{"port-forward"}, strings.Fields(args)...)...); res.e == nil || !strings.Contains(res.e.Error(), want) {
			t.Errorf("port-forward %s: %v, want %q", args, res.e, want)
		}
	}
	if _, err := r.srv.Client.Pods().Get(context.Background(), "default", "web"); err != nil {
		t.Fatal(err)
	}
}
