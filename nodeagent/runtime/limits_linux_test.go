package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/nodeagent/runtime/cgroups"
)

func TestMemoryLimitOOMKilled(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	// Fill a tmpfs-free buffer in memory: a shell variable doubling.
	spec := shSpec("oom", []string{layer}, `x=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; while true; do x="$x$x"; done`)
	spec.Resources.MemoryLimit = 32 << 20
	st, out := run(t, r, spec)
	if !st.OOMKilled || st.Signal != 9 {
		t.Fatalf("want OOM-killed by SIGKILL, got %+v\n%s", st, out)
	}
}

func TestCPUQuotaVisibleInUsage(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	ctx, cancel := context.WithTimeout(context.Background(), scaled(30*time.Second))
	defer cancel()
	spec := shSpec("cpu", []string{layer}, "while :; do :; done")
	spec.Resources.CPUQuotaUs = 20000 // 20% of one CPU
	spec.Resources.CPUShares = 512
	if _, err := r.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	cg, err := r.cgroup("cpu")
	if err != nil {
		t.Fatal(err)
	}
	// The same limits under each interface's names: v2 writes cpu.max
	// and converts the shares to a weight (runc's mapping).
	cgdir := cg.Path("cpu")
	quotaFile, quota, shareFile, share := "cpu.cfs_quota_us", "20000", "cpu.shares", "512"
	if r.cfg.CgroupMode == cgroups.ModeV2 {
		quotaFile, quota, shareFile, share = "cpu.max", "20000 100000", "cpu.weight", "20"
	}
	if b, err := os.ReadFile(filepath.Join(cgdir, quotaFile)); strings.TrimSpace(string(b)) != quota {
		t.Errorf("%s = %q (%v), want %s", quotaFile, b, err, quota)
	}
	if b, err := os.ReadFile(filepath.Join(cgdir, shareFile)); strings.TrimSpace(string(b)) != share {
		t.Errorf("%s = %q (%v), want %s", shareFile, b, err, share)
	}
	if err := r.Start(ctx, "cpu"); err != nil {
		t.Fatal(err)
	}
	// A quota of 20 ms per 100 ms period throttles a busy loop, and the
	// loop never gets much more than its 20 ms in any period: both read
	// from the kernel's own counters (cpu.stat), so a loaded machine that
	// runs the loop less cannot fail this. Without the quota it would take
	// up to 100 ms a period and never be throttled.
	deadline := time.Now().Add(30 * time.Second)
	for _, throttled := cpuStat(t, cgdir); throttled < 5; _, throttled = cpuStat(t, cgdir) {
		if time.Now().After(deadline) {
			t.Fatalf("a busy loop under a 20%% quota was throttled %d times in 30s", throttled)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s1, err := r.Stats("cpu")
	if err != nil {
		t.Fatal(err)
	}
	periods, _ := cpuStat(t, cgdir)
	// Twice the quota per period: room for the tick a task may overrun by.
	if used, most := time.Duration(s1.CPUUsageNs), time.Duration(periods+1)*2*20*time.Millisecond; used > most {
		t.Errorf("cpu used over %d periods: %v, want at most %v", periods, used, most)
	}
	if s1.Pids != 1 || s1.MemoryWorkingSet == 0 {
		t.Errorf("stats %+v", s1)
	}
	if err := r.UpdateResources("cpu", Resources{CPUQuotaUs: 50000}); err != nil {
		t.Fatal(err)
	}
	if r.cfg.CgroupMode == cgroups.ModeV2 {
		quota = "50000 100000"
	} else {
		quota = "50000"
	}
	if b, err := os.ReadFile(filepath.Join(cgdir, quotaFile)); strings.TrimSpace(string(b)) != quota {
		t.Errorf("updated %s = %q (%v), want %s", quotaFile, b, err, quota)
	}
	if err := r.Stop(ctx, "cpu", 0, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// sh as PID 1 has no TERM handler, so the kernel drops SIGTERM and
	// Stop escalates.
	st, _ := r.State("cpu")
	if st.Status != StatusExited || st.Signal != 9 {
		t.Errorf("after stop: %+v", st)
	}
}

func TestPidsLimitForkFails(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	spec := shSpec("pids", []string{layer}, `for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & done; echo started; kill $(jobs -p) 2>/dev/null; exit 0`)
	spec.Resources.PidsLimit = 5
	st, out := run(t, r, spec)
	if !strings.Contains(out, "can't fork") && !strings.Contains(out, "Resource temporarily unavailable") {
		t.Fatalf("fork did not fail under pids.max=5: %+v\n%s", st, out)
	}
}

func TestStopEscalatesToKill(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	ctx, cancel := context.WithTimeout(context.Background(), scaled(30*time.Second))
	defer cancel()
	spec := shSpec("stubborn", []string{layer}, `trap "" TERM; echo ready; while :; do sleep 1; done`)
	if _, err := r.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx, "stubborn"); err != nil {
		t.Fatal(err)
	}
	waitLog(t, r, "stubborn", "ready")
	t0 := time.Now()
	if err := r.Stop(ctx, "stubborn", 0, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	st, _ := r.State("stubborn")
	if st.Signal != 9 || time.Since(t0) < 300*time.Millisecond {
		t.Errorf("state %+v after %v", st, time.Since(t0))
	}
	if st.FinishedAt.Before(st.StartedAt) || st.StartedAt.IsZero() {
		t.Errorf("times: %+v", st)
	}
}

// waitLog waits until the container's log holds want.
func waitLog(t *testing.T, r *Runtime, id, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		st, err := r.State(id)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(st.LogPath); strings.Contains(string(b), want) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never logged %q", id, want)
}

func TestPauseResume(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	spec := shSpec("ticker", []string{layer}, "i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.02; done")
	if _, err := r.Create(bgCtx(t), spec); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(bgCtx(t), "ticker"); err != nil {
		t.Fatal(err)
	}
	waitLog(t, r, "ticker", "tick 2")
	if err := r.Pause("ticker"); err != nil {
		t.Fatal(err)
	}
	st, _ := r.State("ticker")
	before, _ := os.ReadFile(st.LogPath)
	time.Sleep(200 * time.Millisecond)
	after, _ := os.ReadFile(st.LogPath)
	if len(after) != len(before) {
		t.Errorf("paused container kept logging")
	}
	if err := r.Resume("ticker"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if again, _ := os.ReadFile(st.LogPath); len(again) > len(after) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("resumed container is silent")
		}
	}
	// Stop must work on a paused container too.
	if err := r.Pause("ticker"); err != nil {
		t.Fatal(err)
	}
	if err := r.Stop(bgCtx(t), "ticker", 0, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.State("ticker"); st.Status != StatusExited {
		t.Errorf("state %+v", st)
	}
}

func TestStopAndRemoveOfCreatedContainer(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	for _, id := range []string{"never-started", "removed-unstarted"} {
		if _, err := r.Create(bgCtx(t), shSpec(id, []string{layer}, "true")); err != nil {
			t.Fatal(err)
		}
		if st, _ := r.State(id); st.Status != StatusCreated {
			t.Fatalf("state %+v", st)
		}
	}
	if err := r.Stop(bgCtx(t), "never-started", 0, time.Second); err != nil {
		t.Fatal(err)
	}
	st, _ := r.State("never-started")
	if st.Status != StatusExited || st.Error == "" {
		t.Errorf("after stop: %+v", st)
	}
	if err := r.Start(bgCtx(t), "never-started"); err == nil {
		t.Error("start after stop succeeded")
	}
	if err := r.Remove(bgCtx(t), "removed-unstarted"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.State("removed-unstarted"); err == nil {
		t.Error("state of a removed container")
	}
}

// cpuStat reads a cpu cgroup's bandwidth counters (the same keys in v1
// and v2): the periods it had
// runnable tasks in, and how many of them it was throttled in.
func cpuStat(t *testing.T, dir string) (periods, throttled uint64) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, _ := strings.Cut(line, " ")
		n, _ := strconv.ParseUint(v, 10, 64)
		switch k {
		case "nr_periods":
			periods = n
		case "nr_throttled":
			throttled = n
		}
	}
	return periods, throttled
}
