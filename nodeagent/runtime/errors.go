package runtime

import "errors"

// Expected outcomes the caller may act on.
var (
	ErrNotFound   = errors.New("not found")
	ErrExists     = errors.New("already exists")
	ErrNotCreated = errors.New("container is not in the created state")
	ErrNotRunning = errors.New("container is not running")
)
