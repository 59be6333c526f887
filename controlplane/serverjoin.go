package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/apiserver/auth"
	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// serverJoinService adds servers to the embedded etcd cluster and hands
// them the cluster's shared secrets, for callers holding the server token.
type serverJoinService struct {
	skiffv1.UnimplementedServerJoinServer
	pki *serverPKI
	// external: the servers share an external etcd (--etcd-endpoints).
	external bool
	// etcd is set once the API server's etcd is up (calls cannot arrive
	// before: the API server does not serve until then).
	etcd atomic.Pointer[clientv3.Client]
}

func (s *serverJoinService) register(g *grpc.Server) { skiffv1.RegisterServerJoinServer(g, s) }

// JoinServer implements skiffv1.ServerJoinServer.
func (s *serverJoinService) JoinServer(ctx context.Context, req *skiffv1.JoinServerRequest) (*skiffv1.JoinServerResponse, error) {
	if s.pki == nil {
		return nil, status.Error(codes.FailedPrecondition, "this server runs without TLS (--insecure): servers cannot join it")
	}
	if err := s.checkServerToken(ctx); err != nil {
		return nil, err
	}
	if req.GetName() == "" || strings.ContainsAny(req.GetName(), "=, /") {
		return nil, status.Error(codes.InvalidArgument, "name: required, without '=', ',', '/' or spaces")
	}
	cli := s.etcd.Load()
	if cli == nil {
		return nil, status.Error(codes.Unavailable, "this server's etcd is not up yet; try again")
	}
	ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if req.GetPeerUrl() == "" {
		// The joiner shares this server's external etcd: the secrets are
		// all it needs.
		if !s.external {
			return nil, status.Error(codes.InvalidArgument, "peerUrl: required: this server's etcd is embedded, so a joining server's becomes a member of it (drop --etcd-endpoints)")
		}
		return s.secrets(ectx, cli, &skiffv1.JoinServerResponse{})
	}
	if s.external {
		return nil, status.Error(codes.InvalidArgument, "this server uses an external etcd (--etcd-endpoints): join it with the same --etcd-endpoints")
	}
	if u, err := url.Parse(req.GetPeerUrl()); err != nil || u.Scheme != "https" || u.Port() == "" {
		return nil, status.Errorf(codes.InvalidArgument, "peerUrl %q: want https://IP:port", req.GetPeerUrl())
	}
	list, err := cli.MemberList(ectx)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "etcd members: %v", err)
	}
	members := list.Members
	known := false
	for _, m := range members {
		if m.Name == req.GetName() || containsString(m.PeerURLs, req.GetPeerUrl()) {
			if m.Name != "" && m.Name != req.GetName() || !containsString(m.PeerURLs, req.GetPeerUrl()) {
				return nil, status.Errorf(codes.AlreadyExists, "a server named %s or at %s is a member already (as %s at %v): run `skiff server remove %s` on a remaining server first", req.GetName(), req.GetPeerUrl(), m.Name, m.PeerURLs, m.Name)
			}
			known = true // a joiner that stopped before its member started asks again
		}
	}
	if !known {
		// A learner first, as k3s adds servers: it counts towards no
		// quorum until it has caught up and promoted itself (see
		// apiserver's startEtcd), so a joiner that never starts cannot
		// stall the cluster, and the next one need not wait for it.
		added, err := cli.MemberAddAsLearner(ectx, []string{req.GetPeerUrl()})
		if err != nil {
			return nil, status.Errorf(codes.FailedPrecondition, "add etcd member %s: %v (a cluster that lost its quorum takes no members)", req.GetName(), err)
		}
		members = added.Members
	}
	var initial []string
	for _, m := range members {
		name := m.Name
		if name == "" && containsString(m.PeerURLs, req.GetPeerUrl()) {
			name = req.GetName()
		}
		if name == "" {
			// Added but not started yet: etcd cannot start a member
			// without its name, so the joiner must wait for it.
			return nil, status.Errorf(codes.Unavailable, "the etcd member at %v was added but has not started yet; start that server first, then try again", m.PeerURLs)
		}
		for _, u := range m.PeerURLs {
			initial = append(initial, name+"="+u)
		}
	}
	sort.Strings(initial)
	return s.secrets(ectx, cli, &skiffv1.JoinServerResponse{InitialCluster: strings.Join(initial, ",")})
}

