// Package testport hands tests loopback addresses for servers they start
// themselves on fixed ports.
package testport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
)

var (
	mu        sync.Mutex
	handedOut = map[int]bool{}
)

// Loopback is a free 127.0.0.1 address, never the same twice in a test
// process. It is below Linux's ephemeral range (32768–60999), so no
// outgoing connection takes it meanwhile; a port the kernel hands out for
// :0 can come straight back at the next call, and two servers of one
// test got the same one so.
func Loopback(t testing.TB) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	for range 1000 {
		port := 20000 + rand.IntN(12000)
		if handedOut[port] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		l.Close()
		handedOut[port] = true
		return l.Addr().String()
	}
	t.Fatal("testport: no free loopback port between 20000 and 32000")
	return ""
}
