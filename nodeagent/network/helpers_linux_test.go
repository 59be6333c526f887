package network

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TestMain checks that the tests leave the root network namespace as they
// found it: none of the links, named netns or namespace mounts they make.
// Only our own things are compared, by name: other engineers' tests and a
// `skiff up` may change the host at the same time.
func TestMain(m *testing.M) {
	before := hostSnapshot()
	code := m.Run()
	if after := hostSnapshot(); after != before {
		fmt.Fprintf(os.Stderr, "tests left things behind in the host:\nbefore:\n%s\nafter:\n%s\n", before, after)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// testPodPrefix starts every pod ID the tests use, so their host veths
// can be told apart from a real agent's.
const testPodPrefix = "nettest-"

// hostSnapshot lists what of ours is in the root netns: links the tests
// name or alias, named netns and nsfs mounts made by newNetNS.
func hostSnapshot() string {
	var b strings.Builder
	if links, err := netlink.LinkList(); err == nil {
		var names []string
		for _, l := range links {
			a := l.Attrs()
			if slices.Contains([]string{"lab0", "uplink0", "sink0", "other-peer"}, a.Name) ||
				strings.HasPrefix(a.Alias, aliasPrefix+testPodPrefix) {
				names = append(names, a.Name)
			}
		}
		slices.Sort(names)
		fmt.Fprintf(&b, "links: %v\n", names)
	}
	if ents, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range ents {
			if strings.Contains(e.Name(), netnsMarker) {
				fmt.Fprintf(&b, "netns: %s\n", e.Name())
			}
		}
	}
	if mi, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, line := range strings.Split(string(mi), "\n") {
			if strings.Contains(line, " - nsfs ") && strings.Contains(line, netnsMarker) {
				fmt.Fprintf(&b, "mount: %s\n", line)
			}
		}
	}
	return b.String()
}

// netnsMarker starts the file name of every netns the tests pin.
const netnsMarker = "skiffnet-"

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces, veths, bridges")
	}
}

func requirePing(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("nsenter"); err != nil {
		t.Skip("needs nsenter (util-linux)")
	}
	if err := exec.Command("/bin/busybox", "ping", "--help").Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Skip("needs /bin/busybox for ping (apt-get install busybox-static)")
		}
	}
}

// newNetNS makes an empty network namespace pinned at a file in a temp
// dir, and removes it when the test ends (on failure too). The thread that
// made it exits with it, so no Go thread is ever left inside.
func newNetNS(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), netnsMarker+name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		errc <- unix.Mount(src, path, "", unix.MS_BIND, "")
	}()
	if err := <-errc; err != nil {
		t.Fatalf("netns %s: %v", name, err)
	}
	t.Cleanup(func() { removeNetNS(t, path) })
	return path
}

// removeNetNS unpins a namespace; the kernel then destroys it with its
// links (a veth's peer in another namespace goes too).
func removeNetNS(t *testing.T, path string) {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
		t.Errorf("unmount %s: %v", path, err)
	}
}

// inNS runs a command in the namespace at ns.
func inNS(ns string, args ...string) (string, error) {
	cmd := exec.Command("nsenter", append([]string{"--net=" + ns, "--"}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// ping sends one echo at a time from ns to ip until one is answered or a
// generous deadline passes (the first may wait for ARP).
func ping(ns string, ip netip.Addr) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := inNS(ns, "/bin/busybox", "ping", "-c1", "-W1", ip.String())
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ping %s: %v: %s", ip, err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// handle opens rtnetlink in the namespace at path for the test to inspect.
func handle(t *testing.T, path string) *netlink.Handle {
	t.Helper()
	h, err := handleAt(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func mustAddr(s string) netip.Addr     { return netip.MustParseAddr(s) }

// nodeConfig is a node config acting in the namespace at ns.
func nodeConfig(t *testing.T, ns, podCIDR string) Config {
	return Config{
		PodCIDR:     mustPrefix(podCIDR),
		ClusterCIDR: mustPrefix("10.88.0.0/16"),
		StateDir:    t.TempDir(),
		HostNetNS:   ns,
	}
}

// setup runs Setup and closes the Network at the end of the test.
func setup(t *testing.T, cfg Config) *Network {
	t.Helper()
	n, err := Setup(cfg)
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}
