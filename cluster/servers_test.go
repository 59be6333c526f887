package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/nodeagent/image"
)

// One server is today's shape: node-1 runs the server and an agent.
func TestOneServerShape(t *testing.T) {
	l := layout{Roots: Roots{State: "/s", Run: "/r"}, spec: Spec{Name: "dev", Nodes: 2, Subnet: 4}}
	if got := strings.Join(l.agentNodes(), ","); got != "node-1,node-2" {
		t.Errorf("nodes: %s", got)
	}
	if l.Server() != "172.31.4.1:6443" {
		t.Errorf("server: %s", l.Server())
	}
	var roles []string
	for _, d := range l.daemons() {
		roles = append(roles, d.node+"/"+d.role)
	}
	if got := strings.Join(roles, ","); got != "node-1/server,node-1/agent,node-2/agent" {
		t.Errorf("daemons: %s", got)
	}
	args := strings.Join(ServerArgs(l.serverSpec(l.firstServer())), " ")
	if !strings.Contains(args, "--write-config /s/dev/config") || strings.Contains(args, "--cluster-init") || strings.Contains(args, "--server-name") {
		t.Errorf("server args: %s", args)
	}
}

// Three servers run on machines of their own before the nodes; server-1
// starts the cluster of servers, the others join it; everyone knows all
// three addresses.
func TestThreeServersShape(t *testing.T) {
	roots := Roots{State: t.TempDir(), Run: t.TempDir()}
	l := layout{Roots: roots, spec: Spec{Name: "ha", Nodes: 2, Servers: 3, Subnet: 5}}
	var ms []string
	for _, m := range l.members() {
		ms = append(ms, m.Name+"@"+l.nodeAddr(m.Host))
	}
	if got := strings.Join(ms, ","); got != "server-1@172.31.5.1,server-2@172.31.5.2,server-3@172.31.5.3,node-1@172.31.5.4,node-2@172.31.5.5" {
		t.Errorf("members: %s", got)
	}
	if got := strings.Join(l.agentNodes(), ","); got != "node-1,node-2" {
		t.Errorf("nodes: %s", got)
	}
	want := "172.31.5.1:6443,172.31.5.2:6443,172.31.5.3:6443"
	if l.Server() != want {
		t.Errorf("server: %s", l.Server())
	}
	var roles []string
	for _, d := range l.daemons() {
		roles = append(roles, d.node+"/"+d.role)
	}
	if got := strings.Join(roles, ","); got != "server-1/server,server-2/server,server-3/server,node-1/agent,node-2/agent" {
		t.Errorf("daemons: %s", got)
	}

	first := strings.Join(ServerArgs(l.serverSpec(l.members()[0])), " ")
	for _, w := range []string{"--listen 172.31.5.1:6443", "--cluster-init", "--server-name server-1", "--write-config " + filepath.Join(l.nodeDir("server-1"), "cli", "config")} {
		if !strings.Contains(first, w) {
			t.Errorf("server-1 args lack %q: %s", w, first)
		}
	}
	third := strings.Join(ServerArgs(l.serverSpec(l.members()[2])), " ")
	for _, w := range []string{"--listen 172.31.5.3:6443", "--server https://172.31.5.1:6443", "--token-file " + filepath.Join(l.nodeDir("server-1"), "server", "server-token"), "--server-name server-3"} {
		if !strings.Contains(third, w) {
			t.Errorf("server-3 args lack %q: %s", w, third)
		}
	}
	if strings.Contains(third, "--cluster-init") {
		t.Errorf("server-3 starts a cluster: %s", third)
	}

	if err := l.provision(nil); err != nil {
		t.Fatal(err)
	}
	agent, err := ReadEnvFile(filepath.Join(l.nodeDir("node-1"), "agent.env"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(agent, " "); !strings.Contains(got, "--server "+want) || !strings.Contains(got, "--registries "+l.registriesFile()) {
		t.Errorf("agent args: %s", got)
	}
	for _, s := range []string{"server-1", "server-2", "server-3"} {
		if _, err := os.Stat(filepath.Join(l.nodeDir(s), "agent.env")); !os.IsNotExist(err) {
			t.Errorf("%s has an agent (%v)", s, err)
		}
	}
	reg, err := image.LoadRegistries(l.registriesFile())
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(reg.Mirrors["172.31.5.1:5000"].Endpoints, ","); got != "https://172.31.5.1:5000,https://172.31.5.2:5000,https://172.31.5.3:5000" {
		t.Errorf("mirrors of server-1's registry: %s", got)
	}

	// An added node comes after the servers; servers cannot be removed.
	m, err := l.addMember("node-3")
	if err != nil || m.Host != 6 || l.isServer(m) || !l.runsAgent(m) {
		t.Errorf("added %+v (%v)", m, err)
	}
	if err := l.save(); err != nil {
		t.Fatal(err)
	}
	if err := RemoveNode(t.Context(), "ha", "server-2", Options{Roots: roots}); err == nil || !strings.Contains(err.Error(), "one of the cluster's servers") {
		t.Errorf("remove-node server-2: %v", err)
	}
}

// The cluster's config is made from a server's admin config: its
// credentials copied beside it, every server's address.
func TestWriteClusterConfig(t *testing.T) {
	l := layout{Roots: Roots{State: t.TempDir(), Run: t.TempDir()}, spec: Spec{Name: "ha", Nodes: 1, Servers: 3, Subnet: 6}}
	if ok, err := l.writeClusterConfig(); ok || err != nil {
		t.Fatalf("before any server wrote one: %v %v", ok, err)
	}
	dir := filepath.Dir(l.serverConfigFile(l.members()[1]))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ca.crt", "admin.crt", "admin.key"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(f+" data"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := &client.Config{Server: "172.31.6.2:6443", CA: filepath.Join(dir, "ca.crt"), Cert: "admin.crt", Key: filepath.Join(dir, "admin.key")}
	if err := client.SaveConfig(l.serverConfigFile(l.members()[1]), cfg); err != nil {
		t.Fatal(err)
	}
	if ok, err := l.writeClusterConfig(); !ok || err != nil {
		t.Fatalf("from server-2's: %v %v", ok, err)
	}
	got, err := client.LoadConfig(l.ConfigFile())
	if err != nil {
		t.Fatal(err)
	}
	if got.Server != "172.31.6.1:6443,172.31.6.2:6443,172.31.6.3:6443" || got.Cert != filepath.Join(l.dir(), "admin.crt") {
		t.Errorf("config: %+v", got)
	}
	if data, err := os.ReadFile(got.Key); err != nil || string(data) != "admin.key data" {
		t.Errorf("key: %q %v", data, err)
	}
}

func TestValidateServers(t *testing.T) {
	for _, ok := range []int{1, 3, 5, 7} {
		if err := validateServers(ok); err != nil {
			t.Errorf("%d: %v", ok, err)
		}
	}
	for _, bad := range []int{0, 2, 4, 9, -1} {
		if err := validateServers(bad); err == nil || !strings.Contains(err.Error(), "--servers") {
			t.Errorf("%d accepted or unclear: %v", bad, err)
		}
	}
}
