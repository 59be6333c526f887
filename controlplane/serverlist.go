package controlplane

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/apiserver"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Health of a server in the list.
const (
	ServerHealthy   = "Healthy"
	ServerDown      = "Down"
	ServerUnstarted = "Unstarted"
)

// serverRegistration is the value of a server's key under serversPrefix
// (the key is its API address).
type serverRegistration struct {
	Name    string    `json:"name"`
	Address string    `json:"address"`
	Started time.Time `json:"started"`
	// DNS is where the server serves cluster DNS (IP:PORT, reachable from
	// other machines), once it answers; empty when it serves none. The
	// kube-dns Endpoints list these (see dnsEndpoints).
	DNS string `json:"dns,omitempty"`
	// Metrics is the server's /metrics HOST:PORT; empty when off.
	Metrics string `json:"metrics,omitempty"`
}

// serverListService answers `skiff server list` from the registrations
// and the embedded etcd's member list.
type serverListService struct {
	skiffv1.UnimplementedServersServer
	// name is this server's; external: the servers share an external etcd,
	// whose members are no server's.
	name     string
	external bool
	etcd     atomic.Pointer[clientv3.Client]
}

func (s *serverListService) register(g *grpc.Server) { skiffv1.RegisterServersServer(g, s) }

// List implements skiffv1.ServersServer.
func (s *serverListService) List(ctx context.Context, _ *skiffv1.ListServersRequest) (*skiffv1.ListServersResponse, error) {
	cli := s.etcd.Load()
	if cli == nil {
		return nil, status.Error(codes.Unavailable, "this server's etcd client is not up yet; try again")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rs, err := readRegistrations(ctx, cli)
	if err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	var members []member
	var leader uint64
	if !s.external {
		ml, err := cli.MemberList(ctx)
		if err != nil {
			return nil, status.Errorf(codes.Unavailable, "etcd member list: %v", err)
		}
		for _, m := range ml.Members {
			members = append(members, member{id: m.ID, name: m.Name, peerURLs: m.PeerURLs})
		}
		if eps := cli.Endpoints(); len(eps) > 0 {
			if st, err := cli.Status(ctx, eps[0]); err == nil {
				leader = st.Leader
			}
		}
	}
	return &skiffv1.ListServersResponse{Servers: mergeServers(rs, members, leader), AnsweredBy: s.name}, nil
}

// member is what the list needs of an etcd member.
type member struct {
	id       uint64
	name     string // empty until the member started
	peerURLs []string
}

// readRegistrations reads every server's registration from etcd.
func readRegistrations(ctx context.Context, cli *clientv3.Client) ([]serverRegistration, error) {
	resp, err := cli.Get(ctx, serversPrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("reading the server registrations from etcd: %w", err)
	}
	rs := make([]serverRegistration, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		rs = append(rs, parseRegistration(strings.TrimPrefix(string(kv.Key), serversPrefix), kv.Value))
	}
	return rs, nil
}

// parseRegistration reads a registration; a server of an earlier version
// registered its bare address.
func parseRegistration(addr string, value []byte) serverRegistration {
	var r serverRegistration
	if json.Unmarshal(value, &r) != nil || r.Address == "" {
		r = serverRegistration{Address: addr}
	}
	return r
}

// mergeServers lines the registrations up with the etcd members by name:
// a member with a registration is a Healthy server, one without a Down
// one (its server stopped, or is cut off past its registration's lease),
// one never started Unstarted; a registration without a member is a
// server on an external etcd. Sorted by name, then address.
func mergeServers(regs []serverRegistration, members []member, leader uint64) []*skiffv1.ServerInfo {
	byName := map[string]serverRegistration{}
	for _, r := range regs {
		byName[r.Name] = r
	}
	matched := map[string]bool{}
	var out []*skiffv1.ServerInfo
	for _, m := range members {
		info := &skiffv1.ServerInfo{Name: m.name, EtcdMember: fmt.Sprintf("%x", m.id), Leader: m.id == leader && leader != 0}
		r, ok := byName[m.name]
		switch {
		case m.name == "":
			info.Health = ServerUnstarted
			info.Name = strings.Join(m.peerURLs, ",")
		case ok:
			matched[m.name] = true
			info.Health, info.Address = ServerHealthy, r.Address
			info.MetricsAddress, info.DnsAddress = r.Metrics, r.DNS
			if !r.Started.IsZero() {
				info.Started = timestamppb.New(r.Started)
			}
		default:
			info.Health = ServerDown
		}
		out = append(out, info)
	}
	for _, r := range regs {
		if r.Name != "" && matched[r.Name] {
			continue
		}
		info := &skiffv1.ServerInfo{Name: r.Name, Address: r.Address, Health: ServerHealthy, MetricsAddress: r.Metrics, DnsAddress: r.DNS}
		if !r.Started.IsZero() {
			info.Started = timestamppb.New(r.Started)
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Address < out[j].Address
	})
	return out
}

// loneServerName names a server that is not one of several: its embedded
// etcd member's name, or on an external etcd its host's.
func loneServerName(cfg Config) string {
	if len(cfg.EtcdEndpoints) == 0 {
		return apiserver.EmbeddedEtcdName
	}
	host, _ := os.Hostname()
	return strings.ToLower(host)
}
