package watchcache

import (
	"sort"
	"strings"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// entry is one object of a kind's store under its key: namespace/name, or
// name for a kind without namespaces. Keys sort as etcd's do. wire is the
// object encoded as a list item (listwire.EncodeItem), made once when it
// is stored so that lists send it as it is, not marshalled per list (it
// costs the object's encoded size again: ~250 B a pod); nil if that
// failed.
type entry struct {
	key  string
	obj  skiffv1.Resource
	wire []byte
}

// chunkSize bounds a chunk: an insert moves at most this many entries, a
// snapshot copies one pointer per chunk (600 at 150,000 pods).
const chunkSize = 256

// chunk is a sorted run of entries. Once a snapshot shares it, it is
// never written again: the live store copies it first.
type chunk struct {
	owner   uint64 // the store generation that may write it
	entries []entry
}

// store is the current objects of a kind sorted by key, as a list of
// chunks; a B-tree of depth two. Its snapshots are O(chunks) to take
// (copy-on-write by generation, as a B-tree's Clone), so a list reads a
// frozen view without holding up the events that change the store. Not
// safe for concurrent use; a snapshot is read-only and may be read from
// any goroutine.
type store struct {
	gen    uint64
	chunks []*chunk
	n      int
}

// snapshot is a frozen view of a store.
type snapshot struct {
	chunks []*chunk
	n      int
}

// snapshot freezes the store's current contents: later writes copy each
// chunk they touch first.
func (s *store) snapshot() *snapshot {
	s.gen++
	return &snapshot{chunks: append([]*chunk(nil), s.chunks...), n: s.n}
}

// find is the chunk a key belongs in (the last whose first key is at or
// before it; 0 when it is before every chunk) and its place there.
func find(chunks []*chunk, key string) (ci, i int, found bool) {
	ci = sort.Search(len(chunks), func(j int) bool { return chunks[j].entries[0].key > key }) - 1
	if ci < 0 {
		return 0, 0, false
	}
	es := chunks[ci].entries
	i = sort.Search(len(es), func(j int) bool { return es[j].key >= key })
	return ci, i, i < len(es) && es[i].key == key
}

// writable returns chunk ci, copied first if a snapshot may share it.
func (s *store) writable(ci int) *chunk {
	c := s.chunks[ci]
	if c.owner != s.gen {
		c = &chunk{owner: s.gen, entries: append(make([]entry, 0, chunkSize), c.entries...)}
		s.chunks[ci] = c
	}
	return c
}

// get is the object under key.
func (s *store) get(key string) (skiffv1.Resource, bool) {
	if len(s.chunks) == 0 {
		return nil, false
	}
	ci, i, ok := find(s.chunks, key)
	if !ok {
		return nil, false
	}
	return s.chunks[ci].entries[i].obj, true
}

// set stores obj (and its wire encoding) under key, returning what it
// replaced.
func (s *store) set(key string, obj skiffv1.Resource, wire []byte) (prev skiffv1.Resource) {
	if len(s.chunks) == 0 {
		s.chunks = []*chunk{{owner: s.gen, entries: append(make([]entry, 0, chunkSize), entry{key, obj, wire})}}
		s.n = 1
		return nil
	}
	ci, i, ok := find(s.chunks, key)
	c := s.writable(ci)
	if ok {
		prev = c.entries[i].obj
		c.entries[i] = entry{key, obj, wire}
		return prev
	}
	c.entries = append(c.entries, entry{})
	copy(c.entries[i+1:], c.entries[i:])
	c.entries[i] = entry{key, obj, wire}
	s.n++
	if len(c.entries) >= chunkSize {
		// Split in halves, each with room to grow.
		half := len(c.entries) / 2
		right := &chunk{owner: s.gen, entries: append(make([]entry, 0, chunkSize), c.entries[half:]...)}
		clear(c.entries[half:])
		c.entries = c.entries[:half]
		s.chunks = append(s.chunks, nil)
		copy(s.chunks[ci+2:], s.chunks[ci+1:])
		s.chunks[ci+1] = right
	}
	return nil
}

// remove drops key, returning what it held.
func (s *store) remove(key string) skiffv1.Resource {
	if len(s.chunks) == 0 {
		return nil
	}
	ci, i, ok := find(s.chunks, key)
	if !ok {
		return nil
	}
	c := s.writable(ci)
	prev := c.entries[i].obj
	c.entries = append(c.entries[:i], c.entries[i+1:]...)
	c.entries[:cap(c.entries)][len(c.entries)] = entry{}
	s.n--
	if len(c.entries) == 0 {
		s.chunks = append(s.chunks[:ci], s.chunks[ci+1:]...)
		s.chunks[:cap(s.chunks)][len(s.chunks)] = nil
	}
	return prev
}

// appendSorted adds an entry after every other (the initial list comes in
// key order): no search, chunks filled to three quarters.
func (s *store) appendSorted(key string, obj skiffv1.Resource, wire []byte) {
	if n := len(s.chunks); n == 0 || len(s.chunks[n-1].entries) >= chunkSize*3/4 {
		s.chunks = append(s.chunks, &chunk{owner: s.gen, entries: make([]entry, 0, chunkSize)})
	}
	last := s.chunks[len(s.chunks)-1]
	last.entries = append(last.entries, entry{key, obj, wire})
	s.n++
}

// scan calls fn on the entries from key from on, in key order, while their
// keys start with prefix, until fn returns false.
func (sn *snapshot) scan(from, prefix string, fn func(e *entry) bool) {
	if len(sn.chunks) == 0 {
		return
	}
	ci, i, _ := find(sn.chunks, from)
	for ; ci < len(sn.chunks); ci, i = ci+1, 0 {
		es := sn.chunks[ci].entries
		for ; i < len(es); i++ {
			if !strings.HasPrefix(es[i].key, prefix) {
				if es[i].key < prefix {
					continue
				}
				return
			}
			if !fn(&es[i]) {
				return
			}
		}
	}
}

// countFrom is how many keys from from on start with prefix.
func (sn *snapshot) countFrom(from, prefix string) int64 {
	if len(sn.chunks) == 0 {
		return 0
	}
	var n int64
	ci, i, _ := find(sn.chunks, from)
	for ; ci < len(sn.chunks); ci, i = ci+1, 0 {
		es := sn.chunks[ci].entries
		// A whole chunk inside the prefix counts at once.
		if i == 0 && len(es) > 0 && strings.HasPrefix(es[0].key, prefix) && strings.HasPrefix(es[len(es)-1].key, prefix) {
			n += int64(len(es))
			continue
		}
		for ; i < len(es); i++ {
			if strings.HasPrefix(es[i].key, prefix) {
				n++
			} else if es[i].key > prefix {
				return n
			}
		}
	}
	return n
}
