package runtime

import (
	"fmt"
	"os"
)

// Hidden first arguments that select a re-exec entry point.
const (
	supervisorArg = "__skiff-supervise"
	initArg       = "__skiff-init"
	execArg       = "__skiff-exec"
	pauseArg      = "__skiff-pause"
)

// RunReexecEntry runs the container-side entry point that the runtime
// re-executed this binary for, and exits the process with its status. It
// returns false at once when the process is not such a re-exec; call it
// first thing in main (and in TestMain of tests that start containers):
//
//	if runtime.RunReexecEntry() { return }
func RunReexecEntry() bool {
	if len(os.Args) < 3 {
		return false
	}
	var code int
	switch os.Args[1] {
	case supervisorArg:
		code = runSupervisor()
	case initArg:
		code = runInit()
	case pauseArg:
		code = runPause()
	case execArg:
		code = runExecInit(os.Args[2])
	case protocolArg:
		fmt.Println(ShimProtocol)
	default:
		return false
	}
	os.Exit(code)
	return true
}
