package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/internal/proccpu"
)

// Budgets in percent of one core, wide on purpose: an idle daemon should
// be near 0, and a loop that never blocks costs a whole core (a closed
// channel in a select once did). These catch that class, not small drifts.
const (
	idleBudget   = 2.0  // nothing deployed
	loadedBudget = 10.0 // with idlePods running pods that have readiness probes
	idlePods     = 50
	cpuWindow    = 30 * time.Second
	// settle lets start-up work (first lists, image pulls, the first
	// probes and status writes) finish before the window opens.
	settle = 10 * time.Second
	// supervisorArg is the re-exec argument of a container's supervisor.
	supervisorArg = "__skiff-supervise"
)

// Every daemon, idle and then with pods running, stays within its CPU
// budget: `skiff up`, the server and agents of a 3-node `skiff cluster`,
// and a standalone scheduler, controller and DNS server attached to that
// cluster. All are measured in the same windows, so the test costs two
// windows of wall time, not one per daemon. The figures go to the log.
func TestIdleCPU(t *testing.T) {
	t.Parallel()
	up := newUpCluster(t)
	kind := newKindCluster(t, 3)
	daemons := []daemon{{name: "skiff up", pid: up.cmd.Process.Pid}}
	daemons = append(daemons, kind.daemons(t)...)
	daemons = append(daemons, startComponents(t, kind)...)
	for _, d := range daemons {
		d.check(t)
	}

	time.Sleep(settle)
	measureCPU(t, "nothing deployed", daemons, idleBudget)

	for _, c := range []struct {
		c     Cluster
		image string
	}{{up, "127.0.0.1:5000/demo:latest"}, {kind, kind.Image()}} {
		if out, err := c.c.Skiff("apply", "-f", writeFile(t, probedPods(c.image))); err != nil {
			t.Fatalf("apply: %v\n%s", err, out)
		}
	}
	waitReadyPods(t, "skiff up", up, idlePods)
	waitReadyPods(t, "skiff cluster", kind, idlePods)
	time.Sleep(settle)
	sups := supervisors(t, skiffBinary(t), daemons)
	if len(sups) < 2*idlePods {
		t.Fatalf("%d supervisors for %d pods", len(sups), 2*idlePods)
	}
	measureCPU(t, fmt.Sprintf("%d pods with readiness probes per cluster", idlePods), append(daemons, sups...), loadedBudget)
}

// daemon is a process whose CPU time the test reads.
type daemon struct {
	name string
	pid  int
	// group names processes reported together (many of one kind).
	group string
}

// check fails the test unless the process runs the test's skiff binary.
func (d daemon) check(t *testing.T) {
	t.Helper()
	// A process that has just been started may show an empty command
	// line for a moment: the kernel reports exec's success (Start returns)
	// before it has laid out the new program's arguments.
	var cmdline []byte
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		cmdline, err = os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", d.pid))
		if err != nil || len(cmdline) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || !strings.HasPrefix(string(cmdline), skiffBinary(t)+"\x00") {
		t.Fatalf("%s: pid %d is not a skiff process (%q, %v)", d.name, d.pid, cmdline, err)
	}
}

// measureCPU reads every daemon's CPU time over one window and fails the
// test for each above budget (percent of one core).
func measureCPU(t *testing.T, phase string, daemons []daemon, budget float64) {
	t.Helper()
	before := make([]int64, len(daemons))
	for i, d := range daemons {
		n, err := proccpu.Ticks(d.pid)
		if err != nil {
			t.Fatalf("%s: %v", d.name, err)
		}
		before[i] = n
	}
	start := time.Now()
	time.Sleep(cpuWindow)
	elapsed := time.Since(start)
	groups := map[string][]float64{}
	for i, d := range daemons {
		n, err := proccpu.Ticks(d.pid)
		if err != nil {
			t.Fatalf("%s (pid %d) is gone after the window: %v", d.name, d.pid, err)
		}
		pct := proccpu.Percent(n-before[i], elapsed)
		if pct > budget {
			t.Errorf("%s: %s (pid %d) used %.2f %% of one core over %.0f s; budget %.0f %%", phase, d.name, d.pid, pct, elapsed.Seconds(), budget)
		}
		if d.group != "" {
			groups[d.group] = append(groups[d.group], pct)
			continue
		}
		t.Logf("%s: %-22s %6.2f %% of one core", phase, d.name, pct)
	}
	for g, pcts := range groups {
		sort.Float64s(pcts)
		sum := 0.0
		for _, p := range pcts {
			sum += p
		}
		t.Logf("%s: %d %s: %.2f %% of one core together, highest %.2f %%, median %.2f %%",
			phase, len(pcts), g, sum, pcts[len(pcts)-1], pcts[len(pcts)/2])
	}
}

