package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/labels"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// newPortForwardCommand is kubectl's port-forward: local ports that lead,
// through the API server and the pod's node agent, to localhost ports in
// a pod's network namespace.
func newPortForwardCommand(e *env) *cobra.Command {
	var addresses []string
	var podWait time.Duration
	cmd := &cobra.Command{
		Use:   "port-forward TYPE/NAME [LOCAL_PORT:]REMOTE_PORT [...]",
		Short: "Forward local ports to a pod's ports",
		Long: `Listen on local ports and forward each connection to a port of a pod, as
kubectl port-forward does: the connection is made on localhost inside the
pod's network namespace, through the API server and the pod's node agent,
so it works from wherever the API server is reachable.

TYPE/NAME is a pod (pod/NAME or NAME), or a service, deployment, replica
set or stateful set, for which one of its running pods is picked (ready
ones first). REMOTE_PORT is a number or a container port's name; for a
service, it is the service's port, forwarded to that port's targetPort.
LOCAL_PORT 0 or left out before the colon (:80) picks a free port.
It runs until interrupted.`,
		Example: `  skiff port-forward pod/web 8080:80       # localhost:8080 → port 80 of pod web
  skiff port-forward svc/web 8080:http      # a pod behind service web, via its port named http
  skiff port-forward deploy/db :5432        # a free local port, printed
  skiff port-forward web 8080 9090 --address=0.0.0.0`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			specs, err := parsePortSpecs(args[1:])
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			c, err := e.client()
			if err != nil {
				return err
			}
			pod, err := forwardTarget(ctx, cmd, e, c, args[0], specs, podWait)
			if err != nil {
				return err
			}
			listeners, err := listenAll(addresses, specs)
			if err != nil {
				return err
			}
			f := &forwarder{podio: skiffv1.NewPodIOClient(c.Conn()), ns: pod.GetMetadata().GetNamespace(),
				pod: pod.GetMetadata().GetName(), out: cmd.OutOrStdout(), errOut: cmd.ErrOrStderr()}
			return f.serve(ctx, listeners)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&addresses, "address", []string{"localhost"}, "addresses to listen on (comma-separated); localhost means 127.0.0.1 and ::1")
	f.DurationVar(&podWait, "pod-running-timeout", time.Minute, "how long to wait for a running pod")
	return cmd
}

// portSpec is one LOCAL:REMOTE argument; remote is resolved against the
// pod (and service) before listening.
type portSpec struct {
	arg    string
	local  int
	remote string // as given: a number or a port name
	port   int32  // the pod's port it leads to
}

func parsePortSpecs(args []string) ([]*portSpec, error) {
	var specs []*portSpec
	for _, a := range args {
		local, remote, paired := strings.Cut(a, ":")
		if !paired {
			local, remote = a, a
		}
		if _, err := strconv.Atoi(remote); err != nil && !paired {
			return nil, fmt.Errorf("%s: a port name needs a local port: LOCAL:%s", a, remote)
		}
		s := &portSpec{arg: a, remote: remote}
		if local != "" {
			n, err := strconv.Atoi(local)
			if err != nil || n < 0 || n > 65535 {
				return nil, fmt.Errorf("%s: the local port %q must be a number from 0 to 65535 (0: any free port)", a, local)
			}
			s.local = n
		}
		if remote == "" {
			return nil, fmt.Errorf("%s: give the remote port after the colon", a)
		}
		if n, err := strconv.Atoi(remote); err == nil && (n < 1 || n > 65535) {
			return nil, fmt.Errorf("%s: the remote port %d must be from 1 to 65535", a, n)
		}
		specs = append(specs, s)
	}
	return specs, nil
}

