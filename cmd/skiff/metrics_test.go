package main

import (
	"net"
	"testing"

	"github.com/spf13/cobra"
)

// /metrics is unauthenticated, so every daemon serves it on loopback unless
// told otherwise (`skiff cluster` binds its nodes' private addresses).
func TestMetricsListenOnLoopbackByDefault(t *testing.T) {
	for _, cmd := range []*cobra.Command{serverCommand(), upCommand(), agentCommand(), schedulerCommand(), controllerCommand(), dnsCommand()} {
		f := cmd.Flags().Lookup("metrics-addr")
		if f == nil {
			t.Errorf("%s has no --metrics-addr", cmd.Name())
			continue
		}
		host, _, err := net.SplitHostPort(f.DefValue)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			t.Errorf("%s --metrics-addr defaults to %q, not a loopback address", cmd.Name(), f.DefValue)
		}
	}
}
