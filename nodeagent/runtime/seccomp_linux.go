package runtime

import (
	"fmt"
	"unsafe"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// capGatedSyscalls are the syscalls Docker's default profile allows only
// when the container holds the capability.
func capGatedSyscalls() map[string][]string {
	return map[string][]string{
		"SYS_ADMIN": {"bpf", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
			"lookup_dcookie", "mount", "mount_setattr", "move_mount", "name_to_handle_at",
			"open_tree", "perf_event_open", "quotactl", "quotactl_fd", "setns", "syslog",
			"umount2", "unshare"},
		"SYS_BOOT":        {"reboot"},
		"SYS_MODULE":      {"delete_module", "init_module", "finit_module"},
		"SYS_PACCT":       {"acct"},
		"SYS_PTRACE":      {"kcmp", "pidfd_getfd", "process_madvise"},
		"SYS_RAWIO":       {"iopl", "ioperm"},
		"SYS_TIME":        {"settimeofday", "clock_settime", "clock_adjtime"},
		"SYS_TTY_CONFIG":  {"vhangup"},
		"SYS_NICE":        {"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node", "move_pages"},
		"DAC_READ_SEARCH": {"open_by_handle_at"},
	}
}

// alwaysDenied are denied whatever the capabilities.
func alwaysDenied() []string {
	return []string{"add_key", "keyctl", "request_key", "create_module", "get_kernel_syms",
		"query_module", "kexec_load", "kexec_file_load", "nfsservctl", "swapon", "swapoff",
		"sysfs", "_sysctl", "uselib", "userfaultfd", "ustat", "pivot_root",
		"io_uring_setup", "io_uring_enter", "io_uring_register"}
}

// Namespace flags of clone(2) that Docker refuses without CAP_SYS_ADMIN.
const cloneNamespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

// seccompProgram builds the default deny-list filter for a container with
// caps. Syscalls of other architectures (the 32-bit ABI included) are
// denied: a deny-list written for x86_64 numbers says nothing about them.
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
// x/net/bpf's VM).
func seccompInstructions(caps capSet) ([]bpf.Instruction, error) {
	info, err := arch.GetInfo("")
	if err != nil {
		return nil, fmt.Errorf("runtime: seccomp arch: %w", err)
	}
	names := capNames()
	var deny []string
	deny = append(deny, alwaysDenied()...)
	for c, calls := range capGatedSyscalls() {
		if caps&(1<<names[c]) == 0 {
			deny = append(deny, calls...)
		}
	}
	// The library refuses names unknown to this architecture.
	known := deny[:0]
	for _, n := range deny {
		if _, ok := info.SyscallNames[n]; ok {
			known = append(known, n)
		}
	}
	groups := []seccomp.SyscallGroup{{Names: known, Action: seccomp.ActionErrno}}
	// clone3 passes its flags in memory seccomp cannot read: ENOSYS makes
	// libcs fall back to clone, whose flags are checked below.
	groups = append(groups, seccomp.SyscallGroup{Names: []string{"clone3"},
		Action: seccomp.ActionErrno | seccomp.Action(unix.ENOSYS)})
	if caps&(1<<names["SYS_ADMIN"]) == 0 {
		groups = append(groups, seccomp.SyscallGroup{
			Action: seccomp.ActionErrno,
			NamesWithCondtions: []seccomp.NameWithConditions{{
				Name:       "clone",
				Conditions: []seccomp.Condition{{Argument: 0, Operation: seccomp.BitsSet, Value: cloneNamespaceFlags}},
			}},
		})
	}
	// personality: only the values Docker allows.
	var notAllowed []seccomp.Condition
	for _, v := range []uint64{0, 0x8, 0x20000, 0x20008, 0xffffffff} {
		notAllowed = append(notAllowed, seccomp.Condition{Argument: 0, Operation: seccomp.NotEqual, Value: v})
	}
	groups = append(groups, seccomp.SyscallGroup{
		Action:             seccomp.ActionErrno,
		NamesWithCondtions: []seccomp.NameWithConditions{{Name: "personality", Conditions: notAllowed}},
	})
	policy := seccomp.Policy{DefaultAction: seccomp.ActionAllow, Syscalls: groups}
	insts, err := policy.Assemble()
	if err != nil {
		return nil, fmt.Errorf("runtime: seccomp assemble: %w", err)
	}
	// Prepend the architecture check; the library's own check sends other
	// architectures to the default action, which is allow.
	prefix := []bpf.Instruction{
		bpf.LoadAbsolute{Off: 4, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(info.ID), SkipTrue: 1},
		bpf.RetConstant{Val: uint32(seccomp.ActionErrno) | uint32(unix.ENOSYS)},
	}
	return append(prefix, insts...), nil
}

// loadSeccomp installs prog on the calling thread only; the caller is about
// to execve from it. no_new_privs must be set first.
func loadSeccomp(prog []unix.SockFilter) error {
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog)))
	if errno != 0 {
		return fmt.Errorf("runtime: load seccomp filter: %w", errno)
	}
	return nil
}
