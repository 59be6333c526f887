package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/skiff-sh/skiff/backoff"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/nodeagent/network"
	"github.com/skiff-sh/skiff/nodeagent/runtime"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// syncPod drives one pod one step towards its spec and reports its status.
// It is level-triggered: it reads what runs from the runtime each time
// (unless the pod is steady: see podState.insts), so it is safe to call at
// any moment, and after an agent restart. done means the pod is finished
// here and its worker can end.
func (a *Agent) syncPod(ctx context.Context, pod *skiffv1.Pod, st *podState) (done bool, err error) {
	if pod.GetMetadata().GetDeletionTimestamp() != nil {
		// A failed teardown is tried again at the next resync.
		err := a.terminatePod(ctx, pod)
		return err == nil, err
	}
	pod = withOwnStatus(pod, st)
	insts := st.insts
	if !st.steady {
		if insts, err = a.instancesOf(pod.Metadata.Uid); err != nil {
			return false, err
		}
	}
	st.insts, st.steady = insts, false
	// A pod that has finished stays as it is: its containers keep their
	// exit status and logs until the pod is deleted.
	if skiffv1.IsTerminalPhase(st.lastStatus.GetPhase()) {
		return false, nil
	}
	if a.lostSandbox(pod.Metadata.Uid, st, insts) {
		if insts, err = a.replaceSandbox(ctx, pod, st, insts); err != nil {
			return false, err
		}
	}
	if !st.sandboxReady && !st.sandboxLost {
		if err := a.ensureSandbox(ctx, pod, st); err != nil {
			a.setAllWaiting(pod, st, insts, "CreatePodSandboxError", err.Error())
			return false, errors.Join(err, a.reportStatus(ctx, pod, st, insts))
		}
		st.sandboxReady = true
	}
	a.refreshConfigVolumes(ctx, pod, st)
	acted := a.enforceActiveDeadline(ctx, pod, st, insts)
	initialized := false
	if !st.deadlineExceeded {
		var changed bool
		initialized, changed = a.syncInitContainers(ctx, pod, insts, st)
		acted = acted || changed
	}
	for _, c := range pod.Spec.Containers {
		if !initialized {
			break
		}
		changed, err := a.syncContainer(ctx, pod, c, insts[c.Name], st)
		if err != nil {
			a.log.Debug("container sync", "pod", client.KeyOf(pod), "container", c.Name, "err", err)
		}
		acted = acted || changed
	}
	// Read the runtime again only if a container was started or stopped:
	// a steady pod is synced every second, and the reading is most of
	// what that costs.
	if acted {
		if insts, err = a.instancesOf(pod.Metadata.Uid); err != nil {
			return false, err
		}
	}
	st.insts, st.steady = insts, !acted && allRunning(pod, insts)
	return false, a.reportStatus(ctx, pod, st, insts)
}

