package skiffv1

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Every kind of the Kind enum has its row in kindInfos and its field in
// the Object envelope, and wraps and unwraps as itself: a kind added to
// the proto but not registered fails here.
func TestEveryKindRegistered(t *testing.T) {
	for n, name := range Kind_name {
		k := Kind(n)
		if k == Kind_KIND_UNSPECIFIED {
			continue
		}
		info, ok := Info(k)
		if !ok {
			t.Errorf("%s has no row in kindInfos", name)
			continue
		}
		obj := info.New()
		obj.ProtoReflect().Set(obj.ProtoReflect().Descriptor().Fields().ByName("metadata"), protoreflect.ValueOfMessage((&ObjectMeta{Name: "x"}).ProtoReflect()))
		if got := KindOf(obj); got != k {
			t.Errorf("KindOf(new %s) = %v", info.Name, got)
		}
		w := Wrap(obj)
		if w.ObjectKind() != k || !proto.Equal(w.Unwrap(), obj) {
			t.Errorf("%s does not round-trip through the Object envelope: %v", info.Name, w)
		}
		data, err := proto.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		var back Object
		if err := proto.Unmarshal(data, &back); err != nil || back.ObjectKind() != k {
			t.Errorf("%s through the wire: kind %v, %v", info.Name, back.ObjectKind(), err)
		}
	}
	if (&Object{}).Unwrap() != nil || ((*Object)(nil)).Unwrap() != nil || KindOf(nil) != Kind_KIND_UNSPECIFIED {
		t.Error("an empty envelope must unwrap to nil")
	}
	if p := (&Object{Kind: &Object_Pod{Pod: &Pod{}}}).Unwrap(); KindOf(p) != Kind_KIND_POD {
		t.Errorf("a pod envelope unwraps to %T", p)
	}
}

func TestParseKindTakesKubectlNames(t *testing.T) {
	for in, want := range map[string]string{
		"po": "Pod", "pods": "Pod", "Pod": "Pod", "deployment": "Deployment",
		"persistentvolumeclaims": "Volume", "pvc": "Volume", "PersistentVolume": "PersistentVolume", "pv": "PersistentVolume",
		"horizontalpodautoscaler": "Autoscaler", "hpa": "Autoscaler",
		"rc": "ReplicationController", "replicationcontroller": "ReplicationController", "replicationcontrollers": "ReplicationController",
	} {
		got, err := ParseKind(in)
		if err != nil || got.Name != want {
			t.Errorf("ParseKind(%q) = %q, %v; want %q", in, got.Name, err, want)
		}
	}
	if _, err := ParseKind("statefulsetz"); err == nil {
		t.Error("ParseKind took a kind that does not exist")
	}
}
