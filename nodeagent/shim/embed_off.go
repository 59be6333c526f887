//go:build !skiff_shim

package shim

// embedded is empty in a plain `go build`: the agent then looks for
// skiff-shim beside its binary, and runs containers from its own binary
// when there is none.
var embedded []byte
