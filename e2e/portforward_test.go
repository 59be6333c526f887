package e2e

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// kubectl's imperative start on a real cluster: create deployment, expose
// it, reach it by name from a pod started with run, then port-forward to
// the service from outside the pod network (through the API server and
// the node agent, over TLS).
func TestCreateExposeRunAndPortForward(t *testing.T) {
	t.Parallel()
	c := newUpCluster(t)
	const image = "127.0.0.1:5000/demo:latest"
	skiff := func(args ...string) string {
		t.Helper()
		out, err := c.Skiff(args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	skiff("create", "deployment", "web", "--image="+image, "--replicas=2", "--port=8080", "--",
		"/bin/sh", "-c", "mkdir -p /tmp/w && hostname > /tmp/w/index.html && dd if=/dev/zero of=/tmp/w/big bs=1M count=32 && exec /bin/httpd -f -p 8080 -h /tmp/w")
	if out := skiff("expose", "deployment", "web"); out != "service/web exposed\n" {
		t.Fatalf("expose said %q", out)
	}
	skiff("run", "client", "--image="+image, "--command", "--", "sleep", "3600")
	web := waitPods(t, c, "app=web", 2)
	waitPods(t, c, "run=client", 1)
	names := map[string]bool{web[0].Name: true, web[1].Name: true}
	// exec TYPE/NAME runs in one of the deployment's pods.
	eventually(t, "exec deploy/web in one of its pods", func() error {
		out, err := c.Skiff("exec", "deploy/web", "--", "hostname")
		if err != nil || !names[strings.TrimSpace(out)] {
			return fmt.Errorf("%q: %v", out, err)
		}
		return nil
	})

	eventually(t, "the exposed service by name from the run pod", func() error {
		out, err := c.Skiff("exec", "client", "--", "wget", "-q", "-O", "-", "http://web:8080/")
		if err != nil || !names[strings.TrimSpace(out)] {
			return fmt.Errorf("%q: %v", out, err)
		}
		return nil
	})

	// port-forward picks one of the service's running pods, as kubectl
	// does, whether or not its server listens yet (each first writes a
	// 32 MB file): wait until both do.
	for name := range names {
		eventually(t, "pod "+name+" serving on 8080", func() error {
			out, err := c.Skiff("exec", name, "--", "wget", "-q", "-O", "-", "http://127.0.0.1:8080/")
			if err != nil || strings.TrimSpace(out) != name {
				return fmt.Errorf("%q: %v", out, err)
			}
			return nil
		})
	}

	// port-forward runs until interrupted; it prints the port it chose.
	pf := c.nsenter(c.bin, "port-forward", "svc/web", ":8080")
	stdout, err := pf.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	pf.Stderr = &stderr
	if err := pf.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{}) // closed once waitErr is set
	var waitErr error
	t.Cleanup(func() {
		pf.Process.Kill() // harmless once it has exited
		<-exited
	})
	lines := bufio.NewScanner(stdout)
	forwarding := regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:(\d+) -> 8080$`)
	port := ""
	for port == "" && lines.Scan() {
		if m := forwarding.FindStringSubmatch(lines.Text()); m != nil {
			port = m[1]
		}
	}
	if port == "" {
		t.Fatalf("port-forward printed no port: %v, stderr %q", lines.Err(), stderr.String())
	}
	handled := make(chan string, 16)
	go func() {
		defer func() { waitErr = pf.Wait(); close(exited) }()
		for lines.Scan() {
			if !strings.HasPrefix(lines.Text(), "Forwarding from [::1]:") { // where the host has IPv6
				handled <- lines.Text()
			}
		}
		close(handled)
	}()
	// Three requests, each a connection of its own, all to one pod.
	var first string
	for i := range 3 {
		out, err := c.InNode("timeout", "10", "/bin/busybox", "wget", "-q", "-O", "-", "http://127.0.0.1:"+port+"/")
		got := strings.TrimSpace(out)
		if err != nil || !names[got] {
			t.Fatalf("request %d through port-forward: %q, %v; port-forward's stderr %q", i, out, err, stderr.String())
		}
		if first == "" {
			first = got
		} else if got != first {
			t.Errorf("request %d reached %s, the first %s: port-forward keeps to one pod", i, got, first)
		}
		select {
		case l := <-handled:
			if l != "Handling connection for "+port {
				t.Errorf("port-forward printed %q", l)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("port-forward printed nothing for request %d", i)
		}
	}

	// Throughput, for the record (no assertion): 32 MiB through the
	// forward (TLS to the API server, then to the agent) and straight to
	// the pod's IP from the node.
	for _, via := range []struct{ name, url string }{
		{"port-forward", "http://127.0.0.1:" + port + "/big"},
		{"pod IP", "http://" + podByName(web, first).IP + ":8080/big"},
	} {
		start := time.Now()
		if out, err := c.InNode("timeout", "60", "/bin/busybox", "wget", "-q", "-O", "/dev/null", via.url); err != nil {
			t.Fatalf("32 MiB via %s: %v: %s", via.name, err, out)
		}
		d := time.Since(start)
		t.Logf("32 MiB via %s: %v (%.0f MiB/s)", via.name, d.Round(time.Millisecond), 32/d.Seconds())
	}
	<-handled

	// Ctrl-C ends it cleanly.
	pf.Process.Signal(os.Interrupt)
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("port-forward after Ctrl-C: %v, stderr %q", waitErr, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Error("port-forward still runs 10 s after Ctrl-C")
	}
}
