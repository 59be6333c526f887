package nodeagent

import (
	"context"
	"time"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// gcImages removes images no pod of this node uses, least recently used
// first, when the store holds more than the configured limit.
func (a *Agent) gcImages(context.Context, time.Time) {
	var inUse []string
	for _, p := range a.pods.List() {
		for _, c := range append(append([]*skiffv1.Container(nil), p.GetSpec().GetInitContainers()...), p.GetSpec().GetContainers()...) {
			inUse = append(inUse, c.Image)
		}
	}
	res, err := a.images.GC(inUse, a.cfg.ImageStoreLimit)
	if err != nil {
		a.log.Warn("image garbage collection", "err", err)
		return
	}
	if len(res.Removed) > 0 {
		a.log.Info("removed unused images", "images", res.Removed, "freed_bytes", res.Freed, "usage_bytes", res.Usage)
	}
}
