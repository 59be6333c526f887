package image

import (
	"fmt"
	"sort"
)

// GCResult says what a garbage collection did.
type GCResult struct {
	Removed []string // references of removed images, in removal order
	Freed   int64    // bytes
	Usage   int64    // bytes held afterwards
}

// GC removes images nobody uses, least recently used first, while the
// store holds more than maxBytes. inUse names the images running
// containers need, by reference, manifest digest or image ID; they, and
// layers a pull in flight relies on, are kept even if that leaves the
// store above maxBytes.
func (s *Store) GC(inUse []string, maxBytes int64) (GCResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := GCResult{Usage: s.ix.usage()}
	if res.Usage <= maxBytes {
		return res, nil
	}
	keep := map[*imageRecord]bool{}
	for _, q := range inUse {
		for _, r := range s.match(q) {
			keep[r] = true
		}
	}
	var victims []*imageRecord
	for _, r := range s.ix.Images {
		if !keep[r] {
			victims = append(victims, r)
		}
	}
	sort.Slice(victims, func(i, j int) bool {
		a, b := victims[i], victims[j]
		if !a.LastUsed.Equal(b.LastUsed) {
			return a.LastUsed.Before(b.LastUsed)
		}
		return a.Ref < b.Ref
	})
	for _, r := range victims {
		if res.Usage <= maxBytes {
			break
		}
		delete(s.ix.Images, r.Ref)
		res.Freed += s.sweep([]*imageRecord{r})
		res.Removed = append(res.Removed, r.Ref)
		res.Usage = s.ix.usage()
		s.log.Info("image: garbage-collected", "ref", r.Ref, "lastUsed", r.LastUsed)
	}
	if len(res.Removed) > 0 {
		if err := s.ix.save(s.indexFile()); err != nil {
			return res, fmt.Errorf("image: gc: %w", err)
		}
	}
	return res, nil
}
