package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiff-sh/skiff/client"
)

// Delete removes a cluster and everything it made: its pods first,
// through the API, so each agent tears its containers, mounts and cgroups
// down the way it always does; then its processes, namespaces, veths and
// files. What the agents could not remove (a node that would not start)
// is removed by hand: the pods' processes and cgroups, mounts under the
// cluster's directories.
func Delete(ctx context.Context, name string, o Options) error {
	o = o.withDefaults()
	l, err := load(o.Roots, name)
	if err != nil {
		return err
	}
	var errs []error
	if l.info().State != "running" {
		fmt.Fprintf(o.Progress, "Starting %q to let its agents remove its pods\n", name)
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := l.start(sctx, o, false); err != nil {
			fmt.Fprintf(o.Progress, " ! %v (cleaning up by hand)\n", err)
		}
		cancel()
	}
	if err := l.deletePods(ctx); err != nil {
		fmt.Fprintf(o.Progress, " ! pods: %v (cleaning up by hand)\n", err)
	}
	if err := l.stop(o); err != nil {
		errs = append(errs, err)
	}
	if err := l.killLeftovers(); err != nil {
		errs = append(errs, err)
	}
	if err := unmountUnder(l.runDir(), l.dir()); err != nil {
		errs = append(errs, err)
	}
	if err := l.removeNetwork(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("cluster %s: left its files in %s: %w", name, l.dir(), errors.Join(errs...))
	}
	if err := os.RemoveAll(l.runDir()); err != nil {
		return err
	}
	if err := os.RemoveAll(l.dir()); err != nil {
		return err
	}
	fmt.Fprintf(o.Progress, "Deleted cluster %q\n", name)
	return nil
}

// deletePods deletes every autoscaler, replica set and pod, then waits
// until no node has a sandbox or container left.
func (l layout) deletePods(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	opts, err := client.OptionsFor(l.ConfigFile())
	if err != nil {
		return err
	}
	c, err := client.New(l.Server(), opts)
	if err != nil {
		return err
	}
	defer c.Close()
	all := client.ListOptions{}
	if as, _, err := c.Autoscalers().List(ctx, all); err == nil {
		for _, a := range as {
			c.Autoscalers().Delete(ctx, a.Metadata.Namespace, a.Metadata.Name, client.DeleteOptions{})
		}
	}
	if rs, _, err := c.ReplicaSets().List(ctx, all); err == nil {
		for _, r := range rs {
			c.ReplicaSets().Delete(ctx, r.Metadata.Namespace, r.Metadata.Name, client.DeleteOptions{})
		}
	}
	for {
		pods, _, err := c.Pods().List(ctx, all)
		if err != nil {
			return err
		}
		for _, p := range pods {
			c.Pods().Delete(ctx, p.Metadata.Namespace, p.Metadata.Name, client.DeleteOptions{Force: true})
		}
		if len(pods) == 0 && len(l.podUIDs()) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pods still on the nodes: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// podUIDs are the pods any node of the cluster still has state of.
func (l layout) podUIDs() []string {
	set := map[string]bool{}
	for _, node := range l.nodes() {
		for _, dir := range []string{
			filepath.Join(l.nodeRunDir(node), "runtime", "sandboxes"),
			filepath.Join(l.nodeDir(node), "agent", "runtime", "containers"),
		} {
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				uid, _, _ := strings.Cut(e.Name(), ".")
				set[uid] = true
			}
		}
	}
	var out []string
	for uid := range set {
		out = append(out, uid)
	}
	sort.Strings(out)
	return out
}

// killLeftovers ends what the agents left: every process in the cgroups of
// the cluster's pods (which are then removed) and every process still in a
// node's network namespace (supervisors of containers not torn down).
func (l layout) killLeftovers() error {
	var errs []error
	for _, uid := range l.podUIDs() {
		dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", "skiff", "pod-"+uid))
		for _, d := range dirs {
			if err := removeCgroup(d); err != nil {
				errs = append(errs, err)
			}
		}
	}
	var inodes []uint64
	for _, node := range l.nodes() {
		var st unix.Stat_t
		if isNamespace(l.netnsPath(node)) && unix.Stat(l.netnsPath(node), &st) == nil {
			inodes = append(inodes, st.Ino)
		}
	}
	for _, pid := range pidsInNetNS(inodes) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	return errors.Join(errs...)
}

// removeCgroup kills the processes of a cgroup tree (thawing a frozen one
// first: it ignores SIGKILL) and removes it, deepest first.
func removeCgroup(dir string) error {
	var dirs []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for _, d := range dirs {
		os.WriteFile(filepath.Join(d, "freezer.state"), []byte("THAWED"), 0o644)
		data, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	var err error
	for i := len(dirs) - 1; i >= 0; i-- {
		for try := 0; try < 50; try++ {
			if err = os.Remove(dirs[i]); err == nil || errors.Is(err, os.ErrNotExist) {
				err = nil
				break
			}
			time.Sleep(20 * time.Millisecond) // the killed processes are still exiting
		}
	}
	if err != nil {
		return fmt.Errorf("cgroup %s: %w", dir, err)
	}
	return nil
}

// pidsInNetNS lists the processes whose network namespace is one of
// inodes.
func pidsInNetNS(inodes []uint64) []int {
	if len(inodes) == 0 {
		return nil
	}
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st) != nil {
			continue
		}
		for _, ino := range inodes {
			if st.Ino == ino {
				out = append(out, pid)
			}
		}
	}
	return out
}

// unmountUnder detaches every mount whose mount point is under one of the
// dirs, deepest first (container root file systems, pinned pod
// namespaces, volumes).
func unmountUnder(dirs ...string) error {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMount(f[4])
		for _, d := range dirs {
			if mp == d || strings.HasPrefix(mp, d+"/") {
				points = append(points, mp)
			}
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	var errs []error
	for _, p := range points {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
