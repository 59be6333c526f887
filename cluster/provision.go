package cluster

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/skiff-sh/skiff/ports"
)

// ServerSpec is how one machine runs `skiff server`, the kind-like cluster's
// first node and the Vagrant server alike.
type ServerSpec struct {
	// Address is the machine's address that agents and the command line
	// reach: the API, registry, DNS and metrics listen on it.
	Address     string
	DataDir     string
	ClusterCIDR string // empty: the server's default
	// WriteConfig is where the server writes the command line's config;
	// empty: the server's default (~/.skiff/config).
	WriteConfig string
	// DNSUpstreams are where cluster DNS forwards other names; empty: the
	// machine's /etc/resolv.conf. Local clusters pass a loopback address
	// where nothing answers, so no query ever leaves the machine.
	DNSUpstreams []string
	// ClusterInit starts a cluster of servers (the embedded etcd's first
	// member); JoinServer (https://HOST:6443) with TokenFile (the first
	// server's <data dir>/server-token) joins one. ServerName names the
	// server's etcd member; empty, the server picks one.
	ClusterInit bool
	JoinServer  string
	TokenFile   string
	ServerName  string
}

// AgentSpec is how one machine runs `skiff agent`.
type AgentSpec struct {
	Server      string // API server HOST:PORT
	NodeName    string
	Address     string // this node's address, as the server and other nodes reach it
	DataDir     string
	RunDir      string
	ClusterCIDR string // empty: the agent's default
	// ClusterDNS is where pods send DNS queries; empty: the agent's
	// default, the kube-system/kube-dns Service's ClusterIP, which the
	// servers keep pointing at every live server's DNS.
	ClusterDNS string
	// Registry is the server's registry (HOST:PORT), reached over plain
	// HTTP.
	Registry string
	// TokenFile holds the join token the agent presents on its first
	// start (the server writes one to <its data dir>/token).
	TokenFile string
	// RegistriesFile is a registries.yaml (mirrors); empty: none.
	RegistriesFile string
}

// ServerArgs is the command line (after the binary) of a server.
func ServerArgs(s ServerSpec) []string {
	args := []string{"server",
		"--data-dir", s.DataDir,
		"--listen", hostPort(s.Address, ports.API),
		"--registry-addr", hostPort(s.Address, ports.Registry),
		"--metrics-addr", hostPort(s.Address, ports.ServerMetrics),
		"--dns-listen", hostPort(s.Address, ports.DNS),
	}
	if s.ClusterCIDR != "" {
		args = append(args, "--cluster-cidr", s.ClusterCIDR)
	}
	if s.WriteConfig != "" {
		args = append(args, "--write-config", s.WriteConfig)
	}
	for _, u := range s.DNSUpstreams {
		args = append(args, "--dns-upstream", u)
	}
	if s.ClusterInit {
		args = append(args, "--cluster-init")
	}
	if s.JoinServer != "" {
		args = append(args, "--server", s.JoinServer, "--token-file", s.TokenFile)
	}
	if s.ServerName != "" {
		args = append(args, "--server-name", s.ServerName)
	}
	return args
}

// AgentArgs is the command line (after the binary) of an agent.
func AgentArgs(a AgentSpec) []string {
	args := []string{"agent",
		"--server", a.Server,
		"--node-name", a.NodeName,
		"--data-dir", a.DataDir,
		"--run-dir", a.RunDir,
		"--agent-listen", hostPort(a.Address, ports.Agent),
		"--advertise-address", a.Address,
		"--metrics-addr", hostPort(a.Address, ports.AgentMetrics),
	}
	if a.ClusterCIDR != "" {
		args = append(args, "--cluster-cidr", a.ClusterCIDR)
	}
	if a.ClusterDNS != "" {
		args = append(args, "--cluster-dns", a.ClusterDNS)
	}
	if a.Registry != "" {
		args = append(args, "--insecure-registry", a.Registry)
	}
	if a.TokenFile != "" {
		args = append(args, "--token-file", a.TokenFile)
	}
	if a.RegistriesFile != "" {
		args = append(args, "--registries", a.RegistriesFile)
	}
	return args
}

func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// EnvVar is the variable of the env file that holds a daemon's arguments;
// deploy/systemd's units run `skiff $SKIFF_ARGS`.
const EnvVar = "SKIFF_ARGS"

// EnvFile renders args as a systemd EnvironmentFile. systemd splits an
// unbraced $SKIFF_ARGS at white space, so no argument may contain any.
func EnvFile(args []string) ([]byte, error) {
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$") {
			return nil, fmt.Errorf("cluster: argument %q: empty or holds white space or quotes (not expressible in a systemd env file)", a)
		}
	}
	var b bytes.Buffer
	b.WriteString("# Written by skiff cluster provision; read by skiff-server/skiff-agent.service.\n")
	fmt.Fprintf(&b, "%s=%s\n", EnvVar, strings.Join(args, " "))
	return b.Bytes(), nil
}

// ReadEnvFile returns the arguments an env file written by EnvFile holds,
// split the way systemd splits $SKIFF_ARGS.
func ReadEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), EnvVar+"="); ok {
			return strings.Fields(v), nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cluster: %s: %w", path, err)
	}
	return nil, fmt.Errorf("cluster: %s: no %s line", path, EnvVar)
}

// writeEnvFile writes args as an env file at path.
func writeEnvFile(path string, args []string) error {
	data, err := EnvFile(args)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	return os.WriteFile(path, data, 0o644)
}
