package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/internal/qemu"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// VM nodes (`skiff cluster create --vm`, after minikube's qemu driver):
// every node is a QEMU guest with its own kernel (Debian's cloud kernel,
// pure cgroup v2) whose root file system is an initramfs in RAM holding
// busybox, the skiff binary and the node's agent env file and join token.
// The server runs on this host, in the cluster's lab namespace, on the lab
// bridge's own address (.1); each guest's network card is a tap on that
// bridge (.2, .3, …), so guests, the server and this host's veth share
// one L2 segment with no route out, and the agents' host-gw routes carry
// pod traffic from guest to guest.
//
//	host ── skiff-lab<N> (172.31.N.254) ─┐
//	            lab netns: lab0 bridge 172.31.N.1   skiff server
//	  tap2 ── qemu: node-1, eth0 172.31.N.2 ───┤    skiff agent (guest)
//	  tap3 ── qemu: node-2, eth0 172.31.N.3 ───┘    skiff agent (guest)
//
// A guest keeps nothing across a restart: a node VM that is started again
// is a new machine, so its old Node is deleted first and it joins with a
// fresh token.

// VMOptions make Create boot its nodes as QEMU guests.
type VMOptions struct {
	Enabled bool
	// KernelDir caches the guest kernel (default STATE/.vm); a cached
	// kernel is used as is and no mirror is reached.
	KernelDir string
	MemoryMB  int // per node; default 768
	CPUs      int // per node; default 1
}

// VMSpec is what a VM cluster keeps in cluster.json.
type VMSpec struct {
	KernelDir string `json:"kernelDir"`
	MemoryMB  int    `json:"memoryMB"`
	CPUs      int    `json:"cpus"`
}

// guest paths: the agent's directories are on the guest's tmpfs root.
const (
	guestBinary   = "/bin/skiff"
	guestEnvFile  = "/etc/skiff/agent.env"
	guestToken    = "/etc/skiff/token"
	guestDataDir  = "/var/lib/skiff/agent"
	guestRunDir   = "/run/skiff/agent"
	vmTokenTTL    = time.Hour
	vmTimeout     = 4 * time.Minute
	defaultVMMB   = 768
	minVMMB       = 384
	defaultVMCPUs = 1
)

func (o VMOptions) spec(roots Roots) (*VMSpec, error) {
	s := &VMSpec{KernelDir: o.KernelDir, MemoryMB: o.MemoryMB, CPUs: o.CPUs}
	if s.KernelDir == "" {
		s.KernelDir = filepath.Join(roots.State, ".vm")
	}
	if abs, err := filepath.Abs(s.KernelDir); err == nil {
		s.KernelDir = abs
	}
	if s.MemoryMB == 0 {
		s.MemoryMB = defaultVMMB
	}
	if s.CPUs == 0 {
		s.CPUs = defaultVMCPUs
	}
	if s.MemoryMB < minVMMB {
		return nil, fmt.Errorf("--vm-memory %d: want at least %d (MB; the root file system is in RAM)", s.MemoryMB, minVMMB)
	}
	if s.CPUs < 1 || s.CPUs > 64 {
		return nil, fmt.Errorf("--vm-cpus %d: want 1 to 64", s.CPUs)
	}
	return s, nil
}

// vmMembers are a VM cluster's nodes: host numbers from 2.
func vmMembers(n int) []Member {
	out := make([]Member, n)
	for i := range out {
		out[i] = Member{Name: nodeName(i + 1), Host: vmServerHost + 1 + i}
	}
	return out
}

func (l layout) serverDir() string { return filepath.Join(l.dir(), "server") }

// vmServer is a VM cluster's server: on the host, in the lab namespace.
func (l layout) vmServer() daemon {
	return daemon{node: "server", role: "server", dir: l.serverDir(), netns: l.netnsPath("lab")}
}

// vm is one node's guest: its initramfs, console log and QEMU's PID are in
// the node's state dir.
type vm struct {
	l layout
	m Member
}

func (l layout) vms() []vm {
	var out []vm
	for _, m := range l.members() {
		out = append(out, vm{l, m})
	}
	return out
}

func (v vm) dir() string        { return v.l.nodeDir(v.m.Name) }
func (v vm) initrd() string     { return filepath.Join(v.dir(), "initramfs.cpio") }
func (v vm) pidFile() string    { return filepath.Join(v.dir(), "vm.pid") }
func (v vm) consoleLog() string { return filepath.Join(v.dir(), "console.log") }
func (v vm) tap() string        { return "tap" + strconv.Itoa(v.m.Host) }
func (v vm) mac() string        { return fmt.Sprintf("52:54:00:31:%02x:%02x", v.l.spec.Subnet, v.m.Host) }

