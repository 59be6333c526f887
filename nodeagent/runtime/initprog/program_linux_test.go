package initprog

import (
	"bytes"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// run executes the init program with s as its script and returns what it
// wrote on stdout, its reports and its exit code. sync is written to the
// init's SyncFd before it starts.
func run(t *testing.T, blob []byte, sync string) (string, [][]byte, int) {
	t.Helper()
	dir := t.TempDir()
	prog := filepath.Join(dir, "init")
	if err := os.WriteFile(prog, Program(), 0o700); err != nil {
		t.Fatal(err)
	}
	blobFile := filepath.Join(dir, "blob")
	if err := os.WriteFile(blobFile, blob, 0o600); err != nil {
		t.Fatal(err)
	}
	bf, err := os.Open(blobFile)
	if err != nil {
		t.Fatal(err)
	}
	defer bf.Close()
	syncR, syncW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	msgR, msgW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	syncW.WriteString(sync)
	syncW.Close()
	var out bytes.Buffer
	cmd := exec.Command(prog)
	cmd.Stdout = &out
	cmd.ExtraFiles = []*os.File{syncR, msgW, bf}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	syncR.Close()
	msgW.Close()
	msgs, _ := io.ReadAll(msgR)
	msgR.Close()
	err = cmd.Wait()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var recs [][]byte
	for len(msgs) >= 8 {
		recs = append(recs, msgs[:8])
		msgs = msgs[8:]
	}
	if len(msgs) != 0 {
		t.Fatalf("a torn report: %x", msgs)
	}
	return out.String(), recs, code
}

func TestProgramIsAnELFExecutable(t *testing.T) {
	f, err := elf.NewFile(bytes.NewReader(Program()))
	if err != nil {
		t.Fatal(err)
	}
	if f.Type != elf.ET_EXEC || f.Machine != machine || len(f.Progs) != 2 {
		t.Fatalf("type %v machine %v, %d segments", f.Type, f.Machine, len(f.Progs))
	}
	if len(Program()) > 1024 {
		t.Errorf("the program is %d bytes; it is meant to be a few hundred", len(Program()))
	}
}

func TestScriptRunsInOrderAndExecs(t *testing.T) {
	var s Script
	s.Call("say hello", unix.SYS_WRITE, 1, s.String("hello\n"), 6).WantResult(6)
	s.Ready()
	var scratch = s.Bytes(make([]byte, 8))
	s.Call("wait to start", unix.SYS_READ, SyncFd, scratch, 1).WantResult(1)
	s.Call("exec", unix.SYS_EXECVE, s.String("/bin/sh"),
		s.Strings([]string{"sh", "-c", `echo "$0 $GREETING"`}), s.Strings([]string{"GREETING=from the workload"}))
	out, recs, code := run(t, s.Blob(), "s")
	if out != "hello\nsh from the workload\n" || code != 0 {
		t.Fatalf("output %q, exit %d", out, code)
	}
	if len(recs) != 1 || s.Report(recs[0]) != nil {
		t.Fatalf("reports %x, want only Ready", recs)
	}
}

func TestFailedStepIsReportedByName(t *testing.T) {
	var s Script
	s.Call("open the missing file", unix.SYS_OPEN, s.String("/nonexistent/x"), 0, 0).TolerateErrno(unix.ENOENT)
	s.Call("open it again", unix.SYS_OPEN, s.String("/nonexistent/y"), 0, 0)
	s.Call("never reached", unix.SYS_WRITE, 1, s.String("no"), 2)
	out, recs, code := run(t, s.Blob(), "")
	if out != "" || code != 1 || len(recs) != 1 {
		t.Fatalf("output %q, exit %d, %d reports", out, code, len(recs))
	}
	err := s.Report(recs[0])
	if !errors.Is(err, unix.ENOENT) || !strings.HasPrefix(err.Error(), "open it again: ") {
		t.Fatalf("report: %v", err)
	}
}

func TestUnwantedResultFails(t *testing.T) {
	var s Script
	scratch := s.Bytes(make([]byte, 8))
	// The supervisor went away: the read sees EOF, 0 bytes.
	s.Call("wait to start", unix.SYS_READ, SyncFd, scratch, 1).WantResult(1)
	s.Call("never reached", unix.SYS_WRITE, 1, s.String("no"), 2)
	out, recs, code := run(t, s.Blob(), "")
	if out != "" || code != 1 || len(recs) != 1 {
		t.Fatalf("output %q, exit %d, %d reports", out, code, len(recs))
	}
	if err := s.Report(recs[0]); err == nil || err.Error() != "wait to start: unexpected result" {
		t.Fatalf("report: %v", err)
	}
}

func TestBadBlobIsRefused(t *testing.T) {
	var s Script
	s.Call("say hello", unix.SYS_WRITE, 1, s.String("hello\n"), 6)
	blob := s.Blob()
	blob[0] ^= 0xff
	out, recs, code := run(t, blob, "")
	if out != "" || code != 1 || len(recs) != 1 {
		t.Fatalf("output %q, exit %d, %d reports", out, code, len(recs))
	}
	if err := s.Report(recs[0]); err == nil || !strings.Contains(err.Error(), "not one it can run") {
		t.Fatalf("report: %v", err)
	}
}

func TestScriptEndingWithoutExecExitsZero(t *testing.T) {
	var s Script
	s.Call("say hello", unix.SYS_WRITE, 1, s.String("hi"), 2)
	if out, recs, code := run(t, s.Blob(), ""); out != "hi" || code != 0 || len(recs) != 0 {
		t.Fatalf("output %q, exit %d, %d reports", out, code, len(recs))
	}
}

func TestProgramHeaders(t *testing.T) {
	f, err := elf.NewFile(bytes.NewReader(Program()))
	if err != nil {
		t.Fatal(err)
	}
	load, stack := f.Progs[0], f.Progs[1]
	size := uint64(len(Program()))
	if f.Entry != loadAddr+codeOff || load.Type != elf.PT_LOAD || load.Flags != elf.PF_R|elf.PF_X ||
		load.Off != 0 || load.Vaddr != loadAddr || load.Filesz != size || load.Memsz != size {
		t.Errorf("entry %#x, load segment %+v", f.Entry, load.ProgHeader)
	}
	if stack.Type != elf.PT_GNU_STACK || stack.Flags != elf.PF_R|elf.PF_W {
		t.Errorf("stack segment %+v", stack.ProgHeader)
	}
	if !bytes.Equal(Program()[codeOff:], code()) {
		t.Error("the code is not where the entry point says")
	}
}
