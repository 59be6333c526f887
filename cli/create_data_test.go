package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/skiff-sh/skiff/nodeagent/image"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// kubectl create configmap's sources, each into its keys: literals, a
// file under its name or a key of its own, a directory's files, an env
// file; bytes that are not UTF-8 go to binaryData.
func TestCreateConfigMapFromSources(t *testing.T) {
	r := newRunner(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"index.html":    "<h1>hi</h1>\n",
		"conf/a.conf":   "a=1\n",
		"conf/b.conf":   "b=2\n",
		"app.env":       "\uFEFF# settings\nMODE=prod\n\n  LEVEL=\"debug\"\nFROM_ENV\n",
		"logo.bin":      "\xff\xfe\x00\x01",
		"renamed.txt":   "x",
		"conf/sub/skip": "not a regular file of conf/",
	})
	t.Setenv("FROM_ENV", "inherited")
	out := r.ok("create", "configmap", "site", "-n", "default",
		"--from-literal=greeting=hello=world", "--from-file="+filepath.Join(dir, "index.html"),
		"--from-file=other.txt="+filepath.Join(dir, "renamed.txt"), "--from-file="+filepath.Join(dir, "conf"),
		"--from-env-file="+filepath.Join(dir, "app.env"), "--from-file="+filepath.Join(dir, "logo.bin"))
	if out != "configmap/site created\n" {
		t.Fatalf("output %q", out)
	}
	cm, err := r.srv.Client.ConfigMaps().Get(context.Background(), "default", "site")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"greeting": "hello=world", "index.html": "<h1>hi</h1>\n", "other.txt": "x",
		"a.conf": "a=1\n", "b.conf": "b=2\n", "MODE": "prod", "LEVEL": `"debug"`, "FROM_ENV": "inherited"}
	if len(cm.GetData()) != len(want) {
		t.Errorf("data %v, want %v", cm.GetData(), want)
	}
	for k, v := range want {
		if cm.GetData()[k] != v {
			t.Errorf("data[%s] = %q, want %q", k, cm.GetData()[k], v)
		}
	}
	if got := string(cm.GetBinaryData()["logo.bin"]); got != "\xff\xfe\x00\x01" {
		t.Errorf("binaryData[logo.bin] = %q", got)
	}

	// Mistakes name the flag and create nothing.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--from-literal=novalue"}, "--from-literal=novalue: give KEY=VALUE"},
		{[]string{"--from-literal=k=1", "--from-literal=k=2"}, `key "k" is given twice`},
		{[]string{"--from-file=" + filepath.Join(dir, "missing")}, "--from-file=" + filepath.Join(dir, "missing")},
		{[]string{"--from-file=k=" + filepath.Join(dir, "conf")}, "a directory gives each file its own key"},
		{[]string{"--from-literal=k=v", "--dry-run=server"}, `--dry-run=server: use "client"`},
	} {
		res := r.run(append([]string{"create", "configmap", "bad"}, tc.args...)...)
		if res.e == nil || !strings.Contains(res.e.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, res.e, tc.want)
		}
	}
	if _, err := r.srv.Client.ConfigMaps().Get(context.Background(), "default", "bad"); err == nil {
		t.Error("a failed create stored the ConfigMap")
	}
	// A name the server refuses is the server's error.
	if res := r.run("create", "configmap", "Bad_Name", "--from-literal=k=v"); res.e == nil {
		t.Error("an invalid name was accepted")
	}
}

// --dry-run=client -o yaml prints a manifest to keep, and stores nothing.
func TestCreateDryRunPrintsManifest(t *testing.T) {
	r := newRunner(t)
	out := r.ok("create", "cm", "env", "--from-literal=MODE=prod", "--dry-run=client", "-o", "yaml")
	for _, want := range []string{"apiVersion: v1\n", "kind: ConfigMap\n", "  name: env\n", "  MODE: prod\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry-run yaml lacks %q:\n%s", want, out)
		}
	}
	if _, err := r.srv.Client.ConfigMaps().Get(context.Background(), "default", "env"); err == nil {
		t.Error("--dry-run=client stored the ConfigMap")
	}
	// ... and that manifest applies.
	if res := r.runIn(strings.NewReader(out), "apply", "-f", "-"); res.e != nil || res.out != "configmap/env created\n" {
		t.Errorf("apply of the dry run's yaml: %v %q", res.e, res.out)
	}
	if cm, err := r.srv.Client.ConfigMaps().Get(context.Background(), "default", "env"); err != nil || cm.GetData()["MODE"] != "prod" {
		t.Errorf("applied ConfigMap %v (%v)", cm, err)
	}
	if out := r.ok("create", "secret", "generic", "db", "--from-literal=password=s3cret", "--dry-run"); out != "secret/db created (dry run)\n" {
		t.Errorf("bare --dry-run: %q", out)
	}
}

