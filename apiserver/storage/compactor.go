package storage

import (
	"context"
	"log/slog"
	"time"
)

// RunCompactor keeps about keep of history: every interval it notes the
// current revision and compacts to the newest noted revision that is at
// least keep old. It returns when ctx ends.
func (s *Store) RunCompactor(ctx context.Context, interval, keep time.Duration, log *slog.Logger) {
	type sample struct {
		at  time.Time
		rev int64
	}
	var samples []sample
	var compacted int64
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			rev, err := s.CurrentRevision(ctx)
			if err != nil {
				log.Warn("compactor: read revision", "err", err)
				continue
			}
			samples = append(samples, sample{now, rev})
			target := int64(0)
			for len(samples) > 0 && now.Sub(samples[0].at) >= keep {
				target = samples[0].rev
				samples = samples[1:]
			}
			if target <= compacted {
				continue
			}
			if err := s.Compact(ctx, target); err != nil {
				log.Warn("compactor: compact", "rev", target, "err", err)
				continue
			}
			compacted = target
			log.Debug("compacted etcd history", "rev", target)
		}
	}
}
