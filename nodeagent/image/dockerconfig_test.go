package image_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/skiff-sh/skiff/nodeagent/image"
)

// A pull from a registry that wants basic auth fails without credentials
// and works with those of a docker config (a pod's imagePullSecret); the
// failed anonymous pull does not answer the one with credentials.
func TestPullWithDockerConfigCredentials(t *testing.T) {
	img := busyboxImage(t)
	reg := startRegistry(t, t.TempDir())
	ref := reg.host + "/private/busybox:1"
	want := push(t, img, ref)
	reg.requireBasicAuth("robot", "s3cret")

	s := newStore(t, t.TempDir())
	ctx := context.Background()
	if _, err := s.Pull(ctx, ref, image.PullIfNotPresent, nil); err == nil || !strings.Contains(err.Error(), "401") && !strings.Contains(strings.ToLower(err.Error()), "unauthorized") {
		t.Fatalf("anonymous pull from a private registry: %v, want unauthorized", err)
	}
	var creds image.Credentials
	auth := base64.StdEncoding.EncodeToString([]byte("robot:s3cret"))
	cfg := fmt.Sprintf(`{"auths": {"http://%s": {"auth": %q}}}`, reg.host, auth)
	if err := creds.AddDockerConfig([]byte(cfg), false); err != nil {
		t.Fatal(err)
	}
	got, err := s.PullWithAuth(ctx, ref, image.PullIfNotPresent, image.Auth{Keychain: &creds, ID: "default/regcred"}, nil)
	if err != nil {
		t.Fatalf("pull with the docker config's credentials: %v", err)
	}
	if got.Digest != want.String() {
		t.Errorf("digest %s, pushed %s", got.Digest, want)
	}
}

// Docker config keys match as the kubelet's keyring matches them: with or
// without scheme, Docker Hub under any of its names, globs per host part,
// exact ports, and the longest repository prefix first.
func TestDockerConfigMatching(t *testing.T) {
	var c image.Credentials
	if err := c.AddDockerConfig([]byte(`{"auths": {
		"https://index.docker.io/v1/": {"username": "hub", "password": "p"},
		"*.example.com": {"username": "glob", "password": "p"},
		"registry.example.com/team": {"username": "team", "password": "p"},
		"registry.example.com:5000": {"username": "port", "password": "p"}
	}}`), false); err != nil {
		t.Fatal(err)
	}
	if err := c.AddDockerConfig([]byte(`{"legacy.example.org": {"auth": "`+base64.StdEncoding.EncodeToString([]byte("old:p"))+`"}}`), true); err != nil {
		t.Fatal(err)
	}
	for ref, wantUser := range map[string]string{
		"busybox":                             "hub",
		"docker.io/library/busybox":           "hub",
		"registry.example.com/team/app:1":     "team",
		"registry.example.com/teamwork/app:1": "glob",
		"registry.example.com/other/app:1":    "glob",
		"registry.example.com:5000/any:1":     "port",
		"a.b.example.com/x:1":                 "",
		"legacy.example.org/x:1":              "old",
		"quay.io/x:1":                         "",
	} {
		r, err := name.ParseReference(ref)
		if err != nil {
			t.Fatal(err)
		}
		a, err := c.Resolve(r.Context())
		if err != nil {
			t.Fatal(err)
		}
		got, err := authn.Authorization(context.Background(), a)
		if err != nil {
			t.Fatal(err)
		}
		if got.Username != wantUser {
			t.Errorf("%s: user %q, want %q", ref, got.Username, wantUser)
		}
	}
	if err := c.AddDockerConfig([]byte(`{"auths": {"x.io": {"auth": "%%%"}}}`), false); err == nil || !strings.Contains(err.Error(), "auths.x.io.auth") {
		t.Errorf("bad auth field: %v, want an error naming it", err)
	}
}
