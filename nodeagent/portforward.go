package nodeagent

import (
	"context"
	"net"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// portForwardDialTimeout bounds the connection to the pod's port: a
// port nobody listens on is refused at once, but a pod whose network is
// wedged must not hold the client forever.
const portForwardDialTimeout = 5 * time.Second

// portForwardChunk is the most a message carries of the pod's output.
const portForwardChunk = 32 << 10

// PortForward connects to localhost:port in the pod's network namespace,
// as the kubelet does for kubectl port-forward (so a server bound to
// 127.0.0.1 inside the pod is reachable too), and copies bytes both ways
// until either side is done.
func (s *podIOServer) PortForward(stream skiffv1.PodIO_PortForwardServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	start := first.GetStart()
	if start == nil || start.GetPod() == "" {
		return status.Error(codes.InvalidArgument, "port-forward: the first message must name the pod and the port")
	}
	port := start.GetPort()
	if port < 1 || port > 65535 {
		return status.Errorf(codes.InvalidArgument, "port-forward: port %d: give 1 to 65535", port)
	}
	ns := start.GetNamespace()
	if ns == "" {
		ns = "default"
	}
	pod, ok := s.agent.pods.Get(client.Key(ns, start.GetPod()))
	if !ok {
		return status.Errorf(codes.NotFound, "pod %q not found in namespace %q on node %s", start.GetPod(), ns, s.agent.cfg.NodeName)
	}
	sb, err := s.agent.runtime.Sandbox(pod.GetMetadata().GetUid())
	if err != nil {
		return status.Errorf(codes.FailedPrecondition, "pod %s has no network yet: is it running? (%v)", start.GetPod(), err)
	}
	ctx, cancel := context.WithTimeout(stream.Context(), portForwardDialTimeout)
	conn, err := dialInNetNS(ctx, sb.NetNS, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	cancel()
	if err != nil {
		return status.Errorf(codes.FailedPrecondition, "pod %s: connect to port %d: %v", start.GetPod(), port, err)
	}
	defer conn.Close()

	// Client → pod, until the client closes its side; the pod then reads
	// end of input and may still answer.
	go func() {
		in := first
		for {
			if len(in.GetData()) > 0 {
				if _, err := conn.Write(in.GetData()); err != nil {
					conn.Close()
					return
				}
			}
			if in.GetClosed() {
				closeWrite(conn)
				return
			}
			if in, err = stream.Recv(); err != nil {
				conn.Close() // the client went away: end the read below too
				return
			}
		}
	}()
	// Pod → client, until the pod closes the connection.
	buf := make([]byte, portForwardChunk)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			// gRPC may hold a sent message: each gets its own bytes.
			out := &skiffv1.PortForwardOutput{Data: append([]byte(nil), buf[:n]...)}
			if serr := stream.Send(out); serr != nil {
				return serr
			}
		}
		if err != nil {
			// The pod closed or reset the connection, or the client went
			// away: the stream ends, as the TCP connection did.
			return nil
		}
	}
}

// closeWrite half-closes a TCP connection; other kinds are left open.
func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}
