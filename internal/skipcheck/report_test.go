package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The streams in testdata were recorded from `go test -json` of small
// packages: one with a passing, a skipping and a failing test with
// subtests; one with a panicking test and a package that does not build.

func runFile(t *testing.T, name string, allow []allowed) (string, int) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out strings.Builder
	status := run(f, &out, allow, false)
	return out.String(), status
}

func TestPrintsLikePlainGoTest(t *testing.T) {
	out, status := runFile(t, "subtests.json", nil)
	if status != 1 {
		t.Errorf("status %d, want 1 (a test failed)", status)
	}
	// Plain go test's layout: header first, logs and failed subtests
	// indented below it; nothing of the passing test.
	want := "--- FAIL: TestFail (0.00s)\n" +
		"    a_test.go:8: before\n" +
		"    --- FAIL: TestFail/sub (0.00s)\n" +
		"        a_test.go:9: sub broke\n" +
		"FAIL\n" +
		"FAIL\texample.com/sc\t"
	if !strings.HasPrefix(out, want) {
		t.Errorf("output:\n%s\nwant it to start with:\n%s", out, want)
	}
	for _, unwanted := range []string{"quiet", "=== RUN", "PASS\n"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("output has %q (plain go test leaves it out):\n%s", unwanted, out)
		}
	}
}

func TestListsSkipsAndFailsOnUnlisted(t *testing.T) {
	out, _ := runFile(t, "subtests.json", []allowed{{pkg: "example.com/sc", test: "TestSkipRoot", reason: "reviewed"}})
	for _, want := range []string{
		"example.com/sc TestSkipRoot: a_test.go:6: needs root: namespaces [allowed: reviewed]",
		"example.com/sc TestFail/subskip: a_test.go:10: no dig [NOT ALLOWED]",
		"FAIL: 1 test(s) skipped without an entry",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// -v prints everything as it comes and still gives each skip its reason.
func TestVerboseKeepsSkipReasons(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "subtests.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out strings.Builder
	run(f, &out, nil, true)
	for _, want := range []string{"=== RUN   TestPass", "a_test.go:5: quiet", "TestSkipRoot: a_test.go:6: needs root: namespaces [NOT ALLOWED]"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if n := strings.Count(out.String(), "a_test.go:9: sub broke"); n != 1 {
		t.Errorf("the failure is printed %d times:\n%s", n, out.String())
	}
}

func TestAllowListMatching(t *testing.T) {
	allow := []allowed{
		{pkg: "nodeagent/runtime", test: "TestEscape/sysrq", reason: "r1"},
		{pkg: "e2e", test: "TestMulti/*", reason: "r2"},
	}
	cases := []struct {
		pkg, test string
		want      bool
	}{
		{"github.com/skiff-sh/skiff/nodeagent/runtime", "TestEscape/sysrq", true},
		{"github.com/skiff-sh/skiff/nodeagent/runtime", "TestEscape/mount", false},
		{"github.com/skiff-sh/skiff/other/nodeagent/runtimex", "TestEscape/sysrq", false},
		{"github.com/skiff-sh/skiff/e2e", "TestMulti/node_loss", true},
		{"github.com/skiff-sh/skiff/e2e", "TestMulti/a/b", false}, // * stops at /
		{"github.com/skiff-sh/skiff/e2e", "TestMulti", false},
	}
	for _, c := range cases {
		if _, got := match(allow, skip{pkg: c.pkg, test: c.test}); got != c.want {
			t.Errorf("match(%s %s) = %v, want %v", c.pkg, c.test, got, c.want)
		}
	}
}

func TestPanicsAndBuildFailuresAreShown(t *testing.T) {
	out, status := runFile(t, "panic-and-build-failure.json", nil)
	if status != 1 {
		t.Errorf("status %d, want 1", status)
	}
	for _, want := range []string{
		"b/b_test.go:5:32: undefined: undefined",
		"FAIL\texample.com/sc/b [build failed]",
		"--- FAIL: TestPanics",
		"p_test.go:7: about to panic",
		"panic: assignment to entry in nil map",
		"FAIL\texample.com/sc/p\t",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestAllPassingIsZero(t *testing.T) {
	stream := `{"Action":"start","Package":"x"}
{"Action":"run","Package":"x","Test":"TestA"}
{"Action":"output","Package":"x","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"x","Test":"TestA","Output":"--- PASS: TestA (0.00s)\n"}
{"Action":"pass","Package":"x","Test":"TestA"}
{"Action":"output","Package":"x","Output":"PASS\n"}
{"Action":"output","Package":"x","Output":"ok  \tx\t0.01s\n"}
{"Action":"pass","Package":"x"}
`
	var out strings.Builder
	if status := run(strings.NewReader(stream), &out, nil, false); status != 0 {
		t.Errorf("status %d:\n%s", status, out.String())
	}
	if out.String() != "ok  \tx\t0.01s\n" {
		t.Errorf("output %q", out.String())
	}
	// An empty stream (go test never ran) is not a pass.
	if status := run(strings.NewReader(""), &out, nil, false); status == 0 {
		t.Error("an empty stream passed")
	}
}

func TestReadAllowList(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	if err := os.WriteFile(good, []byte("# comment\n\ne2e TestX/y the reason, in words\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readAllowList(good)
	if err != nil || len(got) != 1 || got[0] != (allowed{"e2e", "TestX/y", "the reason, in words"}) {
		t.Errorf("got %+v, %v", got, err)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("e2e TestX\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readAllowList(bad); err == nil || !strings.Contains(err.Error(), "bad:1") {
		t.Errorf("an entry without a reason: %v", err)
	}
}

// The allow-list in the repository parses and gives every entry a reason.
func TestRepositoryAllowList(t *testing.T) {
	if _, err := readAllowList("allowed.txt"); err != nil {
		t.Fatal(err)
	}
}
