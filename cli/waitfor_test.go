package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func waitTestPod(name string, labels map[string]string, containers ...string) *skiffv1.Pod {
	p := &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Namespace: "default", Name: name, Labels: labels}, Spec: &skiffv1.PodSpec{}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, &skiffv1.Container{Name: c, Image: "busybox:1.36"})
	}
	return p
}

// --for=jsonpath waits for a value (or, without one, for the path to
// exist), --for=create for the object to appear, and -l picks the objects
// by label; a path that finds several values is an error.
func TestWaitJSONPathCreateAndSelector(t *testing.T) {
	r := newRunner(t)
	c := r.srv.Client
	ctx := context.Background()
	if _, err := c.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "n1"}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*skiffv1.Pod{waitTestPod("web", map[string]string{"app": "web"}, "app"), waitTestPod("two", map[string]string{"app": "web"}, "a", "b")} {
		if _, err := c.Pods().Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if got := r.ok("wait", "--for=jsonpath={.status.phase}=Pending", "pod/web"); got != "pod/web condition met\n" {
		t.Errorf("a value already there: %q", got)
	}

	done := make(chan result, 1)
	go func() { done <- r.run("wait", "--for=jsonpath={.spec.nodeName}", "pod/web", "--timeout=60s") }()
	time.Sleep(200 * time.Millisecond) // let the wait start; it succeeds either way
	if _, err := c.Bind(ctx, "default", "web", "n1", "", ""); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res.e != nil || res.out != "pod/web condition met\n" {
		t.Errorf("waiting for a path to exist: %+v", res)
	}

	go func() {
		done <- r.run("wait", `--for=jsonpath={.status.conditions[?(@.type=="Ready")].status}=True`, "pod/web", "--timeout=60s")
	}()
	time.Sleep(200 * time.Millisecond)
	if _, err := c.Pods().ModifyStatus(ctx, "default", "web", func(p *skiffv1.Pod) error {
		p.Status.Phase = "Running"
		p.Status.Conditions = append(p.Status.Conditions, &skiffv1.Condition{Type: "Ready", Status: "True"})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res.e != nil || res.out != "pod/web condition met\n" {
		t.Errorf("waiting for a value behind a filter: %+v", res)
	}

	go func() { done <- r.run("wait", "--for=create", "pod/later", "--timeout=60s") }()
	time.Sleep(200 * time.Millisecond)
	if _, err := c.Pods().Create(ctx, waitTestPod("later", nil, "app")); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res.e != nil || res.out != "pod/later created\n" {
		t.Errorf("waiting for a creation: %+v", res)
	}

	if got := r.ok("wait", "--for=jsonpath={.metadata.labels.app}=web", "pod", "-l", "app=web"); got != "pod/two condition met\npod/web condition met\n" {
		t.Errorf("-l: %q", got)
	}
	for _, tc := range []struct{ args, want string }{
		{"wait --for=jsonpath={.spec.containers[*].name}=a pod/two", "finds 2 values"},
		{"wait --for=jsonpath={.spec} pod/two --timeout=0", ""},
		{"wait --for=jsonpath={.status.phase}=Running pod/two --timeout=300ms", "timed out after 300ms waiting for jsonpath {.status.phase}=Running on pod/two"},
		{"wait --for=jsonpath={.spec}=x pod/two", "finds an object or a list"},
		{"wait --for=jsonpath={.status.phase pod/two", "--for"},
		{"wait --for=condition=ready pod -l app=none", "no pods match"},
		{"wait --for=condition=ready pod/web -l app=web", "give one KIND and no names"},
	} {
		res := r.run(strings.Fields(tc.args)...)
		if tc.want == "" {
			if res.e != nil {
				t.Errorf("skiff %s: %+v", tc.args, res)
			}
			continue
		}
		if res.e == nil || !strings.Contains(res.err, tc.want) {
			t.Errorf("skiff %s: %+v, want an error with %q", tc.args, res, tc.want)
		}
	}
}
