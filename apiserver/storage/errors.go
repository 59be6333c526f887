package storage

import "errors"

// Expected outcomes; the API server maps them to gRPC codes in toStatus
// (apiserver/errors.go).
var (
	ErrNotFound  = errors.New("not found")
	ErrExists    = errors.New("already exists")
	ErrConflict  = errors.New("conflict: the object changed since it was read")
	ErrCompacted = errors.New("revision compacted")
	ErrClaimed   = errors.New("claim already held")
)
