//go:build !(linux && amd64)

package initprog

import "debug/elf"

const machine = elf.EM_NONE

// code is nil where the init program is not written: the runtime then
// uses its Go init.
func code() []byte { return nil }
