// Command skiff-shim is the small program a container's supervisor and init
// run as. The agent starts it; people do not. It links the container runtime
// and nothing of the control plane, so each container costs a small binary's
// start-up and memory instead of the whole skiff binary's.
package main

import (
	"fmt"
	"os"
	"runtime"

	ctrruntime "github.com/skiff-sh/skiff/nodeagent/runtime"
)

// The supervisor and init join namespaces on locked goroutines: the main
// goroutine keeps the main thread so none of them lands on it.
func init() { runtime.LockOSThread() }

func main() {
	if ctrruntime.RunReexecEntry() {
		return
	}
	fmt.Fprintln(os.Stderr, "skiff-shim runs containers for the skiff node agent and is started by it; run `skiff --help` instead")
	os.Exit(2)
}