// forwardTarget finds the pod TYPE/NAME leads to, waiting up to wait for
// one that runs, and resolves specs' remote ports against it.
func forwardTarget(ctx context.Context, cmd *cobra.Command, e *env, c *client.Client, arg string, specs []*portSpec, wait time.Duration) (*skiffv1.Pod, error) {
	kind, name, ok := strings.Cut(arg, "/")
	if !ok {
		kind, name = "pod", arg
	}
	info, err := parseKind(kind)
	if err != nil {
		return nil, err
	}
	switch info.Kind {
	case skiffv1.Kind_KIND_POD, skiffv1.Kind_KIND_SERVICE, skiffv1.Kind_KIND_DEPLOYMENT, skiffv1.Kind_KIND_REPLICA_SET, skiffv1.Kind_KIND_REPLICATION_CONTROLLER, skiffv1.Kind_KIND_STATEFUL_SET:
	default:
		return nil, fmt.Errorf("cannot port-forward to a %s: give a pod, service, deployment, replicaset, replicationcontroller or statefulset", info.Name)
	}
	if name == "" {
		return nil, fmt.Errorf("%s: the name is empty", arg)
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	rctx, rcancel := e.call(ctx)
	obj, err := getObject(rctx, c, info, e.ns(), name)
	rcancel()
	if err != nil {
		return nil, err
	}
	// find is the running pod the target leads to, nil while none runs.
	var find func(ctx context.Context) (*skiffv1.Pod, error)
	var svc *skiffv1.Service
	var selector *skiffv1.LabelSelector
	switch o := obj.(type) {
	case *skiffv1.Pod:
		find = func(ctx context.Context) (*skiffv1.Pod, error) {
			pod, err := c.Pods().Get(ctx, e.ns(), name)
			return pickPod([]*skiffv1.Pod{pod}), err
		}
	default:
		svc, _ = o.(*skiffv1.Service)
		if selector, err = podSelectorOf(obj); err != nil {
			return nil, err
		}
	}
	if find == nil {
		sel, err := labels.FromLabelSelector(selector)
		if err != nil {
			return nil, fmt.Errorf("%s: selector: %w", slashName(info, name), err)
		}
		find = func(ctx context.Context) (*skiffv1.Pod, error) {
			pods, _, err := c.Pods().List(ctx, client.ListOptions{Namespace: e.ns(), LabelSelector: sel.String()})
			return pickPod(pods), err
		}
	}

	waited := false
	for {
		rctx, rcancel := e.call(ctx)
		pod, err := find(rctx)
		rcancel()
		if err != nil {
			return nil, apiErr(err)
		}
		if pod != nil {
			return pod, resolvePorts(pod, svc, specs)
		}
		if !waited {
			progress(cmd, "waiting for a running pod of %s ...", slashName(info, name))
			waited = true
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no running pod of %s after %s (--pod-running-timeout); see skiff get pods", slashName(info, name), wait)
		case <-time.After(time.Second):
		}
	}
}

// podSelectorOf is the selector of the pods a service or workload
// stands for.
func podSelectorOf(obj skiffv1.Resource) (*skiffv1.LabelSelector, error) {
	switch o := obj.(type) {
	case *skiffv1.Service:
		if len(o.GetSpec().GetSelector()) == 0 {
			return nil, fmt.Errorf("service %q has no selector: it sends to no pods of its own", o.GetMetadata().GetName())
		}
		return &skiffv1.LabelSelector{MatchLabels: o.GetSpec().GetSelector()}, nil
	case *skiffv1.Deployment:
		return o.GetSpec().GetSelector(), nil
	case *skiffv1.ReplicaSet:
		return o.GetSpec().GetSelector(), nil
	case *skiffv1.ReplicationController:
		return &skiffv1.LabelSelector{MatchLabels: o.GetSpec().GetSelector()}, nil
	case *skiffv1.StatefulSet:
		return o.GetSpec().GetSelector(), nil
	case *skiffv1.DaemonSet:
		return o.GetSpec().GetSelector(), nil
	}
	return nil, fmt.Errorf("a %T has no pods of its own", obj)
}

// pickPod is the running pod kubectl would attach to: ready before not
// ready, then the one running longest; nil when none runs.
func pickPod(pods []*skiffv1.Pod) *skiffv1.Pod {
	var running []*skiffv1.Pod
	for _, p := range pods {
		if p.GetStatus().GetPhase() == "Running" && p.GetMetadata().GetDeletionTimestamp() == nil {
			running = append(running, p)
		}
	}
	sort.SliceStable(running, func(i, j int) bool {
		ri := skiffv1.IsConditionTrue(running[i].GetStatus().GetConditions(), skiffv1.PodReady)
		rj := skiffv1.IsConditionTrue(running[j].GetStatus().GetConditions(), skiffv1.PodReady)
		if ri != rj {
			return ri
		}
		return running[i].GetMetadata().GetCreationTimestamp().AsTime().Before(running[j].GetMetadata().GetCreationTimestamp().AsTime())
	})
	if len(running) == 0 {
		return nil
	}
	return running[0]
}

// resolvePorts sets each spec's pod port: through the service's port
// and targetPort when svc is set, and by container port name.
func resolvePorts(pod *skiffv1.Pod, svc *skiffv1.Service, specs []*portSpec) error {
	for _, s := range specs {
		remote := s.remote
		if svc != nil {
			var found *skiffv1.ServicePort
			for _, p := range svc.GetSpec().GetPorts() {
				if p.GetName() == remote || strconv.Itoa(int(p.GetPort())) == remote {
					found = p
					break
				}
			}
			if found == nil {
				return fmt.Errorf("%s: service %q has no port %s", s.arg, svc.GetMetadata().GetName(), remote)
			}
			remote = found.GetTargetPort()
			if remote == "" {
				remote = strconv.Itoa(int(found.GetPort()))
			}
		}
		if n, err := strconv.Atoi(remote); err == nil {
			s.port = int32(n)
			continue
		}
		for _, c := range pod.GetSpec().GetContainers() {
			for _, p := range c.GetPorts() {
				if p.GetName() == remote {
					s.port = p.GetContainerPort()
				}
			}
		}
		if s.port == 0 {
			return fmt.Errorf("%s: pod %q has no container port named %q", s.arg, pod.GetMetadata().GetName(), remote)
		}
	}
	return nil
}

// forwardListener is one local socket and the pod port it leads to.
type forwardListener struct {
	net.Listener
	spec *portSpec
}

// listenAll opens every address × spec; "localhost" is 127.0.0.1 and,
// where the host has IPv6, ::1. A second address reuses the port the
// first was given.
func listenAll(addresses []string, specs []*portSpec) ([]forwardListener, error) {
	var out []forwardListener
	fail := func(err error) ([]forwardListener, error) {
		for _, l := range out {
			l.Close()
		}
		return nil, err
	}
	for _, s := range specs {
		port := s.local
		for _, a := range addresses {
			hosts := []string{a}
			if a == "localhost" {
				hosts = []string{"127.0.0.1", "::1"}
			}
			for i, h := range hosts {
				l, err := net.Listen("tcp", net.JoinHostPort(h, strconv.Itoa(port)))
				if err != nil {
					if a == "localhost" && i > 0 {
						continue // no IPv6 loopback here: 127.0.0.1 serves
					}
					return fail(fmt.Errorf("%s: listen on %s: %w", s.arg, a, err))
				}
				port = l.Addr().(*net.TCPAddr).Port
				out = append(out, forwardListener{l, s})
			}
		}
	}
	return out, nil
}

// forwarder carries local connections to the pod, each in a stream of
// its own.
type forwarder struct {
	podio       skiffv1.PodIOClient
	ns, pod     string
	out, errOut io.Writer
	mu          sync.Mutex // serialises the lines written
}

func (f *forwarder) say(w io.Writer, format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fmt.Fprintf(w, format+"\n", args...)
}

// serve accepts on every listener until ctx ends.
func (f *forwarder) serve(ctx context.Context, listeners []forwardListener) error {
	var wg sync.WaitGroup
	for _, l := range listeners {
		f.say(f.out, "Forwarding from %s -> %d", l.Addr(), l.spec.port)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				conn, err := l.Accept()
				if err != nil {
					return // closed below
				}
				port := l.Addr().(*net.TCPAddr).Port
				f.say(f.out, "Handling connection for %d", port)
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := f.forward(ctx, conn, l.spec.port); err != nil {
						f.say(f.errOut, "error: forwarding port %d to pod %s: %v", port, f.pod, apiErr(err))
					}
				}()
			}
		}()
	}
	<-ctx.Done()
	for _, l := range listeners {
		l.Close()
	}
	wg.Wait()
	return nil
}

// forward carries one connection until both directions are done, or ctx
// ends.
func (f *forwarder) forward(ctx context.Context, conn net.Conn, port int32) error {
	defer conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := f.podio.PortForward(ctx)
	if err != nil {
		return err
	}
	start := &skiffv1.PortForwardStart{Namespace: f.ns, Pod: f.pod, Port: port}
	if err := stream.Send(&skiffv1.PortForwardInput{Start: start}); err != nil {
		return err
	}
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := conn.Read(buf)
			if n > 0 {
				if stream.Send(&skiffv1.PortForwardInput{Data: append([]byte(nil), buf[:n]...)}) != nil {
					return
				}
			}
			if err != nil {
				// The local side is done sending; the pod may still answer.
				stream.Send(&skiffv1.PortForwardInput{Closed: true})
				return
			}
		}
	}()
	for {
		out, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if _, err := conn.Write(out.GetData()); err != nil {
			return nil // the local client went away
		}
	}
}
