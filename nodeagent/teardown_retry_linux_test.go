package nodeagent_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// signalHandler closes ch the first time a record with message msg is
// logged.
type signalHandler struct {
	msg string
	ch  chan struct{}
}

func (h *signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *signalHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		select {
		case <-h.ch:
		default:
			close(h.ch)
		}
	}
	return nil
}
func (h *signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *signalHandler) WithGroup(string) slog.Handler      { return h }

// A teardown that fails (here: a mount left in the pod's run directory)
// must be retried, not leave the pod Terminating for good.
func TestFailedTeardownIsRetried(t *testing.T) {
	h, _, unmount := stuckPod(t, "pod sync")
	if _, _, err := h.c.Pods().Delete(h.ctx(), "default", "stuck", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSignal(t, h.failed)
	unmount()
	h.waitGone("stuck")
}

// The same for a pod deleted with force: it has left the API at once, and
// its worker must keep tearing it down until nothing is left.
func TestFailedForcedTeardownIsRetried(t *testing.T) {
	h, p, unmount := stuckPod(t, "teardown")
	if _, _, err := h.c.Pods().Delete(h.ctx(), "default", "stuck", client.DeleteOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	waitSignal(t, h.failed)
	unmount()
	waitGoneFile(t, filepath.Join(h.cfg.DataDir, "pods", p.Metadata.Uid), 60*time.Second)
}

// A pod in a long graceful termination (its container ignores SIGTERM,
// its grace period is minutes) that is then deleted with force is killed
// at once, as the kubelet does, not when its grace period ends.
func TestForceDeleteCutsGracefulTerminationShort(t *testing.T) {
	h := newHarness(t)
	pod := h.pod("slow", `trap "" TERM; while :; do sleep 1; done`)
	grace := int64(600)
	pod.Spec.TerminationGracePeriodSeconds = &grace
	p := h.create(pod)
	h.waitPod("slow", "running", phase("Running"))
	if _, _, err := h.c.Pods().Delete(h.ctx(), "default", "slow", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the agent is now waiting out the grace period
	if _, _, err := h.c.Pods().Delete(h.ctx(), "default", "slow", client.DeleteOptions{Force: true}); err != nil && !client.IsNotFound(err) {
		t.Fatal(err)
	}
	waitPodDirGone(t, h, p.Metadata.Uid, 30*time.Second)
}

// waitPodDirGone waits until the agent has removed the pod's run
// directory, the last step of its teardown.
func waitPodDirGone(t *testing.T, h *harness, uid string, within time.Duration) {
	t.Helper()
	waitGoneFile(t, filepath.Join(h.cfg.RunDir, "pods", uid), within)
}

// waitGoneFile waits until dir no longer exists.
func waitGoneFile(t *testing.T, dir string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		_, err := os.Stat(dir)
		if os.IsNotExist(err) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still there after %s", dir, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type stuckHarness struct {
	*harness
	failed *signalHandler
}

// stuckPod runs a pod whose data directory holds a mount, so its teardown
// fails until the returned unmount is called; the agent logs failMsg then.
func stuckPod(t *testing.T, failMsg string) (stuckHarness, *skiffv1.Pod, func()) {
	h := newHarness(t)
	failed := &signalHandler{msg: failMsg, ch: make(chan struct{})}
	h.stopAgent()
	h.cfg.Logger = slog.New(failed)
	h.startAgent()
	pod := h.pod("stuck", "exec sleep 1000")
	one := int64(1)
	pod.Spec.TerminationGracePeriodSeconds = &one
	p := h.create(pod)
	h.waitPod("stuck", "running", phase("Running"))

	// In the pod's data directory: its run directory is a tmpfs that
	// teardown detaches whole, mounts under it included.
	busy := filepath.Join(h.cfg.DataDir, "pods", p.Metadata.Uid, "busy")
	if err := os.MkdirAll(busy, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", busy, "tmpfs", 0, "size=64k"); err != nil {
		t.Fatal(err)
	}
	mounted := true
	unmount := func() {
		if mounted {
			if err := unix.Unmount(busy, unix.MNT_DETACH); err != nil {
				t.Errorf("unmount %s: %v", busy, err)
			}
			mounted = false
		}
	}
	t.Cleanup(unmount)
	return stuckHarness{h, failed}, p, unmount
}

func waitSignal(t *testing.T, h *signalHandler) {
	t.Helper()
	select {
	case <-h.ch:
	case <-time.After(60 * time.Second):
		t.Fatalf("the agent never logged %q", h.msg)
	}
}
