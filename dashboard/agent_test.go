package dashboard

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// nodeLogs is the test acting as node n1's agent for logs: the API server
// dials it (plain gRPC on loopback, as apitest has no agent TLS). Each
// follow stream sends the first line at once and every later line sent
// on lines.
type nodeLogs struct {
	skiffv1.UnimplementedPodIOServer
	first string
	lines chan string
}

func (n *nodeLogs) Logs(req *skiffv1.LogsRequest, stream skiffv1.PodIO_LogsServer) error {
	if err := stream.Send(&skiffv1.LogChunk{Data: []byte(n.first + " " + req.GetNamespace() + "/" + req.GetPod() + "/" + req.GetContainer() + "\n")}); err != nil {
		return err
	}
	if !req.GetFollow() {
		return nil
	}
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case l := <-n.lines:
			if err := stream.Send(&skiffv1.LogChunk{Data: []byte(l + "\n")}); err != nil {
				return err
			}
		}
	}
}

// serveNodeLogs starts it and records its address on node n1 (seed made
// the node).
func serveNodeLogs(t testing.TB, e *env) *nodeLogs {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := &nodeLogs{first: "started", lines: make(chan string)}
	gs := grpc.NewServer()
	skiffv1.RegisterPodIOServer(gs, n)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nodeClient := e.api.ClientAs(t, pki.NodeIdentity("n1"))
	if _, err := nodeClient.Nodes().ModifyStatus(ctx, "", "n1", func(node *skiffv1.Node) error {
		node.Status.AgentEndpoint = lis.Addr().String()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// Logs stream through the API server to the page as server-sent events,
// as they come.
func TestLogsStream(t *testing.T) {
	e := startEnv(t)
	seed(t, e)
	agent := serveNodeLogs(t, e)
	b := e.browser(t)
	b.login(e.token(t, pki.UsageDashboardView, time.Minute))
	s := b.stream("/api/logs/default/web-1?container=c")
	want := []string{`"started default/web-1/c\n"`, `"second line\n"`}
	go func() { agent.lines <- "second line" }()
	for _, w := range want {
		ev, data, err := s.next()
		if err != nil || ev != "log" || data != w {
			t.Fatalf("event %q %s %v, want log %s", ev, data, err, w)
		}
	}
	// A pod that does not exist: the API server's error, as an HTTP error.
	resp, body := b.do("GET", "/api/logs/default/nope", "", nil)
	if !strings.Contains(body, "not found") {
		t.Fatalf("logs of a missing pod: %s %s", resp.Status, body)
	}
}
