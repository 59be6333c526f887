package runtime

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// ShimProtocol names the contract between a Runtime and the supervisors,
// inits and exec helpers it starts (arguments, descriptors, files in the
// state and live directories). A separately built shim answers with its own: a
// Runtime uses a shim only when the two are equal. Change it with the
// contract.
// 3: inits load the seccomp filter the Runtime put in their config.
// 4: a spec's Stdin/StdinOnce/TTY give the init a stdin pipe or terminal and
// the supervisor an attach socket.
// 5: the job names a live directory too, for the supervisor's state file,
// start fifo, log and attach socket.
const ShimProtocol = "skiff-shim/5"

// protocolArg asks a shim for its ShimProtocol.
const protocolArg = "__skiff-protocol"

// CheckShim runs the program at path the way a Runtime would and reports
// whether it speaks this Runtime's ShimProtocol: a shim left over from
// another build, or one on a file system that forbids exec, is refused
// here instead of failing every container.
func CheckShim(path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []byte
	var err error
	// A file just written may be held open for writing for a moment by a
	// child forked meanwhile that has not yet exec'd: exec fails with
	// ETXTBSY until it has.
	for try := 0; ; try++ {
		out, err = exec.CommandContext(ctx, path, protocolArg, "-").Output()
		if !errors.Is(err, syscall.ETXTBSY) || try == 20 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("runtime: shim %s does not run: %w", path, err)
	}
	if got := strings.TrimSpace(string(out)); got != ShimProtocol {
		return fmt.Errorf("runtime: shim %s speaks %q, this agent %q: rebuild both with make", path, got, ShimProtocol)
	}
	return nil
}
