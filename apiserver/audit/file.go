package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Defaults for Options.
const (
	DefaultMaxBytes = 100 << 20
	DefaultKeep     = 5
)

// Options say where the log goes and how it rotates.
type Options struct {
	// Path of the live file; rotated files are Path.1 (newest) … Path.Keep.
	Path string
	// MaxBytes is the size at which the live file is rotated.
	MaxBytes int64
	// Keep is how many rotated files are kept.
	Keep int
}

// Logger appends entries to a file, rotating it by size. Safe for
// concurrent use.
type Logger struct {
	opts Options
	mu   sync.Mutex
	f    *os.File
	size int64
}

// Open opens (or creates, 0600: the log names who did what) the log file.
func Open(opts Options) (*Logger, error) {
	if opts.Path == "" {
		return nil, errors.New("audit: no log path")
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.Keep <= 0 {
		opts.Keep = DefaultKeep
	}
	l := &Logger{opts: opts}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Logger) open() error {
	if err := os.MkdirAll(filepath.Dir(l.opts.Path), 0o700); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	f, err := os.OpenFile(l.opts.Path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("audit: %w", err)
	}
	l.f, l.size = f, st.Size()
	return nil
}

// Log writes one entry as a line, rotating first if it would not fit.
func (l *Logger) Log(e Entry) error {
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errors.New("audit: log closed")
	}
	if l.size > 0 && l.size+int64(len(line)) > l.opts.MaxBytes {
		if err := l.rotate(); err != nil {
			return err
		}
	}
	n, err := l.f.Write(line)
	l.size += int64(n)
	if err != nil {
		return fmt.Errorf("audit: write %s: %w", l.opts.Path, err)
	}
	return nil
}

// rotate shifts Path.i to Path.i+1 (dropping the oldest), moves the live
// file to Path.1 and starts a new one.
func (l *Logger) rotate() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	l.f = nil
	p := l.opts.Path
	if err := os.Remove(fmt.Sprintf("%s.%d", p, l.opts.Keep)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("audit: rotate: %w", err)
	}
	for i := l.opts.Keep - 1; i >= 1; i-- {
		err := os.Rename(fmt.Sprintf("%s.%d", p, i), fmt.Sprintf("%s.%d", p, i+1))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("audit: rotate: %w", err)
		}
	}
	if err := os.Rename(p, p+".1"); err != nil {
		return fmt.Errorf("audit: rotate: %w", err)
	}
	return l.open()
}

// Close closes the file; later Log calls fail.
func (l *Logger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
