package runtime

import (
	"os"
	"path/filepath"
	"testing"
)

// A sandbox's containers are listed with their identity and labels;
// SandboxIDs finds a sandbox by its containers alone (its namespaces gone,
// as after a reboot); DestroySandboxCgroup kills what runs in the pod
// cgroup and removes it.
func TestSandboxContainersAndTeardown(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	ctx := bgCtx(t)
	if _, err := r.CreateSandbox(SandboxSpec{ID: "uid-1"}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"skiff.io/pod-name": "web"}
	for attempt := range 2 {
		spec := shSpec(ContainerID("uid-1", "app", attempt), []string{layer}, "sleep 1000")
		spec.SandboxID, spec.Name, spec.Attempt, spec.Labels = "uid-1", "app", attempt, labels
		if _, err := r.Create(ctx, spec); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Start(ctx, ContainerID("uid-1", "app", 1)); err != nil {
		t.Fatal(err)
	}
	// A container of no sandbox whose ID merely starts like the pod's.
	other := shSpec("uid-1.lookalike.0", []string{layer}, "true")
	if _, err := r.Create(ctx, other); err != nil {
		t.Fatal(err)
	}

	sts, err := r.ListSandbox("uid-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 2 {
		t.Fatalf("ListSandbox: %d containers, want 2: %+v", len(sts), sts)
	}
	for i, st := range sts {
		if st.SandboxID != "uid-1" || st.Name != "app" || st.Attempt != i || st.Labels["skiff.io/pod-name"] != "web" {
			t.Errorf("container %d: %+v", i, st)
		}
	}

	// The namespaces go (as at reboot): the containers still name the sandbox.
	sb, err := r.Sandbox("uid-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveSandbox("uid-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(sb.NetNS)); !os.IsNotExist(err) {
		t.Fatalf("sandbox dir still there: %v", err)
	}
	ids, err := r.SandboxIDs()
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids[0] != "uid-1" {
		t.Fatalf("SandboxIDs = %v, want [uid-1]", ids)
	}

	// The running container was in the pod cgroup (RemoveSandbox destroyed
	// it, killing the container); destroying again finds nothing and is fine.
	st, err := r.Wait(ctx, ContainerID("uid-1", "app", 1))
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != StatusExited || st.Signal == 0 {
		t.Errorf("container in a destroyed pod cgroup: %+v, want killed", st)
	}
	if err := r.DestroySandboxCgroup("uid-1"); err != nil {
		t.Fatalf("second destroy: %v", err)
	}
	if err := r.DestroySandboxCgroup("../x"); err == nil {
		t.Fatal("an invalid sandbox id was accepted")
	}
}
