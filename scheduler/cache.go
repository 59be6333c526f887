package scheduler

import (
	"maps"
	"sync"

	"github.com/skiff-sh/skiff/labels"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// cache is what every node holds: the pods bound to it, as the informer
// reports them, plus the pods this scheduler has assumed onto it and whose
// Bind has not shown up in the informer yet. Counting assumed pods is what
// keeps two quick decisions from filling the same room twice.
//
// The scheduling loop holds mu for a whole decision (filter, score, assume),
// so a decision sees one consistent state; informer handlers take it briefly.
type cache struct {
	mu    sync.Mutex
	nodes map[string]*NodeInfo // by name, including nodes only pods name
	list  []*NodeInfo          // nodes with a Node object, in arrival order
	pods  map[string]*cachedPod
	// volumeNodes counts, per volume key, the pods using it on each node.
	volumeNodes map[string]map[string]int
	// byLabel indexes pods by each "key=value" label they carry, so the
	// inter-pod plugins visit only the pods one equality of a selector
	// admits instead of every pod of every node.
	byLabel map[string]map[string]*cachedPod
	// byTermLabel indexes the pods with inter-pod affinity terms by the
	// "key=value" pairs their terms' selectors require (one equality or In
	// requirement per term), so an incoming pod meets only the terms its
	// own labels may satisfy; termsUnindexed holds those with a term that
	// requires no such pair.
	byTermLabel    map[string]map[string]*cachedPod
	termsUnindexed map[string]*cachedPod
}

type cachedPod struct {
	info    *PodInfo
	node    string
	assumed bool
}

func newCache() *cache {
	return &cache{
		nodes:          map[string]*NodeInfo{},
		pods:           map[string]*cachedPod{},
		volumeNodes:    map[string]map[string]int{},
		byLabel:        map[string]map[string]*cachedPod{},
		byTermLabel:    map[string]map[string]*cachedPod{},
		termsUnindexed: map[string]*cachedPod{},
	}
}

// setNode adds or replaces a node object.
func (c *cache) setNode(node *skiffv1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	name := node.GetMetadata().GetName()
	ni, ok := c.nodes[name]
	if !ok {
		ni = NewNodeInfo(nil)
		ni.Name = name
		c.nodes[name] = ni
	}
	ni.SetNode(node)
	if ni.index < 0 {
		ni.index = len(c.list)
		c.list = append(c.list, ni)
	}
}

// removeNode drops a node from scheduling; its pods stay counted until they
// go, so a node that comes back is not taken as empty.
func (c *cache) removeNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ni, ok := c.nodes[name]
	if !ok || ni.index < 0 {
		return
	}
	last := c.list[len(c.list)-1]
	c.list[ni.index] = last
	last.index = ni.index
	c.list = c.list[:len(c.list)-1]
	ni.index = -1
	ni.SetNode(nil)
	if len(ni.Pods) == 0 {
		delete(c.nodes, name)
	}
}

// setPod records a pod the informer reports bound; it confirms an
// assumption when there is one. Terminal pods are dropped: they hold nothing.
// It reports whether a pod was removed (room may have been freed), and
// whether one that was not there (not even assumed) was added.
func (c *cache) setPod(pod *skiffv1.Pod) (freed, added bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := podKey(pod)
	node := pod.GetSpec().GetNodeName()
	if node == "" || isTerminal(pod) {
		return c.removeLocked(key), false
	}
	if cp, ok := c.pods[key]; ok && cp.node == node && cp.info.UID == pod.GetMetadata().GetUid() &&
		maps.Equal(cp.info.Labels, pod.GetMetadata().GetLabels()) &&
		cp.info.Terminating == (pod.GetMetadata().GetDeletionTimestamp() != nil) {
		// Same pod on the same node with the same labels: keep the PodInfo
		// (requests cannot change once bound, so this is the common path).
		cp.assumed = false
		cp.info.Pod = pod
		return false, false
	}
	cp, had := c.pods[key]
	wasHere := had && cp.node == node && cp.info.UID == pod.GetMetadata().GetUid()
	freed = c.removeLocked(key)
	c.addLocked(NewPodInfo(pod), node, false)
	return freed, !wasHere
}

// removePod forgets a pod that was deleted; it reports whether it held room.
func (c *cache) removePod(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.removeLocked(key)
}

// assumeLocked counts pi on node before its Bind is confirmed.
func (c *cache) assumeLocked(pi *PodInfo, node string) {
	c.removeLocked(pi.Key)
	c.addLocked(pi, node, true)
}

// forget undoes an assumption after a failed Bind. A pod the informer has
// meanwhile reported bound is left alone.
func (c *cache) forget(pi *PodInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cp, ok := c.pods[pi.Key]; ok && cp.assumed && cp.info.UID == pi.UID {
		c.removeLocked(pi.Key)
	}
}

func (c *cache) addLocked(pi *PodInfo, node string, assumed bool) {
	ni, ok := c.nodes[node]
	if !ok {
		ni = NewNodeInfo(nil)
		ni.Name = node
		c.nodes[node] = ni
	}
	ni.AddPod(pi)
	cp := &cachedPod{info: pi, node: node, assumed: assumed}
	c.pods[pi.Key] = cp
	for k, v := range pi.Labels {
		lk := k + "=" + v
		if c.byLabel[lk] == nil {
			c.byLabel[lk] = map[string]*cachedPod{}
		}
		c.byLabel[lk][pi.Key] = cp
	}
	keys, unindexed := pi.terms.indexKeys()
	for _, lk := range keys {
		if c.byTermLabel[lk] == nil {
			c.byTermLabel[lk] = map[string]*cachedPod{}
		}
		c.byTermLabel[lk][pi.Key] = cp
	}
	if unindexed {
		c.termsUnindexed[pi.Key] = cp
	}
	for _, v := range pi.Volumes {
		if c.volumeNodes[v] == nil {
			c.volumeNodes[v] = map[string]int{}
		}
		c.volumeNodes[v][node]++
	}
}

