package registry

import (
	"math/big"
	"net/http"
	"strings"

	"github.com/skiff-sh/skiff/pki"
)

// Access is what a caller may do in the registry.
type Access int

const (
	// NoAccess: the caller is not authenticated.
	NoAccess Access = iota
	// Denied: authenticated, but may do nothing here.
	Denied
	// Pull: read manifests, blobs, tags and the catalog.
	Pull
	// Push: also write and delete.
	Push
)

// Authorizer tells who a request comes from and what it may do.
type Authorizer interface {
	Access(r *http.Request) (who string, a Access)
}

// ClusterAuth is the cluster registry's policy, the way k3s's embedded
// mirror and distribution's token auth restrict writes: client
// certificates of the cluster CA (verified by the TLS listener) — admins
// push and delete, nodes only pull — and, for CI, HTTP basic auth whose
// password is a registry-push token (`skiff token create --usage
// registry-push`). Everything else, reads too, is refused: the registry
// holds the cluster's images, which may carry secrets, and on the server
// host any local user could otherwise read them over loopback.
type ClusterAuth struct {
	// Tokens validates registry-push tokens; nil accepts none.
	Tokens *pki.TokenStore
	// Revoked, when set, reports revoked certificates (deleted nodes').
	Revoked func(serial *big.Int) bool
}

// Access implements Authorizer.
func (a ClusterAuth) Access(r *http.Request) (string, Access) {
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		leaf := r.TLS.VerifiedChains[0][0]
		id := pki.IdentityOf(leaf.Subject)
		if a.Revoked != nil && a.Revoked(leaf.SerialNumber) {
			return id.Name, Denied
		}
		if id.Name == pki.Admin {
			return id.Name, Push
		}
		if _, ok := id.NodeName(); ok {
			return id.Name, Pull
		}
		return id.Name, Denied
	}
	if _, password, ok := r.BasicAuth(); ok && a.Tokens != nil && r.TLS != nil {
		info, err := a.Tokens.Validate(strings.TrimSpace(password))
		if err != nil {
			return "", NoAccess
		}
		if info.UsageOrDefault() != pki.UsageRegistryPush {
			return "token:" + info.ID, Denied
		}
		return "token:" + info.ID, Push
	}
	return "", NoAccess
}

// needs is the access a request needs: reads pull, everything else pushes.
func needs(r *http.Request) Access {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return Pull
	}
	return Push
}

// authorize answers a request its caller may not make and reports
// whether it may go on.
func (r *Registry) authorize(w http.ResponseWriter, req *http.Request) (Access, bool) {
	if r.auth == nil {
		return Push, true
	}
	who, got := r.auth.Access(req)
	if got >= needs(req) {
		return got, true
	}
	if got == NoAccess {
		// Docker and go-containerregistry answer a basic challenge with
		// the credentials they hold (docker login, a keychain).
		w.Header().Set("WWW-Authenticate", `Basic realm="skiff registry"`)
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required: a client certificate of the cluster (skiff's config) or a registry-push token as the basic-auth password")
		return got, false
	}
	r.log.Info("registry: request refused", "who", who, "method", req.Method, "path", req.URL.Path)
	msg := who + " may not push or delete: only admins and registry-push tokens may"
	if got == Denied {
		msg = who + " may not use the registry"
	}
	writeError(w, http.StatusForbidden, "DENIED", msg)
	return got, false
}
