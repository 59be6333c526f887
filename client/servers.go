package client

import (
	"net"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
)

// SplitServers reads a server address that may name several servers of
// one cluster, comma-separated ("https://10.0.0.1:6443,10.0.0.2:6443"),
// into host:port addresses.
func SplitServers(addr string) []string {
	var out []string
	for _, a := range strings.Split(addr, ",") {
		a = strings.TrimSpace(a)
		a = strings.TrimPrefix(strings.TrimPrefix(a, "https://"), "http://")
		if a != "" {
			out = append(out, a)
		}
	}
	return out
}

// serversScheme names the resolver of a client of several servers.
const serversScheme = "skiff-servers"

// dialTarget is what grpc dials for addrs: the address itself for one
// server; for several, a resolver that hands grpc all of them, so the
// connection goes to the first that answers and moves to another when
// that one goes away (grpc's pick_first). Each address keeps its own
// host as the name its certificate is checked against.
func dialTarget(addrs []string) (string, []grpc.DialOption) {
	if len(addrs) == 1 {
		return addrs[0], nil
	}
	r := manual.NewBuilderWithScheme(serversScheme)
	state := resolver.State{}
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			host = a
		}
		state.Addresses = append(state.Addresses, resolver.Address{Addr: a, ServerName: host})
	}
	r.InitialState(state)
	return serversScheme + ":///" + strings.Join(addrs, ","), []grpc.DialOption{grpc.WithResolvers(r)}
}
