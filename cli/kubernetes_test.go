package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// Kubernetes manifests as the documentation writes them.
const kubeManifests = `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  accessModes: [ReadWriteMany]
  resources:
    requests:
      storage: 1Gi
  storageClassName: manual
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: frontend
  labels: {tier: frontend}
spec:
  replicas: 2
  selector:
    matchLabels: {tier: frontend}
  template:
    metadata:
      labels: {tier: frontend}
    spec:
      containers:
      - name: nginx
        image: nginx:1.14.2
        ports: [{containerPort: 80}]
        resources: {requests: {cpu: 100m}}
        volumeMounts: [{name: data, mountPath: /data}]
      volumes:
      - name: data
        persistentVolumeClaim: {claimName: data}
---
apiVersion: v1
kind: Service
metadata:
  name: frontend
spec:
  selector: {tier: frontend}
  ports: [{port: 80, targetPort: 80}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: frontend
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: ReplicaSet, name: frontend}
  minReplicas: 1
  maxReplicas: 5
  metrics:
  - type: Resource
    resource:
      name: cpu
      target: {type: Utilization, averageUtilization: 50}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: frontend-mem
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: ReplicaSet, name: frontend}
  maxReplicas: 5
  metrics:
  - type: Resource
    resource:
      name: memory
      target: {type: AverageValue, averageValue: 100Mi}
  - type: Resource
    resource:
      name: cpu
      target: {type: Utilization, averageUtilization: 70}
  behavior:
    scaleDown: {stabilizationWindowSeconds: 60}
---
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata:
  name: frontend-v1
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: ReplicaSet, name: frontend}
  minReplicas: 2
  maxReplicas: 4
  targetCPUUtilizationPercentage: 60
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: archive
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  hostPath: {path: /mnt/data}
  storageClassName: manual
  claimRef: {apiVersion: v1, namespace: default, name: pinned}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: scratch
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: pinned
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
  storageClassName: ""
  volumeName: archive
`