// secrets fills in what every server of the cluster shares.
func (s *serverJoinService) secrets(ctx context.Context, cli *clientv3.Client, resp *skiffv1.JoinServerResponse) (*skiffv1.JoinServerResponse, error) {
	var err error
	dir := s.pki.dir
	if resp.CaCert, err = os.ReadFile(filepath.Join(dir, pki.CACertFile)); err != nil {
		return nil, status.Errorf(codes.Internal, "CA: %v", err)
	}
	if resp.CaKey, err = os.ReadFile(filepath.Join(dir, pki.CAKeyFile)); err != nil {
		return nil, status.Errorf(codes.Internal, "CA key: %v", err)
	}
	if resp.SecretKeys, err = os.ReadFile(filepath.Join(dir, secretKeysFile)); err != nil {
		return nil, status.Errorf(codes.Internal, "Secret keys: %v", err)
	}
	if b, err := os.ReadFile(s.pki.tokenFile); err == nil {
		if info, err := s.pki.tokens.Validate(strings.TrimSpace(string(b))); err == nil && info.UsageOrDefault() == pki.UsageJoin {
			resp.AgentToken = strings.TrimSpace(string(b))
			if !info.Expires.IsZero() {
				resp.AgentTokenExpires = timestamppb.New(info.Expires)
			}
		}
	}
	// Once the member is added the cluster waits for it to start: only
	// a local (serializable) read answers now.
	if got, err := cli.Get(ctx, serversPrefix, clientv3.WithPrefix(), clientv3.WithSerializable()); err == nil {
		for _, kv := range got.Kvs {
			resp.Servers = append(resp.Servers, strings.TrimPrefix(string(kv.Key), serversPrefix))
		}
	}
	return resp, nil
}

// checkServerToken demands the server token as the call's bearer: an
// admin certificate does not hand out the CA key.
func (s *serverJoinService) checkServerToken(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get(pki.AuthorizationHeader) {
		scheme, tok, ok := strings.Cut(v, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			continue
		}
		info, err := s.pki.tokens.Validate(strings.TrimSpace(tok))
		if err == nil && info.UsageOrDefault() == pki.UsageServer {
			return nil
		}
	}
	return status.Errorf(codes.PermissionDenied, "joining a server takes the server token (<first server's data dir>/%s) as --token-file", ServerTokenFile)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// serverTokens authenticates server tokens as the admin they amount to
// (they hand out the CA key) and every other token as join tokens do.
type serverTokens struct {
	store *pki.TokenStore
	join  auth.TokenAuthenticator
}

// AuthenticateToken implements auth.TokenAuthenticator.
func (t serverTokens) AuthenticateToken(ctx context.Context, token string) (pki.Identity, error) {
	info, err := t.store.Validate(token)
	if err == nil && info.UsageOrDefault() == pki.UsageServer {
		return pki.Identity{Name: pki.Admin, Groups: []string{"skiff:server-token", "token:" + info.ID}}, nil
	}
	return t.join.AuthenticateToken(ctx, token)
}

// errNotMember is RemoveServer's answer for a name no member has.
var errNotMember = errors.New("no etcd member has that name")

// removeMember removes the named server's etcd member.
func removeMember(ctx context.Context, cli *clientv3.Client, name string) error {
	list, err := cli.MemberList(ctx)
	if err != nil {
		return fmt.Errorf("etcd members: %w", err)
	}
	var names []string
	for _, m := range list.Members {
		names = append(names, m.Name)
		if m.Name == name {
			if _, err := cli.MemberRemove(ctx, m.ID); err != nil {
				return fmt.Errorf("remove etcd member %s: %w", name, err)
			}
			return nil
		}
	}
	return fmt.Errorf("%w: %s (members: %s)", errNotMember, name, strings.Join(names, ", "))
}