// pid is QEMU's PID if it runs: its command line names the node's
// initramfs (PIDs get reused).
func (v vm) pid() (int, bool) {
	return daemon{dir: v.dir(), role: "vm"}.pid()
}

// provisionVMServer writes the server's env file.
func (l layout) provisionVMServer(serverFlags []string) error {
	args := ServerArgs(ServerSpec{
		Address: l.nodeAddr(vmServerHost), DataDir: filepath.Join(l.serverDir(), "data"), ClusterCIDR: clusterCIDR,
		WriteConfig: l.ConfigFile(), DNSUpstreams: []string{"127.0.0.1:5353"},
	})
	return writeEnvFile(l.vmServer().envFile(), append(args, serverFlags...))
}

// guestAgentArgs is the agent's command line in a guest: what
// `skiff cluster provision agent` writes for a Vagrant machine.
func (l layout) guestAgentArgs(m Member) []string {
	return AgentArgs(AgentSpec{
		Server: l.Server(), NodeName: m.Name, Address: l.nodeAddr(m.Host),
		DataDir: guestDataDir, RunDir: guestRunDir, ClusterCIDR: clusterCIDR,
		ClusterDNS: l.nodeAddr(vmServerHost), Registry: l.registryAddr(),
		TokenFile: guestToken,
	})
}

// guestInit is the guest's init after the system's mounts: its address on
// the bridge, then busybox's init, which restarts the agent whenever it
// exits (as systemd's skiff-agent.service does) and reaps orphans.
func guestInit(node, addr string) string {
	return fmt.Sprintf(`hostname %s
ip link set eth0 up
ip addr add %s/24 dev eth0
echo
echo "--- guest up $(cut -d' ' -f1 /proc/uptime)s: init"
exec /bin/init
`, node, addr)
}

// agentRunner is what init respawns: the env file's arguments, as
// skiff-agent.service runs them (a systemd env file is not shell: the
// value is read, not sourced).
const agentRunner = `#!/bin/sh
SKIFF_ARGS=$(sed -n 's/^` + EnvVar + `=//p' ` + guestEnvFile + `)
echo "--- guest up $(cut -d' ' -f1 /proc/uptime)s: skiff $SKIFF_ARGS"
` + guestBinary + ` $SKIFF_ARGS
echo "--- skiff agent exited ($?)"
sleep 2
`

// image writes the node's initramfs: busybox, the skiff binary (and the
// shim beside it, if any), the kernel's modules, the agent's env file and
// a join token.
func (v vm) image(k *qemu.Kernel, binary, token string) error {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return errors.New("cluster: --vm needs a static busybox (Debian's busybox-static)")
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return fmt.Errorf("cluster: busybox --list: %w", err)
	}
	im := qemu.NewInitramfs()
	if err := im.Program("/bin/busybox", bb); err != nil {
		return err
	}
	for _, a := range strings.Fields(string(out)) {
		if a != "busybox" {
			im.Symlink("/bin/"+a, "busybox")
		}
	}
	if err := im.Program(guestBinary, binary); err != nil {
		return err
	}
	if shim := filepath.Join(filepath.Dir(binary), "skiff-shim"); fileExists(shim) {
		if err := im.Program("/bin/skiff-shim", shim); err != nil {
			return err
		}
	}
	env, err := EnvFile(v.l.guestAgentArgs(v.m))
	if err != nil {
		return err
	}
	im.Data(guestEnvFile, env, 0o644)
	im.Data(guestToken, []byte(token+"\n"), 0o600)
	im.Data("/etc/skiff/agent.sh", []byte(agentRunner), 0o755)
	im.Data("/etc/inittab", []byte("::respawn:/etc/skiff/agent.sh\n"), 0o644)
	im.Data("/etc/hosts", []byte("127.0.0.1 localhost\n"+v.l.nodeAddr(v.m.Host)+" "+v.m.Name+"\n"), 0o644)
	im.Data("/etc/resolv.conf", nil, 0o644)
	im.Dir(guestDataDir)
	im.Kernel(k)
	im.Init(guestInit(v.m.Name, v.l.nodeAddr(v.m.Host)))
	if err := im.Write(v.initrd()); err != nil {
		return err
	}
	// It holds the join token.
	return os.Chmod(v.initrd(), 0o600)
}

