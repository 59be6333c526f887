package leader_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/leader"
)

// Tests wait for conditions with generous deadlines and assert no timings.
const deadline = 60 * time.Second

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// candidate runs leader.Run in a goroutine and records what it sees.
type candidate struct {
	name    string
	cancel  context.CancelFunc
	done    chan error
	leading atomic.Bool
	terms   atomic.Int32
	once    sync.Once
}

func startCandidate(t *testing.T, endpoints []string, name string, active *atomic.Int32, most *atomic.Int32) *candidate {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &candidate{name: name, cancel: cancel, done: make(chan error, 1)}
	go func() {
		c.done <- leader.Run(ctx, leader.Config{Endpoints: endpoints, Name: "test", Identity: name, TTL: 2 * time.Second},
			func(ctx context.Context) error {
				n := active.Add(1)
				for {
					m := most.Load()
					if n <= m || most.CompareAndSwap(m, n) {
						break
					}
				}
				c.terms.Add(1)
				c.leading.Store(true)
				<-ctx.Done()
				c.leading.Store(false)
				active.Add(-1)
				return nil
			})
	}()
	t.Cleanup(func() { c.stop(t) })
	return c
}

func (c *candidate) stop(t *testing.T) {
	c.once.Do(func() {
		c.cancel()
		select {
		case err := <-c.done:
			if err != nil {
				t.Errorf("%s: Run: %v", c.name, err)
			}
		case <-time.After(deadline):
			t.Errorf("%s did not stop", c.name)
		}
	})
}

func TestOneLeaderAtATimeAndHandover(t *testing.T) {
	srv := apitest.Start(t)
	var active, most atomic.Int32
	cands := []*candidate{}
	for _, n := range []string{"a", "b", "c"} {
		cands = append(cands, startCandidate(t, srv.EtcdEndpoints, n, &active, &most))
	}
	leaderOf := func() *candidate {
		for _, c := range cands {
			if c.leading.Load() {
				return c
			}
		}
		return nil
	}
	stopped := map[*candidate]bool{}
	for round := range 2 {
		waitFor(t, fmt.Sprintf("a leader (round %d)", round), func() bool { l := leaderOf(); return l != nil && !stopped[l] })
		l := leaderOf()
		l.stop(t) // resigns: the next one takes over without waiting for the TTL
		stopped[l] = true
	}
	waitFor(t, "the last candidate to lead", func() bool { l := leaderOf(); return l != nil && !stopped[l] })
	if most.Load() != 1 {
		t.Fatalf("%d candidates led at once", most.Load())
	}
}

func TestFunctionErrorEndsRun(t *testing.T) {
	srv := apitest.Start(t)
	boom := errors.New("boom")
	err := leader.Run(context.Background(), leader.Config{Endpoints: srv.EtcdEndpoints, Name: "e", Identity: "x"},
		func(context.Context) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	// ...and it resigned: another candidate leads at once.
	ran := false
	err = leader.Run(context.Background(), leader.Config{Endpoints: srv.EtcdEndpoints, Name: "e", Identity: "y"},
		func(context.Context) error { ran = true; return nil })
	if err != nil || !ran {
		t.Fatalf("second candidate: ran %v, %v", ran, err)
	}
}

// When the lease is revoked under the leader (as when etcd expired it), the
// function's context ends and the candidate campaigns again.
func TestLostLeaseCancelsFunction(t *testing.T) {
	srv := apitest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var terms atomic.Int32
	done := make(chan error, 1)
	go func() {
		done <- leader.Run(ctx, leader.Config{Endpoints: srv.EtcdEndpoints, Name: "l", Identity: "x", TTL: 2 * time.Second},
			func(ctx context.Context) error {
				terms.Add(1)
				<-ctx.Done()
				return ctx.Err()
			})
	}()
	waitFor(t, "first term", func() bool { return terms.Load() == 1 })
	cli := etcdClient(t, srv.EtcdEndpoints)
	resp, err := cli.Get(context.Background(), "/skiff-leader/l", clientv3.WithPrefix())
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("leader key: %v %v", resp, err)
	}
	if _, err := cli.Revoke(context.Background(), clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a second term after the lease was lost", func() bool { return terms.Load() == 2 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func etcdClient(t *testing.T, endpoints []string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// A leader process killed with SIGKILL cannot resign: its lease expires and
// a waiting candidate takes over.
func TestFailoverWhenLeaderProcessKilled(t *testing.T) {
	srv := apitest.Start(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "SKIFF_LEADER_HELPER="+strings.Join(srv.EtcdEndpoints, ","))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	leading := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		var once sync.Once
		for sc.Scan() {
			if sc.Text() == "LEADING" {
				once.Do(func() { close(leading) })
			}
		}
	}()
	select {
	case <-leading:
	case <-time.After(deadline):
		t.Fatal("helper process never led")
	}
	var active, most atomic.Int32
	b := startCandidate(t, srv.EtcdEndpoints, "b", &active, &most)
	// b is campaigning behind the helper; it must not lead yet. (If this
	// read races b's start, it only makes the check weaker, never flaky.)
	time.Sleep(200 * time.Millisecond)
	if b.leading.Load() {
		t.Fatal("b leads while the helper is alive")
	}
	killed := time.Now()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to take over", func() bool { return b.leading.Load() })
	t.Logf("took over %v after the kill (lease TTL 2s)", time.Since(killed).Round(10*time.Millisecond))
}

// TestMain runs this test binary as the leader process of the kill test
// when that test starts it (with SKIFF_LEADER_HELPER set); otherwise it
// runs the tests.
func TestMain(m *testing.M) {
	if eps := os.Getenv("SKIFF_LEADER_HELPER"); eps != "" {
		os.Exit(runHelperCandidate(strings.Split(eps, ",")))
	}
	os.Exit(m.Run())
}

// runHelperCandidate campaigns and prints LEADING once it leads; it runs
// until killed.
func runHelperCandidate(endpoints []string) int {
	err := leader.Run(context.Background(), leader.Config{Endpoints: endpoints, Name: "test", Identity: "helper", TTL: 2 * time.Second},
		func(ctx context.Context) error {
			fmt.Println("LEADING")
			<-ctx.Done()
			return nil
		})
	fmt.Fprintf(os.Stderr, "helper Run returned: %v\n", err)
	return 1
}
