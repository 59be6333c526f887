package leader_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/internal/etcdtest"
)

// A candidate still campaigning when etcd goes away (a server stopping its
// embedded etcd before its components) ends when its context does: the
// campaign's resign runs on the client's own context, which only closing
// the client ends.
func TestCampaignEndsWhenEtcdIsGone(t *testing.T) {
	e, stopEtcd := etcdtest.Start(t)
	endpoints := []string{etcdtest.Endpoint(e)}

	var active, most atomic.Int32
	first := startCandidate(t, endpoints, "first", &active, &most)
	waitFor(t, "first leads", first.leading.Load)
	second := startCandidate(t, endpoints, "second", &active, &most)
	time.Sleep(200 * time.Millisecond) // let the second campaign start waiting

	stopEtcd()
	second.stop(t) // fails the test if Run does not return within the deadline
	first.stop(t)
	if second.terms.Load() != 0 {
		t.Errorf("the second candidate led while the first did")
	}
}
