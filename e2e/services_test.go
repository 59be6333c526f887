package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// whoApp is three pods that answer HTTP with their own name, a NodePort
// service in front of them, and a client pod.
const whoApp = `apiVersion: apps/v1
kind: Deployment
metadata: {name: who}
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: who}}
  template:
    metadata: {labels: {app: who}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: 127.0.0.1:5000/demo:latest
        command: ["/bin/sh", "-c", "mkdir -p /tmp/www && hostname > /tmp/www/index.html && exec /bin/httpd -f -p 8080 -h /tmp/www"]
        ports: [{name: http, containerPort: 8080}]
        resources: {requests: {cpu: 10m, memory: 8Mi}}
        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: who}
spec:
  type: NodePort
  selector: {app: who}
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

// A pod reaches a ClusterIP service by name and every backend answers
// over 30 connections; the node port answers from the node's side of the
// network; a pod scaled away leaves the rotation (no request fails, none
// reaches it); the proxy's table goes with the cluster.
func TestServiceClusterIPAndNodePort(t *testing.T) {
	t.Parallel()
	c := newUpCluster(t)
	apply(t, c, strings.ReplaceAll(whoApp, "REPLICAS", "3"))
	who := waitPods(t, c, "app=who", 3)
	waitPods(t, c, "app=client", 1)
	vip := clusterIP(t, c, "who")
	if !strings.HasPrefix(vip, "10.") {
		t.Fatalf("ClusterIP %q", vip)
	}
	names := func(from, url string) (map[string]int, error) {
		// The demo image has no timeout(1): a watchdog kills a stuck wget.
		script := fmt.Sprintf("for i in $(seq 30); do wget -q -O - %s & p=$!; (sleep 5; kill $p 2>/dev/null) & w=$!; wait $p || echo FAILED; kill $w 2>/dev/null; done", url)
		out, err := c.Skiff("exec", from, "--", "sh", "-c", script)
		got := map[string]int{}
		for _, l := range strings.Fields(out) {
			got[l]++
		}
		return got, err
	}
	eventually(t, "every backend through the ClusterIP", func() error {
		got, err := names("client", "http://who.default.svc.cluster.local/")
		if err != nil || got["FAILED"] > 0 {
			return fmt.Errorf("%v: %v", err, got)
		}
		for _, p := range who {
			if got[p.Name] == 0 {
				return fmt.Errorf("%s got none of 30: %v", p.Name, got)
			}
		}
		return nil
	})

	// The node port, on the bridge address, from the node's namespace.
	port := nodePort(t, c, "who")
	gw, err := c.InNode("sh", "-c", "ip -4 -o addr show dev skiff0 | awk '{print $4}' | cut -d/ -f1")
	gw = strings.TrimSpace(gw)
	if err != nil || gw == "" {
		t.Fatalf("bridge address: %v %q", err, gw)
	}
	eventually(t, "node port from the node", func() error {
		out, err := c.InNode("timeout", "5", "/bin/busybox", "wget", "-q", "-O", "-", fmt.Sprintf("http://%s:%d/", gw, port))
		if err != nil || !strings.HasPrefix(strings.TrimSpace(out), "who-") {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})

	// Scaled to two: the third pod leaves the rotation.
	apply(t, c, strings.ReplaceAll(whoApp, "REPLICAS", "2"))
	left := waitPods(t, c, "app=who", 2)
	eventually(t, "only the two left answer", func() error {
		got, err := names("client", "http://"+vip+"/")
		if err != nil || got["FAILED"] > 0 {
			return fmt.Errorf("%v: %v", err, got)
		}
		for n := range got {
			if n != left[0].Name && n != left[1].Name {
				return fmt.Errorf("%s answered after it was scaled away: %v", n, got)
			}
		}
		return nil
	})
	out, err := c.InNode("nft", "list", "table", "ip", "skiff-proxy")
	if err != nil || !strings.Contains(out, "service-ips") {
		t.Fatalf("proxy table: %v\n%s", err, out)
	}
}

// serviceSpec reads a service's spec through the command line.
func serviceSpec(t *testing.T, c Cluster, name string) map[string]any {
	t.Helper()
	out, err := c.Skiff("get", "svc", name, "-o", "json")
	if err != nil {
		t.Fatalf("get svc %s: %v\n%s", name, err, out)
	}
	var svc struct {
		Spec map[string]any `json:"spec"`
	}
	if err := json.Unmarshal([]byte(out), &svc); err != nil {
		t.Fatalf("get svc %s -o json: %v\n%s", name, err, out)
	}
	return svc.Spec
}

func clusterIP(t *testing.T, c Cluster, name string) string {
	t.Helper()
	ip, _ := serviceSpec(t, c, name)["clusterIP"].(string)
	if ip == "" || ip == "None" {
		t.Fatalf("service %s has no ClusterIP (%q)", name, ip)
	}
	return ip
}

func nodePort(t *testing.T, c Cluster, name string) int {
	t.Helper()
	ports, _ := serviceSpec(t, c, name)["ports"].([]any)
	if len(ports) == 0 {
		t.Fatalf("service %s has no ports", name)
	}
	p, _ := ports[0].(map[string]any)["nodePort"].(float64)
	if p < 30000 || p > 32767 {
		t.Fatalf("service %s node port %v", name, p)
	}
	return int(p)
}
