package apiserver

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"regexp"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/apiserver/auth"
	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// JoinService signs the certificates of joining nodes and manages join
// tokens. Who may call what is the auth package's business: SignNode takes
// a join token, RenewNode a node's own certificate, Tokens an admin.
type JoinService struct {
	skiffv1.UnimplementedJoinServer
	skiffv1.UnimplementedTokensServer
	ca     *pki.CA
	tokens *pki.TokenStore
	nodes  *pki.NodeStore
	// listNodes reads the registered Nodes, whose addresses a node's
	// serving certificate may carry.
	listNodes func(ctx context.Context) ([]*skiffv1.Node, error)
}

// NewJoinService signs with ca, keeps tokens in the store and node
// passwords and issued certificates in nodes; listNodes reads the Nodes
// (Server.ListNodes).
func NewJoinService(ca *pki.CA, tokens *pki.TokenStore, nodes *pki.NodeStore, listNodes func(ctx context.Context) ([]*skiffv1.Node, error)) *JoinService {
	return &JoinService{ca: ca, tokens: tokens, nodes: nodes, listNodes: listNodes}
}

// Register adds the Join and Tokens services to a server.
func (j *JoinService) Register(s *grpc.Server) {
	skiffv1.RegisterJoinServer(s, j)
	skiffv1.RegisterTokensServer(s, j)
}

var nodeNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

func (j *JoinService) SignNode(ctx context.Context, req *skiffv1.SignNodeRequest) (*skiffv1.SignNodeResponse, error) {
	if n := req.GetNodeName(); len(n) > 253 || !nodeNameRE.MatchString(n) {
		return nil, invalid("nodeName: %q is not a valid node name (lower-case letters, digits, '-' and '.')", n)
	}
	if req.GetNodePassword() == "" {
		return nil, invalid("nodePassword: required (agents make one at their first join and keep it in <data dir>/pki/%s)", pki.NodePasswordFile)
	}
	if err := j.nodes.Claim(req.GetNodeName(), req.GetNodePassword()); err != nil {
		if errors.Is(err, pki.ErrNodePassword) {
			return nil, status.Errorf(codes.PermissionDenied, "node name %q was joined by another machine (its node password differs); pick another --node-name, or delete that Node first (skiff delete node %s)", req.GetNodeName(), req.GetNodeName())
		}
		return nil, status.Errorf(codes.Internal, "join: %v", err)
	}
	return j.sign(ctx, req.GetNodeName(), req)
}

func (j *JoinService) RenewNode(ctx context.Context, req *skiffv1.SignNodeRequest) (*skiffv1.SignNodeResponse, error) {
	id, _ := auth.FromContext(ctx)
	node, ok := id.NodeName()
	if !ok {
		return nil, status.Errorf(codes.PermissionDenied, "%s is not a node: only nodes renew node certificates", id.Name)
	}
	if !j.nodes.Known(node) {
		return nil, status.Errorf(codes.PermissionDenied, "node %s was deleted: its certificates are revoked; join again with a new token", node)
	}
	// The identity is the caller's, whatever the request says.
	return j.sign(ctx, node, req)
}

func (j *JoinService) sign(ctx context.Context, node string, req *skiffv1.SignNodeRequest) (*skiffv1.SignNodeResponse, error) {
	now := time.Now()
	client, err := j.ca.SignCSR(req.GetClientCsr(), pki.NodeIdentity(node), 0, now)
	if err != nil {
		return nil, invalid("clientCsr: %v", err)
	}
	ips, err := j.servingIPs(ctx, node)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "read nodes: %v", err)
	}
	serving, err := j.ca.SignServingCSR(req.GetServingCsr(), node, ips, nil, 0, now)
	if err != nil {
		return nil, invalid("servingCsr: %v", err)
	}
	var issued []*x509.Certificate
	for _, chain := range [][]byte{client, serving} {
		c, err := pki.ParseCert(chain)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "sign: %v", err)
		}
		issued = append(issued, c)
	}
	if err := j.nodes.Issued(node, issued...); err != nil {
		return nil, status.Errorf(codes.Internal, "record certificates: %v", err)
	}
	return &skiffv1.SignNodeResponse{ClientChain: client, ServingChain: serving, Ca: j.ca.CertPEM()}, nil
}

