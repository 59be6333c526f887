package runtime

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestSandboxSharesLocalhostAndIPC(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	ctx, cancel := context.WithTimeout(context.Background(), scaled(60*time.Second))
	defer cancel()
	sb, err := r.CreateSandbox(SandboxSpec{ID: "pod1", Hostname: "web-1"})
	if err != nil {
		t.Fatal(err)
	}
	if sb.NetNS == "" {
		t.Fatal("no netns path")
	}
	// The server's stdin is a FIFO it holds open itself: never data, never
	// EOF. With /dev/null, its nc half-closed the connection at once, and a
	// client that saw that FIN before it read its own stdin left without
	// sending anything (busybox nc ends on the socket's EOF).
	server := shSpec("server", []string{layer}, "touch /dev/mqueue/from-server; hostname; mkdir -p /tmp; mkfifo /tmp/in; nc -l -p 8080 <>/tmp/in")
	server.SandboxID = "pod1"
	if _, err := r.Create(ctx, server); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx, "server"); err != nil {
		t.Fatal(err)
	}
	client := shSpec("client", []string{layer}, `ls /dev/mqueue; hostname
for i in $(seq 100); do echo hello-over-lo | nc 127.0.0.1 8080 && exit 0; sleep 0.05; done; exit 1`)
	client.SandboxID = "pod1"
	st, out := run(t, r, client)
	if st.ExitCode != 0 {
		t.Fatalf("client: %+v\n%s", st, out)
	}
	if !strings.Contains(out, "from-server") {
		t.Errorf("client does not see the server's message queue:\n%s", out)
	}
	if !strings.Contains(out, "web-1") {
		t.Errorf("client does not see the pod hostname:\n%s", out)
	}
	ps, err := r.SandboxStats("pod1")
	if err != nil || ps.CPUUsageNs == 0 {
		t.Errorf("pod stats %+v %v", ps, err)
	}
	sst, err := r.Wait(ctx, "server")
	if err != nil {
		t.Fatal(err)
	}
	if sout := logText(t, sst.LogPath); !strings.Contains(sout, "hello-over-lo") || !strings.Contains(sout, "web-1") {
		t.Errorf("server log:\n%s", sout)
	}
	for _, id := range []string{"server", "client"} {
		if err := r.Remove(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.RemoveSandbox("pod1"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Sandbox("pod1"); err == nil {
		t.Error("sandbox still there")
	}
}

// A sandbox directory whose namespaces are gone (what a reboot leaves
// when the run directory is no tmpfs) does not stop a new sandbox of the
// same pod; a live one does.
func TestCreateSandboxOverWhatARebootLeft(t *testing.T) {
	r := newTestRuntime(t)
	if _, err := r.CreateSandbox(SandboxSpec{ID: "pod1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.CreateSandbox(SandboxSpec{ID: "pod1"}); !errors.Is(err, ErrExists) {
		t.Fatalf("a second sandbox beside a live one: %v, want ErrExists", err)
	}
	for _, ns := range []string{"net", "ipc", "uts"} {
		if err := unix.Unmount(filepath.Join(r.sandboxDir("pod1"), ns), unix.MNT_DETACH); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Sandbox("pod1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a sandbox without its namespaces: %v, want ErrNotFound", err)
	}
	if _, err := r.CreateSandbox(SandboxSpec{ID: "pod1"}); err != nil {
		t.Fatalf("a sandbox over what the old one left: %v", err)
	}
	if _, err := r.Sandbox("pod1"); err != nil {
		t.Fatalf("the new sandbox: %v", err)
	}
}
