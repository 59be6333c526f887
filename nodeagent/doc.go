// Package nodeagent runs the pods bound to one node: it registers the Node
// and keeps its heartbeat, watches the pods whose spec.nodeName is this node,
// and gives each pod a worker that drives the runtime (sandbox, network,
// volumes, images, containers, probes, restarts) towards the pod's spec,
// reporting status back. It also serves logs and exec for its pods and
// exports container usage.
package nodeagent
