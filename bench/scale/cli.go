package main

// The command line's own `get pods -A`, timed as a user meets it: a fresh
// process per list (the skiff binary, or this one acting as the command
// line), over TLS to the cached list server, its table read from a pipe.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/skiff-sh/skiff/cli"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/pki"
)

// roleCLI runs this binary as skiff's command line (without its daemons).
const roleCLI = "cli"

// runCLI is the command line role's main. With cpuEnv set, it writes a
// CPU profile of the whole command there (cli-PID).
func runCLI() error {
	if dir := os.Getenv(cpuEnv); dir != "" {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("cli-%d", os.Getpid())))
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	root := cli.NewRootCommand()
	root.SetArgs(os.Args[1:])
	if err := root.Execute(); err != nil {
		return fmt.Errorf("exit status %d", cli.ExitCode(err))
	}
	return nil
}

// cliGet runs `get pods -A` of a skiff command line against one server.
type cliGet struct {
	bin  string
	env  []string
	args []string
}

// cliRun is one run of the command line: how long from its start to its
// exit, the table's rows, and the process's peak RSS and CPU.
type cliRun struct {
	took time.Duration
	rows int
	rss  int64 // bytes: its VmHWM, sampled every 5 ms
	cpu  time.Duration
}

// newCLIGet writes a client config for addr (TLS trusting the benchmark's
// CA in tlsDir, as `skiff server` writes one) into dir; bin is the skiff
// binary to run, or "" for this one as the command line.
func newCLIGet(bin, dir, tlsDir, addr string) (*cliGet, error) {
	cfg := filepath.Join(dir, "cli-config")
	if err := client.SaveConfig(cfg, &client.Config{Server: addr, CA: filepath.Join(tlsDir, pki.CACertFile)}); err != nil {
		return nil, err
	}
	g := &cliGet{bin: bin, env: os.Environ()}
	if bin == "" {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		g.bin = self
		g.env = append(g.env, roleEnv+"="+roleCLI)
	}
	// Binaries before `get` bounded each page by --request-timeout bound
	// the whole list by it, and 150,000 pods on a busy machine take longer
	// than the default 10 s.
	g.args = []string{"--config", cfg, "--request-timeout", "5m", "get", "pods", "-A"}
	return g, nil
}

// name is the binary's path, or "skiff" for this one as the command line.
func (g *cliGet) name() string {
	if slices.Contains(g.env, roleEnv+"="+roleCLI) {
		return "skiff"
	}
	return g.bin
}

// list runs the command line once.
func (g *cliGet) list(ctx context.Context) (cliRun, error) {
	cmd := exec.CommandContext(ctx, g.bin, g.args...)
	cmd.Env = g.env
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return cliRun{}, err
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return cliRun{}, err
	}
	// The peak RSS is the process's own high-water mark (VmHWM), read
	// while it runs: its rusage's maxrss is no good here, since a child
	// exec'd from Go's vfork starts from this process's mark.
	var peak atomic.Int64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			if hwm := procStatus(cmd.Process.Pid, "VmHWM"); hwm > peak.Load() {
				peak.Store(hwm)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	rows := 0
	r := bufio.NewReaderSize(stdout, 1<<16)
	for {
		_, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			break
		}
		rows++
	}
	_, _ = io.Copy(io.Discard, r)
	// Its output ended: one more reading of the mark before it is reaped.
	close(done)
	<-sampled
	if hwm := procStatus(cmd.Process.Pid, "VmHWM"); hwm > peak.Load() {
		peak.Store(hwm)
	}
	if err := cmd.Wait(); err != nil {
		return cliRun{}, fmt.Errorf("%s %v: %v: %s", g.bin, g.args, err, stderr.String())
	}
	run := cliRun{took: time.Since(t0), rows: rows - 1, rss: peak.Load()} // rows less the header
	if u, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		run.cpu = time.Duration(u.Utime.Nano() + u.Stime.Nano())
	}
	return run, nil
}

// limitedBuffer keeps the first 4 KiB written to it: enough of a failing
// command's error.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 4096 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }
