package main

import (
	"os/exec"
	"strings"
	"testing"
)

// allowedDeps are the only non-standard packages the shim may link: the
// container runtime, what it needs from x/ (syscalls, the BPF assembler of
// the seccomp filter) and the seccomp library. Anything more (gRPC, etcd,
// Prometheus, cobra, protobuf) is control plane, whose size and package
// initialisers every container would pay for.
var allowedDeps = []string{
	"github.com/skiff-sh/skiff/cmd/skiff-shim",
	"github.com/skiff-sh/skiff/nodeagent/runtime",
	"github.com/skiff-sh/skiff/backoff",
	"golang.org/x/sys/",
	"golang.org/x/net/bpf",
	"github.com/elastic/go-seccomp-bpf",
}

func TestShimLinksOnlyTheRuntime(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".")
	cmd.Env = append(cmd.Environ(), "GOOS=linux")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if !contains(deps, "github.com/skiff-sh/skiff/nodeagent/runtime") {
		t.Fatalf("go list found no runtime among %v", deps)
	}
	for _, dep := range deps {
		if !allowed(dep) {
			t.Errorf("skiff-shim links %s: keep the control plane out of the shim (split the package that pulls it in)", dep)
		}
	}
}

// Built as `make build` does (tag seccomp_prebuilt), the shim only loads
// the seccomp filters the agent assembled: the assembler and its syscall
// tables, whose initialisers every supervisor and init would run, stay out.
func TestPrebuiltShimLinksNoFilterAssembler(t *testing.T) {
	cmd := exec.Command("go", "list", "-tags", "seccomp_prebuilt", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".")
	cmd.Env = append(cmd.Environ(), "GOOS=linux")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if !contains(deps, "github.com/skiff-sh/skiff/nodeagent/runtime") {
		t.Fatalf("go list found no runtime among %v", deps)
	}
	for _, dep := range deps {
		if strings.HasPrefix(dep, "github.com/elastic/go-seccomp-bpf") || dep == "golang.org/x/net/bpf" {
			t.Errorf("the seccomp_prebuilt shim links %s", dep)
		}
	}
}

func TestDepsCheckRefusesTheControlPlane(t *testing.T) {
	for _, dep := range []string{
		"google.golang.org/grpc", "go.etcd.io/etcd/client/v3", "github.com/prometheus/client_golang/prometheus",
		"github.com/spf13/cobra", "google.golang.org/protobuf/proto", "github.com/skiff-sh/skiff/nodeagent",
		"github.com/skiff-sh/skiff/nodeagent/runtimeplus", "golang.org/x/net/http2",
	} {
		if allowed(dep) {
			t.Errorf("%s passes the shim's dependency check", dep)
		}
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func allowed(dep string) bool {
	for _, a := range allowedDeps {
		if dep == strings.TrimSuffix(a, "/") || strings.HasPrefix(dep, a) && (strings.HasSuffix(a, "/") || strings.HasPrefix(dep, a+"/")) {
			return true
		}
	}
	return false
}
