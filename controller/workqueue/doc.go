// Package workqueue is the queue between informers and reconcilers: keys,
// not objects, so that a burst of changes to one object is handled once
// (level-triggered: the handler re-reads the object); a key is never
// handed to two workers at once; a key that failed comes back after a
// per-key exponential back-off. After client-go's rate-limited queue.
package workqueue
