package validation

import (
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func TestPodLifecycleValidation(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	exec := &skiffv1.ExecAction{Command: []string{"true"}}
	cases := []struct {
		name   string
		mutate func(p *skiffv1.Pod)
		want   string
	}{
		{"init container", func(p *skiffv1.Pod) {
			p.Spec.InitContainers = []*skiffv1.Container{{Name: "setup", Image: "busybox"}}
		}, ""},
		{"init container named like a container", func(p *skiffv1.Pod) {
			p.Spec.InitContainers = []*skiffv1.Container{{Name: "main", Image: "busybox"}}
		}, `spec.containers[0].name: "main" is used by another container`},
		{"init container without image", func(p *skiffv1.Pod) {
			p.Spec.InitContainers = []*skiffv1.Container{{Name: "setup"}}
		}, "spec.initContainers[0].image: required"},
		{"init container with a probe", func(p *skiffv1.Pod) {
			p.Spec.InitContainers = []*skiffv1.Container{{Name: "setup", Image: "b", ReadinessProbe: &skiffv1.Probe{Exec: exec}}}
		}, "spec.initContainers[0].readinessProbe: must not be set for init containers"},
		{"init container with hooks", func(p *skiffv1.Pod) {
			p.Spec.InitContainers = []*skiffv1.Container{{Name: "setup", Image: "b", Lifecycle: &skiffv1.Lifecycle{}}}
		}, "spec.initContainers[0].lifecycle: must not be set"},
		{"sidecar with probes and hooks", func(p *skiffv1.Pod) {
			p.Spec.InitContainers = []*skiffv1.Container{{Name: "proxy", Image: "b", RestartPolicy: str("Always"),
				StartupProbe: &skiffv1.Probe{Exec: exec}, ReadinessProbe: &skiffv1.Probe{Exec: exec}, LivenessProbe: &skiffv1.Probe{Exec: exec},
				Lifecycle: &skiffv1.Lifecycle{PreStop: &skiffv1.LifecycleHandler{Sleep: &skiffv1.SleepAction{Seconds: 1}}}}}
		}, ""},
		{"init container restartPolicy Never", func(p *skiffv1.Pod) {
			p.Spec.InitContainers = []*skiffv1.Container{{Name: "setup", Image: "b", RestartPolicy: str("Never")}}
		}, `spec.initContainers[0].restartPolicy: "Never": only "Always" is supported`},
		{"init container restartPolicy OnFailure with a probe", func(p *skiffv1.Pod) {
			p.Spec.InitContainers = []*skiffv1.Container{{Name: "setup", Image: "b", RestartPolicy: str("OnFailure"), ReadinessProbe: &skiffv1.Probe{Exec: exec}}}
		}, "spec.initContainers[0].readinessProbe: must not be set for init containers"},
		{"container restartPolicy", func(p *skiffv1.Pod) {
			p.Spec.Containers[0].RestartPolicy = str("Always")
		}, "spec.containers[0].restartPolicy: may only be set on init containers"},
		{"hooks", func(p *skiffv1.Pod) {
			p.Spec.Containers[0].Lifecycle = &skiffv1.Lifecycle{
				PostStart: &skiffv1.LifecycleHandler{HttpGet: &skiffv1.HTTPGetAction{Port: 80, Scheme: "HTTPS", HttpHeaders: []*skiffv1.HTTPHeader{{Name: "X-Probe", Value: "1"}}}},
				PreStop:   &skiffv1.LifecycleHandler{Sleep: &skiffv1.SleepAction{Seconds: 5}},
			}
		}, ""},
		{"hook with two handlers", func(p *skiffv1.Pod) {
			p.Spec.Containers[0].Lifecycle = &skiffv1.Lifecycle{PreStop: &skiffv1.LifecycleHandler{Exec: exec, Sleep: &skiffv1.SleepAction{Seconds: 1}}}
		}, "spec.containers[0].lifecycle.preStop: exactly one of exec, httpGet or sleep"},
		{"hook without command", func(p *skiffv1.Pod) {
			p.Spec.Containers[0].Lifecycle = &skiffv1.Lifecycle{PostStart: &skiffv1.LifecycleHandler{Exec: &skiffv1.ExecAction{}}}
		}, "spec.containers[0].lifecycle.postStart.exec.command: required"},
		{"negative sleep", func(p *skiffv1.Pod) {
			p.Spec.Containers[0].Lifecycle = &skiffv1.Lifecycle{PreStop: &skiffv1.LifecycleHandler{Sleep: &skiffv1.SleepAction{Seconds: -1}}}
		}, "preStop.sleep.seconds: must not be negative"},
		{"scheme", func(p *skiffv1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &skiffv1.Probe{HttpGet: &skiffv1.HTTPGetAction{Port: 80, Scheme: "FTP"}}
		}, `spec.containers[0].livenessProbe.httpGet.scheme: "FTP" is not one of HTTP, HTTPS`},
		{"header name", func(p *skiffv1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &skiffv1.Probe{HttpGet: &skiffv1.HTTPGetAction{Port: 80, HttpHeaders: []*skiffv1.HTTPHeader{{Name: "Bad Header"}}}}
		}, `livenessProbe.httpGet.httpHeaders[0].name: "Bad Header" is not a valid HTTP header name`},
		{"grpc probe", func(p *skiffv1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &skiffv1.Probe{Grpc: &skiffv1.GRPCAction{Port: 2379}}
		}, ""},
		{"grpc probe port", func(p *skiffv1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &skiffv1.Probe{Grpc: &skiffv1.GRPCAction{}}
		}, "livenessProbe.grpc.port: 0 is not a port number"},
		{"startup probe success threshold", func(p *skiffv1.Pod) {
			p.Spec.Containers[0].StartupProbe = &skiffv1.Probe{Exec: exec, SuccessThreshold: 2}
		}, "spec.containers[0].startupProbe.successThreshold: must be 1"},
		{"startup probe handler", func(p *skiffv1.Pod) {
			p.Spec.Containers[0].StartupProbe = &skiffv1.Probe{}
		}, "spec.containers[0].startupProbe: exactly one of exec, tcpSocket, httpGet or grpc"},
		{"probe grace", func(p *skiffv1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &skiffv1.Probe{Exec: exec, TerminationGracePeriodSeconds: i64(0)}
		}, "livenessProbe.terminationGracePeriodSeconds: must be at least 1"},
		{"readiness probe grace", func(p *skiffv1.Pod) {
			p.Spec.Containers[0].ReadinessProbe = &skiffv1.Probe{Exec: exec, TerminationGracePeriodSeconds: i64(5)}
		}, "readinessProbe.terminationGracePeriodSeconds: must not be set for readiness probes"},
		{"termination message path", func(p *skiffv1.Pod) { p.Spec.Containers[0].TerminationMessagePath = "dev/log" }, `spec.containers[0].terminationMessagePath: "dev/log" must be an absolute path`},
		{"termination message policy", func(p *skiffv1.Pod) { p.Spec.Containers[0].TerminationMessagePolicy = "Logs" }, `terminationMessagePolicy: "Logs" is not one of File, FallbackToLogsOnError`},
		{"active deadline", func(p *skiffv1.Pod) { p.Spec.ActiveDeadlineSeconds = i64(0) }, "spec.activeDeadlineSeconds: must be at least 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := basePod()
			c.mutate(p)
			wantValidation(t, p, c.want)
		})
	}
}

