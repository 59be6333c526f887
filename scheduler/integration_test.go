package scheduler_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
	"github.com/skiff-sh/skiff/scheduler"
)

// Tests here run the scheduler against a real API server (embedded etcd).
// They wait for conditions with generous deadlines and never assert timings.

const deadline = 60 * time.Second

type env struct {
	t   *testing.T
	srv *apitest.Server
	c   *client.Client
	ctx context.Context
	reg *prometheus.Registry
}

func logger() *slog.Logger {
	if os.Getenv("SKIFF_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// start runs an API server until the test ends; run starts the scheduler.
func start(t *testing.T) *env {
	t.Helper()
	srv := apitest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*deadline)
	t.Cleanup(cancel)
	return &env{t: t, srv: srv, c: srv.Client, ctx: ctx, reg: prometheus.NewRegistry()}
}

// run starts a scheduler. Tests register their nodes first: the node and pod
// watches are separate streams, and a scheduler that has not seen a node yet
// (it may lag by a moment, more under -race) cannot place pods there.
func (e *env) run() {
	t := e.t
	t.Helper()
	ctx, cancel := context.WithCancel(e.ctx)
	s, err := scheduler.New(scheduler.Config{
		Client: e.c, Logger: logger(), Metrics: e.reg,
		// Short back-offs keep the tests quick; the logic is the same.
		InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("scheduler.Run: %v", err)
		}
	})
}

type nodeOpt func(*skiffv1.Node)

func (e *env) node(name, cpu, mem, pods string, opts ...nodeOpt) {
	e.t.Helper()
	n := &skiffv1.Node{
		Metadata: &skiffv1.ObjectMeta{Name: name, Labels: map[string]string{}},
		Spec:     &skiffv1.NodeSpec{},
		Status: &skiffv1.NodeStatus{
			Capacity:    map[string]string{"cpu": cpu, "memory": mem, "pods": pods},
			Allocatable: map[string]string{"cpu": cpu, "memory": mem, "pods": pods},
			Conditions:  []*skiffv1.Condition{{Type: "Ready", Status: "True"}},
		},
	}
	for _, o := range opts {
		o(n)
	}
	got, err := e.c.Nodes().Create(e.ctx, n)
	if err != nil {
		e.t.Fatalf("create node %s: %v", name, err)
	}
	if len(got.GetStatus().GetAllocatable()) == 0 {
		got.Status = n.Status
		if _, err := e.c.Nodes().UpdateStatus(e.ctx, got); err != nil {
			e.t.Fatalf("node %s status: %v", name, err)
		}
	}
}

func taint(key, value, effect string) nodeOpt {
	return func(n *skiffv1.Node) {
		n.Spec.Taints = append(n.Spec.Taints, &skiffv1.Taint{Key: key, Value: value, Effect: effect})
	}
}

func unschedulable(n *skiffv1.Node) { n.Spec.Unschedulable = true }

type podOpt func(*skiffv1.Pod)

