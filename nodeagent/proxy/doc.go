// Package proxy is skiff's kube-proxy: on every node it turns Services
// with a ClusterIP (and NodePort services' node ports) and their Endpoints
// into one nftables table, "ip skiff-proxy", in the manner of kube-proxy's
// nftables mode: a verdict map from ClusterIP . protocol . port to one
// chain per service port, which DNATs to a ready endpoint picked with
// `numgen random mod N` from an anonymous map of ip . port. Lookups cost the
// same at 10 services or 10,000 (no linear chain of rules per service).
//
// Every change rewrites the whole table in one netlink batch (delete and
// add in a single transaction), so a packet sees the old rules or the new,
// never a table half filled. Traffic through a service is masqueraded
// (kube-proxy's --masquerade-all): replies come back through the node that
// translated them, whether the endpoint is another pod on the same bridge,
// on another node, or the client pod itself (hairpin).
package proxy
