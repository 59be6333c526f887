package manifest

import (
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// The pod environment fields of Kubernetes manifests decode into skiff's
// schema and print back with Kubernetes' spellings (downwardAPI, podIP
// style), reading back to the same object.
func TestPodEnvironmentFieldsRoundTrip(t *testing.T) {
	doc := `apiVersion: v1
kind: Pod
metadata: {name: env, labels: {zone: a}}
spec:
  dnsPolicy: None
  dnsConfig:
    nameservers: [192.0.2.1]
    searches: [my.dns.search.suffix]
    options: [{name: ndots, value: "2"}, {name: edns0}]
  hostAliases: [{ip: 127.0.0.1, hostnames: [foo.local, bar.local]}]
  securityContext: {runAsUser: 1000, runAsNonRoot: true, fsGroup: 2000, supplementalGroups: [3000], seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: main
    image: busybox
    ports: [{containerPort: 80, hostPort: 8080}]
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}, seccompProfile: {type: Unconfined}}
    env:
    - {name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: CPU, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}}
    volumeMounts: [{name: info, mountPath: /info}]
  volumes:
  - name: info
    downwardAPI:
      items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]
  - name: both
    projected:
      sources: [{downwardAPI: {items: [{path: name, fieldRef: {fieldPath: metadata.name}}]}}]
`
	objs, err := Decode("env.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	pod := objs[0].Obj.(*skiffv1.Pod)
	if pod.Spec.DnsPolicy != "None" || pod.Spec.Volumes[0].DownwardApi == nil || pod.Spec.Volumes[1].Projected.Sources[0].DownwardApi == nil ||
		pod.Spec.Containers[0].Env[1].ValueFrom.ResourceFieldRef.Divisor != "1m" || pod.Spec.SecurityContext.GetFsGroup() != 2000 {
		t.Fatalf("decoded: %v", pod.Spec)
	}
	out, err := Encode(pod)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"downwardAPI":`, `"dnsPolicy":"None"`, `"hostAliases":`, `"fieldPath":"status.podIP"`, `"allowPrivilegeEscalation":false`, `"hostPort":8080`, `"fsGroup":2000`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("printed manifest lacks %q:\n%s", want, out)
		}
	}
	again, err := Decode("again.yaml", out)
	if err != nil || !proto.Equal(again[0].Obj, pod) {
		t.Fatalf("printed and read back differs (%v):\n%s", err, out)
	}

	data, err := os.ReadFile(corpusDir + "/pods/inject/dapi-volume-resources.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := applyOffline("dapi-volume-resources.yaml", data); err != nil {
		t.Errorf("the documentation's dapi-volume-resources example: %v", err)
	}
}

// The Kubernetes docs' shareProcessNamespace example decodes with the
// field set and prints it back with Kubernetes' spelling.
func TestShareProcessNamespaceDecodes(t *testing.T) {
	b, err := os.ReadFile(corpusDir + "/pods/share-process-namespace.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Decode("share-process-namespace.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	pod := objs[0].Obj.(*skiffv1.Pod)
	if !pod.Spec.ShareProcessNamespace {
		t.Fatalf("shareProcessNamespace lost: %v", pod.Spec)
	}
	out, err := Encode(pod)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"shareProcessNamespace":true`) {
		t.Errorf("printed manifest lacks shareProcessNamespace:\n%s", out)
	}
}
