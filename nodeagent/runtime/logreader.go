package runtime

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// LogRecord is one parsed line of a CRI-format log.
type LogRecord struct {
	Time    time.Time
	Stream  string // "stdout" or "stderr"
	Partial bool   // the line continues in the next record
	Text    []byte
}

// LogOptions select what ReadLogs delivers.
type LogOptions struct {
	// Tail is how many of the last records to start with; negative means
	// all of them (the rotated files included).
	Tail int
	// Follow keeps reading as the log grows, across rotations, until ctx
	// ends.
	Follow bool
	// PollInterval is how often a follower looks for new data (default
	// 100ms).
	PollInterval time.Duration
}

// ParseLogLine parses "<RFC3339Nano> <stream> <F|P> <text>".
func ParseLogLine(line []byte) (LogRecord, error) {
	var r LogRecord
	parts := bytes.SplitN(bytes.TrimSuffix(line, []byte("\n")), []byte(" "), 4)
	if len(parts) < 3 {
		return r, fmt.Errorf("runtime: malformed log line %q", line)
	}
	t, err := time.Parse(time.RFC3339Nano, string(parts[0]))
	if err != nil {
		return r, fmt.Errorf("runtime: malformed log time: %w", err)
	}
	r.Time, r.Stream, r.Partial = t, string(parts[1]), string(parts[2]) == "P"
	if len(parts) == 4 {
		r.Text = parts[3]
	}
	return r, nil
}

// ReadLogs calls fn for the records of the log at path (a container's
// State.LogPath): the last opts.Tail of them, then, if opts.Follow, new
// ones as they come, until ctx ends or fn returns an error.
func ReadLogs(ctx context.Context, path string, opts LogOptions, fn func(LogRecord) error) error {
	lines, f, err := tailLines(path, opts.Tail)
	if err != nil {
		return err
	}
	defer func() { f.Close() }()
	for _, l := range lines {
		if err := deliver(l, fn); err != nil {
			return err
		}
	}
	if !opts.Follow {
		return nil
	}
	poll := opts.PollInterval
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	br := bufio.NewReader(f)
	var pending []byte
	for {
		chunk, err := br.ReadBytes('\n')
		pending = append(pending, chunk...)
		if err == nil {
			if derr := deliver(pending, fn); derr != nil {
				return derr
			}
			pending = pending[:0]
			continue
		}
		if !errors.Is(err, io.EOF) {
			return fmt.Errorf("runtime: read log: %w", err)
		}
		// At the end: has the writer rotated to a new file?
		if rotated(f, path) {
			nf, err := os.Open(path)
			if err == nil {
				// The writer may have appended to the old file just before
				// renaming it: finish it first.
				rest, _ := io.ReadAll(br)
				for _, l := range splitLines(append(pending, rest...)) {
					if derr := deliver(l, fn); derr != nil {
						nf.Close()
						return derr
					}
				}
				pending = pending[:0]
				f.Close()
				f, br = nf, bufio.NewReader(nf)
				continue
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(poll):
		}
	}
}

func deliver(line []byte, fn func(LogRecord) error) error {
	r, err := ParseLogLine(line)
	if err != nil {
		return nil // a torn line from a crash: skip it
	}
	return fn(r)
}

// rotated reports whether path now names another file than f.
func rotated(f *os.File, path string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	if err1 != nil || err2 != nil {
		return false
	}
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && sa.Ino != sb.Ino
}

// tailLines returns the last n complete lines (all if n < 0) of the log and
// its rotated predecessors, and the current file positioned after them.
func tailLines(path string, n int) ([][]byte, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("runtime: open log: %w", err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("runtime: read log: %w", err)
	}
	// Leave a torn last line for the follower to finish.
	if i := bytes.LastIndexByte(data, '\n'); i+1 < len(data) {
		if _, err := f.Seek(int64(i+1), io.SeekStart); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("runtime: seek log: %w", err)
		}
		data = data[:i+1]
	}
	lines := splitLines(data)
	for i := 1; n < 0 || len(lines) < n; i++ {
		old, err := os.ReadFile(fmt.Sprintf("%s.%d", path, i))
		if err != nil {
			break
		}
		lines = append(splitLines(old), lines...)
	}
	if n >= 0 && len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines, f, nil
}

func splitLines(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		out = append(out, data[:i+1])
		data = data[i+1:]
	}
	return out
}
