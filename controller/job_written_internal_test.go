package controller

import (
	"testing"
	"time"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A Job cache that has not yet shown the controller's last status write
// must not be synced from: it would count a released pod as never seen.
func TestWrittenStatusesHoldBackAStaleJob(t *testing.T) {
	w := newWrittenStatuses()
	stale := &skiffv1.Job{Status: &skiffv1.JobStatus{Active: 3}}
	if !w.caughtUp("default/q", stale.GetStatus()) {
		t.Fatal("a Job never written to is held back")
	}
	written := &skiffv1.JobStatus{Active: 2, UncountedTerminatedPods: &skiffv1.UncountedTerminatedPods{Succeeded: []string{"a"}}}
	w.wrote("default/q", written)
	if w.caughtUp("default/q", stale.GetStatus()) {
		t.Fatal("a Job cached before the last status write is synced from")
	}
	if !w.caughtUp("default/other", stale.GetStatus()) {
		t.Fatal("another Job is held back")
	}
	if !w.caughtUp("default/q", &skiffv1.JobStatus{Active: 2, UncountedTerminatedPods: &skiffv1.UncountedTerminatedPods{Succeeded: []string{"a"}}}) {
		t.Fatal("a Job showing the written status is held back")
	}
	if !w.caughtUp("default/q", stale.GetStatus()) {
		t.Fatal("once caught up, the Job is still held back")
	}

	w.wrote("default/q", written)
	w.timeout = time.Nanosecond
	time.Sleep(time.Millisecond)
	if !w.caughtUp("default/q", stale.GetStatus()) {
		t.Fatal("a write never shown holds the Job back past the timeout")
	}
	w.wrote("default/q", written)
	w.forget("default/q")
	if !w.caughtUp("default/q", stale.GetStatus()) {
		t.Fatal("a deleted Job's write still holds back its successor")
	}
}
