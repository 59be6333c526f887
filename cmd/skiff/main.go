// Command skiff is the single binary of skiff: every daemon, the command line,
// and the hidden re-exec entry points that containers start from.
package main

import (
	"os"
	"runtime"

	"github.com/skiff-sh/skiff/cli"
	ctrruntime "github.com/skiff-sh/skiff/nodeagent/runtime"
)

// Namespace work (setns, unshare) happens on goroutines locked to their OS
// thread. Locking the main goroutine to the main thread here keeps such a
// goroutine from ever landing on the main thread and leaving it inside a pod's
// namespaces for good (docs/ARCHITECTURE.md, "Rules").
func init() { runtime.LockOSThread() }

func main() {
	// RE-EXEC ENTRY POINTS: container init and supervisor dispatch go here,
	// before cobra sees the arguments.
	if ctrruntime.RunReexecEntry() {
		return
	}

	root := cli.NewRootCommand(daemonCommands()...)
	if err := root.Execute(); err != nil {
		os.Exit(cli.ExitCode(err))
	}
}
