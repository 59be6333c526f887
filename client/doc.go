// Package client is the Go client of the skiff API: typed calls over gRPC for
// every kind, conflict retries, and an informer (list, then watch from the
// listed revision, relist when the revision was compacted) that every daemon
// and the command line use. Informers read through a ListerWatcher: the
// gRPC connection, or, in the API server's own process, the server itself
// (NewSharedInformersFrom), whose watch cache's objects they then share.
package client
