package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"strings"
)

// Well-known identities. A certificate's subject CN is the identity's name;
// its O entries are the groups.
const (
	Admin      = "admin"
	Scheduler  = "scheduler"
	Controller = "controller"
	// APIServer is the identity the API server presents when it dials node
	// agents (logs, exec).
	APIServer = "apiserver"
	// EtcdClient is the identity the embedded etcd admits: only the
	// server's own components get a certificate for it.
	EtcdClient = "etcd-client"
	// NodePrefix starts every node identity: "node:<name>".
	NodePrefix = "node:"
	// NodesGroup is the group every node certificate carries.
	NodesGroup = "skiff:nodes"
	// Viewer may read every object but Secrets, usage and logs, and write
	// nothing (Kubernetes' "view" role): read-only dashboard sessions act
	// as it.
	Viewer = "viewer"
	// DashboardGroup marks the calls the web dashboard makes for a
	// logged-in user, so the audit log tells them from the CLI's.
	DashboardGroup = "skiff:dashboard"
)

// APIServerURI is the URI SAN of the control plane's serving certificate
// (the API server's, which the registry shares). Clients of the API server
// and of the cluster registry pin it, as a kubeconfig pins its server: a
// node's serving certificate, signed by the same CA, never carries it, so
// a node cannot pose as the API server whatever addresses it holds.
const APIServerURI = "skiff://apiserver"

// HasURI reports whether cert carries the URI SAN uri.
func HasURI(cert *x509.Certificate, uri string) bool {
	for _, u := range cert.URIs {
		if u.String() == uri {
			return true
		}
	}
	return false
}

// Identity is who a certificate speaks for.
type Identity struct {
	Name   string
	Groups []string
}

// NodeIdentity is the identity of the node agent of the named node.
func NodeIdentity(node string) Identity {
	return Identity{Name: NodePrefix + node, Groups: []string{NodesGroup}}
}

// NodeName returns the node's name when id is a node identity.
func (id Identity) NodeName() (string, bool) {
	name, ok := strings.CutPrefix(id.Name, NodePrefix)
	return name, ok && name != ""
}

func (id Identity) subject() pkix.Name {
	return pkix.Name{CommonName: id.Name, Organization: append([]string(nil), id.Groups...)}
}

// IdentityOf reads the identity from a certificate's subject.
func IdentityOf(subject pkix.Name) Identity {
	return Identity{Name: subject.CommonName, Groups: append([]string(nil), subject.Organization...)}
}
