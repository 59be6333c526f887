package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// result is what one command run printed.
type result struct {
	out, err string
	e        error
}

// runner runs commands in-process against one test server, with a clock
// the test chooses.
type runner struct {
	t    *testing.T
	srv  *apitest.Server
	now  time.Time
	addr string
}

// testEnviron is an environment with nothing in it: no $SKIFF_SERVER, no
// $SKIFF_CONFIG, and a home directory of the test's own. A user's
// ~/.skiff/config (TLS, an admin certificate) never reaches the command
// under test.
func testEnviron(t *testing.T) client.Environment {
	return client.Environment{Home: t.TempDir()}
}

func newRunner(t *testing.T) *runner {
	t.Helper()
	srv := apitest.Start(t)
	return &runner{t: t, srv: srv, addr: srv.Addr, now: time.Now()}
}

// run executes `skiff --server ADDR args...` with stdin.
func (r *runner) runIn(stdin io.Reader, args ...string) result {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return r.runCtx(ctx, stdin, args...)
}

func (r *runner) runCtx(ctx context.Context, stdin io.Reader, args ...string) result {
	e := newEnv(testEnviron(r.t))
	now := r.now
	e.now = func() time.Time { return now }
	root := newRoot(e)
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	root.SetIn(stdin)
	root.SetArgs(append([]string{"--server", r.addr}, args...))
	err := root.ExecuteContext(ctx)
	var p printedError
	if err != nil && !errors.As(err, &p) {
		printError(&errb, err) // what ExitCode would print
	}
	return result{out: out.String(), err: errb.String(), e: err}
}

func (r *runner) run(args ...string) result {
	r.t.Helper()
	return r.runIn(nil, args...)
}

// ok runs a command that must succeed and returns its stdout.
func (r *runner) ok(args ...string) string {
	r.t.Helper()
	res := r.run(args...)
	if res.e != nil {
		r.t.Fatalf("skiff %s: %v\nstderr: %s", strings.Join(args, " "), res.e, res.err)
	}
	return res.out
}

// writeFile writes a manifest into the test's directory.
func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// absTime matches the absolute times describe prints, which depend on when
// the test ran.
var absTime = regexp.MustCompile(`[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [-+]\d{4}`)

// golden compares got with testdata/NAME.golden, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	got = absTime.ReplaceAllString(got, "<TIME>")
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `go test ./cli -run %s -update` to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (rerun with -update if the change is meant):\n--- got\n%s--- want\n%s", name, path, got, want)
	}
}

func clientListAll() client.ListOptions { return client.ListOptions{} }

func nowTS() *timestamppb.Timestamp { return timestamppb.Now() }

func clientDelete() client.DeleteOptions { return client.DeleteOptions{} }

// pipe is a stdout a test can wait on while a command is still running.
type pipe struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func newPipe() (*pipe, *pipe) { p := &pipe{}; return p, p }

func (p *pipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.Write(b)
}

func (p *pipe) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.String()
}

func (p *pipe) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("output never had %q:\n%s", s, p.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runWatch runs a long-running command writing stdout to w until ctx ends.
func (r *runner) runWatch(ctx context.Context, w io.Writer, args ...string) result {
	e := newEnv(testEnviron(r.t))
	e.now = func() time.Time { return r.now }
	root := newRoot(e)
	var errb bytes.Buffer
	root.SetOut(w)
	root.SetErr(&errb)
	root.SetArgs(append([]string{"--server", r.addr}, args...))
	err := root.ExecuteContext(ctx)
	return result{err: errb.String(), e: err}
}
