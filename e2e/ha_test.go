package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/leader"
	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// haServer is one `skiff server` process of a cluster of servers on
// loopback, each on ports of its own.
type haServer struct {
	// ns, when set, is the network namespace the server runs in.
	ns              string
	name, dir       string
	api, etcd, peer string
	cmd             *exec.Cmd
	done            chan error
	log             *bytes.Buffer
}

func newHAServer(t *testing.T, name string) *haServer {
	return &haServer{name: name, dir: filepath.Join(t.TempDir(), name), api: loopbackPort(t), etcd: loopbackPort(t), peer: loopbackPort(t)}
}

// start runs the server; join names the server to join ("" starts the
// cluster) and tokenFile its server token.
func (s *haServer) start(t *testing.T, join, tokenFile string) {
	t.Helper()
	args := []string{"server", "--data-dir", s.dir, "--listen", s.api, "--etcd-listen", s.etcd,
		"--etcd-peer-listen", s.peer, "--server-name", s.name, "--registry-addr", "", "--metrics-addr", "", "--dashboard-addr", "",
		"--write-config", filepath.Join(s.dir, "cli", "config")}
	if join == "" {
		args = append(args, "--cluster-init")
	} else {
		args = append(args, "--server", "https://"+join, "--token-file", tokenFile)
	}
	s.cmd = exec.Command(skiffBinary(t), args...)
	if s.ns != "" {
		// nsenter execs the server: the PID stays the server's.
		s.cmd = exec.Command("nsenter", append([]string{"--net=/run/netns/" + s.ns, "--", skiffBinary(t)}, args...)...)
	}
	s.log = &bytes.Buffer{}
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if os.Getenv("SKIFF_TEST_LOG") != "" {
		s.cmd.Stdout, s.cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", s.name, err)
	}
	s.done = make(chan error, 1)
	cmd, done := s.cmd, s.done
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState != nil {
			return
		}
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Signal(syscall.SIGQUIT)
			time.Sleep(time.Second)
			cmd.Process.Kill()
			<-done
			t.Errorf("%s did not stop within 30s of SIGTERM", s.name)
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", s.name, tail(s.log.String(), 40))
		}
	})
}

