package main

// The list client in a process of its own, as kubectl is: its lists are
// timed without the hollow nodes, the watchers and their garbage
// collection sharing its process and its Go scheduler. The benchmark
// tells it what to list, one line on its stdin at a time, and reads one
// line of answer.

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

const (
	roleLister = "lister"
	// pkiEnv names the directory of the CA the list servers' serving
	// certificates come from: lists go over TLS, as kubectl's do.
	pkiEnv = "SKIFF_BENCH_SCALE_PKI"
)

// listTLS makes the benchmark's CA in dir, for the list servers.
func listTLS(dir string) error {
	_, _, err := pki.LoadOrCreateCA(dir, "skiff-bench-scale")
	return err
}

// servingTLS is a list server's TLS: a certificate of the benchmark's CA
// for 127.0.0.1, naming the API server.
func servingTLS(dir string) (grpc.ServerOption, error) {
	ca, err := pki.LoadCA(dir)
	if err != nil {
		return nil, err
	}
	kp, err := ca.IssueServer(pki.ServerSpec{IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, URIs: []string{pki.APIServerURI}}, time.Now())
	if err != nil {
		return nil, err
	}
	cert := kp.TLSCertificate()
	return grpc.Creds(credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}})), nil
}

// clientTLS is a list client's TLS, trusting the benchmark's CA.
func clientTLS(dir string) (*tls.Config, error) {
	cert, err := pki.ReadCertFile(filepath.Join(dir, pki.CACertFile))
	if err != nil {
		return nil, err
	}
	return pki.ClientTLS(cert, nil, ""), nil
}

// lister is the list client process: for each line "ADDR CHUNK" on in, it
// lists every pod from ADDR (in pages of CHUNK, or in one request for 0)
// and writes "NANOSECONDS ITEMS PAGES-STORY" or "ERR message" to out.
func lister(ctx context.Context, in io.Reader, out io.Writer, tlsDir string) error {
	tc, err := clientTLS(tlsDir)
	if err != nil {
		return err
	}
	clients := map[string]*client.Client{}
	pt := &pageTimer{}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	lines := bufio.NewScanner(in)
	for lines.Scan() {
		f := strings.Fields(lines.Text())
		if len(f) != 2 {
			fmt.Fprintf(out, "ERR want ADDR CHUNK, got %q\n", lines.Text())
			continue
		}
		chunk, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			fmt.Fprintf(out, "ERR chunk: %v\n", err)
			continue
		}
		c := clients[f[0]]
		if c == nil {
			if c, err = client.New(f[0], client.Options{TLS: tc, DialOptions: []grpc.DialOption{pt.dialOption(), bigLists}}); err != nil {
				fmt.Fprintf(out, "ERR %v\n", err)
				continue
			}
			clients[f[0]] = c
		}
		took, n, story, err := listOnce(ctx, c, pt, chunk)
		if err != nil {
			fmt.Fprintf(out, "ERR %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		fmt.Fprintf(out, "%d %d %s\n", took.Nanoseconds(), n, story)
	}
	return lines.Err()
}

// bigLists lets one request carry every pod: 150,000 are well over the
// client's 64 MiB.
var bigLists = grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1 << 30))

// listOnce lists every pod through c, in pages of chunk or (0) in one
// request, as kubectl does: the pages assembled into one list.
func listOnce(ctx context.Context, c *client.Client, pt *pageTimer, chunk int64) (time.Duration, int, string, error) {
	t0 := time.Now()
	pt.arm()
	items, _, err := client.ListAll(ctx, c.API(), &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_POD}, chunk)
	story := pt.story()
	if err != nil {
		return 0, 0, "", err
	}
	return time.Since(t0), len(items), story, nil
}

// listerProcess is the benchmark's handle on the lister.
type listerProcess struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	once sync.Once
}

// startLister runs this binary as the lister.
func startLister(tlsDir string) (*listerProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), roleEnv+"="+roleLister, pkiEnv+"="+tlsDir)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	l := &listerProcess{cmd: cmd, in: in, out: bufio.NewReader(stdout)}
	if line, err := l.out.ReadString('\n'); err != nil || strings.TrimSpace(line) != "- -" {
		l.stop()
		return nil, fmt.Errorf("lister did not start (said %q, %v)", line, err)
	}
	return l, nil
}

// profile starts or stops the lister's CPU profile (see cpuOnSignal).
func (l *listerProcess) profile() {
	if os.Getenv(cpuEnv) != "" {
		_ = l.cmd.Process.Signal(syscall.SIGUSR2)
	}
}

// stop closes the lister's stdin, which ends it, and waits; it is killed
// (by its PID) if it does not end in 30 s.
func (l *listerProcess) stop() {
	l.once.Do(func() {
		l.in.Close()
		done := make(chan struct{})
		go func() { _ = l.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = l.cmd.Process.Kill()
			<-done
		}
	})
}

// list asks the lister for one list of every pod from addr.
func (l *listerProcess) list(addr string, chunk int64) (time.Duration, int, string, error) {
	if _, err := fmt.Fprintf(l.in, "%s %d\n", addr, chunk); err != nil {
		return 0, 0, "", err
	}
	line, err := l.out.ReadString('\n')
	if err != nil {
		return 0, 0, "", fmt.Errorf("lister: %w", err)
	}
	line = strings.TrimSpace(line)
	if msg, ok := strings.CutPrefix(line, "ERR "); ok {
		return 0, 0, "", fmt.Errorf("lister: %s", msg)
	}
	f := strings.SplitN(line, " ", 3)
	if len(f) != 3 {
		return 0, 0, "", fmt.Errorf("lister said %q", line)
	}
	ns, err1 := strconv.ParseInt(f[0], 10, 64)
	n, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return 0, 0, "", fmt.Errorf("lister said %q", line)
	}
	return time.Duration(ns), n, f[2], nil
}

// runLister is the lister role's main: it ends when its stdin closes.
func runLister() error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if d := os.Getenv(cpuEnv); d != "" {
		go cpuOnSignal(ctx, d, roleLister)
	}
	// Nothing to wait for: say so, as the servers print their address.
	fmt.Println("- -")
	return lister(ctx, os.Stdin, os.Stdout, os.Getenv(pkiEnv))
}
