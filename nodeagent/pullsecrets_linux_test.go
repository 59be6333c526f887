package nodeagent_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
	"github.com/skiff-sh/skiff/registry"
)

// privateAuth lets anyone push while open, then only robot:s3cret pull.
type privateAuth struct{ open atomic.Bool }

func (a *privateAuth) Access(r *http.Request) (string, registry.Access) {
	if a.open.Load() {
		return "setup", registry.Push
	}
	if user, password, ok := r.BasicAuth(); ok && user == "robot" && password == "s3cret" {
		return user, registry.Pull
	}
	return "", registry.NoAccess
}

// A pod pulls from a registry that wants credentials with those of its
// imagePullSecrets (a kubernetes.io/dockerconfigjson Secret); a pod
// without them gets ErrImagePull; a pod naming a Secret that does not
// exist gets a warning event and the pull is tried anyway.
func TestImagePullSecrets(t *testing.T) {
	h := newHarness(t)
	ctx := h.ctx()
	auth := &privateAuth{}
	auth.open.Store(true)
	private := startRegistry(t, func(c *registry.Config) { c.Auth = auth })
	host, _, _ := strings.Cut(private, "/")
	auth.open.Store(false)

	withImage := func(name string, secrets ...string) *skiffv1.Pod {
		p := h.pod(name, "sleep 600")
		p.Spec.Containers[0].Image = private
		for _, s := range secrets {
			p.Spec.ImagePullSecrets = append(p.Spec.ImagePullSecrets, &skiffv1.LocalObjectReference{Name: s})
		}
		return p
	}
	h.create(withImage("anonymous"))
	h.waitPod("anonymous", "refused its image", func(p *skiffv1.Pod) bool {
		w := container(p).GetState().GetWaiting()
		return (w.GetReason() == "ErrImagePull" || w.GetReason() == "ImagePullBackOff") && strings.Contains(strings.ToLower(w.GetMessage()), "unauthorized")
	})

	cfg := fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, host, base64.StdEncoding.EncodeToString([]byte("robot:s3cret")))
	if _, err := h.c.Secrets().Create(ctx, &skiffv1.Secret{
		Metadata: &skiffv1.ObjectMeta{Name: "regcred"}, Type: "kubernetes.io/dockerconfigjson",
		Data: map[string][]byte{".dockerconfigjson": []byte(cfg)},
	}); err != nil {
		t.Fatal(err)
	}
	h.create(withImage("credentialed", "missing", "regcred"))
	h.waitPod("credentialed", "running", func(p *skiffv1.Pod) bool { return container(p).GetState().GetRunning() != nil })

	// Events are sent in the background: give them a moment.
	deadline := time.Now().Add(20 * time.Second)
	for {
		evs, _, err := h.c.Events().List(ctx, client.ListOptions{Namespace: "default"})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.GetReason() == "FailedToRetrieveImagePullSecret" && strings.Contains(e.GetMessage(), "missing") && e.GetInvolvedObject().GetName() == "credentialed" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no FailedToRetrieveImagePullSecret event naming the missing Secret")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
