// Package guest boots throwaway QEMU guests for the VM test tier (through
// internal/qemu: the cached kernel, the initramfs, QEMU's command line)
// and runs a shell script as the guest's init whose steps report their exit
// codes on the serial console.
package guest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/skiff-sh/skiff/internal/qemu"
)

// Step is one command the guest runs from Dir, with the environment of
// the guest's init plus Env. A guest runs its steps concurrently.
type Step struct {
	Name    string
	Dir     string
	Env     []string
	Command string // shell
}

// StepResult is what the serial console said about a step.
type StepResult struct {
	Name   string
	Exit   int    // -1 when the step never finished (the guest died or hung)
	Output string // the step's console lines
}

// Config is one guest.
type Config struct {
	Kernel   *qemu.Kernel
	Image    *qemu.Initramfs // NewInitramfs plus the test's files; Boot adds the init
	Steps    []Step
	MemoryMB int // 1024 if zero
	CPUs     int // 1 if zero
	// Timeout bounds the whole boot; QEMU is killed when it runs out.
	Timeout time.Duration
	// Console, if set, receives the serial console as it comes (for
	// logging while a slow guest runs).
	Console io.Writer
	// WorkDir holds the initramfs while the guest runs; a temporary
	// directory of the caller's (removed by the caller).
	WorkDir string
}

// Result of a boot.
type Result struct {
	Accel   string // "kvm" or "tcg"
	Console string // everything the guest printed
	Steps   []StepResult
	Done    bool // the guest reached the end of its script
	// CPU is the host CPU time QEMU used (user and system): on a busy
	// host a steadier measure of the tier's cost than its wall time.
	CPU time.Duration
}

// Markers on the serial console. The nonce-free prefix is unlikely in
// test output; a step's end line carries its exit status.
const (
	markBegin = "@@SKIFF-VM-STEP-BEGIN "
	markEnd   = "@@SKIFF-VM-STEP-END "
	markDone  = "@@SKIFF-VM-DONE"
)

func (c Config) script() string {
	var b strings.Builder
	b.WriteString("hostname skiff-vm\n# The console's first line carries the firmware's escape codes.\necho\n")
	// Steps run at once (the guest has CPUs to spare for them); each
	// one's output goes to a file the console gets whole after all ended.
	for i, s := range c.Steps {
		fmt.Fprintf(&b, "( ( cd %s && env %s sh -c %s ) >/run/step-%d.log 2>&1 </dev/null; echo $? >/run/step-%d.rc ) &\n",
			shQuote(s.Dir), shWords(s.Env), shQuote(s.Command), i, i)
		b.WriteString("sleep 0.1\n")
	}
	b.WriteString("wait\n")
	for i, s := range c.Steps {
		fmt.Fprintf(&b, "echo '%s%s'\n", markBegin, s.Name)
		fmt.Fprintf(&b, "cat /run/step-%d.log\n", i)
		fmt.Fprintf(&b, "echo \"%s%s exit=$(cat /run/step-%d.rc)\"\n", markEnd, s.Name, i)
	}
	fmt.Fprintf(&b, "echo '%s'\n", markDone)
	b.WriteString("poweroff -f\n")
	return b.String()
}

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func shWords(ws []string) string {
	q := make([]string, len(ws))
	for i, w := range ws {
		q[i] = shQuote(w)
	}
	return strings.Join(q, " ")
}

// Boot runs the guest to its end (or Timeout) and parses its console.
// QEMU is always killed and reaped before Boot returns.
func Boot(ctx context.Context, c Config) (*Result, error) {
	if c.MemoryMB == 0 {
		c.MemoryMB = 1024
	}
	if c.CPUs == 0 {
		c.CPUs = 1
	}
	qemuBin, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return nil, err
	}
	c.Image.Init(c.script())
	c.Image.Kernel(c.Kernel)
	initrd := filepath.Join(c.WorkDir, "initramfs.cpio")
	if err := c.Image.Write(initrd); err != nil {
		return nil, err
	}
	defer os.Remove(initrd)
	accel := qemu.Accel(ctx, c.Kernel, c.WorkDir)
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	m := qemu.Machine{Kernel: c.Kernel, Initrd: initrd, Accel: accel, MemoryMB: c.MemoryMB, CPUs: c.CPUs}
	console, cpu, err := run(ctx, qemuBin, m.Args(), c.Console)
	res := parse(console)
	res.CPU = cpu
	res.Accel = accel
	if err != nil && !res.Done {
		return res, fmt.Errorf("guest: qemu (%s): %w", accel, err)
	}
	if !res.Done {
		return res, errors.New("guest: the guest stopped before the end of its script")
	}
	return res, nil
}

// run starts QEMU and returns the console when it exits or ctx ends; it
// kills QEMU (by its PID, with its process group) in every case.
func run(ctx context.Context, qemuBin string, args []string, tee io.Writer) (string, time.Duration, error) {
	cmd := exec.Command(qemuBin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var buf syncBuffer
	var out io.Writer = &buf
	if tee != nil {
		out = io.MultiWriter(&buf, tee)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return "", 0, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		err = fmt.Errorf("killed: %w", ctx.Err())
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return buf.String(), cpu, err
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func parse(console string) *Result {
	res := &Result{Console: console}
	var cur *StepResult
	sc := bufio.NewScanner(strings.NewReader(console))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var lines []string
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case strings.HasPrefix(line, markBegin):
			res.Steps = append(res.Steps, StepResult{Name: strings.TrimPrefix(line, markBegin), Exit: -1})
			cur = &res.Steps[len(res.Steps)-1]
			lines = nil
		case strings.HasPrefix(line, markEnd) && cur != nil:
			if _, code, ok := strings.Cut(line, " exit="); ok {
				cur.Exit, _ = strconv.Atoi(code)
			}
			cur.Output = strings.Join(lines, "\n")
			cur = nil
		case line == markDone:
			res.Done = true
		case cur != nil:
			lines = append(lines, line)
		}
	}
	if cur != nil {
		cur.Output = strings.Join(lines, "\n")
	}
	return res
}