// servingIPs are the addresses the server puts in a node's serving
// certificate, whatever the node asked for: the address its request came
// from (the TCP connection proves it), and the IP addresses of its
// registered Node (status addresses, agent endpoint) that no other Node
// claims. Never a DNS name: node names are the node's choice, and a name
// like a public registry's must not become a SAN.
func (j *JoinService) servingIPs(ctx context.Context, node string) ([]net.IP, error) {
	var out []net.IP
	seen := map[string]bool{}
	add := func(ip net.IP) {
		if ip != nil && !ip.IsUnspecified() && !seen[ip.String()] {
			seen[ip.String()] = true
			out = append(out, ip)
		}
	}
	if p, ok := peer.FromContext(ctx); ok {
		if tcp, ok := p.Addr.(*net.TCPAddr); ok {
			add(tcp.IP)
		}
	}
	nodes, err := j.listNodes(ctx)
	if err != nil {
		return nil, err
	}
	claimed := map[string]string{} // address → another node
	var own []net.IP
	for _, n := range nodes {
		for _, ip := range nodeIPs(n) {
			if n.GetMetadata().GetName() == node {
				own = append(own, ip)
			} else {
				claimed[ip.String()] = n.GetMetadata().GetName()
			}
		}
	}
	for _, ip := range own {
		if _, taken := claimed[ip.String()]; !taken {
			add(ip)
		}
	}
	return out, nil
}

// nodeIPs are the IP addresses a Node registered.
func nodeIPs(n *skiffv1.Node) []net.IP {
	var out []net.IP
	for _, a := range n.GetStatus().GetAddresses() {
		if ip := net.ParseIP(a.GetAddress()); ip != nil {
			out = append(out, ip)
		}
	}
	if host, _, err := net.SplitHostPort(n.GetStatus().GetAgentEndpoint()); err == nil {
		if ip := net.ParseIP(host); ip != nil {
			out = append(out, ip)
		}
	}
	return out
}

func (j *JoinService) Create(ctx context.Context, req *skiffv1.CreateTokenRequest) (*skiffv1.CreateTokenResponse, error) {
	if req.GetTtlSeconds() < 0 {
		return nil, invalid("ttlSeconds: must not be negative")
	}
	usage := req.GetUsage()
	if usage == "" {
		usage = pki.UsageJoin
	}
	if !pki.ValidUsage(usage) {
		return nil, invalid("usage: %q is not one of %s", usage, strings.Join(pki.Usages(), ", "))
	}
	tok, err := j.tokens.CreateFor(usage, time.Duration(req.GetTtlSeconds())*time.Second, req.GetDescription())
	if err != nil {
		return nil, status.Errorf(codes.Internal, "create token: %v", err)
	}
	infos, _ := j.tokens.List()
	resp := &skiffv1.CreateTokenResponse{Token: tok.String()}
	for _, i := range infos {
		if i.ID == tok.ID {
			resp.Info = tokenInfo(i)
		}
	}
	return resp, nil
}

func (j *JoinService) List(ctx context.Context, _ *skiffv1.ListTokensRequest) (*skiffv1.ListTokensResponse, error) {
	infos, err := j.tokens.List()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "list tokens: %v", err)
	}
	resp := &skiffv1.ListTokensResponse{}
	for _, i := range infos {
		resp.Tokens = append(resp.Tokens, tokenInfo(i))
	}
	return resp, nil
}

func (j *JoinService) Revoke(ctx context.Context, req *skiffv1.RevokeTokenRequest) (*skiffv1.RevokeTokenResponse, error) {
	if err := j.tokens.Revoke(req.GetId()); err != nil {
		if errors.Is(err, pki.ErrTokenNotFound) {
			return nil, status.Errorf(codes.NotFound, "token %q not found; `skiff token list` shows the tokens", req.GetId())
		}
		return nil, status.Errorf(codes.Internal, "revoke token: %v", err)
	}
	return &skiffv1.RevokeTokenResponse{}, nil
}

func tokenInfo(i pki.TokenInfo) *skiffv1.TokenInfo {
	out := &skiffv1.TokenInfo{Id: i.ID, Description: i.Description, Created: timestamppb.New(i.Created), Revoked: !i.Revoked.IsZero(), Usage: i.UsageOrDefault()}
	if !i.Expires.IsZero() {
		out.Expires = timestamppb.New(i.Expires)
	}
	return out
}

// ListNodes reads every Node as stored, for the join service.
func (s *Server) ListNodes(ctx context.Context) ([]*skiffv1.Node, error) {
	objs, _, err := s.store.List(ctx, skiffv1.Kind_KIND_NODE, "")
	if err != nil {
		return nil, err
	}
	out := make([]*skiffv1.Node, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.(*skiffv1.Node))
	}
	return out, nil
}

// GetPod reads a pod as stored, for the authorizer's node restriction.
func (s *Server) GetPod(ctx context.Context, namespace, name string) (*skiffv1.Pod, error) {
	info, _ := skiffv1.Info(skiffv1.Kind_KIND_POD)
	ns := namespaceOf(info, namespace)
	obj, err := s.store.Get(ctx, skiffv1.Kind_KIND_POD, ns, name)
	if err != nil {
		return nil, toStatus(err, ref{info: info, namespace: ns, name: name})
	}
	return obj.(*skiffv1.Pod), nil
}
