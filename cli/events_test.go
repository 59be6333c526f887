package cli

import (
	"strings"
	"testing"
)

// skiff events is get events with kubectl events' --for and --types.
func TestEvents(t *testing.T) {
	r := newRunner(t)
	fixture(t, r)
	got := r.ok("events")
	for _, want := range []string{"Successfully assigned default/web to node1", "Back-off restarting failed container app", "Created pod: web"} {
		if !strings.Contains(got, want) {
			t.Errorf("events lacks %q:\n%s", want, got)
		}
	}
	if !strings.HasPrefix(got, "LAST SEEN") || strings.Index(got, "Created pod: web") > strings.Index(got, "Successfully assigned") {
		t.Errorf("events: want the header and the oldest first:\n%s", got)
	}
	got = r.ok("events", "--for", "pod/web")
	if !strings.Contains(got, "Successfully assigned") || !strings.Contains(got, "Started container app") || strings.Contains(got, "Created pod") || strings.Contains(got, "Back-off") {
		t.Errorf("events --for pod/web:\n%s", got)
	}
	got = r.ok("events", "--types=Warning", "--no-headers")
	if strings.Count(got, "\n") != 1 || !strings.Contains(got, "Back-off") {
		t.Errorf("events --types=Warning:\n%s", got)
	}
	if got := r.ok("events", "--for", "replicaset/web", "-o", "name"); got != "event/web.3\n" {
		t.Errorf("events --for replicaset/web -o name: %q", got)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"events", "--for", "web"}, "--for=web: give the object as KIND/NAME"},
		{[]string{"events", "--for", "gizmo/x"}, `--for: unknown kind "gizmo"`},
		{[]string{"events", "--types", "Error"}, `--types: "Error" is not an event type`},
	} {
		if res := r.run(c.args...); res.e == nil || !strings.Contains(res.err, c.want) {
			t.Errorf("%v: %+v, want %q", c.args, res, c.want)
		}
	}
}
