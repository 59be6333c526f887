package runtime

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Log defaults.
const (
	DefaultLogMaxBytes = 10 << 20
	DefaultLogMaxFiles = 3
	// maxLogLine splits longer lines into partial ("P") records, as the
	// kubelet does at 16 KiB.
	maxLogLine = 16 << 10
)

// logWriter appends CRI-format records ("<RFC3339Nano> <stream> <F|P>
// <text>") to a file and rotates it by size: path.1 is the newest old file.
type logWriter struct {
	mu       sync.Mutex
	path     string
	maxBytes int64
	maxFiles int
	f        *os.File
	size     int64
	now      func() time.Time
}

func openLogWriter(path string, maxBytes int64, maxFiles int) (*logWriter, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultLogMaxBytes
	}
	if maxFiles <= 0 {
		maxFiles = DefaultLogMaxFiles
	}
	w := &logWriter{path: path, maxBytes: maxBytes, maxFiles: maxFiles, now: time.Now}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *logWriter) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("runtime: open log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("runtime: open log: %w", err)
	}
	w.f, w.size = f, st.Size()
	return nil
}

// record writes one record; text has no trailing newline.
func (w *logWriter) record(stream string, partial bool, text []byte) error {
	tag := "F"
	if partial {
		tag = "P"
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	line := make([]byte, 0, len(text)+64)
	line = w.now().UTC().AppendFormat(line, time.RFC3339Nano)
	line = append(line, ' ')
	line = append(line, stream...)
	line = append(line, ' ')
	line = append(line, tag...)
	line = append(line, ' ')
	line = append(line, text...)
	line = append(line, '\n')
	if w.size > 0 && w.size+int64(len(line)) > w.maxBytes {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(line)
	w.size += int64(n)
	if err != nil {
		return fmt.Errorf("runtime: write log: %w", err)
	}
	return nil
}

// rotate shifts path.N-1 → path.N … path → path.1 and starts a new file.
func (w *logWriter) rotate() error {
	w.f.Close()
	os.Remove(fmt.Sprintf("%s.%d", w.path, w.maxFiles))
	for i := w.maxFiles - 1; i >= 1; i-- {
		os.Rename(fmt.Sprintf("%s.%d", w.path, i), fmt.Sprintf("%s.%d", w.path, i+1))
	}
	if err := os.Rename(w.path, w.path+".1"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("runtime: rotate log: %w", err)
	}
	return w.open()
}

func (w *logWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.f.Close()
}

// copyStream turns a byte stream into records until it ends.
func (w *logWriter) copyStream(stream string, r io.Reader) error {
	br := bufio.NewReaderSize(r, maxLogLine)
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case err == nil:
			if werr := w.record(stream, false, line[:len(line)-1]); werr != nil {
				return werr
			}
		case errors.Is(err, bufio.ErrBufferFull):
			if werr := w.record(stream, true, line); werr != nil {
				return werr
			}
		default:
			if len(line) > 0 {
				if werr := w.record(stream, false, line); werr != nil {
					return werr
				}
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
