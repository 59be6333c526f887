package nodeagent_test

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/skiff-sh/skiff/image/build"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// imagePullPolicy: Always asks the registry at every start, so a tag
// pushed again runs its new image at the next restart; Never refuses an
// image the node does not hold with ErrImageNeverPull.
func TestImagePullPolicies(t *testing.T) {
	h := newHarness(t)
	always := h.pod("always", `echo "v=$VERSION"; sleep 2`)
	always.Spec.Containers[0].ImagePullPolicy = "Always"
	h.create(always)
	first := h.waitPod("always", "Running", phase("Running"))
	waitLogs(t, h, "always", "v=\n")
	oldID := container(first).GetImageId()

	img, err := build.Busybox(build.BusyboxPath)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Env = append(cf.Config.Env, "VERSION=2")
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	if _, err := (build.Remote{}).Push(context.Background(), img, h.image, nil); err != nil {
		t.Fatal(err)
	}
	got := h.waitPod("always", "restarted with the re-pushed tag", func(p *skiffv1.Pod) bool {
		id := container(p).GetImageId()
		return id != "" && id != oldID
	})
	waitLogs(t, h, "always", "v=2\n")
	t.Logf("image %s → %s after %d restarts", oldID, container(got).GetImageId(), container(got).GetRestartCount())

	never := h.pod("never", "sleep 1000")
	never.Spec.Containers[0].Image = "127.0.0.1:1/absent:1"
	never.Spec.Containers[0].ImagePullPolicy = "Never"
	h.create(never)
	h.waitPod("never", "ErrImageNeverPull", func(p *skiffv1.Pod) bool {
		return container(p).GetState().GetWaiting().GetReason() == "ErrImageNeverPull"
	})
}
