package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to write from Attach while the test
// reads it.
type syncBuffer struct {
	lockedWriter
	b bytes.Buffer
}

func newSyncBuffer() *syncBuffer {
	s := &syncBuffer{}
	s.w = &s.b
	return s
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitOutput waits until b holds want.
func waitOutput(t *testing.T, b *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(scaled(20 * time.Second))
	for !strings.Contains(b.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output %q has no %q", b.String(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startInteractive starts spec and checks it is still running a moment
// later: a shell on /dev/null would have exited by then.
func startInteractive(t *testing.T, r *Runtime, spec ContainerSpec) {
	t.Helper()
	if _, err := r.Create(bgCtx(t), spec); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(bgCtx(t), spec.ID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if st, err := r.State(spec.ID); err != nil || st.Status != StatusRunning {
		t.Fatalf("state %+v, %v: want running", st, err)
	}
}

// attachAsync runs Attach in the background; the channel gets its result.
func attachAsync(r *Runtime, ctx context.Context, id string, spec AttachSpec) <-chan error {
	done := make(chan error, 1)
	go func() { done <- r.Attach(ctx, id, spec) }()
	return done
}

func awaitAttach(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("attach: %v", err)
		}
	case <-time.After(scaled(30 * time.Second)):
		t.Fatal("attach did not end with the container")
	}
}

// A shell with stdin waits for it; two clients see its output, one feeds
// it, and the exit status is the shell's.
func TestAttachStdinShell(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	spec := ContainerSpec{ID: "sh", Layers: []string{layer}, Command: []string{"/bin/sh"}, Stdin: true}
	startInteractive(t, r, spec)

	watcherOut := newSyncBuffer()
	watcher := attachAsync(r, bgCtx(t), "sh", AttachSpec{Stdout: watcherOut})
	inR, inW := io.Pipe()
	out, errOut := newSyncBuffer(), newSyncBuffer()
	client := attachAsync(r, bgCtx(t), "sh", AttachSpec{Stdin: inR, Stdout: out, Stderr: errOut})
	time.Sleep(200 * time.Millisecond) // both connected
	io.WriteString(inW, "echo hi; echo oops >&2; exit 3\n")
	awaitAttach(t, client)
	awaitAttach(t, watcher)
	if out.String() != "hi\n" || errOut.String() != "oops\n" {
		t.Errorf("stdout %q stderr %q", out.String(), errOut.String())
	}
	if watcherOut.String() != "hi\n" {
		t.Errorf("second client's stdout %q", watcherOut.String())
	}
	st, err := r.Wait(bgCtx(t), "sh")
	if err != nil || st.ExitCode != 3 {
		t.Fatalf("state %+v, %v: want exit 3", st, err)
	}
	if log := logText(t, st.LogPath); !strings.Contains(log, "hi\n") {
		t.Errorf("log %q", log)
	}
	if _, err := os.Stat(filepath.Join(r.liveDir("sh"), attachSocket)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("attach socket left after exit: %v", err)
	}
	if err := r.Attach(bgCtx(t), "sh", AttachSpec{}); !errors.Is(err, ErrNotRunning) {
		t.Errorf("attach to an exited container: %v", err)
	}
}

// With a terminal the shell's stdin is a tty, it sees resizes, and its
// output is logged as stdout.
func TestAttachTTY(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	spec := ContainerSpec{ID: "tty", Layers: []string{layer}, Command: []string{"/bin/sh"}, Stdin: true, TTY: true}
	startInteractive(t, r, spec)

	inR, inW := io.Pipe()
	resize := make(chan WindowSize, 1)
	out := newSyncBuffer()
	done := attachAsync(r, bgCtx(t), "tty", AttachSpec{Stdin: inR, Stdout: out, TTY: true,
		Size: WindowSize{Rows: 20, Cols: 70}, Resize: resize})
	io.WriteString(inW, "[ -t 0 ] && [ -t 1 ] && echo tty-$((6*7)); stty size\n")
	waitOutput(t, out, "tty-42")
	waitOutput(t, out, "20 70")
	resize <- WindowSize{Rows: 40, Cols: 120}
	// The resize and the next line travel apart: ask until it shows.
	deadline := time.Now().Add(scaled(10 * time.Second))
	for !strings.Contains(out.String(), "40 120") && time.Now().Before(deadline) {
		io.WriteString(inW, "stty size\n")
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "40 120") {
		t.Fatalf("no resize seen: %q", out.String())
	}
	io.WriteString(inW, "exit 5\n")
	awaitAttach(t, done)
	st, err := r.Wait(bgCtx(t), "tty")
	if err != nil || st.ExitCode != 5 {
		t.Fatalf("state %+v, %v: want exit 5", st, err)
	}
	var stdout strings.Builder
	ReadLogs(context.Background(), st.LogPath, LogOptions{Tail: -1}, func(rec LogRecord) error {
		if rec.Stream != "stdout" {
			t.Errorf("record on %s: %q", rec.Stream, rec.Text)
		}
		stdout.Write(rec.Text)
		return nil
	})
	if !strings.Contains(stdout.String(), "tty-42") {
		t.Errorf("log %q", stdout.String())
	}
}

// A container with a terminal that writes and exits at once has all of its
// output logged: the terminal's last line is not lost with its last close.
func TestTTYContainerLogsItsLastLine(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	for i := range 5 {
		id := fmt.Sprintf("tty-exit-%d", i)
		spec := ContainerSpec{ID: id, Layers: []string{layer}, TTY: true,
			Command: []string{"sh", "-c", "echo first; echo last"}}
		if _, err := r.Create(bgCtx(t), spec); err != nil {
			t.Fatal(err)
		}
		if err := r.Start(bgCtx(t), id); err != nil {
			t.Fatal(err)
		}
		st, err := r.Wait(bgCtx(t), id)
		if err != nil || st.ExitCode != 0 {
			t.Fatalf("%s: state %+v, %v: want exit 0", id, st, err)
		}
		if log := logText(t, st.LogPath); !strings.Contains(log, "first\r\nlast\r\n") {
			t.Fatalf("%s: log %q, want its two lines", id, log)
		}
	}
}

// StdinOnce: the container's stdin ends with the first client's; without
// it, a client's end of stdin leaves the container's open.
func TestAttachStdinOnce(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	for _, once := range []bool{true, false} {
		id := map[bool]string{true: "once", false: "many"}[once]
		spec := shSpec(id, []string{layer}, "cat; echo got-eof")
		spec.Stdin, spec.StdinOnce = true, once
		startInteractive(t, r, spec)
		ctx, cancel := context.WithTimeout(context.Background(), scaled(time.Second))
		out := newSyncBuffer()
		err := r.Attach(ctx, id, AttachSpec{Stdin: strings.NewReader("line\n"), Stdout: out})
		cancel()
		st, serr := r.State(id)
		if serr != nil {
			t.Fatal(serr)
		}
		if once {
			if err != nil || out.String() != "line\ngot-eof\n" {
				t.Errorf("stdinOnce: attach %v, output %q", err, out.String())
			}
			if st, err := r.Wait(bgCtx(t), id); err != nil || st.ExitCode != 0 {
				t.Errorf("stdinOnce: %+v %v", st, err)
			}
			continue
		}
		if !errors.Is(err, context.DeadlineExceeded) || out.String() != "line\n" || st.Status != StatusRunning {
			t.Errorf("without stdinOnce: attach %v, output %q, status %s; want the container still reading", err, out.String(), st.Status)
		}
		// A later client's stdin still reaches it.
		ctx, cancel = context.WithTimeout(context.Background(), scaled(time.Second))
		out = newSyncBuffer()
		r.Attach(ctx, id, AttachSpec{Stdin: strings.NewReader("again\n"), Stdout: out})
		cancel()
		if out.String() != "again\n" {
			t.Errorf("second client: output %q", out.String())
		}
	}
}

// A container without stdin or tty has no attach socket, and attach asks
// for nothing the container was not made with.
func TestAttachRefusals(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	startSleeper(t, r, "plain", []string{layer})
	if _, err := os.Stat(filepath.Join(r.liveDir("plain"), attachSocket)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a plain container has an attach socket: %v", err)
	}
	if err := r.Attach(bgCtx(t), "plain", AttachSpec{}); !errors.Is(err, ErrNoAttach) {
		t.Errorf("attach to a plain container: %v", err)
	}
	if n := supervisorSockets(t, r, "plain"); n != 0 {
		t.Errorf("a plain container's supervisor holds %d sockets", n)
	}
	ttyOnly := ContainerSpec{ID: "ttyonly", Layers: []string{layer}, Command: []string{"sleep", "1000"}, TTY: true}
	startInteractive(t, r, ttyOnly)
	fi, err := os.Stat(filepath.Join(r.liveDir("ttyonly"), attachSocket))
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("attach socket %v, %v: want a socket of mode 0600", fi, err)
	}
	if n := supervisorSockets(t, r, "ttyonly"); n != 1 {
		t.Errorf("a tty container's supervisor holds %d sockets, want its listener", n)
	}
	if err := r.Attach(bgCtx(t), "ttyonly", AttachSpec{Stdin: strings.NewReader("x")}); !errors.Is(err, ErrNoStdin) {
		t.Errorf("stdin to a container without it: %v", err)
	}
	stdinOnly := ContainerSpec{ID: "stdinonly", Layers: []string{layer}, Command: []string{"sleep", "1000"}, Stdin: true}
	startInteractive(t, r, stdinOnly)
	if err := r.Attach(bgCtx(t), "stdinonly", AttachSpec{TTY: true}); !errors.Is(err, ErrNoTTY) {
		t.Errorf("tty of a container without one: %v", err)
	}
	// A supervisor of an older shim listens on no socket.
	if err := os.Remove(filepath.Join(r.liveDir("stdinonly"), attachSocket)); err != nil {
		t.Fatal(err)
	}
	if err := r.Attach(bgCtx(t), "stdinonly", AttachSpec{}); !errors.Is(err, ErrOldSupervisor) {
		t.Errorf("attach without a socket: %v", err)
	}
}

// supervisorSockets counts the sockets a container's supervisor holds.
func supervisorSockets(t *testing.T, r *Runtime, id string) int {
	t.Helper()
	rec, err := r.readState(id)
	if err != nil {
		t.Fatal(err)
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", rec.SupervisorPid))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fd := range fds {
		if link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", rec.SupervisorPid, fd.Name())); strings.HasPrefix(link, "socket:") {
			n++
		}
	}
	return n
}