func TestCreateSecrets(t *testing.T) {
	r := newRunner(t)
	if out := r.ok("create", "secret", "generic", "db", "--from-literal=user=app", "--from-literal=password=s3cret", "-o", "name"); out != "secret/db\n" {
		t.Fatalf("output %q", out)
	}
	s, err := r.srv.Client.Secrets().Get(context.Background(), "default", "db")
	if err != nil || s.GetType() != "Opaque" || string(s.GetData()["password"]) != "s3cret" || string(s.GetData()["user"]) != "app" {
		t.Fatalf("stored secret %v (%v)", s, err)
	}

	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	_, otherKey := selfSigned(t)
	writeFiles(t, dir, map[string]string{"tls.crt": certPEM, "tls.key": keyPEM, "other.key": otherKey})
	r.ok("create", "secret", "tls", "web-tls", "--cert="+filepath.Join(dir, "tls.crt"), "--key="+filepath.Join(dir, "tls.key"))
	s, err = r.srv.Client.Secrets().Get(context.Background(), "default", "web-tls")
	if err != nil || s.GetType() != "kubernetes.io/tls" || string(s.GetData()["tls.crt"]) != certPEM || string(s.GetData()["tls.key"]) != keyPEM {
		t.Fatalf("stored tls secret %v (%v)", s, err)
	}
	res := r.run("create", "secret", "tls", "mismatch", "--cert="+filepath.Join(dir, "tls.crt"), "--key="+filepath.Join(dir, "other.key"))
	if res.e == nil || !strings.Contains(res.e.Error(), "private key does not match public key") {
		t.Errorf("a key of another certificate: %v", res.e)
	}
	if res := r.run("create", "secret", "tls", "nokey", "--cert="+filepath.Join(dir, "tls.crt")); res.e == nil || !strings.Contains(res.e.Error(), "give both --cert and --key") {
		t.Errorf("no --key: %v", res.e)
	}
}

func selfSigned(t *testing.T) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "web"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

// A docker-registry secret holds a docker config the node agent's pull
// credentials read: made from a user and password, or from a file.
func TestCreateDockerRegistrySecret(t *testing.T) {
	r := newRunner(t)
	ctx := context.Background()
	r.ok("create", "secret", "docker-registry", "regcred", "--docker-server=registry.example:5000", "--docker-username=ci", "--docker-password=s3cret", "--docker-email=ci@example.org")
	s, err := r.srv.Client.Secrets().Get(ctx, "default", "regcred")
	if err != nil || s.GetType() != "kubernetes.io/dockerconfigjson" {
		t.Fatalf("stored secret %v (%v)", s, err)
	}
	var creds image.Credentials
	if err := creds.AddDockerConfig(s.GetData()[".dockerconfigjson"], false); err != nil {
		t.Fatalf("the node agent cannot read the config: %v", err)
	}
	reg, err := name.NewRegistry("registry.example:5000")
	if err != nil {
		t.Fatal(err)
	}
	auth, err := creds.Resolve(reg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := auth.Authorization(); err != nil || cfg.Username != "ci" || cfg.Password != "s3cret" {
		t.Errorf("credentials for registry.example:5000: %+v, %v", cfg, err)
	}

	dir := t.TempDir()
	config := `{"auths": {"ghcr.io": {"auth": "dXNlcjpwYXNz"}}}`
	writeFiles(t, dir, map[string]string{"config.json": config, "bad.json": `{"credsStore": "desktop"}`})
	got := r.ok("create", "secret", "docker-registry", "fromfile", "--from-file=.dockerconfigjson="+filepath.Join(dir, "config.json"), "--dry-run=client", "-o", "yaml")
	if !strings.Contains(got, "type: kubernetes.io/dockerconfigjson") || !strings.Contains(got, ".dockerconfigjson: ") {
		t.Errorf("dry run:\n%s", got)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--docker-password=x"}, "--docker-username is required"},
		{[]string{"--docker-username=x"}, "--docker-password is required"},
		{[]string{"--from-file=" + filepath.Join(dir, "bad.json")}, `not a docker config with "auths" entries`},
		{[]string{"--from-file=config=" + filepath.Join(dir, "config.json")}, "the key must be .dockerconfigjson"},
		{[]string{"--from-file=" + filepath.Join(dir, "config.json"), "--docker-username=x"}, "not both"},
	} {
		args := append([]string{"create", "secret", "docker-registry", "bad"}, c.args...)
		if res := r.run(args...); res.e == nil || !strings.Contains(res.err, c.want) {
			t.Errorf("%v: %+v, want %q", c.args, res, c.want)
		}
	}
	if _, err := r.srv.Client.Secrets().Get(ctx, "default", "bad"); err == nil {
		t.Error("a refused docker-registry secret was stored")
	}
}
