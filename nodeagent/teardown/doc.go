// Package teardown removes what skiff's node agents left on a machine,
// found from what is there — the runtime's state (read through the
// runtime's own API: SandboxIDs, List, Remove, RemoveSandbox), skiff's
// parent cgroups, mountinfo, the network namespace — and never from a
// running server: containers with their supervisors and cgroups, pinned pod
// namespaces, mounts under the agent's directories, the bridge, routes
// and nftables table. `skiff reset` uses it for a machine, `skiff cluster
// delete` for each node of a local cluster.
package teardown
