package apiserver_test

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/apiserver/audit"
	"github.com/skiff-sh/skiff/apiserver/secretbox"
	"github.com/skiff-sh/skiff/apiserver/storage"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func boolp(b bool) *bool { return &b }

func cloneCM(c *skiffv1.ConfigMap) *skiffv1.ConfigMap {
	return proto.Clone(c).(*skiffv1.ConfigMap)
}

// A ConfigMap and a Secret through the API: stringData lands in data and is
// never stored, immutable objects refuse new data, and bad keys or data
// over 1 MiB are refused with the field named while nothing changes.
func TestConfigMapsAndSecrets(t *testing.T) {
	srv := apitest.Start(t)
	ctx := ctxT(t)
	c := srv.Client

	cm, err := c.ConfigMaps().Create(ctx, &skiffv1.ConfigMap{
		Metadata: &skiffv1.ObjectMeta{Name: "app.config"},
		Data:     map[string]string{"greeting": "hello", ".hidden": "x"},
	})
	if err != nil {
		t.Fatal(err)
	}
	sec, err := c.Secrets().Create(ctx, &skiffv1.Secret{
		Metadata:   &skiffv1.ObjectMeta{Name: "db"},
		Data:       map[string][]byte{"user": []byte("admin")},
		StringData: map[string]string{"password": "hunter2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if sec.GetType() != "Opaque" || string(sec.Data["password"]) != "hunter2" || len(sec.StringData) != 0 {
		t.Fatalf("secret as created: type %q data %q stringData %q", sec.GetType(), sec.Data, sec.StringData)
	}

	for _, tc := range []struct {
		name string
		obj  skiffv1.Resource
		want string
	}{
		{"bad key", &skiffv1.ConfigMap{Metadata: &skiffv1.ObjectMeta{Name: "bad"}, Data: map[string]string{"a/b": "x"}}, `data[a/b]: "a/b" is not a valid key`},
		{"dot-dot key", &skiffv1.Secret{Metadata: &skiffv1.ObjectMeta{Name: "bad"}, StringData: map[string]string{"..": "x"}}, `data[..]: ".." is not a valid key`},
		{"too big", &skiffv1.ConfigMap{Metadata: &skiffv1.ObjectMeta{Name: "bad"}, BinaryData: map[string][]byte{"blob": bytes.Repeat([]byte{1}, 1<<20)}}, "data: the data is 1048580 bytes; the limit is 1048576 (1 MiB)"},
		{"tls without key", &skiffv1.Secret{Metadata: &skiffv1.ObjectMeta{Name: "bad"}, Type: "kubernetes.io/tls", StringData: map[string]string{"tls.crt": "c"}}, "data[tls.key]: required for a Secret of type kubernetes.io/tls"},
	} {
		_, err := c.API().Create(ctx, &skiffv1.CreateRequest{Object: skiffv1.Wrap(tc.obj)})
		wantCode(t, err, codes.InvalidArgument, tc.want)
	}
	if n, _, _ := srv.Client.ConfigMaps().List(ctx, client.ListOptions{}); len(n) != 1 {
		t.Fatalf("%d ConfigMaps after refused creates, want 1", len(n))
	}
	if _, err := c.Secrets().Get(ctx, "default", "bad"); !client.IsNotFound(err) {
		t.Fatalf("refused Secret exists: %v", err)
	}

	// A refused update changes nothing.
	bad := cloneCM(cm)
	bad.Data["no/slash"] = "x"
	_, err = c.ConfigMaps().Update(ctx, bad)
	wantCode(t, err, codes.InvalidArgument, "data[no/slash]")
	big := cloneCM(cm)
	big.Data["big"] = strings.Repeat("x", 1<<20)
	_, err = c.ConfigMaps().Update(ctx, big)
	wantCode(t, err, codes.InvalidArgument, "the limit is 1048576")
	if got, _ := c.ConfigMaps().Get(ctx, "default", "app.config"); len(got.Data) != 2 || got.GetMetadata().GetResourceVersion() != cm.GetMetadata().GetResourceVersion() {
		t.Fatalf("after refused updates: %v", got)
	}

	// Immutable: data and immutable itself are fixed.
	cm.Immutable = boolp(true)
	if cm, err = c.ConfigMaps().Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	changed := cloneCM(cm)
	changed.Data["greeting"] = "bye"
	_, err = c.ConfigMaps().Update(ctx, changed)
	wantCode(t, err, codes.InvalidArgument, "data: the object is immutable")
	unset := cloneCM(cm)
	unset.Immutable = boolp(false)
	_, err = c.ConfigMaps().Update(ctx, unset)
	wantCode(t, err, codes.InvalidArgument, "immutable: cannot be unset")
}

// Secrets are encrypted in etcd: the raw value read from etcd holds no
// plaintext, starts with the key id, and the key file is 0600 beside the
// CA. Rotating adds a key; re-encryption moves every Secret to it and old
// ones still open.
func TestSecretsEncryptedAtRest(t *testing.T) {
	srv := apitest.Start(t)
	ctx := ctxT(t)
	plain := "correct-horse-battery-staple"
	if _, err := srv.Client.Secrets().Create(ctx, &skiffv1.Secret{
		Metadata:   &skiffv1.ObjectMeta{Name: "db"},
		StringData: map[string]string{"password": plain},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client.ConfigMaps().Create(ctx, &skiffv1.ConfigMap{
		Metadata: &skiffv1.ObjectMeta{Name: "plain"}, Data: map[string]string{"k": plain},
	}); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(srv.DataDir, "pki", "secret-encryption-keys")
	if st, err := os.Stat(keyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file %s: %v (mode %v); want mode 0600", keyFile, err, st.Mode())
	}
	etcd, err := clientv3.New(clientv3.Config{Endpoints: srv.EtcdEndpoints, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { etcd.Close() })
	raw := func(key string) []byte {
		t.Helper()
		resp, err := etcd.Get(ctx, key)
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("etcd get %s: %v, %d values", key, err, len(resp.Kvs))
		}
		return resp.Kvs[0].Value
	}
	secretKey := "/skiff/secrets/default/db"
	v := raw(secretKey)
	if bytes.Contains(v, []byte(plain)) || bytes.Contains(v, []byte("password")) {
		t.Fatalf("raw etcd value of the Secret holds its plaintext: %q", v)
	}
	if !bytes.HasPrefix(v, []byte("skiff:enc:aesgcm:v1:key1:")) {
		t.Fatalf("raw etcd value %.40q… does not start with the key id", v)
	}
	// ConfigMaps are not secrets: stored as they are.
	if !bytes.Contains(raw("/skiff/configmaps/default/plain"), []byte(plain)) {
		t.Fatal("ConfigMap value not found in etcd as written")
	}

	// Rotation, as `skiff server --rotate-secret-key` does at start.
	keys, err := secretbox.Rotate(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	store := storage.New(etcd, storage.Options{Sealer: keys})
	if n, err := store.ReencryptSecrets(ctx); err != nil || n != 1 {
		t.Fatalf("re-encrypted %d Secrets (%v), want 1", n, err)
	}
	if v := raw(secretKey); !bytes.HasPrefix(v, []byte("skiff:enc:aesgcm:v1:key2:")) || bytes.Contains(v, []byte(plain)) {
		t.Fatalf("after rotation the raw value is %.40q…", v)
	}
	got, err := store.Get(ctx, skiffv1.Kind_KIND_SECRET, "default", "db")
	if err != nil || string(got.(*skiffv1.Secret).Data["password"]) != plain {
		t.Fatalf("Secret after rotation: %v, %v", got, err)
	}
	if n, err := store.ReencryptSecrets(ctx); err != nil || n != 0 {
		t.Fatalf("second pass re-encrypted %d (%v), want 0", n, err)
	}
}

// A node reads a ConfigMap or Secret only while a pod bound to it uses
// it, and never lists or watches them.
func TestNodeReadsOnlyItsPodsConfig(t *testing.T) {
	srv := apitest.StartSecure(t)
	ctx := ctxT(t)
	admin := srv.Client
	n1 := srv.ClientAs(t, pki.NodeIdentity("n1"))
	for _, n := range []string{"n1", "n2"} {
		if _, err := admin.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: n}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"mine", "theirs", "env-cm", "unused"} {
		if _, err := admin.ConfigMaps().Create(ctx, &skiffv1.ConfigMap{Metadata: &skiffv1.ObjectMeta{Name: name}}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Secrets().Create(ctx, &skiffv1.Secret{Metadata: &skiffv1.ObjectMeta{Name: name}}); err != nil {
			t.Fatal(err)
		}
	}
	for node, uses := range map[string]string{"n1": "mine", "n2": "theirs"} {
		p := pod("web-" + node)
		p.Spec.NodeName = node
		p.Spec.Volumes = []*skiffv1.PodVolume{
			{Name: "cfg", ConfigMap: &skiffv1.ConfigMapVolumeSource{Name: uses}},
			{Name: "sec", Projected: &skiffv1.ProjectedVolumeSource{Sources: []*skiffv1.VolumeProjection{{Secret: &skiffv1.SecretProjection{Name: uses}}}}},
		}
		if node == "n1" {
			p.Spec.Containers[0].Env = []*skiffv1.EnvVar{{Name: "A", ValueFrom: &skiffv1.EnvVarSource{ConfigMapKeyRef: &skiffv1.KeySelector{Name: "env-cm", Key: "a"}}}}
			p.Spec.Containers[0].EnvFrom = []*skiffv1.EnvFromSource{{SecretRef: &skiffv1.ObjectRef{Name: "env-cm"}}}
		}
		if _, err := admin.Pods().Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"mine", "env-cm"} {
		if _, err := n1.ConfigMaps().Get(ctx, "default", name); err != nil {
			t.Errorf("n1 reads ConfigMap %s its pod uses: %v", name, err)
		}
		if _, err := n1.Secrets().Get(ctx, "default", name); err != nil {
			t.Errorf("n1 reads Secret %s its pod uses: %v", name, err)
		}
	}
	for _, name := range []string{"theirs", "unused"} {
		_, err := n1.ConfigMaps().Get(ctx, "default", name)
		wantCode(t, err, codes.PermissionDenied, "no pod bound to node n1 uses it")
		_, err = n1.Secrets().Get(ctx, "default", name)
		wantCode(t, err, codes.PermissionDenied, "no pod bound to node n1 uses it")
	}
	_, _, err := n1.Secrets().List(ctx, client.ListOptions{})
	wantCode(t, err, codes.PermissionDenied, "")
	_, _, err = n1.ConfigMaps().List(ctx, client.ListOptions{})
	wantCode(t, err, codes.PermissionDenied, "")
	// Once the pod is gone, so is the node's access.
	if _, _, err := admin.Pods().Delete(ctx, "default", "web-n1", client.DeleteOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	_, err = n1.Secrets().Get(ctx, "default", "mine")
	wantCode(t, err, codes.PermissionDenied, "")
}

// The audit log records changes to Secrets (who, which, the outcome) but
// never their values, also when a change is refused.
func TestAuditNeverHoldsSecretValues(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "audit.log")
	log, err := audit.Open(audit.Options{Path: logPath})
	if err != nil {
		t.Fatal(err)
	}
	rec := &audit.Interceptor{Log: log}
	srv := apitest.Start(t, func(c *apiserver.Config) {
		c.GRPCOptions = append(c.GRPCOptions, grpc.ChainUnaryInterceptor(rec.Unary))
	})
	ctx := ctxT(t)
	plain := "audit-must-not-see-this"
	sec, err := srv.Client.Secrets().Create(ctx, &skiffv1.Secret{
		Metadata: &skiffv1.ObjectMeta{Name: "db"}, StringData: map[string]string{"password": plain},
	})
	if err != nil {
		t.Fatal(err)
	}
	sec.StringData = map[string]string{"bad/key": plain}
	_, err = srv.Client.Secrets().Update(ctx, sec)
	wantCode(t, err, codes.InvalidArgument, "bad/key")
	if strings.Contains(err.Error(), plain) {
		t.Fatalf("the refusal quotes the value: %v", err)
	}
	if _, _, err := srv.Client.Secrets().Delete(ctx, "default", "db", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), `"kind":"secrets"`); n < 3 {
		t.Fatalf("%d audit entries about secrets, want create, update and delete:\n%s", n, data)
	}
	b64 := base64.StdEncoding.EncodeToString([]byte(plain))
	if strings.Contains(string(data), plain) || strings.Contains(string(data), b64[:16]) {
		t.Fatalf("the audit log holds a Secret's value:\n%s", data)
	}
}
