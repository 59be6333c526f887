// Command fetchkernel fills the VM tier's kernel cache (make deps runs it),
// so that the tests themselves find the guest kernel on disk and reach no
// package mirror.
//
//	go run ./e2e/vm/guest/fetchkernel .cache/vm
package main

import (
	"fmt"
	"os"

	"github.com/skiff-sh/skiff/internal/qemu"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: fetchkernel CACHE_DIR")
		os.Exit(2)
	}
	k, err := qemu.FetchKernel(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "fetchkernel:", err)
		os.Exit(1)
	}
	fmt.Println("guest kernel", k.Version, "in", k.Image)
}
