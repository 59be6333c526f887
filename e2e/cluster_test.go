package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/nodeagent/teardown"
)

// binary is the skiff binary built once for the whole package.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func skiffBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "skiff-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "skiff")
		// The shim beside the binary, as `make build` leaves them and
		// with its tag: the agents start containers from it.
		for _, b := range []struct{ out, pkg, tags string }{{binPath, "../cmd/skiff", ""}, {shimBinary(binPath), "../cmd/skiff-shim", "seccomp_prebuilt"}} {
			out, err := exec.Command("go", "build", "-tags", b.tags, "-o", b.out, b.pkg).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %v: %s", b.pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// shimBinary is the container shim built beside the skiff binary bin.
func shimBinary(bin string) string { return filepath.Join(filepath.Dir(bin), "skiff-shim") }

func TestMain(m *testing.M) {
	home, err := hermeticEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(2)
	}
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.RemoveAll(home)
	os.Exit(code)
}

// hermeticEnv keeps the invoking user's setup away from every skiff
// process the tests start: no SKIFF_SERVER, SKIFF_CONFIG or SKIFF_TOKEN,
// and an empty home of the suite's own instead of the user's (whose
// ~/.skiff/config a `skiff up` may have written). Each test then says which config to use. Go's own
// directories are pinned first, so the build of the binary still finds
// its caches.
func hermeticEnv() (home string, err error) {
	out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	if err != nil {
		return "", fmt.Errorf("go env: %w", err)
	}
	dirs := strings.Split(strings.TrimSpace(string(out)), "\n")
	for i, name := range []string{"GOCACHE", "GOMODCACHE", "GOPATH"} {
		if i < len(dirs) && dirs[i] != "" {
			os.Setenv(name, dirs[i])
		}
	}
	for _, name := range []string{"SKIFF_SERVER", "SKIFF_CONFIG", "SKIFF_TOKEN"} {
		os.Unsetenv(name)
	}
	// Informers share their objects with every component of a process
	// (and a server's with its watch cache): a component that changes one
	// in place must crash the cluster under test, not corrupt it quietly.
	os.Setenv("SKIFF_INFORMER_MUTATION_CHECK", "1")
	home, err = os.MkdirTemp("", "skiff-e2e-home-")
	if err != nil {
		return "", err
	}
	return home, os.Setenv("HOME", home)
}

// Cluster is what a test needs of a cluster: run the CLI against it, and
// stop and start it.
type Cluster interface {
	// Skiff runs the command line against the cluster.
	Skiff(args ...string) (stdout string, err error)
	// Stop ends the cluster's processes (SIGTERM), Kill without notice
	// (SIGKILL); Start brings them back on the same data.
	Stop()
	Kill()
	Start()
	// InNode runs a command in the node's network namespace.
	InNode(args ...string) (string, error)
}

// upCluster is `skiff up` in a network namespace of its own.
type upCluster struct {
	t       *testing.T
	bin     string
	ns      string // netns name
	dataDir string
	runDir  string
	cfg     string
	cmd     *exec.Cmd
	log     *bytes.Buffer
	done    chan error
	args    []string // extra flags for skiff up
	gone    bool     // reset by the test: nothing left to tear down
	// privateDirs get an empty tmpfs in a mount namespace of the
	// cluster's own, so that hostPath volumes of the manifests it runs
	// write there and never into the machine's.
	privateDirs []string
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: clusters run containers and network namespaces")
	}
	for _, tool := range []string{"ip", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (iproute2, util-linux)", tool)
		}
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs /bin/busybox (Debian busybox-static) for the demo image")
	}
}

// newUpCluster starts `skiff up` in a fresh network namespace: loopback
// only, so nothing it does can reach beyond this machine.
func newUpCluster(t *testing.T, upFlags ...string) *upCluster {
	t.Helper()
	return newUpClusterPrivate(t, nil, upFlags...)
}

// newUpClusterPrivate is newUpCluster with the machine's directories
// privateDirs hidden from the cluster under empty ones (see
// upCluster.privateDirs).
func newUpClusterPrivate(t *testing.T, privateDirs []string, upFlags ...string) *upCluster {
	t.Helper()
	requireRoot(t)
	b := make([]byte, 4)
	rand.Read(b)
	c := &upCluster{
		t: t, bin: skiffBinary(t), ns: "skiffe2e-" + hex.EncodeToString(b),
		dataDir: t.TempDir(), runDir: t.TempDir(), args: upFlags, privateDirs: privateDirs,
	}
	c.cfg = filepath.Join(c.dataDir, "client-config")
	unmountAtEnd(t, c.runDir)
	if out, err := exec.Command("ip", "netns", "add", c.ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", c.ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del: %v: %s", err, out)
		}
	})
	if out, err := c.InNode("ip", "link", "set", "lo", "up"); err != nil {
		t.Fatalf("lo up: %v %s", err, out)
	}
	c.Start()
	t.Cleanup(c.teardown)
	return c
}

// unmountAtEnd detaches, once the test's later clean-ups have run, what
// is mounted on or under dir: above all the tmpfs an agent makes of its
// run directory, which stays after it exits, as a node's /run does.
func unmountAtEnd(t *testing.T, dir string) {
	t.Cleanup(func() {
		if _, err := teardown.UnmountUnder(dir); err != nil {
			t.Errorf("unmount under %s: %v", dir, err)
		}
	})
}

