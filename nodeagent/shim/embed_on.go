//go:build skiff_shim

package shim

import _ "embed"

// embedded is cmd/skiff-shim, built and copied here by `make build` just
// before the skiff binary that carries it.
//
//go:embed skiff-shim
var embedded []byte
