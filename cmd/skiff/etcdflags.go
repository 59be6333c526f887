package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// etcdClientFlags are the TLS files for reaching an etcd, named as
// kube-apiserver and k3s name them.
type etcdClientFlags struct {
	ca, cert, key string
}

func (f *etcdClientFlags) register(cmd *cobra.Command, legacyNames bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.ca, "etcd-cafile", "", "CA certificate (PEM) that signed etcd's serving certificate")
	fl.StringVar(&f.cert, "etcd-certfile", "", "client certificate (PEM) for etcd")
	fl.StringVar(&f.key, "etcd-keyfile", "", "client key (PEM) for etcd")
	if legacyNames {
		// skiff server's names before it took kube-apiserver's.
		fl.StringVar(&f.ca, "etcd-ca", "", "")
		fl.StringVar(&f.cert, "etcd-cert", "", "")
		fl.StringVar(&f.key, "etcd-key", "", "")
		for _, old := range []string{"etcd-ca", "etcd-cert", "etcd-key"} {
			_ = fl.MarkDeprecated(old, "use --"+old+"file")
		}
	}
}

// tlsConfig is the client TLS the flags describe; nil when none is given
// (plain HTTP, or https with the system's roots and no certificate).
func (f *etcdClientFlags) tlsConfig() (*tls.Config, error) {
	if f.ca == "" && f.cert == "" && f.key == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.ca != "" {
		pem, err := os.ReadFile(f.ca)
		if err != nil {
			return nil, fmt.Errorf("--etcd-cafile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--etcd-cafile %s: no PEM certificate in it", f.ca)
		}
		cfg.RootCAs = pool
	}
	if (f.cert == "") != (f.key == "") {
		return nil, fmt.Errorf("--etcd-certfile and --etcd-keyfile go together")
	}
	if f.cert != "" {
		pair, err := tls.LoadX509KeyPair(f.cert, f.key)
		if err != nil {
			return nil, fmt.Errorf("--etcd-certfile/--etcd-keyfile: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}
