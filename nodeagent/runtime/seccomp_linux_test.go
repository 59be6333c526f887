package runtime

import (
	"encoding/binary"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

const (
	auditArchX86_64 = 0xc000003e
	auditArchI386   = 0x40000003
	retAllow        = unix.SECCOMP_RET_ALLOW
	retEPERM        = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	retENOSYS       = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
)

// seccompData encodes struct seccomp_data for x/net/bpf's VM, which loads
// words big-endian: each 32-bit word is stored that way at its offset.
func seccompData(arch uint32, nr uint32, args ...uint64) []byte {
	b := make([]byte, 64)
	binary.BigEndian.PutUint32(b[0:], nr)
	binary.BigEndian.PutUint32(b[4:], arch)
	for i, a := range args {
		off := 16 + 8*i
		binary.BigEndian.PutUint32(b[off:], uint32(a))       // low word first (little-endian host)
		binary.BigEndian.PutUint32(b[off+4:], uint32(a>>32)) // then high
	}
	return b
}

func TestSeccompFilterDecisions(t *testing.T) {
	checkSeccompDecisions(t, SecurityContext{}, []seccompCase{
		{"getpid", seccompData(auditArchX86_64, unix.SYS_GETPID), retAllow},
		{"mount", seccompData(auditArchX86_64, unix.SYS_MOUNT), retEPERM},
		{"kexec_load", seccompData(auditArchX86_64, unix.SYS_KEXEC_LOAD), retEPERM},
		{"reboot", seccompData(auditArchX86_64, unix.SYS_REBOOT), retEPERM},
		{"unshare", seccompData(auditArchX86_64, unix.SYS_UNSHARE), retEPERM},
		{"keyctl", seccompData(auditArchX86_64, unix.SYS_KEYCTL), retEPERM},
		{"ptrace (allowed, as Docker on >= 4.8)", seccompData(auditArchX86_64, unix.SYS_PTRACE), retAllow},
		{"clone thread", seccompData(auditArchX86_64, unix.SYS_CLONE, unix.CLONE_VM|unix.CLONE_THREAD), retAllow},
		{"clone newuser", seccompData(auditArchX86_64, unix.SYS_CLONE, unix.CLONE_NEWUSER), retEPERM},
		{"clone3", seccompData(auditArchX86_64, unix.SYS_CLONE3), retENOSYS},
		{"personality linux", seccompData(auditArchX86_64, unix.SYS_PERSONALITY, 0), retAllow},
		{"personality query", seccompData(auditArchX86_64, unix.SYS_PERSONALITY, 0xffffffff), retAllow},
		{"personality read-implies-exec", seccompData(auditArchX86_64, unix.SYS_PERSONALITY, 0x0400000), retEPERM},
		{"i386 getpid", seccompData(auditArchI386, 20), retENOSYS},
		{"x32 getpid", seccompData(auditArchX86_64, 0x40000000|unix.SYS_GETPID), retENOSYS},
	})
}

func TestSeccompFollowsCapabilities(t *testing.T) {
	caps, _ := containerCaps(SecurityContext{CapAdd: []string{"SYS_ADMIN", "CAP_SYS_TIME"}}, 40)
	insts, _ := seccompInstructions(caps)
	vm, _ := bpf.NewVM(insts)
	for _, nr := range []uint32{unix.SYS_MOUNT, unix.SYS_SETTIMEOFDAY} {
		if got, _ := vm.Run(seccompData(auditArchX86_64, nr)); uint32(got) != retAllow {
			t.Errorf("syscall %d denied despite its capability: %#x", nr, got)
		}
	}
	if got, _ := vm.Run(seccompData(auditArchX86_64, unix.SYS_CLONE, unix.CLONE_NEWNS)); uint32(got) != retAllow {
		t.Errorf("clone(NEWNS) denied with SYS_ADMIN")
	}
}

func TestContainerCaps(t *testing.T) {
	def, _ := containerCaps(SecurityContext{}, 40)
	if def != 0xa80425fb {
		t.Errorf("default set %#x, want Docker's 0xa80425fb", def)
	}
	none, _ := containerCaps(SecurityContext{CapDrop: []string{"ALL"}, CapAdd: []string{"NET_BIND_SERVICE"}}, 40)
	if none != 1<<10 {
		t.Errorf("drop ALL add NET_BIND_SERVICE: %#x", none)
	}
	if _, err := containerCaps(SecurityContext{CapAdd: []string{"BOGUS"}}, 40); err == nil {
		t.Error("unknown capability accepted")
	}
	if all, _ := containerCaps(SecurityContext{Privileged: true}, 40); all != 1<<41-1 {
		t.Errorf("privileged: %#x", all)
	}
}
