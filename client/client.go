package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Client talks to one skiff API server.
type Client struct {
	conn *grpc.ClientConn
	api  skiffv1.ObjectsClient
	addr string
}

// Options tune a connection.
type Options struct {
	// TLS, when set, secures the connection (nil: plain text).
	TLS *tls.Config
	// DialOptions are added to the defaults.
	DialOptions []grpc.DialOption
}

// New connects lazily to the server at addr ("host:port", an https://
// prefix is allowed). Calls fail with codes.Unavailable while the server
// cannot be reached.
//
// addr may name several servers of one cluster, comma-separated: the client
// talks to the first that answers and fails over to another when it goes
// away.
func New(addr string, opts Options) (*Client, error) {
	addrs := SplitServers(addr)
	if len(addrs) == 0 {
		return nil, fmt.Errorf("client: no server address")
	}
	addr = strings.Join(addrs, ",")
	target, resolve := dialTarget(addrs)
	creds := insecure.NewCredentials()
	if opts.TLS != nil {
		creds = credentials.NewTLS(opts.TLS)
	}
	dial := append([]grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64 << 20)),
		grpc.WithKeepaliveParams(Keepalive),
	}, resolve...)
	dial = append(dial, opts.DialOptions...)
	conn, err := grpc.NewClient(target, dial...)
	if err != nil {
		return nil, fmt.Errorf("client: connect to %s: %w", addr, err)
	}
	return &Client{conn: conn, api: objectsAPI{skiffv1.NewObjectsClient(conn), conn}, addr: addr}, nil
}

// Keepalive is how a client finds a server gone silent (its network cut,
// its machine frozen) rather than closed: a connection is given up once
// data it sent stays unacknowledged for Timeout (TCP_USER_TIMEOUT), or an
// idle one's ping goes unanswered Time+Timeout, and a client of several
// servers moves to another. Without it a call over a cut link waits out
// its deadline, and the next one goes the same way, for as long as the
// kernel keeps retransmitting (minutes). Time is grpc's minimum; servers
// must allow pings that often (apiserver does).
var Keepalive = keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 5 * time.Second, PermitWithoutStream: true}

// Addr is the server address this client talks to.
func (c *Client) Addr() string { return c.addr }

// Conn is the underlying connection, for the other services on it.
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// API is the raw generated client.
func (c *Client) API() skiffv1.ObjectsClient { return c.api }

// Close ends the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Typed accessors, one per kind.

func (c *Client) Namespaces() Resource[*skiffv1.Namespace] { return For[*skiffv1.Namespace](c) }
func (c *Client) Nodes() Resource[*skiffv1.Node]           { return For[*skiffv1.Node](c) }
func (c *Client) Pods() Resource[*skiffv1.Pod]             { return For[*skiffv1.Pod](c) }
func (c *Client) Services() Resource[*skiffv1.Service]     { return For[*skiffv1.Service](c) }
func (c *Client) Volumes() Resource[*skiffv1.Volume]       { return For[*skiffv1.Volume](c) }
func (c *Client) ReplicaSets() Resource[*skiffv1.ReplicaSet] {
	return For[*skiffv1.ReplicaSet](c)
}
func (c *Client) ReplicationControllers() Resource[*skiffv1.ReplicationController] {
	return For[*skiffv1.ReplicationController](c)
}
func (c *Client) Autoscalers() Resource[*skiffv1.Autoscaler] {
	return For[*skiffv1.Autoscaler](c)
}

func (c *Client) Deployments() Resource[*skiffv1.Deployment] {
	return For[*skiffv1.Deployment](c)
}
func (c *Client) Events() Resource[*skiffv1.Event] { return For[*skiffv1.Event](c) }
func (c *Client) ConfigMaps() Resource[*skiffv1.ConfigMap] {
	return For[*skiffv1.ConfigMap](c)
}
func (c *Client) Secrets() Resource[*skiffv1.Secret] { return For[*skiffv1.Secret](c) }
func (c *Client) Endpoints() Resource[*skiffv1.Endpoints] {
	return For[*skiffv1.Endpoints](c)
}
func (c *Client) CronJobs() Resource[*skiffv1.CronJob] {
	return For[*skiffv1.CronJob](c)
}
func (c *Client) Jobs() Resource[*skiffv1.Job] { return For[*skiffv1.Job](c) }
func (c *Client) DaemonSets() Resource[*skiffv1.DaemonSet] {
	return For[*skiffv1.DaemonSet](c)
}
func (c *Client) StatefulSets() Resource[*skiffv1.StatefulSet] {
	return For[*skiffv1.StatefulSet](c)
}
func (c *Client) Leases() Resource[*skiffv1.Lease] { return For[*skiffv1.Lease](c) }

// PersistentVolumes are cluster-scoped: pass "" as the namespace.
func (c *Client) PersistentVolumes() Resource[*skiffv1.PersistentVolume] {
	return For[*skiffv1.PersistentVolume](c)
}

// Bind assigns a pending pod to a node (compare-and-swap on the pod when
// resourceVersion is set).
func (c *Client) Bind(ctx context.Context, namespace, name, node, uid, resourceVersion string) (*skiffv1.Pod, error) {
	return c.api.Bind(ctx, &skiffv1.BindRequest{
		Namespace: namespace, Name: name, NodeName: node, Uid: uid, ResourceVersion: resourceVersion,
	})
}

// WaitReady blocks until the server answers a call or ctx ends.
func (c *Client) WaitReady(ctx context.Context) error {
	for {
		_, err := c.api.List(ctx, &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_NAMESPACE})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("client: server %s not ready: %w", c.addr, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
