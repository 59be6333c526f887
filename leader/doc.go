// Package leader runs a function only while this process holds an etcd
// lease-backed election for a name, so that of several schedulers or
// controller managers exactly one acts. When the leader stops it resigns at
// once; when it dies its lease expires after the TTL and a waiting candidate
// takes over.
package leader
