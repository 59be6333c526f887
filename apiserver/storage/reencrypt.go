package storage

import (
	"context"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skiff-sh/skiff/apiserver/secretbox"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func isNotSealed(err error) bool { return errors.Is(err, secretbox.ErrNotSealed) }

// ReencryptSecrets rewrites every stored Secret not sealed under the
// sealer's primary key (plain ones, older keys) so that it is; each write
// is a compare-and-swap, so a Secret changed meanwhile is left to its
// writer, who sealed it with the primary key anyway. It returns how many
// it rewrote.
func (s *Store) ReencryptSecrets(ctx context.Context) (int, error) {
	if s.sealer == nil {
		return 0, nil
	}
	info, _ := skiffv1.Info(skiffv1.Kind_KIND_SECRET)
	lctx, cancel := context.WithTimeout(ctx, opTimeout)
	resp, err := s.etcd.Get(lctx, prefixKey(info, ""), clientv3.WithPrefix())
	cancel()
	if err != nil {
		return 0, fmt.Errorf("storage: list secrets to re-encrypt: %w", err)
	}
	n := 0
	for _, kv := range resp.Kvs {
		if s.sealer.SealedByPrimary(kv.Value) {
			continue
		}
		obj, err := s.decode(info, kv.Key, kv.Value, kv.ModRevision)
		if err != nil {
			return n, err
		}
		if _, err := s.Update(ctx, obj, kv.ModRevision); err != nil && err != ErrConflict && err != ErrNotFound {
			return n, fmt.Errorf("storage: re-encrypt %s: %w", kv.Key, err)
		}
		n++
	}
	return n, nil
}
