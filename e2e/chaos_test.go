package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// The chaos half of TestClusterOfThreeServers: a writer and a watch that
// run through the faults, and the checks made after each fault.

// RestoreLink puts a node back on the lab bridge after CutLink.
func (c *kindCluster) RestoreLink(node string) {
	c.t.Helper()
	lab := fmt.Sprintf("/run/netns/skiff-%s-lab", c.name)
	if out, err := exec.Command("nsenter", "--net="+lab, "--", "ip", "link", "set", node, "up").CombinedOutput(); err != nil {
		c.t.Fatalf("bring %s's link up: %v: %s", node, err, out)
	}
}

// dialCluster is a client of addr (one server, or several
// comma-separated) with the cluster config's credentials.
func dialCluster(t *testing.T, c *kindCluster, addr string) *client.Client {
	t.Helper()
	opts, err := client.OptionsFor(c.configFile())
	if err != nil {
		t.Fatal(err)
	}
	cli, err := client.New(addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// cliWrite applies ConfigMap name with the command line (a new process,
// dialing the config's servers afresh) until it goes through, failing the
// test 15 s after the fault at since.
func cliWrite(t *testing.T, c *kindCluster, name string, since time.Time, fault string) {
	t.Helper()
	f := writeFile(t, "apiVersion: skiff/v1\nkind: ConfigMap\nmetadata: {name: "+name+"}\ndata: {k: v}\n")
	for {
		out, err := c.Skiff("apply", "-f", f)
		if err == nil && strings.Contains(out, name) {
			break
		}
		if time.Since(since) > 15*time.Second {
			t.Fatalf("no write went through within 15s of %s: %v\n%s", fault, err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("failover: the command line wrote %.1fs after %s", time.Since(since).Seconds(), fault)
}

// waitAcks waits until the writer has acknowledged n more writes than
// from, failing the test after within.
func waitAcks(t *testing.T, w *writer, from, n int, within time.Duration, what string) time.Duration {
	t.Helper()
	began := time.Now()
	for w.count() < from+n {
		if time.Since(began) > within {
			t.Fatalf("%s: %d writes acknowledged in %v, want %d; failed attempts: %v", what, w.count()-from, within, n, w.failures())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(began)
}

// raiseMinReplicas sets the web autoscaler's minReplicas, retrying while
// the control plane recovers.
func raiseMinReplicas(t *testing.T, cli *client.Client, n int32) {
	t.Helper()
	eventually(t, fmt.Sprintf("autoscaler web minReplicas %d", n), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := cli.Autoscalers().Modify(ctx, "default", "web", func(a *skiffv1.Autoscaler) error {
			a.Spec.MinReplicas = proto.Int32(n)
			return nil
		})
		return err
	})
}

// waitScheduled waits until want web pods are bound to a node: the
// autoscaler, the deployment and replica set controllers and the
// scheduler all acted. It fails the test after bound.
func waitScheduled(t *testing.T, c *kindCluster, want int, bound time.Duration) time.Duration {
	t.Helper()
	began := time.Now()
	for {
		ps, err := pods(c, "app=web")
		bound0 := 0
		for _, p := range ps {
			if p.Node != "" {
				bound0++
			}
		}
		if err == nil && bound0 >= want {
			return time.Since(began)
		}
		if time.Since(began) > bound {
			t.Fatalf("%d of %d web pods bound to a node %v after raising the autoscaler's minimum: %v %+v", bound0, want, bound, err, ps)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkWrites: every acknowledged write is stored once, as the object the
// server acknowledged; each server's watch saw each made exactly once, in
// revision order, with no gap.
func checkWrites(t *testing.T, cli *client.Client, w *writer, watches map[string]*watchLog) {
	t.Helper()
	acks := w.acknowledged()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var list []*skiffv1.ConfigMap
	eventually(t, "list configmaps", func() error {
		var err error
		list, _, err = cli.ConfigMaps().List(ctx, client.ListOptions{Namespace: "default"})
		return err
	})
	stored := map[string][]string{}
	for _, cm := range list {
		stored[cm.GetMetadata().GetName()] = append(stored[cm.GetMetadata().GetName()], cm.GetMetadata().GetUid())
	}
	acked := map[string]bool{}
	w.mu.Lock()
	uids := w.uids
	w.mu.Unlock()
	for _, name := range acks {
		if acked[name] {
			t.Errorf("write %s acknowledged twice", name)
		}
		acked[name] = true
		switch got := stored[name]; {
		case len(got) == 0:
			t.Errorf("acknowledged write %s is missing", name)
		case len(got) > 1:
			t.Errorf("%s is stored %d times", name, len(got))
		case got[0] != uids[name]:
			t.Errorf("%s is stored as uid %s, but the create of uid %s was acknowledged", name, got[0], uids[name])
		}
	}
	unacked := 0
	for name := range stored {
		if !acked[name] && strings.HasPrefix(name, "w-") {
			unacked++
		}
	}
	for server, seen := range watches {
		seen.mu.Lock()
		missed := 0
		for _, name := range acks {
			if !seen.names[name] {
				if missed++; missed <= 5 {
					t.Errorf("the watch on %s missed acknowledged write %s: a gap after a fault", server, name)
				}
			}
		}
		for name, n := range seen.added {
			if n != 1 {
				t.Errorf("the watch on %s saw %s made %d times", server, name, n)
			}
		}
		if seen.disorder != "" {
			t.Errorf("the watch on %s: %s", server, seen.disorder)
		}
		t.Logf("the watch on %s missed %d of %d acknowledged writes (resumed %d times, last revision %d; breaks: %v)", server, missed, len(acks), seen.resumed, seen.lastRev, seen.breaks)
		seen.mu.Unlock()
	}
	t.Logf("%d acknowledged writes, all stored once as acknowledged; %d more made but unacknowledged (a retry found AlreadyExists)", len(acks), unacked)
}

// electedLeader is the server that last became leader of component
// ("controller", "scheduler"), from the servers' logs: a server wins only
// once the last leader's lease is gone, so the latest win is the leader.
func electedLeader(t *testing.T, c *kindCluster, component string) string {
	t.Helper()
	var who string
	var latest time.Time
	for _, s := range []string{"server-1", "server-2", "server-3"} {
		data, err := os.ReadFile(filepath.Join(c.nodeDir(s), "server.log"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if !strings.Contains(line, `msg="became leader"`) || !strings.Contains(line, "component="+component) {
				continue
			}
			ts, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
			at, err := time.Parse(time.RFC3339Nano, ts)
			if err == nil && at.After(latest) {
				who, latest = s, at
			}
		}
	}
	return who
}
