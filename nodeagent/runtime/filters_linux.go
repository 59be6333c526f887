package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// seccompFilter is a seccomp program the runtime built for one capability
// set, as it travels to an init (or an exec) in its config. Assembling the
// default filter costs a fresh process a few milliseconds of CPU (the
// syscall table, then several hundred instructions); the runtime does it
// once per capability set and every container's init only loads it.
type seccompFilter struct {
	Caps    uint64 // the capability set the program was built for
	Program []byte // struct sock_filter, 8 bytes each, little-endian
}

// filterCache holds the programs built so far, by capability set (a node
// sees a handful of distinct sets).
type filterCache struct {
	mu sync.Mutex
	m  map[capSet][]unix.SockFilter
}

// program returns the default filter for caps, building it on first use.
// The slice is shared: callers must not change it.
func (f *filterCache) program(caps capSet) ([]unix.SockFilter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.m[caps]; ok {
		return p, nil
	}
	p, err := seccompProgram(caps)
	if err != nil {
		return nil, err
	}
	if f.m == nil {
		f.m = map[capSet][]unix.SockFilter{}
	}
	f.m[caps] = p
	return p, nil
}

// filterFor plans sc's lockdown as the init will and returns the filter
// the init is to load, or nil when it loads none (privileged, unconfined).
// A security context the init would refuse (an unknown capability) fails
// here already.
func (r *Runtime) filterFor(sc SecurityContext, devicesLocked bool) (*seccompFilter, error) {
	l, err := planLockdown(sc, devicesLocked, r.filters.program)
	if err != nil {
		return nil, err
	}
	if l.seccomp == nil {
		return nil, nil
	}
	return &seccompFilter{Caps: uint64(l.caps), Program: encodeFilter(l.seccomp)}, nil
}

// lookup is the filter source of an init: the program handed over, and
// only for the capability set it was built for.
func (f *seccompFilter) lookup(caps capSet) ([]unix.SockFilter, error) {
	if f == nil {
		return nil, errors.New("runtime: the config holds no seccomp filter")
	}
	if capSet(f.Caps) != caps {
		return nil, fmt.Errorf("runtime: the config's seccomp filter is for capabilities %#x, the container has %#x", f.Caps, caps)
	}
	return decodeFilter(f.Program)
}

const sockFilterSize = 8

// bpfMaxInstructions is the kernel's BPF_MAXINSNS for classic BPF.
const bpfMaxInstructions = 4096

func encodeFilter(prog []unix.SockFilter) []byte {
	b := make([]byte, 0, len(prog)*sockFilterSize)
	for _, in := range prog {
		b = binary.LittleEndian.AppendUint16(b, in.Code)
		b = append(b, in.Jt, in.Jf)
		b = binary.LittleEndian.AppendUint32(b, in.K)
	}
	return b
}

func decodeFilter(b []byte) ([]unix.SockFilter, error) {
	n := len(b) / sockFilterSize
	if len(b)%sockFilterSize != 0 || n == 0 || n > bpfMaxInstructions {
		return nil, fmt.Errorf("runtime: seccomp filter of %d bytes is not a program", len(b))
	}
	prog := make([]unix.SockFilter, n)
	for i := range prog {
		in := b[i*sockFilterSize:]
		prog[i] = unix.SockFilter{Code: binary.LittleEndian.Uint16(in), Jt: in[2], Jf: in[3], K: binary.LittleEndian.Uint32(in[4:])}
	}
	return prog, nil
}

// loadSeccomp installs prog on the calling thread only; the caller is about
// to execve from it. no_new_privs must be set first, or the thread must
// still hold CAP_SYS_ADMIN.
func loadSeccomp(prog []unix.SockFilter) error {
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog)))
	if errno != 0 {
		return fmt.Errorf("runtime: load seccomp filter: %w", errno)
	}
	return nil
}
