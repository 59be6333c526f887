package client

import (
	"path/filepath"
	"testing"
)

// The process's environment is read in one place, into the Environment
// every command then uses.
func TestOSEnvironment(t *testing.T) {
	t.Setenv("SKIFF_SERVER", "a:1")
	t.Setenv("SKIFF_CONFIG", "/c")
	t.Setenv("HOME", "/h")
	if got, want := OSEnvironment(), (Environment{Server: "a:1", Config: "/c", Home: "/h"}); got != want {
		t.Fatalf("OSEnvironment() = %+v, want %+v", got, want)
	}
}

func TestConfigPath(t *testing.T) {
	for _, tc := range []struct {
		env  Environment
		flag string
		want string
	}{
		{Environment{Home: "/h"}, "", filepath.Join("/h", ".skiff", "config")},
		{Environment{Home: "/h", Config: "/c"}, "", "/c"},
		{Environment{Home: "/h", Config: "/c"}, "/f", "/f"},
	} {
		if got := tc.env.ConfigPath(tc.flag); got != tc.want {
			t.Errorf("%+v.ConfigPath(%q) = %q, want %q", tc.env, tc.flag, got, tc.want)
		}
	}
}
