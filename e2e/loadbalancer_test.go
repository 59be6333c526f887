package e2e

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// nginxApp is the Kubernetes documentation's application/nginx-app.yaml
// (a LoadBalancer Service and its Deployment), its image replaced by the
// demo image serving HTTP on the same port 80.
func nginxApp(image string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: my-nginx-svc
  labels:
    app: nginx
spec:
  type: LoadBalancer
  ports:
  - port: 80
  selector:
    app: nginx
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: my-nginx
  labels:
    app: nginx
spec:
  replicas: 3
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: %s
        command: ["/bin/httpd", "-f", "-p", "80", "-h", "/www"]
        ports:
        - containerPort: 80
`, image)
}

// lbNodeAddress is a node's address on the lab bridge (its InternalIP).
func lbNodeAddress(t *testing.T, c MultiNode, node string) string {
	t.Helper()
	out, err := c.InNodeOf(node, "sh", "-c", "ip -4 -o addr show scope global | awk '$2 != \"skiff0\" {print $4}' | cut -d/ -f1")
	if f := strings.Fields(out); err == nil && len(f) == 1 {
		return f[0]
	}
	t.Fatalf("%s's address: %v %q", node, err, out)
	return ""
}

// On a 2-node `skiff cluster`, the documentation's LoadBalancer Service
// applies unchanged but for the image: skiff's load balancer lists both
// nodes' addresses as its EXTERNAL-IP, and each node answers at its own
// address on port 80, to a client outside the nodes (the test, on the
// host's side of the lab) and to another node. A second LoadBalancer
// Service on port 80 stays <pending>, with a warning naming the first.
func TestLoadBalancerServiceOnEveryNode(t *testing.T) {
	t.Parallel()
	c := newKindCluster(t, 2)
	apply(t, c, nginxApp(c.Image()))
	waitPods(t, c, "app=nginx", 3)
	addrs := []string{lbNodeAddress(t, c, "node-1"), lbNodeAddress(t, c, "node-2")}
	slices.SortFunc(addrs, compareIPv4)

	row := regexp.MustCompile(`^my-nginx-svc\s+LoadBalancer\s+\S+\s+(\S+)\s+(80:3\d{4}/TCP)\s`)
	eventually(t, "EXTERNAL-IP lists both nodes", func() error {
		out, err := c.Skiff("get", "svc", "my-nginx-svc", "--no-headers")
		m := row.FindStringSubmatch(out)
		if err != nil || m == nil || m[1] != strings.Join(addrs, ",") {
			return fmt.Errorf("get svc: %v: %q; want EXTERNAL-IP %s", err, out, strings.Join(addrs, ","))
		}
		return nil
	})

	cl := &http.Client{Timeout: 4 * time.Second, Transport: &http.Transport{Proxy: nil}}
	for _, a := range addrs {
		url := "http://" + a + "/"
		eventually(t, "port 80 of "+a+" from outside the nodes", func() error {
			resp, err := cl.Get(url)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil || !strings.Contains(string(b), "Hello from skiff") {
				return fmt.Errorf("%s: %v: %q", url, err, b)
			}
			return nil
		})
		eventually(t, "port 80 of "+a+" from node-1", func() error {
			out, err := c.InNodeOf("node-1", "timeout", "5", "/bin/busybox", "wget", "-q", "-O", "-", url)
			if err != nil || !strings.Contains(out, "Hello from skiff") {
				return fmt.Errorf("%s from node-1: %v: %q", url, err, out)
			}
			return nil
		})
	}
	// A second LoadBalancer on port 80 waits for it: <pending>, told why.
	apply(t, c, `apiVersion: v1
kind: Service
metadata: {name: second}
spec:
  type: LoadBalancer
  selector: {app: nginx}
  ports: [{port: 80, targetPort: 80}]
`)
	eventually(t, "the second load balancer pending, with a warning naming the first", func() error {
		out, err := c.Skiff("get", "svc", "second", "--no-headers")
		if f := strings.Fields(out); err != nil || len(f) < 4 || f[3] != "<pending>" {
			return fmt.Errorf("get svc second: %v: %q", err, out)
		}
		d, err := c.Skiff("describe", "svc", "second")
		if err != nil || !strings.Contains(d, "port 80/TCP is taken by the load balancer of service default/my-nginx-svc") {
			return fmt.Errorf("describe svc second: %v\n%s", err, d)
		}
		return nil
	})

	desc, err := c.Skiff("describe", "svc", "my-nginx-svc")
	ingress := regexp.MustCompile(`LoadBalancer Ingress:\s+` + regexp.QuoteMeta(strings.Join(addrs, ", ")) + "\n")
	if err != nil || !ingress.MatchString(desc) {
		t.Fatalf("describe svc: %v\n%s", err, desc)
	}
}

// compareIPv4 orders dotted quads numerically, as the load balancer
// sorts its addresses.
func compareIPv4(a, b string) int {
	var x, y [4]int
	fmt.Sscanf(a, "%d.%d.%d.%d", &x[0], &x[1], &x[2], &x[3])
	fmt.Sscanf(b, "%d.%d.%d.%d", &y[0], &y[1], &y[2], &y[3])
	return slices.Compare(x[:], y[:])
}
