package manifest

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

const statefulSetYAML = `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: nginx
  replicas: 3
  selector: {matchLabels: {app: nginx}}
  updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 1}}
  persistentVolumeClaimRetentionPolicy: {whenScaled: Delete}
  template:
    metadata: {labels: {app: nginx}}
    spec:
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms: [{matchExpressions: [{key: disk, operator: In, values: [ssd]}]}]
      containers:
      - name: nginx
        image: nginx
        volumeMounts: [{name: www, mountPath: /usr/share/nginx/html}]
  volumeClaimTemplates:
  - apiVersion: v1
    kind: PersistentVolumeClaim
    metadata: {name: www}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
`

func TestStatefulSetManifest(t *testing.T) {
	objs, err := Decode("f.yaml", []byte(statefulSetYAML))
	if err != nil {
		t.Fatal(err)
	}
	set := objs[0].Obj.(*skiffv1.StatefulSet)
	tmpl := set.GetSpec().GetVolumeClaimTemplates()
	if len(tmpl) != 1 || tmpl[0].GetMetadata().GetName() != "www" || tmpl[0].GetSpec().GetAccessMode() != "ReadWriteOnce" || tmpl[0].GetSpec().GetCapacity() != "1Gi" {
		t.Fatalf("claim template converted to %v", tmpl)
	}
	if set.GetSpec().GetUpdateStrategy().GetRollingUpdate().GetPartition() != 1 || set.GetSpec().GetPersistentVolumeClaimRetentionPolicy().GetWhenScaled() != "Delete" {
		t.Errorf("strategy or retention lost: %v", set.GetSpec())
	}
	terms := set.GetSpec().GetTemplate().GetSpec().GetAffinity().GetNodeAffinity().GetRequiredDuringSchedulingIgnoredDuringExecution().GetNodeSelectorTerms()
	if len(terms) != 1 || terms[0].GetMatchExpressions()[0].GetKey() != "disk" {
		t.Errorf("node affinity lost: %v", terms)
	}
	set.Status = &skiffv1.StatefulSetStatus{Replicas: 3, CurrentTemplate: set.GetSpec().GetTemplate()}
	out, err := Encode(set)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"accessModes":["ReadWriteOnce"]`, `"storage":"1Gi"`, `"kind":"StatefulSet"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("encoded StatefulSet lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "currentTemplate") {
		t.Errorf("encoded StatefulSet shows skiff's currentTemplate:\n%s", out)
	}
	back, err := Decode("f.yaml", out)
	if err != nil {
		t.Fatalf("decode what Encode wrote: %v\n%s", err, out)
	}
	set.Status = nil
	got := back[0].Obj.(*skiffv1.StatefulSet)
	got.Status = nil
	if !proto.Equal(got.GetSpec(), set.GetSpec()) {
		t.Errorf("round trip changed the spec:\n got %v\nwant %v", got.GetSpec(), set.GetSpec())
	}
}

func TestDaemonSetManifest(t *testing.T) {
	objs, err := Decode("f.yaml", []byte(`apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 2}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: a, image: b}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	ds := objs[0].Obj.(*skiffv1.DaemonSet)
	if got := ds.GetSpec().GetUpdateStrategy().GetRollingUpdate().GetMaxUnavailable(); got != "2" {
		t.Errorf("maxUnavailable %q, want 2", got)
	}
	out, err := Encode(ds)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"maxUnavailable":2`) {
		t.Errorf("maxUnavailable not printed as a number:\n%s", out)
	}
}
