//go:build !seccomp_prebuilt

package runtime

import (
	"fmt"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// allowedSyscalls are what every container may call: Docker's default
// profile for x86_64 (anything else fails with EPERM, as there), less
// io_uring, whose rings do I/O no seccomp filter sees (Docker 25 and
// containerd refuse it too). socket, personality and clone are allowed
// with conditions, in conditionalRules.
func allowedSyscalls() []string {
	return []string{
		// Processes, threads and signals.
		"execve", "execveat", "exit", "exit_group", "fork", "vfork", "wait4", "waitid",
		"kill", "tkill", "tgkill", "pidfd_open", "pidfd_send_signal",
		"rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
		"rt_sigsuspend", "rt_sigtimedwait", "rt_tgsigqueueinfo", "sigaltstack",
		"signalfd", "signalfd4", "pause", "restart_syscall",
		"getpid", "getppid", "gettid", "getpgid", "getpgrp", "setpgid", "getsid", "setsid",
		"set_tid_address", "set_robust_list", "get_robust_list", "rseq", "arch_prctl",
		"modify_ldt", "prctl", "seccomp", "capget", "capset", "ptrace",
		"process_vm_readv", "process_vm_writev", "process_mrelease",
		"futex", "futex_waitv", "membarrier",
		// Users and groups.
		"getuid", "geteuid", "getgid", "getegid", "getgroups", "getresuid", "getresgid",
		"setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid",
		"setfsuid", "setfsgid", "setgroups",
		// Limits, scheduling and time.
		"getrlimit", "setrlimit", "prlimit64", "getrusage", "getpriority", "setpriority",
		"ioprio_get", "ioprio_set", "sched_yield", "sched_getaffinity", "sched_setaffinity",
		"sched_getattr", "sched_setattr", "sched_getparam", "sched_setparam",
		"sched_getscheduler", "sched_setscheduler", "sched_get_priority_max",
		"sched_get_priority_min", "sched_rr_get_interval", "getcpu",
		"clock_gettime", "clock_getres", "clock_nanosleep", "clock_adjtime", "adjtimex",
		"gettimeofday", "time", "times", "nanosleep", "alarm", "getitimer", "setitimer",
		"timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_settime",
		"timerfd_create", "timerfd_gettime", "timerfd_settime", "sysinfo", "uname",
		// Memory.
		"brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync",
		"mlock", "mlock2", "mlockall", "munlock", "munlockall", "remap_file_pages",
		"memfd_create", "memfd_secret", "pkey_alloc", "pkey_free", "pkey_mprotect",
		// Files and directories.
		"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
		"preadv2", "pwritev2", "lseek", "open", "openat", "openat2", "creat", "close",
		"close_range", "dup", "dup2", "dup3", "fcntl", "flock", "ioctl",
		"stat", "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs",
		"access", "faccessat", "faccessat2", "readlink", "readlinkat",
		"getcwd", "chdir", "fchdir", "getdents", "getdents64",
		"mkdir", "mkdirat", "rmdir", "mknod", "mknodat", "link", "linkat", "symlink",
		"symlinkat", "unlink", "unlinkat", "rename", "renameat", "renameat2",
		"chmod", "fchmod", "fchmodat", "chown", "fchown", "fchownat", "lchown", "umask",
		"truncate", "ftruncate", "fallocate", "fadvise64", "readahead",
		"fsync", "fdatasync", "sync", "syncfs", "sync_file_range",
		"utime", "utimes", "utimensat", "futimesat",
		"getxattr", "lgetxattr", "fgetxattr", "setxattr", "lsetxattr", "fsetxattr",
		"listxattr", "llistxattr", "flistxattr", "removexattr", "lremovexattr", "fremovexattr",
		"copy_file_range", "sendfile", "splice", "tee", "vmsplice", "name_to_handle_at",
		"inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "fanotify_mark",
		"io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents",
		// Polling, pipes and events.
		"select", "pselect6", "poll", "ppoll", "epoll_create", "epoll_create1", "epoll_ctl",
		"epoll_ctl_old", "epoll_wait", "epoll_wait_old", "epoll_pwait", "epoll_pwait2",
		"eventfd", "eventfd2", "pipe", "pipe2",
		// Sockets (socket itself below).
		"socketpair", "bind", "listen", "accept", "accept4", "connect", "shutdown",
		"getsockname", "getpeername", "getsockopt", "setsockopt", "sendto", "recvfrom",
		"sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
		// System V and POSIX IPC.
		"msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop", "semtimedop", "semctl",
		"shmget", "shmat", "shmdt", "shmctl", "mq_open", "mq_unlink", "mq_timedsend",
		"mq_timedreceive", "mq_notify", "mq_getsetattr",
		// Sandboxing a process further is always fine.
		"landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
		// socket, personality and clone: see conditionalRules.
	}
}

// capGatedSyscalls are the syscalls Docker's default profile allows only
// when the container holds the capability.
func capGatedSyscalls() map[string][]string {
	return map[string][]string{
		"SYS_ADMIN": {"bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
			"lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree",
			"perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname",
			"setns", "syslog", "umount2", "unshare"},
		"SYS_BOOT":        {"reboot"},
		"SYS_CHROOT":      {"chroot"},
		"SYS_MODULE":      {"delete_module", "init_module", "finit_module"},
		"SYS_PACCT":       {"acct"},
		"SYS_PTRACE":      {"kcmp", "pidfd_getfd", "process_madvise"},
		"SYS_RAWIO":       {"iopl", "ioperm"},
		"SYS_TIME":        {"settimeofday", "clock_settime"},
		"SYS_TTY_CONFIG":  {"vhangup"},
		"SYS_NICE":        {"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"},
		"DAC_READ_SEARCH": {"open_by_handle_at"},
		"SYSLOG":          {"syslog"},
		"BPF":             {"bpf"},
		"PERFMON":         {"perf_event_open"},
	}
}

// Namespace flags of clone(2) that Docker refuses without CAP_SYS_ADMIN.
const cloneNamespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

// seccompProgram builds the default filter for a container with caps.
func seccompProgram(caps capSet) ([]unix.SockFilter, error) {
	insts, err := seccompInstructions(caps)
	if err != nil {
		return nil, err
	}
	raw, err := bpf.Assemble(insts)
	if err != nil {
		return nil, fmt.Errorf("runtime: seccomp assemble: %w", err)
	}
	out := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		out[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return out, nil
}

// seccompInstructions is the filter as BPF instructions (tests run them in
// x/net/bpf's VM): an allow-list whose default is EPERM, so a syscall
// added to the kernel later is refused until someone allows it here.
// Only the native ABI is allowed: syscalls of other architectures (i386)
// and the x32 ABI get ENOSYS, as a kernel without them would answer.
func seccompInstructions(caps capSet) ([]bpf.Instruction, error) {
	info, err := arch.GetInfo("")
	if err != nil {
		return nil, fmt.Errorf("runtime: seccomp arch: %w", err)
	}
	names := capNames()
	has := func(c string) bool { return caps&(1<<names[c]) != 0 }
	allow := allowedSyscalls()
	for c, calls := range capGatedSyscalls() {
		if has(c) {
			allow = append(allow, calls...)
		}
	}
	// The library refuses names unknown to this architecture, and one
	// name twice.
	seen := map[string]bool{}
	known := allow[:0]
	for _, n := range allow {
		if _, ok := info.SyscallNames[n]; ok && !seen[n] {
			seen[n] = true
			known = append(known, n)
		}
	}
	policy := seccomp.Policy{
		DefaultAction: seccomp.ActionErrno, // EPERM
		Syscalls:      []seccomp.SyscallGroup{{Names: known, Action: seccomp.ActionAllow}},
	}
	list, err := policy.Assemble()
	if err != nil {
		return nil, fmt.Errorf("runtime: seccomp assemble: %w", err)
	}
	// The architecture check first: the library's own sends other
	// architectures to the default action.
	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: seccompArchOffset, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(info.ID), SkipTrue: 1},
		bpf.RetConstant{Val: retErrno(unix.ENOSYS)},
	}
	prog = append(prog, conditionalRules(info, !has("SYS_ADMIN"))...)
	return append(prog, list...), nil
}

