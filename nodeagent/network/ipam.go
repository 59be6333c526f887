package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"golang.org/x/sys/unix"
)

const (
	ipamFile = "ipam.json"
	ipamLock = "ipam.lock"
)

// IPAM hands out the addresses of one pod CIDR, keyed by pod ID, and keeps
// them in StateDir/ipam.json so they survive agent restarts.
//
// Every operation takes an flock on StateDir/ipam.lock, reads the file,
// changes it and writes it back by atomic rename: two IPAM values (or two
// processes) on one directory never hand out the same address, and a crash
// of the agent leaves either the old file or the new one.
//
// It does not fsync. Every holder of an address is a pod's network
// namespace, which does not outlive the machine: updates lost to a power
// failure name only addresses nobody holds any more. Two fsyncs per pod
// under the lock (4–12 ms each on a busy VM disk) serialised a burst of
// pod starts. A file the crash left empty (a rename written before its
// data) reads as no allocations, for the same reason.
//
// The lowest free address is handed out first. That keeps addresses
// compact and predictable and makes a released address come back at once;
// the usual objection (a new pod inheriting stale neighbour entries of the
// old one) is answered by deriving the pod's MAC from its IP (macForIP).
type IPAM struct {
	dir  string
	cidr netip.Prefix
	mu   sync.Mutex // serialises goroutines; the flock serialises processes
}

// ipamState is the on-disk form.
type ipamState struct {
	CIDR        string            `json:"cidr"`
	Allocations map[string]string `json:"allocations"` // pod ID → address
}

// NewIPAM opens (or starts) the IPAM state in dir for cidr. It fails with
// ErrCIDRChanged if dir holds allocations from another CIDR.
func NewIPAM(dir string, cidr netip.Prefix) (*IPAM, error) {
	cidr = cidr.Masked()
	if !cidr.IsValid() || !cidr.Addr().Is4() || cidr.Bits() > 30 {
		return nil, fmt.Errorf("network: ipam: CIDR %v: need an IPv4 prefix of /30 or larger", cidr)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("network: ipam: state dir: %w", err)
	}
	a := &IPAM{dir: dir, cidr: cidr}
	err := a.update(func(*ipamState) (bool, error) { return false, nil })
	if err != nil {
		return nil, err
	}
	return a, nil
}

// Gateway is the CIDR's first address, held by the bridge.
func (a *IPAM) Gateway() netip.Addr { return a.cidr.Addr().Next() }

// CIDR is the prefix addresses come from.
func (a *IPAM) CIDR() netip.Prefix { return a.cidr }

// Allocate returns podID's address, allocating the lowest free one if it
// has none yet. Calling it again for the same ID returns the same address.
func (a *IPAM) Allocate(podID string) (netip.Addr, error) {
	ip, _, err := a.allocate(podID)
	return ip, err
}

// allocate is Allocate that also says whether the address is new.
func (a *IPAM) allocate(podID string) (got netip.Addr, fresh bool, err error) {
	err = a.update(func(st *ipamState) (bool, error) {
		if s, ok := st.Allocations[podID]; ok {
			ip, err := netip.ParseAddr(s)
			if err == nil && a.usable(ip) {
				got = ip
				return false, nil
			}
			// A corrupt entry is dropped and replaced below.
		}
		used := make(map[netip.Addr]bool, len(st.Allocations))
		for id, s := range st.Allocations {
			if id == podID {
				continue
			}
			if ip, err := netip.ParseAddr(s); err == nil {
				used[ip] = true
			}
		}
		for ip := a.Gateway().Next(); a.usable(ip); ip = ip.Next() {
			if !used[ip] {
				got, fresh = ip, true
				st.Allocations[podID] = ip.String()
				return true, nil
			}
		}
		return false, fmt.Errorf("network: ipam: allocate for pod %s in %v (%d in use): %w",
			podID, a.cidr, len(used), ErrExhausted)
	})
	return got, fresh, err
}

// Release frees podID's address. Releasing an ID without one is not an
// error.
func (a *IPAM) Release(podID string) error {
	return a.update(func(st *ipamState) (bool, error) {
		if _, ok := st.Allocations[podID]; !ok {
			return false, nil
		}
		delete(st.Allocations, podID)
		return true, nil
	})
}

// Get returns podID's address, if it has one.
func (a *IPAM) Get(podID string) (netip.Addr, bool, error) {
	all, err := a.List()
	if err != nil {
		return netip.Addr{}, false, err
	}
	ip, ok := all[podID]
	return ip, ok, nil
}

