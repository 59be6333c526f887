package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// event is one record of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// skip is a test that skipped, with the lines it logged.
type skip struct {
	pkg, test, reason string
}

type testKey struct{ pkg, test string }

// report prints a test run as it goes and remembers its skips and failures.
type report struct {
	out            io.Writer
	verbose        bool
	pending        map[testKey][]string // output of tests still running
	failedSubtests map[testKey][]string // printed blocks of failed subtests, by parent
	skips          []skip
	failed         []testKey // tests (or packages, test "") that failed
	packages       int
}

func newReport(out io.Writer, verbose bool) *report {
	return &report{out: out, verbose: verbose, pending: map[testKey][]string{}, failedSubtests: map[testKey][]string{}}
}

// read consumes the stream. A line that is not JSON (go vet or build
// messages on a shared stream) is printed as is.
func (r *report) read(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(r.out, "%s\n", line)
			continue
		}
		r.handle(e)
	}
	return sc.Err()
}

func (r *report) handle(e event) {
	k := testKey{e.Package, e.Test}
	switch e.Action {
	case "build-output":
		fmt.Fprint(r.out, e.Output)
	case "output":
		switch {
		case r.verbose:
			fmt.Fprint(r.out, e.Output)
		case e.Test == "":
			r.packageOutput(e.Output)
		}
		if e.Test != "" {
			r.pending[k] = append(r.pending[k], e.Output) // a skip's reason, a failure's log
		}
	case "skip":
		if e.Test == "" {
			r.packages++ // a package without tests
		} else {
			r.skips = append(r.skips, skip{e.Package, e.Test, skipReason(r.pending[k])})
		}
		delete(r.pending, k)
	case "pass":
		if e.Test == "" {
			r.packages++
			r.flushPackage(e.Package, false)
		}
		delete(r.pending, k)
	case "fail":
		r.failed = append(r.failed, k)
		if e.Test == "" {
			r.packages++
			r.flushPackage(e.Package, true)
			return
		}
		if r.verbose {
			delete(r.pending, k) // printed as it came
		} else {
			r.finishFailed(k)
		}
	}
}

// packageOutput prints what go test prints for a package without -v: its
// "ok"/"FAIL" lines and anything the test binary wrote outside a test,
// but not the bare "PASS" of -v mode.
func (r *report) packageOutput(s string) {
	if s == "PASS\n" {
		return
	}
	fmt.Fprint(r.out, s)
}

// flushPackage drops what passing tests of a finished package logged, and
// prints the output of tests that never finished when the package failed
// (a panic or timeout ends the binary in the middle of a test).
func (r *report) flushPackage(pkg string, failed bool) {
	var keys []testKey
	for k := range r.pending {
		if k.pkg == pkg {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].test < keys[j].test })
	for _, k := range keys {
		if failed && !r.verbose && !strings.Contains(k.test, "/") {
			r.finishFailed(k)
		}
		delete(r.pending, k)
	}
	for k := range r.failedSubtests {
		if k.pkg == pkg {
			delete(r.failedSubtests, k)
		}
	}
}

// finishFailed formats a failed test's output the way plain go test does:
// the "--- FAIL" line first, then what it logged, then its failed
// subtests, each level indented by four spaces. (With -json the test
// binary streams logs before the "--- FAIL" line.) A top-level test is
// printed; a subtest waits in its parent's block.
func (r *report) finishFailed(k testKey) {
	var header, body []string
	for _, line := range r.pending[k] {
		switch t := strings.TrimSpace(line); {
		case strings.HasPrefix(t, "=== "):
		case strings.HasPrefix(t, "--- "):
			header = append(header, strings.TrimLeft(line, " "))
		default:
			body = append(body, line)
		}
	}
	delete(r.pending, k)
	indent := strings.Repeat("    ", strings.Count(k.test, "/"))
	var b strings.Builder
	for _, line := range append(header, body...) {
		b.WriteString(indent + line)
	}
	for _, child := range r.failedSubtests[k] {
		b.WriteString(child)
	}
	delete(r.failedSubtests, k)
	if i := strings.LastIndex(k.test, "/"); i >= 0 {
		parent := testKey{k.pkg, k.test[:i]}
		r.failedSubtests[parent] = append(r.failedSubtests[parent], b.String())
		return
	}
	fmt.Fprint(r.out, b.String())
}

// skipReason is what a skipped test logged, without the framing lines.
func skipReason(lines []string) string {
	var parts []string
	for _, line := range lines {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		parts = append(parts, t)
	}
	return strings.Join(parts, " | ")
}

// summary lists the skips and returns the exit status.
func (r *report) summary(allow []allowed) int {
	status := 0
	if len(r.failed) > 0 {
		status = 1
	}
	if r.packages == 0 {
		fmt.Fprintln(r.out, "skipcheck: no package results in the input")
		return 2
	}
	if len(r.skips) == 0 {
		return status
	}
	fmt.Fprintf(r.out, "\nskipped tests (%d):\n", len(r.skips))
	var bad []skip
	for _, s := range r.skips {
		var mark string
		if a, ok := match(allow, s); ok {
			mark = "allowed: " + a.reason
		} else {
			mark = "NOT ALLOWED"
			bad = append(bad, s)
		}
		fmt.Fprintf(r.out, "  %s %s: %s [%s]\n", s.pkg, s.test, s.reason, mark)
	}
	if len(bad) > 0 {
		fmt.Fprintf(r.out, "FAIL: %d test(s) skipped without an entry in the allow-list; "+
			"make the test run (CI is root and has every tool `make deps` installs) or, "+
			"for a reason CI cannot meet, add \"PACKAGE TEST REASON\" to the allow-list\n", len(bad))
		status = 1
	}
	return status
}