func (c *cache) removeLocked(key string) bool {
	cp, ok := c.pods[key]
	if !ok {
		return false
	}
	delete(c.pods, key)
	for k, v := range cp.info.Labels {
		lk := k + "=" + v
		if m := c.byLabel[lk]; m != nil {
			delete(m, key)
			if len(m) == 0 {
				delete(c.byLabel, lk)
			}
		}
	}
	keys, _ := cp.info.terms.indexKeys()
	for _, lk := range keys {
		if m := c.byTermLabel[lk]; m != nil {
			delete(m, key)
			if len(m) == 0 {
				delete(c.byTermLabel, lk)
			}
		}
	}
	delete(c.termsUnindexed, key)
	if ni, ok := c.nodes[cp.node]; ok {
		ni.RemovePod(key)
		if ni.index < 0 && len(ni.Pods) == 0 {
			delete(c.nodes, cp.node)
		}
	}
	for _, v := range cp.info.Volumes {
		m := c.volumeNodes[v]
		if m[cp.node]--; m[cp.node] <= 0 {
			delete(m, cp.node)
		}
		if len(m) == 0 {
			delete(c.volumeNodes, v)
		}
	}
	return true
}

// volumeNodesLocked lists the nodes where pods use the volume.
func (c *cache) volumeNodesLocked(key string) []string {
	m := c.volumeNodes[key]
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	return out
}

// nodeOf returns where the cache has the pod, and whether it is only assumed.
func (c *cache) nodeOf(key string) (node string, assumed, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp, ok := c.pods[key]
	if !ok {
		return "", false, false
	}
	return cp.node, cp.assumed, true
}

// eachPodMaybeMatchingLocked visits the pods sel may match: those indexed
// under the equality (or In) requirement of sel with the fewest pods, or
// every pod when sel has none.
func (c *cache) eachPodMaybeMatchingLocked(sel labels.Selector, fn func(*PodInfo, *NodeInfo)) {
	var best []map[string]*cachedPod
	bestLen := -1
	for _, r := range sel {
		if r.Op != labels.Equals && r.Op != labels.In {
			continue
		}
		var sets []map[string]*cachedPod
		n := 0
		for _, v := range r.Values {
			if m := c.byLabel[r.Key+"="+v]; m != nil {
				sets = append(sets, m)
				n += len(m)
			}
		}
		if bestLen < 0 || n < bestLen {
			best, bestLen = sets, n
		}
	}
	visit := func(cp *cachedPod) {
		if ni := c.nodes[cp.node]; ni != nil {
			fn(cp.info, ni)
		}
	}
	if bestLen < 0 {
		for _, cp := range c.pods {
			visit(cp)
		}
		return
	}
	// The values of one In requirement are distinct, and a pod has one
	// value per key, so the sets do not overlap.
	for _, m := range best {
		for _, cp := range m {
			visit(cp)
		}
	}
}

// cacheCluster is the Cluster the pre-filters see during a decision; the
// caller holds the cache's lock.
type cacheCluster struct {
	c          *cache
	volumes    func(key string) (*skiffv1.Volume, bool)
	pvs        func(name string) (*skiffv1.PersistentVolume, bool)
	namespaces func(name string) (*skiffv1.Namespace, bool)
}

func (cc cacheCluster) EachPodMaybeMatching(sel labels.Selector, fn func(*PodInfo, *NodeInfo)) {
	cc.c.eachPodMaybeMatchingLocked(sel, fn)
}

func (cc cacheCluster) EachPodWithTermsFor(p *PodInfo, fn func(*PodInfo, *NodeInfo)) {
	c := cc.c
	var sets []map[string]*cachedPod
	for k, v := range p.Labels {
		if m := c.byTermLabel[k+"="+v]; m != nil {
			sets = append(sets, m)
		}
	}
	if len(c.termsUnindexed) > 0 {
		sets = append(sets, c.termsUnindexed)
	}
	// A pod whose terms are indexed under two of p's labels is in two sets.
	var seen map[string]bool
	if len(sets) > 1 {
		seen = map[string]bool{}
	}
	for _, m := range sets {
		for key, cp := range m {
			if seen != nil {
				if seen[key] {
					continue
				}
				seen[key] = true
			}
			if ni := c.nodes[cp.node]; ni != nil {
				fn(cp.info, ni)
			}
		}
	}
}

func (cc cacheCluster) NamespaceLabels(name string) (map[string]string, bool) {
	ns, ok := cc.namespaces(name)
	return ns.GetMetadata().GetLabels(), ok
}

func (cc cacheCluster) Volume(key string) (*skiffv1.Volume, bool) { return cc.volumes(key) }
func (cc cacheCluster) VolumeNodes(key string) []string           { return cc.c.volumeNodesLocked(key) }
func (cc cacheCluster) PersistentVolume(name string) (*skiffv1.PersistentVolume, bool) {
	return cc.pvs(name)
}

// isAssumed reports whether the pod with this key and UID is assumed.
func (c *cache) isAssumed(key, uid string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp, ok := c.pods[key]
	return ok && cp.assumed && cp.info.UID == uid
}
