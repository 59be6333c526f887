package runtime

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/skiff-sh/skiff/nodeagent/runtime/initprog"
)

// script appends to s the steps that make apply's changes, in apply's
// order, for an init with no Go runtime. have is the permitted set the
// init starts with: the capability set it keeps is decided here, where
// apply asks the kernel.
func (l *lockdown) script(s *initprog.Script, have capSet) {
	for c := 0; c <= l.last; c++ {
		if l.caps&(1<<c) == 0 {
			s.Call(fmt.Sprintf("runtime: drop bounding cap %d", c), unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uint64(c)).
				TolerateErrno(unix.EINVAL)
		}
	}
	var fprog uint64
	if l.seccomp != nil {
		filter := s.Bytes(encodeFilter(l.seccomp))
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(l.seccomp))) // sock_fprog: len, padding
		fprog = s.Bytes(binary.LittleEndian.AppendUint64(b, filter))
	}
	loadFilter := func() {
		s.Call("runtime: load seccomp filter", unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, fprog)
	}
	if l.seccomp != nil && !l.nnp {
		loadFilter() // while still root: see apply
	}
	s.Call("runtime: keepcaps", unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 1)
	var groups []byte
	for _, g := range l.groups {
		groups = binary.LittleEndian.AppendUint32(groups, g)
	}
	var groupsAddr uint64
	if len(groups) > 0 {
		groupsAddr = s.Bytes(groups)
	}
	s.Call("runtime: setgroups", unix.SYS_SETGROUPS, uint64(len(l.groups)), groupsAddr)
	s.Call(fmt.Sprintf("runtime: setresgid %d", l.gid), unix.SYS_SETRESGID, uint64(l.gid), uint64(l.gid), uint64(l.gid))
	s.Call(fmt.Sprintf("runtime: setresuid %d", l.uid), unix.SYS_SETRESUID, uint64(l.uid), uint64(l.uid), uint64(l.uid))
	s.Call("runtime: keepcaps", unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 0)
	keep := l.caps & have
	hdr := binary.LittleEndian.AppendUint32(nil, unix.LINUX_CAPABILITY_VERSION_3)
	hdr = binary.LittleEndian.AppendUint32(hdr, 0) // this process
	var data []byte
	for _, half := range []uint32{uint32(keep), uint32(keep >> 32)} {
		data = binary.LittleEndian.AppendUint32(data, half) // effective
		data = binary.LittleEndian.AppendUint32(data, half) // permitted
		data = binary.LittleEndian.AppendUint32(data, 0)    // inheritable
	}
	s.Call("runtime: capset", unix.SYS_CAPSET, s.Bytes(hdr), s.Bytes(data))
	s.Call("runtime: clear ambient caps", unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL)
	if !l.nnp {
		return
	}
	s.Call("runtime: no_new_privs", unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1)
	if l.seccomp != nil {
		loadFilter()
	}
}

// permittedCaps is the calling thread's permitted capability set.
func permittedCaps() (capSet, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var cur [2]unix.CapUserData
	if err := unix.Capget(&hdr, &cur[0]); err != nil {
		return 0, fmt.Errorf("runtime: capget: %w", err)
	}
	return capSet(cur[0].Permitted) | capSet(cur[1].Permitted)<<32, nil
}
