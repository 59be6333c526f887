package apiserver

import (
	"fmt"

	"github.com/skiff-sh/skiff/apiserver/secretbox"
)

// loadSecretKeys reads (or makes) the keys that encrypt Secrets at rest,
// adding a new one first when asked to rotate.
func loadSecretKeys(path string, rotate bool) (*secretbox.Keyring, error) {
	load := secretbox.LoadOrCreate
	if rotate {
		load = secretbox.Rotate
	}
	k, err := load(path)
	if err != nil {
		return nil, fmt.Errorf("apiserver: Secret encryption keys: %w", err)
	}
	return k, nil
}
