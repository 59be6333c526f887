// Package initprog is a container's init without a Go runtime: a few
// hundred bytes of machine code that map a script and make its system
// calls in order, then execve the workload. The supervisor decides
// everything a container's setup needs (paths, mounts, capabilities, the
// seccomp filter, the command found in PATH) and writes it as a script;
// the init only has to be PID 1 of the new PID namespace when it mounts
// /proc and locks itself down. Starting it costs an execve of a tiny
// static file instead of a Go program's start-up.
//
// The init is started with these descriptors: 0–2 its stdio, SyncFd to
// wait on, MsgFd to report on, BlobFd holding the script; any others the
// script names itself. It reports on MsgFd with 8-byte records: a step's
// index and its errno when a step fails (then it exits 1), or Ready when
// the script writes it.
package initprog

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Descriptors the init is started with.
const (
	SyncFd = 3
	MsgFd  = 4
	BlobFd = 5
)

// Base is the address the init maps its script at, so the script can hold
// absolute pointers (argv, the seccomp program). Far from the program's
// own segment at 4 MiB and the stack at the top.
const Base = 0x5c1f00000000

const (
	magic      = 0x31746e69666b73 // "skfint1\0"
	headerSize = 32               // magic, steps, first step's address, spare
	stepSize   = 80               // nr, a0–a5, tolerated errno, wanted result, flags
	flagWant   = 1
	bootIndex  = 0xffffffff // a failure before the first step
	readyIndex = 0xfffffffe // the record a script writes when it is ready
)

// Script is a list of system calls and the data they point at.
type Script struct {
	data  []byte // what pointers in steps point at, from Base+headerSize
	steps []Step
	ready uint64
}

// Step is one system call. A step fails when the call returns an errno
// other than Tolerate, or a result other than Want when Want is set.
type Step struct {
	Name     string // for errors: what the step does
	Nr       uintptr
	Args     [6]uint64
	Tolerate unix.Errno
	Want     *uint64
}

// Call appends a system call and returns it for Tolerate or Want.
func (s *Script) Call(name string, nr uintptr, args ...uint64) *Step {
	if len(args) > 6 {
		panic("initprog: a system call takes at most six arguments")
	}
	st := Step{Name: name, Nr: nr}
	copy(st.Args[:], args)
	if s.steps == nil {
		s.steps = make([]Step, 0, 64) // a container's script is about this long
	}
	s.steps = append(s.steps, st)
	return &s.steps[len(s.steps)-1]
}

// WantResult makes the step fail unless the call returns v.
func (st *Step) WantResult(v uint64) *Step { st.Want = &v; return st }

// TolerateErrno lets the step pass when the call fails with e.
func (st *Step) TolerateErrno(e unix.Errno) *Step { st.Tolerate = e; return st }

// Bytes copies b into the script and returns its address in the init.
func (s *Script) Bytes(b []byte) uint64 {
	if s.data == nil {
		s.data = make([]byte, 0, 4096)
	}
	for len(s.data)%8 != 0 {
		s.data = append(s.data, 0)
	}
	addr := Base + headerSize + uint64(len(s.data))
	s.data = append(s.data, b...)
	return addr
}

// String copies str, NUL-terminated, and returns its address.
func (s *Script) String(str string) uint64 {
	return s.Bytes(append([]byte(str), 0))
}

// Strings copies strs and a NULL-terminated array of pointers to them (an
// argv or envp), and returns the array's address.
func (s *Script) Strings(strs []string) uint64 {
	ptrs := make([]byte, 0, 8*(len(strs)+1))
	for _, str := range strs {
		ptrs = binary.LittleEndian.AppendUint64(ptrs, s.String(str))
	}
	return s.Bytes(binary.LittleEndian.AppendUint64(ptrs, 0))
}

// Ready appends the step that tells the supervisor the init is ready.
func (s *Script) Ready() {
	if s.ready == 0 {
		s.ready = s.Bytes(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, readyIndex), 0))
	}
	s.Call("report ready", unix.SYS_WRITE, MsgFd, s.ready, 8).WantResult(8)
}

// Blob is the script as the init maps it.
func (s *Script) Blob() []byte {
	b := make([]byte, headerSize, headerSize+len(s.data)+8+stepSize*len(s.steps))
	b = append(b, s.data...)
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	binary.LittleEndian.PutUint64(b[0:], magic)
	binary.LittleEndian.PutUint64(b[8:], uint64(len(s.steps)))
	binary.LittleEndian.PutUint64(b[16:], Base+uint64(len(b)))
	for _, st := range s.steps {
		b = binary.LittleEndian.AppendUint64(b, uint64(st.Nr))
		for _, a := range st.Args {
			b = binary.LittleEndian.AppendUint64(b, a)
		}
		var want, flags uint64
		if st.Want != nil {
			want, flags = *st.Want, flagWant
		}
		b = binary.LittleEndian.AppendUint64(b, uint64(st.Tolerate))
		b = binary.LittleEndian.AppendUint64(b, want)
		b = binary.LittleEndian.AppendUint64(b, flags)
	}
	return b
}

// ErrEnded is what a report gives when the init closed MsgFd without a
// record: it execve'd the workload, or was killed.
var ErrEnded = errors.New("the init ended its reports")

// Report decodes one record the init wrote: nil for Ready, else the
// failed step as an error naming it.
func (s *Script) Report(rec []byte) error {
	if len(rec) != 8 {
		return fmt.Errorf("init: a report of %d bytes, want 8", len(rec))
	}
	idx := binary.LittleEndian.Uint32(rec)
	errno := unix.Errno(binary.LittleEndian.Uint32(rec[4:]))
	switch {
	case idx == readyIndex:
		return nil
	case idx == bootIndex && errno == 0:
		return errors.New("init: its script is not one it can run")
	case idx == bootIndex:
		return fmt.Errorf("init: map its script: %w", errno)
	case int(idx) >= len(s.steps):
		return fmt.Errorf("init: failed at step %d of %d", idx, len(s.steps))
	case errno == 0:
		return fmt.Errorf("%s: unexpected result", s.steps[idx].Name)
	}
	return fmt.Errorf("%s: %w", s.steps[idx].Name, errno)
}
