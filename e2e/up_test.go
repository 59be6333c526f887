package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// The README's promise: `skiff up`, apply the hello example, get a Running
// pod that answers HTTP; its name resolves through cluster DNS from inside
// a pod; logs and exec work; the cluster survives a restart of skiff up
// with the same containers.
func TestUpHelloEndToEnd(t *testing.T) {
	t.Parallel()
	c := newUpCluster(t)
	out, err := c.Skiff("apply", "-f", "../deploy/examples/hello.yaml")
	if err != nil || !strings.Contains(out, "pod/hello created") || !strings.Contains(out, "service/hello created") {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	var ip string
	eventually(t, "hello ready", func() error {
		out, err := c.Skiff("get", "pod", "hello", "-o", "jsonpath={.status.phase} {.status.containerStatuses[0].ready} {.status.podIP}")
		if err != nil {
			return err
		}
		f := strings.Fields(out)
		if len(f) != 3 || f[0] != "Running" || f[1] != "true" {
			return fmt.Errorf("not ready: %q", out)
		}
		ip = f[2]
		return nil
	})
	eventually(t, "HTTP from the node to the pod", func() error {
		out, err := c.InNode("/bin/busybox", "wget", "-q", "-O", "-", "http://"+ip+":8080/")
		if err != nil || !strings.Contains(out, "Hello from skiff") {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	// The endpoints controller lists the pod behind the service, at its
	// targetPort; get svc shows the same.
	eventually(t, "endpoints of hello", func() error {
		for _, args := range [][]string{{"get", "endpoints", "hello"}, {"get", "svc", "hello"}} {
			out, err := c.Skiff(args...)
			if err != nil || !strings.Contains(out, ip+":8080") {
				return fmt.Errorf("%s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		return nil
	})
	// The registry serves TLS with the server's certificate; the command
	// line trusts it through its config.
	if out, err := c.Skiff("image", "ls"); err != nil || !strings.Contains(out, "demo") {
		t.Fatalf("image ls: %v\n%s", err, out)
	}
	// Cluster DNS, from inside the pod: the service's ClusterIP, which
	// the pod reaches itself through (hairpin) at the service port.
	vip := clusterIP(t, c, "hello")
	out, err = c.Skiff("exec", "hello", "--", "nslookup", "hello.default.svc.cluster.local")
	if err != nil || !strings.Contains(out, vip) {
		t.Fatalf("nslookup from the pod: %v\n%s", err, out)
	}
	eventually(t, "the pod through its own service", func() error {
		out, err := c.Skiff("exec", "hello", "--", "sh", "-c", "wget -q -O - http://hello.default.svc.cluster.local/ & p=$!; (sleep 5; kill $p) & wait $p")
		if err != nil || !strings.Contains(out, "Hello from skiff") {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	// Exit codes pass through exec.
	_, err = c.Skiff("exec", "hello", "--", "sh", "-c", "exit 3")
	if ee, ok := asExit(err); !ok || ee != 3 {
		t.Fatalf("exec exit code: %v", err)
	}
	// Logs, through the API server from the node's agent.
	talker := `apiVersion: skiff/v1
kind: Pod
metadata: {name: talker}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: 127.0.0.1:5000/demo:latest
    command: [sh, -c, "echo one; echo two; echo three; sleep 1000"]
`
	if out, err := c.SkiffIn(talker, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply talker: %v %s", err, out)
	}
	eventually(t, "talker's logs", func() error {
		out, err := c.Skiff("logs", "talker")
		if err != nil || out != "one\ntwo\nthree\n" {
			return fmt.Errorf("%v: %q", err, out)
		}
		return nil
	})
	if out, err := c.Skiff("logs", "talker", "--tail", "1"); err != nil || out != "three\n" {
		t.Fatalf("logs --tail 1: %v %q", err, out)
	}
	before, err := c.Skiff("get", "pod", "hello", "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Kill the whole cluster without notice (SIGKILL), then start it
	// again: the pod's container kept running and is adopted, not restarted.
	c.Kill()
	if out, err := c.InNode("/bin/busybox", "wget", "-q", "-O", "-", "http://"+ip+":8080/"); err != nil || !strings.Contains(out, "Hello from skiff") {
		t.Fatalf("the pod stopped with the cluster: %v %s", err, out)
	}
	c.Start()
	after, err := c.Skiff("get", "pod", "hello", "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	if containerID(before) == "" || containerID(before) != containerID(after) || strings.Contains(after, "restartCount:") {
		t.Fatalf("container changed across the restart:\n%s\n---\n%s", before, after)
	}
	if out, err := c.Skiff("delete", "pod", "talker", "--wait"); err != nil {
		t.Fatalf("delete talker: %v %s", err, out)
	}
	if out, err := c.Skiff("delete", "-f", "../deploy/examples/hello.yaml", "--wait"); err != nil {
		t.Fatalf("delete: %v %s", err, out)
	}
	if out, err := c.Skiff("get", "pods"); err != nil || strings.Contains(out, "hello") {
		t.Fatalf("pods left: %v %s", err, out)
	}
}

func containerID(yaml string) string {
	for _, line := range strings.Split(yaml, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimPrefix(strings.TrimSpace(line), "- "), "containerID: "); ok {
			return v
		}
	}
	return ""
}

func asExit(err error) (int, bool) {
	var ee *exec.ExitError
	for e := err; e != nil; {
		if x, ok := e.(*exec.ExitError); ok {
			ee = x
			break
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			break
		}
		e = u.Unwrap()
	}
	if ee == nil {
		return 0, false
	}
	return ee.ExitCode(), true
}
