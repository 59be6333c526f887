package storage

import (
	"context"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// leaseCache hands out one etcd lease per TTL for many short-lived objects
// (events), granting a new one each minute, so such an object lives between
// ttl and ttl+1min without a lease of its own.
type leaseCache struct {
	mu      sync.Mutex
	byTTL   map[time.Duration]clientv3.LeaseID
	granted map[time.Duration]time.Time
}

func (s *Store) lease(ctx context.Context, ttl time.Duration) (clientv3.LeaseID, error) {
	l := &s.leases
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byTTL == nil {
		l.byTTL, l.granted = map[time.Duration]clientv3.LeaseID{}, map[time.Duration]time.Time{}
	}
	if id, ok := l.byTTL[ttl]; ok && time.Since(l.granted[ttl]) < time.Minute {
		return id, nil
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	resp, err := s.etcd.Grant(ctx, int64(ttl/time.Second))
	if err != nil {
		return 0, err
	}
	l.byTTL[ttl], l.granted[ttl] = resp.ID, time.Now()
	return resp.ID, nil
}
