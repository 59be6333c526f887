package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/membership"
)

// joinEtcdCluster makes the embedded etcd's configuration that of a member
// of a cluster of servers: peers over TLS of the cluster CA, each peer
// checked for the peer name.
func joinEtcdCluster(ec *embed.Config, m *EtcdMember) error {
	peer, err := url.Parse(m.PeerURL)
	if err != nil || peer.Scheme != "https" || peer.Host == "" {
		return fmt.Errorf("apiserver: etcd peer URL %q: want https://IP:port", m.PeerURL)
	}
	if m.Name == "" || m.CertFile == "" || m.KeyFile == "" || m.CAFile == "" {
		return fmt.Errorf("apiserver: an etcd member needs a name, a peer certificate, key and CA")
	}
	ec.Name = m.Name
	ec.ListenPeerUrls, ec.AdvertisePeerUrls = []url.URL{*peer}, []url.URL{*peer}
	ec.PeerTLSInfo = transport.TLSInfo{
		CertFile: m.CertFile, KeyFile: m.KeyFile, TrustedCAFile: m.CAFile,
		ClientCertAuth: true,
	}
	if m.AllowedCN != "" {
		ec.PeerTLSInfo.AllowedCNs = []string{m.AllowedCN}
	}
	ec.InitialCluster = m.InitialCluster
	if ec.InitialCluster == "" {
		ec.InitialCluster = ec.InitialClusterFromName(ec.Name)
	}
	switch m.ClusterState {
	case "", embed.ClusterStateFlagNew:
		ec.ClusterState = embed.ClusterStateFlagNew
	case embed.ClusterStateFlagExisting:
		ec.ClusterState = embed.ClusterStateFlagExisting
	default:
		return fmt.Errorf("apiserver: etcd cluster state %q: want new or existing", m.ClusterState)
	}
	// Members of one cluster must agree on these; the defaults of etcd's
	// own flags, stated so that no server differs.
	ec.TickMs, ec.ElectionMs = 100, 1000
	ec.StrictReconfigCheck = true
	return nil
}

// etcdStartTimeout is how long the embedded etcd may take to be ready: a
// member of several (restarted after the others, say) waits for a quorum.
func etcdStartTimeout(cfg *Config) time.Duration {
	if cfg.EtcdMember != nil {
		return 5 * time.Minute
	}
	return 60 * time.Second
}

// promoteSelf makes the embedded member, added as a learner when its
// server joined, a voting member once it has caught up with the leader
// (etcd forwards the request to it), and waits for that: a learner serves
// no writes or linearizable reads. A member that votes already returns at
// once.
func promoteSelf(ctx context.Context, e *embed.Etcd, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var err error
	for e.Server.IsLearner() {
		pause := 200 * time.Millisecond // not caught up yet, or no leader
		_, err = e.Server.PromoteMember(ctx, uint64(e.Server.MemberID()))
		if err == nil || errors.Is(err, membership.ErrMemberNotLearner) {
			// Promoted: IsLearner turns false once the change is
			// applied here.
			pause = 20 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("apiserver: the embedded etcd member is still a learner after %s (it must catch up with the leader): %v", wait, err)
		case <-time.After(pause):
		}
	}
	return nil
}
