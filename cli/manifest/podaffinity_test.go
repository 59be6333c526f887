package manifest

import (
	"strings"
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A Deployment as Kubernetes users write it, spreading replicas by pod
// anti-affinity and a spread constraint, with a node preference.
const spreadDeploymentYAML = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      affinity:
        nodeAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 20
            preference: {matchExpressions: [{key: disk, operator: In, values: [ssd]}]}
        podAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 50
            podAffinityTerm:
              labelSelector: {matchLabels: {app: cache}}
              namespaceSelector: {}
              topologyKey: topology.kubernetes.io/zone
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector:
              matchExpressions: [{key: app, operator: In, values: [web]}]
            namespaces: [default]
            topologyKey: kubernetes.io/hostname
      topologySpreadConstraints:
      - maxSkew: 1
        minDomains: 2
        topologyKey: topology.kubernetes.io/zone
        whenUnsatisfiable: DoNotSchedule
        nodeAffinityPolicy: Honor
        nodeTaintsPolicy: Ignore
        matchLabelKeys: [pod-template-hash]
        labelSelector: {matchLabels: {app: web}}
      containers:
      - {name: web, image: nginx}
`

func TestPodAffinityAndSpreadManifest(t *testing.T) {
	objs, err := Decode("f.yaml", []byte(spreadDeploymentYAML))
	if err != nil {
		t.Fatal(err)
	}
	spec := objs[0].Obj.(*skiffv1.Deployment).GetSpec().GetTemplate().GetSpec()
	a := spec.GetAffinity()
	if p := a.GetNodeAffinity().GetPreferredDuringSchedulingIgnoredDuringExecution(); len(p) != 1 || p[0].GetWeight() != 20 ||
		p[0].GetPreference().GetMatchExpressions()[0].GetValues()[0] != "ssd" {
		t.Errorf("preferred node affinity: %v", p)
	}
	if p := a.GetPodAffinity().GetPreferredDuringSchedulingIgnoredDuringExecution(); len(p) != 1 || p[0].GetWeight() != 50 ||
		p[0].GetPodAffinityTerm().GetTopologyKey() != "topology.kubernetes.io/zone" || p[0].GetPodAffinityTerm().GetNamespaceSelector() == nil {
		t.Errorf("preferred pod affinity: %v", p)
	}
	if r := a.GetPodAntiAffinity().GetRequiredDuringSchedulingIgnoredDuringExecution(); len(r) != 1 || r[0].GetTopologyKey() != "kubernetes.io/hostname" ||
		r[0].GetNamespaces()[0] != "default" || r[0].GetLabelSelector().GetMatchExpressions()[0].GetOperator() != "In" {
		t.Errorf("required anti-affinity: %v", r)
	}
	c := spec.GetTopologySpreadConstraints()
	if len(c) != 1 || c[0].GetMaxSkew() != 1 || c[0].GetMinDomains() != 2 || c[0].GetWhenUnsatisfiable() != "DoNotSchedule" ||
		c[0].GetNodeAffinityPolicy() != "Honor" || c[0].GetNodeTaintsPolicy() != "Ignore" || c[0].GetMatchLabelKeys()[0] != "pod-template-hash" ||
		c[0].GetLabelSelector().GetMatchLabels()["app"] != "web" {
		t.Errorf("topology spread: %v", c)
	}
	out, err := Encode(objs[0].Obj)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"topologySpreadConstraints":[`, `"whenUnsatisfiable":"DoNotSchedule"`, `"podAntiAffinity":{`, `"topologyKey":"kubernetes.io/hostname"`, `"podAffinityTerm":{`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("encoded Deployment lacks %s:\n%s", want, out)
		}
	}
}
