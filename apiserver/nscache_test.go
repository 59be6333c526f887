package apiserver

import (
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func nsAt(name, rv string, terminating bool) *skiffv1.Namespace {
	ns := &skiffv1.Namespace{Metadata: &skiffv1.ObjectMeta{Name: name, ResourceVersion: rv}}
	if terminating {
		ns.Metadata.DeletionTimestamp = timestamppb.Now()
	}
	return ns
}

// Delete marks a namespace in the cache before the cache's own watch has
// started or caught up: that must neither panic nor be undone by an older
// event.
func TestNamespaceCacheKeepsNewestState(t *testing.T) {
	var c namespaceCache
	c.set(nsAt("team", "11", true), false)
	c.set(nsAt("team", "10", false), false) // the watch, behind
	if _, open := c.open("team"); open {
		t.Fatal("an older watch event reopened a terminating namespace")
	}
	c.set(nsAt("team", "12", false), true)
	if known, _ := c.open("team"); known {
		t.Fatal("a deleted namespace is still known")
	}
}
