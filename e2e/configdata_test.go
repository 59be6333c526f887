package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const configApp = `apiVersion: v1
kind: ConfigMap
metadata: {name: app}
data: {greeting: hello}
---
apiVersion: v1
kind: Secret
metadata: {name: db}
stringData: {password: e2e-s3cret}
---
apiVersion: v1
kind: Pod
metadata: {name: configured}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: 127.0.0.1:5000/demo:latest
    command: [sh, -c, "sleep 1000"]
    env:
    - name: GREETING
      valueFrom: {configMapKeyRef: {name: app, key: greeting}}
    envFrom:
    - {prefix: DB_, secretRef: {name: db}}
    volumeMounts:
    - {name: cfg, mountPath: /etc/app}
    - {name: sec, mountPath: /etc/db}
  volumes:
  - {name: cfg, configMap: {name: app}}
  - {name: sec, secret: {secretName: db, defaultMode: 0400}}
`

// ConfigMaps and Secrets on a real `skiff up` (TLS, the agent as a node
// identity under node restriction): env and files in the container, the
// Secret volume on tmpfs, an update of the ConfigMap reaching the file but
// not the env, describe showing sizes only, and a key rotation at restart
// that keeps the Secret readable.
func TestConfigMapAndSecretEndToEnd(t *testing.T) {
	t.Parallel()
	c := newUpCluster(t)
	if out, err := c.SkiffIn(configApp, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	eventually(t, "configured running", func() error {
		out, err := c.Skiff("get", "pod", "configured")
		if err != nil || !strings.Contains(out, "Running") {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	out, err := c.Skiff("exec", "configured", "--", "sh", "-c", `echo "$GREETING $DB_password $(cat /etc/app/greeting) $(cat /etc/db/password)"; grep " /etc/db " /proc/mounts`)
	if err != nil || !strings.Contains(out, "hello e2e-s3cret hello e2e-s3cret") || !strings.Contains(out, "/etc/db tmpfs ro,") {
		t.Fatalf("in the container: %v\n%s", err, out)
	}
	// skiff cp both ways: the ConfigMap's volume (files behind the
	// atomic writer's links) out, a directory in.
	out1 := filepath.Join(t.TempDir(), "app-copy")
	if out, err := c.Skiff("cp", "configured:/etc/app", out1); err != nil {
		t.Fatalf("cp out: %v\n%s", err, out)
	}
	if got, err := os.ReadFile(filepath.Join(out1, "greeting")); err != nil || string(got) != "hello" {
		t.Fatalf("cp out: greeting %q %v", got, err)
	}
	site := filepath.Join(t.TempDir(), "site")
	if err := os.MkdirAll(filepath.Join(site, "css"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(site, "css", "a.css"), []byte("body{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := c.Skiff("cp", site, "configured:/tmp/copied"); err != nil {
		t.Fatalf("cp in: %v\n%s", err, out)
	}
	if out, err := c.Skiff("exec", "configured", "--", "cat", "/tmp/copied/css/a.css"); err != nil || out != "body{}" {
		t.Fatalf("cp in: %v %q", err, out)
	}
	if out, err := c.SkiffIn(strings.Replace(configApp, "greeting: hello", "greeting: bye", 1), "apply", "-f", "-"); err != nil || !strings.Contains(out, "configmap/app configured") {
		t.Fatalf("apply the update: %v\n%s", err, out)
	}
	eventually(t, "the mounted file follows the ConfigMap", func() error {
		out, err := c.Skiff("exec", "configured", "--", "sh", "-c", `echo "$GREETING $(cat /etc/app/greeting)"`)
		if err != nil || strings.TrimSpace(out) != "hello bye" {
			return fmt.Errorf("%v: %q", err, out)
		}
		return nil
	})
	if out, err := c.Skiff("describe", "secret", "db"); err != nil || strings.Contains(out, "e2e-s3cret") || !strings.Contains(out, "10 bytes") {
		t.Fatalf("describe secret: %v\n%s", err, out)
	}

	c.Stop()
	c.args = append(c.args, "--rotate-secret-key")
	c.Start()
	keys, err := os.ReadFile(filepath.Join(c.dataDir, "pki", "secret-encryption-keys"))
	if err != nil || !strings.Contains(string(keys), "\nkey1 ") || !strings.Contains(string(keys), "\nkey2 ") {
		t.Fatalf("key file after rotation: %v\n%s", err, keys)
	}
	if out, err := c.Skiff("get", "secret", "db", "-o", "yaml"); err != nil || !strings.Contains(out, "password: ZTJlLXMzY3JldA==") {
		t.Fatalf("Secret after rotation: %v\n%s", err, out)
	}
	if out, err := c.Skiff("delete", "pod", "configured", "--wait"); err != nil {
		t.Fatalf("delete: %v %s", err, out)
	}
}
