package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// An agent given the addresses of three `skiff server`s keeps working
// when the server it talks to is killed with SIGKILL: its node's Lease
// goes on being renewed, and a pod bound to it after the kill gets its
// status from the agent, both through a surviving server. `skiff server
// list` shows the killed server Down. Everything runs in a network
// namespace of the test's own (loopback only).
func TestAgentFailsOverBetweenServers(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := make([]byte, 4)
	rand.Read(b)
	ns := "skiffha2-" + hex.EncodeToString(b)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del: %v: %s", err, out)
		}
	})
	inNS := func(args ...string) *exec.Cmd {
		return exec.Command("nsenter", append([]string{"--net=/run/netns/" + ns, "--"}, args...)...)
	}
	if out, err := inNS("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v %s", err, out)
	}

	servers := []*haServer{newHAServer(t, "s1"), newHAServer(t, "s2"), newHAServer(t, "s3")}
	for _, s := range servers {
		s.ns = ns
	}
	servers[0].start(t, "", "")
	serverToken := servers[0].waitFile(t, ctx, "server-token")
	for _, s := range servers[1:] {
		s.start(t, servers[0].api, serverToken)
		s.waitFile(t, ctx, "cli/config")
	}
	agentToken := servers[0].waitFile(t, ctx, "token")
	config := servers[0].waitFile(t, ctx, "cli/config")
	var addrs []string
	for _, s := range servers {
		addrs = append(addrs, "https://"+s.api)
	}
	all := strings.Join(addrs, ",")
	skiff := func(stdin string, args ...string) (string, error) {
		cctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := inNS(append([]string{skiffBinary(t), "--config", config, "--server", all}, args...)...)
		cmd = exec.CommandContext(cctx, cmd.Args[0], cmd.Args[1:]...)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			return out.String(), fmt.Errorf("skiff %s: %w: %s", strings.Join(args, " "), err, errOut.String())
		}
		return out.String(), nil
	}
	until := func(what string, fn func() error) {
		t.Helper()
		var err error
		for {
			if err = fn(); err == nil {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("%s: %v", what, err)
			case <-time.After(500 * time.Millisecond):
			}
		}
	}

	// The agent knows all three servers.
	dir := t.TempDir()
	unmountAtEnd(t, filepath.Join(dir, "run"))
	agentLog := &bytes.Buffer{}
	agent := inNS(skiffBinary(t), "agent", "--server", all, "--token-file", agentToken, "--node-name", "n1",
		"--data-dir", filepath.Join(dir, "data"), "--run-dir", filepath.Join(dir, "run"),
		"--agent-listen", loopbackPort(t), "--metrics-addr", "")
	agent.Env = append(os.Environ(), "SKIFF_CONFIG="+filepath.Join(dir, "none"))
	agent.Stdout, agent.Stderr = agentLog, agentLog
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	agentDone := make(chan error, 1)
	go func() { agentDone <- agent.Wait() }()
	t.Cleanup(func() {
		// The pods go first, torn down by the agent itself.
		if out, err := skiff("", "delete", "pod", "after-kill", "--ignore-not-found", "--wait"); err != nil {
			t.Errorf("deleting the pod: %v %s", err, out)
		}
		agent.Process.Signal(syscall.SIGTERM)
		select {
		case <-agentDone:
		case <-time.After(30 * time.Second):
			agent.Process.Kill()
			<-agentDone
			t.Errorf("the agent did not stop within 30s of SIGTERM")
		}
		if t.Failed() {
			t.Logf("agent log:\n%s", tail(agentLog.String(), 40))
		}
	})
	until("node n1 Ready", func() error {
		out, err := skiff("", "get", "node", "n1")
		if err == nil && !strings.Contains(out, " Ready ") {
			err = fmt.Errorf("not Ready yet:\n%s", out)
		}
		return err
	})

	// The server the agent's connection goes to is the victim.
	var victim *haServer
	until("the agent's server", func() error {
		out, err := inNS("ss", "-tnpH", "state", "established").CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if !strings.Contains(line, "pid="+strconv.Itoa(agent.Process.Pid)+",") {
				continue
			}
			for _, s := range servers {
				if f := strings.Fields(line); len(f) >= 4 && f[3] == s.api {
					victim = s
					return nil
				}
			}
		}
		return fmt.Errorf("no connection of the agent (pid %d) to a server:\n%s", agent.Process.Pid, out)
	})
	victim.kill(t)
	killed := time.Now()
	t.Logf("killed %s, the agent's server", victim.name)

	// The Lease is renewed after the kill, through another server.
	until("n1's Lease renewed after the kill", func() error {
		out, err := skiff("", "get", "lease", "n1", "-n", "kube-node-lease", "-o", "json")
		if err != nil {
			return err
		}
		var l struct {
			Spec struct {
				RenewTime time.Time `json:"renewTime"`
			} `json:"spec"`
		}
		if err := json.Unmarshal([]byte(out), &l); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		if !l.Spec.RenewTime.After(killed) {
			return fmt.Errorf("last renewed %v, before the kill at %v", l.Spec.RenewTime, killed)
		}
		return nil
	})
	t.Logf("lease renewed %v after the kill", time.Since(killed).Round(time.Millisecond))

	// A pod bound to n1 now reaches the agent's watch, and its status
	// (an image no registry has: the pull fails) comes back.
	pod := `apiVersion: v1
kind: Pod
metadata: {name: after-kill, namespace: default}
spec:
  nodeName: n1
  containers:
  - {name: c, image: "127.0.0.1:1/missing:1"}
`
	if out, err := skiff(pod, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	until("the agent's status of pod after-kill", func() error {
		out, err := skiff("", "get", "pod", "after-kill", "-o", "json")
		if err != nil {
			return err
		}
		var p struct {
			Status struct {
				ContainerStatuses []struct {
					State struct {
						Waiting struct {
							Reason string `json:"reason"`
						} `json:"waiting"`
					} `json:"state"`
				} `json:"containerStatuses"`
			} `json:"status"`
		}
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		if cs := p.Status.ContainerStatuses; len(cs) == 1 && strings.Contains(cs[0].State.Waiting.Reason, "Image") {
			return nil
		}
		return fmt.Errorf("no image pull status from the agent yet: %s", out)
	})

	// The server list shows the victim Down, the others Healthy.
	until("server list", func() error {
		out, err := skiff("", "server", "list")
		if err != nil {
			return err
		}
		for _, s := range servers {
			want := "Healthy"
			if s == victim {
				want = "Down"
			}
			found := false
			for _, line := range strings.Split(out, "\n") {
				if f := strings.Fields(line); len(f) > 0 && f[0] == s.name && strings.Contains(line, want) {
					found = true
				}
			}
			if !found {
				return fmt.Errorf("%s is not %s:\n%s", s.name, want, out)
			}
		}
		return nil
	})
}
