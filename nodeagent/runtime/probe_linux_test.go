package runtime

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// runProbe tries one escape from inside a container and prints "denied:
// <errno>" or "ALLOWED". The test binary is bind-mounted into the
// container as /probe.
func runProbe(args []string) int {
	var err error
	switch args[0] {
	case "mount":
		err = unix.Mount("tmpfs", "/tmp", "tmpfs", 0, "")
	case "rawsocket":
		var fd int
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP)
		if err == nil {
			unix.Close(fd)
		}
	case "reboot":
		// CAD_OFF only flips a flag: harmless if it were ever allowed.
		err = unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF)
	case "kexec":
		_, _, e := unix.Syscall6(unix.SYS_KEXEC_LOAD, 0, 0, 0, 0, 0, 0)
		if e != 0 {
			err = e
		}
	case "sysrq":
		// "h" only prints help to the kernel log, should the write work.
		err = os.WriteFile("/proc/sysrq-trigger", []byte("h"), 0)
	case "ptrace":
		pid, _ := strconv.Atoi(args[1])
		err = unix.PtraceAttach(pid)
		if err == nil {
			unix.PtraceDetach(pid)
		}
	case "unshare":
		err = unix.Unshare(unix.CLONE_NEWUSER)
	default:
		fmt.Println("unknown probe")
		return 2
	}
	if err != nil {
		fmt.Printf("denied: %v\n", err)
		return 0
	}
	fmt.Println("ALLOWED")
	return 0
}