// Kubernetes' defaults: the termination message's file and policy, for
// init containers too, and a hook's GET path.
func TestPodLifecycleDefaults(t *testing.T) {
	p := basePod()
	p.Spec.InitContainers = []*skiffv1.Container{{Name: "setup", Image: "busybox"}}
	p.Spec.Containers[0].Lifecycle = &skiffv1.Lifecycle{PreStop: &skiffv1.LifecycleHandler{HttpGet: &skiffv1.HTTPGetAction{Port: 80}}}
	p.Spec.Containers[0].StartupProbe = &skiffv1.Probe{Exec: &skiffv1.ExecAction{Command: []string{"true"}}}
	Default(p)
	for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
		if c.TerminationMessagePath != "/dev/termination-log" || c.TerminationMessagePolicy != "File" {
			t.Errorf("container %s: termination message %q %q", c.Name, c.TerminationMessagePath, c.TerminationMessagePolicy)
		}
	}
	if got := p.Spec.Containers[0].Lifecycle.PreStop.HttpGet.Path; got != "/" {
		t.Errorf("hook path %q, want /", got)
	}
	if sp := p.Spec.Containers[0].StartupProbe; sp.PeriodSeconds != 10 || sp.FailureThreshold != 3 || sp.SuccessThreshold != 1 {
		t.Errorf("startup probe %v: want Kubernetes' defaults", sp)
	}
}

func str(s string) *string { return &s }
