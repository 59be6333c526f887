package client

// SetMutationFound replaces what the informers' mutation check does on
// finding a modified object, until the returned func restores it.
func SetMutationFound(fn func(msg string)) (restore func()) {
	old := mutationFound
	mutationFound = fn
	return func() { mutationFound = old }
}
