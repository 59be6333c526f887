package runtime

import "testing"

// IDs made by ContainerID give back their name and attempt (containers of
// older agents carry no name in their spec); other IDs give none.
func TestIdentityFromID(t *testing.T) {
	id := ContainerID("0b8f6c1e-uid", "web", 3)
	if id != "0b8f6c1e-uid.web.3" {
		t.Fatalf("ContainerID = %q", id)
	}
	if name, attempt := identityFromID(id, "0b8f6c1e-uid"); name != "web" || attempt != 3 {
		t.Fatalf("identityFromID(%q) = %q, %d; want web, 3", id, name, attempt)
	}
	for _, tc := range []struct{ id, sandbox string }{
		{id, "other"}, {id, ""}, {"0b8f6c1e-uid.web", "0b8f6c1e-uid"}, {"0b8f6c1e-uid.web.x", "0b8f6c1e-uid"},
		{"0b8f6c1e-uid.web.-1", "0b8f6c1e-uid"}, {"0b8f6c1e-uid..1", "0b8f6c1e-uid"}, {"c1", "0b8f6c1e-uid"},
	} {
		if name, _ := identityFromID(tc.id, tc.sandbox); name != "" {
			t.Errorf("identityFromID(%q, %q) = %q, want none", tc.id, tc.sandbox, name)
		}
	}
}
