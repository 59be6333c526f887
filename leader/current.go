package leader

import (
	"context"
	"errors"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrNoLeader is Current's answer while nobody leads the election.
var ErrNoLeader = errors.New("leader: no leader")

// Current is the identity of the candidate leading the election name now
// (the oldest campaign's, as etcd's elections decide).
func Current(ctx context.Context, cli *clientv3.Client, name string) (string, error) {
	resp, err := cli.Get(ctx, keyPrefix+name+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return "", err
	}
	if len(resp.Kvs) == 0 {
		return "", ErrNoLeader
	}
	return string(resp.Kvs[0].Value), nil
}
