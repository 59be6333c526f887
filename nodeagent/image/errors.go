package image

import (
	"errors"
	"fmt"
)

// ErrNotPresent is returned when the pull policy is Never and the image is
// not in the store, and by lookups of unknown images.
var ErrNotPresent = errors.New("image not present")

// ErrInUse is returned by Remove for an image the caller says is in use.
var ErrInUse = errors.New("image in use")

// UnsafeEntryError reports a layer entry that unpacking refuses: path
// traversal, a link leaving the layer, a device node.
type UnsafeEntryError struct {
	Entry  string // name as written in the tar
	Reason string
}

func (e *UnsafeEntryError) Error() string {
	return fmt.Sprintf("unsafe layer entry %q: %s", e.Entry, e.Reason)
}
