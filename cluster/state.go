package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/defaults"
)

// DefaultName is the cluster's name when none is given.
const DefaultName = "skiff"

// DefaultRunRoot holds what does not survive a reboot: node run dirs and
// the pinned UTS namespaces.
const DefaultRunRoot = "/run/skiff/clusters"

// clusterCIDR is every local cluster's pod network. Clusters never see each
// other's pods (each node's routes live in its own namespace), so they may
// all use the same one.
const clusterCIDR = defaults.ClusterCIDR

// DefaultStateRoot is ~/.skiff/clusters: one directory per cluster with
// its spec, config, node data, PIDs and logs.
func DefaultStateRoot() string {
	home, err := os.UserHomeDir()
	if err != nil {
		home = "/root"
	}
	return filepath.Join(home, ".skiff", "clusters")
}

// Spec is what a cluster is, written to cluster.json when it is made.
type Spec struct {
	Name  string `json:"name"`
	Nodes int    `json:"nodes"`
	// Servers is how many servers run the control plane; 0 means one,
	// on the first node. Several run on machines of their own, before
	// the nodes (servers.go).
	Servers int `json:"servers,omitempty"`
	// Subnet is N in the lab subnet 172.31.N.0/24: node i has 172.31.N.i,
	// the host 172.31.N.254.
	Subnet int `json:"subnet"`
	// Members are the machines once a node was added or removed after
	// Create (a VM cluster's from the start: its nodes count from host
	// 2); empty, they are defaultMembers().
	Members []Member `json:"members,omitempty"`
	// VM is set when the nodes are QEMU guests (skiff cluster create --vm).
	VM *VMSpec `json:"vm,omitempty"`
}

// Member is one node of a cluster whose node set changed after Create:
// its name and its host number on the lab subnet (kept for its lifetime,
// so no node's address moves when another goes).
type Member struct {
	Name string `json:"name"`
	Host int    `json:"host"`
}

// Roots say where clusters keep their files; zero values get defaults.
type Roots struct {
	State string // DefaultStateRoot()
	Run   string // DefaultRunRoot
}

func (r Roots) withDefaults() Roots {
	if r.State == "" {
		r.State = DefaultStateRoot()
	}
	if r.Run == "" {
		r.Run = DefaultRunRoot
	}
	return r
}

var validName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?$`)

// ValidateName checks a cluster name: it names namespaces and files.
func ValidateName(name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("cluster name %q: use 1 to 20 lower-case letters, digits and dashes", name)
	}
	return nil
}

// layout is where one cluster's things are.
type layout struct {
	Roots
	spec Spec
}

func (l layout) dir() string                { return filepath.Join(l.State, l.spec.Name) }
func (l layout) specFile() string           { return filepath.Join(l.dir(), "cluster.json") }
func (l layout) ConfigFile() string         { return filepath.Join(l.dir(), "config") }
func (l layout) nodeDir(node string) string { return filepath.Join(l.dir(), "nodes", node) }
func (l layout) runDir() string             { return filepath.Join(l.Run, l.spec.Name) }
func (l layout) nodeRunDir(node string) string {
	return filepath.Join(l.runDir(), "nodes", node)
}
func (l layout) utsFile(node string) string { return filepath.Join(l.runDir(), "uts", node) }

// netnsName is the named network namespace (/run/netns/NAME, so that
// `ip netns exec` works) of a node, or of the lab for node "lab".
func (l layout) netnsName(node string) string { return "skiff-" + l.spec.Name + "-" + node }
func (l layout) netnsPath(node string) string { return filepath.Join(netnsDir, l.netnsName(node)) }

// netnsTakenElsewhere reports the other cluster, if any, one of whose
// namespaces has the name node's would have: "skiff-CLUSTER-NODE" does not
// tell cluster a's node b-lab from cluster a-b's lab, and sharing (then
// unpinning) another cluster's namespace breaks that cluster.
func (l layout) netnsTakenElsewhere(node string) (string, bool) {
	want := l.netnsName(node)
	ents, _ := os.ReadDir(l.State)
	for _, e := range ents {
		if e.Name() == l.spec.Name {
			continue
		}
		o, err := load(l.Roots, e.Name())
		if err != nil {
			continue
		}
		for _, n := range append(o.nodes(), "lab") {
			if o.netnsName(n) == want {
				return o.spec.Name, true
			}
		}
	}
	return "", false
}

// nodeName of the i-th node, counting from 1.
func nodeName(i int) string { return "node-" + strconv.Itoa(i) }

// members are the cluster's machines, the servers' first.
func (l layout) members() []Member {
	if len(l.spec.Members) > 0 {
		return l.spec.Members
	}
	return l.defaultMembers()
}

func (l layout) nodes() []string {
	var out []string
	for _, m := range l.members() {
		out = append(out, m.Name)
	}
	return out
}

// member finds a node by name.
func (l layout) member(name string) (Member, bool) {
	for _, m := range l.members() {
		if m.Name == name {
			return m, true
		}
	}
	return Member{}, false
}

// nodeAddr is the address on the lab bridge of host number i (from 1; 254
// is the host).
// vmServerHost is a VM cluster's server's host number: the lab bridge's
// own address, on this host.
const vmServerHost = 1

func (l layout) nodeAddr(i int) string { return fmt.Sprintf("172.31.%d.%d", l.spec.Subnet, i) }

// maxHost is the highest host number a node may have (254 is the host's).
const maxHost = 253

var validNodeName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$`)

