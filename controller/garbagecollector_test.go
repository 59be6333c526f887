package controller_test

import (
	"testing"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func TestOwnerDeletionCascadesAndOrphanDoesNot(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := ctxT(t)
	startManager(t, srv)

	make3 := func(name string) string {
		rs, err := c.ReplicaSets().Create(ctx, newRS(name, 3, name))
		if err != nil {
			t.Fatal(err)
		}
		uid := rs.GetMetadata().GetUid()
		waitFor(t, name+": 3 pods", func() (bool, error) {
			pods, err := podsOf(ctx, c, uid)
			return len(pods) == 3, err
		})
		return uid
	}
	podsLabelled := func(app string) int {
		pods, _, err := c.Pods().List(ctx, client.ListOptions{Namespace: "default", LabelSelector: "app=" + app})
		if err != nil {
			t.Fatal(err)
		}
		return len(pods)
	}

	make3("kept")
	if _, _, err := c.ReplicaSets().Delete(ctx, "default", "kept", client.DeleteOptions{Propagation: "Orphan"}); err != nil {
		t.Fatal(err)
	}
	make3("gone")
	if _, _, err := c.ReplicaSets().Delete(ctx, "default", "gone", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the background cascade", func() (bool, error) { return podsLabelled("gone") == 0, nil })
	// The collector has handled a later deletion: the orphans, deleted
	// before it, have been looked at too, and must have stayed.
	if n := podsLabelled("kept"); n != 3 {
		t.Fatalf("%d pods of the orphaning deletion remain, want 3", n)
	}
	pods, _, err := c.Pods().List(ctx, client.ListOptions{Namespace: "default", LabelSelector: "app=kept"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		if len(p.GetMetadata().GetOwnerReferences()) != 0 {
			t.Errorf("orphan %s still has owner references", p.GetMetadata().GetName())
		}
	}

	// Any kind may own: a pod owned by a pod goes with it.
	owner, err := c.Pods().Create(ctx, &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Name: "owner", Namespace: "default"}, Spec: podSpec("10m")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pods().Create(ctx, &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Name: "dependent", Namespace: "default",
		OwnerReferences: []*skiffv1.OwnerReference{{Kind: "Pod", Name: "owner", Uid: owner.GetMetadata().GetUid()}}}, Spec: podSpec("10m")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Pods().Delete(ctx, "default", "owner", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the dependent pod deleted", func() (bool, error) {
		_, err := c.Pods().Get(ctx, "default", "dependent")
		return client.IsNotFound(err), nil
	})
}

func TestPodsOfDeletedNodeAreDeleted(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := ctxT(t)
	startFakeNodes(t, c, "n1", "n2")
	startManager(t, srv)

	for _, p := range []struct{ name, node string }{{"a", "n1"}, {"b", "n1"}, {"c", "n2"}} {
		pod := &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Name: p.name, Namespace: "default"}, Spec: podSpec("10m")}
		if _, err := c.Pods().Create(ctx, pod); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Bind(ctx, "default", p.name, p.node, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	// One of them is already being deleted gracefully: its agent will
	// never confirm now.
	if _, deleted, err := c.Pods().Delete(ctx, "default", "b", client.DeleteOptions{}); err != nil || deleted {
		t.Fatalf("graceful delete of a bound pod: deleted=%v err=%v", deleted, err)
	}
	if _, _, err := c.Nodes().Delete(ctx, "", "n1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "n1's pods deleted", func() (bool, error) {
		pods, _, err := c.Pods().List(ctx, client.ListOptions{Namespace: "default"})
		if err != nil {
			return false, err
		}
		return len(pods) == 1 && pods[0].GetMetadata().GetName() == "c", nil
	})
}
