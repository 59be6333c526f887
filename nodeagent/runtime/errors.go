package runtime

import "errors"

// Expected outcomes the caller may act on.
var (
	ErrNotFound   = errors.New("not found")
	ErrExists     = errors.New("already exists")
	ErrNotCreated = errors.New("container is not in the created state")
	ErrNotRunning = errors.New("container is not running")
	// Attach: the container was not made for what the caller asked.
	ErrNoStdin  = errors.New("container was not started with stdin: true")
	ErrNoTTY    = errors.New("container was not started with tty: true")
	ErrNoAttach = errors.New("container was started with neither stdin nor tty: there is nothing to attach to")
	// ErrOldSupervisor: the container's supervisor predates attach (a
	// shim older than skiff-shim/4, adopted across an upgrade).
	ErrOldSupervisor = errors.New("container's supervisor is from an older skiff-shim without attach; restart the container to attach to it")
)
