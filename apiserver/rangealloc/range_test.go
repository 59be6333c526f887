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

// TestIPRangeStaticBand: the first ClusterIPs handed out come from above
// the static band (a /12 keeps 256 addresses, a /24 16, a /28 none), and
// the band's addresses only once the rest is taken.
func TestIPRangeStaticBand(t *testing.T) {
	for _, tc := range []struct {
		cidr, first string
		band        int
	}{{"10.96.0.0/12", "10.96.1.1", 256}, {"10.96.0.0/16", "10.96.1.1", 256}, {"10.96.0.0/20", "10.96.1.1", 256},
		{"10.96.0.0/22", "10.96.0.65", 64}, {"10.96.0.0/24", "10.96.0.17", 16}, {"10.96.0.0/28", "10.96.0.1", 0}} {
		p := netip.MustParsePrefix(tc.cidr)
		if got := StaticBand(p); got != tc.band {
			t.Errorf("StaticBand(%s) = %d, want %d", tc.cidr, got, tc.band)
		}
		r, err := NewIPRange(p)
		if err != nil {
			t.Fatal(err)
		}
		o, ok := r.Candidate()
		if !ok || r.Addr(o).String() != tc.first {
			t.Errorf("%s: first candidate %s (%v), want %s", tc.cidr, r.Addr(o), ok, tc.first)
		}
	}
	// A /24: once the 238 addresses above the band are taken, the band's
	// come next, from its first.
	r, _ := NewIPRange(netip.MustParsePrefix("10.96.0.0/24"))
	for o := 16; o < r.Size(); o++ {
		r.Mark(o)
	}
	if o, ok := r.Candidate(); !ok || r.Addr(o).String() != "10.96.0.1" {
		t.Fatalf("with the dynamic part full: candidate %s (%v), want 10.96.0.1", r.Addr(o), ok)
	}
}
