package pki

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/tap"
	"google.golang.org/protobuf/types/known/emptypb"
)

// recordingServer is a TLS gRPC server that records the metadata of every
// call it receives, before any handler or authentication runs.
type recordingServer struct {
	addr string
	mu   sync.Mutex
	seen []string
}

func (r *recordingServer) received() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.seen, "\n")
}

func startRecordingServer(t *testing.T, ca *CA) *recordingServer {
	t.Helper()
	kp, err := ca.IssueServer(ServerSpec{IPs: []net.IP{net.ParseIP("127.0.0.1")}, URIs: []string{APIServerURI}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recordingServer{addr: lis.Addr().String()}
	record := func(ctx context.Context, info *tap.Info) (context.Context, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.seen = append(r.seen, info.FullMethodName)
		for k, vs := range info.Header {
			r.seen = append(r.seen, k+": "+strings.Join(vs, ","))
		}
		return ctx, nil
	}
	gs := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(ServerTLS(ca.Cert, NewCertHolder(kp), ClientCertOptional))),
		grpc.InTapHandle(record),
		grpc.UnknownServiceHandler(func(_ any, s grpc.ServerStream) error {
			if err := s.RecvMsg(&emptypb.Empty{}); err != nil {
				return err
			}
			return s.SendMsg(&emptypb.Empty{})
		}),
	)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	return r
}

// join is the agent's flow up to sending the secret: fetch and pin the CA,
// then call the signing RPC over TLS pinned to it with the bearer token.
func join(ctx context.Context, addr string, tok Token) error {
	ca, err := FetchCA(ctx, addr, tok)
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(credentials.NewTLS(ClientTLS(ca, nil, ""))),
		grpc.WithPerRPCCredentials(BearerCredentials{Token: tok.Bearer()}))
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Invoke(ctx, "/skiff.v1.Join/SignNode", &emptypb.Empty{}, &emptypb.Empty{})
}

func TestJoinChecksCAHashBeforeSendingSecret(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ours, impostor := testCA(t), testCA(t)
	tok, err := NewToken(ours.Cert, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	// The right cluster: the CA matches and the secret is sent (which also
	// shows the recorder would see it).
	good := startRecordingServer(t, ours)
	if err := join(ctx, good.addr, tok); err != nil {
		t.Fatalf("join with the right CA: %v", err)
	}
	if !strings.Contains(good.received(), tok.Secret) {
		t.Fatalf("control: the real server never saw the secret:\n%s", good.received())
	}

	// An impostor with another CA: refused before anything is sent.
	bad := startRecordingServer(t, impostor)
	err = join(ctx, bad.addr, tok)
	if !errors.Is(err, ErrCAMismatch) {
		t.Fatalf("join with another CA: err = %v, want ErrCAMismatch", err)
	}
	if got := bad.received(); got != "" {
		t.Fatalf("the impostor received calls:\n%s", got)
	}
}

func TestFetchCAChecksHostToo(t *testing.T) {
	// A server certificate from the right CA but not for the dialled
	// address (another node's, say) is refused.
	ca := testCA(t)
	tok, _ := NewToken(ca.Cert, 0)
	kp, err := ca.IssueServer(ServerSpec{DNSNames: []string{"elsewhere.example"}, URIs: []string{APIServerURI}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pinnedCA(kp.Chain, tok, "127.0.0.1", time.Now()); !errors.Is(err, ErrCAMismatch) {
		t.Fatalf("err = %v, want ErrCAMismatch", err)
	}
	if _, err := pinnedCA(kp.Chain[:1], tok, "elsewhere.example", time.Now()); !errors.Is(err, ErrCAMismatch) {
		t.Fatalf("chain without CA: err = %v, want ErrCAMismatch", err)
	}
	if got, err := pinnedCA(kp.Chain, tok, "elsewhere.example", time.Now()); err != nil || !got.Equal(ca.Cert) {
		t.Fatalf("right host: %v", err)
	}
	// A node's serving certificate from the same CA, for the dialled
	// address, is not the API server's.
	csr, key, _ := NewCSR(NodeIdentity("n1"))
	chain, err := ca.SignServingCSR(csr, "n1", []net.IP{net.ParseIP("127.0.0.1")}, nil, 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	node, _ := key.WithSignedChain(chain)
	if _, err := pinnedCA(node.Chain, tok, "127.0.0.1", time.Now()); !errors.Is(err, ErrCAMismatch) {
		t.Fatalf("a node's serving certificate passed for the API server: %v", err)
	}
}

func TestBearerNeedsTransportSecurity(t *testing.T) {
	if !(BearerCredentials{}).RequireTransportSecurity() {
		t.Fatal("a bearer token must never go over plain text")
	}
	md, _ := BearerCredentials{Token: "abc"}.GetRequestMetadata(context.Background())
	if md[AuthorizationHeader] != "Bearer abc" {
		t.Fatalf("metadata %v", md)
	}
}
