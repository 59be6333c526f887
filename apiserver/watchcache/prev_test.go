package watchcache_test

import (
	"testing"

	"github.com/skiff-sh/skiff/apiserver/storage"
)

// The cache's etcd watch does not decode a modification's previous value
// (the cache holds it); a deletion still carries the object deleted, and
// other watches still get both.
func TestWatchWithoutModifiedPrev(t *testing.T) {
	st := startStore(t)
	ctx := ctxT(t)
	rev, err := st.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := writes(t, ctx, st, "a", 7) // 4 creates, 2 updates, a delete
	for _, without := range []bool{false, true} {
		wctx := ctx
		if without {
			wctx = storage.WithoutModifiedPrev(ctx)
		}
		events := st.Watch(wctx, cm, "", rev)
		for _, w := range want {
			ev := <-events
			if ev.Err != nil || ev.Type != w.typ || ev.Object.GetMetadata().GetName() != w.name {
				t.Fatalf("without=%v: got %v %v, want %v", without, ev.Type, ev.Err, w)
			}
			switch wantPrev := ev.Type == storage.Deleted || (ev.Type == storage.Modified && !without); {
			case wantPrev && ev.Prev == nil:
				t.Errorf("without=%v: %v has no previous value", without, w)
			case !wantPrev && ev.Prev != nil:
				t.Errorf("without=%v: %v has a previous value decoded", without, w)
			}
		}
	}
}
