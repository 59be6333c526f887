package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// configSummary is what State and Stats need of a container's config.
type configSummary struct {
	sandboxID  string
	name       string
	attempt    int
	labels     map[string]string
	createdAt  time.Time
	logPath    string
	cgroupPath string
	liveDir    string
}

// configCache keeps the part of each container's config file that State
// and Stats read, for as long as the file is the same one: config files are only
// ever replaced whole (writeJSON renames a new file into place). State
// runs every second for every container, and decoding the whole spec each
// time was most of what it cost.
type configCache struct {
	mu sync.Mutex
	m  map[string]cachedConfig // by container directory
}

type cachedConfig struct {
	file os.FileInfo
	sum  configSummary
}

func (c *configCache) summary(dir string) (configSummary, error) {
	fi, err := os.Stat(filepath.Join(dir, configFile))
	if err != nil {
		c.forget(dir)
		return configSummary{}, fmt.Errorf("runtime: read %s: %w", configFile, err)
	}
	c.mu.Lock()
	e, ok := c.m[dir]
	c.mu.Unlock()
	if ok && os.SameFile(e.file, fi) && e.file.ModTime().Equal(fi.ModTime()) && e.file.Size() == fi.Size() {
		return e.sum, nil
	}
	// Replaced between the Stat and this read, the entry holds the old
	// file's identity with the new content: the next Stat reads it again.
	var cfg containerConfig
	if err := readJSON(dir, configFile, &cfg); err != nil {
		return configSummary{}, err
	}
	sum := configSummary{
		sandboxID: cfg.Spec.SandboxID, name: cfg.Spec.Name, attempt: cfg.Spec.Attempt, labels: cfg.Spec.Labels,
		createdAt: cfg.CreatedAt, logPath: cfg.LogPath, cgroupPath: cfg.CgroupPath, liveDir: cfg.RunDir,
	}
	if sum.liveDir == "" {
		sum.liveDir = dir
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]cachedConfig{}
	}
	c.m[dir] = cachedConfig{file: fi, sum: sum}
	c.mu.Unlock()
	return sum, nil
}

func (c *configCache) forget(dir string) {
	c.mu.Lock()
	delete(c.m, dir)
	c.mu.Unlock()
}
