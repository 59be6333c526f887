package controller_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func newSTS(name string, replicas int32, mutate func(*skiffv1.StatefulSetSpec)) *skiffv1.StatefulSet {
	s := &skiffv1.StatefulSet{
		Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: &skiffv1.StatefulSetSpec{
			Replicas:    proto.Int32(replicas),
			ServiceName: name,
			Selector:    &skiffv1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: &skiffv1.PodTemplateSpec{
				Metadata: &skiffv1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:     podSpec("100m"),
			},
			VolumeClaimTemplates: []*skiffv1.Volume{{
				Metadata: &skiffv1.ObjectMeta{Name: "data"},
				Spec:     &skiffv1.VolumeSpec{Capacity: "1Gi"},
			}},
		},
	}
	if mutate != nil {
		mutate(s.Spec)
	}
	return s
}

// stsPods lists the names of the set's live pods, sorted.
func stsPods(t *testing.T, c *client.Client, uid string) []string {
	t.Helper()
	var names []string
	for _, p := range mustPods(t, c, uid) {
		names = append(names, p.GetMetadata().GetName())
	}
	sort.Strings(names)
	return names
}

func waitPods(t *testing.T, c *client.Client, uid string, want ...string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("pods %v", want), func() (bool, error) {
		got := stsPods(t, c, uid)
		return slices.Equal(got, want), fmt.Errorf("pods %v", got)
	})
}

// readyPod marks the named pod Running and Ready, as its node would.
func readyPod(t *testing.T, c *client.Client, name string) {
	t.Helper()
	ctx := ctxT(t)
	p, err := c.Pods().Get(ctx, "default", name)
	if err != nil {
		t.Fatal(err)
	}
	if err := setPodState(ctx, c, p, "Running", true); err != nil {
		t.Fatal(err)
	}
}

