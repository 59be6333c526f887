package runtime

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// capNames maps capability names (without CAP_) to numbers.
func capNames() map[string]int {
	return map[string]int{
		"CHOWN": 0, "DAC_OVERRIDE": 1, "DAC_READ_SEARCH": 2, "FOWNER": 3, "FSETID": 4,
		"KILL": 5, "SETGID": 6, "SETUID": 7, "SETPCAP": 8, "LINUX_IMMUTABLE": 9,
		"NET_BIND_SERVICE": 10, "NET_BROADCAST": 11, "NET_ADMIN": 12, "NET_RAW": 13,
		"IPC_LOCK": 14, "IPC_OWNER": 15, "SYS_MODULE": 16, "SYS_RAWIO": 17,
		"SYS_CHROOT": 18, "SYS_PTRACE": 19, "SYS_PACCT": 20, "SYS_ADMIN": 21,
		"SYS_BOOT": 22, "SYS_NICE": 23, "SYS_RESOURCE": 24, "SYS_TIME": 25,
		"SYS_TTY_CONFIG": 26, "MKNOD": capMknod, "LEASE": 28, "AUDIT_WRITE": 29,
		"AUDIT_CONTROL": 30, "SETFCAP": 31, "MAC_OVERRIDE": 32, "MAC_ADMIN": 33,
		"SYSLOG": 34, "WAKE_ALARM": 35, "BLOCK_SUSPEND": 36, "AUDIT_READ": 37,
		"PERFMON": 38, "BPF": 39, "CHECKPOINT_RESTORE": 40,
	}
}

// defaultCaps is Docker's default capability set.
func defaultCaps() []string {
	return []string{"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW",
		"SETGID", "SETUID", "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT",
		"KILL", "AUDIT_WRITE"}
}

// capSet is a bit set of capabilities.
type capSet uint64

// lastCap is the highest capability this kernel knows.
func lastCap() int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 40
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 40
	}
	return n
}

// containerCaps computes the capability set from the security context:
// everything if privileged, else Docker's defaults with drops then adds
// applied (Docker's order: "drop ALL, add X" keeps X).
func containerCaps(sc SecurityContext, last int) (capSet, error) {
	all := capSet(1)<<(last+1) - 1
	if sc.Privileged {
		return all, nil
	}
	names := capNames()
	parse := func(n string) (capSet, error) {
		n = strings.TrimPrefix(strings.ToUpper(n), "CAP_")
		if n == "ALL" {
			return all, nil
		}
		c, ok := names[n]
		if !ok {
			return 0, fmt.Errorf("runtime: unknown capability %q", n)
		}
		return capSet(1) << c, nil
	}
	var set capSet
	for _, n := range defaultCaps() {
		c, _ := parse(n)
		set |= c
	}
	for _, n := range sc.CapDrop {
		c, err := parse(n)
		if err != nil {
			return 0, err
		}
		set &^= c
	}
	for _, n := range sc.CapAdd {
		c, err := parse(n)
		if err != nil {
			return 0, err
		}
		set |= c
	}
	return set & all, nil
}

// capMknod is CAP_MKNOD.
const capMknod = 27

// forcedDrops are the capabilities a container loses whatever its security
// context adds. Without a device cgroup enforcing the allow-list,
// CAP_MKNOD would let it make and open the host's disks.
func forcedDrops(sc SecurityContext, devicesLocked bool) capSet {
	if sc.Privileged || devicesLocked {
		return 0
	}
	return 1 << capMknod
}

// dropBounding removes every capability outside keep from this thread's
// bounding set, so nothing exec'd later can regain it.
func dropBounding(keep capSet, last int) error {
	for c := 0; c <= last; c++ {
		if keep&(1<<c) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && err != unix.EINVAL {
			return fmt.Errorf("runtime: drop bounding cap %d: %w", c, err)
		}
	}
	return nil
}

// setCaps sets this thread's effective and permitted sets to keep (as far
// as it holds them now) and leaves the inheritable and ambient sets empty
// (CVE-2022-24769).
func setCaps(keep capSet) error {
	have, err := permittedCaps()
	if err != nil {
		return err
	}
	keep &= have
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: uint32(keep), Permitted: uint32(keep)},
		{Effective: uint32(keep >> 32), Permitted: uint32(keep >> 32)},
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("runtime: capset: %w", err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("runtime: clear ambient caps: %w", err)
	}
	return nil
}
