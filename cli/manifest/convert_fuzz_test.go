package manifest

import (
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"
)

// FuzzKubernetesManifest feeds variations of Kubernetes manifests (the
// corpus's, and the kinds skiff converts) to the decoder: it must never
// panic, and what it accepts must print and read back to the same object.
func FuzzKubernetesManifest(f *testing.F) {
	for _, s := range []string{
		kubeClaim, kubeHPA,
		"apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: p}\nspec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce], hostPath: {path: /d}}\n",
		"apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\nspec: {scaleTargetRef: {kind: ReplicaSet, name: r}, maxReplicas: 3, targetCPUUtilizationPercentage: 50}\n",
		"apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80, targetPort: \"080\"}]}\n",
		"apiVersion: v1\nkind: Endpoints\nmetadata: {name: e}\nsubsets: [{addresses: [{ip: 10.0.0.1, nodeName: n, targetRef: {kind: Pod, name: p}}], notReadyAddresses: [{ip: 10.0.0.2}], ports: [{name: a, port: 80, protocol: UDP}]}, {}]\n",
		"apiVersion: v1\nkind: Event\nmetadata: {name: e}\ninvolvedObject: {name: x}\nreason: R\nsource: {component: c, host: h}\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: 2, strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: \"25%\"}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: a, image: b}]}}}\n",
		"apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\nspec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: d}, maxReplicas: 3}\n",
	} {
		f.Add([]byte(s))
	}
	for _, p := range []string{"pods/storage/pv-pod.yaml", "controllers/frontend.yaml", "service/nginx-service.yaml", "pods/qos/qos-pod.yaml"} {
		if data, err := os.ReadFile(filepath.Join(corpusDir, p)); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := Decode("fuzz.yaml", data)
		if err != nil {
			return
		}
		for _, o := range objs {
			j, err := Encode(o.Obj)
			if err != nil {
				t.Fatalf("accepted object does not print: %v", err)
			}
			back, err := Decode("printed", j)
			if err != nil {
				t.Fatalf("printed object does not read back: %v\n%s", err, j)
			}
			if len(back) != 1 || !proto.Equal(back[0].Obj, o.Obj) {
				t.Fatalf("printed object reads back changed:\n%v\n%s", o.Obj, j)
			}
		}
	})
}

const kubeClaim = `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: c
  annotations: {volume.kubernetes.io/selected-node: n1}
spec:
  accessModes: [ReadWriteMany]
  resources: {requests: {storage: 1Gi}}
  storageClassName: manual
  volumeMode: Filesystem
`

const kubeHPA = `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: h}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: ReplicaSet, name: r}
  maxReplicas: 4
  metrics:
  - type: Resource
    resource: {name: memory, target: {type: AverageValue, averageValue: 100Mi}}
  behavior: {scaleUp: {stabilizationWindowSeconds: 30}}
`
