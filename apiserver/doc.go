// Package apiserver is skiff's API server: a gRPC service over etcd that
// validates, defaults and stores every object, streams changes (watch), binds
// pods to nodes, deletes pods gracefully and namespaces with their contents.
// Storage details live in apiserver/storage; validation in
// apiserver/validation.
package apiserver
