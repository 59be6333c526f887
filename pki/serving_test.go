package pki

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"
)

// TestAgentEndpointMutualTLS: an agent serves with a certificate from
// SignServingCSR and requires a client certificate; the API server dials
// it expecting node:n1. Dialling expecting node:n2 fails.
func TestAgentEndpointMutualTLS(t *testing.T) {
	ca := testCA(t)
	now := time.Now()
	csr, key, err := NewCSR(NodeIdentity("n1"))
	if err != nil {
		t.Fatal(err)
	}
	chain, err := ca.SignServingCSR(csr, "n1", []net.IP{net.ParseIP("127.0.0.1")}, nil, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	serving, err := key.WithSignedChain(chain)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := tls.Listen("tcp", "127.0.0.1:0", ServerTLS(ca.Cert, NewCertHolder(serving), ClientCertRequired))
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			c.(*tls.Conn).Handshake()
			c.Write([]byte("x"))
			c.Close()
		}
	}()
	apiserver, err := ca.IssueClient(Identity{Name: APIServer}, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	dial := func(cfg *tls.Config) error {
		d := tls.Dialer{Config: cfg}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := d.DialContext(ctx, "tcp", lis.Addr().String())
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Read(make([]byte, 1)) // TLS 1.3: a refused client cert shows here
		return err
	}
	base := ClientTLS(ca.Cert, NewCertHolder(apiserver), "")
	if err := dial(ExpectPeer(base, "node:n1")); err != nil {
		t.Fatalf("API server → node n1: %v", err)
	}
	if err := dial(ExpectPeer(base, "node:n2")); err == nil || !strings.Contains(err.Error(), `want "node:n2"`) {
		t.Fatalf("expecting n2 at n1's endpoint: %v", err)
	}
	if err := dial(ClientTLS(ca.Cert, nil, "")); err == nil {
		t.Fatal("agent endpoint accepted a client without a certificate")
	}
}