// Offsets in struct seccomp_data (little-endian: an argument's low word
// comes first).
const (
	seccompNrOffset   = 0
	seccompArchOffset = 4
	seccompArg0Lo     = 16
)

func retErrno(errno unix.Errno) uint32 { return unix.SECCOMP_RET_ERRNO | uint32(errno) }

// conditionalRules decide the syscalls Docker allows depending on their
// arguments, each as "if nr == X: decide and return". They are written
// here rather than with the library's conditions, which leave an argument
// in the accumulator where the next rule expects the syscall number.
func conditionalRules(info *arch.Info, noSysAdmin bool) []bpf.Instruction {
	const allow, eperm = unix.SECCOMP_RET_ALLOW, unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	rule := func(name string, body ...bpf.Instruction) []bpf.Instruction {
		return append([]bpf.Instruction{
			bpf.LoadAbsolute{Off: seccompNrOffset, Size: 4},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(info.SyscallNames[name]), SkipFalse: uint8(len(body))},
		}, body...)
	}
	loadArg0 := bpf.LoadAbsolute{Off: seccompArg0Lo, Size: 4}
	var out []bpf.Instruction
	if noSysAdmin {
		// New namespaces need CAP_SYS_ADMIN.
		out = append(out, rule("clone", loadArg0,
			bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: cloneNamespaceFlags, SkipFalse: 1},
			bpf.RetConstant{Val: eperm},
			bpf.RetConstant{Val: allow})...)
		// clone3 passes its flags in memory seccomp cannot read: ENOSYS
		// makes libcs fall back to clone.
		out = append(out, rule("clone3", bpf.RetConstant{Val: retErrno(unix.ENOSYS)})...)
	}
	// personality: only the values Docker allows (Linux, its 32-bit and
	// UNAME26 variants, and the query).
	persona := []uint32{0, 0x8, 0x20000, 0x20008, 0xffffffff}
	body := []bpf.Instruction{loadArg0}
	for i, v := range persona {
		body = append(body, bpf.JumpIf{Cond: bpf.JumpEqual, Val: v, SkipTrue: uint8(len(persona) - i)})
	}
	body = append(body, bpf.RetConstant{Val: eperm}, bpf.RetConstant{Val: allow})
	out = append(out, rule("personality", body...)...)
	// vsock reaches the hypervisor's services on the host.
	out = append(out, rule("socket", loadArg0,
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.AF_VSOCK, SkipFalse: 1},
		bpf.RetConstant{Val: eperm},
		bpf.RetConstant{Val: allow})...)
	return out
}
