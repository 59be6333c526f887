package apitest

import (
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/apiserver/auth"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/pki"
)

// SecureServer is an API server with TLS, client certificates and the
// authorizer `skiff server` runs, for tests of who may do what.
type SecureServer struct {
	*Server
	CA *pki.CA
	// Authorizer is the one the server uses; tests may tune its limits
	// before the first request.
	Authorizer *auth.Authorizer
}

// StartSecure runs a TLS API server with a fresh cluster CA, the
// authorizer wired to its store and the usage service. Server.Client is
// an admin client.
func StartSecure(t testing.TB, configure ...func(*apiserver.Config)) *SecureServer {
	t.Helper()
	ca, err := pki.NewCA("apitest-ca", 24*time.Hour, time.Now())
	if err != nil {
		t.Fatalf("apitest: %v", err)
	}
	kp, err := ca.IssueServer(pki.ServerSpec{IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, URIs: []string{pki.APIServerURI}}, time.Now())
	if err != nil {
		t.Fatalf("apitest: %v", err)
	}
	s := &SecureServer{CA: ca}
	usage := apiserver.NewUsageService(time.Minute)
	secure := func(c *apiserver.Config) {
		c.GRPCOptions = []grpc.ServerOption{
			grpc.Creds(credentials.NewTLS(pki.ServerTLS(ca.Cert, pki.NewCertHolder(kp), pki.ClientCertOptional))),
		}
		// The authorizer reads the server's store, so it is made from the
		// server; it is set before the server is ready.
		c.ServerOptions = func(srv *apiserver.Server) []grpc.ServerOption {
			s.Authorizer = apiserver.NewAuthorizer(srv)
			guard := &auth.Guard{Authn: &auth.Authenticator{}, Authz: s.Authorizer}
			return guard.ServerOptions(nil, nil)
		}
		c.RegisterServices = usage.Register
	}
	s.Server = startWith(t, s.clientOptions(t, pki.Identity{Name: pki.Admin}), append([]func(*apiserver.Config){secure}, configure...)...)
	return s
}

// ClientAs is a client presenting a certificate for id from the cluster
// CA; it is closed when the test ends.
func (s *SecureServer) ClientAs(t testing.TB, id pki.Identity) *client.Client {
	t.Helper()
	c, err := client.New(s.Addr, s.clientOptions(t, id))
	if err != nil {
		t.Fatalf("apitest: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (s *SecureServer) clientOptions(t testing.TB, id pki.Identity) client.Options {
	kp, err := s.CA.IssueClient(id, time.Hour, time.Now())
	if err != nil {
		t.Fatalf("apitest: %v", err)
	}
	return client.Options{TLS: pki.ClientTLS(s.CA.Cert, pki.NewCertHolder(kp), "")}
}
