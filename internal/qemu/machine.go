package qemu

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
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

// systemInit mounts what a Linux system has (cgroup2 alone at
// /sys/fs/cgroup: the kernel runs with cgroup_no_v1=all) and loads the
// modules, which Initramfs.Kernel names so that their order is the load
// order.
const systemInit = `#!/bin/sh
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
`

// Init makes script the guest's init: it runs as PID 1 on a tmpfs root
// once the system's file systems are mounted and the kernel's modules
// loaded.
func (im *Initramfs) Init(script string) {
	im.Data("/init", []byte(stage1), 0o755)
	im.Data("/init2", []byte(systemInit+script), 0o755)
}

// Kernel adds k's modules, named so that the shell's sorted glob is their
// load order.
func (im *Initramfs) Kernel(k *Kernel) {
	for i, m := range k.Modules {
		im.File(fmt.Sprintf("/lib/modules/%03d-%s", i, filepath.Base(m)), m, 0o644)
	}
}

// NIC is a guest's network card on a host tap device.
type NIC struct {
	Tap string // the tap's name, in QEMU's network namespace
	MAC string // unique on the tap's bridge (QEMU gives every guest the same default)
}

// Machine is one guest's hardware.
type Machine struct {
	Kernel   *Kernel
	Initrd   string
	Accel    string // "kvm" or "tcg"
	MemoryMB int
	CPUs     int
	NICs     []NIC
	// Append is added to the kernel's command line.
	Append string
}

// Args is QEMU's command line (after the program) for m: no display, the
// serial console on standard output, no reboot (a guest that panics or
// powers off ends QEMU).
func (m Machine) Args() []string {
	// One host thread per virtual CPU under emulation too.
	args := []string{"-accel", "tcg,thread=multi", "-cpu", "max"}
	if m.Accel == "kvm" {
		args = []string{"-accel", "kvm", "-cpu", "host"}
	}
	args = append(args,
		"-smp", strconv.Itoa(max(m.CPUs, 1)), "-m", strconv.Itoa(m.MemoryMB),
		"-nographic", "-nodefaults", "-serial", "stdio", "-no-reboot",
		"-kernel", m.Kernel.Image, "-initrd", m.Initrd,
		// cgroup_no_v1=all: a pure cgroup v2 system, as a systemd
		// distribution of today boots.
		"-append", strings.TrimSpace("console=ttyS0 quiet panic=-1 cgroup_no_v1=all "+m.Append))
	for i, n := range m.NICs {
		id := "net" + strconv.Itoa(i)
		args = append(args,
			"-netdev", "tap,id="+id+",ifname="+n.Tap+",script=no,downscript=no",
			"-device", "virtio-net-pci,netdev="+id+",mac="+n.MAC)
	}
	return args
}

// probeDone is what the KVM probe's guest prints.
const probeDone = "@@SKIFF-KVM-PROBE-DONE"

// Accel is "kvm" when /dev/kvm opens and a guest boots with it to its
// init (some hosts' KVM runs only paravirtualised guests: a stock kernel
// crawls in its decompressor there), else "tcg". The answer is kept
// beside the kernel, per host kernel release, so the probe's boot runs
// once per machine and kernel.
func Accel(ctx context.Context, k *Kernel, workDir string) string {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return "tcg"
	}
	f.Close()
	var uts unix.Utsname
	unix.Uname(&uts)
	memo := filepath.Join(filepath.Dir(k.Image), "accel-"+unix.ByteSliceToString(uts.Release[:]))
	if b, err := os.ReadFile(memo); err == nil {
		if a := strings.TrimSpace(string(b)); a == "kvm" || a == "tcg" {
			return a
		}
	}
	accel := probeKVM(ctx, k, workDir)
	if ctx.Err() == nil {
		tmp := fmt.Sprintf("%s.%d", memo, os.Getpid())
		if os.WriteFile(tmp, []byte(accel+"\n"), 0o644) == nil {
			os.Rename(tmp, memo)
		}
	}
	return accel
}

func probeKVM(ctx context.Context, k *Kernel, workDir string) string {
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return "tcg"
	}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return "tcg"
	}
	im := NewInitramfs()
	im.File("/bin/busybox", bb, 0o755)
	im.Data("/init", []byte("#!/bin/busybox sh\n/bin/busybox echo "+probeDone+"\n/bin/busybox poweroff -f\n"), 0o755)
	initrd := filepath.Join(workDir, fmt.Sprintf("kvm-probe-%d.cpio", os.Getpid()))
	if im.Write(initrd) != nil {
		return "tcg"
	}
	defer os.Remove(initrd)
	// A guest KVM runs reaches its init in a second or two.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	m := Machine{Kernel: k, Initrd: initrd, Accel: "kvm", MemoryMB: 256, CPUs: 1}
	cmd := exec.Command(qemu, m.Args()...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "tcg"
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	if strings.Contains(out.String(), probeDone) {
		return "kvm"
	}
	return "tcg"
}
