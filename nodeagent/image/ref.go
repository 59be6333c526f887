package image

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// ParseReference parses an image reference the way Docker does (docker.io
// and :latest by default). Hosts in insecure may be reached over plain HTTP.
func ParseReference(ref string, insecure []string) (name.Reference, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("image: parse reference %q: %w", ref, err)
	}
	if isInsecureHost(r.Context().RegistryStr(), insecure) {
		r, err = name.ParseReference(ref, name.Insecure)
		if err != nil {
			return nil, fmt.Errorf("image: parse reference %q: %w", ref, err)
		}
	}
	return r, nil
}

// Transport wraps base so that plain HTTP is used only for loopback hosts
// and hosts listed in insecure. go-containerregistry would otherwise fall
// back to HTTP for private (RFC 1918) addresses and *.local names too.
func Transport(base http.RoundTripper, insecure []string) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &schemeGuard{base: base, insecure: slices.Clone(insecure)}
}

type schemeGuard struct {
	base     http.RoundTripper
	insecure []string
}

func (g *schemeGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !isLoopbackHost(req.URL.Host) && !isInsecureHost(req.URL.Host, g.insecure) {
		return nil, fmt.Errorf("image: refusing plain HTTP to %s: not loopback and not an insecure registry", req.URL.Host)
	}
	return g.base.RoundTrip(req)
}

// isInsecureHost matches "host:port" against the list, which may hold
// either "host:port" or a bare "host" (any port).
func isInsecureHost(hostport string, insecure []string) bool {
	host := hostOnly(hostport)
	for _, h := range insecure {
		if strings.EqualFold(h, hostport) || strings.EqualFold(h, host) {
			return true
		}
	}
	return false
}

func isLoopbackHost(hostport string) bool {
	host := hostOnly(hostport)
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.Trim(hostport, "[]")
}