// boot starts the guest's QEMU detached in the lab namespace (where its
// tap is), the console appended to its log, and records the PID.
func (v vm) boot(k *qemu.Kernel, accel string) error {
	qemuBin, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return errors.New("cluster: --vm needs qemu-system-x86_64 (Debian's qemu-system-x86)")
	}
	spec := v.l.spec.VM
	m := qemu.Machine{
		Kernel: k, Initrd: v.initrd(), Accel: accel, MemoryMB: spec.MemoryMB, CPUs: spec.CPUs,
		NICs: []qemu.NIC{{Tap: v.tap(), MAC: v.mac()}},
	}
	log, err := os.OpenFile(v.consoleLog(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	defer log.Close()
	fmt.Fprintf(log, "--- %s: qemu (%s) node %s\n", time.Now().Format(time.RFC3339), accel, v.m.Name)
	cmd := exec.Command(qemuBin, m.Args()...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := startIn(v.l.netnsPath("lab"), "", cmd); err != nil {
		return fmt.Errorf("cluster: start the VM of %s: %w", v.m.Name, err)
	}
	pid := cmd.Process.Pid
	cmd.Process.Release()
	return os.WriteFile(v.pidFile(), []byte(strconv.Itoa(pid)+"\n"), 0o644)
}

// kill ends the guest's QEMU: its RAM is all the guest has, so there is
// nothing to shut down cleanly.
func (v vm) kill() error {
	pid, ok := v.pid()
	if !ok {
		os.Remove(v.pidFile())
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("cluster: kill the VM of %s (pid %d): %w", v.m.Name, pid, err)
	}
	for i := 0; i < 250; i++ {
		if _, ok := v.pid(); !ok {
			os.Remove(v.pidFile())
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("cluster: the VM of %s (pid %d) outlived SIGKILL", v.m.Name, pid)
}

// tail is the end of the guest's console, for error messages.
func (v vm) tail(n int) string {
	data, _ := os.ReadFile(v.consoleLog())
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ensureVMNetwork gives the lab bridge the server's address and each
// guest a tap on it (persistent: QEMU attaches by name).
func (l layout) ensureVMNetwork(labH *netlink.Handle, br netlink.Link) error {
	a, err := netlink.ParseAddr(l.nodeAddr(vmServerHost) + "/24")
	if err != nil {
		return err
	}
	if err := labH.AddrReplace(br, a); err != nil {
		return fmt.Errorf("address %s on %s: %w", l.nodeAddr(vmServerHost), labBridge, err)
	}
	for _, v := range l.vms() {
		link, err := labH.LinkByName(v.tap())
		if err != nil {
			if err := addTapIn(l.netnsPath("lab"), v.tap()); err != nil {
				return fmt.Errorf("tap %s: %w", v.tap(), err)
			}
			if link, err = labH.LinkByName(v.tap()); err != nil {
				return fmt.Errorf("tap %s: %w", v.tap(), err)
			}
		}
		if err := labH.LinkSetMaster(link, br); err != nil {
			return fmt.Errorf("tap %s: %w", v.tap(), err)
		}
		if err := labH.LinkSetUp(link); err != nil {
			return fmt.Errorf("tap %s up: %w", v.tap(), err)
		}
	}
	return nil
}

// addTapIn makes a persistent tap named name in the namespace at path. A
// tap is made through /dev/net/tun in the caller's namespace, whatever
// netlink handle asks, so a thread moves there first and is never reused.
func addTapIn(path, name string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with this goroutine
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", path, err)
			return
		}
		errc <- netlink.LinkAdd(&netlink.Tuntap{LinkAttrs: netlink.LinkAttrs{Name: name}, Mode: netlink.TUNTAP_MODE_TAP,
			Flags: netlink.TUNTAP_DEFAULTS | netlink.TUNTAP_NO_PI})
	}()
	return <-errc
}

// removeTaps deletes the guests' taps (the lab namespace would take them
// with it, but a namespace something still holds open lives on).
func (l layout) removeTaps() error {
	if !isNamespace(l.netnsPath("lab")) {
		return nil
	}
	labH, labNS, err := handleIn(l.netnsPath("lab"))
	if err != nil {
		return err
	}
	defer labNS.Close()
	defer labH.Close()
	var errs []error
	for _, v := range l.vms() {
		if link, err := labH.LinkByName(v.tap()); err == nil {
			if err := labH.LinkDel(link); err != nil {
				errs = append(errs, fmt.Errorf("delete tap %s: %w", v.tap(), err))
			}
		}
	}
	return errors.Join(errs...)
}

// startVM brings a VM cluster up: network, server, then a fresh guest for
// every node whose VM is not running.
func (l layout) startVM(ctx context.Context, o Options, created bool) error {
	t0 := time.Now()
	if err := l.ensureNetwork(); err != nil {
		return fmt.Errorf("cluster %s: network: %w", l.spec.Name, err)
	}
	fmt.Fprintf(o.Progress, " ✓ network (lab bridge, %d taps) %s\n", len(l.members()), since(t0))
	k, err := qemu.CachedKernel(l.spec.VM.KernelDir)
	if err != nil {
		fmt.Fprintf(o.Progress, " … downloading the guest kernel (%s) into %s\n", qemu.KernelPackage, l.spec.VM.KernelDir)
		k, err = qemu.FetchKernel(l.spec.VM.KernelDir)
	}
	if err != nil {
		return fmt.Errorf("cluster: guest kernel: %w", err)
	}
	accel := qemu.Accel(ctx, k, l.spec.VM.KernelDir)
	fmt.Fprintf(o.Progress, " ✓ guest kernel %s (%s) %s\n", k.Version, accel, since(t0))
	// An emulated guest boots and starts its agent in tens of seconds.
	ctx, cancel := context.WithTimeout(ctx, max(o.Timeout, vmTimeout))
	defer cancel()
	srv := l.vmServer()
	if _, err := srv.start(o.Binary); err != nil {
		return err
	}
	c, err := l.client(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := waitServer(ctx, c, srv); err != nil {
		return err
	}
	fmt.Fprintf(o.Progress, " ✓ server on %s %s\n", l.Server(), since(t0))
	fresh := map[string]bool{}
	g, gctx := errgroup.WithContext(ctx)
	for _, v := range l.vms() {
		if _, ok := v.pid(); ok {
			continue
		}
		fresh[v.m.Name] = true
		g.Go(func() error { return l.bootVM(gctx, c, v, o.Binary, k, accel, created) })
	}
	if created {
		g.Go(func() error { return pushDemo(gctx, l.registryAddr(), l.ConfigFile()) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	fmt.Fprintf(o.Progress, " ✓ %d VMs booting %s\n", len(fresh), since(t0))
	if err := l.waitVMNodes(ctx, c, fresh, t0.Add(-time.Second)); err != nil {
		return err
	}
	fmt.Fprintf(o.Progress, " ✓ %d nodes Ready %s\n", len(l.members()), since(t0))
	return nil
}

// bootVM makes a node's guest and starts it. A node that ran before is a
// new machine now (its RAM is gone): its Node is deleted, so it may join
// again under its name.
func (l layout) bootVM(ctx context.Context, c *client.Client, v vm, binary string, k *qemu.Kernel, accel string, created bool) error {
	if !created {
		if err := l.deleteNode(ctx, v.m.Name); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(v.dir(), 0o700); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	resp, err := skiffv1.NewTokensClient(c.Conn()).Create(ctx, &skiffv1.CreateTokenRequest{
		TtlSeconds: int64(vmTokenTTL / time.Second), Description: "cluster " + l.spec.Name + " VM " + v.m.Name,
	})
	if err != nil {
		return fmt.Errorf("cluster: join token for %s: %w", v.m.Name, err)
	}
	if err := v.image(k, binary, resp.Token); err != nil {
		return err
	}
	return v.boot(k, accel)
}

// waitVMNodes is waitNodes with the guests' consoles in its errors.
func (l layout) waitVMNodes(ctx context.Context, c *client.Client, fresh map[string]bool, since time.Time) error {
	err := l.waitNodes(ctx, c, fresh, since)
	if err == nil {
		return nil
	}
	for _, v := range l.vms() {
		state := "running"
		if _, ok := v.pid(); !ok {
			state = "not running"
		}
		err = fmt.Errorf("%w\n--- VM %s (%s), console %s ends:\n%s", err, v.m.Name, state, v.consoleLog(), v.tail(15))
	}
	return err
}

// stopVM kills the guests, then stops the server.
func (l layout) stopVM(o Options) error {
	var errs []error
	for _, v := range l.vms() {
		errs = append(errs, v.kill())
	}
	errs = append(errs, l.vmServer().stop(o.Grace))
	return errors.Join(errs...)
}

// deleteVM removes a VM cluster: its guests hold all their pods' state in
// RAM, so killing them removes the pods; then the server, the taps, the
// namespace and the files.
func (l layout) deleteVM(o Options) error {
	var errs []error
	if err := l.stopVM(o); err != nil {
		errs = append(errs, err)
	}
	if err := l.removeTaps(); err != nil {
		errs = append(errs, err)
	}
	if err := l.removeNetwork(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("cluster %s: left its files in %s: %w", l.spec.Name, l.dir(), errors.Join(errs...))
	}
	if err := os.RemoveAll(l.runDir()); err != nil {
		return err
	}
	if err := os.RemoveAll(l.dir()); err != nil {
		return err
	}
	fmt.Fprintf(o.Progress, "Deleted cluster %q\n", l.spec.Name)
	return nil
}

// vmCounts are how many of the guests run, of how many.
func (l layout) vmCounts() (running, total int) {
	for _, v := range l.vms() {
		total++
		if _, ok := v.pid(); ok {
			running++
		}
	}
	return running, total
}
