package storage

import (
	"context"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// UpdateWithClaims is Update that also takes the claims in add (which must
// not be held yet) and releases those in release, in the same transaction:
// an object that changes which unique values it holds (a service's node
// ports) never holds one another object holds, nor leaks one it gave up.
// A claim in add that is held already fails with ErrClaimed.
func (s *Store) UpdateWithClaims(ctx context.Context, obj skiffv1.Resource, expect int64, add, release []string) (skiffv1.Resource, error) {
	if len(add) == 0 && len(release) == 0 {
		return s.Update(ctx, obj, expect)
	}
	info, key, err := s.locate(obj)
	if err != nil {
		return nil, err
	}
	data, err := s.encode(info, key, obj)
	if err != nil {
		return nil, err
	}
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", expect)}
	ops := []clientv3.Op{clientv3.OpPut(key, string(data), clientv3.WithIgnoreLease())}
	for _, c := range add {
		ck := claimKey(c)
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(ck), "=", 0))
		ops = append(ops, clientv3.OpPut(ck, key))
	}
	for _, c := range release {
		ops = append(ops, clientv3.OpDelete(claimKey(c)))
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	start := time.Now()
	resp, err := s.etcd.Txn(ctx).If(cmps...).Then(ops...).Else(clientv3.OpGet(key)).Commit()
	s.metrics.observe("update", start)
	if err != nil {
		return nil, fmt.Errorf("storage: update %s: %w", key, err)
	}
	if !resp.Succeeded {
		kvs := resp.Responses[0].GetResponseRange().Kvs
		switch {
		case len(kvs) == 0:
			return nil, ErrNotFound
		case kvs[0].ModRevision != expect:
			return nil, ErrConflict
		}
		return nil, ErrClaimed
	}
	out := proto.Clone(obj).(skiffv1.Resource)
	setRevision(out, resp.Header.Revision)
	return out, nil
}

// HeldClaims returns those of claims that some object holds now.
func (s *Store) HeldClaims(ctx context.Context, claims []string) ([]string, error) {
	if len(claims) == 0 {
		return nil, nil
	}
	ops := make([]clientv3.Op, len(claims))
	for i, c := range claims {
		ops[i] = clientv3.OpGet(claimKey(c), clientv3.WithCountOnly())
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	resp, err := s.etcd.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return nil, fmt.Errorf("storage: read claims: %w", err)
	}
	var held []string
	for i, r := range resp.Responses {
		if r.GetResponseRange().Count > 0 {
			held = append(held, claims[i])
		}
	}
	return held, nil
}

// ListClaims returns every claim held under prefix (e.g. "clusterip/"),
// as the names given to Create, without the object keys that hold them.
func (s *Store) ListClaims(ctx context.Context, prefix string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	base := claimKey("")
	resp, err := s.etcd.Get(ctx, claimKey(prefix), clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("storage: list claims %s: %w", prefix, err)
	}
	out := make([]string, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out = append(out, strings.TrimPrefix(string(kv.Key), base))
	}
	return out, nil
}
