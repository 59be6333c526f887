package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	spec := shSpec("cpu", []string{layer}, "while :; do :; done")
	spec.Resources.CPUQuotaUs = 20000 // 20% of one CPU
	spec.Resources.CPUShares = 512
	if _, err := r.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	cgdir := filepath.Join("/sys/fs/cgroup/cpu", r.cfg.Cgroups.Parent, "cpu")
	if b, _ := os.ReadFile(filepath.Join(cgdir, "cpu.cfs_quota_us")); strings.TrimSpace(string(b)) != "20000" {
		t.Errorf("cpu.cfs_quota_us = %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(cgdir, "cpu.shares")); strings.TrimSpace(string(b)) != "512" {
		t.Errorf("cpu.shares = %q", b)
	}
	if err := r.Start(ctx, "cpu"); err != nil {
		t.Fatal(err)
	}
	s0, err := r.Stats("cpu")
	if err != nil {
		t.Fatal(err)
	}
	const window = 1 * time.Second
	time.Sleep(window)
	s1, err := r.Stats("cpu")
	if err != nil {
		t.Fatal(err)
	}
	used := time.Duration(s1.CPUUsageNs - s0.CPUUsageNs)
	// 20% of 1s is 200ms; allow scheduling slack, but a busy loop without
	// the quota would take ~1s.
	if used < 100*time.Millisecond || used > 350*time.Millisecond {
		t.Errorf("cpu used in %v: %v, want about 200ms", window, used)
	}
	if s1.Pids != 1 || s1.MemoryWorkingSet == 0 {
		t.Errorf("stats %+v", s1)
	}
	if err := r.UpdateResources("cpu", Resources{CPUQuotaUs: 50000}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(cgdir, "cpu.cfs_quota_us")); strings.TrimSpace(string(b)) != "50000" {
		t.Errorf("updated cpu.cfs_quota_us = %q", b)
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
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
	t0 := time.Now()
	if err := r.Stop(bgCtx(t), "never-started", 0, time.Second); err != nil {
		t.Fatal(err)
	}
	st, _ := r.State("never-started")
	if st.Status != StatusExited || st.Error == "" || time.Since(t0) > 3*time.Second {
		t.Errorf("after stop: %+v (%v)", st, time.Since(t0))
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
