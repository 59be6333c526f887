package runtime

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// si_code values of a SIGCHLD siginfo.
const (
	cldExited = 1
	cldKilled = 2
	cldDumped = 3
)

// siginfoStatus returns si_code and si_status of a waitid result. x/sys
// leaves the union opaque; for SIGCHLD it is {pid int32, uid uint32,
// status int32} after the three leading ints and padding.
func siginfoStatus(info *unix.Siginfo) (code, status int) {
	const statusOffset = 24
	p := unsafe.Add(unsafe.Pointer(info), statusOffset)
	return int(info.Code), int(*(*int32)(p))
}
