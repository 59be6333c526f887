package audit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/apiserver/auth"
	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// TestBetweenAuthnAndAuthz checks the order auth.Guard.ServerOptions sets
// up: the audit log knows who called and records refusals.
func TestBetweenAuthnAndAuthz(t *testing.T) {
	ca, err := pki.NewCA("ca", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ca.IssueClient(pki.NodeIdentity("n1"), time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	ic := &Interceptor{Log: l}
	g := &auth.Guard{Authn: &auth.Authenticator{}, Authz: &auth.Authorizer{
		Pods: func(context.Context, string, string) (*skiffv1.Pod, error) {
			return &skiffv1.Pod{Spec: &skiffv1.PodSpec{NodeName: "n2"}}, nil
		},
	}}
	// What the TLS handshake leaves in the context of a call from n1.
	ctx := peer.NewContext(context.Background(), &peer.Peer{
		Addr:     &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 40000},
		AuthInfo: credentials.TLSInfo{State: tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{kp.Cert, ca.Cert}}}},
	})
	info := &grpc.UnaryServerInfo{FullMethod: skiffv1.Objects_Delete_FullMethodName}
	req := &skiffv1.DeleteRequest{Kind: skiffv1.Kind_KIND_POD, Namespace: "default", Name: "web", Force: true}
	handlerRan := false
	final := func(context.Context, any) (any, error) { handlerRan = true; return nil, nil }
	_, err = g.UnaryAuthenticate(ctx, req, info, func(ctx context.Context, req any) (any, error) {
		return ic.Unary(ctx, req, info, func(ctx context.Context, req any) (any, error) {
			return g.UnaryAuthorize(ctx, req, info, final)
		})
	})
	if status.Code(err) != codes.PermissionDenied || handlerRan {
		t.Fatalf("err = %v, handler ran = %v", err, handlerRan)
	}
	l.Close()
	got := readEntries(t, path)
	if len(got) != 1 {
		t.Fatalf("%d entries", len(got))
	}
	e := got[0]
	if e.User != "node:n1" || e.Code != "PermissionDenied" || e.Peer != "127.0.0.1:40000" ||
		e.Message != "node:n1 may not delete pods/default/web: it is bound to node n2" {
		t.Errorf("entry: %+v", e)
	}
}
