package runtime

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// runProbe tries one escape from inside a container and prints how the
// kernel answered: the errno's name (EPERM, EROFS, …) or "allowed". The
// test binary is bind-mounted into the container as /probe; the test
// compares each answer with the one refusal it expects, so a probe that
// fails for an unrelated reason (ENOENT, ESRCH, EINVAL) fails the test.
func runProbe(args []string) int {
	arg := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	num := func(i int) int {
		n, err := strconv.Atoi(arg(i))
		if err != nil {
			fmt.Printf("bad argument %q\n", arg(i))
			os.Exit(2)
		}
		return n
	}
	var err error
	switch args[0] {
	case "mount":
		err = unix.Mount("tmpfs", "/tmp", "tmpfs", 0, "")
	case "rawsocket":
		var fd int
		if fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP); err == nil {
			unix.Close(fd)
		}
	case "reboot":
		// CAD_OFF only flips a flag: harmless if it were ever allowed.
		err = unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF)
	case "kexec":
		if _, _, e := unix.Syscall6(unix.SYS_KEXEC_LOAD, 0, 0, 0, 0, 0, 0); e != 0 {
			err = e
		}
	case "sysrq":
		// "h" only prints help to the kernel log, should the write work.
		err = os.WriteFile("/proc/sysrq-trigger", []byte("h"), 0)
	case "ptrace": // ptrace PID
		err = ptraceAttachDetach(num(1))
	case "ptrace-as": // ptrace-as UID PID: as another user, without capabilities
		err = ptraceAs(num(1), num(2))
	case "mknod-block": // mknod-block PATH MAJOR MINOR
		err = unix.Mknod(arg(1), unix.S_IFBLK|0o600, int(unix.Mkdev(uint32(num(2)), uint32(num(3)))))
	case "open": // open PATH
		var f *os.File
		if f, err = os.Open(arg(1)); err == nil {
			f.Close()
		}
	default:
		fmt.Printf("unknown probe %q\n", args[0])
		return 2
	}
	fmt.Println(probeResult(err))
	return 0
}

// probeResult names an error by its errno.
func probeResult(err error) string {
	var errno unix.Errno
	switch {
	case err == nil:
		return "allowed"
	case errors.As(err, &errno):
		return unix.ErrnoName(errno)
	default:
		return "error: " + err.Error()
	}
}

func ptraceAttachDetach(pid int) error {
	// ptrace requests come from the thread that attached.
	runtime.LockOSThread()
	if err := unix.PtraceAttach(pid); err != nil {
		return err
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, unix.WALL, nil); err != nil {
		return fmt.Errorf("wait for the tracee: %v", err)
	}
	return unix.PtraceDetach(pid)
}

// ptraceAs drops this thread to uid (which empties its capabilities) and
// attaches from it: the kernel checks the tracer thread's credentials.
func ptraceAs(uid, pid int) error {
	runtime.LockOSThread() // for good: this thread's credentials change
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(uid), uintptr(uid), uintptr(uid)); e != 0 {
		return fmt.Errorf("setresgid: %v", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)); e != 0 {
		return fmt.Errorf("setresuid: %v", e)
	}
	return ptraceAttachDetach(pid)
}
