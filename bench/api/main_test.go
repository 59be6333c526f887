package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// The benchmark runs end to end on a few operations, so it keeps working.
func TestBenchmarkRuns(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, 60, []int{1, 4}, true); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"create", "get", "list", "P99"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
	if got := strings.Count(out.String(), "\n"); got != 7 {
		t.Fatalf("%d lines, want a header and 6 rows:\n%s", got, out.String())
	}
}

// The -list-all mode runs on a few pods, so it keeps working.
func TestListAllRuns(t *testing.T) {
	var out bytes.Buffer
	if err := runListAll(&out, 60, 25, 2, true); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"one-request", "pages-25", "PEAK-HEAP"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// The fan-out measurement runs end to end on a few watchers, both ways.
func TestFanOutRuns(t *testing.T) {
	var out bytes.Buffer
	if err := runFanOut(&out, 5, 5, time.Millisecond, true); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"LAST P99", "\nfalse", "\ntrue"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
}
