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
			nf, err := nextLogFile(f, path)
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

// nextLogFile opens the file the writer started after f: f has been
// renamed to path.N, so that is path.N-1 (path itself when N is 1). A
// follower slower than several rotations reads every file in turn instead
// of jumping to the newest. When f has been rotated out altogether, the
// oldest file left comes next.
func nextLogFile(f *os.File, path string) (*os.File, error) {
	held, ok := inode(f.Stat())
	if !ok {
		return os.Open(path)
	}
	// A rotation between the scan and the open shifts the names: check
	// that the file opened is the one the scan found, and scan again if not.
	for range 3 {
		next := path
		for i := 1; ; i++ {
			name := fmt.Sprintf("%s.%d", path, i)
			ino, ok := inode(os.Stat(name))
			if !ok {
				break
			}
			if ino == held {
				break
			}
			next = name
		}
		want, _ := inode(os.Stat(next))
		nf, err := os.Open(next)
		if err != nil {
			return nil, err
		}
		if got, ok := inode(nf.Stat()); ok && got == want {
			return nf, nil
		}
		nf.Close()
	}
	return os.Open(path)
}

func inode(fi os.FileInfo, err error) (uint64, bool) {
	if err != nil {
		return 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Ino, true
}

// rotated reports whether path now names another file than f.
func rotated(f *os.File, path string) bool {
	a, ok1 := inode(f.Stat())
	b, ok2 := inode(os.Stat(path))
	return ok1 && ok2 && a != b
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
