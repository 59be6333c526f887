package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// seed makes a node, two pods bound to it (one crash-looping) and a
// warning event about it, through the API.
func seed(t testing.TB, e *env) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := e.api.Client
	node, err := c.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "n1"}, Spec: &skiffv1.NodeSpec{
		Taints: []*skiffv1.Taint{{Key: "dedicated", Value: "web", Effect: "NoSchedule"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	node.Status = &skiffv1.NodeStatus{
		Allocatable: map[string]string{"cpu": "2", "memory": "4Gi"},
		Conditions:  []*skiffv1.Condition{{Type: skiffv1.NodeReady, Status: skiffv1.ConditionTrue}},
	}
	if _, err := c.Nodes().UpdateStatus(ctx, node); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		name, app, cpu, mem string
		crash               bool
	}{{"web-1", "web", "500m", "256Mi", false}, {"db-1", "db", "250m", "1Gi", true}} {
		pod, err := c.Pods().Create(ctx, &skiffv1.Pod{Metadata: meta("default", p.name, map[string]string{"app": p.app}), Spec: &skiffv1.PodSpec{
			Containers: []*skiffv1.Container{{Name: "c", Image: "demo:latest", Resources: &skiffv1.ResourceRequirements{Requests: map[string]string{"cpu": p.cpu, "memory": p.mem}}}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Bind(ctx, "default", p.name, "n1", pod.GetMetadata().GetUid(), ""); err != nil {
			t.Fatal(err)
		}
		if p.crash {
			if _, err := c.Pods().ModifyStatus(ctx, "default", p.name, func(pod *skiffv1.Pod) error {
				pod.Status.Phase = skiffv1.PodRunning
				pod.Status.ContainerStatuses = []*skiffv1.ContainerStatus{{Name: "c", RestartCount: 4, State: &skiffv1.ContainerState{
					Waiting: &skiffv1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 40s restarting failed container"}}}}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The node's agent reports what its pods use.
	n1 := e.api.ClientAs(t, pki.NodeIdentity("n1"))
	if _, err := skiffv1.NewUsageClient(n1.Conn()).Report(ctx, &skiffv1.UsageReport{Node: "n1", Time: timestamppb.Now(),
		NodeUsage: &skiffv1.ResourceUsage{CpuCores: 0.4, MemoryWorkingSetBytes: 600 << 20}}); err != nil {
		t.Fatal(err)
	}
	now := timestamppb.New(time.Now())
	if _, err := c.Events().Create(ctx, &skiffv1.Event{Metadata: meta("default", "db-1.crash", nil), Type: "Warning", Reason: "BackOff",
		Message: "Back-off restarting failed container c", Count: 4, LastTimestamp: now, FirstTimestamp: now,
		InvolvedObject: &skiffv1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "db-1"}}); err != nil {
		t.Fatal(err)
	}
}

func TestOverviewJSON(t *testing.T) {
	e := startEnv(t)
	seed(t, e)
	b := e.browser(t)
	b.login(e.token(t, pki.UsageDashboardView, time.Minute))
	var o overviewJSON
	b.getJSON("/api/overview", &o)
	if len(o.Nodes) != 1 {
		t.Fatalf("nodes %+v", o.Nodes)
	}
	n := o.Nodes[0]
	if n.Name != "n1" || n.Ready != "True" || n.Pods != 2 || len(n.Taints) != 1 {
		t.Errorf("node %+v", n)
	}
	if n.CPU.Allocatable != 2000 || n.CPU.Requested != 750 || n.Memory.Allocatable != 4<<30 || n.Memory.Requested != 256<<20+1<<30 {
		t.Errorf("node resources cpu %+v memory %+v", n.CPU, n.Memory)
	}
	if n.CPU.Used == nil || *n.CPU.Used != 400 || n.Memory.Used == nil || *n.Memory.Used != 600<<20 {
		t.Errorf("used cpu %v memory %v, want the agent's report (400m, 600Mi)", n.CPU.Used, n.Memory.Used)
	}
	if o.PodPhases["Pending"] != 1 || o.PodPhases["Running"] != 1 || o.CrashLoops != 1 {
		t.Errorf("pod phases %v, crash-looping %d", o.PodPhases, o.CrashLoops)
	}
	if len(o.Warnings) != 1 || !strings.Contains(string(o.Warnings[0]), "BackOff") {
		t.Errorf("warnings %s", o.Warnings)
	}
	if o.Counts["pods"] != 2 || o.Counts["nodes"] != 1 {
		t.Errorf("counts %v", o.Counts)
	}
	if _, ok := o.Counts["secrets"]; ok {
		t.Errorf("the overview counts secrets: %v", o.Counts)
	}
}

func TestListsFilterAndPodDetail(t *testing.T) {
	e := startEnv(t)
	seed(t, e)
	b := e.browser(t)
	b.login(e.token(t, pki.UsageDashboardView, time.Minute))
	names := func(path string) []string {
		var l struct {
			Items []struct {
				Metadata struct{ Name string } `json:"metadata"`
			} `json:"items"`
		}
		b.getJSON(path, &l)
		var out []string
		for _, it := range l.Items {
			out = append(out, it.Metadata.Name)
		}
		return out
	}
	for path, want := range map[string]string{
		"/api/list/pods":                           "db-1,web-1",
		"/api/list/pods?labelSelector=app%3Dweb":   "web-1",
		"/api/list/pods?labelSelector=app+in+(db)": "db-1",
		"/api/list/pods?namespace=other":           "",
		"/api/list/nodes":                          "n1",
	} {
		if got := strings.Join(names(path), ","); got != want {
			t.Errorf("%s: %q, want %q", path, got, want)
		}
	}
	if resp, body := b.do("GET", "/api/list/secrets", "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("secrets listed: %s %s", resp.Status, body)
	}
	if resp, body := b.do("GET", "/api/list/pods?labelSelector=a%3D%3D%3D", "", nil); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "labelSelector") {
		t.Errorf("bad selector: %s %s", resp.Status, body)
	}
	var d struct {
		Pod struct {
			Status struct {
				ContainerStatuses []struct {
					RestartCount int
					State        struct{ Waiting struct{ Reason string } }
				}
			}
		}
		Events []json.RawMessage
	}
	b.getJSON("/api/pods/default/db-1", &d)
	if len(d.Pod.Status.ContainerStatuses) != 1 || d.Pod.Status.ContainerStatuses[0].State.Waiting.Reason != "CrashLoopBackOff" || len(d.Events) != 1 {
		t.Fatalf("pod detail %+v", d)
	}
	if resp, _ := b.do("GET", "/api/pods/default/nope", "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("missing pod: %s", resp.Status)
	}
	var kinds []kindJSON
	b.getJSON("/api/kinds", &kinds)
	if len(kinds) != len(shownKinds()) || len(kinds) < 10 {
		t.Errorf("kinds %v", kinds)
	}
}

// The watch stream tells the page about a change within moments, from the
// API server's watch.
func TestWatchStreamsChanges(t *testing.T) {
	e := startEnv(t)
	b := e.browser(t)
	b.login(e.token(t, pki.UsageDashboardView, time.Minute))
	s := b.stream("/api/watch?kinds=deployments")
	if ev, _, err := s.next(); err != nil || ev != "ready" {
		t.Fatalf("first event %q, %v; want ready", ev, err)
	}
	ctx := testCtx(t)
	if _, err := e.api.Client.Pods().Create(ctx, &skiffv1.Pod{Metadata: meta("default", "ignored", nil), Spec: &skiffv1.PodSpec{Containers: []*skiffv1.Container{{Name: "c", Image: "x"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.api.Client.Deployments().Create(ctx, deployment("api", 2)); err != nil {
		t.Fatal(err)
	}
	got := make(chan change, 1)
	go func() {
		for {
			ev, data, err := s.next()
			if err != nil {
				close(got)
				return
			}
			var c change
			if ev == "change" && json.Unmarshal([]byte(data), &c) == nil {
				got <- c
				return
			}
		}
	}()
	select {
	case c, ok := <-got:
		if !ok || c.Kind != "deployments" || c.Name != "api" || c.Type != "ADDED" {
			t.Fatalf("change %+v (stream open %v), want deployments/api ADDED and no pods", c, ok)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no change event within 30s")
	}
}

// Autoscaler history records the status the watch delivers.
func TestAutoscalerHistory(t *testing.T) {
	e := startEnv(t)
	ctx := testCtx(t)
	b := e.browser(t)
	b.login(e.token(t, pki.UsageDashboardView, time.Minute))
	var o overviewJSON
	b.getJSON("/api/overview", &o) // starts the cache
	as, err := e.api.Client.Autoscalers().Create(ctx, &skiffv1.Autoscaler{Metadata: meta("default", "web", nil), Spec: &skiffv1.AutoscalerSpec{Target: "web", MaxReplicas: 5, TargetCpuUtilizationPercent: ptr(int32(50))}})
	if err != nil {
		t.Fatal(err)
	}
	as.Status = &skiffv1.AutoscalerStatus{CurrentReplicas: 1, DesiredReplicas: 3, CurrentCpuUtilizationPercent: ptr(int32(140))}
	if _, err := e.api.Client.Autoscalers().UpdateStatus(ctx, as); err != nil {
		t.Fatal(err)
	}
	// The cache learns of the autoscaler from its watch: until then the
	// history is 404, as for any autoscaler it does not know.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var h struct{ Samples []sample }
		resp, body := b.do("GET", "/api/autoscalers/default/web/history", "", nil)
		switch resp.StatusCode {
		case http.StatusOK:
			if err := json.Unmarshal([]byte(body), &h); err != nil {
				t.Fatalf("history: %v in %s", err, body)
			}
		case http.StatusNotFound:
		default:
			t.Fatalf("history: %s %s", resp.Status, body)
		}
		if n := len(h.Samples); n > 0 && h.Samples[n-1].Desired == 3 && h.Samples[n-1].CPU != nil && *h.Samples[n-1].CPU == 140 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("history: %s %s", resp.Status, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
