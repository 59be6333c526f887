package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// drainApp is three pods that answer HTTP with their own name and keep
// serving for 6 s after SIGTERM (the shell, PID 1, traps it; httpd goes
// with the pod), two services in front of them (one with ClientIP
// affinity) and a client pod.
const drainApp = `apiVersion: apps/v1
kind: Deployment
metadata: {name: spread}
spec:
  replicas: 3
  selector: {matchLabels: {app: spread}}
  template:
    metadata: {labels: {app: spread}}
    spec:
      terminationGracePeriodSeconds: 30
      containers:
      - name: web
        image: 127.0.0.1:5000/demo:latest
        command: ["/bin/sh", "-c", "trap 'sleep 6; exit 0' TERM; mkdir -p /tmp/www && hostname > /tmp/www/index.html; /bin/httpd -f -p 8080 -h /tmp/www & wait; wait"]
        ports: [{name: http, containerPort: 8080}]
        resources: {requests: {cpu: 10m, memory: 8Mi}}
        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: spread}
spec:
  selector: {app: spread}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: sticky}
spec:
  selector: {app: spread}
  sessionAffinity: ClientIP
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, labels: {app: client}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: 127.0.0.1:5000/demo:latest
    command: ["/bin/sh", "-c", "sleep 3600"]
    resources: {requests: {cpu: 10m, memory: 8Mi}}
`

// fetchLoop runs n requests to url from pod, pause seconds apart, and
// returns the answers in order ("FAILED" for one that failed). The demo
// image has no timeout(1): a watchdog kills a stuck wget.
func fetchLoop(c Cluster, pod, url string, n int, pause string) ([]string, error) {
	script := fmt.Sprintf("for i in $(seq %d); do wget -q -O - %s & p=$!; (sleep 5; kill $p 2>/dev/null) & w=$!; wait $p || echo FAILED; kill $w 2>/dev/null; sleep %s; done", n, url, pause)
	out, err := c.Skiff("exec", pod, "--", "sh", "-c", script)
	return strings.Fields(out), err
}

// fetchMany is fetchLoop without pauses or watchdog, for many requests to
// endpoints that all serve (a stuck one fails the exec by its timeout),
// in execs of 100.
func fetchMany(c Cluster, pod, url string, n int) ([]string, error) {
	var all []string
	for n > 0 {
		k := min(n, 100)
		out, err := c.Skiff("exec", pod, "--", "sh", "-c", fmt.Sprintf("for i in $(seq %d); do wget -q -O - %s || echo FAILED; done", k, url))
		all = append(all, strings.Fields(out)...)
		if err != nil {
			return all, err
		}
		n -= k
	}
	return all, nil
}

func tally(answers []string) map[string]int {
	got := map[string]int{}
	for _, a := range answers {
		got[a]++
	}
	return got
}

// 300 requests through a ClusterIP spread over its 3 endpoints (each gets
// at least 50); with sessionAffinity ClientIP one client's requests all go
// to one endpoint, from a pod and from the node's own network namespace
// (which reaches ClusterIPs too); a deleted pod leaves the rotation at
// once and every request during its grace period succeeds, also after it
// stopped.
func TestServiceSpreadAffinityAndDrain(t *testing.T) {
	t.Parallel()
	c := newUpCluster(t)
	apply(t, c, drainApp)
	pods := waitPods(t, c, "app=spread", 3)
	waitPods(t, c, "app=client", 1)
	vip := clusterIP(t, c, "spread")
	eventually(t, "every endpoint through the ClusterIP", func() error {
		got, err := fetchLoop(c, "client", "http://"+vip+"/", 15, "0")
		if n := tally(got); err != nil || n["FAILED"] > 0 || len(n) != 3 {
			return fmt.Errorf("%v: %v", err, n)
		}
		return nil
	})
	got, err := fetchMany(c, "client", "http://"+vip+"/", 300)
	n := tally(got)
	if err != nil || len(got) != 300 || n["FAILED"] > 0 {
		t.Fatalf("300 requests: %v: %v", err, n)
	}
	for _, p := range pods {
		if n[p.Name] < 50 {
			t.Fatalf("%s got %d of 300 requests, want at least 50: %v", p.Name, n[p.Name], n)
		}
	}
	t.Logf("300 requests through the ClusterIP: %v", n)

	// From the node's own network namespace: every endpoint answers.
	eventually(t, "the ClusterIP from the node", func() error {
		seen := map[string]int{}
		for i := 0; i < 30; i++ {
			out, err := c.InNode("timeout", "5", "/bin/busybox", "wget", "-q", "-O", "-", "http://"+vip+"/")
			if err != nil {
				return fmt.Errorf("request %d: %v: %s", i, err, out)
			}
			seen[strings.TrimSpace(out)]++
		}
		if len(seen) != 3 {
			return fmt.Errorf("30 requests from the node reached %v", seen)
		}
		return nil
	})

	// ClientIP affinity: one endpoint per client.
	sticky := clusterIP(t, c, "sticky")
	got, err = fetchMany(c, "client", "http://sticky.default.svc.cluster.local/", 40)
	if n := tally(got); err != nil || len(n) != 1 || n["FAILED"] > 0 {
		t.Fatalf("40 requests of one client with ClientIP affinity reached %v (%v); want one endpoint", n, err)
	}
	seen := map[string]bool{}
	for i := 0; i < 20; i++ {
		out, err := c.InNode("timeout", "5", "/bin/busybox", "wget", "-q", "-O", "-", "http://"+sticky+"/")
		if err != nil {
			t.Fatalf("sticky from the node: %v: %s", err, out)
		}
		seen[strings.TrimSpace(out)] = true
	}
	if len(seen) != 1 {
		t.Fatalf("20 requests from the node with ClientIP affinity reached %v; want one endpoint", seen)
	}
	desc, err := c.Skiff("describe", "svc", "sticky")
	if err != nil || !strings.Contains(desc, "ClientIP (timeout 10800s)") {
		t.Fatalf("describe svc sticky: %v\n%s", err, desc)
	}
	y, err := c.Skiff("get", "svc", "sticky", "-o", "yaml")
	if err != nil || !strings.Contains(y, "sessionAffinity: ClientIP") || !strings.Contains(y, "timeoutSeconds: 10800") {
		t.Fatalf("get svc sticky -o yaml: %v\n%s", err, y)
	}

	// Drain: delete one pod; it serves 6 s more, then stops. Requests for
	// 12 s and more never fail, and the pod gets none after the first few.
	victim := pods[0].Name
	if out, err := c.Skiff("delete", "pod", victim); err != nil {
		t.Fatalf("delete pod %s: %v\n%s", victim, err, out)
	}
	got, err = fetchLoop(c, "client", "http://"+vip+"/", 60, "0.2")
	n = tally(got)
	if err != nil || len(got) != 60 || n["FAILED"] > 0 {
		t.Fatalf("requests while %s terminated: %v: %v", victim, err, got)
	}
	for i, a := range got[20:] {
		if a == victim {
			t.Fatalf("request %d reached %s, deleted before the first: %v", 20+i, victim, got)
		}
	}
	t.Logf("during the drain of %s: %v", victim, n)
}

