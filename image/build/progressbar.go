package build

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// ProgressBar shows a transfer on a terminal as a redrawn bar, and
// anywhere else as a few plain lines (25% steps), so logs stay readable.
type ProgressBar struct {
	w     io.Writer
	label string
	tty   bool
	now   func() time.Time

	last     time.Time
	lastStep int64 // plain mode: last quarter printed
	drawn    bool
}

// NewProgressBar writes to w; it draws a bar only when w is a terminal.
func NewProgressBar(w io.Writer, label string) *ProgressBar {
	f, ok := w.(*os.File)
	return &ProgressBar{w: w, label: label, tty: ok && isTerminal(f), now: time.Now, lastStep: -1}
}

// Update reports done of total bytes.
func (p *ProgressBar) Update(done, total int64) {
	if total <= 0 {
		return
	}
	if p.tty {
		if now := p.now(); now.Sub(p.last) >= 100*time.Millisecond || done == total {
			p.last = now
			fmt.Fprintf(p.w, "\r%s %s", p.label, bar(done, total, 30))
			p.drawn = true
		}
		return
	}
	if step := done * 4 / total; step > p.lastStep {
		p.lastStep = step
		fmt.Fprintf(p.w, "%s %d%% (%s of %s)\n", p.label, done*100/total, HumanBytes(done), HumanBytes(total))
	}
}

// Finish ends the bar's line.
func (p *ProgressBar) Finish() {
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
	}
}

func bar(done, total int64, width int) string {
	n := int(done * int64(width) / total)
	return fmt.Sprintf("[%s%s] %3d%% %s/%s", strings.Repeat("=", n), strings.Repeat(" ", width-n),
		done*100/total, HumanBytes(done), HumanBytes(total))
}

// HumanBytes formats a size the way `docker images` does (decimal units).
func HumanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, u := range []string{"kB", "MB", "GB", "TB"} {
		f /= unit
		if f < unit {
			return fmt.Sprintf("%.1f %s", f, u)
		}
	}
	return fmt.Sprintf("%.1f PB", f/unit)
}

// Qualify puts a bare NAME:TAG into the registry at host; a name that
// already starts with a registry (a first part with "." or ":", or
// "localhost") is left alone, as Docker does.
func Qualify(host, ref string) string {
	first, _, found := strings.Cut(ref, "/")
	if found && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return ref
	}
	return host + "/" + ref
}
