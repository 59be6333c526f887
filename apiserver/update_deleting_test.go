package apiserver_test

import (
	"testing"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// An update of an object being deleted gracefully (a pod in its grace
// period, a namespace being emptied) must not delete it: only the removal
// of the last finalizer does.
func TestUpdateDuringGracefulDeletionKeepsObject(t *testing.T) {
	s := apitest.Start(t)
	ctx := ctxT(t)
	if _, err := s.Client.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "n1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client.Pods().Create(ctx, pod("web")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client.Bind(ctx, "default", "web", "n1", "", ""); err != nil {
		t.Fatal(err)
	}
	marked, deleted, err := s.Client.Pods().Delete(ctx, "default", "web", client.DeleteOptions{})
	if err != nil || deleted {
		t.Fatalf("delete: deleted=%v err=%v", deleted, err)
	}
	marked.Metadata.Labels["extra"] = "yes"
	if _, err := s.Client.Pods().Update(ctx, marked); err != nil {
		t.Fatalf("update of a terminating pod: %v", err)
	}
	got, err := s.Client.Pods().Get(ctx, "default", "web")
	if err != nil {
		t.Fatalf("a terminating pod was deleted by an update: %v", err)
	}
	if got.Metadata.DeletionTimestamp == nil || got.Metadata.Labels["extra"] != "yes" {
		t.Fatalf("update lost: %v", got.Metadata)
	}
}
