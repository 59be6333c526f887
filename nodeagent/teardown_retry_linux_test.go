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
	h := newHarness(t)
	failed := &signalHandler{msg: "pod sync", ch: make(chan struct{})}
	h.stopAgent()
	h.cfg.Logger = slog.New(failed)
	h.startAgent()
	pod := h.pod("stuck", "exec sleep 1000")
	one := int64(1)
	pod.Spec.TerminationGracePeriodSeconds = &one
	p := h.create(pod)
	h.waitPod("stuck", "running", phase("Running"))

	busy := filepath.Join(h.cfg.RunDir, "pods", p.Metadata.Uid, "busy")
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

	if _, _, err := h.c.Pods().Delete(h.ctx(), "default", "stuck", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-failed.ch: // the first teardown failed on the mount
	case <-time.After(60 * time.Second):
		t.Fatal("the teardown did not fail on the mount")
	}
	unmount()
	h.waitGone("stuck")
}
