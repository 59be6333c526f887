package controller_test

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// OnDelete: a template change replaces no pod by itself; a pod the user
// deletes comes back at the new revision, the others stay at the old one,
// and the status counts them so.
func TestStatefulSetOnDelete(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := ctxT(t)
	startFakeNodes(t, c, "n1", "n2")
	startScheduler(t, c)
	startManager(t, srv)
	reapDeleting(t, c)
	image := startWeb3(t, c, func(s *skiffv1.StatefulSetSpec) {
		s.VolumeClaimTemplates = nil
		s.PodManagementPolicy = "Parallel"
		s.UpdateStrategy = &skiffv1.StatefulSetUpdateStrategy{Type: "OnDelete"}
	})
	uids := map[string]string{}
	for _, n := range []string{"web-0", "web-1", "web-2"} {
		p, err := c.Pods().Get(ctx, "default", n)
		if err != nil {
			t.Fatal(err)
		}
		uids[n] = p.GetMetadata().GetUid()
	}
	if _, err := c.StatefulSets().Modify(ctx, "default", "web", func(s *skiffv1.StatefulSet) error {
		s.Spec.Template.Spec.Containers[0].Image = "busybox:1.37"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new revision seen, nothing updated", func() (bool, error) {
		got, err := c.StatefulSets().Get(ctx, "default", "web")
		st := got.GetStatus()
		return st.GetObservedGeneration() == got.GetMetadata().GetGeneration() && st.GetUpdateRevision() != st.GetCurrentRevision() &&
			st.GetUpdatedReplicas() == 0 && st.GetCurrentReplicas() == 3, fmt.Errorf("%v (%v)", st, err)
	})
	time.Sleep(500 * time.Millisecond)
	for n, u := range uids {
		p, err := c.Pods().Get(ctx, "default", n)
		if err != nil || p.GetMetadata().GetUid() != u || p.GetMetadata().GetDeletionTimestamp() != nil || image(n) != "busybox:1.36" {
			t.Fatalf("OnDelete touched %s: %v", n, err)
		}
	}
	// The user deletes web-1: it comes back at the new revision.
	if _, _, err := c.Pods().Delete(ctx, "default", "web-1", client.DeleteOptions{GracePeriodSeconds: proto.Int64(0)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "web-1 made again at the new revision", func() (bool, error) {
		p, err := c.Pods().Get(ctx, "default", "web-1")
		return err == nil && p.GetMetadata().GetUid() != uids["web-1"] && image("web-1") == "busybox:1.37", err
	})
	waitFor(t, "status: 1 updated, 2 current", func() (bool, error) {
		got, err := c.StatefulSets().Get(ctx, "default", "web")
		st := got.GetStatus()
		return st.GetUpdatedReplicas() == 1 && st.GetCurrentReplicas() == 2 && st.GetReadyReplicas() == 3, fmt.Errorf("%v (%v)", st, err)
	})
	for _, n := range []string{"web-0", "web-2"} {
		if image(n) != "busybox:1.36" {
			t.Errorf("%s runs %q; OnDelete leaves it at the old revision", n, image(n))
		}
	}
}

// minReadySeconds: with OrderedReady, the next pod is made only once the
// one before has been Ready that long (available), and the status counts
// a pod available only then.
func TestStatefulSetMinReadySeconds(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := ctxT(t)
	startFakeNodes(t, c, "n1")
	startScheduler(t, c)
	startManager(t, srv)
	reapDeleting(t, c)
	set, err := c.StatefulSets().Create(ctx, newSTS("web", 2, func(s *skiffv1.StatefulSetSpec) {
		s.VolumeClaimTemplates = nil
		s.MinReadySeconds = 2
	}))
	if err != nil {
		t.Fatal(err)
	}
	uid := set.GetMetadata().GetUid()
	readyAll(t, c, uid)
	waitPods(t, c, uid, "web-0", "web-1")
	p0, err := c.Pods().Get(ctx, "default", "web-0")
	if err != nil {
		t.Fatal(err)
	}
	p1, err := c.Pods().Get(ctx, "default", "web-1")
	if err != nil {
		t.Fatal(err)
	}
	var readyAt time.Time
	for _, cnd := range p0.GetStatus().GetConditions() {
		if cnd.GetType() == "Ready" && cnd.GetStatus() == "True" {
			readyAt = cnd.GetLastTransitionTime().AsTime()
		}
	}
	if readyAt.IsZero() {
		t.Fatalf("web-0 has no Ready condition: %v", p0.GetStatus())
	}
	// A second of slack: the Ready time comes from the test's clock, the
	// creation time from the server's.
	if made := p1.GetMetadata().GetCreationTimestamp().AsTime(); made.Before(readyAt.Add(2*time.Second - time.Second)) {
		t.Errorf("web-1 made at %v, before web-0 (Ready at %v) had been Ready for minReadySeconds 2", made, readyAt)
	}
	waitFor(t, "2 available", func() (bool, error) {
		got, err := c.StatefulSets().Get(ctx, "default", "web")
		st := got.GetStatus()
		return st.GetAvailableReplicas() == 2 && st.GetReadyReplicas() == 2, fmt.Errorf("%v (%v)", st, err)
	})
}
