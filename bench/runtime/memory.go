package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	ctrruntime "github.com/skiff-sh/skiff/nodeagent/runtime"
	"github.com/skiff-sh/skiff/nodeagent/runtime/cgroups"
)

// memContainers is how many containers run at once while their
// supervisors' memory is read: PSS divides shared pages among them, as
// on a node with many pods.
const memContainers = 10

// memRow is the mean memory of one runtime's per-container process.
type memRow struct {
	name     string
	rssKB    int64
	pssKB    int64
	startup  startupStats // skiff's supervisors only
	hasStart bool
}

// supervisorMemory runs memContainers sleeping containers from
// opts.binary and reads their supervisors' smaps_rollup.
func supervisorMemory(work, rootfs string, opts skiffOpts) (memRow, error) {
	parent := fmt.Sprintf("skiff-bench-mem-%d", os.Getpid())
	r, err := ctrruntime.New(ctrruntime.Config{
		StateDir: filepath.Join(work, "mem-state"),
		RunDir:   filepath.Join(runRoot(work), "mem"),
		Binary:   opts.binary,
		GoInit:   opts.goInit,
		Cgroups:  cgroups.Config{Parent: parent},
	})
	if err != nil {
		return memRow{}, err
	}
	defer r.Close()
	defer func() {
		if cg, err := cgroups.New(cgroups.Config{Parent: parent}, cgroups.ModeAuto, "."); err == nil {
			cg.Destroy()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var sups []int
	for i := range memContainers {
		id := fmt.Sprintf("mem%d", i)
		spec := ctrruntime.ContainerSpec{ID: id, Layers: []string{rootfs}, Command: []string{"/bin/sleep", "1000"}}
		if _, err := r.Create(ctx, spec); err != nil {
			return memRow{}, err
		}
		defer r.Remove(context.Background(), id)
		defer r.Stop(context.Background(), id, syscall.SIGKILL, 0)
		if err := r.Start(ctx, id); err != nil {
			return memRow{}, err
		}
		st, err := r.State(id)
		if err != nil {
			return memRow{}, err
		}
		ppid, err := parentPid(st.Pid)
		if err != nil {
			return memRow{}, err
		}
		sups = append(sups, ppid)
	}
	time.Sleep(500 * time.Millisecond) // past the start's transient allocations
	row, err := meanMemory(sups)
	if err != nil {
		return row, err
	}
	row.startup, err = supervisorStartup(opts.binary)
	row.hasStart = err == nil
	return row, err
}

// conmonMemory runs memContainers sleeping containers under conmon and
// runc (podman's and CRI-O's arrangement) and reads conmon's memory.
func conmonMemory(work, bundle string) (memRow, error) {
	sleepBundle := filepath.Join(work, "sleep-bundle")
	if err := os.MkdirAll(sleepBundle, 0o755); err != nil {
		return memRow{}, err
	}
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return memRow{}, err
	}
	var spec map[string]any
	if err := json.Unmarshal(b, &spec); err != nil {
		return memRow{}, err
	}
	spec["process"].(map[string]any)["args"] = []string{"/bin/sleep", "1000"}
	spec["root"].(map[string]any)["path"] = filepath.Join(bundle, "rootfs")
	if b, err = json.Marshal(spec); err != nil {
		return memRow{}, err
	}
	if err := os.WriteFile(filepath.Join(sleepBundle, "config.json"), b, 0o644); err != nil {
		return memRow{}, err
	}
	root := filepath.Join(work, "conmon-runc")
	runc := func(args ...string) error {
		out, err := exec.Command("runc", append([]string{"--root", root}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("runc %s: %v: %s", args[0], err, out)
		}
		return nil
	}
	var pids []int
	for i := range memContainers {
		id := fmt.Sprintf("conmon-bench-%d-%d", os.Getpid(), i)
		dir := filepath.Join(work, id)
		if err := os.MkdirAll(filepath.Join(dir, "exits"), 0o755); err != nil {
			return memRow{}, err
		}
		pidfile := filepath.Join(dir, "conmon.pid")
		cmd := exec.Command("conmon", "--cid", id, "--cuuid", id, "--name", id,
			"--runtime", "/usr/sbin/runc", "--runtime-arg", "--root", "--runtime-arg", root,
			"--bundle", sleepBundle, "--container-pidfile", filepath.Join(dir, "ctr.pid"),
			"--conmon-pidfile", pidfile, "--log-path", filepath.Join(dir, "ctr.log"),
			"--exit-dir", filepath.Join(dir, "exits"), "--socket-dir-path", dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			return memRow{}, fmt.Errorf("conmon: %v: %s", err, out)
		}
		defer runc("delete", "--force", id)
		// conmon returns before its `runc create` has finished.
		if err := waitFile(filepath.Join(dir, "ctr.pid")); err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "ctr.log"))
			return memRow{}, fmt.Errorf("%w (container log: %q)", err, log)
		}
		if err := runc("start", id); err != nil {
			return memRow{}, err
		}
		if err := waitFile(pidfile); err != nil {
			return memRow{}, err
		}
		b, err := os.ReadFile(pidfile)
		if err != nil {
			return memRow{}, err
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return memRow{}, fmt.Errorf("conmon pid file: %w", err)
		}
		pids = append(pids, pid)
	}
	time.Sleep(500 * time.Millisecond)
	row, err := meanMemory(pids)
	row.name = "conmon"
	return row, err
}

func waitFile(path string) error {
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not appear", path)
		}
	}
}

func meanMemory(pids []int) (memRow, error) {
	var row memRow
	for _, pid := range pids {
		rss, pss, err := smapsRollup(pid)
		if err != nil {
			return row, err
		}
		row.rssKB += rss
		row.pssKB += pss
	}
	row.rssKB /= int64(len(pids))
	row.pssKB /= int64(len(pids))
	return row, nil
}

// smapsRollup returns a process's Rss and Pss in kB.
func smapsRollup(pid int) (rss, pss int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "Rss:":
			rss = v
		case "Pss:":
			pss = v
		}
	}
	return rss, pss, sc.Err()
}

func parentPid(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return strconv.Atoi(f[1])
}

func reportMemory(rows []memRow) {
	fmt.Printf("per-container process, mean of %d running containers\n", memContainers)
	fmt.Printf("%-10s %10s %10s\n", "runtime", "RSS", "PSS")
	for _, r := range rows {
		fmt.Printf("%-10s %8.2fMB %8.2fMB\n", r.name, float64(r.rssKB)/1024, float64(r.pssKB)/1024)
	}
	fmt.Printf("\nsupervisor start-up, %d starts: exec until it waits for its job (init forked), wall and its CPU; exec to exit of __skiff-protocol\n", supStarts)
	fmt.Printf("%-10s %18s %18s %18s\n", "runtime", "wall p50 / p99", "CPU p50 / p99", "protocol p50 / p99")
	for _, r := range rows {
		if r.hasStart {
			s := r.startup
			fmt.Printf("%-10s %18s %18s %18s\n", r.name, ms(s.p50)+" / "+ms(s.p99), ms(s.cpu50)+" / "+ms(s.cpu99), ms(s.proto50)+" / "+ms(s.proto))
		}
	}
}
