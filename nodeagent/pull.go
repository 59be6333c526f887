package nodeagent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
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
	img, err := a.images.PullWithAuth(ctx, c.Image, policy, a.pullAuth(ctx, pod), nil)
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

// pullAuth reads the registry credentials of the pod's imagePullSecrets
// (kubernetes.io/dockerconfigjson or dockercfg). A Secret that is missing
// or holds no docker config is left out with a warning, and the pull goes
// on without it, as the kubelet does.
func (a *Agent) pullAuth(ctx context.Context, pod *skiffv1.Pod) image.Auth {
	refs := pod.GetSpec().GetImagePullSecrets()
	if len(refs) == 0 {
		return image.Auth{}
	}
	f := a.configFetcher(pod)
	creds := &image.Credentials{}
	id := sha256.New()
	var unusable []string
	for _, r := range refs {
		d, err := f.data(ctx, skiffv1.Kind_KIND_SECRET, r.GetName())
		if err == nil {
			switch {
			case d[".dockerconfigjson"] != nil:
				err = creds.AddDockerConfig(d[".dockerconfigjson"], false)
			case d[".dockercfg"] != nil:
				err = creds.AddDockerConfig(d[".dockercfg"], true)
			default:
				err = errors.New("no .dockerconfigjson or .dockercfg key")
			}
		}
		if err != nil {
			unusable = append(unusable, fmt.Sprintf("%s (%v)", r.GetName(), err))
			continue
		}
		fmt.Fprintf(id, "%s\x00%x\x00%x\x00", r.GetName(), sha256.Sum256(d[".dockerconfigjson"]), sha256.Sum256(d[".dockercfg"]))
	}
	if len(unusable) > 0 {
		a.event(ctx, pod, "Warning", "FailedToRetrieveImagePullSecret",
			fmt.Sprintf("Unable to retrieve some image pull secrets (%s); attempting to pull the image may not succeed.", strings.Join(unusable, ", ")))
	}
	return image.Auth{Keychain: creds, ID: pod.GetMetadata().GetNamespace() + "/" + hex.EncodeToString(id.Sum(nil))}
}
