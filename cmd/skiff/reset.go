package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/nodeagent/teardown"
)

// Where `skiff up`, `skiff server` and `skiff agent` keep their things
// unless told otherwise.
const (
	defaultDataDir      = "/var/lib/skiff"
	defaultAgentDataDir = "/var/lib/skiff/agent"
	defaultRunDir       = "/run/skiff/agent"
)

// resetFlags name the directories as `skiff up` and `skiff agent` take
// them, so a reset finds what they made.
type resetFlags struct {
	dataDir      string
	agentDataDir string
	runDir       string
	clientDir    string
	data         bool
}

func resetCommand() *cobra.Command {
	f := &resetFlags{}
	cmd := &cobra.Command{
		Use:   "reset",
		Short: "Remove everything skiff up or skiff agent left on this machine",
		Long: `Leave this machine as if skiff had never run on it (like kubeadm reset, or
k3s's killall and uninstall scripts). It works from what is on the machine —
the runtime's state directories, cgroups, mountinfo, the network — not from
a server, which need not be running:

  - stops skiff up, server and agent processes that use these directories;
  - stops and removes every container (with its supervisor and cgroup) and
    every pod sandbox (its pinned namespaces);
  - detaches every mount under the data and run directories;
  - removes the skiff0 bridge, pods' veths, skiff's routes (the blackhole
    for the cluster CIDR, host-gw routes) and the nftables table ip skiff;
  - removes the run directory (/run/skiff/agent).

With --data it also removes the data directories (the cluster's etcd,
registry, images and volumes: the cluster is gone for good) and ~/.skiff
(the command line's config). It prints each thing it removes. Needs root.
Local clusters (skiff cluster) are not touched: delete them with
'skiff cluster delete'; --data refuses while ~/.skiff/clusters holds any.`,
		Example: `  sudo skiff reset                 # stop and remove containers, network, mounts; keep data
  sudo skiff reset --data          # and the cluster's data and ~/.skiff: a clean machine
  sudo skiff reset --data-dir /srv/skiff --run-dir /run/skiff-test/agent`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("agent-data-dir") {
				f.agentDataDir = filepath.Join(f.dataDir, "agent")
			}
			return runReset(cmd.Context(), cmd.OutOrStdout(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dataDir, "data-dir", defaultDataDir, "skiff up's and skiff server's --data-dir")
	fl.StringVar(&f.agentDataDir, "agent-data-dir", defaultAgentDataDir, "skiff up's --agent-data-dir, skiff agent's --data-dir (default <data-dir>/agent)")
	fl.StringVar(&f.runDir, "run-dir", defaultRunDir, "skiff up's and skiff agent's --run-dir")
	fl.StringVar(&f.clientDir, "client-dir", filepath.Dir(client.OSEnvironment().ConfigPath("")), "the command line's directory (skiff up's config); removed with --data")
	fl.BoolVar(&f.data, "data", false, "also remove the data directories and the command line's directory")
	return cmd
}

func runReset(ctx context.Context, out io.Writer, f *resetFlags) error {
	if os.Geteuid() != 0 {
		return errors.New("skiff reset needs root: containers, mounts, cgroups and the network are root's (sudo skiff reset)")
	}
	for _, d := range []*string{&f.dataDir, &f.agentDataDir, &f.runDir, &f.clientDir} {
		abs, err := filepath.Abs(*d)
		if err != nil {
			return err
		}
		if *d == "" || abs == "/" {
			return fmt.Errorf("reset: refusing directory %q: name skiff's own directories", *d)
		}
		*d = abs
	}
	if f.data {
		if ents, _ := os.ReadDir(filepath.Join(f.clientDir, "clusters")); len(ents) > 0 {
			return fmt.Errorf("%s holds local clusters: delete them first (skiff cluster list, skiff cluster delete --name NAME)", filepath.Join(f.clientDir, "clusters"))
		}
	}
	removed := 0
	report := func(what string) { removed++; fmt.Fprintln(out, what) }
	var errs []error
	for _, d := range daemonsUsing(f) {
		if err := d.stop(30 * time.Second); err != nil {
			errs = append(errs, err)
			continue
		}
		report(fmt.Sprintf("stopped skiff %s (pid %d)", d.role, d.pid))
	}
	node := teardown.Node{DataDir: f.agentDataDir, RunDir: f.runDir}
	if err := node.Reset(ctx, report); err != nil {
		errs = append(errs, err)
	}
	teardown.RemoveEmptyCgroupParents(report)
	dirs := []string{f.runDir}
	if f.data {
		unmounted, err := teardown.UnmountUnder(f.dataDir)
		for _, p := range unmounted {
			report("unmounted " + p)
		}
		if err != nil {
			errs = append(errs, err)
		}
		dirs = append(dirs, f.agentDataDir, f.dataDir, f.clientDir)
	}
	if len(errs) > 0 {
		return fmt.Errorf("reset: left the directories in place: %w", errors.Join(errs...))
	}
	for _, d := range dirs {
		if !exists(d) {
			continue
		}
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("reset: %w", err)
		}
		report("removed " + d)
	}
	// The default run directory's parent holds nothing else of skiff's
	// once local clusters are gone.
	if f.runDir == defaultRunDir && os.Remove(filepath.Dir(defaultRunDir)) == nil {
		report("removed " + filepath.Dir(defaultRunDir))
	}
	if removed == 0 {
		fmt.Fprintln(out, "nothing of skiff found")
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// daemon is a running skiff up, server or agent.
type daemon struct {
	pid  int
	role string
}

// daemonsUsing finds the skiff up, server and agent processes whose data
// or run directory (as their command line gives it, or its default) is one
// of the reset's.
func daemonsUsing(f *resetFlags) []daemon {
	ours := map[string]bool{f.dataDir: true, f.agentDataDir: true, f.runDir: true}
	var out []daemon
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
		if len(args) < 2 || filepath.Base(args[0]) != "skiff" {
			continue
		}
		for _, d := range daemonDirs(args[1], args[2:]) {
			if ours[d] {
				out = append(out, daemon{pid: pid, role: args[1]})
				break
			}
		}
	}
	return out
}

// daemonDirs are the directories a `skiff ROLE ARGS…` process uses.
func daemonDirs(role string, args []string) []string {
	flag := func(name, def string) string {
		for i, a := range args {
			if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
				return v
			}
			if a == "--"+name && i+1 < len(args) {
				return args[i+1]
			}
		}
		return def
	}
	var dirs []string
	switch role {
	case "up":
		data := flag("data-dir", defaultDataDir)
		dirs = []string{data, flag("agent-data-dir", filepath.Join(data, "agent")), flag("run-dir", defaultRunDir)}
	case "server":
		dirs = []string{flag("data-dir", defaultDataDir)}
	case "agent":
		dirs = []string{flag("data-dir", defaultAgentDataDir), flag("run-dir", defaultRunDir)}
	}
	for i, d := range dirs {
		if abs, err := filepath.Abs(d); err == nil {
			dirs[i] = abs
		}
	}
	return dirs
}

// stop sends SIGTERM, and SIGKILL if the process is still there after
// grace.
func (d daemon) stop(grace time.Duration) error {
	if err := syscall.Kill(d.pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop skiff %s (pid %d): %w", d.role, d.pid, err)
	}
	deadline := time.Now().Add(grace)
	for teardown.Running(d.pid) {
		if time.Now().After(deadline) {
			syscall.Kill(d.pid, syscall.SIGKILL)
			deadline = time.Now().Add(grace)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}
