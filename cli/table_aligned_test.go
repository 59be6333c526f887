package cli

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// alignedTable writes what the tab writer of every other table writes,
// for cells short and long, empty, and of several bytes a character.
func TestAlignedTableMatchesTabWriter(t *testing.T) {
	words := []string{"", "a", "web", "Running", "CrashLoopBackOff", "10.244.0.5", "<none>", "héllo", "日本語", "x y"}
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		cols := 1 + r.IntN(7)
		var at alignedTable
		var want bytes.Buffer
		tw := newTabWriter(&want)
		for range 1 + r.IntN(12) {
			row := make([]string, cols)
			for i := range row {
				row[i] = words[r.IntN(len(words))]
			}
			at.add(row)
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
		if err := tw.Flush(); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := at.write(&got); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Fatalf("trial %d: got\n%q\nwant\n%q", trial, got.String(), want.String())
		}
	}
}
