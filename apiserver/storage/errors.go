package storage

import (
	"errors"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
)

// Expected outcomes; the API server maps them to gRPC codes in toStatus
// (apiserver/errors.go).
var (
	ErrNotFound  = errors.New("not found")
	ErrExists    = errors.New("already exists")
	ErrConflict  = errors.New("conflict: the object changed since it was read")
	ErrCompacted = errors.New("revision compacted")
	ErrClaimed   = errors.New("claim already held")
)

// IsUnavailable reports whether err is etcd saying it cannot serve now:
// this server's member has no leader (cut off from the others, or an
// election), or a proposal timed out with the leader. It passes; another
// server may serve at once.
func IsUnavailable(err error) bool {
	var ee rpctypes.EtcdError
	return errors.As(err, &ee) && ee.Code() == codes.Unavailable
}
