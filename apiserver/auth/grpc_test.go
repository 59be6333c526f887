package auth

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// fakeObjects answers the calls the tests make, so only the interceptors
// decide the outcome.
type fakeObjects struct {
	skiffv1.UnimplementedObjectsServer
}

func (fakeObjects) List(context.Context, *skiffv1.ListRequest) (*skiffv1.ListResponse, error) {
	return &skiffv1.ListResponse{}, nil
}

func (fakeObjects) UpdateStatus(_ context.Context, r *skiffv1.UpdateRequest) (*skiffv1.Object, error) {
	return r.GetObject(), nil
}

func (fakeObjects) Watch(_ *skiffv1.WatchRequest, s grpc.ServerStreamingServer[skiffv1.WatchEvent]) error {
	return s.Send(&skiffv1.WatchEvent{Type: skiffv1.WatchEvent_BOOKMARK, ResourceVersion: "1"})
}

type cluster struct {
	ca     *pki.CA
	addr   string
	tokens *pki.TokenStore
}

// startServer runs a TLS gRPC server on loopback with the health service,
// a fake Objects service, a Join/SignNode stand-in and the interceptors.
func startServer(t *testing.T) *cluster {
	t.Helper()
	ca, err := pki.NewCA("test-ca", 24*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ca.IssueServer(pki.ServerSpec{IPs: []net.IP{net.ParseIP("127.0.0.1")}, URIs: []string{pki.APIServerURI}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tokens := pki.NewTokenStore(t.TempDir(), ca.Cert)
	g := &Guard{
		Authn: &Authenticator{Tokens: JoinTokens{Store: tokens}},
		Authz: &Authorizer{Pods: pods(map[string]string{"default/web": "n2", "default/mine": "n1"})},
	}
	opts := append([]grpc.ServerOption{
		grpc.Creds(credentials.NewTLS(pki.ServerTLS(ca.Cert, pki.NewCertHolder(kp), pki.ClientCertOptional))),
		grpc.UnknownServiceHandler(func(_ any, s grpc.ServerStream) error {
			if err := s.RecvMsg(&emptypb.Empty{}); err != nil {
				return err
			}
			return s.SendMsg(&emptypb.Empty{})
		}),
	}, g.ServerOptions(nil, nil)...)
	gs := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(gs, health.NewServer())
	skiffv1.RegisterObjectsServer(gs, fakeObjects{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	return &cluster{ca: ca, addr: lis.Addr().String(), tokens: tokens}
}

func (c *cluster) dial(t *testing.T, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(c.addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// asIdentity dials with a client certificate for id from the cluster CA.
func (c *cluster) asIdentity(t *testing.T, id pki.Identity) *grpc.ClientConn {
	t.Helper()
	kp, err := c.ca.IssueClient(id, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c.dial(t, grpc.WithTransportCredentials(credentials.NewTLS(pki.ClientTLS(c.ca.Cert, pki.NewCertHolder(kp), ""))))
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func wantCode(t *testing.T, err error, code codes.Code, msgPart string) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != code {
		t.Fatalf("code = %v (%v), want %v", st.Code(), err, code)
	}
	if !strings.Contains(st.Message(), msgPart) {
		t.Fatalf("message %q does not contain %q", st.Message(), msgPart)
	}
}

func TestTLSIdentities(t *testing.T) {
	c := startServer(t)

	admin := skiffv1.NewObjectsClient(c.asIdentity(t, pki.Identity{Name: pki.Admin}))
	_, err := admin.List(ctx(t), &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_REPLICA_SET})
	wantCode(t, err, codes.OK, "")

	n1 := skiffv1.NewObjectsClient(c.asIdentity(t, pki.NodeIdentity("n1")))
	_, err = n1.List(ctx(t), &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_POD, FieldSelector: "spec.nodeName=n1"})
	wantCode(t, err, codes.OK, "")
	_, err = n1.UpdateStatus(ctx(t), &skiffv1.UpdateRequest{Object: obj(pod("default", "web", "n1"))})
	wantCode(t, err, codes.PermissionDenied, "node:n1 may not update pods/default/web: it is bound to node n2")
	_, err = n1.UpdateStatus(ctx(t), &skiffv1.UpdateRequest{Object: obj(node("n2"))})
	wantCode(t, err, codes.PermissionDenied, "node:n1 may not update nodes/n2")
	// A node's proxy follows services and endpoints; it lists nothing
	// else of the cluster's (replica sets, secrets).
	_, err = n1.List(ctx(t), &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_ENDPOINTS})
	wantCode(t, err, codes.OK, "")
	_, err = n1.List(ctx(t), &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_SERVICE})
	wantCode(t, err, codes.OK, "")
	_, err = n1.List(ctx(t), &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_REPLICA_SET})
	wantCode(t, err, codes.PermissionDenied, "node:n1 may not list replicasets")

	// Streams are checked on their first message.
	w, err := n1.Watch(ctx(t), &skiffv1.WatchRequest{Kind: skiffv1.Kind_KIND_POD, FieldSelector: "spec.nodeName=n1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.Recv()
	wantCode(t, err, codes.OK, "")
	w, err = n1.Watch(ctx(t), &skiffv1.WatchRequest{Kind: skiffv1.Kind_KIND_AUTOSCALER})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.Recv()
	wantCode(t, err, codes.PermissionDenied, "node:n1 may not watch autoscalers")
}

func TestNoCredentialIsUnauthenticated(t *testing.T) {
	c := startServer(t)
	// TLS pinned to the right CA, but no certificate and no token.
	conn := c.dial(t, grpc.WithTransportCredentials(credentials.NewTLS(pki.ClientTLS(c.ca.Cert, nil, ""))))
	_, err := skiffv1.NewObjectsClient(conn).List(ctx(t), &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_POD})
	wantCode(t, err, codes.Unauthenticated, NoCredentialMessage)
	_, err = healthpb.NewHealthClient(conn).Check(ctx(t), &healthpb.HealthCheckRequest{})
	wantCode(t, err, codes.Unauthenticated, "skiff agent --token")
}

func TestCertificateFromAnotherCAIsRefused(t *testing.T) {
	c := startServer(t)
	other, err := pki.NewCA("other", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	kp, err := other.IssueClient(pki.Identity{Name: pki.Admin}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// The client trusts the server, but presents an admin certificate from
	// another CA: the handshake fails, nothing reaches a handler.
	conn := c.dial(t, grpc.WithTransportCredentials(credentials.NewTLS(pki.ClientTLS(c.ca.Cert, pki.NewCertHolder(kp), ""))))
	_, err = healthpb.NewHealthClient(conn).Check(ctx(t), &healthpb.HealthCheckRequest{})
	wantCode(t, err, codes.Unavailable, "")
}

func TestPlainTextClientFails(t *testing.T) {
	c := startServer(t)
	conn := c.dial(t, grpc.WithTransportCredentials(insecure.NewCredentials()))
	_, err := healthpb.NewHealthClient(conn).Check(ctx(t), &healthpb.HealthCheckRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("plain-text call: %v, want Unavailable", err)
	}
}

func TestServerFromAnotherCAIsRefusedByClient(t *testing.T) {
	c := startServer(t)
	other, _ := pki.NewCA("other", time.Hour, time.Now())
	conn := c.dial(t, grpc.WithTransportCredentials(credentials.NewTLS(pki.ClientTLS(other.Cert, nil, ""))))
	_, err := healthpb.NewHealthClient(conn).Check(ctx(t), &healthpb.HealthCheckRequest{})
	wantCode(t, err, codes.Unavailable, "certificate")
}

func TestJoinTokens(t *testing.T) {
	c := startServer(t)
	tok, err := c.tokens.Create(time.Hour, "test")
	if err != nil {
		t.Fatal(err)
	}
	withToken := func(bearer string) *grpc.ClientConn {
		return c.dial(t,
			grpc.WithTransportCredentials(credentials.NewTLS(pki.ClientTLS(c.ca.Cert, nil, ""))),
			grpc.WithPerRPCCredentials(pki.BearerCredentials{Token: bearer}))
	}
	signNode := func(conn *grpc.ClientConn) error {
		return conn.Invoke(ctx(t), MethodJoinSignNode, &emptypb.Empty{}, &emptypb.Empty{})
	}

	good := withToken(tok.Bearer())
	if err := signNode(good); err != nil {
		t.Fatalf("valid token refused: %v", err)
	}
	_, err = skiffv1.NewObjectsClient(good).List(ctx(t), &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_POD})
	wantCode(t, err, codes.PermissionDenied, "bootstrap may not list pods: a join token may only call /skiff.v1.Join/SignNode")

	wrong := tok
	wrong.Secret = strings.Repeat("x", len(tok.Secret))
	wantCode(t, signNode(withToken(wrong.Bearer())), codes.Unauthenticated, "not known")
	wantCode(t, signNode(withToken("garbage")), codes.Unauthenticated, "malformed")

	expiring, err := c.tokens.Create(time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	c.tokens.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	wantCode(t, signNode(withToken(expiring.Bearer())), codes.Unauthenticated, "expired")
	c.tokens.Now = nil

	if err := c.tokens.Revoke(tok.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, signNode(withToken(tok.Bearer())), codes.Unauthenticated, "revoked")
}