// allRunning reports whether every container (and sidecar) of the pod
// runs.
func allRunning(pod *skiffv1.Pod, insts map[string][]instance) bool {
	for _, c := range pod.Spec.Containers {
		if cur := latest(insts[c.Name]); cur == nil || cur.state.Status != runtime.StatusRunning {
			return false
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if cur := latest(insts[c.Name]); skiffv1.IsSidecar(c) && (cur == nil || cur.state.Status != runtime.StatusRunning) {
			return false
		}
	}
	return true
}

func (a *Agent) setAllWaiting(pod *skiffv1.Pod, st *podState, insts map[string][]instance, reason, msg string) {
	for _, c := range pod.Spec.Containers {
		if !running(latest(insts[c.Name])) {
			cs := st.container(c.Name)
			cs.waitingReason, cs.waitingMessage = reason, msg
		}
	}
}

// ensureSandbox makes the pod's namespaces, network and files, once.
func (a *Agent) ensureSandbox(ctx context.Context, pod *skiffv1.Pod, st *podState) error {
	// Its resolv.conf names the cluster DNS Service.
	if err := a.waitForServices(ctx); err != nil {
		return err
	}
	release, err := a.starts.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	uid := pod.Metadata.Uid
	sb, err := a.runtime.Sandbox(uid)
	if errors.Is(err, runtime.ErrNotFound) {
		hostname := pod.Spec.Hostname
		if hostname == "" {
			hostname = pod.Metadata.Name
		}
		sb, err = a.runtime.CreateSandbox(runtime.SandboxSpec{ID: uid, Hostname: hostname,
			SharePID: pod.Spec.ShareProcessNamespace})
	}
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	att, err := a.net.Attach(ctx, uid, sb.NetNS)
	if err != nil {
		return fmt.Errorf("network: %w", err)
	}
	st.podIP = att.IP.String()
	a.podIPs.Store(uid, st.podIP)
	if err := a.net.SetHostPorts(uid, att.IP, hostPorts(pod)); err != nil {
		return fmt.Errorf("hostPort: %w", err)
	}
	return a.writePodFiles(pod, st.podIP)
}

// writePodFiles writes /etc/hosts, /etc/hostname and /etc/resolv.conf for
// the pod's containers.
func (a *Agent) writePodFiles(pod *skiffv1.Pod, ip string) error {
	dir := a.cfg.podDir(pod.Metadata.Uid)
	if err := a.makePodDir(pod.Metadata.Uid); err != nil {
		return err
	}
	hostname := pod.Spec.Hostname
	if hostname == "" {
		hostname = pod.Metadata.Name
	}
	podIP, err := netip.ParseAddr(ip)
	if err != nil {
		return fmt.Errorf("pod IP %q: %w", ip, err)
	}
	resolv, err := a.podResolvConf(pod)
	if err != nil {
		return err
	}
	hosts := network.HostsFile(podIP, hostname)
	if sub := pod.Spec.Subdomain; sub != "" {
		// As the kubelet: the pod's FQDN first, then its hostname.
		fqdn := hostname + "." + sub + "." + pod.Metadata.Namespace + ".svc." + a.cfg.ClusterDomain
		hosts = network.HostsFile(podIP, fqdn, hostname)
	}
	files := map[string][]byte{
		"hosts":       network.WithHostAliases(hosts, hostAliases(pod)),
		"hostname":    []byte(hostname + "\n"),
		"resolv.conf": resolv,
	}
	for name, data := range files {
		if err := writeFileIfChanged(filepath.Join(dir, name), data); err != nil {
			return err
		}
	}
	return nil
}

func writeFileIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// syncContainer starts, restarts or probes one container. changed reports
// whether it started or stopped one (or tried to).
func (a *Agent) syncContainer(ctx context.Context, pod *skiffv1.Pod, c *skiffv1.Container, list []instance, st *podState) (changed bool, err error) {
	return a.syncContainerWithPolicy(ctx, pod, c, list, st, pod.Spec.RestartPolicy)
}

// syncContainerWithPolicy is syncContainer under a given restart policy:
// an init container's differs from the pod's.
func (a *Agent) syncContainerWithPolicy(ctx context.Context, pod *skiffv1.Pod, c *skiffv1.Container, list []instance, st *podState, policy string) (changed bool, err error) {
	cs := st.container(c.Name)
	cur := latest(list)
	if cur != nil && cur.state.Status == runtime.StatusCreated {
		// Created but never started (the agent stopped in between).
		return true, a.startContainer(ctx, pod, c, cur.attempt, list[:len(list)-1], cs, st.podIP)
	}
	if running(cur) {
		cs.waitingReason, cs.waitingMessage = "", ""
		if cur.state.Status == runtime.StatusRunning {
			changed = a.probe(ctx, pod, c, cur, cs, st.podIP)
		}
		return changed, nil
	}
	attempt := 0
	if cur != nil {
		if !shouldRestart(policy, cur.state) {
			cs.waitingReason, cs.waitingMessage = "", ""
			return false, nil
		}
		attempt = cur.attempt + 1
		// Back off before restarting a crashing container; one that ran
		// long enough starts over.
		if ran := cur.state.FinishedAt.Sub(cur.state.StartedAt); ran >= a.cfg.BackoffReset {
			cs.backoffLevel = 0
		}
		if cs.notBefore.IsZero() || cs.notBefore.Before(cur.state.FinishedAt) {
			cs.backoffLevel++
			cs.notBefore = cur.state.FinishedAt.Add(nextBackoff(cs.backoffLevel, a.cfg.BackoffBase, a.cfg.BackoffMax))
		}
		if wait := time.Until(cs.notBefore); wait > 0 {
			if cs.waitingReason != "CrashLoopBackOff" {
				a.event(ctx, pod, "Warning", "BackOff", fmt.Sprintf("Back-off restarting failed container %s", c.Name))
			}
			cs.waitingReason = "CrashLoopBackOff"
			cs.waitingMessage = fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", nextBackoff(cs.backoffLevel, a.cfg.BackoffBase, a.cfg.BackoffMax).Round(time.Second), c.Name, pod.Metadata.Name)
			return false, nil
		}
	}
	return true, a.startContainer(ctx, pod, c, attempt, list, cs, st.podIP)
}

// shouldRestart applies the pod's restart policy to an exited container.
func shouldRestart(policy string, s runtime.State) bool {
	failed := s.ExitCode != 0 || s.Signal != 0 || s.OOMKilled || s.Status == runtime.StatusUnknown
	switch policy {
	case "Never":
		return false
	case "OnFailure":
		return failed
	}
	return true
}

func (a *Agent) startContainer(ctx context.Context, pod *skiffv1.Pod, c *skiffv1.Container, attempt int, older []instance, cs *containerState, podIP string) error {
	if cs.waitingReason == "" || cs.waitingReason == "CrashLoopBackOff" {
		cs.waitingReason, cs.waitingMessage = "ContainerCreating", ""
	}
	img, err := a.pullImage(ctx, pod, c, cs)
	if err != nil {
		return err
	}
	spec, err := a.containerSpec(ctx, pod, c, img, attempt)
	if err != nil {
		// Waiting on a ConfigMap or Secret is tried again every sync:
		// one event per distinct problem, not one a second.
		again := cs.waitingReason == "CreateContainerConfigError" && cs.waitingMessage == err.Error()
		cs.waitingReason, cs.waitingMessage = "CreateContainerConfigError", err.Error()
		if !again {
			a.event(ctx, pod, "Warning", "Failed", fmt.Sprintf("Error: %v", err))
		}
		return err
	}
	release, err := a.starts.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	// Keep one exited instance for `logs --previous`; remove the rest.
	for i := range older {
		if i < len(older)-1 {
			if err := a.runtime.Remove(ctx, older[i].state.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				a.log.Warn("remove old container", "id", older[i].state.ID, "err", err)
			}
		}
	}
	if _, err := a.runtime.Create(ctx, spec); err != nil && !errors.Is(err, runtime.ErrExists) {
		cs.waitingReason, cs.waitingMessage = "CreateContainerError", err.Error()
		a.event(ctx, pod, "Warning", "Failed", fmt.Sprintf("Error: %v", err))
		return err
	}
	if err := a.runtime.Start(ctx, spec.ID); err != nil {
		cs.waitingReason, cs.waitingMessage = "RunContainerError", err.Error()
		a.event(ctx, pod, "Warning", "Failed", fmt.Sprintf("Error: %v", err))
		return err
	}
	cs.waitingReason, cs.waitingMessage = "", ""
	cs.killedBy, cs.prevKilledBy = "", cs.killedBy
	cs.probeAttempt = attempt
	cs.resetProbes(c)
	if attempt > 0 {
		a.metrics.restarts.Inc()
	}
	a.event(ctx, pod, "Normal", "Started", fmt.Sprintf("Started container %s", c.Name))
	return a.postStart(ctx, pod, c, spec.ID, attempt, cs, podIP)
}

// terminatePod stops a pod being deleted — SIGTERM, its grace period,
// SIGKILL — removes what it used and tells the server it is gone.
func (a *Agent) terminatePod(ctx context.Context, pod *skiffv1.Pod) error {
	grace := time.Duration(pod.Metadata.DeletionGracePeriodSeconds) * time.Second
	a.event(ctx, pod, "Normal", "Killing", fmt.Sprintf("Stopping pod (grace period %s)", grace))
	if insts, err := a.instancesOf(pod.Metadata.Uid); err == nil {
		if hasSidecars(pod) {
			// Stopped in order here; the teardown kills what is left.
			a.stopWithSidecars(ctx, pod, insts, pod.GetStatus().GetPodIp(), grace)
			grace = 0
		} else {
			grace = a.preStopAll(ctx, pod, insts, pod.GetStatus().GetPodIp(), grace)
		}
	}
	if err := a.teardownPod(ctx, pod.Metadata.Uid, grace); err != nil {
		return err
	}
	_, _, err := a.cfg.Client.Pods().Delete(ctx, pod.Metadata.Namespace, pod.Metadata.Name, client.DeleteOptions{Force: true, UID: pod.Metadata.Uid})
	if client.IsNotFound(err) || client.IsConflict(err) {
		err = nil // already gone, or a new pod of the same name
	}
	return err
}

// teardownPod stops the pod's containers (grace 0: SIGKILL at once) and
// removes them, its sandbox, network and per-pod directories.
func (a *Agent) teardownPod(ctx context.Context, uid string, grace time.Duration) error {
	insts, err := a.instancesOf(uid)
	if err != nil {
		return err
	}
	errc := make(chan error, len(insts))
	n := 0
	for _, list := range insts {
		for _, in := range list {
			if running(&in) {
				n++
				go func(id string) { errc <- a.runtime.Stop(ctx, id, syscall.SIGTERM, grace) }(in.state.ID)
			}
		}
	}
	var errs []error
	for ; n > 0; n-- {
		if err := <-errc; err != nil && !errors.Is(err, runtime.ErrNotRunning) && !errors.Is(err, runtime.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	for _, list := range insts {
		for _, in := range list {
			if err := a.runtime.Remove(ctx, in.state.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				errs = append(errs, err)
			}
		}
	}
	netns := ""
	if sb, err := a.runtime.Sandbox(uid); err == nil {
		netns = sb.NetNS
	}
	if a.net != nil {
		if err := a.net.RemoveHostPorts(uid); err != nil {
			errs = append(errs, err)
		}
		if err := a.net.Detach(ctx, uid, netns); err != nil {
			errs = append(errs, err)
		}
	}
	if err := a.runtime.RemoveSandbox(uid); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		errs = append(errs, err)
	}
	if err := a.removePodVolumes(uid); err != nil {
		errs = append(errs, err)
	}
	if err := a.removePodDir(uid); err != nil {
		errs = append(errs, err)
	}
	a.podIPs.Delete(uid)
	return errors.Join(errs...)
}

// teardownUntilDone tears a pod down at once, retrying with back-off
// until nothing of it is left or ctx ends: one failed attempt (a busy
// mount, a runtime hiccup) must not leave its containers running.
func (a *Agent) teardownUntilDone(ctx context.Context, uid string) {
	b := backoff.Backoff{Base: 500 * time.Millisecond, Max: 10 * time.Second}
	for {
		err := a.teardownPod(ctx, uid, 0)
		if err == nil || ctx.Err() != nil {
			return
		}
		a.log.Warn("teardown", "pod_uid", uid, "err", err)
		b.Wait(ctx)
	}
}

// cleanupOrphans removes what belongs to pods that are no longer bound to
// this node (deleted while the agent was away).
//
// Pod workers run meanwhile: a pod bound while the agent starts gets its
// sandbox now. So the sandboxes are listed first and the pods after, and a
// sandbox whose pod has a worker is the worker's: a worker exists before it
// makes a sandbox and ends only after removing it.
func (a *Agent) cleanupOrphans(ctx context.Context) error {
	// A pod's sandbox ID is its UID.
	sandboxes, err := a.runtime.SandboxIDs()
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, p := range a.pods.List() {
		known[p.Metadata.Uid] = true
	}
	a.mu.Lock()
	for uid := range a.workers {
		known[uid] = true
	}
	a.mu.Unlock()
	var errs []error
	for _, uid := range sandboxes {
		if known[uid] {
			continue
		}
		a.log.Info("removing the remains of a pod deleted while the agent was away", "pod_uid", uid)
		if err := a.teardownPod(ctx, uid, 0); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
