package nodeagent_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A pod with shareProcessNamespace runs its containers in one PID
// namespace whose PID 1 is the pod's pause process: one container sees
// the other's processes and may signal them.
func TestShareProcessNamespace(t *testing.T) {
	h := newHarness(t)
	p := h.pod("sharepid", `exec sleep 1000`)
	p.Spec.ShareProcessNamespace = true
	p.Spec.RestartPolicy = "Never"
	p.Spec.Volumes = []*skiffv1.PodVolume{{Name: "work", EmptyDir: &skiffv1.EmptyDirSource{}}}
	watcher := h.shContainer("watcher", `until pidof sleep >/dev/null; do sleep 0.1; done
{ ps -o pid,args; echo "pid1=$(tr '\0' ' ' </proc/1/cmdline)"; echo "self=$$"; } > /work/ps.tmp
kill -TERM $(pidof sleep) && mv /work/ps.tmp /work/ps; sleep 1000`)
	watcher.VolumeMounts = []*skiffv1.VolumeMount{{Name: "work", MountPath: "/work"}}
	p.Spec.Containers = append(p.Spec.Containers, watcher)
	created := h.create(p)
	out := filepath.Join(h.cfg.DataDir, "pods", created.Metadata.Uid, "volumes", "work", "ps")
	deadline := time.Now().Add(60 * time.Second)
	var b []byte
	for time.Now().Before(deadline) {
		if b, _ = os.ReadFile(out); len(b) > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	got := string(b)
	if !strings.Contains(got, "sleep 1000") {
		t.Fatalf("the watcher does not see the other container's sleep:\n%s", got)
	}
	if !strings.Contains(got, "pid1=") || !strings.Contains(got, "__skiff-pause") || strings.Contains(got, "self=1\n") {
		t.Fatalf("PID 1 is not the pod's pause process:\n%s", got)
	}
	// The watcher's SIGTERM ended the first container.
	h.waitPod("sharepid", "its first container killed by SIGTERM", func(p *skiffv1.Pod) bool {
		for _, s := range p.GetStatus().GetContainerStatuses() {
			if s.Name == p.Spec.Containers[0].Name {
				return s.GetState().GetTerminated().GetSignal() == 15 || s.GetState().GetTerminated().GetExitCode() == 143
			}
		}
		return false
	})
}
