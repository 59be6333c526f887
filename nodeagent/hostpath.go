package nodeagent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// prepareHostPath checks (and for the *OrCreate types makes) a hostPath
// volume's path on this node before it is mounted, as the kubelet does
// for each HostPathType. With no type nothing is checked; a missing path
// is made a directory, as container runtimes make a missing bind source.
func prepareHostPath(h *skiffv1.HostPathSource) error {
	path := h.GetPath()
	st, err := os.Stat(path)
	missing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !missing {
		return fmt.Errorf("hostPath %s: %w", path, err)
	}
	switch h.GetType() {
	case "", "DirectoryOrCreate":
		if missing {
			return os.MkdirAll(path, 0o755)
		}
		if h.GetType() == "" {
			return nil
		}
	case "FileOrCreate":
		if missing {
			// The parent must exist, as in Kubernetes.
			f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				return fmt.Errorf("hostPath %s: create file: %w", path, err)
			}
			return f.Close()
		}
	default:
		if missing {
			return fmt.Errorf("hostPath type check failed: %s does not exist (type %s)", path, h.GetType())
		}
	}
	if want, ok := hostPathKinds[h.GetType()]; ok && st.Mode().Type() != want.mode {
		return fmt.Errorf("hostPath type check failed: %s is not a %s", path, want.name)
	}
	return nil
}

// hostPathKinds is what an existing path of each checked type must be.
var hostPathKinds = map[string]struct {
	mode fs.FileMode
	name string
}{
	"DirectoryOrCreate": {fs.ModeDir, "directory"},
	"Directory":         {fs.ModeDir, "directory"},
	"FileOrCreate":      {0, "file"},
	"File":              {0, "file"},
	"Socket":            {fs.ModeSocket, "socket"},
	"CharDevice":        {fs.ModeDevice | fs.ModeCharDevice, "character device"},
	"BlockDevice":       {fs.ModeDevice, "block device"},
}
