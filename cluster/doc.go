// Package cluster makes kind-like skiff clusters on one Linux host: every
// node is a network namespace (with a UTS namespace for its host name) and
// its own data and run directories, running `skiff agent`; the first node
// also runs `skiff server`. Nodes sit on a lab bridge inside a "lab"
// namespace with no route out of the machine; the host reaches the lab
// through one veth with an address on the lab subnet only (no default
// route through it), so the command line on the host talks to the server.
//
//	host ── skiff-lab<N> (172.31.N.254) ─┐
//	                        lab netns: lab0 bridge
//	node-1 netns: eth0 172.31.N.1 ───────┤  server + agent
//	node-2 netns: eth0 172.31.N.2 ───────┘  agent
//
// Processes are started detached (own session), their PIDs and logs kept
// in the cluster's state dir; Stop ends them by PID and Start brings them
// back on the same data (containers keep running across it, as they do
// across any agent restart).
//
// With several servers (Options.Servers, `--servers 3`) the servers are
// machines of their own ahead of the nodes, sharing the embedded etcd
// (servers.go).
//
// Nodes join a running cluster later with AddNode (kind's and k3d's `node
// create`) and leave with RemoveNode; cluster.json then lists the nodes by
// name with their host numbers on the lab subnet, so no node's address
// changes when another goes.
//
// The network is made with netlink from Go rather than `ip` commands: no
// iproute2 dependency, errors that say which step failed, and no fork per
// step (a 3-node network is ~20 netlink calls, a few milliseconds).
//
// With --vm (vm_linux.go) the nodes are QEMU guests instead, with kernels
// of their own, booted through internal/qemu; the server runs in the lab
// namespace on the bridge's own address.
//
// The command lines of server and agent come from ServerArgs and
// AgentArgs, written to env files that deploy/systemd's units read too:
// the Vagrant path (deploy/vagrant) and this one start the same daemons
// with the same flags.
package cluster
