package runtime

import (
	"reflect"
	"strings"
	"testing"
)

// The filter an init receives is the one it would have built itself, for
// the same capability set, and it refuses one built for another set.
func TestFilterHandedToInitIsTheBuiltOne(t *testing.T) {
	r := &Runtime{}
	for _, sc := range []SecurityContext{{}, {CapAdd: []string{"SYS_ADMIN"}}, {CapDrop: []string{"ALL"}}} {
		f, err := r.filterFor(sc, true)
		if err != nil {
			t.Fatal(err)
		}
		if f == nil {
			t.Fatalf("%+v: no filter for a confined container", sc)
		}
		want, err := newLockdown(sc, true)
		if err != nil {
			t.Fatal(err)
		}
		got, err := planLockdown(sc, true, f.lookup)
		if err != nil {
			t.Fatal(err)
		}
		// The allow-list's order (from a map) varies between builds: the
		// program is the cached one, as long as the one built in place.
		if !reflect.DeepEqual(got.seccomp, r.filters.m[want.caps]) || len(got.seccomp) != len(want.seccomp) {
			t.Errorf("%+v: the handed-over program differs from the one built for its capabilities", sc)
		}
		if _, err := f.lookup(capSet(f.Caps) ^ 1); err == nil || !strings.Contains(err.Error(), "capabilities") {
			t.Errorf("a filter for other capabilities was taken: %v", err)
		}
	}
	if len(r.filters.m) != 3 {
		t.Errorf("cache holds %d programs, want one per capability set (3)", len(r.filters.m))
	}
}

func TestFilterForNoneAndBadInput(t *testing.T) {
	r := &Runtime{}
	for _, sc := range []SecurityContext{{Privileged: true}, {SeccompUnconfined: true}} {
		if f, err := r.filterFor(sc, true); err != nil || f != nil {
			t.Errorf("%+v: filter %v, err %v; want none", sc, f, err)
		}
	}
	if _, err := r.filterFor(SecurityContext{CapAdd: []string{"NOPE"}}, true); err == nil || !strings.Contains(err.Error(), "NOPE") {
		t.Errorf("unknown capability: err %v", err)
	}
	var none *seccompFilter
	if _, err := none.lookup(0); err == nil {
		t.Error("an init without a filter went on")
	}
	for _, b := range [][]byte{nil, make([]byte, 7), make([]byte, 8*(bpfMaxInstructions+1))} {
		if _, err := decodeFilter(b); err == nil {
			t.Errorf("decoded %d bytes as a program", len(b))
		}
	}
}
