package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A hostile node: a real `skiff server` with TLS, two nodes, a pod and a
// volume on each, and node n2's identity trying every read and write that
// crosses into n1's business. Each must be refused; what n2 may do with its
// own pod still works.
func TestHostileNodeReadsAndWrites(t *testing.T) {
	t.Parallel()
	srv := startTLSServer(t)
	dataDir, admin := srv.dataDir, dial(t, srv.cfgPath)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	eventually(t, "server answers the admin", func() error { return admin.WaitReady(ctx) })
	n1, n2 := nodeClient(t, dataDir, admin, "n1"), nodeClient(t, dataDir, admin, "n2")
	for _, n := range []struct {
		c    *client.Client
		name string
	}{{n1, "n1"}, {n2, "n2"}} {
		if _, err := n.c.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: n.name}}); err != nil {
			t.Fatalf("%s registering itself: %v", n.name, err)
		}
	}
	pods := map[string]*skiffv1.Pod{}
	for _, node := range []string{"n1", "n2"} {
		vol := "data-" + node
		if _, err := admin.Volumes().Create(ctx, &skiffv1.Volume{Metadata: &skiffv1.ObjectMeta{Name: vol}}); err != nil {
			t.Fatal(err)
		}
		p, err := admin.Pods().Create(ctx, &skiffv1.Pod{
			Metadata: &skiffv1.ObjectMeta{Name: "web-" + node},
			Spec: &skiffv1.PodSpec{NodeName: node, Containers: []*skiffv1.Container{{Name: "c", Image: "x"}},
				Volumes: []*skiffv1.PodVolume{{Name: "data", Volume: &skiffv1.VolumeClaimSource{Name: vol}}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		pods[node] = p
	}
	victim := pods["n1"]

	refused := func(what string, err error, code codes.Code) {
		t.Helper()
		if status.Code(err) != code {
			t.Errorf("n2 %s: %v, want %v", what, err, code)
		}
	}
	denied := func(what string, err error) { t.Helper(); refused(what, err, codes.PermissionDenied) }

	// Reads.
	_, err := n2.Pods().Get(ctx, "default", "web-n1")
	denied("reading n1's pod", err)
	_, _, err = n2.Pods().List(ctx, client.ListOptions{})
	denied("listing every pod", err)
	_, _, err = n2.Pods().List(ctx, client.ListOptions{FieldSelector: "spec.nodeName=n1"})
	denied("listing n1's pods", err)
	w, err := n2.Pods().Watch(ctx, client.ListOptions{FieldSelector: "spec.nodeName!=n2"}, "")
	if err == nil {
		_, err = w.Next()
	}
	denied("watching other nodes' pods", err)
	_, err = n2.Volumes().Get(ctx, "default", "data-n1")
	denied("reading the volume of n1's pod", err)
	_, _, err = n2.Volumes().List(ctx, client.ListOptions{})
	denied("listing volumes", err)
	_, _, err = n2.Events().List(ctx, client.ListOptions{})
	denied("reading events", err)
	// Services and Endpoints are readable (the node's proxy follows
	// them, as kube-proxy's role allows), never writable.
	if _, _, err := n2.Services().List(ctx, client.ListOptions{}); err != nil {
		t.Errorf("n2 listing services for its proxy: %v", err)
	}
	_, err = n2.Services().Create(ctx, &skiffv1.Service{Metadata: &skiffv1.ObjectMeta{Name: "planted", Namespace: "default"}, Spec: &skiffv1.ServiceSpec{Ports: []*skiffv1.ServicePort{{Port: 80}}}})
	denied("creating a service", err)
	_, _, err = n2.ReplicaSets().List(ctx, client.ListOptions{})
	denied("reading replica sets", err)

	// Writes.
	forged := proto.Clone(victim).(*skiffv1.Pod)
	forged.Status = &skiffv1.PodStatus{Phase: "Failed"}
	_, err = n2.Pods().UpdateStatus(ctx, forged)
	denied("writing the status of n1's pod", err)
	_, _, err = n2.Pods().Delete(ctx, "default", "web-n1", client.DeleteOptions{Force: true})
	denied("force-deleting n1's pod", err)
	_, err = n2.Pods().Create(ctx, &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Name: "planted"}, Spec: victim.Spec})
	denied("creating a pod", err)
	n1Node, err := admin.Nodes().Get(ctx, "", "n1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = n2.Nodes().UpdateStatus(ctx, n1Node)
	denied("writing n1's Node status", err)
	_, err = n2.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "n3"}})
	denied("registering another node", err)

	// Events about others' objects, or in another's name.
	for what, ev := range map[string]*skiffv1.Event{
		"recording an event about n1's pod":   event("default", "Pod", "web-n1", victim.Metadata.Uid, "agent/n2"),
		"recording an event about n1's Node":  event("default", "Node", "n1", "", "agent/n2"),
		"recording an event as the scheduler": event("default", "Pod", "web-n2", "", "scheduler"),
		"recording an event about a service":  event("default", "Service", "kubernetes", "", "agent/n2"),
	} {
		_, err := n2.Events().Create(ctx, ev)
		denied(what, err)
	}

	// Usage for pods not its own, or for another node.
	usage := skiffv1.NewUsageClient(n2.Conn())
	_, err = usage.Report(ctx, &skiffv1.UsageReport{Node: "n1", NodeUsage: &skiffv1.ResourceUsage{CpuCores: 64}})
	denied("reporting n1's usage", err)
	_, err = usage.Report(ctx, &skiffv1.UsageReport{Node: "n2", Pods: []*skiffv1.PodUsage{
		{Namespace: "default", Name: "web-n1", Uid: victim.Metadata.Uid, Usage: &skiffv1.ResourceUsage{CpuCores: 64}},
	}})
	denied("reporting usage of n1's pod", err)
	snap, err := skiffv1.NewUsageClient(admin.Conn()).Get(ctx, &skiffv1.UsageQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Pods) != 0 || len(snap.Nodes) != 0 {
		t.Errorf("forged usage was stored: %v", snap)
	}

	// Its own business still works.
	if _, err := n2.Pods().Get(ctx, "default", "web-n2"); err != nil {
		t.Errorf("n2 reading its own pod: %v", err)
	}
	if mine, _, err := n2.Pods().List(ctx, client.ListOptions{FieldSelector: "spec.nodeName=n2"}); err != nil || len(mine) != 1 {
		t.Errorf("n2 listing its own pods: %d, %v", len(mine), err)
	}
	if _, err := n2.Volumes().Get(ctx, "default", "data-n2"); err != nil {
		t.Errorf("n2 reading its pod's volume: %v", err)
	}
	if _, err := usage.Report(ctx, &skiffv1.UsageReport{Node: "n2", Pods: []*skiffv1.PodUsage{
		{Namespace: "default", Name: "web-n2", Uid: pods["n2"].Metadata.Uid, Usage: &skiffv1.ResourceUsage{}},
	}}); err != nil {
		t.Errorf("n2 reporting its own pod's usage: %v", err)
	}

	// Spamming events about its own pod: past its burst it is slowed down,
	// and n1 is not.
	accepted, limited := 0, 0
	for i := 0; i < 400 && limited == 0; i++ {
		_, err := n2.Events().Create(ctx, event("default", "Pod", "web-n2", "", "agent/n2"))
		switch status.Code(err) {
		case codes.OK:
			accepted++
		case codes.ResourceExhausted:
			limited++
		default:
			t.Fatalf("event %d: %v", i, err)
		}
	}
	if limited == 0 {
		t.Errorf("n2 recorded %d events in a row without being slowed down", accepted)
	}
	if _, err := n1.Events().Create(ctx, event("default", "Pod", "web-n1", "", "agent/n1")); err != nil {
		t.Errorf("n1 is slowed down by n2's spam: %v", err)
	}
	// A huge message is cut, not stored whole.
	big := event("default", "Pod", "web-n1", "", "agent/n1")
	big.Message = strings.Repeat("x", 100<<10)
	if got, err := n1.Events().Create(ctx, big); err != nil || len(got.Message) > 1024 {
		t.Errorf("a 100 KiB event message: stored %d bytes, %v", len(got.GetMessage()), err)
	}
}

// nodeClient is a client with a certificate for node:<name> from the
// server's CA, as a joined agent holds.
func nodeClient(t *testing.T, dataDir string, admin *client.Client, name string) *client.Client {
	t.Helper()
	ca, err := pki.LoadCA(filepath.Join(dataDir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ca.IssueClient(pki.NodeIdentity(name), time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(admin.Addr(), client.Options{TLS: pki.ClientTLS(ca.Cert, pki.NewCertHolder(kp), "")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var eventSeq int

func event(ns, kind, name, uid, source string) *skiffv1.Event {
	eventSeq++
	return &skiffv1.Event{
		Metadata:       &skiffv1.ObjectMeta{Name: fmt.Sprintf("%s.%d", name, eventSeq), Namespace: ns},
		InvolvedObject: &skiffv1.ObjectReference{Kind: kind, Namespace: ns, Name: name, Uid: uid},
		Type:           "Warning", Reason: "Hostile", Message: "from a hostile node", Source: source,
		FirstTimestamp: timestamppb.Now(), LastTimestamp: timestamppb.Now(),
	}
}
