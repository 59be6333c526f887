package controlplane

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/apiserver"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// usagePrefix holds each node's latest usage report, under a lease, so
// every server answers `top` and the autoscaler alike whichever server
// the node reports to. Outside the /skiff/ object keys, as serversPrefix.
const usagePrefix = "/skiff-control/usage/"

// usageLeaseTTL bounds how long a report outlives its node in etcd; each
// server's own window (a minute) decides what it answers.
const usageLeaseTTL = 90 * time.Second

// sharedUsage is the Usage service of a server that may be one of
// several: a report is written to etcd and every server mirrors the
// reports there into its in-memory UsageService, which answers Get.
type sharedUsage struct {
	skiffv1.UnimplementedUsageServer
	local *apiserver.UsageService
	// shared: other servers may answer too, so reports go through etcd;
	// etcd is set once they can.
	shared bool
	etcd   atomic.Pointer[clientv3.Client]
	log    *slog.Logger

	mu      sync.Mutex
	lease   clientv3.LeaseID
	granted time.Time
}

func newSharedUsage(local *apiserver.UsageService, log *slog.Logger) *sharedUsage {
	return &sharedUsage{local: local, log: log}
}

func (u *sharedUsage) register(g *grpc.Server) { skiffv1.RegisterUsageServer(g, u) }

// Report implements skiffv1.UsageServer: this server keeps the report at
// once, and etcd carries it to the others.
func (u *sharedUsage) Report(ctx context.Context, r *skiffv1.UsageReport) (*skiffv1.UsageReportResponse, error) {
	resp, err := u.local.Report(ctx, r)
	if err != nil {
		return nil, err
	}
	cli := u.etcd.Load()
	if cli == nil {
		return resp, nil // etcd client not connected yet: kept locally
	}
	data, err := proto.Marshal(r)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	lease, err := u.leaseFor(pctx, cli)
	if err == nil {
		_, err = cli.Put(pctx, usagePrefix+r.GetNode(), string(data), clientv3.WithLease(lease))
	}
	if err != nil {
		// The reading is this server's still; the next report retries.
		u.log.Debug("sharing a usage report failed", "node", r.GetNode(), "err", err)
	}
	return resp, nil
}

// Get implements skiffv1.UsageServer.
func (u *sharedUsage) Get(ctx context.Context, q *skiffv1.UsageQuery) (*skiffv1.UsageSnapshot, error) {
	return u.local.Get(ctx, q)
}

// leaseFor hands out one lease for the reports of half a minute, so a
// report costs one etcd write, not a grant as well.
func (u *sharedUsage) leaseFor(ctx context.Context, cli *clientv3.Client) (clientv3.LeaseID, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.lease != 0 && time.Since(u.granted) < usageLeaseTTL/3 {
		return u.lease, nil
	}
	resp, err := cli.Grant(ctx, int64(usageLeaseTTL/time.Second))
	if err != nil {
		return 0, err
	}
	u.lease, u.granted = resp.ID, time.Now()
	return u.lease, nil
}

// mirror copies every report in etcd into the local service, then
// follows new ones, until ctx ends; a broken watch lists again.
func (u *sharedUsage) mirror(ctx context.Context, cli *clientv3.Client) {
	u.etcd.Store(cli)
	for ctx.Err() == nil {
		if err := u.follow(ctx, cli); err != nil && ctx.Err() == nil {
			u.log.Warn("following usage reports in etcd failed; listing again", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (u *sharedUsage) follow(ctx context.Context, cli *clientv3.Client) error {
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	resp, err := cli.Get(lctx, usagePrefix, clientv3.WithPrefix())
	cancel()
	if err != nil {
		return err
	}
	for _, kv := range resp.Kvs {
		u.take(ctx, kv.Key, kv.Value)
	}
	wctx, stop := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer stop()
	for wr := range cli.Watch(wctx, usagePrefix, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1)) {
		if err := wr.Err(); err != nil {
			return err
		}
		for _, ev := range wr.Events {
			if ev.Type == clientv3.EventTypePut {
				u.take(ctx, ev.Kv.Key, ev.Kv.Value)
			}
		}
	}
	return ctx.Err()
}

// take keeps one stored report; one that does not decode is skipped.
func (u *sharedUsage) take(ctx context.Context, key, value []byte) {
	r := &skiffv1.UsageReport{}
	if err := proto.Unmarshal(value, r); err != nil || r.GetNode() != strings.TrimPrefix(string(key), usagePrefix) {
		u.log.Warn("skipping a stored usage report that does not decode", "key", string(key), "err", err)
		return
	}
	_, _ = u.local.Report(ctx, r)
}
