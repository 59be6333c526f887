package runtime

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// readAvailable reads what a non-blocking fd holds now.
func readAvailable(fd int, buf []byte) []byte {
	var out []byte
	for {
		k, err := unix.Read(fd, buf)
		if k <= 0 || err != nil {
			return out
		}
		out = append(out, buf[:k]...)
	}
}

// supervisorAlive errors when the supervisor of id is gone.
func (r *Runtime) supervisorAlive(id string) (bool, error) {
	rec, err := r.readState(id)
	if err != nil {
		return false, err
	}
	fd, err := openProcess(rec.SupervisorPid, rec.SupervisorStart)
	if err != nil {
		return false, err
	}
	if fd < 0 {
		msg := "without a word"
		if b, _ := os.ReadFile(filepath.Join(r.liveDir(id), supervisorLog)); len(bytes.TrimSpace(b)) > 0 {
			msg = "saying: " + string(lastBytes(bytes.TrimSpace(b), 2048))
		}
		return false, fmt.Errorf("runtime: supervisor of %s is gone, %s", id, msg)
	}
	unix.Close(fd)
	return true, nil
}

// lastBytes is the end of b, at most n bytes of it.
func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