func newPod(name, cpu string, opts ...podOpt) *skiffv1.Pod {
	p := &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: &skiffv1.PodSpec{Containers: []*skiffv1.Container{{
			Name: "main", Image: "busybox:1",
			Resources: &skiffv1.ResourceRequirements{Requests: map[string]string{"cpu": cpu, "memory": "64Mi"}},
		}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func (e *env) pod(name, cpu string, opts ...podOpt) {
	e.t.Helper()
	if _, err := e.c.Pods().Create(e.ctx, newPod(name, cpu, opts...)); err != nil {
		e.t.Fatalf("create pod %s: %v", name, err)
	}
}

func toleration(key, op, value, effect string) podOpt {
	return func(p *skiffv1.Pod) {
		p.Spec.Tolerations = append(p.Spec.Tolerations, &skiffv1.Toleration{Key: key, Operator: op, Value: value, Effect: effect})
	}
}

// waitFor polls cond until it holds; on the deadline it fails with the last
// description cond gave.
func (e *env) waitFor(what string, cond func() (bool, string)) {
	e.t.Helper()
	end := time.Now().Add(deadline)
	for {
		ok, desc := cond()
		if ok {
			return
		}
		if time.Now().After(end) {
			e.t.Fatalf("waiting for %s: %s", what, desc)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) pods() []*skiffv1.Pod {
	e.t.Helper()
	items, _, err := e.c.Pods().List(e.ctx, client.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return items
}

func (e *env) getPod(name string) *skiffv1.Pod {
	e.t.Helper()
	p, err := e.c.Pods().Get(e.ctx, "default", name)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) waitBound(name, node string) {
	e.t.Helper()
	e.waitFor(name+" bound to "+node, func() (bool, string) {
		got := e.getPod(name).GetSpec().GetNodeName()
		return got == node, "on " + fmt.Sprintf("%q", got)
	})
}

func scheduledCondition(p *skiffv1.Pod) *skiffv1.Condition {
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == "PodScheduled" {
			return c
		}
	}
	return nil
}

func (e *env) waitUnschedulable(name, msg string) {
	e.t.Helper()
	e.waitFor(name+" unschedulable", func() (bool, string) {
		p := e.getPod(name)
		c := scheduledCondition(p)
		ok := c != nil && c.Status == "False" && c.Reason == "Unschedulable" && c.Message == msg
		// The node and the attempts tell a pod bound by mistake from one
		// the scheduler never tried.
		return ok, fmt.Sprintf("condition %v (node %q; attempts: %v scheduled, %v unschedulable), want message %q",
			c, p.GetSpec().GetNodeName(), e.attempts("scheduled"), e.attempts("unschedulable"), msg)
	})
}

func (e *env) failedEvents(name string) []*skiffv1.Event {
	e.t.Helper()
	evs, _, err := e.c.Events().List(e.ctx, client.ListOptions{Namespace: "default"})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []*skiffv1.Event
	for _, ev := range evs {
		if ev.GetInvolvedObject().GetName() == name && ev.GetReason() == "FailedScheduling" {
			out = append(out, ev)
		}
	}
	return out
}

// attempts reads skiff_scheduler_attempts_total{result}.
func (e *env) attempts(result string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "skiff_scheduler_attempts_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// Pods land only where they fit; the one that fits nowhere says exactly
// why, once as an event however often it is retried; removing the taint
// lets it in.
func TestIntegrationFitAndWhyNot(t *testing.T) {
	e := start(t)
	e.node("small", "1", "4Gi", "110")
	e.node("big", "4", "4Gi", "110")
	e.node("db", "8", "8Gi", "110", taint("dedicated", "db", "NoSchedule"))
	e.run()
	e.pod("a", "2")
	e.waitBound("a", "big")
	e.pod("b", "2")
	e.waitBound("b", "big")
	e.pod("c", "2")
	want := "0/3 nodes are available: 2 Insufficient cpu, 1 node(s) had untolerated taint {dedicated=db}."
	e.waitUnschedulable("c", want)

	// Node changes that may help retry the pod; the message stays the same,
	// so no second event.
	before := e.attempts("unschedulable")
	for i := range 3 {
		if _, err := e.c.Nodes().Modify(e.ctx, "", "small", func(n *skiffv1.Node) error {
			n.Metadata.Labels = map[string]string{"round": fmt.Sprint(i)}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		e.waitFor("a retry", func() (bool, string) {
			got := e.attempts("unschedulable")
			return got >= before+float64(i+1), fmt.Sprintf("%v unschedulable attempts", got)
		})
	}
	if evs := e.failedEvents("c"); len(evs) != 1 || evs[0].Message != want || evs[0].Type != "Warning" {
		t.Fatalf("want one FailedScheduling event, got %d: %v", len(evs), evs)
	}

	if _, err := e.c.Nodes().Modify(e.ctx, "", "db", func(n *skiffv1.Node) error {
		n.Spec.Taints = nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.waitBound("c", "db")
	if c := scheduledCondition(e.getPod("c")); c == nil || c.Status != "True" {
		t.Fatalf("bound pod's condition: %v", c)
	}
	if evs := e.failedEvents("c"); len(evs) != 1 {
		t.Fatalf("%d FailedScheduling events after binding", len(evs))
	}

	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, mf := range mfs {
		have[mf.GetName()] = true
	}
	for _, name := range []string{
		"skiff_scheduler_attempts_total", "skiff_scheduler_scheduling_duration_seconds",
		"skiff_scheduler_pending_pods", "skiff_scheduler_bind_duration_seconds",
		"skiff_scheduler_unschedulable_reasons_total",
	} {
		if !have[name] {
			t.Errorf("metric %s not exported", name)
		}
	}
	// The bind is counted after the API server has it.
	e.waitFor("3 scheduled attempts counted", func() (bool, string) {
		n := e.attempts("scheduled")
		return n >= 3, fmt.Sprintf("%v", n)
	})
	if e.attempts("scheduled") != 3 {
		t.Errorf("scheduled attempts %v, want 3", e.attempts("scheduled"))
	}
}

// 100 pods race for a node with room for 10: exactly 10 are bound, the rest
// wait with the reason, and the node is never overcommitted.
func TestIntegrationRaceNeverOvercommits(t *testing.T) {
	e := start(t)
	e.node("n1", "10", "64Gi", "110")
	e.run()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.c.Pods().Create(e.ctx, newPod(fmt.Sprintf("p%03d", i), "1")); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := "0/1 nodes are available: 1 Insufficient cpu."
	e.waitFor("10 bound and 90 unschedulable", func() (bool, string) {
		bound, waiting := 0, 0
		for _, p := range e.pods() {
			if p.Spec.NodeName != "" {
				bound++
			} else if c := scheduledCondition(p); c != nil && c.Message == want {
				waiting++
			}
		}
		if bound > 10 {
			t.Fatalf("node overcommitted: %d pods bound", bound)
		}
		return bound == 10 && waiting == 90, fmt.Sprintf("%d bound, %d unschedulable", bound, waiting)
	})
	// Free room: delete two bound pods; exactly two more get in.
	var gone []string
	for _, p := range e.pods() {
		if p.Spec.NodeName != "" && len(gone) < 2 {
			if _, _, err := e.c.Pods().Delete(e.ctx, "default", p.Metadata.Name, client.DeleteOptions{Force: true}); err != nil {
				t.Fatal(err)
			}
			gone = append(gone, p.Metadata.Name)
		}
	}
	e.waitFor("two more bound", func() (bool, string) {
		bound := 0
		for _, p := range e.pods() {
			if p.Spec.NodeName != "" {
				bound++
			}
		}
		if bound > 10 {
			t.Fatalf("node overcommitted: %d pods bound", bound)
		}
		return bound == 10 && len(e.pods()) == 98, fmt.Sprintf("%d bound", bound)
	})
}

// The nine pods of one owner spread 3/3/3 over three equal nodes.
func TestIntegrationSpreadByOwner(t *testing.T) {
	e := start(t)
	for _, n := range []string{"n1", "n2", "n3"} {
		e.node(n, "8", "16Gi", "110")
	}
	e.run()
	for i := range 9 {
		e.pod(fmt.Sprintf("web-%d", i), "100m", func(p *skiffv1.Pod) {
			p.Metadata.OwnerReferences = []*skiffv1.OwnerReference{{Kind: "ReplicaSet", Name: "web", Uid: "rs-web-uid", Controller: true}}
		})
	}
	e.waitFor("3/3/3", func() (bool, string) {
		count := map[string]int{}
		for _, p := range e.pods() {
			count[p.Spec.NodeName]++
		}
		return count["n1"] == 3 && count["n2"] == 3 && count["n3"] == 3, fmt.Sprint(count)
	})
}

// Cordoned nodes and untolerated taints keep pods off; tolerations and
// uncordoning let them on.
func TestIntegrationCordonTaintsTolerations(t *testing.T) {
	e := start(t)
	e.node("a", "4", "8Gi", "110", unschedulable)
	e.node("b", "4", "8Gi", "110", taint("gpu", "", "NoExecute"))
	e.run()
	e.pod("plain", "1")
	e.waitUnschedulable("plain", "0/2 nodes are available: 1 node(s) had untolerated taint {gpu}, 1 node(s) were unschedulable.")
	e.pod("tolerant", "1", toleration("gpu", "Exists", "", "NoExecute"))
	e.waitBound("tolerant", "b")
	e.pod("wrong-effect", "1", toleration("gpu", "Exists", "", "NoSchedule"))
	e.waitUnschedulable("wrong-effect", "0/2 nodes are available: 1 node(s) had untolerated taint {gpu}, 1 node(s) were unschedulable.")

	if _, err := e.c.Nodes().Modify(e.ctx, "", "a", func(n *skiffv1.Node) error {
		n.Spec.Unschedulable = false
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.waitBound("plain", "a")
	e.waitBound("wrong-effect", "a")
}

// Not-ready nodes, node selectors and host ports.
func TestIntegrationSelectorsPortsReadiness(t *testing.T) {
	e := start(t)
	e.node("down", "4", "8Gi", "110", func(n *skiffv1.Node) { n.Status.Conditions[0].Status = "False" })
	e.node("ssd", "4", "8Gi", "110", func(n *skiffv1.Node) { n.Metadata.Labels["disk"] = "ssd" })
	e.node("hdd", "4", "8Gi", "110", func(n *skiffv1.Node) { n.Metadata.Labels["disk"] = "hdd" })
	withPort := func(p *skiffv1.Pod) {
		p.Spec.Containers[0].Ports = []*skiffv1.ContainerPort{{ContainerPort: 80, HostPort: 8080}}
	}
	e.run()
	e.pod("fast", "100m", func(p *skiffv1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "ssd"} })
	e.waitBound("fast", "ssd")
	e.pod("web1", "100m", withPort)
	e.pod("web2", "100m", withPort)
	e.pod("web3", "100m", withPort)
	e.waitFor("two web pods bound on different nodes", func() (bool, string) {
		nodes := []string{}
		for _, n := range []string{"web1", "web2", "web3"} {
			if nn := e.getPod(n).Spec.NodeName; nn != "" {
				nodes = append(nodes, nn)
			}
		}
		sort.Strings(nodes)
		return strings.Join(nodes, ",") == "hdd,ssd", fmt.Sprint(nodes)
	})
	var third string
	for _, n := range []string{"web1", "web2", "web3"} {
		if e.getPod(n).Spec.NodeName == "" {
			third = n
		}
	}
	e.waitUnschedulable(third, "0/3 nodes are available: 2 node(s) didn't have free ports for the requested pod ports, 1 node(s) were not ready.")
	// The node becomes ready: the third web pod goes there.
	if _, err := e.c.Nodes().ModifyStatus(e.ctx, "", "down", func(n *skiffv1.Node) error {
		n.Status.Conditions[0].Status = "True"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.waitBound(third, "down")
}

// A local volume pins its pods to its node; an unpinned one is pinned by its
// first pod; a ReadWriteOnce volume keeps its users together.
func TestIntegrationVolumes(t *testing.T) {
	e := start(t)
	for _, n := range []string{"n1", "n2", "n3"} {
		e.node(n, "4", "8Gi", "110")
	}
	vol := func(name, mode string, local *skiffv1.LocalVolumeSource) {
		v := &skiffv1.Volume{Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: "default"}, Spec: &skiffv1.VolumeSpec{AccessMode: mode, Capacity: "1Gi"}}
		if local != nil {
			v.Spec.Local = local
		} else {
			v.Spec.HostPath = &skiffv1.HostPathSource{Path: "/srv/" + name}
		}
		if _, err := e.c.Volumes().Create(e.ctx, v); err != nil {
			t.Fatalf("create volume %s: %v", name, err)
		}
	}
	using := func(name string) podOpt {
		return func(p *skiffv1.Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes, &skiffv1.PodVolume{Name: "data", Volume: &skiffv1.VolumeClaimSource{Name: name}})
			p.Spec.Containers[0].VolumeMounts = []*skiffv1.VolumeMount{{Name: "data", MountPath: "/data"}}
		}
	}
	e.run()
	vol("pinned", "ReadWriteOnce", &skiffv1.LocalVolumeSource{NodeName: "n2"})
	e.pod("p1", "100m", using("pinned"))
	e.waitBound("p1", "n2")

	vol("fresh", "ReadWriteOnce", &skiffv1.LocalVolumeSource{})
	e.pod("f1", "100m", using("fresh"))
	e.waitFor("f1 bound", func() (bool, string) { return e.getPod("f1").Spec.NodeName != "", "pending" })
	home := e.getPod("f1").Spec.NodeName
	v, err := e.c.Volumes().Get(e.ctx, "default", "fresh")
	if err != nil || v.Spec.Local.NodeName != home {
		t.Fatalf("local volume not pinned to %s: %v %v", home, v, err)
	}
	e.pod("f2", "100m", using("fresh"))
	e.waitBound("f2", home)

	vol("shared", "ReadWriteOnce", nil)
	e.pod("s1", "100m", using("shared"))
	e.waitFor("s1 bound", func() (bool, string) { return e.getPod("s1").Spec.NodeName != "", "pending" })
	e.pod("s2", "100m", using("shared"))
	e.waitBound("s2", e.getPod("s1").Spec.NodeName)

	e.pod("lost", "100m", using("nope"))
	e.waitUnschedulable("lost", `0/3 nodes are available: volume "nope" not found.`)
	vol("nope", "ReadWriteMany", nil)
	e.waitFor("lost bound once its volume exists", func() (bool, string) { return e.getPod("lost").Spec.NodeName != "", "pending" })
}
