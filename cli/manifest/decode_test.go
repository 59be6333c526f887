package manifest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

const goodPod = `apiVersion: skiff/v1
kind: Pod
metadata:
  name: web
  labels: {app: web, version: 2}
spec:
  containers:
  - name: app
    image: nginx:1
    resources:
      requests: {cpu: 1, memory: 128974848}
      limits: {cpu: 0.5}
    ports:
    - containerPort: "8080"
`

func TestDecodeCoercesScalars(t *testing.T) {
	objs, err := Decode("pod.yaml", []byte(goodPod))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 {
		t.Fatalf("got %d objects", len(objs))
	}
	pod := objs[0].Obj.(*skiffv1.Pod)
	c := pod.Spec.Containers[0]
	if c.Resources.Requests["cpu"] != "1" || c.Resources.Requests["memory"] != "128974848" || c.Resources.Limits["cpu"] != "0.5" {
		t.Errorf("resources = %v", c.Resources)
	}
	if c.Ports[0].ContainerPort != 8080 {
		t.Errorf("containerPort = %d", c.Ports[0].ContainerPort)
	}
	if pod.Metadata.Labels["version"] != "2" {
		t.Errorf("labels = %v", pod.Metadata.Labels)
	}
	if objs[0].String() != `pod.yaml: document 1 (Pod "web")` {
		t.Errorf("String = %q", objs[0].String())
	}
}