func (c *upCluster) nsenter(args ...string) *exec.Cmd {
	cmd := exec.Command("nsenter", append([]string{"--net=/run/netns/" + c.ns, "--"}, args...)...)
	cmd.Env = append(os.Environ(), "SKIFF_CONFIG="+c.cfg)
	return cmd
}

func (c *upCluster) Start() {
	c.t.Helper()
	c.log = &bytes.Buffer{}
	c.cmd = c.nsenter(c.bin, "up",
		"--data-dir", c.dataDir, "--run-dir", c.runDir, "--write-config", c.cfg,
		// Nothing answers there: other names get SERVFAIL, never a real
		// resolver.
		"--dns-upstream", "127.0.0.1:5353")
	c.cmd.Args = append(c.cmd.Args, c.args...)
	if len(c.privateDirs) > 0 {
		// nsenter, unshare and sh each exec the next: the process
		// started is skiff up's, for signals.
		script := `for d in $SKIFF_E2E_PRIVATE_DIRS; do mount -t tmpfs -o mode=0755 skiff-e2e "$d" || exit 1; done; exec "$@"`
		up := c.cmd.Args[3:] // after nsenter --net=… --
		c.cmd.Args = append(append(c.cmd.Args[:3:3], "unshare", "--mount", "--propagation", "slave", "--", "sh", "-c", script, "sh"), up...)
		c.cmd.Env = append(c.cmd.Env, "SKIFF_E2E_PRIVATE_DIRS="+strings.Join(c.privateDirs, " "))
	}
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	if err := c.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.done = make(chan error, 1)
	go func() { c.done <- c.cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if out, err := c.Skiff("get", "nodes"); err == nil && strings.Contains(out, "Ready") && strings.Contains(c.log.String(), "cluster ready") {
			return
		}
		select {
		case err := <-c.done:
			c.t.Fatalf("skiff up exited: %v\n%s", err, c.log)
		default:
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("cluster not ready after 60s:\n%s", c.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *upCluster) Kill() {
	c.t.Helper()
	if c.cmd == nil {
		return
	}
	c.cmd.Process.Kill()
	<-c.done
	c.cmd = nil
}

func (c *upCluster) Stop() {
	c.t.Helper()
	if c.cmd == nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-c.done:
		if err != nil {
			c.t.Errorf("skiff up did not exit cleanly: %v\n%s", err, c.log)
		}
	case <-time.After(30 * time.Second):
		// SIGQUIT makes the Go runtime print every goroutine's stack
		// into the log before it exits: what shutdown waited for.
		c.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-c.done:
		case <-time.After(5 * time.Second):
			c.cmd.Process.Kill()
			<-c.done
		}
		c.t.Errorf("skiff up did not stop within 30s of SIGTERM; its goroutines are in the log")
	}
	c.cmd = nil
}

// teardown deletes every pod (so the agent removes containers, mounts and
// cgroups) and stops the cluster.
func (c *upCluster) teardown() {
	if c.gone {
		return
	}
	if c.cmd == nil {
		c.Start()
	}
	// Owners first, so nothing recreates the pods deleted next.
	for _, args := range [][]string{
		{"delete", "autoscalers", "--all", "-A"},
		{"delete", "cronjobs", "--all", "-A"},
		{"delete", "jobs", "--all", "-A"},
		{"delete", "deployments", "--all", "-A", "--cascade=orphan"},
		{"delete", "daemonsets", "--all", "-A", "--cascade=orphan"},
		{"delete", "statefulsets", "--all", "-A", "--cascade=orphan"},
		{"delete", "replicasets", "--all", "-A", "--cascade=orphan"},
		{"delete", "pods", "--all", "-A", "--force"},
	} {
		if out, err := c.Skiff(args...); err != nil {
			c.t.Errorf("teardown: %v %s", err, out)
		}
	}
	left := func() (int, error) {
		n := 0
		for _, dir := range []string{filepath.Join(c.runDir, "runtime", "sandboxes"), filepath.Join(c.dataDir, "agent", "runtime", "containers")} {
			entries, err := os.ReadDir(dir)
			if err != nil && !os.IsNotExist(err) {
				return 0, err
			}
			n += len(entries)
		}
		return n, nil
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		n, err := left()
		if err == nil && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			c.t.Errorf("teardown: %d sandboxes and containers left 60s after deleting every pod (%v)", n, err)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.Stop()
	if c.t.Failed() {
		c.t.Logf("skiff up log:\n%s", c.log)
	}
}

func (c *upCluster) Skiff(args ...string) (string, error) { return c.SkiffIn("", args...) }

// SkiffIn is Skiff with stdin.
func (c *upCluster) SkiffIn(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := c.nsenter(append([]string{c.bin}, args...)...)
	cmd = exec.CommandContext(ctx, cmd.Args[0], cmd.Args[1:]...)
	cmd.Env = append(os.Environ(), "SKIFF_CONFIG="+c.cfg)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("skiff %s: %w: %s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}

func (c *upCluster) InNode(args ...string) (string, error) {
	out, err := c.nsenter(args...).CombinedOutput()
	return string(out), err
}

// eventually retries fn until it succeeds or a minute passes.
func eventually(t *testing.T, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = fn(); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, err)
}
