//go:build !(linux && amd64)

package initprog

const machine = 0 // EM_NONE

// code is nil where the init program is not written: the runtime then
// uses its Go init.
func code() []byte { return nil }