// daemons are the cluster's server and agent processes.
func (c *kindCluster) daemons(t *testing.T) []daemon {
	t.Helper()
	var out []daemon
	for _, node := range c.Nodes() {
		for _, role := range []string{"server", "agent"} {
			data, err := os.ReadFile(filepath.Join(c.nodeDir(node), role+".pid"))
			if os.IsNotExist(err) {
				continue // only the first node runs a server
			}
			if err != nil {
				t.Fatal(err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
			if err != nil {
				t.Fatalf("%s of %s: pid file: %v", role, node, err)
			}
			out = append(out, daemon{name: "cluster " + node + " " + role, pid: pid})
		}
	}
	if len(out) != c.nodes+1 {
		t.Fatalf("%d server and agent processes in a %d-node cluster", len(out), c.nodes)
	}
	return out
}

// startComponents runs `skiff scheduler`, `skiff controller` and `skiff
// dns` on the host against the cluster's server, as an operator who splits
// the control plane would. The server runs its own scheduler and
// controllers too; a second scheduler only loses races to bind (the API
// refuses a pod bound already), so both stay correct.
func startComponents(t *testing.T, c *kindCluster) []daemon {
	t.Helper()
	var out []daemon
	for _, args := range [][]string{
		{"scheduler"},
		{"controller"},
		// Nothing listens at the upstream: other names get SERVFAIL.
		{"dns", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9"},
	} {
		name := "skiff " + args[0]
		cmd := exec.Command(skiffBinary(t), append(args, "--metrics-addr", "")...)
		cmd.Env = append(os.Environ(), "SKIFF_CONFIG="+c.configFile())
		var log bytes.Buffer
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%s did not exit cleanly: %v", name, err)
				}
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Errorf("%s did not stop within 30s of SIGTERM", name)
			}
			if t.Failed() {
				t.Logf("%s log:\n%s", name, tail(log.String(), 40))
			}
		})
		out = append(out, daemon{name: name, pid: cmd.Process.Pid})
	}
	return out
}

// probedPods is a manifest of idlePods pods of the busybox demo image
// (httpd on :8080), each with an HTTP readiness probe every 2 s.
func probedPods(image string) string {
	var b strings.Builder
	for i := range idlePods {
		fmt.Fprintf(&b, `---
apiVersion: skiff/v1
kind: Pod
metadata:
  name: idle-%d
  labels: {app: idle}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: %s
    readinessProbe:
      httpGet: {port: 8080}
      periodSeconds: 2
`, i, image)
	}
	return b.String()
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "manifest.yaml")
	if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// waitReadyPods waits for want ready pods labelled app=idle; pods start
// slowly on a loaded machine, so the deadline is generous.
func waitReadyPods(t *testing.T, what string, c Cluster, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		ps, err := pods(c, "app=idle")
		ready := 0
		for _, p := range ps {
			if p.Ready {
				ready++
			}
		}
		if err == nil && ready == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d pods ready after 5 min (%v)", what, ready, want, err)
		}
		time.Sleep(time.Second)
	}
}

// supervisors are the container supervisors the given daemons started:
// an agent's supervisors are its children until it exits, which keeps out
// those of the clusters other tests run at the same time.
func supervisors(t *testing.T, bin string, parents []daemon) []daemon {
	t.Helper()
	isParent := map[int]bool{}
	for _, d := range parents {
		isParent[d.pid] = true
	}
	pids, err := proccpu.Children(isParent, shimBinary(bin), supervisorArg)
	if err != nil {
		t.Fatal(err)
	}
	var out []daemon
	for _, pid := range pids {
		out = append(out, daemon{name: "supervisor", pid: pid, group: "container supervisors"})
	}
	return out
}
