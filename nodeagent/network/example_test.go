package network_test

import (
	"fmt"
	"net/netip"
	"os"

	"github.com/skiff-sh/skiff/nodeagent/network"
)

func ExampleResolvConf() {
	fmt.Print(string(network.ResolvConf(netip.MustParseAddr("10.89.0.10"), "shop", "cluster.local")))
	// Output:
	// # Managed by skiff.
	// nameserver 10.89.0.10
	// search shop.svc.cluster.local svc.cluster.local cluster.local
	// options ndots:5
}

func ExampleIPAM() {
	dir, cleanup := tempDir()
	defer cleanup()
	ipam, err := network.NewIPAM(dir, netip.MustParsePrefix("10.88.3.0/24"))
	if err != nil {
		panic(err)
	}
	a, _ := ipam.Allocate("pod-a")
	b, _ := ipam.Allocate("pod-b")
	again, _ := ipam.Allocate("pod-a")
	_ = ipam.Release("pod-a")
	c, _ := ipam.Allocate("pod-c")
	fmt.Println(ipam.Gateway(), a, b, again, c)
	// Output: 10.88.3.1 10.88.3.2 10.88.3.3 10.88.3.2 10.88.3.2
}

func tempDir() (string, func()) {
	dir, err := os.MkdirTemp("", "ipam-example")
	if err != nil {
		panic(err)
	}
	return dir, func() { os.RemoveAll(dir) }
}
