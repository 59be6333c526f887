package pki

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serveTLS answers HTTPS on loopback with the given serving pair.
func serveTLS(t *testing.T, ca *CA, kp *KeyPair, policy ClientCertPolicy, handler http.HandlerFunc) string {
	t.Helper()
	lis, err := tls.Listen("tcp", "127.0.0.1:0", ServerTLS(ca.Cert, NewCertHolder(kp), policy))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(lis)
	t.Cleanup(func() { srv.Close() })
	return lis.Addr().String()
}

func nodeServing(t *testing.T, ca *CA, node string) *KeyPair {
	t.Helper()
	csr, key, err := NewCSR(NodeIdentity(node))
	if err != nil {
		t.Fatal(err)
	}
	chain, err := ca.SignServingCSR(csr, node, []net.IP{net.ParseIP("127.0.0.1")}, nil, 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	kp, err := key.WithSignedChain(chain)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// A client of the API server accepts the control plane's certificate and
// refuses a node's serving certificate for the same address, from the
// same CA: a compromised node cannot pose as the API server.
func TestClientTLSPinsTheAPIServer(t *testing.T) {
	ca := testCA(t)
	apiserver, err := ca.IssueServer(ServerSpec{CommonName: APIServer, IPs: []net.IP{net.ParseIP("127.0.0.1")}, URIs: []string{APIServerURI}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ok := func(w http.ResponseWriter, _ *http.Request) {}
	real := serveTLS(t, ca, apiserver, ClientCertOptional, ok)
	impostor := serveTLS(t, ca, nodeServing(t, ca, "n1"), ClientCertOptional, ok)
	dial := func(addr string) error {
		d := tls.Dialer{Config: ClientTLS(ca.Cert, nil, "")}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial(real); err != nil {
		t.Fatalf("the API server: %v", err)
	}
	if err := dial(impostor); err == nil || !strings.Contains(err.Error(), "not the API server's") {
		t.Fatalf("a node's serving certificate passed for the API server: %v", err)
	}
}

// The image transport never trusts the cluster CA for anything but the
// control plane's certificate, and sends the node's client certificate
// only to a server that asks for one of the cluster CA.
func TestRegistryTransportTrustsClusterCAOnlyForTheControlPlane(t *testing.T) {
	ca := testCA(t)
	registry, err := ca.IssueServer(ServerSpec{IPs: []net.IP{net.ParseIP("127.0.0.1")}, URIs: []string{APIServerURI}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	client, err := ca.IssueClient(NodeIdentity("n1"), 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	who := func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			w.Write([]byte(r.TLS.PeerCertificates[0].Subject.CommonName))
		}
	}
	cluster := serveTLS(t, ca, registry, ClientCertOptional, who)
	impostor := serveTLS(t, ca, nodeServing(t, ca, "n2"), ClientCertOptional, who)
	other := testCA(t) // a "public" registry's CA, not in the system roots
	public, _ := other.IssueServer(ServerSpec{IPs: []net.IP{net.ParseIP("127.0.0.1")}}, time.Now())
	foreign := serveTLS(t, other, public, ClientCertOptional, who)

	hc := &http.Client{Transport: RegistryTransport(ca.Cert, NewCertHolder(client)), Timeout: 10 * time.Second}
	get := func(addr string) (string, error) {
		resp, err := hc.Get("https://" + addr + "/v2/")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b := new(strings.Builder)
		_, err = io.Copy(b, resp.Body)
		return b.String(), err
	}
	if got, err := get(cluster); err != nil || got != "node:n1" {
		t.Fatalf("cluster registry: %q %v (want the node's certificate presented)", got, err)
	}
	if _, err := get(impostor); err == nil || !strings.Contains(err.Error(), "not the control plane's") {
		t.Fatalf("a node's serving certificate passed for a registry: %v", err)
	}
	if _, err := get(foreign); err == nil {
		t.Fatal("a certificate of an unknown CA was accepted")
	}
}
