package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/skiff-sh/skiff/nodeagent/image"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// pullImage gets a container's image per its pull policy, with Pulling and
// Pulled events, and backs off after failures (ErrImagePull, then
// ImagePullBackOff) without blocking other pods.
func (a *Agent) pullImage(ctx context.Context, pod *skiffv1.Pod, c *skiffv1.Container, cs *containerState) (image.Image, error) {
	policy := image.PullPolicy(c.ImagePullPolicy)
	if policy == image.PullNever {
		return a.localImage(ctx, pod, c, cs)
	}
	if cs.pullFailures > 0 && time.Now().Before(cs.notBefore) {
		cs.waitingReason = "ImagePullBackOff"
		return image.Image{}, fmt.Errorf("image pull backing off")
	}
	if img, err := a.images.Get(c.Image); err == nil && policy != image.PullAlways {
		cs.image, cs.imageID = img.Ref, img.Digest
		return img, nil
	}
	a.event(context.WithoutCancel(ctx), pod, "Normal", "Pulling", fmt.Sprintf("Pulling image %q", c.Image))
	start := time.Now()
	img, err := a.images.Pull(ctx, c.Image, policy, nil)
	if err != nil {
		a.metrics.pulls.WithLabelValues("error").Inc()
		cs.pullFailures++
		cs.notBefore = time.Now().Add(nextBackoff(cs.pullFailures, a.cfg.BackoffBase, a.cfg.BackoffMax))
		cs.waitingReason = "ErrImagePull"
		if errors.Is(err, image.ErrNotPresent) {
			cs.waitingReason = "ErrImageNeverPull"
		}
		cs.waitingMessage = err.Error()
		a.event(ctx, pod, "Warning", "Failed", fmt.Sprintf("Failed to pull image %q: %v", c.Image, err))
		return image.Image{}, err
	}
	a.metrics.pulls.WithLabelValues("ok").Inc()
	a.metrics.pullSeconds.Observe(time.Since(start).Seconds())
	cs.pullFailures = 0
	cs.image, cs.imageID = img.Ref, img.Digest
	a.event(ctx, pod, "Normal", "Pulled", fmt.Sprintf("Successfully pulled image %q in %s", c.Image, time.Since(start).Round(time.Millisecond)))
	return img, nil
}

// localImage is the image of a container whose pull policy is Never. It
// never pulls, so it never backs off: the reason stays ErrImageNeverPull
// (one event) until the image is put on the node, as in Kubernetes.
func (a *Agent) localImage(ctx context.Context, pod *skiffv1.Pod, c *skiffv1.Container, cs *containerState) (image.Image, error) {
	img, err := a.images.Get(c.Image)
	if err != nil {
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
		if cs.waitingReason != "ErrImageNeverPull" {
			a.event(ctx, pod, "Warning", "ErrImageNeverPull", msg)
		}
		cs.waitingReason, cs.waitingMessage = "ErrImageNeverPull", msg
		return image.Image{}, errors.New(msg)
	}
	cs.image, cs.imageID = img.Ref, img.Digest
	return img, nil
}
