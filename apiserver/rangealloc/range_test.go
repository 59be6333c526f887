package rangealloc

import (
	"net/netip"
	"sync"
	"testing"
)

func TestCandidateSkipsMarkedAndExhausts(t *testing.T) {
	r := New(130) // three words, the last partial
	seen := map[int]bool{}
	for i := 0; i < 130; i++ {
		o, ok := r.Candidate()
		if !ok {
			t.Fatalf("exhausted after %d of 130", i)
		}
		if seen[o] || o < 0 || o >= 130 {
			t.Fatalf("candidate %d repeated or out of range", o)
		}
		seen[o] = true
		r.Mark(o)
	}
	if o, ok := r.Candidate(); ok {
		t.Fatalf("a full range gave %d", o)
	}
	if r.Free() != 0 {
		t.Fatalf("free = %d, want 0", r.Free())
	}
	r.Release(77)
	if o, ok := r.Candidate(); !ok || o != 77 {
		t.Fatalf("after releasing 77 got %d, %v", o, ok)
	}
}

func TestCursorDoesNotReuseAtOnce(t *testing.T) {
	r := New(10)
	a, _ := r.Candidate()
	r.Mark(a)
	r.Release(a)
	b, _ := r.Candidate()
	if a == b {
		t.Fatalf("released %d handed out again at once", a)
	}
}

// Many goroutines marking what they are given never see the same value
// twice; the range ends exactly full.
func TestConcurrentMarking(t *testing.T) {
	r := New(1000)
	var mu sync.Mutex
	got := map[int]bool{}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				o, ok := r.Candidate()
				if !ok {
					return
				}
				mu.Lock()
				dup := got[o]
				got[o] = true
				mu.Unlock()
				if !dup {
					r.Mark(o)
				}
			}
		}()
	}
	wg.Wait()
	if len(got) != 1000 || r.Free() != 0 {
		t.Fatalf("%d distinct values, %d free; want 1000, 0", len(got), r.Free())
	}
}

func TestResetIsAReload(t *testing.T) {
	r := New(64)
	for i := 0; i < 64; i++ {
		r.Mark(i)
	}
	r.Reset([]int{1, 2, 3})
	if r.Free() != 61 || !r.Has(2) || r.Has(4) {
		t.Fatalf("after reset: free %d, has(2) %v, has(4) %v", r.Free(), r.Has(2), r.Has(4))
	}
}

func TestIPRange(t *testing.T) {
	r, err := NewIPRange(netip.MustParsePrefix("10.96.0.0/12"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Size() != 1<<20-2 {
		t.Fatalf("size %d", r.Size())
	}
	for _, tc := range []struct {
		ip string
		ok bool
	}{{"10.96.0.0", false}, {"10.96.0.1", true}, {"10.111.255.254", true}, {"10.111.255.255", false}, {"10.112.0.1", false}, {"10.88.0.1", false}} {
		o, ok := r.Offset(netip.MustParseAddr(tc.ip))
		if ok != tc.ok {
			t.Fatalf("Offset(%s) ok = %v, want %v", tc.ip, ok, tc.ok)
		}
		if ok && r.Addr(o).String() != tc.ip {
			t.Fatalf("Addr(Offset(%s)) = %s", tc.ip, r.Addr(o))
		}
	}
	if _, err := NewIPRange(netip.MustParsePrefix("10.96.0.0/31")); err == nil {
		t.Fatal("a /31 was accepted")
	}
}
