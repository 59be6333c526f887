package nodeagent_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A container replaces its volume's subPath directory with a symlink to
// "/" and exits; its restart must be refused, not handed the host's root
// (the CVE-2017-1002101 class).
func TestSubPathSymlinkToHostRootIsRefusedOnRestart(t *testing.T) {
	h := newHarness(t)
	p := h.pod("planter", `if [ -e /vol/planted ]; then ls -a /sub > /vol/seen; sleep 1000; fi
touch /vol/planted && rmdir /vol/sub && ln -s / /vol/sub; exit 1`)
	p.Spec.Volumes = []*skiffv1.PodVolume{{Name: "data", EmptyDir: &skiffv1.EmptyDirSource{}}}
	p.Spec.Containers[0].VolumeMounts = []*skiffv1.VolumeMount{
		{Name: "data", MountPath: "/vol"},
		{Name: "data", MountPath: "/sub", SubPath: "sub"},
	}
	created := h.create(p)
	vol := filepath.Join(h.cfg.DataDir, "pods", created.Metadata.Uid, "volumes", "data")

	deadline := time.Now().Add(60 * time.Second)
	var refusal string
	for refusal == "" && time.Now().Before(deadline) {
		evs, _, err := h.c.Events().List(h.ctx(), client.ListOptions{Namespace: "default"})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.InvolvedObject.GetName() == "planter" && strings.Contains(ev.Message, "subPath") {
				refusal = ev.Message
			}
		}
		if _, err := os.Stat(filepath.Join(vol, "seen")); err == nil {
			b, _ := os.ReadFile(filepath.Join(vol, "seen"))
			t.Fatalf("the restarted container got the host's root at /sub:\n%s", b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if refusal == "" {
		t.Fatalf("no event refusing the planted subPath within 60s")
	}
	if !strings.Contains(refusal, "symlink") {
		t.Errorf("refusal does not say why: %s", refusal)
	}
	if _, err := os.Lstat(filepath.Join(vol, "planted")); err != nil {
		t.Fatalf("the first run did not plant the link: %v", err)
	}
	if _, err := os.Stat(filepath.Join(vol, "seen")); err == nil {
		t.Fatal("the restarted container got the host's root at /sub")
	}
}
