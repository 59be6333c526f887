package cluster

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A VM node's agent runs as a Vagrant machine's does: the env file at the
// path deploy/systemd's unit reads, holding what `skiff cluster provision
// agent` writes for the same machine (AgentArgs), with the agent's default
// data and run dirs.
func TestGuestAgentMatchesTheSystemdUnit(t *testing.T) {
	unit, err := os.ReadFile("../deploy/systemd/skiff-agent.service")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "EnvironmentFile="+guestEnvFile+"\n") || !strings.Contains(string(unit), "$"+EnvVar) {
		t.Errorf("the unit does not read %s's %s:\n%s", guestEnvFile, EnvVar, unit)
	}
	l := layout{spec: Spec{Name: "v", Subnet: 7, Members: vmMembers(2), VM: &VMSpec{MemoryMB: 512, CPUs: 1}}}
	m := l.members()[1]
	if m.Name != "node-2" || l.nodeAddr(m.Host) != "172.31.7.3" {
		t.Fatalf("node-2 is %+v at %s; want .3 (.1 is the server's)", m, l.nodeAddr(m.Host))
	}
	args := l.guestAgentArgs(m)
	for _, want := range [][]string{{"--server", "172.31.7.1:6443"}, {"--node-name", "node-2"}, {"--advertise-address", "172.31.7.3"},
		{"--data-dir", "/var/lib/skiff/agent"}, {"--run-dir", "/run/skiff/agent"}, {"--token-file", guestToken},
		{"--insecure-registry", "172.31.7.1:5000"}, {"--cluster-dns", "172.31.7.1"}} {
		i := slices.Index(args, want[0])
		if i < 0 || i+1 >= len(args) || args[i+1] != want[1] {
			t.Errorf("agent args lack %s %s: %v", want[0], want[1], args)
		}
	}
	// The guest's runner reads the value the way systemd does.
	env, err := EnvFile(args)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	envFile := filepath.Join(dir, "agent.env")
	os.WriteFile(envFile, env, 0o644)
	script := strings.ReplaceAll(agentRunner, guestEnvFile, envFile)
	script = strings.ReplaceAll(script, guestBinary+" $SKIFF_ARGS", `printf '%s\n' $SKIFF_ARGS`)
	out, err := exec.Command("sh", "-c", strings.ReplaceAll(script, "sleep 2", "")).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Fields(strings.Join(strings.Split(string(out), "\n")[1:], "\n"))
	got = got[:len(got)-5] // "--- skiff agent exited (0)"
	if !slices.Equal(got, args) {
		t.Errorf("the guest would run skiff %v; want %v", got, args)
	}
}

func TestVMOptionsRejectTooLittle(t *testing.T) {
	for _, o := range []VMOptions{{MemoryMB: 100}, {CPUs: -1}, {CPUs: 65}} {
		if _, err := o.spec(Roots{State: "/s"}); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	s, err := VMOptions{}.spec(Roots{State: "/s"})
	if err != nil || s.KernelDir != "/s/.vm" || s.MemoryMB != defaultVMMB || s.CPUs != 1 {
		t.Errorf("defaults: %+v %v", s, err)
	}
}
