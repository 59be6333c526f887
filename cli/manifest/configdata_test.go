package manifest

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

const kubernetesConfig = `apiVersion: v1
kind: ConfigMap
metadata: {name: game-config}
data:
  game.properties: |
    lives=3
  ui.properties: "color=blue"
binaryData:
  logo.png: iVBORw0K
immutable: false
---
apiVersion: v1
kind: Secret
metadata: {name: db}
type: Opaque
data:
  password: czNjcmV0
stringData:
  user: admin
---
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    image: busybox
    env:
    - name: PASS
      valueFrom:
        secretKeyRef: {name: db, key: password, optional: false}
    envFrom:
    - prefix: GAME_
      configMapRef: {name: game-config}
    volumeMounts:
    - {name: cfg, mountPath: /etc/game}
    - {name: both, mountPath: /etc/both}
    - {name: cfg, mountPath: /etc/ui.properties, subPath: ui.properties}
  volumes:
  - name: cfg
    configMap:
      name: game-config
      defaultMode: 0440
      items: [{key: game.properties, path: game/props, mode: 0400}]
  - name: both
    projected:
      sources:
      - configMap: {name: game-config}
      - secret: {name: db, optional: true}
  - name: sec
    secret: {secretName: db}
`

// Kubernetes' ConfigMap, Secret and the pod fields that use them decode to
// skiff's schema as they are (base64 data, octal modes), and print back
// the same way.
func TestKubernetesConfigMapAndSecret(t *testing.T) {
	objs, err := Decode("config.yaml", []byte(kubernetesConfig))
	if err != nil {
		t.Fatal(err)
	}
	cm := objs[0].Obj.(*skiffv1.ConfigMap)
	if cm.Data["ui.properties"] != "color=blue" || len(cm.BinaryData["logo.png"]) != 6 {
		t.Errorf("configmap = %v", cm)
	}
	sec := objs[1].Obj.(*skiffv1.Secret)
	if string(sec.Data["password"]) != "s3cret" || sec.StringData["user"] != "admin" || sec.Type != "Opaque" {
		t.Errorf("secret = %v", sec)
	}
	pod := objs[2].Obj.(*skiffv1.Pod)
	c := pod.Spec.Containers[0]
	if c.Env[0].GetValueFrom().GetSecretKeyRef().GetKey() != "password" || c.EnvFrom[0].GetPrefix() != "GAME_" {
		t.Errorf("env = %v, envFrom = %v", c.Env, c.EnvFrom)
	}
	v := pod.Spec.Volumes[0].GetConfigMap()
	if v.GetDefaultMode() != 0o440 || v.Items[0].GetMode() != 0o400 || v.Items[0].Path != "game/props" {
		t.Errorf("configMap volume = %v", v)
	}
	if pod.Spec.Volumes[1].GetProjected().GetSources()[1].GetSecret().GetName() != "db" {
		t.Errorf("projected = %v", pod.Spec.Volumes[1])
	}
	for _, o := range objs {
		out, err := Encode(o.Obj)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Decode("again.yaml", out)
		if err != nil {
			t.Fatalf("printed %s does not read back: %v\n%s", o, err, out)
		}
		if !proto.Equal(again[0].Obj, o.Obj) {
			t.Errorf("%s printed and read back differs:\n%s", o, out)
		}
		if o.Obj.GetMetadata().GetName() == "db" && !strings.Contains(string(out), `"apiVersion":"v1","kind":"Secret"`) {
			t.Errorf("secret printed as:\n%s", out)
		}
	}

	_, err = Decode("bad.yaml", []byte(`apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    image: busybox
    env:
    - name: NODE
      valueFrom: {fileKeyRef: {volumeName: v, path: p, key: k}}
`))
	if err == nil || !strings.Contains(err.Error(), "spec.containers[0].env[0].valueFrom.fileKeyRef is not supported by skiff yet") {
		t.Fatalf("fileKeyRef: %v", err)
	}
}
