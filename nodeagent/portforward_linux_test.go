package nodeagent_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A forwarded connection reaches a server the pod binds to its own
// 127.0.0.1 (so the agent dials inside the pod's network namespace), the
// request's end reaches the server as end of input, and its whole answer
// comes back; a port nobody listens on is refused by name.
func TestPortForwardReachesPodLocalhost(t *testing.T) {
	h := newHarness(t)
	h.create(h.pod("web", `mkdir -p /tmp/w && echo forwarded > /tmp/w/index.html && exec httpd -f -p 127.0.0.1:8080 -h /tmp/w`))
	h.waitPod("web", "running", phase("Running"))
	podio := h.podIO()

	forward := func(port int32, request string) (string, error) {
		stream, err := podio.PortForward(h.ctx())
		if err != nil {
			return "", err
		}
		start := &skiffv1.PortForwardStart{Namespace: "default", Pod: "web", Port: port}
		if err := stream.Send(&skiffv1.PortForwardInput{Start: start, Data: []byte(request)}); err != nil {
			return "", err
		}
		if err := stream.Send(&skiffv1.PortForwardInput{Closed: true}); err != nil {
			return "", err
		}
		var out bytes.Buffer
		for {
			m, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return out.String(), nil
			}
			if err != nil {
				return out.String(), err
			}
			out.Write(m.GetData())
		}
	}
	var got string
	var err error
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		got, err = forward(8080, "GET /index.html HTTP/1.0\r\n\r\n")
		if err == nil && strings.Contains(got, "forwarded") || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || !strings.HasPrefix(got, "HTTP/1.") || !strings.HasSuffix(got, "\r\n\r\nforwarded\n") {
		t.Fatalf("forwarded request: %q, %v", got, err)
	}

	_, err = forward(9, "")
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "connect to port 9") {
		t.Errorf("a closed port: %v, want FailedPrecondition naming the port", err)
	}
	stream, err := podio.PortForward(h.ctx())
	if err != nil {
		t.Fatal(err)
	}
	stream.Send(&skiffv1.PortForwardInput{Start: &skiffv1.PortForwardStart{Namespace: "default", Pod: "nope", Port: 80}})
	if _, err := stream.Recv(); status.Code(err) != codes.NotFound {
		t.Errorf("an unknown pod: %v, want NotFound", err)
	}
}
