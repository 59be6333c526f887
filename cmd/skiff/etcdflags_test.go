package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/pki"
)

// The external etcd's TLS flags: a certificate needs its key, files must
// hold what they say, and the pair is used as the client certificate.
func TestEtcdClientFlags(t *testing.T) {
	if cfg, err := (&etcdClientFlags{}).tlsConfig(); cfg != nil || err != nil {
		t.Fatalf("no flags: %v %v", cfg, err)
	}
	dir := t.TempDir()
	ca, err := pki.NewCA("etcd-ca", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := pki.WriteFile(caFile, ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	kp, _ := ca.IssueClient(pki.Identity{Name: "apiserver-etcd-client"}, 0, time.Now())
	certFile, keyFile, err := kp.Write(dir, "client")
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]etcdClientFlags{
		"cert without key": {ca: caFile, cert: certFile},
		"missing CA file":  {ca: filepath.Join(dir, "nope.pem")},
		"CA file not PEM":  {ca: keyFile + ".missing"},
		"key is no cert":   {cert: keyFile, key: keyFile},
	} {
		if _, err := f.tlsConfig(); err == nil || !strings.Contains(err.Error(), "--etcd-") {
			t.Errorf("%s: %v, want an error naming the flag", name, err)
		}
	}
	cfg, err := (&etcdClientFlags{ca: caFile, cert: certFile, key: keyFile}).tlsConfig()
	if err != nil || cfg.RootCAs == nil || len(cfg.Certificates) != 1 {
		t.Fatalf("all three: %+v %v", cfg, err)
	}
}
