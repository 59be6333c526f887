//go:build !linux

package runtime

// RunReexecEntry reports false: containers run on Linux only.
func RunReexecEntry() bool { return false }
