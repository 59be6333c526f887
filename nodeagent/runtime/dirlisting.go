package runtime

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// listingMinAge is how long a directory must have stayed unchanged before
// a listing of it is reused. File times come from a coarse clock: two
// changes within one tick leave the same mtime, and a listing read between
// them would otherwise pass for current.
const listingMinAge = time.Second

// dirListing keeps the names in a directory for as long as its mtime says
// nothing was added or removed: every pod worker lists its own containers
// each second, and reading the whole directory each time made that cost
// grow with the square of the pods.
type dirListing struct {
	path string

	mu    sync.Mutex
	names []string // shared with callers: never modified, only replaced
	stat  os.FileInfo
}

// read returns the directory's entry names, sorted.
func (d *dirListing) read() ([]string, error) {
	fi, err := os.Stat(d.path)
	if err != nil {
		return nil, fmt.Errorf("runtime: list: %w", err)
	}
	d.mu.Lock()
	if d.stat != nil && os.SameFile(d.stat, fi) && d.stat.ModTime().Equal(fi.ModTime()) {
		names := d.names
		d.mu.Unlock()
		return names, nil
	}
	d.mu.Unlock()
	readAt := time.Now()
	ents, err := os.ReadDir(d.path)
	if err != nil {
		return nil, fmt.Errorf("runtime: list: %w", err)
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	d.mu.Lock()
	d.names, d.stat = names, nil
	if readAt.Sub(fi.ModTime()) > listingMinAge {
		d.stat = fi
	}
	d.mu.Unlock()
	return names, nil
}
