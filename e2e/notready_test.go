package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A node cut off from the lab (its agent still runs, unable to reach the
// server) turns Unknown and its pod's Ready condition False, NodeNotReady
// (what services and controllers go by; as in Kubernetes the READY column
// counts the containers the agent last reported), while nothing is evicted
// yet; once the link is back the agent posts the pod's real status again
// and the same pod is Ready.
func TestPodNotReadyWhileNodeUnreachable(t *testing.T) {
	t.Parallel()
	c := newKindCluster(t, 2, "--node-grace-period=10s", "--pod-eviction-timeout=10m")
	lost := "node-2"
	apply(t, c, pinnedPod("cut", lost, c.Image()))
	waitPods(t, c, "app=pinned", 1)
	uid, err := podUID(c, "cut")
	if err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	c.CutLink(lost)
	linkUp := func() {
		lab := fmt.Sprintf("/run/netns/skiff-%s-lab", c.name)
		if out, err := exec.Command("nsenter", "--net="+lab, "--", "ip", "link", "set", lost, "up").CombinedOutput(); err != nil {
			t.Fatalf("bring %s's link up: %v: %s", lost, err, out)
		}
	}
	readyIs := func(want bool) func() error {
		return func() error {
			ps, err := pods(c, "app=pinned")
			if err != nil {
				return err
			}
			if p := podByName(ps, "cut"); p.Ready != want {
				return fmt.Errorf("%+v", p)
			}
			return nil
		}
	}
	eventually2(t, 60*time.Second, "cut not Ready with its node cut off", readyIs(false))
	t.Logf("cut not Ready %s after its node's link was cut", time.Since(cut).Round(100*time.Millisecond))
	if out, err := c.Skiff("get", "pod", "cut", "-o", "json"); err != nil || !strings.Contains(out, "NodeNotReady") || !strings.Contains(out, "Node is not ready") {
		t.Errorf("cut's status does not say its node is not ready: %v\n%s", err, out)
	}
	if out, err := c.Skiff("get", "nodes", lost); err != nil || !strings.Contains(out, "Unknown") && !strings.Contains(out, "NotReady") {
		t.Errorf("%s not shown unreachable: %v\n%s", lost, err, out)
	}

	healed := time.Now()
	linkUp()
	eventually2(t, 60*time.Second, "cut Ready once its node is back", readyIs(true))
	t.Logf("cut Ready again %s after the link came back", time.Since(healed).Round(100*time.Millisecond))
	if out, err := c.Skiff("get", "pods", "cut"); err != nil || !strings.Contains(out, "1/1") {
		t.Errorf("get pods cut: %v\n%s", err, out)
	}
	if got, err := podUID(c, "cut"); err != nil || got != uid {
		t.Errorf("cut (%s) was replaced by %s: %v; want the same pod ready again", uid, got, err)
	}
}