// ValidateNodeName checks the name of a node to add: it names the node's
// namespaces and its port on the lab bridge, and a network interface's
// name has at most 15 characters.
func ValidateNodeName(name string) error {
	if !validNodeName.MatchString(name) {
		return fmt.Errorf("node name %q: use 1 to 15 lower-case letters, digits and dashes, starting and ending with a letter or digit", name)
	}
	// The node's port on the lab bridge is a link in the lab namespace,
	// named as the node: it cannot take the name of a link already there
	// (the bridge lab0, loopback, the host's port) nor of the lab
	// namespace.
	switch name {
	case "lab", "host", "lab0", "lo":
		return fmt.Errorf("node name %q: taken by the cluster's lab network", name)
	}
	return nil
}
func (l layout) hostAddr() string { return l.nodeAddr(254) }
func (l layout) hostVeth() string { return fmt.Sprintf("skiff-lab%d", l.spec.Subnet) }

// Server is the API address the host's command line uses: every
// server's, comma-separated.
func (l layout) Server() string { return joinAddrs(l.serverAddrs()) }

// dial connects to the cluster's server as its admin, with the config
// that create wrote.
func (l layout) dial() (*client.Client, error) {
	opts, err := client.OptionsFor(l.ConfigFile())
	if err != nil {
		return nil, err
	}
	return client.New(l.Server(), opts)
}

func hostPortInt(host string, port int) string { return host + ":" + strconv.Itoa(port) }

func (l layout) save() error {
	data, err := json.MarshalIndent(l.spec, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(l.dir(), 0o700); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	return os.WriteFile(l.specFile(), append(data, '\n'), 0o644)
}

// ErrNotFound: no cluster of that name.
var ErrNotFound = errors.New("no such cluster")

func load(roots Roots, name string) (layout, error) {
	roots = roots.withDefaults()
	l := layout{Roots: roots, spec: Spec{Name: name}}
	data, err := os.ReadFile(l.specFile())
	if errors.Is(err, os.ErrNotExist) {
		return l, fmt.Errorf("cluster %q: %w (skiff cluster list shows them)", name, ErrNotFound)
	}
	if err != nil {
		return l, fmt.Errorf("cluster %q: %w", name, err)
	}
	if err := json.Unmarshal(data, &l.spec); err != nil {
		return l, fmt.Errorf("cluster %q: %s: %w", name, l.specFile(), err)
	}
	return l, nil
}
