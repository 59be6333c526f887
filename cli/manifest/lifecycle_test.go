package manifest

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

const kubernetesLifecycle = `apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  activeDeadlineSeconds: 600
  initContainers:
  - name: setup
    image: busybox
    command: [sh, -c, "echo ready > /work/flag"]
  containers:
  - name: app
    image: busybox
    terminationMessagePath: /tmp/why
    terminationMessagePolicy: FallbackToLogsOnError
    startupProbe:
      grpc: {port: 2379, service: etcd}
      failureThreshold: 30
      terminationGracePeriodSeconds: 5
    livenessProbe:
      httpGet:
        path: /healthz
        port: 8443
        scheme: HTTPS
        httpHeaders:
        - {name: Custom-Header, value: Awesome}
    lifecycle:
      postStart:
        exec: {command: [sh, -c, "echo hi > /tmp/started"]}
      preStop:
        sleep: {seconds: 5}
`

// The pod lifecycle fields read from a Kubernetes manifest with their
// Kubernetes names and print back the same way.
func TestKubernetesPodLifecycle(t *testing.T) {
	objs, err := Decode("pod.yaml", []byte(kubernetesLifecycle))
	if err != nil {
		t.Fatal(err)
	}
	pod := objs[0].Obj.(*skiffv1.Pod)
	c := pod.Spec.Containers[0]
	switch {
	case pod.Spec.GetActiveDeadlineSeconds() != 600 || pod.Spec.InitContainers[0].Name != "setup":
		t.Errorf("pod spec = %v", pod.Spec)
	case c.StartupProbe.GetGrpc().GetService() != "etcd" || c.StartupProbe.GetTerminationGracePeriodSeconds() != 5:
		t.Errorf("startupProbe = %v", c.StartupProbe)
	case c.LivenessProbe.GetHttpGet().GetScheme() != "HTTPS" || c.LivenessProbe.GetHttpGet().GetHttpHeaders()[0].GetValue() != "Awesome":
		t.Errorf("livenessProbe = %v", c.LivenessProbe)
	case c.Lifecycle.GetPreStop().GetSleep().GetSeconds() != 5 || len(c.Lifecycle.GetPostStart().GetExec().GetCommand()) != 3:
		t.Errorf("lifecycle = %v", c.Lifecycle)
	case c.TerminationMessagePath != "/tmp/why" || c.TerminationMessagePolicy != "FallbackToLogsOnError":
		t.Errorf("termination message = %q %q", c.TerminationMessagePath, c.TerminationMessagePolicy)
	}
	out, err := Encode(pod)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"initContainers"`, `"activeDeadlineSeconds":600`, `"startupProbe"`, `"httpHeaders"`, `"postStart"`, `"preStop"`, `"terminationMessagePolicy"`, `"grpc":{"port":2379,"service":"etcd"}`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("printed pod lacks %s:\n%s", want, out)
		}
	}
	again, err := Decode("again.yaml", out)
	if err != nil {
		t.Fatalf("printed pod does not read back: %v\n%s", err, out)
	}
	if !proto.Equal(again[0].Obj, pod) {
		t.Errorf("printed and read back differs:\n%s", out)
	}

	// What skiff does not run stays refused, by name.
	for _, tc := range []struct{ field, yaml, want string }{
		{"tcpSocket hook", "lifecycle: {preStop: {tcpSocket: {port: 80}}}", "spec.containers[0].lifecycle.preStop.tcpSocket is not supported by skiff yet"},
		{"stop signal", "lifecycle: {stopSignal: SIGUSR1}", "spec.containers[0].lifecycle.stopSignal is not supported by skiff yet"},
	} {
		doc := "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n  - name: a\n    image: b\n    " + tc.yaml + "\n"
		if _, err := Decode("x.yaml", []byte(doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.field, err, tc.want)
		}
	}
	sidecar := "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  initContainers: [{name: s, image: b, restartPolicy: Always}]\n  containers: [{name: a, image: b}]\n"
	objs, err = Decode("x.yaml", []byte(sidecar))
	if err != nil {
		t.Fatalf("sidecar init container: %v", err)
	}
	if got := objs[0].Obj.(*skiffv1.Pod).Spec.InitContainers[0].GetRestartPolicy(); got != "Always" {
		t.Errorf("sidecar restartPolicy = %q, want Always", got)
	}
	rules := "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  initContainers: [{name: s, image: b, restartPolicy: Always, restartPolicyRules: [{action: Restart}]}]\n  containers: [{name: a, image: b}]\n"
	if _, err := Decode("x.yaml", []byte(rules)); err == nil || !strings.Contains(err.Error(), "spec.initContainers[0].restartPolicyRules is not supported by skiff yet") {
		t.Errorf("restartPolicyRules: %v", err)
	}
}
