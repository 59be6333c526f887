package nodeagent_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/nodeagent/network"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A container's hostPort is published on the node: a client in another
// network namespace, linked to the node by a veth, reaches the pod's
// server at the node's address and the host port. Deleting the pod
// withdraws the rule.
func TestHostPortPublished(t *testing.T) {
	h := newHarness(t)
	peer, _ := newNodeNetNS(t)
	veth := "hp" + peer[len(peer)-8:]
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	run("ip", "link", "add", veth+"a", "netns", h.nsName, "type", "veth", "peer", "name", veth+"b", "netns", peer)
	run("ip", "-n", h.nsName, "addr", "add", "192.0.2.1/24", "dev", veth+"a")
	run("ip", "-n", h.nsName, "link", "set", veth+"a", "up")
	run("ip", "-n", peer, "addr", "add", "192.0.2.2/24", "dev", veth+"b")
	run("ip", "-n", peer, "link", "set", veth+"b", "up")

	p := h.pod("published", "")
	p.Spec.Containers[0].Command = nil // the image's httpd on :8080
	p.Spec.Containers[0].Ports = []*skiffv1.ContainerPort{{ContainerPort: 8080, HostPort: 18080, Protocol: "TCP"}}
	h.create(p)
	h.waitPod("published", "Running", phase("Running"))
	get := func() (string, error) {
		// (busybox wget -T crashes: the context bounds it instead.)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "ip", "netns", "exec", peer, "/bin/busybox", "wget", "-q", "-O", "-", "http://192.0.2.1:18080/").CombinedOutput()
		return string(out), err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := get()
		if err == nil && strings.Contains(out, "Hello from skiff") {
			break
		}
		if time.Now().After(deadline) {
			rules, _ := h.inNode("nft", "list", "table", "ip", network.HostPortTable)
			t.Fatalf("hostPort 18080 from another netns: %v: %s\n%s", err, out, rules)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out, err := h.inNode("nft", "list", "table", "ip", network.HostPortTable); err != nil || !strings.Contains(out, "dport 18080") {
		t.Errorf("nft table: %v\n%s", err, out)
	}

	zero := int64(0)
	if _, _, err := h.c.Pods().Delete(h.ctx(), "default", "published", client.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	h.waitGone("published")
	deadline = time.Now().Add(30 * time.Second)
	for {
		out, err := h.inNode("nft", "list", "table", "ip", network.HostPortTable)
		if err == nil && !strings.Contains(out, "18080") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hostPort rule left after the pod is gone: %v\n%s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out, err := get(); err == nil {
		t.Errorf("hostPort still answers after the pod is gone: %s", out)
	}
}