// TestApplyKubernetesManifests applies Kubernetes manifests unchanged, sees
// them stored as skiff objects, printed back in the apiVersion and kind they
// were applied as, and re-applied from that output as unchanged.
func TestApplyKubernetesManifests(t *testing.T) {
	r := newRunner(t)
	f := writeFile(t, "app.yaml", kubeManifests)
	want := "volume/data created\nreplicaset/frontend created\nservice/frontend created\nautoscaler/frontend created\n" +
		"autoscaler/frontend-mem created\nautoscaler/frontend-v1 created\npersistentvolume/archive created\n" +
		"volume/scratch created\nvolume/pinned created\n"
	if got := r.ok("apply", "-f", f); got != want {
		t.Fatalf("apply:\n%s", got)
	}
	if got := r.ok("apply", "-f", f); got != strings.ReplaceAll(want, "created", "unchanged") {
		t.Errorf("second apply:\n%s", got)
	}

	ctx := context.Background()
	vol, err := r.srv.Client.Volumes().Get(ctx, "default", "data")
	if err != nil {
		t.Fatal(err)
	}
	// A claim of a class is bound to a PersistentVolume: no source.
	if s := vol.GetSpec(); s.GetAccessMode() != "ReadWriteMany" || s.GetCapacity() != "1Gi" || s.GetLocal() != nil || s.GetStorageClassName() != "manual" {
		t.Errorf("the claim is stored as %v", s)
	}
	// One of no class is local storage, as the default class's.
	if v, err := r.srv.Client.Volumes().Get(ctx, "default", "scratch"); err != nil || v.GetSpec().GetLocal() == nil || v.GetSpec().StorageClassName != nil {
		t.Errorf("a claim of no class is stored as %v (%v)", v.GetSpec(), err)
	}
	// storageClassName: "" is kept apart from no class, with its volumeName.
	if v, err := r.srv.Client.Volumes().Get(ctx, "default", "pinned"); err != nil || v.GetSpec().GetLocal() != nil || v.GetSpec().StorageClassName == nil || v.GetSpec().GetVolumeName() != "archive" {
		t.Errorf("a claim of class \"\" is stored as %v (%v)", v.GetSpec(), err)
	}
	rs, err := r.srv.Client.ReplicaSets().Get(ctx, "default", "frontend")
	if err != nil {
		t.Fatal(err)
	}
	if v := rs.GetSpec().GetTemplate().GetSpec().GetVolumes()[0].GetVolume(); v.GetName() != "data" {
		t.Errorf("the pod's claim is stored as %v", rs.GetSpec().GetTemplate().GetSpec().GetVolumes()[0])
	}
	as, err := r.srv.Client.Autoscalers().Get(ctx, "default", "frontend")
	if err != nil {
		t.Fatal(err)
	}
	if s := as.GetSpec(); s.GetTarget() != "frontend" || s.GetMaxReplicas() != 5 || s.GetTargetCpuUtilizationPercent() != 50 {
		t.Errorf("the HPA is stored as %v", s)
	}

	for _, c := range []struct{ kind, name, head string }{
		{"volume", "data", "apiVersion: v1\nkind: PersistentVolumeClaim\n"},
		{"rs", "frontend", "apiVersion: apps/v1\nkind: ReplicaSet\n"},
		{"svc", "frontend", "apiVersion: v1\nkind: Service\n"},
		{"autoscaler", "frontend", "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\n"},
		{"autoscaler", "frontend-mem", "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\n"},
		{"autoscaler", "frontend-v1", "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\n"},
		{"pv", "archive", "apiVersion: v1\nkind: PersistentVolume\n"},
		{"pvc", "scratch", "apiVersion: v1\nkind: PersistentVolumeClaim\n"},
		{"pvc", "pinned", "apiVersion: v1\nkind: PersistentVolumeClaim\n"},
	} {
		out := r.ok("get", c.kind, c.name, "-o", "yaml")
		if !strings.HasPrefix(out, c.head) {
			t.Errorf("get %s -o yaml does not start with %q:\n%s", c.kind, c.head, out)
		}
		if strings.Contains(out, "appliedAs") {
			t.Errorf("get %s -o yaml shows appliedAs:\n%s", c.kind, out)
		}
		back := writeFile(t, c.kind+".yaml", out)
		if got := r.ok("apply", "-f", back); !strings.HasSuffix(got, " unchanged\n") {
			t.Errorf("re-applying get %s -o yaml: %s\n%s", c.kind, got, out)
		}
	}
	out := r.ok("get", "rs", "frontend", "-o", "yaml")
	if !strings.Contains(out, "persistentVolumeClaim:\n          claimName: data") {
		t.Errorf("the template's claim is not printed as persistentVolumeClaim:\n%s", out)
	}
	mem, err := r.srv.Client.Autoscalers().Get(ctx, "default", "frontend-mem")
	if err != nil {
		t.Fatal(err)
	}
	if m := mem.GetSpec().GetMetrics(); len(m) != 2 || m[0].GetResource().GetTarget().GetAverageValue() != "100Mi" ||
		mem.GetSpec().GetBehavior().GetScaleDown().GetStabilizationWindowSeconds() != 60 || mem.GetSpec().TargetCpuUtilizationPercent != nil {
		t.Errorf("the memory HPA is stored as %v", mem.GetSpec())
	}
	pv, err := r.srv.Client.PersistentVolumes().Get(ctx, "", "archive")
	if err != nil {
		t.Fatal(err)
	}
	if s := pv.GetSpec(); s.GetHostPath().GetPath() != "/mnt/data" || s.GetCapacity()["storage"] != "10Gi" || s.GetStorageClassName() != "manual" || s.GetClaimRef().GetName() != "pinned" {
		t.Errorf("the PersistentVolume is stored as %v", s)
	}
	if out := r.ok("get", "pvc", "pinned", "-o", "yaml"); !strings.Contains(out, "storageClassName: \"\"") || !strings.Contains(out, "volumeName: archive") {
		t.Errorf("the claim of class \"\" prints as:\n%s", out)
	}
	if out := r.ok("get", "pv", "archive", "-o", "yaml"); !strings.Contains(out, "apiVersion: v1\n    kind: PersistentVolumeClaim\n    name: pinned") {
		t.Errorf("the PersistentVolume's claimRef prints as:\n%s", out)
	}
	out = r.ok("get", "autoscaler", "frontend", "-o", "yaml")
	if !strings.Contains(out, "averageUtilization: 50") || !strings.Contains(out, "kind: ReplicaSet") {
		t.Errorf("the HPA is not printed as autoscaling/v2:\n%s", out)
	}
}

// TestGetJSONSpelling: -o json uses Kubernetes' spelling and types, so
// scripts written for kubectl's output work: numbers for 64-bit integers,
// podIP rather than podIp.
func TestGetJSONSpelling(t *testing.T) {
	r := newRunner(t)
	fixture(t, r)
	var pod map[string]any
	if err := json.Unmarshal([]byte(r.ok("get", "pod", "web", "-o", "json")), &pod); err != nil {
		t.Fatal(err)
	}
	meta := pod["metadata"].(map[string]any)
	if g, ok := meta["generation"].(float64); !ok || g < 1 {
		t.Errorf("metadata.generation = %#v, want a number", meta["generation"])
	}
	status := pod["status"].(map[string]any)
	if _, ok := status["podIP"]; !ok {
		t.Errorf("status has no podIP: %v", status)
	}
	if _, ok := status["podIp"]; ok {
		t.Errorf("status still says podIp: %v", status)
	}
	if pod["apiVersion"] != "skiff/v1" {
		t.Errorf("a pod applied as skiff/v1 prints as %v", pod["apiVersion"])
	}
}
