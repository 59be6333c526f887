package runtime

import (
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The default filter is an allow-list: what it does not name is refused
// with EPERM, as Docker's default profile does, including syscalls the
// kernel adds later.
func TestSeccompIsAnAllowList(t *testing.T) {
	checkSeccompDecisions(t, SecurityContext{}, []seccompCase{
		{"a syscall number no kernel has yet", seccompData(auditArchX86_64, 999), retEPERM},
		{"migrate_pages (not in Docker's list)", seccompData(auditArchX86_64, unix.SYS_MIGRATE_PAGES), retEPERM},
		{"io_uring_setup", seccompData(auditArchX86_64, unix.SYS_IO_URING_SETUP), retEPERM},
		{"sethostname without SYS_ADMIN", seccompData(auditArchX86_64, unix.SYS_SETHOSTNAME), retEPERM},
		{"chroot with SYS_CHROOT (a default)", seccompData(auditArchX86_64, unix.SYS_CHROOT), retAllow},
		{"read", seccompData(auditArchX86_64, unix.SYS_READ), retAllow},
		{"openat2", seccompData(auditArchX86_64, unix.SYS_OPENAT2), retAllow},
		{"socket AF_INET", seccompData(auditArchX86_64, unix.SYS_SOCKET, unix.AF_INET), retAllow},
		{"socket AF_VSOCK", seccompData(auditArchX86_64, unix.SYS_SOCKET, unix.AF_VSOCK), retEPERM},
		{"personality PER_LINUX32", seccompData(auditArchX86_64, unix.SYS_PERSONALITY, 0x8), retAllow},
		{"personality UNAME26", seccompData(auditArchX86_64, unix.SYS_PERSONALITY, 0x20000), retAllow},
		{"clone of a process", seccompData(auditArchX86_64, unix.SYS_CLONE, uint64(unix.SIGCHLD)), retAllow},
		{"clone newnet", seccompData(auditArchX86_64, unix.SYS_CLONE, unix.CLONE_NEWNET|uint64(unix.SIGCHLD)), retEPERM},
		{"i386 read", seccompData(auditArchI386, 3), retENOSYS},
	})
}

// The conditional rules leave the syscall number for the ones after
// them: a clone whose flags happen to equal another rule's syscall number
// is still judged as a clone.
func TestSeccompConditionsDoNotLeakIntoTheNextRule(t *testing.T) {
	caps, _ := containerCaps(SecurityContext{}, 40)
	insts, _ := seccompInstructions(caps)
	vm, _ := bpf.NewVM(insts)
	for _, flags := range []uint64{unix.SYS_PERSONALITY, unix.SYS_SOCKET, unix.SYS_CLONE3} {
		if got, _ := vm.Run(seccompData(auditArchX86_64, unix.SYS_CLONE, flags)); uint32(got) != retAllow {
			t.Errorf("clone(flags=%d): got %#x, want allow", flags, got)
		}
	}
}

type seccompCase struct {
	name string
	data []byte // struct seccomp_data, from seccompData
	want uint32 // the filter's return value
}

// checkSeccompDecisions runs the default filter of a container with sc in
// x/net/bpf's VM on each case.
func checkSeccompDecisions(t *testing.T, sc SecurityContext, cases []seccompCase) {
	t.Helper()
	caps, err := containerCaps(sc, 40)
	if err != nil {
		t.Fatal(err)
	}
	insts, err := seccompInstructions(caps)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := bpf.NewVM(insts)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		got, err := vm.Run(c.data)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if uint32(got) != c.want {
			t.Errorf("%s: got %#x, want %#x", c.name, got, c.want)
		}
	}
}
