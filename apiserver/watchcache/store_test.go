package watchcache

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/skiff-sh/skiff/apiserver/storage"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func obj(key string) skiffv1.Resource {
	return &skiffv1.ConfigMap{Metadata: &skiffv1.ObjectMeta{Name: key}}
}

// keys lists a snapshot's keys under prefix from from on, with the
// objects' names checked against the keys.
func keys(t *testing.T, sn *snapshot, from, prefix string) []string {
	t.Helper()
	var out []string
	sn.scan(from, prefix, func(e *entry) bool {
		if e.obj.GetMetadata().GetName() != e.key {
			t.Fatalf("key %q holds %q", e.key, e.obj.GetMetadata().GetName())
		}
		out = append(out, e.key)
		return true
	})
	return out
}

func want(model map[string]bool, from, prefix string) []string {
	var out []string
	for k := range model {
		if k >= from && strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// Random sets and removes keep the store sorted and equal to a map; a
// snapshot taken on the way keeps what it saw while the store changes on,
// however many chunks split or empty since.
func TestStoreMatchesAMapAndSnapshotsStayFrozen(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var s store
	model := map[string]bool{}
	type frozen struct {
		sn   *snapshot
		keys []string
	}
	var snaps []frozen
	for step := range 20000 {
		ns := fmt.Sprintf("ns%d", rng.IntN(5))
		key := fmt.Sprintf("%s/p%04d", ns, rng.IntN(2000))
		if rng.IntN(3) == 0 {
			prev := s.remove(key)
			if (prev != nil) != model[key] {
				t.Fatalf("step %d: remove %s returned %v, stored %v", step, key, prev, model[key])
			}
			delete(model, key)
		} else {
			prev := s.set(key, obj(key), nil)
			if (prev != nil) != model[key] {
				t.Fatalf("step %d: set %s replaced %v, stored %v", step, key, prev, model[key])
			}
			model[key] = true
		}
		if s.n != len(model) {
			t.Fatalf("step %d: %d entries, want %d", step, s.n, len(model))
		}
		if step%2500 == 0 {
			sn := s.snapshot()
			snaps = append(snaps, frozen{sn, want(model, "", "")})
		}
	}
	sn := s.snapshot()
	if got, w := keys(t, sn, "", ""), want(model, "", ""); !slices.Equal(got, w) {
		t.Fatalf("store holds %d keys, want %d (or out of order)", len(got), len(w))
	}
	for _, prefix := range []string{"ns0/", "ns3/", "ns9/"} {
		for _, from := range []string{prefix, prefix + "p1000", prefix + "p1999\x00"} {
			w := want(model, from, prefix)
			if got := keys(t, sn, from, prefix); !slices.Equal(got, w) {
				t.Fatalf("scan %q from %q: %v, want %v", prefix, from, got, w)
			}
			if n := sn.countFrom(from, prefix); n != int64(len(w)) {
				t.Fatalf("count %q from %q: %d, want %d", prefix, from, n, len(w))
			}
		}
	}
	for i, f := range snaps {
		if got := keys(t, f.sn, "", ""); !slices.Equal(got, f.keys) {
			t.Fatalf("snapshot %d changed: %d keys, had %d", i, len(got), len(f.keys))
		}
	}
	for k := range model {
		if o, ok := s.get(k); !ok || o.GetMetadata().GetName() != k {
			t.Fatalf("get %s: %v %v", k, o, ok)
		}
	}
	if _, ok := s.get("ns0/none"); ok {
		t.Fatal("get of a key never set found one")
	}
	// Emptied, the store is usable again.
	for k := range model {
		s.remove(k)
	}
	if s.n != 0 || len(s.chunks) != 0 {
		t.Fatalf("emptied store: %d entries in %d chunks", s.n, len(s.chunks))
	}
	s.set("a", obj("a"), nil)
	if got := keys(t, s.snapshot(), "", ""); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("after emptying: %v", got)
	}
}

// The initial list appends in key order and the result is an ordinary
// store.
func TestStoreAppendSorted(t *testing.T) {
	var s store
	var w []string
	for i := range 1000 {
		k := fmt.Sprintf("k%04d", i)
		s.appendSorted(k, obj(k), nil)
		w = append(w, k)
	}
	s.set("k0500x", obj("k0500x"), nil)
	s.remove("k0001")
	w = slices.DeleteFunc(w, func(k string) bool { return k == "k0001" })
	w = append(w, "k0500x")
	slices.Sort(w)
	if got := keys(t, s.snapshot(), "", ""); !slices.Equal(got, w) {
		t.Fatalf("got %d keys, want %d, or out of order", len(got), len(w))
	}
}

// A page carries its items' encodings only when every one has one: an
// object that could not be encoded sends the page the usual way.
func TestPageEncodedOnlyWhole(t *testing.T) {
	info, _ := skiffv1.Info(skiffv1.Kind_KIND_CONFIG_MAP)
	var s store
	for _, k := range []string{"a/x", "b/x", "b/y"} {
		s.set(k, obj(k), []byte(k))
	}
	page := readPage(s.snapshot(), info, "a", "", 1, storage.ListOptions{})
	if len(page.Encoded) != 1 || string(page.Encoded[0]) != "a/x" {
		t.Fatalf("namespace a: encoded %q, want [a/x]", page.Encoded)
	}
	s.set("b/x", obj("b/x"), nil)
	if page := readPage(s.snapshot(), info, "", "", 1, storage.ListOptions{Limit: 1}); len(page.Encoded) != 1 {
		t.Fatalf("first page: encoded %q, want [a/x]", page.Encoded)
	}
	if page := readPage(s.snapshot(), info, "b", "", 1, storage.ListOptions{}); page.Encoded != nil || len(page.Items) != 2 {
		t.Fatalf("namespace b: %d items, encoded %q, want 2 items and no encoding", len(page.Items), page.Encoded)
	}
	s.set("b/x", obj("b/x"), []byte("b/x2"))
	if page := readPage(s.snapshot(), info, "b", "", 1, storage.ListOptions{}); len(page.Encoded) != 2 || string(page.Encoded[0]) != "b/x2" {
		t.Fatalf("namespace b after the update: encoded %q, want [b/x2 b/y]", page.Encoded)
	}
}
