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
	Kernel   *Kernel
	Image    *Initramfs // NewInitramfs plus the test's files; Boot adds the init
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

// stage1 runs from the initramfs: the kernel's rootfs cannot be
// pivot_root-ed away (containers pivot_root), so the files move to a tmpfs
// that switch_root makes the root (freeing the initramfs copy).
const stage1 = `#!/bin/sh
export PATH=/bin
mount -t devtmpfs dev /dev
mount -t tmpfs -o mode=755 root /newroot
for f in /*; do
	case "$f" in /newroot|/dev|/proc|/sys|/init) ;; *) cp -a "$f" /newroot/ ;; esac
done
mkdir -p /newroot/dev /newroot/proc /newroot/sys
cp -a /init2 /newroot/init2
umount /dev
exec switch_root /newroot /init2
`

// stage2Head mounts what a Linux system has (cgroup2 alone at
// /sys/fs/cgroup: the kernel runs with cgroup_no_v1=all) and loads the
// modules.
const stage2Head = `#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs tmpfs /run
mount --make-rshared /
for m in /lib/modules/*.ko; do insmod "$m" || echo "insmod $m failed"; done
ip link set lo up
hostname skiff-vm
# The console's first line carries the firmware's escape codes.
echo
`

func (c Config) script() string {
	var b strings.Builder
	b.WriteString(stage2Head)
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
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return nil, err
	}
	c.Image.Data("/init", []byte(stage1), 0o755)
	c.Image.Data("/init2", []byte(c.script()), 0o755)
	// Named so that the init's sorted glob is Modules' load order.
	for i, m := range c.Kernel.Modules {
		c.Image.File(fmt.Sprintf("/lib/modules/%03d-%s", i, filepath.Base(m)), m, 0o644)
	}
	initrd := filepath.Join(c.WorkDir, "initramfs.cpio")
	if err := c.Image.Write(initrd); err != nil {
		return nil, err
	}
	defer os.Remove(initrd)
	accel := Accel(ctx, qemu, c.Kernel, c.WorkDir)
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	console, cpu, err := run(ctx, qemu, accel, c.Kernel, initrd, c.MemoryMB, c.CPUs, c.Console)
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
func run(ctx context.Context, qemu, accel string, k *Kernel, initrd string, memMB, cpus int, tee io.Writer) (string, time.Duration, error) {
	// One host thread per virtual CPU under emulation too.
	args := []string{"-accel", "tcg,thread=multi", "-cpu", "max"}
	if accel == "kvm" {
		args = []string{"-accel", "kvm", "-cpu", "host"}
	}
	args = append(args,
		"-smp", strconv.Itoa(cpus), "-m", strconv.Itoa(memMB),
		"-nographic", "-nodefaults", "-serial", "stdio", "-no-reboot",
		"-kernel", k.Image, "-initrd", initrd,
		// cgroup_no_v1=all: a pure cgroup v2 system, as a systemd
		// distribution of today boots.
		"-append", "console=ttyS0 quiet panic=-1 cgroup_no_v1=all")
	cmd := exec.Command(qemu, args...)
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

var (
	accelOnce sync.Once
	accel     string
)

// Accel is "kvm" when /dev/kvm opens and a guest boots with it to its
// init (some hosts' KVM runs only paravirtualised guests), else "tcg".
// The probe runs once per process.
func Accel(ctx context.Context, qemu string, k *Kernel, workDir string) string {
	accelOnce.Do(func() {
		accel = "tcg"
		f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
		if err != nil {
			return
		}
		f.Close()
		im := NewInitramfs()
		bb, err := exec.LookPath("busybox")
		if err != nil {
			return
		}
		im.File("/bin/busybox", bb, 0o755)
		im.Data("/init", []byte("#!/bin/busybox sh\n/bin/busybox echo "+markDone+"\n/bin/busybox poweroff -f\n"), 0o755)
		initrd := filepath.Join(workDir, "kvm-probe.cpio")
		if im.Write(initrd) != nil {
			return
		}
		defer os.Remove(initrd)
		ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		out, _, _ := run(ctx, qemu, "kvm", k, initrd, 256, 1, nil)
		if strings.Contains(out, markDone) {
			accel = "kvm"
		}
	})
	return accel
}
