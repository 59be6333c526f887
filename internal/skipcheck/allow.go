package main

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"strings"
)

// allowed is one entry of the allow-list: a test (a path.Match pattern
// over "Test/subtest" names) of a package that may skip, and why.
type allowed struct {
	pkg, test, reason string
}

// readAllowList reads lines "PACKAGE TEST REASON..."; PACKAGE is the
// import path relative to the module (as in ./PACKAGE), "#" starts a
// comment line. Every entry needs a reason.
func readAllowList(file string) ([]allowed, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []allowed
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 3 {
			return nil, fmt.Errorf("%s:%d: want \"PACKAGE TEST REASON\", got %q", file, n, line)
		}
		if _, err := path.Match(fields[1], ""); err != nil {
			return nil, fmt.Errorf("%s:%d: test pattern %q: %v", file, n, fields[1], err)
		}
		out = append(out, allowed{pkg: fields[0], test: fields[1], reason: strings.Join(fields[2:], " ")})
	}
	return out, sc.Err()
}

// match finds the entry that allows a skip. Packages are matched by their
// path below the module: an entry "e2e" matches ".../skiff/e2e".
func match(allow []allowed, s skip) (allowed, bool) {
	for _, a := range allow {
		if s.pkg != a.pkg && !strings.HasSuffix(s.pkg, "/"+a.pkg) {
			continue
		}
		if ok, _ := path.Match(a.test, s.test); ok {
			return a, true
		}
	}
	return allowed{}, false
}
