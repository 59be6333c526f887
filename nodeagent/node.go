package nodeagent

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/nodeagent/runtime/cgroups"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
	"github.com/skiff-sh/skiff/quantity"
)

// Version is reported in the Node's status.
const Version = "skiff/v0.1"

// capacity reads what this machine has: cores, memory, and the pod limit.
func (a *Agent) capacity() (capacity, allocatable map[string]string, err error) {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return nil, nil, fmt.Errorf("nodeagent: sysinfo: %w", err)
	}
	cpu := quantity.FromInt(int64(runtime.NumCPU()))
	mem := quantity.FromInt(int64(si.Totalram) * int64(si.Unit))
	pods := quantity.FromInt(int64(a.cfg.MaxPods))
	capacity = map[string]string{"cpu": cpu.String(), "memory": mem.String(), "pods": pods.String()}
	if a.cfg.ReservedCPU != "" {
		cpu = cpu.Sub(quantity.MustParse(a.cfg.ReservedCPU))
	}
	if a.cfg.ReservedMemory != "" {
		mem = mem.Sub(quantity.MustParse(a.cfg.ReservedMemory))
	}
	if cpu.Sign() < 0 || mem.Sign() < 0 {
		return nil, nil, fmt.Errorf("nodeagent: reserved resources exceed the node's capacity (%s cpu, %s memory)", capacity["cpu"], capacity["memory"])
	}
	allocatable = map[string]string{"cpu": cpu.String(), "memory": mem.String(), "pods": pods.String()}
	return capacity, allocatable, nil
}

func systemInfo(cgroupVersion string) *skiffv1.NodeSystemInfo {
	var u unix.Utsname
	_ = unix.Uname(&u)
	osImage := "Linux"
	if data, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				osImage = strings.Trim(v, `"`)
			}
		}
	}
	return &skiffv1.NodeSystemInfo{
		KernelVersion: unix.ByteSliceToString(u.Release[:]),
		OsImage:       osImage,
		Architecture:  runtime.GOARCH,
		AgentVersion:  Version,
		CgroupVersion: cgroupVersion,
	}
}

func (a *Agent) readyCondition(now time.Time) *skiffv1.Condition {
	return &skiffv1.Condition{
		Type: skiffv1.NodeReady, Status: skiffv1.ConditionTrue, Reason: "AgentReady", Message: "skiff agent is posting ready status",
		LastHeartbeatTime: timestamppb.New(now), LastTransitionTime: timestamppb.New(now),
	}
}

// register creates or refreshes this node's Node object and returns it
// once the server has given it a pod CIDR.
func (a *Agent) register(ctx context.Context) (*skiffv1.Node, error) {
	capacity, allocatable, err := a.capacity()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(a.listenAddr())
	status := &skiffv1.NodeStatus{
		Capacity:    capacity,
		Allocatable: allocatable,
		Conditions:  []*skiffv1.Condition{a.readyCondition(time.Now())},
		Addresses: []*skiffv1.NodeAddress{
			{Type: "InternalIP", Address: a.cfg.AdvertiseAddress},
			{Type: "Hostname", Address: a.cfg.NodeName},
		},
		NodeInfo:      systemInfo(cgroups.Detect("").String()),
		AgentEndpoint: net.JoinHostPort(a.cfg.AdvertiseAddress, port),
	}
	// The well-known Kubernetes labels too, so manifests' node selectors,
	// affinity topologyKeys and spread constraints find them.
	labels := map[string]string{
		"skiff.io/hostname": a.cfg.NodeName, "skiff.io/os": "linux", "skiff.io/arch": runtime.GOARCH,
		skiffv1.LabelHostname: a.cfg.NodeName, skiffv1.LabelOS: "linux", skiffv1.LabelArch: runtime.GOARCH,
	}
	for k, v := range a.cfg.Labels {
		labels[k] = v
	}
	nodes := a.cfg.Client.Nodes()
	node, err := nodes.Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: a.cfg.NodeName, Labels: labels}, Status: status})
	if client.IsAlreadyExists(err) {
		// Registered before: keep its spec (CIDR, taints, cordon), refresh
		// what the agent reports.
		node, err = nodes.ModifyStatus(ctx, "", a.cfg.NodeName, func(n *skiffv1.Node) error {
			n.Status = status
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("nodeagent: register node %s: %w", a.cfg.NodeName, err)
	}
	for node.GetSpec().GetPodCidr() == "" {
		a.log.Warn("node has no pod CIDR yet; waiting (is the cluster CIDR exhausted?)")
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Second):
		}
		if node, err = nodes.Get(ctx, "", a.cfg.NodeName); err != nil {
			return nil, err
		}
	}
	return node, nil
}

// heartbeat renews the node's Lease, the heartbeat the node lifecycle
// controller follows, and writes the Node's status only when it differs
// from what is stored or was last written StatusReportInterval ago, as the
// kubelet does: at thousands of nodes, writing every Node every few
// seconds is most of the cluster's write load.
func (a *Agent) heartbeat(ctx context.Context, now time.Time) {
	hctx, cancel := context.WithTimeout(ctx, a.cfg.HeartbeatInterval)
	defer cancel()
	cur, cached := a.nodeCache()
	if cached {
		// The Lease is owned by the Node as it is now (one deleted and
		// made again has a new UID).
		a.lease.SetNodeUID(cur.GetMetadata().GetUid())
	}
	if err := a.lease.Renew(hctx, now); err != nil {
		a.log.Warn("renewing the node's lease failed", "err", err)
	}
	running := int32(a.runningPods())
	if cached && !statusDue(cur, running, now, a.cfg.StatusReportInterval) {
		return
	}
	_, err := a.cfg.Client.Nodes().ModifyStatus(hctx, "", a.cfg.NodeName, func(n *skiffv1.Node) error {
		if n.Status == nil {
			n.Status = &skiffv1.NodeStatus{}
		}
		skiffv1.SetCondition(&n.Status.Conditions, a.readyCondition(now), now)
		n.Status.RunningPods = running
		return nil
	})
	if err != nil {
		a.log.Warn("node status update failed", "err", err)
	}
}

// statusDue reports whether the Node's stored status needs writing: its
// Ready condition is not the agent's (missing, or set Unknown by the
// node lifecycle controller while the node was away), the running pod
// count changed, or the last report is older than every.
func statusDue(n *skiffv1.Node, running int32, now time.Time, every time.Duration) bool {
	ready := skiffv1.FindCondition(n.GetStatus().GetConditions(), skiffv1.NodeReady)
	switch {
	case ready == nil || ready.GetStatus() != skiffv1.ConditionTrue || ready.GetLastHeartbeatTime() == nil:
		return true
	case n.GetStatus().GetRunningPods() != running:
		return true
	}
	return now.Sub(ready.GetLastHeartbeatTime().AsTime()) >= every
}

// nodeCache is this node's Node as the agent's informer has it; ok is
// false before the first list or once the Node is gone.
func (a *Agent) nodeCache() (*skiffv1.Node, bool) {
	if a.nodes == nil || !a.nodes.HasSynced() {
		return nil, false
	}
	return a.nodes.Get(client.Key("", a.cfg.NodeName))
}
