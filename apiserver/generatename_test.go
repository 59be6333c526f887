package apiserver_test

import (
	"regexp"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// An object with generateName and no name is named by the server: the
// prefix (cut to leave room) and five random characters, a different name
// each time; a prefix no name can begin with is refused, naming the field.
func TestCreateWithGenerateName(t *testing.T) {
	s := apitest.Start(t)
	ctx := ctxT(t)
	generated := regexp.MustCompile(`^pi-[bcdfghjklmnpqrstvwxz2456789]{5}$`)
	seen := map[string]bool{}
	for range 3 {
		p := pod("")
		p.Metadata.GenerateName = "pi-"
		got, err := s.Client.Pods().Create(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		name := got.GetMetadata().GetName()
		if !generated.MatchString(name) || seen[name] {
			t.Fatalf("generated name %q: want pi- and five new random characters (had %v)", name, seen)
		}
		seen[name] = true
		if _, err := s.Client.Pods().Get(ctx, "default", name); err != nil {
			t.Fatalf("the pod under its generated name: %v", err)
		}
	}

	long := pod("")
	long.Metadata.GenerateName = strings.Repeat("a", 70) + "-"
	got, err := s.Client.Pods().Create(ctx, long)
	if err != nil {
		t.Fatal(err)
	}
	if n := got.GetMetadata().GetName(); len(n) != 63 || !strings.HasPrefix(n, strings.Repeat("a", 58)) {
		t.Errorf("a long prefix gave %q (%d characters), want 58 of the prefix and 5 more", n, len(n))
	}

	bad := pod("")
	bad.Metadata.GenerateName = "Pi_"
	_, err = s.Client.Pods().Create(ctx, bad)
	wantCode(t, err, codes.InvalidArgument, "metadata.generateName")

	cm := &skiffv1.ConfigMap{Metadata: &skiffv1.ObjectMeta{GenerateName: "site.v1."}}
	gotCM, err := s.Client.ConfigMaps().Create(ctx, cm)
	if err != nil || !strings.HasPrefix(gotCM.GetMetadata().GetName(), "site.v1.") {
		t.Errorf("a ConfigMap (named like a subdomain) from generateName: %v %v", gotCM.GetMetadata().GetName(), err)
	}
}
