package image

import (
	"slices"
	"testing"
)

func TestApplyOverridesTheKubernetesWay(t *testing.T) {
	img := ImageConfig{
		Entrypoint: []string{"/bin/httpd", "-f"},
		Cmd:        []string{"-p", "8080"},
		Env:        []string{"PATH=/bin", "MODE=image"},
		WorkingDir: "/www",
		User:       "nobody",
	}
	for _, tc := range []struct {
		name string
		o    Overrides
		argv []string
	}{
		{"image as is", Overrides{}, []string{"/bin/httpd", "-f", "-p", "8080"}},
		{"command drops entrypoint and cmd", Overrides{Command: []string{"sh"}}, []string{"sh"}},
		{"args replace cmd", Overrides{Args: []string{"-p", "9090"}}, []string{"/bin/httpd", "-f", "-p", "9090"}},
		{"both", Overrides{Command: []string{"echo"}, Args: []string{"hi"}}, []string{"echo", "hi"}},
		{"expansion", Overrides{
			Command: []string{"echo", "$(MODE)", "$$(MODE)", "$(NOPE)"},
			Env:     []EnvVar{{Name: "MODE", Value: "pod"}},
		}, []string{"echo", "pod", "$(MODE)", "$(NOPE)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := img.Apply(tc.o)
			if !slices.Equal(p.Argv, tc.argv) {
				t.Errorf("argv %q, want %q", p.Argv, tc.argv)
			}
		})
	}

	p := img.Apply(Overrides{Env: []EnvVar{{Name: "MODE", Value: "pod"}, {Name: "NEW", Value: "1"}}, WorkingDir: "/tmp"})
	if want := []string{"PATH=/bin", "MODE=pod", "NEW=1"}; !slices.Equal(p.Env, want) {
		t.Errorf("env %q, want %q", p.Env, want)
	}
	if p.WorkingDir != "/tmp" || p.User != "nobody" {
		t.Errorf("workdir %q user %q", p.WorkingDir, p.User)
	}
	if got := (ImageConfig{}).Apply(Overrides{}).WorkingDir; got != "/" {
		t.Errorf("default workdir %q", got)
	}
	if (ImageConfig{Cmd: []string{"x"}}).Apply(Overrides{}).Argv[0] != "x" {
		t.Error("image cmd alone not used")
	}
}

func TestDefaultPullPolicy(t *testing.T) {
	for ref, want := range map[string]PullPolicy{
		"busybox":                  PullAlways,
		"busybox:latest":           PullAlways,
		"busybox:1.36":             PullIfNotPresent,
		"127.0.0.1:5000/app:1":     PullIfNotPresent,
		"app@sha256:" + hex64('a'): PullIfNotPresent,
	} {
		if got := DefaultPullPolicy(ref); got != want {
			t.Errorf("%s: %s, want %s", ref, got, want)
		}
	}
}

func hex64(c byte) string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return string(b)
}
