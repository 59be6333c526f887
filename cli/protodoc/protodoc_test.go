package protodoc

import (
	"testing"
	"testing/fstest"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

const sample = `syntax = "proto3";

// The file's comment, not a message's.
package demo.v1;

// ---- a section ----

// Outer is documented
// on two lines.
message Outer {
  // A plain field.
  string name = 1;
  repeated Inner items = 2; // Trailing text.
  map<string, Inner> by_name = 3;
  optional int32 count = 4 [deprecated = true];
  // Inner is nested.
  message Inner {
    // Inside.
    int64 value = 1;
  }
  enum Mode {
    // An enum value is no field.
    MODE_UNSPECIFIED = 0;
  }
  oneof choice {
    // One of them.
    string left = 5;
  }
  message Empty {}
  // After the nested blocks.
  bool last = 6;
}
`

func TestRead(t *testing.T) {
	docs, err := Read(fstest.MapFS{"demo.proto": {Data: []byte(sample)}, "other.txt": {Data: []byte("message X {}")}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[protoreflect.FullName]string{
		"demo.v1.Outer":             "Outer is documented\non two lines.",
		"demo.v1.Outer.name":        "A plain field.",
		"demo.v1.Outer.items":       "Trailing text.",
		"demo.v1.Outer.Inner":       "Inner is nested.",
		"demo.v1.Outer.Inner.value": "Inside.",
		"demo.v1.Outer.left":        "One of them.",
		"demo.v1.Outer.last":        "After the nested blocks.",
	}
	for name, text := range want {
		if docs[name] != text {
			t.Errorf("%s: %q, want %q", name, docs[name], text)
		}
	}
	if len(docs) != len(want) {
		t.Errorf("%d docs, want %d: %q", len(docs), len(want), docs)
	}
}

// The binary's own sources: comments reach the descriptors they describe.
func TestReadSkiffSources(t *testing.T) {
	docs, err := Read(skiffv1.ProtoSources())
	if err != nil {
		t.Fatal(err)
	}
	spec := (&skiffv1.DaemonSetSpec{}).ProtoReflect().Descriptor()
	if got := docs.Of(spec.Fields().ByName("min_ready_seconds")); got != "Seconds a new pod must be ready before it counts as available." {
		t.Errorf("DaemonSetSpec.min_ready_seconds: %q", got)
	}
	if got := docs.Of((&skiffv1.DaemonSet{}).ProtoReflect().Descriptor()); got == "" {
		t.Error("DaemonSet has no message comment")
	}
	// Every documented name is a real message or field.
	for name := range docs {
		if _, err := protoregistry.GlobalFiles.FindDescriptorByName(name); err != nil {
			t.Errorf("%s: documented, but %v", name, err)
		}
	}
}
