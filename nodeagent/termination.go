package nodeagent

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/skiff-sh/skiff/nodeagent/runtime"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A container may write why it ended into its terminationMessagePath: the
// agent mounts a file of its own there, one per instance, and reads it
// into state.terminated.message when the instance has exited.
const (
	maxTerminationMessage = 4096 // bytes of the file, as the kubelet reads
	// FallbackToLogsOnError: the tail of the log of a failed container
	// with an empty message, at most this many lines and bytes.
	fallbackLogLines = 80
	fallbackLogBytes = 2048
)

// terminationDir holds the termination-log files of a pod's instances.
func (a *Agent) terminationDir(podUID string) string {
	return filepath.Join(a.cfg.podDir(podUID), "termination")
}

// terminationLogFile is the host file behind an instance's termination
// message.
func (a *Agent) terminationLogFile(podUID, container string, attempt int) string {
	return filepath.Join(a.terminationDir(podUID), fmt.Sprintf("%s-%d", container, attempt))
}

// pruneTerminationLogs removes the files of container's instances before
// attempt-1: a status shows an instance and the one before it.
func (a *Agent) pruneTerminationLogs(podUID, container string, attempt int) {
	entries, err := os.ReadDir(a.terminationDir(podUID))
	if err != nil {
		return
	}
	for _, e := range entries {
		// NAME-ATTEMPT; a container's name may hold dashes, the attempt not.
		i := strings.LastIndexByte(e.Name(), '-')
		if i < 0 || e.Name()[:i] != container {
			continue
		}
		if old, err := strconv.Atoi(e.Name()[i+1:]); err == nil && old < attempt-1 {
			os.Remove(filepath.Join(a.terminationDir(podUID), e.Name()))
		}
	}
}

// withTerminationLog adds the mount of a fresh, empty termination-log file
// at the container's terminationMessagePath.
func (a *Agent) withTerminationLog(pod *skiffv1.Pod, c *skiffv1.Container, attempt int, mounts []runtime.Mount) ([]runtime.Mount, error) {
	if c.TerminationMessagePath == "" {
		return mounts, nil
	}
	// A privileged container's /dev is the host's: the mount point would
	// be made there. Its message is read only from a path elsewhere.
	if c.GetSecurityContext().GetPrivileged() && underDev(c.TerminationMessagePath) {
		return mounts, nil
	}
	path := a.terminationLogFile(pod.Metadata.Uid, c.Name, attempt)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	a.pruneTerminationLogs(pod.Metadata.Uid, c.Name, attempt)
	if err := os.WriteFile(path, nil, 0o666); err != nil {
		return nil, err
	}
	// Any user the container runs as may write its message.
	if err := os.Chmod(path, 0o666); err != nil {
		return nil, err
	}
	return append(mounts, runtime.Mount{Source: path, Destination: c.TerminationMessagePath}), nil
}

func underDev(p string) bool {
	p = filepath.Clean(p)
	return p == "/dev" || strings.HasPrefix(p, "/dev/")
}

// addTerminationMessages fills in the message of every exited instance the
// status shows, from its file or, with FallbackToLogsOnError, its log.
// Each is read once: an exited instance does not change.
func (a *Agent) addTerminationMessages(pod *skiffv1.Pod, st *podState, insts map[string][]instance, s *skiffv1.PodStatus) {
	specs := map[string]*skiffv1.Container{}
	for _, c := range pod.Spec.InitContainers {
		specs[c.Name] = c
	}
	for _, c := range pod.Spec.Containers {
		specs[c.Name] = c
	}
	seen := map[string]string{}
	for _, cs := range append(append([]*skiffv1.ContainerStatus(nil), s.InitContainerStatuses...), s.ContainerStatuses...) {
		c := specs[cs.Name]
		for _, state := range []*skiffv1.ContainerState{cs.State, cs.LastState} {
			t := state.GetTerminated()
			if t == nil || c == nil {
				continue
			}
			in := findInstance(insts[cs.Name], t)
			if in == nil {
				continue
			}
			msg, ok := st.termMessages[in.state.ID]
			if !ok {
				msg = a.terminationMessage(pod, c, in, t)
			}
			seen[in.state.ID] = msg
			if msg != "" {
				t.Message = msg
			}
		}
	}
	st.termMessages = seen
}

// findInstance is the instance an exited state was made from.
func findInstance(list []instance, t *skiffv1.ContainerStateTerminated) *instance {
	if t.FinishedAt == nil {
		return nil
	}
	for i := len(list) - 1; i >= 0; i-- {
		if in := &list[i]; !running(in) && in.state.FinishedAt.Equal(t.FinishedAt.AsTime()) {
			return in
		}
	}
	return nil
}

func (a *Agent) terminationMessage(pod *skiffv1.Pod, c *skiffv1.Container, in *instance, t *skiffv1.ContainerStateTerminated) string {
	msg := readTerminationFile(a.terminationLogFile(pod.Metadata.Uid, c.Name, in.attempt))
	if msg == "" && c.TerminationMessagePolicy == "FallbackToLogsOnError" && (t.ExitCode != 0 || t.Signal != 0 || t.Reason == "OOMKilled") {
		msg = logTail(in.state.LogPath)
	}
	return msg
}

func readTerminationFile(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, maxTerminationMessage))
	return string(b)
}

// logTail is the end of a log: its last fallbackLogLines lines, cut to the
// last fallbackLogBytes.
func logTail(path string) string {
	if path == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var buf bytes.Buffer
	_ = runtime.ReadLogs(ctx, path, runtime.LogOptions{Tail: fallbackLogLines}, func(r runtime.LogRecord) error {
		buf.Write(r.Text)
		if !r.Partial {
			buf.WriteByte('\n')
		}
		return nil
	})
	b := buf.Bytes()
	if len(b) > fallbackLogBytes {
		b = b[len(b)-fallbackLogBytes:]
	}
	return string(b)
}
