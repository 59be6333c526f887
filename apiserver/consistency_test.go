package apiserver_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// 8 writers each add 1 ten times with read-modify-write and retry on
// conflict: no increment may be lost. (Each success costs about as many
// conflicts as there are writers; more writers only make the test slow,
// above all under -race.)
func TestConcurrentIncrementsAreExact(t *testing.T) {
	s := apitest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := &skiffv1.Namespace{Metadata: &skiffv1.ObjectMeta{Name: "counter", Annotations: map[string]string{"n": "0"}}}
	if _, err := s.Client.Namespaces().Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				_, err := s.Client.Namespaces().Modify(ctx, "", "counter", func(n *skiffv1.Namespace) error {
					v, _ := strconv.Atoi(n.Metadata.Annotations["n"])
					n.Metadata.Annotations["n"] = strconv.Itoa(v + 1)
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := s.Client.Namespaces().Get(ctx, "", "counter")
	if err != nil {
		t.Fatal(err)
	}
	if n := got.Metadata.Annotations["n"]; n != strconv.Itoa(writers*each) {
		t.Fatalf("counter = %s, want %d", n, writers*each)
	}
}

type seen struct {
	typ  skiffv1.WatchEvent_Type
	name string
	rv   string
}

// A watch started from any past revision yields exactly the events after
// it, in order.
func TestWatchResumesFromEveryRevision(t *testing.T) {
	s := apitest.Start(t)
	ctx := ctxT(t)
	pods := s.Client.Pods()
	_, start, err := pods.List(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A history of creates, updates and deletes.
	var history []seen
	for i := 0; i < 6; i++ {
		p, err := pods.Create(ctx, pod(fmt.Sprintf("p%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		history = append(history, seen{skiffv1.WatchEvent_ADDED, p.Metadata.Name, p.Metadata.ResourceVersion})
		if i%2 == 0 {
			p.Metadata.Labels["round"] = "2"
			p, err = pods.Update(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			history = append(history, seen{skiffv1.WatchEvent_MODIFIED, p.Metadata.Name, p.Metadata.ResourceVersion})
		}
		if i%3 == 0 {
			gone, deleted, err := pods.Delete(ctx, "default", p.Metadata.Name, client.DeleteOptions{})
			if err != nil || !deleted {
				t.Fatalf("delete: %v %v", deleted, err)
			}
			history = append(history, seen{skiffv1.WatchEvent_DELETED, gone.Metadata.Name, gone.Metadata.ResourceVersion})
		}
	}
	from := append([]string{start}, func() []string {
		var rvs []string
		for _, h := range history {
			rvs = append(rvs, h.rv)
		}
		return rvs
	}()...)
	for i, rv := range from {
		want := history[i:]
		w, err := pods.Watch(ctx, client.ListOptions{}, rv)
		if err != nil {
			t.Fatal(err)
		}
		for j, h := range want {
			ev, err := w.Next()
			if err != nil {
				t.Fatalf("from %s: event %d: %v", rv, j, err)
			}
			got := seen{ev.Type, ev.Object.GetMetadata().GetName(), ev.ResourceVersion}
			if got != h {
				t.Fatalf("from %s: event %d = %+v, want %+v", rv, j, got, h)
			}
		}
		w.Stop()
	}
}

// A selector turns objects entering and leaving the selection into ADDED and
// DELETED events: the node agent's view of "pods on my node".
func TestWatchWithFieldSelectorSeesBinding(t *testing.T) {
	s := apitest.Start(t)
	ctx := ctxT(t)
	if _, err := s.Client.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "n1"}}); err != nil {
		t.Fatal(err)
	}
	// From a listed revision: a watch from "now" starts when the server
	// gets to it, which may be after the writes below.
	onN1 := client.ListOptions{FieldSelector: "spec.nodeName=n1"}
	_, rv, err := s.Client.Pods().List(ctx, onN1)
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Client.Pods().Watch(ctx, onN1, rv)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := s.Client.Pods().Create(ctx, pod("web")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client.Bind(ctx, "default", "web", "n1", "", ""); err != nil {
		t.Fatal(err)
	}
	ev, err := w.Next()
	if err != nil || ev.Type != skiffv1.WatchEvent_ADDED || ev.Object.Spec.NodeName != "n1" {
		t.Fatalf("after bind: %v %v", ev, err)
	}
	if _, _, err := s.Client.Pods().Delete(ctx, "default", "web", client.DeleteOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	ev, err = w.Next()
	if err != nil || ev.Type != skiffv1.WatchEvent_DELETED {
		t.Fatalf("after delete: %v %v", ev, err)
	}
}

func TestWatchOfCompactedRevisionIsOutOfRange(t *testing.T) {
	s := apitest.Start(t)
	ctx := ctxT(t)
	first, err := s.Client.Pods().Create(ctx, pod("a"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client.Pods().Create(ctx, pod("b")); err != nil {
		t.Fatal(err)
	}
	last, err := s.Client.Pods().Create(ctx, pod("c"))
	if err != nil {
		t.Fatal(err)
	}
	rev, _ := strconv.ParseInt(last.Metadata.ResourceVersion, 10, 64)
	if err := s.Compact(ctx, rev); err != nil {
		t.Fatal(err)
	}
	w, err := s.Client.Pods().Watch(ctx, client.ListOptions{}, first.Metadata.ResourceVersion)
	if err == nil {
		_, err = w.Next()
	}
	wantCode(t, err, codes.OutOfRange, "list again")
}

func TestGracefulPodDeletion(t *testing.T) {
	s := apitest.Start(t)
	ctx := ctxT(t)
	if _, err := s.Client.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "n1"}}); err != nil {
		t.Fatal(err)
	}
	// Unscheduled: goes at once.
	if _, err := s.Client.Pods().Create(ctx, pod("pending")); err != nil {
		t.Fatal(err)
	}
	if _, deleted, err := s.Client.Pods().Delete(ctx, "default", "pending", client.DeleteOptions{}); err != nil || !deleted {
		t.Fatalf("unscheduled pod: deleted=%v err=%v", deleted, err)
	}
	// Bound: marked, then confirmed by the node with a forced delete.
	p := pod("web")
	grace := int64(7)
	p.Spec.TerminationGracePeriodSeconds = &grace
	if _, err := s.Client.Pods().Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client.Bind(ctx, "default", "web", "n1", "", ""); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	marked, deleted, err := s.Client.Pods().Delete(ctx, "default", "web", client.DeleteOptions{})
	after := time.Now()
	if err != nil || deleted {
		t.Fatalf("bound pod: deleted=%v err=%v", deleted, err)
	}
	m := marked.Metadata
	if m.DeletionTimestamp == nil || m.DeletionGracePeriodSeconds != 7 {
		t.Fatalf("not marked: %v", m)
	}
	// The grace period from some moment during the request (a second of
	// room for timestamps kept to whole seconds), however long it took.
	at := m.DeletionTimestamp.AsTime()
	if earliest, latest := before.Add(6*time.Second), after.Add(8*time.Second); at.Before(earliest) || at.After(latest) {
		t.Fatalf("deletion timestamp %v, want the 7s grace period after the request: between %v and %v", at, earliest, latest)
	}
	// A second delete with a shorter grace period shortens it.
	zero := int64(1)
	again, _, err := s.Client.Pods().Delete(ctx, "default", "web", client.DeleteOptions{GracePeriodSeconds: &zero})
	if err != nil || again.Metadata.DeletionGracePeriodSeconds != 1 {
		t.Fatalf("shorter grace: %v %v", again.GetMetadata(), err)
	}
	if _, err := s.Client.Pods().Get(ctx, "default", "web"); err != nil {
		t.Fatalf("a terminating pod is still readable: %v", err)
	}
	// Binding a terminating pod elsewhere is refused.
	if _, deleted, err := s.Client.Pods().Delete(ctx, "default", "web", client.DeleteOptions{Force: true}); err != nil || !deleted {
		t.Fatalf("confirm: deleted=%v err=%v", deleted, err)
	}
	_, err = s.Client.Pods().Get(ctx, "default", "web")
	wantCode(t, err, codes.NotFound, "")
}

func TestFinalizersHoldDeletion(t *testing.T) {
	s := apitest.Start(t)
	ctx := ctxT(t)
	v := &skiffv1.Volume{Metadata: &skiffv1.ObjectMeta{Name: "data", Finalizers: []string{"skiff.io/volume-cleanup"}}}
	if _, err := s.Client.Volumes().Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	marked, deleted, err := s.Client.Volumes().Delete(ctx, "default", "data", client.DeleteOptions{})
	if err != nil || deleted || marked.Metadata.DeletionTimestamp == nil {
		t.Fatalf("delete with finalizer: %v %v", deleted, err)
	}
	marked.Metadata.Finalizers = nil
	if _, err := s.Client.Volumes().Update(ctx, marked); err != nil {
		t.Fatal(err)
	}
	_, err = s.Client.Volumes().Get(ctx, "default", "data")
	wantCode(t, err, codes.NotFound, "")
}

func TestNamespaceDeletionCascades(t *testing.T) {
	s := apitest.Start(t)
	ctx := ctxT(t)
	if _, err := s.Client.Namespaces().Create(ctx, &skiffv1.Namespace{Metadata: &skiffv1.ObjectMeta{Name: "team"}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		p := pod(fmt.Sprintf("p%d", i))
		p.Metadata.Namespace = "team"
		if _, err := s.Client.Pods().Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	svc := &skiffv1.Service{Metadata: &skiffv1.ObjectMeta{Name: "web", Namespace: "team"}, Spec: &skiffv1.ServiceSpec{Ports: []*skiffv1.ServicePort{{Port: 80}}}}
	if _, err := s.Client.Services().Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	// A pod in another namespace must survive.
	if _, err := s.Client.Pods().Create(ctx, pod("keep")); err != nil {
		t.Fatal(err)
	}
	ns, deleted, err := s.Client.Namespaces().Delete(ctx, "", "team", client.DeleteOptions{})
	if err != nil || deleted || ns.Status.GetPhase() != "Terminating" {
		t.Fatalf("namespace delete: %v %v %v", ns.GetStatus(), deleted, err)
	}
	p := pod("late")
	p.Metadata.Namespace = "team"
	_, err = s.Client.Pods().Create(ctx, p)
	if err != nil && !strings.Contains(err.Error(), "being deleted") && !client.IsNotFound(err) {
		t.Fatalf("create in terminating namespace: %v", err)
	}
	if err == nil {
		t.Fatal("create in a terminating namespace succeeded")
	}
	waitFor(t, func() bool {
		_, err := s.Client.Namespaces().Get(ctx, "", "team")
		return client.IsNotFound(err)
	})
	left, _, err := s.Client.Pods().List(ctx, client.ListOptions{Namespace: "team"})
	if err != nil || len(left) != 0 {
		t.Fatalf("pods left in deleted namespace: %d %v", len(left), err)
	}
	if _, err := s.Client.Pods().Get(ctx, "default", "keep"); err != nil {
		t.Fatalf("pod in another namespace: %v", err)
	}
}

func TestEventsExpire(t *testing.T) {
	s := apitest.Start(t, func(c *apiserver.Config) { c.EventTTL = 2 * time.Second })
	ctx := ctxT(t)
	ev := &skiffv1.Event{
		Metadata:       &skiffv1.ObjectMeta{Name: "web.1"},
		InvolvedObject: &skiffv1.ObjectReference{Kind: "Pod", Name: "web", Namespace: "default"},
		Reason:         "Scheduled", Message: "placed on n1",
	}
	if _, err := s.Client.Events().Create(ctx, ev); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, err := s.Client.Events().Get(ctx, "default", "web.1")
		return client.IsNotFound(err)
	})
}

func TestObjectsOverOneMebibyteAreRefused(t *testing.T) {
	s := apitest.Start(t)
	ctx := ctxT(t)
	p := pod("huge")
	p.Metadata.Annotations = map[string]string{"blob": strings.Repeat("x", 1<<20)}
	_, err := s.Client.Pods().Create(ctx, p)
	wantCode(t, err, codes.InvalidArgument, "the limit is 1048576 (1 MiB)")
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestFinalizersOutlastForceAndNamespaceDeletion(t *testing.T) {
	s := apitest.Start(t)
	ctx := ctxT(t)
	// --force skips grace periods, not finalizers.
	v := &skiffv1.Volume{Metadata: &skiffv1.ObjectMeta{Name: "data", Finalizers: []string{"skiff.io/cleanup"}}}
	if _, err := s.Client.Volumes().Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	marked, deleted, err := s.Client.Volumes().Delete(ctx, "default", "data", client.DeleteOptions{Force: true})
	if err != nil || deleted || marked.Metadata.DeletionTimestamp == nil {
		t.Fatalf("forced delete of an object with a finalizer: deleted=%v err=%v", deleted, err)
	}
	// A namespace's own finalizer holds it after its contents are gone.
	ns := &skiffv1.Namespace{Metadata: &skiffv1.ObjectMeta{Name: "held", Finalizers: []string{"example.com/hold"}}}
	if _, err := s.Client.Namespaces().Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Client.Namespaces().Delete(ctx, "", "held", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // more than one round of the namespace finalizer
	got, err := s.Client.Namespaces().Get(ctx, "", "held")
	if err != nil || got.Status.GetPhase() != "Terminating" {
		t.Fatalf("held namespace: %v %v", got.GetStatus(), err)
	}
	got.Metadata.Finalizers = nil
	if _, err := s.Client.Namespaces().Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, err := s.Client.Namespaces().Get(ctx, "", "held")
		return client.IsNotFound(err)
	})
}

func TestPodCIDRCannotBeSetByUpdate(t *testing.T) {
	s := apitest.Start(t, func(c *apiserver.Config) { c.ClusterCIDR = "10.99.0.0/23" }) // two /24s
	ctx := ctxT(t)
	for _, n := range []string{"a", "b", "c"} {
		if _, err := s.Client.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: n}}); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := s.Client.Nodes().Get(ctx, "", "c")
	if c.Spec.GetPodCidr() != "" {
		t.Fatalf("third node got %q from a /23 of two blocks", c.Spec.PodCidr)
	}
	c.Spec.PodCidr = "10.99.0.0/24" // node a's
	_, err := s.Client.Nodes().Update(ctx, c)
	wantCode(t, err, codes.InvalidArgument, "spec.podCIDR")
}

// A client that reads what a watch just told it of finds it, at that
// version, and may update it with that version (see the storage test of
// the same name for why a single member's reads might not).
func TestReadAfterWatchSeesTheWrite(t *testing.T) {
	s := apitest.Start(t)
	ctx := ctxT(t)
	cms := s.Client.ConfigMaps()
	_, start, err := cms.List(ctx, client.ListOptions{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	w, err := cms.Watch(ctx, client.ListOptions{Namespace: "default"}, start)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	const writers, each = 4, 50
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				cm := &skiffv1.ConfigMap{Metadata: &skiffv1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("w%d-%d", i, j)}}
				if _, err := cms.Create(ctx, cm); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	defer wg.Wait()
	for added := 0; added < writers*each; {
		ev, err := w.Next()
		if err != nil {
			t.Fatal(err)
		}
		cm := ev.Object
		got, err := cms.Get(ctx, "default", cm.Metadata.Name)
		if err != nil {
			t.Fatalf("get of %s just after its watch event (revision %s): %v", cm.Metadata.Name, ev.ResourceVersion, err)
		}
		if got.Metadata.ResourceVersion != ev.ResourceVersion {
			t.Fatalf("get of %s just after its watch event: revision %s, want %s", cm.Metadata.Name, got.Metadata.ResourceVersion, ev.ResourceVersion)
		}
		if ev.Type != skiffv1.WatchEvent_ADDED {
			continue
		}
		added++
		cm.Data = map[string]string{"seen": "yes"}
		if _, err := cms.Update(ctx, cm); err != nil {
			t.Fatalf("update of %s at the revision its watch event gave: %v", cm.Metadata.Name, err)
		}
	}
}
