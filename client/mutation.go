package client

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"google.golang.org/protobuf/proto"
)

// checkMutations makes informers keep each object's encoding as it came
// from the server and compare it when the object is replaced or removed
// and when Run returns: objects are shared (by every handler, and by
// every component of a process through SharedInformers), so one modified
// in place corrupts what the others see. On in tests and with
// SKIFF_INFORMER_MUTATION_CHECK=1; it costs two encodings per change.
var checkMutations = testing.Testing() || os.Getenv("SKIFF_INFORMER_MUTATION_CHECK") == "1"

// mutationFound is told of a modified object; tests replace it.
var mutationFound = func(msg string) { panic(msg) }

var deterministic = proto.MarshalOptions{Deterministic: true}

func (inf *Informer[T]) keepPristineLocked(k string, obj T) {
	if inf.pristine == nil {
		return
	}
	b, err := deterministic.Marshal(obj)
	if err != nil {
		return
	}
	inf.pristine[k] = b
}

func (inf *Informer[T]) checkPristineLocked(k string, obj T) {
	if inf.pristine == nil {
		return
	}
	want, ok := inf.pristine[k]
	delete(inf.pristine, k)
	if !ok {
		return
	}
	got, err := deterministic.Marshal(obj)
	if err == nil && !bytes.Equal(got, want) {
		mutationFound(fmt.Sprintf("informer %s: the cached object %s was modified by a user of the informer (clone it before changing it): now %v", inf.kind, k, obj))
	}
}

// checkAllPristine compares every object held with its encoding.
func (inf *Informer[T]) checkAllPristine() {
	if inf.pristine == nil {
		return
	}
	inf.mu.RLock()
	defer inf.mu.RUnlock()
	for k, obj := range inf.items {
		want := inf.pristine[k]
		got, err := deterministic.Marshal(obj)
		if err == nil && want != nil && !bytes.Equal(got, want) {
			mutationFound(fmt.Sprintf("informer %s: the cached object %s was modified by a user of the informer (clone it before changing it): now %v", inf.kind, k, obj))
		}
	}
}
