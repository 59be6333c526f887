// Command skipcheck reads the event stream of `go test -json` on stdin,
// prints it as plain `go test` would (each failing test's output, the
// "ok"/"FAIL" line of every package), then lists every skipped test with
// its reason. It exits non-zero when a test or package failed, or when a
// test skipped without an entry in the allow-list: a skip for a reason CI
// can meet (root, a tool, a cgroup) hides a test that never ran.
//
//	go test -json ./... | go run ./internal/skipcheck -allow internal/skipcheck/allowed.txt
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	allowFile := flag.String("allow", "", "allow-list of skips: `FILE` with lines \"PACKAGE TEST REASON\"")
	verbose := flag.Bool("v", false, "print every test's output as it comes, like go test -v")
	flag.Parse()
	var allow []allowed
	if *allowFile != "" {
		var err error
		if allow, err = readAllowList(*allowFile); err != nil {
			fmt.Fprintln(os.Stderr, "skipcheck:", err)
			os.Exit(2)
		}
	}
	os.Exit(run(os.Stdin, os.Stdout, allow, *verbose))
}

// run reports the stream and returns the exit status.
func run(in io.Reader, out io.Writer, allow []allowed, verbose bool) int {
	r := newReport(out, verbose)
	if err := r.read(in); err != nil {
		fmt.Fprintln(out, "skipcheck:", err)
		return 2
	}
	return r.summary(allow)
}
