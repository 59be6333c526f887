package runtime

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// Containers created from many goroutines at once must each land in their
// own sandbox's namespaces.
func TestConcurrentCreatesLandInTheRightSandbox(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	for _, p := range []string{"pa", "pb"} {
		if _, err := r.CreateSandbox(SandboxSpec{ID: p, Hostname: "host-" + p}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 24)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), scaled(time.Minute))
			defer cancel()
			for i := range 3 {
				pod := []string{"pa", "pb"}[(g+i)%2]
				id := fmt.Sprintf("c-%d-%d", g, i)
				spec := shSpec(id, []string{layer}, "hostname")
				spec.SandboxID = pod
				if _, err := r.Create(ctx, spec); err != nil {
					errs <- err
					return
				}
				if err := r.Start(ctx, id); err != nil {
					errs <- err
					return
				}
				st, err := r.Wait(ctx, id)
				if err != nil {
					errs <- err
					return
				}
				out := logText(t, st.LogPath)
				if strings.TrimSpace(out) != "host-"+pod {
					errs <- fmt.Errorf("%s in %s says %q", id, pod, out)
				}
				if err := r.Remove(ctx, id); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