func TestStatefulSetOrderedReady(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := ctxT(t)
	startFakeNodes(t, c, "n1", "n2")
	startScheduler(t, c)
	startManager(t, srv)
	reaping := reapDeleting(t, c)

	set, err := c.StatefulSets().Create(ctx, newSTS("web", 3, nil))
	if err != nil {
		t.Fatal(err)
	}
	uid := set.GetMetadata().GetUid()
	// One at a time, each waiting for the one before to be Ready.
	waitPods(t, c, uid, "web-0")
	time.Sleep(300 * time.Millisecond)
	if got := stsPods(t, c, uid); len(got) != 1 {
		t.Fatalf("web-1 made before web-0 was Ready: %v", got)
	}
	readyPod(t, c, "web-0")
	waitPods(t, c, uid, "web-0", "web-1")
	readyPod(t, c, "web-1")
	waitPods(t, c, uid, "web-0", "web-1", "web-2")
	readyPod(t, c, "web-2")

	// Identity: hostname, subdomain, its own volume.
	p1, err := c.Pods().Get(ctx, "default", "web-1")
	if err != nil {
		t.Fatal(err)
	}
	if p1.GetSpec().GetHostname() != "web-1" || p1.GetSpec().GetSubdomain() != "web" {
		t.Errorf("web-1: hostname %q subdomain %q, want web-1 and web", p1.GetSpec().GetHostname(), p1.GetSpec().GetSubdomain())
	}
	var claim string
	for _, v := range p1.GetSpec().GetVolumes() {
		if v.GetName() == "data" {
			claim = v.GetVolume().GetName()
		}
	}
	if claim != "data-web-1" {
		t.Fatalf("web-1 mounts claim %q as data, want data-web-1", claim)
	}
	for _, n := range []string{"data-web-0", "data-web-1", "data-web-2"} {
		if _, err := c.Volumes().Get(ctx, "default", n); err != nil {
			t.Errorf("volume %s: %v", n, err)
		}
	}
	waitFor(t, "status 3 ready", func() (bool, error) {
		got, err := c.StatefulSets().Get(ctx, "default", "web")
		st := got.GetStatus()
		return st.GetReplicas() == 3 && st.GetReadyReplicas() == 3 && st.GetCurrentReplicas() == 3 && st.GetUpdatedReplicas() == 3 &&
			st.GetCurrentRevision() != "" && st.GetCurrentRevision() == st.GetUpdateRevision(), fmt.Errorf("%v (%v)", st, err)
	})

	// A deleted pod comes back under its name, with the same volume.
	if _, _, err := c.Pods().Delete(ctx, "default", "web-1", client.DeleteOptions{GracePeriodSeconds: proto.Int64(0)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "web-1 made again", func() (bool, error) {
		p, err := c.Pods().Get(ctx, "default", "web-1")
		if err != nil {
			return false, err
		}
		return p.GetMetadata().GetUid() != p1.GetMetadata().GetUid() && p.GetMetadata().GetDeletionTimestamp() == nil, nil
	})
	readyPod(t, c, "web-1")

	// Scale down from the highest ordinal, one at a time; the volumes stay.
	reaping.Store(false)
	if _, err := c.StatefulSets().Modify(ctx, "default", "web", func(s *skiffv1.StatefulSet) error {
		s.Spec.Replicas = proto.Int32(1)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitPods(t, c, uid, "web-0", "web-1") // web-2 terminating
	time.Sleep(300 * time.Millisecond)
	if got := stsPods(t, c, uid); !slices.Equal(got, []string{"web-0", "web-1"}) {
		t.Fatalf("web-1 deleted while web-2 was still terminating: live pods %v", got)
	}
	reaping.Store(true)
	waitPods(t, c, uid, "web-0")
	if _, err := c.Volumes().Get(ctx, "default", "data-web-2"); err != nil {
		t.Errorf("data-web-2 went with its pod (Retain keeps it): %v", err)
	}
}

func TestStatefulSetParallelAndRetention(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := ctxT(t)
	startFakeNodes(t, c, "n1")
	startScheduler(t, c)
	startManager(t, srv)
	set, err := c.StatefulSets().Create(ctx, newSTS("db", 3, func(s *skiffv1.StatefulSetSpec) {
		s.PodManagementPolicy = "Parallel"
		s.PersistentVolumeClaimRetentionPolicy = &skiffv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenScaled: "Delete", WhenDeleted: "Retain"}
	}))
	if err != nil {
		t.Fatal(err)
	}
	uid := set.GetMetadata().GetUid()
	// Parallel: all three without any being Ready.
	waitPods(t, c, uid, "db-0", "db-1", "db-2")
	if _, err := c.StatefulSets().Modify(ctx, "default", "db", func(s *skiffv1.StatefulSet) error {
		s.Spec.Replicas = proto.Int32(1)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitPods(t, c, uid, "db-0")
	// whenScaled: Delete removes the volumes of the ordinals scaled away
	// once their pods are gone for good (force them: no agent here).
	for _, n := range []string{"db-1", "db-2"} {
		c.Pods().Delete(ctx, "default", n, client.DeleteOptions{GracePeriodSeconds: proto.Int64(0)})
	}
	waitFor(t, "data-db-1 and data-db-2 deleted, data-db-0 kept", func() (bool, error) {
		vols, _, err := c.Volumes().List(ctx, client.ListOptions{Namespace: "default"})
		var names []string
		for _, v := range vols {
			if v.GetMetadata().GetDeletionTimestamp() == nil {
				names = append(names, v.GetMetadata().GetName())
			}
		}
		return slices.Equal(names, []string{"data-db-0"}), fmt.Errorf("volumes %v (%v)", names, err)
	})
}

func TestStatefulSetRollingUpdatePartition(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := ctxT(t)
	startFakeNodes(t, c, "n1", "n2")
	startScheduler(t, c)
	startManager(t, srv)
	reapDeleting(t, c)
	image := startWeb3(t, c, func(s *skiffv1.StatefulSetSpec) {
		s.VolumeClaimTemplates = nil
		s.UpdateStrategy = &skiffv1.StatefulSetUpdateStrategy{Type: "RollingUpdate",
			RollingUpdate: &skiffv1.RollingUpdateStatefulSetStrategy{Partition: proto.Int32(1)}}
	})
	// Record the order pods are replaced in: highest ordinal first.
	if _, err := c.StatefulSets().Modify(ctx, "default", "web", func(s *skiffv1.StatefulSet) error {
		s.Spec.Template.Spec.Containers[0].Image = "busybox:1.37"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var order []string
	waitFor(t, "web-2 and web-1 updated", func() (bool, error) {
		for _, n := range []string{"web-2", "web-1"} {
			if image(n) == "busybox:1.37" && !slices.Contains(order, n) {
				order = append(order, n)
			}
		}
		return len(order) == 2, nil
	})
	if !slices.Equal(order, []string{"web-2", "web-1"}) {
		t.Errorf("updated in order %v, want web-2 then web-1", order)
	}
	// The partition holds web-0 at the old revision, even when it is made again.
	time.Sleep(300 * time.Millisecond)
	if got := image("web-0"); got != "busybox:1.36" {
		t.Errorf("web-0 runs %q below the partition", got)
	}
	old0, _ := c.Pods().Get(ctx, "default", "web-0")
	c.Pods().Delete(ctx, "default", "web-0", client.DeleteOptions{GracePeriodSeconds: proto.Int64(0)})
	waitFor(t, "web-0 made again", func() (bool, error) {
		p, err := c.Pods().Get(ctx, "default", "web-0")
		return err == nil && p.GetMetadata().GetUid() != old0.GetMetadata().GetUid(), err
	})
	if got := image("web-0"); got != "busybox:1.36" {
		t.Errorf("web-0 made again at %q below the partition, want the current revision's busybox:1.36", got)
	}
	waitFor(t, "status: 2 updated, 1 current, revisions differ", func() (bool, error) {
		got, err := c.StatefulSets().Get(ctx, "default", "web")
		st := got.GetStatus()
		return st.GetUpdatedReplicas() == 2 && st.GetCurrentReplicas() == 1 && st.GetCurrentRevision() != st.GetUpdateRevision(), fmt.Errorf("%v (%v)", st, err)
	})
	// Partition 0: web-0 follows, and the update revision becomes current.
	if _, err := c.StatefulSets().Modify(ctx, "default", "web", func(s *skiffv1.StatefulSet) error {
		s.Spec.UpdateStrategy.RollingUpdate.Partition = proto.Int32(0)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "all updated and current", func() (bool, error) {
		got, err := c.StatefulSets().Get(ctx, "default", "web")
		st := got.GetStatus()
		return st.GetUpdatedReplicas() == 3 && st.GetCurrentReplicas() == 3 && st.GetCurrentRevision() == st.GetUpdateRevision() && image("web-0") == "busybox:1.37", fmt.Errorf("%v (%v)", st, err)
	})
}

// reapDeleting plays the agents' part in a deletion: a pod being deleted
// is removed for good, until the test ends, while the returned switch is on.
func reapDeleting(t *testing.T, c *client.Client) *atomic.Bool {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	on := &atomic.Bool{}
	on.Store(true)
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if !on.Load() {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			pods, _, _ := c.Pods().List(ctx, client.ListOptions{Namespace: "default"})
			for _, p := range pods {
				if p.GetMetadata().GetDeletionTimestamp() != nil {
					c.Pods().Delete(ctx, "default", p.GetMetadata().GetName(), client.DeleteOptions{GracePeriodSeconds: proto.Int64(0), UID: p.GetMetadata().GetUid()})
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return on
}

// whenDeleted: Delete gives each claim the set as owner, so the garbage
// collector removes them with it; Retain leaves them.
func TestStatefulSetClaimsWhenDeleted(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := ctxT(t)
	startFakeNodes(t, c, "n1")
	startScheduler(t, c)
	startManager(t, srv)
	reapDeleting(t, c)
	for _, name := range []string{"gone", "kept"} {
		policy := "Delete"
		if name == "kept" {
			policy = "Retain"
		}
		if _, err := c.StatefulSets().Create(ctx, newSTS(name, 1, func(s *skiffv1.StatefulSetSpec) {
			s.PersistentVolumeClaimRetentionPolicy = &skiffv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: policy}
		})); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "both claims made", func() (bool, error) {
		_, err1 := c.Volumes().Get(ctx, "default", "data-gone-0")
		_, err2 := c.Volumes().Get(ctx, "default", "data-kept-0")
		return err1 == nil && err2 == nil, errors.Join(err1, err2)
	})
	for _, name := range []string{"gone", "kept"} {
		if _, _, err := c.StatefulSets().Delete(ctx, "default", name, client.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "data-gone-0 collected with its set", func() (bool, error) {
		_, err := c.Volumes().Get(ctx, "default", "data-gone-0")
		return client.IsNotFound(err), err
	})
	if _, err := c.Volumes().Get(ctx, "default", "data-kept-0"); err != nil {
		t.Errorf("data-kept-0 (Retain) went with its set: %v", err)
	}
}

// startWeb3 creates StatefulSet web of 3 (changed by mutate), has its pods
// Ready and waits until its status counts them. The function it returns
// reads a live pod's image ("" once it is gone or going).
func startWeb3(t *testing.T, c *client.Client, mutate func(*skiffv1.StatefulSetSpec)) (image func(name string) string) {
	t.Helper()
	ctx := ctxT(t)
	set, err := c.StatefulSets().Create(ctx, newSTS("web", 3, mutate))
	if err != nil {
		t.Fatal(err)
	}
	uid := set.GetMetadata().GetUid()
	readyAll(t, c, uid)
	waitPods(t, c, uid, "web-0", "web-1", "web-2")
	waitFor(t, "3 ready", func() (bool, error) {
		got, err := c.StatefulSets().Get(ctx, "default", "web")
		return got.GetStatus().GetReadyReplicas() == 3, err
	})
	return func(name string) string {
		p, err := c.Pods().Get(ctx, "default", name)
		if err != nil || p.GetMetadata().GetDeletionTimestamp() != nil {
			return ""
		}
		return p.GetSpec().GetContainers()[0].GetImage()
	}
}
