package network

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// TestAttachConcurrent: many pods attach at once (one worker per pod in
// the agent); every one gets its own address and veth and reaches the
// gateway.
func TestAttachConcurrent(t *testing.T) {
	requireRoot(t)
	requirePing(t)
	ctx := context.Background()
	node := newNetNS(t, "node")
	n := setup(t, nodeConfig(t, node, "10.88.10.0/24"))
	const pods = 12
	paths := make([]string, pods)
	for i := range paths {
		paths[i] = newNetNS(t, fmt.Sprint("pod", i))
	}
	atts := make([]Attachment, pods)
	errs := make([]error, pods)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each pod twice at once: the per-pod lock keeps them apart
			// and both calls must agree.
			var pair [2]Attachment
			var perr [2]error
			var inner sync.WaitGroup
			for k := range 2 {
				inner.Add(1)
				go func() {
					defer inner.Done()
					pair[k], perr[k] = n.Attach(ctx, fmt.Sprint("nettest-pod-", i), paths[i])
				}()
			}
			inner.Wait()
			atts[i], errs[i] = pair[0], errors.Join(perr[0], perr[1])
			if errs[i] == nil && (pair[0].IP != pair[1].IP || pair[0].HostVeth != pair[1].HostVeth) {
				errs[i] = fmt.Errorf("two Attach calls disagree: %+v vs %+v", pair[0], pair[1])
			}
		}()
	}
	wg.Wait()
	t.Logf("%d pods attached (twice each, concurrently) in %v", pods, time.Since(start))
	ips := map[string]bool{}
	for i, a := range atts {
		if errs[i] != nil {
			t.Fatalf("pod %d: %v", i, errs[i])
		}
		if ips[a.IP.String()] {
			t.Fatalf("duplicate %v", a.IP)
		}
		ips[a.IP.String()] = true
	}
	for _, i := range []int{0, pods - 1} {
		if err := ping(paths[i], atts[i].Gateway); err != nil {
			t.Errorf("pod %d → gateway: %v", i, err)
		}
	}
	if err := ping(paths[0], atts[pods-1].IP); err != nil {
		t.Errorf("pod 0 → pod %d: %v", pods-1, err)
	}
	list, err := n.List()
	if err != nil || len(list) != pods {
		t.Fatalf("List: %d, %v", len(list), err)
	}
	for _, a := range list {
		if a.HostVeth == "" || !a.IP.IsValid() {
			t.Errorf("List entry %+v", a)
		}
	}
}

// TestAttachNewSandbox: the pod's sandbox is made again (new netns) while
// the old one is still pinned: Attach moves the pod to the new netns with
// the same address and drops the old pair.
func TestAttachNewSandbox(t *testing.T) {
	requireRoot(t)
	requirePing(t)
	ctx := context.Background()
	node := newNetNS(t, "node")
	old, fresh := newNetNS(t, "old"), newNetNS(t, "new")
	n := setup(t, nodeConfig(t, node, "10.88.11.0/24"))
	a1, err := n.Attach(ctx, "nettest-p", old)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := n.Attach(ctx, "nettest-p", fresh)
	if err != nil {
		t.Fatal(err)
	}
	if a1.IP != a2.IP || a1.HostVeth != a2.HostVeth {
		t.Fatalf("re-attach to new sandbox: %+v then %+v", a1, a2)
	}
	if out, err := inNS(old, "ip", "-o", "link"); err != nil || strings.Contains(out, "eth0") {
		t.Errorf("old sandbox still has eth0: %v %s", err, out)
	}
	if err := ping(node, a2.IP); err != nil {
		t.Errorf("node → pod in new sandbox: %v", err)
	}
}

// TestHostVethCollision: the pod's first veth name is taken by another
// pod's link (a hash collision); Attach takes the next candidate, and
// Lookup/Detach find it there, leaving the other pod's link alone.
func TestHostVethCollision(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	node := newNetNS(t, "node")
	pod := newNetNS(t, "pod")
	n := setup(t, nodeConfig(t, node, "10.88.12.0/24"))
	nh := handle(t, node)
	taken := hostVethName("nettest-victim", 0)
	if err := nh.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: taken}, PeerName: "other-peer"}); err != nil {
		t.Fatal(err)
	}
	l, err := nh.LinkByName(taken)
	if err != nil {
		t.Fatal(err)
	}
	if err := nh.LinkSetAlias(l, aliasPrefix+"nettest-someone-else"); err != nil {
		t.Fatal(err)
	}
	att, err := n.Attach(ctx, "nettest-victim", pod)
	if err != nil {
		t.Fatal(err)
	}
	if att.HostVeth != hostVethName("nettest-victim", 1) {
		t.Fatalf("HostVeth = %s, want candidate 1 %s", att.HostVeth, hostVethName("nettest-victim", 1))
	}
	if got, err := n.Lookup("nettest-victim"); err != nil || got.HostVeth != att.HostVeth {
		t.Fatalf("Lookup = %+v, %v", got, err)
	}
	if err := n.Detach(ctx, "nettest-victim", pod); err != nil {
		t.Fatal(err)
	}
	if _, err := nh.LinkByName(taken); err != nil {
		t.Fatalf("the other pod's link went: %v", err)
	}
	if _, err := nh.LinkByName(att.HostVeth); err == nil {
		t.Fatal("victim's veth still there")
	}
}
