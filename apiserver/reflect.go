package apiserver

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Every kind has the same top-level shape (metadata, spec, status), so the
// server handles spec and status generically through protobuf reflection.

func field(obj skiffv1.Resource, name protoreflect.Name) protoreflect.FieldDescriptor {
	return obj.ProtoReflect().Descriptor().Fields().ByName(name)
}

// copyField sets dst's named top-level field to src's (clearing it when src
// has none).
func copyField(dst, src skiffv1.Resource, name protoreflect.Name) {
	fd := field(dst, name)
	if fd == nil {
		return
	}
	sm := src.ProtoReflect()
	if sm.Has(fd) {
		dst.ProtoReflect().Set(fd, protoreflect.ValueOfMessage(proto.Clone(sm.Get(fd).Message().Interface()).ProtoReflect()))
	} else {
		dst.ProtoReflect().Clear(fd)
	}
}

// clearField empties a top-level field.
func clearField(obj skiffv1.Resource, name protoreflect.Name) {
	if fd := field(obj, name); fd != nil {
		obj.ProtoReflect().Clear(fd)
	}
}

// fieldEqual compares a top-level field of two objects of one kind.
func fieldEqual(a, b skiffv1.Resource, name protoreflect.Name) bool {
	fd := field(a, name)
	if fd == nil {
		return true
	}
	am, bm := a.ProtoReflect(), b.ProtoReflect()
	if !am.Has(fd) || !bm.Has(fd) {
		return am.Has(fd) == bm.Has(fd)
	}
	return proto.Equal(am.Get(fd).Message().Interface(), bm.Get(fd).Message().Interface())
}

// discardUnknown drops the unknown fields of m and of every message in it.
func discardUnknown(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(_ protoreflect.MapKey, e protoreflect.Value) bool {
					discardUnknown(e.Message())
					return true
				})
			}
		case fd.IsList():
			if fd.Message() != nil {
				for i := 0; i < v.List().Len(); i++ {
					discardUnknown(v.List().Get(i).Message())
				}
			}
		case fd.Message() != nil:
			discardUnknown(v.Message())
		}
		return true
	})
	if m.GetUnknown() != nil {
		m.SetUnknown(nil)
	}
}
