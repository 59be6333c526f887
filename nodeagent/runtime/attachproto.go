package runtime

import (
	"encoding/binary"
	"fmt"
	"io"
)

// The attach channel. A container started with Stdin or TTY has its
// supervisor listen on attachSocket in its live directory; every
// connection is one attached client. Both ways the bytes are frames: a
// type byte, the payload's length as a big-endian uint32, the payload.
// A client first sends frameHello; from its connection on it receives
// the container's output.
const attachSocket = "attach.sock"

// Frame types.
const (
	frameHello    = 'h' // client: one byte, helloStdin if it sends stdin
	frameStdin    = 'i' // client: bytes for the container's stdin
	frameStdinEnd = 'e' // client: it sends no more stdin
	frameResize   = 'r' // client: rows and columns, big-endian uint16s
	frameStdout   = 'o' // supervisor: output (all of it with a TTY)
	frameStderr   = 'x' // supervisor
)

const helloStdin = 1

// maxFrame bounds a frame's payload; writers split longer data.
const maxFrame = 32 << 10

// appendFrame appends one frame holding p to b.
func appendFrame(b []byte, typ byte, p []byte) []byte {
	b = append(b, typ, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(b[len(b)-4:], uint32(len(p)))
	return append(b, p...)
}

// writeFrames writes p as frames of typ, split at maxFrame.
func writeFrames(w io.Writer, typ byte, p []byte) error {
	for first := true; first || len(p) > 0; first = false {
		n := min(len(p), maxFrame)
		if _, err := w.Write(appendFrame(nil, typ, p[:n])); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// readFrame reads one frame; a payload over maxFrame is an error.
func readFrame(r io.Reader) (byte, []byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("runtime: attach frame of %d bytes (at most %d)", n, maxFrame)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, io.ErrUnexpectedEOF
	}
	return h[0], p, nil
}

func resizePayload(ws WindowSize) []byte {
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, ws.Rows), ws.Cols)
}

func parseResize(p []byte) (WindowSize, bool) {
	if len(p) != 4 {
		return WindowSize{}, false
	}
	return WindowSize{Rows: binary.BigEndian.Uint16(p), Cols: binary.BigEndian.Uint16(p[2:])}, true
}
