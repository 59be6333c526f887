package main

import (
	"slices"
	"testing"
)

// A daemon's directories are read from its command line the way its flags
// take them, with the same defaults.
func TestDaemonDirs(t *testing.T) {
	for _, tc := range []struct {
		role string
		args []string
		want []string
	}{
		{"up", nil, []string{"/var/lib/skiff", "/var/lib/skiff/agent", "/run/skiff/agent"}},
		{"up", []string{"--data-dir", "/d", "--run-dir=/r"}, []string{"/d", "/d/agent", "/r"}},
		{"up", []string{"--data-dir=/d", "--agent-data-dir", "/a"}, []string{"/d", "/a", "/run/skiff/agent"}},
		{"server", []string{"--listen", "0.0.0.0:6443"}, []string{"/var/lib/skiff"}},
		{"agent", []string{"--data-dir", "/x", "--server", "h:6443"}, []string{"/x", "/run/skiff/agent"}},
		{"get", []string{"pods"}, nil},
	} {
		if got := daemonDirs(tc.role, tc.args); !slices.Equal(got, tc.want) {
			t.Errorf("daemonDirs(%s %v) = %v, want %v", tc.role, tc.args, got, tc.want)
		}
	}
}
