package cli

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

const threePods = `apiVersion: skiff/v1
kind: Pod
metadata: {name: a, labels: {app: x}}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: skiff/v1
kind: Pod
metadata: {name: b, labels: {app: x}}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: skiff/v1
kind: Pod
metadata: {name: c, labels: {app: y}}
spec: {containers: [{name: c, image: i}]}
`

func podNames(t *testing.T, r *runner) string {
	t.Helper()
	pods, _, err := r.srv.Client.Pods().List(context.Background(), client.ListOptions{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pods {
		names = append(names, p.Metadata.Name)
	}
	return strings.Join(names, ",")
}

func TestDelete(t *testing.T) {
	r := newRunner(t)
	f := writeFile(t, "pods.yaml", threePods)
	r.ok("apply", "-f", f)

	if got := r.ok("delete", "pod", "a"); got != "pod \"a\" deleted\n" {
		t.Errorf("by name: %q", got)
	}
	if got := podNames(t, r); got != "b,c" {
		t.Errorf("after delete a: %s", got)
	}
	if got := r.ok("delete", "po", "-l", "app=x"); got != "pod \"b\" deleted\n" {
		t.Errorf("by label: %q", got)
	}
	if got := podNames(t, r); got != "c" {
		t.Errorf("after -l: %s", got)
	}
	res := r.run("delete", "-f", f)
	if res.out != "pod \"c\" deleted\n" || res.e == nil || !strings.Contains(res.err, `pod "a" not found`) || !strings.Contains(res.err, `pod "b" not found`) {
		t.Errorf("by file: %+v", res)
	}
	if got := podNames(t, r); got != "" {
		t.Errorf("after -f: %s", got)
	}
	if res := r.run("delete", "-f", f, "--ignore-not-found"); res.e != nil || res.out != "" {
		t.Errorf("--ignore-not-found: %+v", res)
	}
	if res := r.run("delete", "pods", "-l", "app=none"); res.e != nil || res.err != "No resources found\n" {
		t.Errorf("empty selector: %+v", res)
	}
	for _, args := range [][]string{{"delete"}, {"delete", "pods"}, {"delete", "pod", "x", "--cascade=foreground"}} {
		if res := r.run(args...); res.e == nil || !strings.HasPrefix(res.err, "error: ") {
			t.Errorf("%v: %+v", args, res)
		}
	}
}

func TestDeleteWaitGracefulPod(t *testing.T) {
	r := newRunner(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := r.srv.Client
	if _, err := c.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "n1"}}); err != nil {
		t.Fatal(err)
	}
	r.ok("apply", "-f", writeFile(t, "pods.yaml", threePods))
	if _, err := c.Bind(ctx, "default", "a", "n1", "", ""); err != nil {
		t.Fatal(err)
	}

	type outcome struct {
		res  result
		took time.Duration
	}
	done := make(chan outcome, 1)
	start := time.Now()
	go func() {
		res := r.runCtx(ctx, nil, "delete", "pod", "a", "--wait")
		done <- outcome{res, time.Since(start)}
	}()

	// Play the node's part: once the pod is marked, confirm with a forced
	// delete, as the agent does after stopping the containers.
	deadline := time.Now().Add(20 * time.Second)
	for {
		p, err := c.Pods().Get(ctx, "default", "a")
		if err != nil {
			t.Fatal(err)
		}
		if p.Metadata.DeletionTimestamp != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("pod never got its deletion timestamp")
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case o := <-done:
		t.Fatalf("--wait returned before the node confirmed: %+v", o.res)
	case <-time.After(300 * time.Millisecond):
	}
	if _, gone, err := c.Pods().Delete(ctx, "default", "a", client.DeleteOptions{Force: true}); err != nil || !gone {
		t.Fatalf("force delete: gone=%v err=%v", gone, err)
	}
	select {
	case o := <-done:
		if o.res.e != nil || o.res.out != "pod \"a\" deleted\n" {
			t.Errorf("--wait: %+v", o.res)
		}
		if !strings.Contains(o.res.err, `waiting for pod "a" to be deleted`) {
			t.Errorf("no progress on stderr: %q", o.res.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("--wait did not return after the pod went")
	}

	// Without --wait a graceful deletion returns at once; --force removes.
	if _, err := c.Bind(ctx, "default", "b", "n1", "", ""); err != nil {
		t.Fatal(err)
	}
	if got := r.ok("delete", "pod", "b"); got != "pod \"b\" deleted\n" {
		t.Errorf("graceful: %q", got)
	}
	if p, err := c.Pods().Get(ctx, "default", "b"); err != nil || p.Metadata.DeletionTimestamp == nil {
		t.Errorf("b should be terminating: %v %v", p, err)
	}
	if got := r.ok("delete", "pod", "b", "--force"); got != "pod \"b\" deleted\n" {
		t.Errorf("force: %q", got)
	}
	if got := podNames(t, r); got != "c" {
		t.Errorf("left: %s", got)
	}

	// --wait with a short timeout on a pod nobody confirms says what to do.
	if _, err := c.Bind(ctx, "default", "c", "n1", "", ""); err != nil {
		t.Fatal(err)
	}
	res := r.run("delete", "pod", "c", "--wait", "--timeout", "300ms")
	if res.e == nil || !strings.Contains(res.err, `pod "c" is still being deleted after 300ms`) || !strings.Contains(res.err, "--force") {
		t.Errorf("timeout: %+v", res)
	}
	// A timeout that runs out while the watch is still being opened (a busy
	// server, a slow handshake) is the same answer, not "server did not answer".
	res = r.run("delete", "pod", "c", "--wait", "--timeout", "1ns")
	if res.e == nil || !strings.Contains(res.err, `pod "c" is still being deleted after 1ns`) {
		t.Errorf("timeout while opening the watch: %+v", res)
	}
}

func TestServerUnreachable(t *testing.T) {
	// A loopback port that was open a moment ago and is closed now.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r := &runner{t: t, addr: addr, now: time.Now()}
	for _, args := range [][]string{
		{"get", "pods"},
		{"describe", "pod", "web"},
		{"delete", "pod", "web"},
		{"create", "namespace", "x"},
	} {
		// With an hour to spare, only failing fast on the refused
		// connection (not waiting for the server to come) gives this
		// message before the runner's own deadline.
		res := r.run(append([]string{"--request-timeout", "1h"}, args...)...)
		want := "error: cannot reach the skiff server at " + addr + " (connection refused); start one with `sudo skiff up`, or point --server or SKIFF_SERVER at a running one\n"
		if res.err != want {
			t.Errorf("%v:\n got %q\nwant %q", args, res.err, want)
		}
	}
	res := r.runIn(strings.NewReader(threePods), "apply", "-f", "-")
	if strings.Count(res.err, "\n") != 1 || !strings.Contains(res.err, "cannot reach the skiff server at "+addr) {
		t.Errorf("apply: %q", res.err)
	}
}

func TestNoServerConfigured(t *testing.T) {
	environ := testEnviron(t)
	root := newRoot(newEnv(environ))
	var out, errb strings.Builder
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs([]string{"get", "pods"})
	want := "no server given: pass --server HOST:PORT, set SKIFF_SERVER, or start one with `sudo skiff up` (it writes " + filepath.Join(environ.Home, ".skiff", "config") + ")"
	if err := root.Execute(); err == nil || !strings.Contains(errb.String(), want) {
		t.Errorf("err=%v stderr=%q", err, errb.String())
	}
}
