package network

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"unicode"
)

// maxVethCandidates bounds the names tried for one pod's host veth. With
// 48 bits of hash per name a second candidate is already never needed in
// practice; the loop exists so a collision is handled rather than fatal.
const maxVethCandidates = 8

// aliasPrefix starts the interface alias of every host veth we make; the
// rest is the pod ID. The alias, not the name, is what proves ownership.
const aliasPrefix = "skiff-pod:"

// maxPodIDLen keeps aliasPrefix+ID under the kernel's IFALIASZ (256).
const maxPodIDLen = 200

func checkPodID(id string) error {
	if id == "" || len(id) > maxPodIDLen {
		return fmt.Errorf("network: pod ID %q: need 1 to %d bytes", id, maxPodIDLen)
	}
	for _, r := range id {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return fmt.Errorf("network: pod ID %q: only printable characters without spaces", id)
		}
	}
	return nil
}

// hostVethName is candidate i of the host veth name for a pod: "skv" and
// 12 hex digits of a hash, 15 characters (IFNAMSIZ-1). Stable across
// restarts, so the agent finds the link again by computing the name.
func hostVethName(podID string, i int) string {
	h := sha256.New()
	h.Write([]byte(podID))
	if i > 0 {
		h.Write([]byte{0})
		h.Write([]byte(strconv.Itoa(i)))
	}
	return "skv" + hex.EncodeToString(h.Sum(nil))[:12]
}

// macForIP derives the pod's MAC from its IP (0a:58 + the four bytes, the
// convention of the CNI bridge plugin and OVN). Because IPAM reuses the
// lowest free address, a new pod may get an address an old pod just had;
// with the MAC following the IP, neighbour caches on the bridge and in
// other pods stay right and traffic does not stall on a stale ARP entry.
func macForIP(ip netip.Addr) net.HardwareAddr {
	b := ip.As4()
	return net.HardwareAddr{0x0a, 0x58, b[0], b[1], b[2], b[3]}
}
