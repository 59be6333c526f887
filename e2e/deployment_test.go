package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// webDeployment is a Deployment of six web pods serving VERSION. A
// terminating pod keeps serving through its preStop sleep of five seconds,
// so a client that resolved the name (or opened a connection) just before
// the pod left DNS and the service's rules still gets an answer.
const webDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 6
  progressDeadlineSeconds: PROGRESS
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 15
      containers:
      - name: web
        image: IMAGE
        env: [{name: VERSION, value: VERSION_VALUE}]
        command: ["/bin/sh", "-c", "mkdir -p /tmp/www && echo \"version $VERSION\" > /tmp/www/index.html && /bin/httpd -f -p 8080 -h /tmp/www & pid=$!; trap 'kill $pid; exit 0' TERM; wait"]
        lifecycle: {preStop: {sleep: {seconds: 5}}}
        ports: [{name: http, containerPort: 8080}]
        resources: {requests: {cpu: 10m, memory: 8Mi}}
        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 8080}]
`

// client requests the service by name ten times a second, logging one
// line per request. A request may take 11 s before it counts as failed:
// busybox's resolver asks again only after 5 s, so one DNS answer lost on
// a busy machine costs that much without anything being wrong; a request
// sent to a pod that is gone hangs for good and still fails.
const clientPod = `apiVersion: v1
kind: Pod
metadata: {name: client, labels: {app: client}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: client
    image: IMAGE
    command: ["/bin/sh", "-c", "while true; do if out=$(timeout 11 wget -q -O - http://web.default.svc.cluster.local:8080/ 2>&1); then echo \"ok $out\"; else echo \"fail $out\"; fi; sleep 0.1; done"]
    resources: {requests: {cpu: 10m, memory: 8Mi}}
`

// requestCounts reads the client's log: requests served and failed, and
// the versions that answered, in total.
func requestCounts(t *testing.T, c Cluster) (ok, failed int, versions map[string]int, fails []string) {
	t.Helper()
	out, err := c.Skiff("logs", "client")
	if err != nil {
		t.Fatalf("client logs: %v\n%s", err, out)
	}
	versions = map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "ok "):
			ok++
			versions[strings.TrimPrefix(line, "ok ")]++
		case strings.HasPrefix(line, "fail"):
			failed++
			fails = append(fails, line)
		}
	}
	return ok, failed, versions, fails
}

// TestDeploymentZeroDowntime rolls a Deployment of six pods behind a
// Service to a new version, back with undo, then to a broken image, on a
// 3-node cluster, while a client pod requests the service by name: no
// request may fail.
func TestDeploymentZeroDowntime(t *testing.T) {
	t.Parallel()
	c := newKindCluster(t, 3)
	v1 := c.Image()
	tag := v1[strings.LastIndex(v1, ":"):]
	v2 := strings.TrimSuffix(v1, tag) + ":v2"
	if out, err := c.Skiff("image", "push", v1, v2); err != nil {
		t.Fatalf("image push: %v\n%s", err, out)
	}
	manifest := func(image, version string) string {
		return strings.NewReplacer("IMAGE", image, "VERSION_VALUE", version, "PROGRESS", "30").Replace(webDeployment)
	}
	apply(t, c, manifest(v1, "v1"))
	rolloutStatus(t, c)
	apply(t, c, strings.ReplaceAll(clientPod, "IMAGE", v1))
	waitPods(t, c, "app=client", 1)
	eventually(t, "the client served by v1", func() error {
		if ok, _, v, _ := requestCounts(t, c); ok == 0 || v["version v1"] == 0 {
			out, err := c.Skiff("logs", "client", "--tail", "5")
			return fmt.Errorf("%d served: %v; the client's log ends (%v):\n%s", ok, v, err, out)
		}
		return nil
	})

	roll := func(what string, change func()) {
		t.Helper()
		okBefore, failedBefore, _, _ := requestCounts(t, c)
		start := time.Now()
		change()
		rolloutStatus(t, c)
		took := time.Since(start)
		time.Sleep(2 * time.Second) // requests after the last old pod went
		ok, failed, versions, fails := requestCounts(t, c)
		t.Logf("%s: 6 replicas rolled in %.1fs; %d requests served, %d failed during it; answers so far %v",
			what, took.Seconds(), ok-okBefore, failed-failedBefore, versions)
		if failed > failedBefore {
			t.Errorf("%s: %d requests failed: %q", what, failed-failedBefore, fails[failedBefore:])
		}
	}
	lastVersion := func(want string) {
		t.Helper()
		eventually(t, "only "+want+" answering", func() error {
			out, err := c.Skiff("logs", "client")
			if err != nil {
				return err
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if last := lines[len(lines)-1]; last != "ok version "+want {
				return fmt.Errorf("last answer %q", last)
			}
			return nil
		})
	}
	roll("rolling update to v2", func() { apply(t, c, manifest(v2, "v2")) })
	lastVersion("v2")
	roll("rollout undo", func() {
		if out, err := c.Skiff("rollout", "undo", "deploy/web"); err != nil {
			t.Fatalf("undo: %v\n%s", err, out)
		}
	})
	lastVersion("v1")
	if out, err := c.Skiff("rollout", "history", "deploy/web"); err != nil || !strings.Contains(out, "2 ") || !strings.Contains(out, "3 ") {
		t.Errorf("history after undo: %v\n%s", err, out)
	}

	// A broken image: the rollout stops at maxUnavailable (25% of 6: one
	// pod), reports ProgressDeadlineExceeded, and the old pods serve.
	okBefore, failedBefore, _, _ := requestCounts(t, c)
	broken := strings.TrimSuffix(v1, tag) + ":does-not-exist"
	if out, err := c.Skiff("set", "image", "deploy/web", "web="+broken); err != nil {
		t.Fatalf("set image: %v\n%s", err, out)
	}
	out, err := c.Skiff("rollout", "status", "deploy/web", "--timeout", "3m")
	if err == nil || !strings.Contains(out+err.Error(), "exceeded its progress deadline") {
		t.Fatalf("rollout status of a broken image: %v\n%s", err, out)
	}
	desc, _ := c.Skiff("describe", "deploy", "web")
	t.Logf("after the broken rollout:\n%s", desc)
	if !strings.Contains(desc, "ProgressDeadlineExceeded") || !strings.Contains(desc, "5 available") {
		t.Errorf("describe: want ProgressDeadlineExceeded with 5 pods available")
	}
	ok, failed, _, fails := requestCounts(t, c)
	t.Logf("broken rollout: %d requests served, %d failed", ok-okBefore, failed-failedBefore)
	if failed > failedBefore {
		t.Errorf("broken rollout: %d requests failed: %q", failed-failedBefore, fails[failedBefore:])
	}
	lastVersion("v1")
	// A request still in flight when a phase was counted ends within the
	// client's 11 s; none of them may fail either.
	time.Sleep(12 * time.Second)
	if _, late, _, fails := requestCounts(t, c); late > failed {
		t.Errorf("%d requests in flight at the end failed: %q", late-failed, fails[failed:])
	}
}

func rolloutStatus(t *testing.T, c Cluster) {
	t.Helper()
	if out, err := c.Skiff("rollout", "status", "deploy/web", "--timeout", "4m"); err != nil {
		d, _ := c.Skiff("describe", "deploy", "web")
		t.Fatalf("rollout status: %v\n%s\n%s", err, out, d)
	}
}