func TestDecodeServiceTargetPortNumber(t *testing.T) {
	objs, err := Decode("svc.yaml", []byte(`apiVersion: skiff/v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := objs[0].Obj.(*skiffv1.Service).Spec.Ports[0].TargetPort; got != "8080" {
		t.Errorf("targetPort = %q", got)
	}
}

func TestDecodeMultiDocumentSkipsEmpty(t *testing.T) {
	data := "---\n# nothing\n---\n" + goodPod + "---\n\n---\napiVersion: skiff/v1\nkind: Namespace\nmetadata: {name: team}\n"
	objs, err := Decode("all.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[1].Info.Name != "Namespace" || objs[1].Doc != 2 {
		t.Fatalf("got %+v", objs)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       []string
	}{
		{"malformed yaml", goodPod + "---\napiVersion: skiff/v1\nkind: Pod\nmetadata:\n  name: x\n   bad: [\n", []string{"f.yaml: document 2 (line ", "mapping values are not allowed"}},
		{"unknown field", goodPod + "---\napiVersion: skiff/v1\nkind: Pod\nmetadata: {name: db}\nspec:\n  contaners: []\n", []string{`f.yaml: document 2 (Pod "db"): unknown field "contaners" in spec (did you mean "containers"?)`}},
		{"unknown kind", "apiVersion: skiff/v1\nkind: ControllerRevision\nmetadata: {name: x}\n", []string{`unknown kind "ControllerRevision"; valid kinds: Autoscaler, ConfigMap, CronJob, DaemonSet, Deployment, Endpoints, Event, Job, Lease, Namespace, Node, PersistentVolume, Pod, ReplicaSet, ReplicationController, Secret, Service, StatefulSet, Volume`}},
		{"short kind", "apiVersion: skiff/v1\nkind: po\nmetadata: {name: x}\n", []string{"write `kind: Pod`"}},
		{"bad apiVersion", "apiVersion: extensions/v1beta1\nkind: Pod\nmetadata: {name: x}\n", []string{`apiVersion "extensions/v1beta1" is not served; skiff serves skiff/v1, v1, apps/v1, batch/v1, autoscaling/v1, autoscaling/v2`}},
		{"kind of another apiVersion", "apiVersion: apps/v1\nkind: Pod\nmetadata: {name: x}\n", []string{`a Pod is v1, not apps/v1`}},
		{"Kubernetes kind skiff lacks", "apiVersion: apps/v1\nkind: ControllerRevision\nmetadata: {name: x}\n", []string{`kind "ControllerRevision" of apps/v1 is not supported by skiff yet; skiff serves ReplicaSet, Deployment, DaemonSet, StatefulSet of apps/v1`}},
		{"CronJob's Job suspend", "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: x}\nspec: {schedule: '@daily', jobTemplate: {spec: {suspend: true, template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox, lifecycle: {stopSignal: SIGUSR1}}]}}}}}\n", []string{`spec.jobTemplate.spec.suspend, spec.jobTemplate.spec.template.spec.containers[0].lifecycle.stopSignal are not supported by skiff yet`}},
		{"Job suspend", "apiVersion: batch/v1\nkind: Job\nmetadata: {name: x}\nspec: {suspend: true, template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}\n", []string{`spec.suspend is not supported by skiff yet`}},
		{"Kubernetes field skiff lacks", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  affinity: {podAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [{topologyKey: k, matchLabelKeys: [a]}]}}\n  containers: [{name: a, image: b, lifecycle: {stopSignal: SIGUSR1}}]\n", []string{`spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].matchLabelKeys, spec.containers[0].lifecycle.stopSignal are not supported by skiff yet`}},
		{"typo in a Kubernetes manifest", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers: [{name: a, image: b, imagePullPolicyy: Always}]\n", []string{`unknown field "imagePullPolicyy" in spec.containers[0] (did you mean "imagePullPolicy"?)`}},
		{"skiff field in a Kubernetes manifest", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers: [{name: a, image: b}]\n  volumes: [{name: v, volume: {name: v}}]\n", []string{`unknown field "volume" in spec.volumes[0]: a Kubernetes manifest names its claim with persistentVolumeClaim: {claimName: …}`}},
		{"apps/v1 without selector", "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: x}\nspec: {template: {metadata: {labels: {a: b}}, spec: {containers: [{name: a, image: b}]}}}\n", []string{`spec.selector: required in apps/v1`}},
		{"appliedAs", "apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: x, appliedAs: {kind: Pod}}\n", []string{`unknown field "appliedAs" in metadata`}},
		{"hpa on a StatefulSet", "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: x}\nspec: {scaleTargetRef: {apiVersion: apps/v1, kind: StatefulSet, name: d}, maxReplicas: 3}\n", []string{`spec.scaleTargetRef.kind: skiff scales a ReplicaSet or a Deployment; scaling a StatefulSet is not supported by skiff yet`}},
		{"hpa on pods metrics", "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: x}\nspec: {scaleTargetRef: {kind: ReplicaSet, name: d}, maxReplicas: 3, metrics: [{type: Pods, pods: {metric: {name: qps}}}]}\n", []string{`spec.metrics[0].pods is not supported by skiff yet`}},
		{"hpa scaling policies", "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: x}\nspec: {scaleTargetRef: {kind: ReplicaSet, name: d}, maxReplicas: 3, behavior: {scaleDown: {stabilizationWindowSeconds: 60, policies: [{type: Pods, value: 1, periodSeconds: 60}]}}}\n", []string{`spec.behavior.scaleDown.policies is not supported by skiff yet`}},
		{"read-only claim", "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: x}\nspec: {accessModes: [ReadOnlyMany]}\n", []string{`spec.accessModes[0]: ReadOnlyMany is not supported by skiff yet`}},
		{"missing apiVersion", "kind: Pod\nmetadata: {name: x}\n", []string{"apiVersion is missing"}},
		{"wrong type", "apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers: {name: a}\n", []string{"spec.containers: expected a list, got a mapping"}},
		{"not a number", "apiVersion: skiff/v1\nkind: ReplicaSet\nmetadata: {name: x}\nspec: {replicas: three}\n", []string{`spec.replicas: expected a whole number, got "three"`}},
		{"scalar document", "hello\n", []string{"document 1 (line 1): a manifest is a mapping"}},
		{"duplicate key", "apiVersion: skiff/v1\nkind: Pod\nkind: Pod\n", []string{"document 1 (line", "already set"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode("f.yaml", []byte(tc.data))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\n does not contain %q", err, w)
				}
			}
			var de *Error
			if !errors.As(err, &de) {
				t.Errorf("error is not a *manifest.Error: %T", err)
			}
		})
	}
}

func TestMalformedYAMLLineIsAbsolute(t *testing.T) {
	// The bad line is line 3 of document 2, which starts on file line 16.
	data := goodPod + "---\napiVersion: skiff/v1\nkind: Pod\nmetadata: {name: [x}\n"
	_, err := Decode("f.yaml", []byte(data))
	if err == nil || !strings.Contains(err.Error(), "document 2 (line 18)") {
		t.Fatalf("err = %v", err)
	}
}

func TestCheck(t *testing.T) {
	objs, err := Decode("f.yaml", []byte(`apiVersion: skiff/v1
kind: Pod
metadata: {name: Web_1}
spec:
  containers:
  - name: a
    resources: {limits: {memory: 12XB}}
`))
	if err != nil {
		t.Fatal(err)
	}
	err = Check(objs[0])
	for _, w := range []string{`f.yaml: document 1 (Pod "Web_1")`, "metadata.name", "spec.containers[0].image: required", `"12XB" is not a quantity`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Check = %v; want %q", err, w)
		}
	}
	good, _ := Decode("g.yaml", []byte(goodPod))
	if err := Check(good[0]); err != nil {
		t.Errorf("Check(good) = %v", err)
	}
}

func TestDecodeList(t *testing.T) {
	objs, err := Decode("l.yaml", []byte(`apiVersion: skiff/v1
kind: List
items:
- apiVersion: skiff/v1
  kind: Namespace
  metadata: {name: a}
- apiVersion: skiff/v1
  kind: Namespace
  metadata: {name: b}
  status: {phase: Active}
`))
	if err != nil || len(objs) != 2 {
		t.Fatalf("objs=%v err=%v", objs, err)
	}
}

func TestReadDirSortedAndStdin(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"b.yaml":    "apiVersion: skiff/v1\nkind: Namespace\nmetadata: {name: b}\n",
		"a.yml":     "apiVersion: skiff/v1\nkind: Namespace\nmetadata: {name: a}\n",
		"c.json":    `{"apiVersion":"skiff/v1","kind":"Namespace","metadata":{"name":"c"}}`,
		"notes.txt": "not a manifest",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := Read(context.Background(), Sources{Paths: []string{dir, "-"}, Stdin: strings.NewReader("apiVersion: skiff/v1\nkind: Namespace\nmetadata: {name: d}\n")})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		names = append(names, o.Name())
	}
	if got := strings.Join(names, ","); got != "a,b,c,d" {
		t.Errorf("order = %s", got)
	}
	if objs[3].File != "stdin" {
		t.Errorf("stdin file = %q", objs[3].File)
	}
	if _, err := Read(context.Background(), Sources{Paths: []string{filepath.Join(dir, "nope.yaml")}}); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}

// A Kubernetes pod's owner references name the owner's apiVersion; skiff
// derives it from the kind, and prints it back.
func TestKubernetesOwnerReferences(t *testing.T) {
	pod := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: r, uid: u1, controller: true}]\nspec:\n  containers: [{name: a, image: b}]\n"
	objs, err := Decode("p.yaml", []byte(pod))
	if err != nil {
		t.Fatal(err)
	}
	if r := objs[0].Obj.GetMetadata().GetOwnerReferences(); len(r) != 1 || r[0].GetName() != "r" || !r[0].GetController() {
		t.Fatalf("owner references %v", r)
	}
	j, err := Encode(objs[0].Obj)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(j), `"apiVersion":"apps/v1","controller":true,"kind":"ReplicaSet"`) {
		t.Errorf("printed without the owner's apiVersion: %s", j)
	}
	_, err = Decode("p.yaml", []byte(strings.Replace(pod, "apiVersion: apps/v1,", "apiVersion: v1,", 1)))
	if err == nil || !strings.Contains(err.Error(), `metadata.ownerReferences[0].apiVersion: a ReplicaSet here is "apps/v1", not "v1"`) {
		t.Errorf("a wrong owner apiVersion: %v", err)
	}
}

// A Kubernetes Pod's interactive fields reach the object: stdin, stdinOnce
// and tty, as kubectl run -it writes them.
func TestDecodeInteractiveContainer(t *testing.T) {
	objs, err := Decode("pod.yaml", []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers: [{name: a, image: busybox, stdin: true, stdinOnce: true, tty: true}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := objs[0].Obj.(*skiffv1.Pod).Spec.Containers[0]
	if !c.Stdin || !c.StdinOnce || !c.Tty {
		t.Errorf("stdin %v, stdinOnce %v, tty %v: want all true", c.Stdin, c.StdinOnce, c.Tty)
	}
}
