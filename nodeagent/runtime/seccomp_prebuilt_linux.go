//go:build seccomp_prebuilt

package runtime

import (
	"errors"

	"golang.org/x/sys/unix"
)

// The container shim is built with the seccomp_prebuilt tag: it only loads
// filters the Runtime that created the container built (filters_linux.go)
// and leaves the filter assembler and its syscall tables, whose package
// initialisers every supervisor and init would run, out of the binary.
func seccompProgram(capSet) ([]unix.SockFilter, error) {
	return nil, errors.New("runtime: this build (seccomp_prebuilt) loads seccomp filters built by the runtime and assembles none")
}