// waitFile waits for a file the server writes once it is ready.
func (s *haServer) waitFile(t *testing.T, ctx context.Context, rel string) string {
	t.Helper()
	path := filepath.Join(s.dir, rel)
	for {
		if _, err := os.Stat(path); err == nil {
			return path
		}
		select {
		case err := <-s.done:
			t.Fatalf("%s exited: %v\n%s", s.name, err, tail(s.log.String(), 40))
		case <-ctx.Done():
			t.Fatalf("%s never wrote %s\n%s", s.name, rel, tail(s.log.String(), 40))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *haServer) kill(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.done
}

// etcdClient reaches the server's embedded etcd with its own client
// certificate.
func (s *haServer) etcdClient(t *testing.T) *clientv3.Client {
	t.Helper()
	dir := filepath.Join(s.dir, "pki")
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "etcd-client.crt"), filepath.Join(dir, "etcd-client.key"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.ReadCertFile(filepath.Join(dir, pki.CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: []string{"https://" + s.etcd}, DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		TLS: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, Certificates: []tls.Certificate{pair}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// Three `skiff server` processes share one embedded etcd. A client
// writes ConfigMaps in a loop through all three addresses while the
// server leading the scheduler is killed with SIGKILL: the writes go on
// through another server, every acknowledged write is there afterwards,
// the scheduler's leadership moves to a surviving server and schedules
// (marks a pod Unschedulable: there are no nodes), and the killed server
// comes back into the cluster from its data dir.
func TestServersSurviveLosingOne(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("slow: three servers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	servers := []*haServer{newHAServer(t, "s1"), newHAServer(t, "s2"), newHAServer(t, "s3")}
	servers[0].start(t, "", "")
	token := servers[0].waitFile(t, ctx, "server-token")
	config := servers[0].waitFile(t, ctx, "cli/config")
	for _, s := range servers[1:] {
		s.start(t, servers[0].api, token)
		s.waitFile(t, ctx, "cli/config")
	}
	opts, err := client.OptionsFor(config)
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, s := range servers {
		addrs = append(addrs, s.api)
	}
	c, err := client.New(strings.Join(addrs, ","), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}

	// Who leads the scheduler: identities are host-pid.
	// Each server's own etcd member: after the kill a survivor's answers.
	eclis := map[*haServer]*clientv3.Client{}
	for _, s := range servers {
		eclis[s] = s.etcdClient(t)
	}
	ecli := eclis[servers[0]]
	var victim *haServer
	for victim == nil {
		id, err := leader.Current(ctx, ecli, "scheduler")
		for _, s := range servers {
			if err == nil && strings.HasSuffix(id, "-"+strconv.Itoa(s.cmd.Process.Pid)) {
				victim = s
			}
		}
		if victim == nil {
			select {
			case <-ctx.Done():
				t.Fatalf("no scheduler leader among the servers: %q %v", id, err)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}

	_, rv, err := c.ConfigMaps().List(ctx, client.ListOptions{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	seen := &watchLog{}
	fctx, stopFollowing := context.WithCancel(ctx)
	wctx, stopWriting := context.WithCancel(ctx)
	var following, writing sync.WaitGroup
	following.Add(1)
	writing.Add(1)
	go func() { defer following.Done(); seen.follow(fctx, c, rv) }()
	w := &writer{c: c}
	go func() { defer writing.Done(); w.run(wctx) }()
	for w.count() < 20 {
		select {
		case <-ctx.Done():
			t.Fatalf("the writer acknowledged %d writes before the kill", w.count())
		case <-time.After(50 * time.Millisecond):
		}
	}

	for _, s := range servers {
		if s != victim {
			ecli = eclis[s]
		}
	}
	victim.kill(t)
	killed := time.Now()
	t.Logf("killed %s (leading the scheduler)", victim.name)
	acked := w.count()
	for w.count() < acked+20 {
		select {
		case <-ctx.Done():
			t.Fatalf("writes stopped after the kill: %d acknowledged before, %d after", acked, w.count()-acked)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Logf("writes resumed %v after the kill (at %s); failed attempts: %s", time.Since(killed).Round(time.Millisecond), killed.Format("15:04:05.000"), strings.Join(w.failures(), "; "))

	var survivor *haServer
	for survivor == nil {
		id, err := leader.Current(ctx, ecli, "scheduler")
		for _, s := range servers {
			if s != victim && err == nil && strings.HasSuffix(id, "-"+strconv.Itoa(s.cmd.Process.Pid)) {
				survivor = s
			}
		}
		if survivor == nil {
			select {
			case <-ctx.Done():
				t.Fatalf("the scheduler's leadership never moved off %s: %q %v", victim.name, id, err)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	t.Logf("scheduler leadership moved to %s %v after the kill", survivor.name, time.Since(killed).Round(time.Millisecond))
	waitUnschedulable(t, ctx, c, "after-kill")

	// The watch, resumed from its last revision on another server, saw
	// every acknowledged write, in revision order. The writer stops first,
	// so that no write is acknowledged after the last one waited for.
	stopWriting()
	writing.Wait()
	last := w.acknowledged()[len(w.acknowledged())-1]
	for !seen.has(last) {
		select {
		case <-ctx.Done():
			t.Fatalf("the watch never saw %s", last)
		case <-time.After(100 * time.Millisecond):
		}
	}
	stopFollowing()
	following.Wait()
	for _, name := range w.acknowledged() {
		if !seen.has(name) {
			t.Errorf("the watch missed acknowledged write %s: a gap after the failover", name)
		}
	}
	if seen.disorder != "" {
		t.Error(seen.disorder)
	}
	t.Logf("the watch resumed %d times", seen.resumed)
	list, _, err := c.ConfigMaps().List(ctx, client.ListOptions{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, cm := range list {
		stored[cm.GetMetadata().GetName()] = true
	}
	for _, name := range w.acknowledged() {
		if !stored[name] {
			t.Errorf("acknowledged write %s is missing", name)
		}
	}
	t.Logf("%d acknowledged writes, all present", len(w.acknowledged()))

	// The killed server comes back from its data dir as the same member.
	victim.start(t, servers[0].api, token)
	members, err := ecli.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(members.Members) != 3 {
		t.Fatalf("%d etcd members after the restart, want 3", len(members.Members))
	}
	vc, err := client.New(victim.api, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	for {
		got, err := vc.ConfigMaps().Get(ctx, "default", w.acknowledged()[0])
		if err == nil && got != nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the restarted %s does not serve: %v", victim.name, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// writer creates ConfigMaps one after another and remembers those the
// server acknowledged.
type writer struct {
	c    *client.Client
	mu   sync.Mutex
	acks []string
	// uids are the acknowledged objects' UIDs, by name.
	uids map[string]string
	// errs are the first failed attempts, for the log.
	errs []string
}

func (w *writer) run(ctx context.Context) {
	for i := 0; ctx.Err() == nil; i++ {
		name := fmt.Sprintf("w-%05d", i)
		for ctx.Err() == nil {
			// A write proposed while etcd's leader is dying is dropped by
			// raft and answers only at its deadline: a short one retries
			// sooner, as an impatient client would.
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			got, err := w.c.ConfigMaps().Create(cctx, &skiffv1.ConfigMap{
				Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: "default"}, Data: map[string]string{"i": name},
			})
			cancel()
			if err == nil {
				w.mu.Lock()
				w.acks = append(w.acks, name)
				if w.uids == nil {
					w.uids = map[string]string{}
				}
				w.uids[name] = got.GetMetadata().GetUid()
				w.mu.Unlock()
				break
			}
			if status.Code(err) == codes.AlreadyExists {
				break // an earlier attempt landed, unacknowledged: not counted
			}
			w.mu.Lock()
			if len(w.errs) < 10 {
				w.errs = append(w.errs, time.Now().Format("15:04:05.000")+" "+err.Error())
			}
			w.mu.Unlock()
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func (w *writer) failures() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.errs...)
}

func (w *writer) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acks)
}

func (w *writer) acknowledged() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.acks...)
}

// waitUnschedulable creates a pod and waits for the scheduler to mark it
// Unschedulable (no nodes): the scheduler runs.
func waitUnschedulable(t *testing.T, ctx context.Context, c *client.Client, name string) {
	t.Helper()
	pod := &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:     &skiffv1.PodSpec{Containers: []*skiffv1.Container{{Name: "c", Image: "busybox"}}},
	}
	if _, err := c.Pods().Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	for {
		got, err := c.Pods().Get(ctx, "default", name)
		if err == nil {
			if cond := skiffv1.FindCondition(got.GetStatus().GetConditions(), skiffv1.PodScheduled); cond.GetReason() == skiffv1.ReasonUnschedulable {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the scheduler never looked at pod %s: %v %v", name, got.GetStatus(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// watchLog follows ConfigMaps from a revision, resuming from the last
// revision it saw whenever the stream breaks (its server died), and
// records what it saw.
type watchLog struct {
	mu    sync.Mutex
	names map[string]bool
	// added counts each name's ADDED events: one object made once.
	added    map[string]int
	lastRev  int64
	disorder string
	resumed  int
	// breaks counts why the stream broke, for the log.
	breaks map[string]int
}

func (l *watchLog) follow(ctx context.Context, c *client.Client, rv string) {
	for ctx.Err() == nil {
		wt, err := c.ConfigMaps().Watch(ctx, client.ListOptions{Namespace: "default"}, rv)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for {
			ev, err := wt.Next()
			if err != nil {
				l.mu.Lock()
				if l.breaks == nil {
					l.breaks = map[string]int{}
				}
				l.breaks[err.Error()]++
				l.mu.Unlock()
				break
			}
			if ev.ResourceVersion != "" {
				rv = ev.ResourceVersion
			}
			if ev.Type == skiffv1.WatchEvent_BOOKMARK {
				continue
			}
			l.add(ev.Object.GetMetadata().GetName(), ev.ResourceVersion, ev.Type == skiffv1.WatchEvent_ADDED)
		}
		wt.Stop()
		l.mu.Lock()
		l.resumed++
		l.mu.Unlock()
		// A server whose etcd member has no leader ends each watch at
		// once: retry as a client would, not in a tight loop.
		time.Sleep(50 * time.Millisecond)
	}
}

func (l *watchLog) add(name, rv string, added bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.names == nil {
		l.names, l.added = map[string]bool{}, map[string]int{}
	}
	l.names[name] = true
	if added {
		l.added[name]++
	}
	r, err := strconv.ParseInt(rv, 10, 64)
	if err != nil || r <= l.lastRev {
		if l.disorder == "" {
			l.disorder = fmt.Sprintf("watch event %s at revision %q after revision %d", name, rv, l.lastRev)
		}
		return
	}
	l.lastRev = r
}

func (l *watchLog) has(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.names[name]
}
