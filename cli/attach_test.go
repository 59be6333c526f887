package cli

import (
	"context"
	"strings"
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// run -i -t writes stdin, stdinOnce and tty into the manifest.
func TestRunInteractiveDryRunManifest(t *testing.T) {
	r := newRunner(t)
	out := r.ok("run", "shell", "--image=busybox", "-it", "--restart=Never", "--dry-run=client", "-o", "yaml", "--", "sh")
	for _, want := range []string{"stdin: true", "stdinOnce: true", "tty: true", "restartPolicy: Never"} {
		if !strings.Contains(out, want) {
			t.Errorf("manifest lacks %q:\n%s", want, out)
		}
	}
	if _, err := r.srv.Client.Pods().Get(context.Background(), "default", "shell"); err == nil {
		t.Error("--dry-run stored the pod")
	}
}

// A pod that never runs (no node here) ends the wait with its status,
// and --rm still deletes it.
func TestRunAttachTimesOutAndRemoves(t *testing.T) {
	r := newRunner(t)
	res := r.run("run", "waits", "--image=busybox", "-i", "--rm", "--restart=Never", "--pod-running-timeout=300ms", "--", "sh")
	if res.e == nil || !strings.Contains(res.e.Error(), "pod waits did not start running within 300ms (--pod-running-timeout): it is Pending") {
		t.Fatalf("run: %+v", res)
	}
	if !strings.Contains(res.out, `pod "waits" deleted`) {
		t.Errorf("stdout %q: no deletion", res.out)
	}
	if _, err := r.srv.Client.Pods().Get(context.Background(), "default", "waits"); err == nil {
		t.Error("--rm left the pod")
	}
}

// attach goes through the API server, which names what is missing.
func TestAttachErrors(t *testing.T) {
	r := newRunner(t)
	p := &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Name: "web"}, Spec: &skiffv1.PodSpec{Containers: []*skiffv1.Container{{Name: "c", Image: "x", Stdin: true}}}}
	if _, err := r.srv.Client.Pods().Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if out := r.ok("describe", "pod", "web"); !strings.Contains(out, "Stdin:") || !strings.Contains(out, "true (once: false)") {
		t.Errorf("describe shows no stdin:\n%s", out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"attach", "web", "-i"}, "not scheduled to a node yet"},
		{[]string{"attach", "nope"}, `pod "nope" not found`},
		{[]string{"attach"}, "accepts 1 arg"},
		{[]string{"attach", "web", "--bogus"}, "unknown flag: --bogus"},
	} {
		if res := r.run(tc.args...); res.e == nil || !strings.Contains(res.e.Error(), tc.want) {
			t.Errorf("%v: %+v, want %q", tc.args, res, tc.want)
		}
	}
}
