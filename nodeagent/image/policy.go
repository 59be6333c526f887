package image

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
)

// PullPolicy says when Pull goes to the registry.
type PullPolicy string

const (
	PullAlways       PullPolicy = "Always"       // always ask the registry; download only what changed
	PullIfNotPresent PullPolicy = "IfNotPresent" // use the local image when there is one
	PullNever        PullPolicy = "Never"        // local only; ErrNotPresent otherwise
)

// DefaultPullPolicy is Kubernetes' default: Always for :latest (or no
// tag), IfNotPresent otherwise.
func DefaultPullPolicy(ref string) PullPolicy {
	r, err := name.ParseReference(ref)
	if err != nil {
		return PullIfNotPresent
	}
	if t, ok := r.(name.Tag); ok && t.TagStr() == "latest" {
		return PullAlways
	}
	return PullIfNotPresent
}

func (p PullPolicy) validate() error {
	switch p {
	case PullAlways, PullIfNotPresent, PullNever:
		return nil
	}
	return fmt.Errorf("unknown pull policy %q (want Always, IfNotPresent or Never)", string(p))
}
