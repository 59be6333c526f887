package cli

import (
	"regexp"
	"strings"
	"testing"
)

// explain walks a kind's fields by their manifest names and prints their
// types and the API definitions' comments.
func TestExplain(t *testing.T) {
	r := newRunner(t)
	got := r.ok("explain", "ds.spec.updateStrategy")
	for _, want := range []string{
		"KIND:     DaemonSet\nVERSION:  skiff/v1\n",
		"FIELD:    updateStrategy <DaemonSetUpdateStrategy>\n",
		"DESCRIPTION:\n    type is RollingUpdate (default) or OnDelete.\n",
		"  rollingUpdate\t<RollingUpdateDaemonSet>\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("explain ds.spec.updateStrategy lacks %q:\n%s", want, got)
		}
	}
	got = r.ok("explain", "daemonsets.spec")
	if !strings.Contains(got, "  minReadySeconds\t<integer>\n    Seconds a new pod must be ready before it counts as available.\n") {
		t.Errorf("explain daemonsets.spec:\n%s", got)
	}
	got = r.ok("explain", "pod")
	for _, want := range []string{"  apiVersion\t<string>\n", "  spec\t<PodSpec>\n    What the object should be"} {
		if !strings.Contains(got, want) {
			t.Errorf("explain pod lacks %q:\n%s", want, got)
		}
	}
	got = r.ok("explain", "pod.spec.containers", "--recursive")
	for _, want := range []string{`(?m)^FIELD:    containers <\[\]Container>$`, `(?m)^  resources +<ResourceRequirements>$`, `(?m)^    requests +<map\[string\]string>$`, `(?m)^  env +<\[\]EnvVar>$`} {
		if !regexp.MustCompile(want).MatchString(got) {
			t.Errorf("explain --recursive lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, "DESCRIPTION:\n    <no description>\n\nFIELDS:\n  name\t") {
		t.Errorf("--recursive printed descriptions:\n%s", got)
	}
	for _, c := range []struct{ path, want string }{
		{"pod.spec.nope", `field "nope" does not exist in pod.spec; its fields: containers, volumes,`},
		{"pod.metadata.name.x", "pod.metadata.name: a string has no fields"},
		{"gizmo", `unknown kind "gizmo"`},
	} {
		if res := r.run("explain", c.path); res.e == nil || !strings.Contains(res.err, c.want) {
			t.Errorf("explain %s: %+v, want %q", c.path, res, c.want)
		}
	}
}