// serviceNodeApp is a pod pinned to node-2 behind two NodePort services,
// one with externalTrafficPolicy Local.
func serviceNodeApp(image string) string {
	return fmt.Sprintf(`apiVersion: skiff/v1
kind: Pod
metadata:
  name: np-web
  labels: {app: npweb}
spec:
  terminationGracePeriodSeconds: 1
  nodeSelector: {skiff.io/hostname: node-2}
  containers:
  - name: web
    image: %s
    # -v logs each client's address.
    command: ["/bin/httpd", "-f", "-v", "-p", "8080", "-h", "/www"]
    readinessProbe:
      httpGet: {port: 8080}
      periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {name: np-cluster}
spec:
  type: NodePort
  selector: {app: npweb}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: np-local}
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector: {app: npweb}
  ports: [{port: 80, targetPort: 8080}]
`, image)
}

// On a 2-node `skiff cluster`, a client outside the nodes (the test, on
// the host's side of the lab) reaches a NodePort through either node, also the one without
// the pod; with externalTrafficPolicy Local only the node with the pod
// answers, its pod sees the client's own address, and the other node
// drops the connection.
func TestServiceNodePortAcrossNodes(t *testing.T) {
	t.Parallel()
	c := newKindCluster(t, 2)
	apply(t, c, serviceNodeApp(c.Image()))
	ps := waitPods(t, c, "app=npweb", 1)
	if ps[0].Node != "node-2" {
		t.Fatalf("pod on %s, pinned to node-2", ps[0].Node)
	}
	addr := func(node string) string {
		out, err := c.InNodeOf(node, "sh", "-c", "ip -4 -o addr show scope global | awk '$2 != \"skiff0\" {print $4}' | cut -d/ -f1")
		if f := strings.Fields(out); err == nil && len(f) == 1 {
			return f[0]
		}
		t.Fatalf("%s's address: %v %q", node, err, out)
		return ""
	}
	// The test process is the outside client: the host reaches the lab
	// (and only it) through its veth, as the command line does.
	var clientAddr string
	fromOutside := func(url string) (string, error) {
		cl := &http.Client{Timeout: 4 * time.Second, Transport: &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
				conn, err := (&net.Dialer{}).DialContext(ctx, network, a)
				if err == nil {
					clientAddr, _, _ = net.SplitHostPort(conn.LocalAddr().String())
				}
				return conn, err
			},
		}}
		resp, err := cl.Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	n1, n2 := addr("node-1"), addr("node-2")
	cluster, local := nodePort(t, c, "np-cluster"), nodePort(t, c, "np-local")
	for _, node := range []string{n1, n2} {
		url := fmt.Sprintf("http://%s:%d/", node, cluster)
		eventually(t, "the Cluster node port through "+node, func() error {
			if out, err := fromOutside(url); err != nil || !strings.Contains(out, "Hello from skiff") {
				return fmt.Errorf("%s: %v: %s", url, err, out)
			}
			return nil
		})
	}
	eventually(t, "the Local node port on the pod's node", func() error {
		url := fmt.Sprintf("http://%s:%d/", n2, local)
		if out, err := fromOutside(url); err != nil || !strings.Contains(out, "Hello from skiff") {
			return fmt.Errorf("%s: %v: %s", url, err, out)
		}
		return nil
	})
	eventually(t, "the pod logs the outside client's address (no SNAT under Local)", func() error {
		logs, err := c.Skiff("logs", "np-web")
		if clientAddr != "" && strings.Contains(logs, ":"+clientAddr+"]:") {
			return nil
		}
		return fmt.Errorf("%v: no %q in:\n%s", err, clientAddr, logs)
	})
	// node-1 has no endpoint of np-local: its node port drops.
	for i := 0; i < 3; i++ {
		if out, err := fromOutside(fmt.Sprintf("http://%s:%d/", n1, local)); err == nil {
			t.Fatalf("node-1, without an endpoint, answered the Local node port: %s", out)
		}
	}
	desc, err := c.Skiff("describe", "svc", "np-local")
	if err != nil || !strings.Contains(desc, "External Traffic Policy:  Local") {
		t.Fatalf("describe svc np-local: %v\n%s", err, desc)
	}
}