// List returns every allocation, pod ID → address.
func (a *IPAM) List() (map[string]netip.Addr, error) {
	out := map[string]netip.Addr{}
	err := a.update(func(st *ipamState) (bool, error) {
		for id, s := range st.Allocations {
			if ip, err := netip.ParseAddr(s); err == nil {
				out[id] = ip
			}
		}
		return false, nil
	})
	return out, err
}

// Adopt moves into a the allocations that an IPAM kept in legacyDir (an
// older agent's state directory) and removes that state, so that pods
// started before an upgrade keep their addresses and no new pod is given
// one of them. A directory without IPAM state is not an error. Adopting
// twice (a crash in between) merges the same allocations again.
func (a *IPAM) Adopt(legacyDir string) error {
	path := filepath.Join(legacyDir, ipamFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	held, err := (&IPAM{dir: legacyDir, cidr: a.cidr}).List()
	if err != nil {
		return err
	}
	err = a.update(func(st *ipamState) (bool, error) {
		holder := make(map[string]string, len(st.Allocations)) // address → pod ID
		for id, s := range st.Allocations {
			holder[s] = id
		}
		for _, id := range sortedIDs(held) {
			ip := held[id].String()
			if other, ok := holder[ip]; ok && other != id {
				return false, fmt.Errorf("network: ipam: %s is pod %s's in %s but pod %s's in %s", ip, id, legacyDir, other, a.dir)
			}
			if s, ok := st.Allocations[id]; ok && s != ip {
				return false, fmt.Errorf("network: ipam: pod %s has %s in %s but %s in %s", id, ip, legacyDir, s, a.dir)
			}
			if a.usable(held[id]) {
				st.Allocations[id] = ip
				holder[ip] = id
			}
		}
		return len(held) > 0, nil
	})
	if err != nil {
		return err
	}
	for _, name := range []string{ipamFile, ipamLock} {
		if err := os.Remove(filepath.Join(legacyDir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("network: ipam: remove the adopted state: %w", err)
		}
	}
	return nil
}

// usable says whether ip may go to a pod: inside the CIDR, not the network
// address, not the gateway, not the broadcast address.
func (a *IPAM) usable(ip netip.Addr) bool {
	if !ip.IsValid() || !a.cidr.Contains(ip) || ip == a.cidr.Addr() || ip == a.Gateway() {
		return false
	}
	return ip != lastAddr(a.cidr)
}

// lastAddr is the broadcast address of an IPv4 prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// update runs fn on the state under both locks and writes the state back
// if fn says it changed.
func (a *IPAM) update(fn func(*ipamState) (bool, error)) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	lf, err := os.OpenFile(filepath.Join(a.dir, ipamLock), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("network: ipam: lock: %w", err)
	}
	defer lf.Close() // closing drops the flock
	if err := unix.Flock(int(lf.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("network: ipam: lock %s: %w", lf.Name(), err)
	}
	st, err := a.read()
	if err != nil {
		return err
	}
	changed, err := fn(st)
	if err != nil || !changed {
		return err
	}
	return a.write(st)
}

func (a *IPAM) read() (*ipamState, error) {
	path := filepath.Join(a.dir, ipamFile)
	st := &ipamState{CIDR: a.cidr.String(), Allocations: map[string]string{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("network: ipam: read %s: %w", path, err)
	}
	if len(data) == 0 {
		return st, nil
	}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("network: ipam: decode %s: %w", path, err)
	}
	if st.Allocations == nil {
		st.Allocations = map[string]string{}
	}
	if st.CIDR != a.cidr.String() {
		if len(st.Allocations) > 0 {
			return nil, fmt.Errorf("network: ipam: %s has %d allocations in %s, not %v: %w",
				path, len(st.Allocations), st.CIDR, a.cidr, ErrCIDRChanged)
		}
		st.CIDR = a.cidr.String()
	}
	return st, nil
}

func (a *IPAM) write(st *ipamState) error {
	path := filepath.Join(a.dir, ipamFile)
	data, err := json.MarshalIndent(st, "", "  ") // map keys come out sorted
	if err != nil {
		return fmt.Errorf("network: ipam: encode: %w", err)
	}
	tmp, err := os.CreateTemp(a.dir, ipamFile+".tmp*")
	if err != nil {
		return fmt.Errorf("network: ipam: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("network: ipam: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("network: ipam: close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("network: ipam: rename to %s: %w", path, err)
	}
	return nil
}

// sortedIDs returns the keys of m in order, for stable listings.
func sortedIDs[V any](m map[string]V) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
