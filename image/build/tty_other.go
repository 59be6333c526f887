//go:build !linux

package build

import "os"

func isTerminal(*os.File) bool { return false }
