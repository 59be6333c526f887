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

// shimEnv is the whole environment of the processes the runtime re-executes
// (supervisor, init, exec helper, pause); nothing of the caller's leaks
// into them. One P: they run one goroutine at a time, and a Go start-up
// with a P per CPU costs a third more CPU time and page faults (per-P
// caches, spinning threads), which every container pays twice.
func shimEnv() []string { return []string{"GOMAXPROCS=1"} }

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
