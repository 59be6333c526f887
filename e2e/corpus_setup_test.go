package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// corpusSetup is what the documentation has its reader do before applying
// a file: apply other files of the corpus first, or create objects with
// kubectl (written here as the manifests those commands make).
var corpusSetup = map[string]struct {
	files   []string
	objects string
}{
	"pods/pod-configmap-envFrom.yaml":                 {files: []string{"configmap/configmaps.yaml"}},
	"pods/pod-configmap-volume.yaml":                  {files: []string{"configmap/configmaps.yaml"}},
	"pods/pod-single-configmap-env-variable.yaml":     {files: []string{"configmap/configmaps.yaml"}},
	"pods/inject/secret-pod.yaml":                     {files: []string{"pods/inject/secret.yaml"}},
	"pods/inject/secret-envars-pod.yaml":              {files: []string{"pods/inject/secret.yaml"}},
	"pods/inject/pod-secret-envFrom.yaml":             {files: []string{"pods/inject/secret.yaml"}},
	"pods/config/redis-pod.yaml":                      {files: []string{"pods/config/example-redis-config.yaml"}},
	"pods/storage/pv-pod.yaml":                        {files: []string{"pods/storage/pv-volume.yaml", "pods/storage/pv-claim.yaml"}},
	"application/mysql/mysql-deployment.yaml":         {files: []string{"application/mysql/mysql-pv.yaml"}},
	"application/wordpress/mysql-deployment.yaml":     {objects: mysqlPassSecret},
	"application/wordpress/wordpress-deployment.yaml": {objects: mysqlPassSecret},
	// kubectl create secret generic backend-user --from-literal=backend-username='backend-admin'
	"pods/inject/pod-single-secret-env-variable.yaml": {objects: `apiVersion: v1
kind: Secret
metadata:
  name: backend-user
stringData:
  backend-username: backend-admin
`},
	// kubectl create configmap myconfigmap --from-literal=username=k8s-admin --from-literal=access_level=1
	"configmap/env-configmap.yaml": {objects: `apiVersion: v1
kind: ConfigMap
metadata:
  name: myconfigmap
data:
  username: k8s-admin
  access_level: "1"
`},
	// The ConfigMap the same documentation page shows beside the pod.
	"configmap/configure-pod.yaml": {objects: `apiVersion: v1
kind: ConfigMap
metadata:
  name: game-demo
data:
  player_initial_lives: "3"
  ui_properties_file_name: "user-interface.properties"
  game.properties: |
    enemy.types=aliens,monsters
    player.maximum-lives=5
  user-interface.properties: |
    color.good=purple
    color.bad=yellow
    allow.textmode=true
`},
	// The service's page makes its TLS secret with openssl and kubectl.
	"service/networking/curlpod.yaml": {objects: `apiVersion: v1
kind: Secret
metadata:
  name: nginxsecret
type: kubernetes.io/tls
stringData:
  tls.crt: "stand-in certificate"
  tls.key: "stand-in key"
`},
}

// The wordpress tutorial's kustomization generates this secret.
const mysqlPassSecret = `apiVersion: v1
kind: Secret
metadata:
  name: mysql-pass
stringData:
  password: stand-in-password
`

// setupCorpusFile does, in namespace ns, what the documentation does
// before file is applied.
func setupCorpusFile(t *testing.T, c *upCluster, ns, file string) {
	t.Helper()
	setup := corpusSetup[file]
	parsedFiles := make([][]map[string]any, len(setup.files))
	var claims []string
	for i, f := range setup.files {
		data, err := os.ReadFile(filepath.Join(corpusDir, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, raw := range splitYAML(data) {
			obj := map[string]any{}
			if err := yaml.Unmarshal(raw, &obj); err != nil || len(obj) == 0 {
				continue
			}
			parsedFiles[i] = append(parsedFiles[i], obj)
			if obj["kind"] == "PersistentVolumeClaim" {
				md, _ := obj["metadata"].(map[string]any)
				name, _ := md["name"].(string)
				claims = append(claims, name)
			}
		}
	}
	for i, f := range setup.files {
		parsed := parsedFiles[i]
		// Into the file's namespace, whichever the setup file names.
		var objs []string
		for _, obj := range parsed {
			if md, ok := obj["metadata"].(map[string]any); ok {
				delete(md, "namespace")
			}
			// The documentation's reader has one namespace, so the claim
			// beside a PersistentVolume gets it. Here every file has its
			// own and a PersistentVolume is cluster-wide: it is reserved
			// for the claim of this file's namespace (claimRef), or a
			// claim of the same class in another file's could take it.
			if spec, ok := obj["spec"].(map[string]any); ok && obj["kind"] == "PersistentVolume" && spec["claimRef"] == nil && len(claims) == 1 {
				spec["claimRef"] = map[string]any{"namespace": ns, "name": claims[0]}
			}
			b, err := yaml.Marshal(obj)
			if err != nil {
				t.Fatal(err)
			}
			objs = append(objs, string(b))
		}
		if out, err := c.SkiffIn(strings.Join(objs, "---\n"), "apply", "-n", ns, "-f", "-"); err != nil {
			t.Logf("setup of %s: apply %s: %v %s", file, f, err, out)
		}
	}
	if setup.objects != "" {
		if out, err := c.SkiffIn(setup.objects, "apply", "-n", ns, "-f", "-"); err != nil {
			t.Errorf("setup of %s: %v %s", file, err, out)
		}
	}
}
