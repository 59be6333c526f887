// Package registry is the OCI distribution registry `skiff server` embeds.
// It is go-containerregistry's pkg/registry with storage on disk: blobs
// live under DataDir/blobs by digest, and since pkg/registry keeps
// manifests only in memory, every manifest write is also recorded under
// DataDir/manifests and replayed into it at start.
//
// Config.Auth decides who may do what (ClusterAuth: admins and
// registry-push tokens push, nodes pull, nobody else gets in). Blobs are
// never deleted on request: garbage collection removes what no tag
// reaches once it is older than the GC delay, after every manifest delete
// and periodically, and a manifest whose blobs are missing is refused.
//
// Layout under DataDir:
//
//	blobs/sha256/<hex>                     layers, configs and manifest bodies
//	manifests/<repo>/_refs/<tag|digest>    {"mediaType", "digest"} of what a name points at
//	tmp/                                   uploads in progress
package registry
