package apiserver

import (
	"context"
	"errors"
	"net"
	"regexp"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
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
}

// NewJoinService signs with ca and keeps tokens in the store.
func NewJoinService(ca *pki.CA, tokens *pki.TokenStore) *JoinService {
	return &JoinService{ca: ca, tokens: tokens}
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
	return j.sign(req.GetNodeName(), req)
}

func (j *JoinService) RenewNode(ctx context.Context, req *skiffv1.SignNodeRequest) (*skiffv1.SignNodeResponse, error) {
	id, _ := auth.FromContext(ctx)
	node, ok := id.NodeName()
	if !ok {
		return nil, status.Errorf(codes.PermissionDenied, "%s is not a node: only nodes renew node certificates", id.Name)
	}
	// The identity is the caller's, whatever the request says.
	return j.sign(node, req)
}

func (j *JoinService) sign(node string, req *skiffv1.SignNodeRequest) (*skiffv1.SignNodeResponse, error) {
	now := time.Now()
	client, err := j.ca.SignCSR(req.GetClientCsr(), pki.NodeIdentity(node), 0, now)
	if err != nil {
		return nil, invalid("clientCsr: %v", err)
	}
	var ips []net.IP
	var names []string
	for _, a := range req.GetServingAddresses() {
		if ip := net.ParseIP(a); ip != nil {
			ips = append(ips, ip)
		} else {
			names = append(names, a)
		}
	}
	serving, err := j.ca.SignServingCSR(req.GetServingCsr(), node, ips, names, 0, now)
	if err != nil {
		return nil, invalid("servingCsr: %v", err)
	}
	return &skiffv1.SignNodeResponse{ClientChain: client, ServingChain: serving, Ca: j.ca.CertPEM()}, nil
}

func (j *JoinService) Create(ctx context.Context, req *skiffv1.CreateTokenRequest) (*skiffv1.CreateTokenResponse, error) {
	if req.GetTtlSeconds() < 0 {
		return nil, invalid("ttlSeconds: must not be negative")
	}
	tok, err := j.tokens.Create(time.Duration(req.GetTtlSeconds())*time.Second, req.GetDescription())
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
	out := &skiffv1.TokenInfo{Id: i.ID, Description: i.Description, Created: timestamppb.New(i.Created), Revoked: !i.Revoked.IsZero()}
	if !i.Expires.IsZero() {
		out.Expires = timestamppb.New(i.Expires)
	}
	return out
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
