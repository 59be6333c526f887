package apiserver

import (
	"context"
	"errors"
	"io"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// podIOProxy serves logs and exec by forwarding each call to the agent of
// the pod's node, whose address the Node's status carries.
type podIOProxy struct {
	skiffv1.UnimplementedPodIOServer
	s *Server

	mu    sync.Mutex
	conns map[string]*grpc.ClientConn // by agent endpoint
}

func newPodIOProxy(s *Server) *podIOProxy {
	return &podIOProxy{s: s, conns: map[string]*grpc.ClientConn{}}
}

// agentFor finds the agent running a pod.
func (p *podIOProxy) agentFor(ctx context.Context, namespace, name string) (agentClient, error) {
	podInfo, _ := skiffv1.Info(skiffv1.Kind_KIND_POD)
	ns := namespaceOf(podInfo, namespace)
	obj, err := p.s.store.Get(ctx, skiffv1.Kind_KIND_POD, ns, name)
	if err != nil {
		return agentClient{}, toStatus(err, ref{info: podInfo, namespace: ns, name: name})
	}
	node := obj.(*skiffv1.Pod).GetSpec().GetNodeName()
	if node == "" {
		return agentClient{}, status.Errorf(codes.FailedPrecondition, "pod %q is not scheduled to a node yet; see `skiff describe pod %s`", name, name)
	}
	nobj, err := p.s.store.Get(ctx, skiffv1.Kind_KIND_NODE, "", node)
	if err != nil {
		nodeInfo, _ := skiffv1.Info(skiffv1.Kind_KIND_NODE)
		return agentClient{}, toStatus(err, ref{info: nodeInfo, name: node})
	}
	endpoint := nobj.(*skiffv1.Node).GetStatus().GetAgentEndpoint()
	if endpoint == "" {
		return agentClient{}, status.Errorf(codes.FailedPrecondition, "node %q has not reported an agent address; is its agent running?", node)
	}
	conn, err := p.conn(endpoint, node)
	if err != nil {
		return agentClient{}, status.Errorf(codes.FailedPrecondition, "node %q: %v", node, err)
	}
	return agentClient{skiffv1.NewPodIOClient(conn), node, endpoint}, nil
}

// agentClient names the node when its agent cannot be reached, so that the
// user is not told the API server is down.
type agentClient struct {
	skiffv1.PodIOClient
	node, endpoint string
}

func (a agentClient) explain(err error) error {
	if status.Code(err) == codes.Unavailable {
		return status.Errorf(codes.FailedPrecondition, "the agent of node %q at %s cannot be reached: %v", a.node, a.endpoint, status.Convert(err).Message())
	}
	return err
}

func (p *podIOProxy) conn(endpoint, node string) (*grpc.ClientConn, error) {
	key := node + "@" + endpoint
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.conns[key]; ok {
		return c, nil
	}
	creds := insecure.NewCredentials()
	if t := p.s.cfg.AgentTLS; t != nil {
		// Only the node's own agent may answer for its pods.
		creds = credentials.NewTLS(pki.ExpectPeer(t, pki.NodePrefix+node))
	}
	c, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, err
	}
	p.conns[key] = c
	return c, nil
}

func (p *podIOProxy) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = map[string]*grpc.ClientConn{}
}

func (p *podIOProxy) Logs(req *skiffv1.LogsRequest, stream skiffv1.PodIO_LogsServer) error {
	if req.GetPod() == "" {
		return invalid("pod: required")
	}
	agent, err := p.agentFor(stream.Context(), req.Namespace, req.Pod)
	if err != nil {
		return err
	}
	up, err := agent.Logs(stream.Context(), req)
	if err != nil {
		return agent.explain(err)
	}
	for {
		chunk, err := up.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return agent.explain(err)
		}
		if err := stream.Send(chunk); err != nil {
			return err
		}
	}
}

func (p *podIOProxy) Exec(stream skiffv1.PodIO_ExecServer) error {
	return proxyStream(p, stream, "exec", "the pod and the command", func(first *skiffv1.ExecInput) (*skiffv1.ExecStart, error) {
		start := first.GetStart()
		switch {
		case start == nil:
			return nil, invalid("exec: the first message must name the pod and the command")
		case start.GetPod() == "":
			return nil, invalid("exec: pod: required")
		case len(start.GetCommand()) == 0:
			return nil, invalid("exec: command: required")
		}
		return start, nil
	}, skiffv1.PodIOClient.Exec)
}

// Attach connects to a running container's stdin and terminal on its
// agent; it is authorized as exec is.
func (p *podIOProxy) Attach(stream skiffv1.PodIO_AttachServer) error {
	return proxyStream(p, stream, "attach", "the pod", func(first *skiffv1.ExecInput) (*skiffv1.AttachStart, error) {
		start := first.GetAttach()
		switch {
		case start == nil:
			return nil, invalid("attach: the first message must carry attach, naming the pod")
		case start.GetPod() == "":
			return nil, invalid("attach: pod: required")
		}
		return start, nil
	}, skiffv1.PodIOClient.Attach)
}

// PortForward forwards one connection to a pod's port to its agent.
func (p *podIOProxy) PortForward(stream skiffv1.PodIO_PortForwardServer) error {
	return proxyStream(p, stream, "port-forward", "the pod and the port", func(first *skiffv1.PortForwardInput) (*skiffv1.PortForwardStart, error) {
		start := first.GetStart()
		switch {
		case start == nil:
			return nil, invalid("port-forward: the first message must name the pod and the port")
		case start.GetPod() == "":
			return nil, invalid("port-forward: pod: required")
		case start.GetPort() < 1 || start.GetPort() > 65535:
			return nil, invalid("port-forward: port %d: give 1 to 65535", start.GetPort())
		}
		return start, nil
	}, skiffv1.PodIOClient.PortForward)
}

// podRef is the start of an exec or port-forward stream: which pod.
type podRef interface {
	GetNamespace() string
	GetPod() string
}

// proxyStream serves a bidirectional stream whose first message names a
// pod (check reads and validates it) by opening the same call on the
// pod's agent and relaying both ways.
func proxyStream[In, Out any, Start podRef](p *podIOProxy, stream grpc.BidiStreamingServer[In, Out], call, names string,
	check func(*In) (Start, error), open func(skiffv1.PodIOClient, context.Context, ...grpc.CallOption) (grpc.BidiStreamingClient[In, Out], error)) error {
	first, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return invalid("%s: the stream ended before its first message, which names %s", call, names)
	}
	if err != nil {
		return err
	}
	start, err := check(first)
	if err != nil {
		return err
	}
	agent, err := p.agentFor(stream.Context(), start.GetNamespace(), start.GetPod())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	up, err := open(agent.PodIOClient, ctx)
	if err != nil {
		return agent.explain(err)
	}
	return relay(agent, first, stream, up)
}

// relay passes first, then everything the client sends, to the agent
// until the client closes its side, and everything the agent answers to
// the client until the agent ends the stream.
func relay[In, Out any](agent agentClient, first *In, client grpc.BidiStreamingServer[In, Out], up grpc.BidiStreamingClient[In, Out]) error {
	if err := up.Send(first); err != nil {
		return agent.explain(err)
	}
	go func() {
		for {
			in, err := client.Recv()
			if err != nil {
				up.CloseSend()
				return
			}
			if err := up.Send(in); err != nil {
				return
			}
		}
	}()
	for {
		out, err := up.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return agent.explain(err)
		}
		if err := client.Send(out); err != nil {
			return err
		}
	}
}
