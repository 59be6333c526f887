package cli

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/cli/slimlist"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-5 * time.Second:                  "<invalid>",
		0:                                 "0s",
		5 * time.Second:                   "5s",
		119 * time.Second:                 "119s",
		3*time.Minute + 12*time.Second:    "3m12s",
		5 * time.Minute:                   "5m",
		45 * time.Minute:                  "45m",
		3*time.Hour + 20*time.Minute:      "3h20m",
		20 * time.Hour:                    "20h",
		51 * time.Hour:                    "2d3h",
		72 * time.Hour:                    "3d",
		400 * 24 * time.Hour:              "400d",
		3*365*24*time.Hour + 48*time.Hour: "3y2d",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
	if age(nil, time.Now()) != "<unknown>" {
		t.Error("age(nil)")
	}
}

func TestPodStatusColumn(t *testing.T) {
	cs := func(s *skiffv1.ContainerState, ready bool, restarts int32) *skiffv1.ContainerStatus {
		return &skiffv1.ContainerStatus{State: s, Ready: ready, RestartCount: restarts}
	}
	running := &skiffv1.ContainerState{Running: &skiffv1.ContainerStateRunning{}}
	two := []*skiffv1.Container{{Name: "a"}, {Name: "b"}}
	always := "Always"
	sidecar := []*skiffv1.Container{{Name: "s", RestartPolicy: &always}}
	for _, tc := range []struct {
		name string
		pod  *skiffv1.Pod
		want podSummary
	}{
		{"pending", &skiffv1.Pod{Spec: &skiffv1.PodSpec{Containers: two}, Status: &skiffv1.PodStatus{Phase: "Pending"}},
			podSummary{0, 2, 0, "Pending"}},
		{"one ready", &skiffv1.Pod{Spec: &skiffv1.PodSpec{Containers: two}, Status: &skiffv1.PodStatus{Phase: "Running",
			ContainerStatuses: []*skiffv1.ContainerStatus{cs(running, true, 1), cs(running, false, 2)}}},
			podSummary{1, 2, 3, "Running"}},
		{"first container's reason wins", &skiffv1.Pod{Spec: &skiffv1.PodSpec{Containers: two}, Status: &skiffv1.PodStatus{Phase: "Running",
			ContainerStatuses: []*skiffv1.ContainerStatus{
				cs(&skiffv1.ContainerState{Waiting: &skiffv1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}, false, 0),
				cs(&skiffv1.ContainerState{Waiting: &skiffv1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}, false, 0)}}},
			podSummary{0, 2, 0, "ImagePullBackOff"}},
		{"killed", &skiffv1.Pod{Spec: &skiffv1.PodSpec{Containers: two[:1]}, Status: &skiffv1.PodStatus{Phase: "Failed",
			ContainerStatuses: []*skiffv1.ContainerStatus{cs(&skiffv1.ContainerState{Terminated: &skiffv1.ContainerStateTerminated{Signal: 9}}, false, 0)}}},
			podSummary{0, 1, 0, "Signal:9"}},
		{"exit code", &skiffv1.Pod{Spec: &skiffv1.PodSpec{Containers: two[:1]}, Status: &skiffv1.PodStatus{Phase: "Failed",
			ContainerStatuses: []*skiffv1.ContainerStatus{cs(&skiffv1.ContainerState{Terminated: &skiffv1.ContainerStateTerminated{ExitCode: 3}}, false, 0)}}},
			podSummary{0, 1, 0, "ExitCode:3"}},
		{"evicted", &skiffv1.Pod{Spec: &skiffv1.PodSpec{Containers: two[:1]}, Status: &skiffv1.PodStatus{Phase: "Failed", Reason: "Evicted"}},
			podSummary{0, 1, 0, "Evicted"}},
		{"second init container running", &skiffv1.Pod{Spec: &skiffv1.PodSpec{InitContainers: two, Containers: two[:1]}, Status: &skiffv1.PodStatus{Phase: "Pending",
			InitContainerStatuses: []*skiffv1.ContainerStatus{cs(&skiffv1.ContainerState{Terminated: &skiffv1.ContainerStateTerminated{Reason: "Completed"}}, true, 0), cs(running, false, 0)},
			ContainerStatuses:     []*skiffv1.ContainerStatus{cs(&skiffv1.ContainerState{Waiting: &skiffv1.ContainerStateWaiting{Reason: "PodInitializing"}}, false, 0)}}},
			podSummary{0, 1, 0, "Init:1/2"}},
		{"init container crashing", &skiffv1.Pod{Spec: &skiffv1.PodSpec{InitContainers: two, Containers: two[:1]}, Status: &skiffv1.PodStatus{Phase: "Pending",
			InitContainerStatuses: []*skiffv1.ContainerStatus{cs(&skiffv1.ContainerState{Waiting: &skiffv1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}, false, 4), cs(&skiffv1.ContainerState{Waiting: &skiffv1.ContainerStateWaiting{Reason: "PodInitializing"}}, false, 0)}}},
			podSummary{0, 1, 4, "Init:CrashLoopBackOff"}},
		{"init container failed", &skiffv1.Pod{Spec: &skiffv1.PodSpec{InitContainers: two[:1], Containers: two[:1]}, Status: &skiffv1.PodStatus{Phase: "Failed",
			InitContainerStatuses: []*skiffv1.ContainerStatus{cs(&skiffv1.ContainerState{Terminated: &skiffv1.ContainerStateTerminated{ExitCode: 2}}, false, 0)}}},
			podSummary{0, 1, 0, "Init:ExitCode:2"}},
		{"initialized", &skiffv1.Pod{Spec: &skiffv1.PodSpec{InitContainers: two[:1], Containers: two[:1]}, Status: &skiffv1.PodStatus{Phase: "Running",
			InitContainerStatuses: []*skiffv1.ContainerStatus{cs(&skiffv1.ContainerState{Terminated: &skiffv1.ContainerStateTerminated{Reason: "Completed"}}, true, 1)},
			ContainerStatuses:     []*skiffv1.ContainerStatus{cs(running, true, 0)}}},
			podSummary{1, 1, 1, "Running"}},
		{"sidecar ready beside the container", &skiffv1.Pod{Spec: &skiffv1.PodSpec{InitContainers: sidecar, Containers: two[:1]}, Status: &skiffv1.PodStatus{Phase: "Running",
			Conditions:            []*skiffv1.Condition{{Type: skiffv1.PodInitialized, Status: "True"}},
			InitContainerStatuses: []*skiffv1.ContainerStatus{{State: running, Started: true, Ready: true, RestartCount: 2}},
			ContainerStatuses:     []*skiffv1.ContainerStatus{cs(running, true, 0)}}},
			podSummary{2, 2, 2, "Running"}},
		{"sidecar starting", &skiffv1.Pod{Spec: &skiffv1.PodSpec{InitContainers: sidecar, Containers: two[:1]}, Status: &skiffv1.PodStatus{Phase: "Pending",
			InitContainerStatuses: []*skiffv1.ContainerStatus{cs(running, false, 0)},
			ContainerStatuses:     []*skiffv1.ContainerStatus{cs(&skiffv1.ContainerState{Waiting: &skiffv1.ContainerStateWaiting{Reason: "PodInitializing"}}, false, 0)}}},
			podSummary{0, 2, 0, "Init:0/1"}},
		{"job done, sidecar stopped", &skiffv1.Pod{Spec: &skiffv1.PodSpec{InitContainers: sidecar, Containers: two[:1]}, Status: &skiffv1.PodStatus{Phase: "Succeeded",
			Conditions:            []*skiffv1.Condition{{Type: skiffv1.PodInitialized, Status: "True"}},
			InitContainerStatuses: []*skiffv1.ContainerStatus{cs(&skiffv1.ContainerState{Terminated: &skiffv1.ContainerStateTerminated{ExitCode: 143, Reason: "Error"}}, false, 0)},
			ContainerStatuses:     []*skiffv1.ContainerStatus{cs(&skiffv1.ContainerState{Terminated: &skiffv1.ContainerStateTerminated{Reason: "Completed"}}, false, 0)}}},
			podSummary{0, 2, 0, "Completed"}},
		{"deadline exceeded", &skiffv1.Pod{Spec: &skiffv1.PodSpec{Containers: two[:1]}, Status: &skiffv1.PodStatus{Phase: "Failed", Reason: "DeadlineExceeded",
			ContainerStatuses: []*skiffv1.ContainerStatus{cs(&skiffv1.ContainerState{Terminated: &skiffv1.ContainerStateTerminated{Signal: 15, Reason: "Error"}}, false, 0)}}},
			podSummary{0, 1, 0, "Error"}},
		{"terminating", &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{DeletionTimestamp: nowTS()}, Spec: &skiffv1.PodSpec{Containers: two[:1]},
			Status: &skiffv1.PodStatus{Phase: "Running"}}, podSummary{0, 1, 0, "Terminating"}},
	} {
		if got := summarizePod(tc.pod); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
		// `get pods` decodes only what the table reads.
		b, err := proto.Marshal(&skiffv1.ListResponse{Items: []*skiffv1.Object{skiffv1.Wrap(tc.pod)}})
		if err != nil {
			t.Fatal(err)
		}
		var page skiffv1.ListResponse
		if err := slimlist.DecodeList(b, &page, false); err != nil {
			t.Fatal(err)
		}
		if got := summarizePod(page.Items[0].GetPod()); got != tc.want {
			t.Errorf("%s, slimmed for a table: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// Every column of a pod table, wide and with labels, reads the same from
// a pod slimmed for tables as from the whole pod: a column that reads a
// field cli/slimlist drops fails here.
func TestPodRowsFromSlimPods(t *testing.T) {
	always := "Always"
	ts := nowTS()
	pod := &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{Name: "web-1", Namespace: "shop", Labels: map[string]string{"app": "web", "tier": "front"},
			Annotations: map[string]string{"a": "b"}, CreationTimestamp: ts},
		Spec: &skiffv1.PodSpec{NodeName: "n1", Containers: []*skiffv1.Container{{Name: "app", Image: "web:1"}, {Name: "log", Image: "log:1"}},
			InitContainers: []*skiffv1.Container{{Name: "side", RestartPolicy: &always}}},
		Status: &skiffv1.PodStatus{Phase: "Running", PodIp: "10.88.0.2", HostIp: "10.0.0.1",
			Conditions: []*skiffv1.Condition{{Type: skiffv1.PodInitialized, Status: "True"}, {Type: skiffv1.PodReady, Status: "False"}},
			InitContainerStatuses: []*skiffv1.ContainerStatus{{Name: "side", Started: true, Ready: true, RestartCount: 1,
				State: &skiffv1.ContainerState{Running: &skiffv1.ContainerStateRunning{StartedAt: ts}}}},
			ContainerStatuses: []*skiffv1.ContainerStatus{
				{Name: "app", Ready: true, RestartCount: 2, State: &skiffv1.ContainerState{Running: &skiffv1.ContainerStateRunning{StartedAt: ts}}},
				{Name: "log", RestartCount: 3, State: &skiffv1.ContainerState{Waiting: &skiffv1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "m"}}}}},
	}
	b, err := proto.Marshal(&skiffv1.ListResponse{Items: []*skiffv1.Object{skiffv1.Wrap(pod)}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, opts := range []tableOpts{{}, {wide: true, namespace: true}, {labelColumns: []string{"tier"}, showLabels: true}} {
		var page skiffv1.ListResponse
		if err := slimlist.DecodeList(b, &page, len(opts.labelColumns) > 0 || opts.showLabels); err != nil {
			t.Fatal(err)
		}
		table := tableFor(skiffv1.Kind_KIND_POD, opts)
		whole, slim := table.cells(pod, opts, now), table.cells(page.Items[0].GetPod(), opts, now)
		if strings.Join(whole, "|") != strings.Join(slim, "|") {
			t.Errorf("%+v: slimmed %q, whole %q", opts, slim, whole)
		}
	}
}

func TestEveryCommandHasExamples(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Example == "" && c.Name() != "help" && c.Name() != "completion" && c.Parent() != nil && c.Parent().Name() != "completion" {
			t.Errorf("%q has no Example", c.CommandPath())
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(NewRootCommandIn(testEnviron(t)))
}

func TestExitCode(t *testing.T) {
	if ExitCode(nil) != 0 {
		t.Error("nil")
	}
	if ExitCode(&ExitError{Code: 7}) != 7 {
		t.Error("pass-through")
	}
	if ExitCode(printedError{errors.New("x")}) != 1 {
		t.Error("printed")
	}
}

func TestFlagAndArgErrorsPrintedOnce(t *testing.T) {
	r := &runner{t: t, addr: "127.0.0.1:1", now: time.Now()}
	for _, args := range [][]string{{"get", "pods", "--bogus"}, {"get"}, {"create", "namespace"}} {
		res := r.run(args...)
		if strings.Count(res.err, "error: ") != 1 || !strings.Contains(res.err, "--help' for usage.") {
			t.Errorf("%v: %q", args, res.err)
		}
	}
	if out := r.ok("version"); !strings.HasPrefix(out, "Client Version: ") || !strings.Contains(out, "Server Version: unknown") {
		t.Errorf("version: %q", out)
	}
}

func TestGetWatch(t *testing.T) {
	r := newRunner(t)
	r.ok("apply", "-f", writeFile(t, "pods.yaml", threePods))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	pr, pw := newPipe()
	go func() { done <- r.runWatch(ctx, pw, "get", "pods", "-w", "-l", "app=x") }()
	pr.waitFor(t, "NAME")
	if _, _, err := r.srv.Client.Pods().Delete(ctx, "default", "a", clientDelete()); err != nil {
		t.Fatal(err)
	}
	pr.waitFor(t, "(deleted)")
	cancel()
	res := <-done
	if res.e != nil {
		t.Fatalf("watch: %v %s", res.e, res.err)
	}
	out := pr.String()
	if !strings.HasPrefix(out, "NAME   READY") || strings.Count(out, "\na ") != 2 || !strings.Contains(out, "b      0/1") {
		t.Errorf("watch output:\n%s", out)
	}
}

// The daemons main passes in define their own -v/--verbose and --server;
// the global flags must not clash with them.
func TestExtraCommandsWithOwnFlags(t *testing.T) {
	var verbose int
	var server string
	ran := false
	daemon := &cobra.Command{Use: "agent", Example: "  skiff agent", RunE: func(*cobra.Command, []string) error { ran = true; return nil }}
	daemon.Flags().CountVarP(&verbose, "verbose", "v", "")
	daemon.Flags().StringVar(&server, "server", "", "")
	root := NewRootCommandIn(testEnviron(t), daemon)
	root.SetArgs([]string{"agent", "-vv", "--server", "https://x:6443"})
	root.SetOut(&strings.Builder{})
	if err := root.Execute(); err != nil || !ran || verbose != 2 || server != "https://x:6443" {
		t.Errorf("err=%v ran=%v verbose=%d server=%q", err, ran, verbose, server)
	}
}
