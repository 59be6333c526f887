package runtime

import "testing"

// Without a device cgroup (cgroup v2 here), MKNOD is dropped after the
// security context's adds: "capabilities.add: [MKNOD]" must not bring raw
// device access back.
func TestForcedDropsApplyAfterAdds(t *testing.T) {
	const mknod = capSet(1) << capMknod
	for _, tc := range []struct {
		name          string
		sc            SecurityContext
		devicesLocked bool
		wantMknod     bool
	}{
		{"default, no device cgroup", SecurityContext{}, false, false},
		{"add MKNOD, no device cgroup", SecurityContext{CapAdd: []string{"MKNOD"}}, false, false},
		{"add ALL, no device cgroup", SecurityContext{CapAdd: []string{"ALL"}}, false, false},
		{"drop ALL add CAP_MKNOD, no device cgroup", SecurityContext{CapDrop: []string{"ALL"}, CapAdd: []string{"CAP_MKNOD"}}, false, false},
		{"default, device cgroup", SecurityContext{}, true, true},
		{"add MKNOD, device cgroup", SecurityContext{CapAdd: []string{"MKNOD"}}, true, true},
		{"privileged", SecurityContext{Privileged: true}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := newLockdown(tc.sc, tc.devicesLocked)
			if err != nil {
				t.Fatal(err)
			}
			if got := l.caps&mknod != 0; got != tc.wantMknod {
				t.Errorf("CAP_MKNOD kept = %v, want %v (caps %#x)", got, tc.wantMknod, l.caps)
			}
		})
	}
}
