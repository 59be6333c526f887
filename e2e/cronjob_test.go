package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A batch/v1 CronJob on a real cluster: `skiff create job --from` runs its
// template at once (its pod's output in the logs, the Job Complete and
// owned by the CronJob), and the controller's own timer makes the run of
// the next minute, named after it, without any polling in between. The
// schedule's logic (policies, missed runs, history) is tested on a fake
// clock in controller/; here only the one wait for the next minute is
// real, at most 70s after the apply.
func TestCronJobRunsFromTemplateAndOnSchedule(t *testing.T) {
	t.Parallel()
	c := newUpCluster(t)
	manifest := `apiVersion: batch/v1
kind: CronJob
metadata: {name: hello}
spec:
  schedule: "* * * * *"
  timeZone: Etc/UTC
  successfulJobsHistoryLimit: 5
  jobTemplate:
    metadata:
      labels: {app: hello}
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          terminationGracePeriodSeconds: 1
          containers:
          - name: hello
            image: 127.0.0.1:5000/demo:latest
            command: [sh, -c, "echo Hello from the skiff cluster"]
            resources:
              requests: {cpu: 10m, memory: 8Mi}
`
	applied := time.Now()
	if out, err := c.SkiffIn(manifest, "apply", "-f", "-"); err != nil || !strings.Contains(out, "cronjob/hello created") {
		t.Fatalf("apply: %v %s", err, out)
	}
	if out, err := c.Skiff("create", "job", "hello-now", "--from=cronjob/hello"); err != nil || out != "job/hello-now created\n" {
		t.Fatalf("create job --from: %v %q", err, out)
	}
	eventually2(t, 3*time.Minute, "the manual run to complete", func() error {
		out, err := c.Skiff("wait", "--for=condition=complete", "job/hello-now", "--timeout=50s")
		if err != nil || out != "job/hello-now condition met\n" {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	t.Logf("the manual run completed %s after the apply", time.Since(applied).Round(time.Second))
	if out, err := c.Skiff("logs", "job/hello-now"); err != nil || out != "Hello from the skiff cluster\n" {
		t.Fatalf("logs job/hello-now: %v %q", err, out)
	}
	y, err := c.Skiff("get", "job", "hello-now", "-o", "yaml")
	if err != nil || !strings.Contains(y, "cronjob.kubernetes.io/instantiate: manual") || !strings.Contains(y, "kind: CronJob\n    name: hello") {
		t.Fatalf("the manual Job's metadata: %v\n%s", err, y)
	}

	// The scheduled run: named after its minute since the epoch.
	scheduled := regexp.MustCompile(`(?m)^hello-(\d{8,})\s`)
	var name string
	eventually2(t, max(80*time.Second-time.Since(applied), 5*time.Second), "the scheduled run's Job", func() error {
		out, err := c.Skiff("get", "jobs")
		m := scheduled.FindStringSubmatch(out)
		if err != nil || m == nil {
			return fmt.Errorf("%v\n%s", err, out)
		}
		name = "hello-" + m[1]
		return nil
	})
	t.Logf("the scheduled run %s appeared %s after the apply", name, time.Since(applied).Round(time.Second))
	eventually2(t, 3*time.Minute, "the scheduled run to complete", func() error {
		out, err := c.Skiff("wait", "--for=condition=complete", "job/"+name, "--timeout=50s")
		if err != nil || !strings.Contains(out, "condition met") {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	eventually(t, "get cronjobs to show the last schedule", func() error {
		out, err := c.Skiff("get", "cronjobs")
		if err != nil || !strings.Contains(out, "NAME    SCHEDULE    TIMEZONE   SUSPEND   ACTIVE   LAST SCHEDULE   AGE") ||
			!regexp.MustCompile(`hello   \* \* \* \* \*   Etc/UTC    False     [01]        \S+`).MatchString(out) {
			return fmt.Errorf("%v\n%s", err, out)
		}
		return nil
	})
	if d, err := c.Skiff("describe", "cronjob", "hello"); err != nil || !strings.Contains(d, "Created job "+name) || !strings.Contains(d, "Last Successful Time:") {
		t.Errorf("describe cronjob: %v\n%s", err, d)
	}

	// Deleting the CronJob takes its Jobs and their pods with it.
	if out, err := c.Skiff("delete", "cronjob", "hello"); err != nil {
		t.Fatalf("delete: %v %s", err, out)
	}
	eventually(t, "the CronJob's Jobs and pods collected", func() error {
		jobs, err1 := c.Skiff("get", "jobs")
		pods, err2 := c.Skiff("get", "pods")
		if err1 != nil || err2 != nil || strings.Contains(jobs, "hello-") || strings.Contains(pods, "hello-") {
			return fmt.Errorf("%v %v\n%s\n%s", err1, err2, jobs, pods)
		}
		return nil
	})
}
