package watchcache

import (
	"reflect"
	"slices"
	"sync"

	"google.golang.org/protobuf/proto"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// sharer makes the objects a kind's cache keeps share the parts they hold
// in common: the pods of one replica set have equal containers, labels and
// owner references, every pod the same namespace and a few node names.
// Decoded apart, a pod from a one-container template costs ~2.3 KB; its
// container (~850 B with its requests map), its labels map (~340 B) and
// its owner reference are the same for every pod of its set. The cache's
// objects are read-only (lists, watchers and in-process informers share
// them), so equal parts can be one.
//
// Parts are matched by content: a message by its deterministic encoding, a
// string map by its sorted entries, a string by itself. The table keeps
// two generations of limit entries each, the older dropped when the newer
// fills: what objects no longer use goes, and parts that never repeat
// (a pod's own volume, say) cost at most the table's bound.
//
// Not safe for concurrent use: each kind's sharer is used by its run
// goroutine only, whose fill and events are the only objects it keeps.
type sharer struct {
	cur, old map[string]any
	limit    int
	buf      []byte
}

// shareLimit bounds each generation of a kind's table.
const shareLimit = 8192

// shareDepth is how deep a message not seen before is searched for parts
// (a pod's spec, its containers, their resources).
const shareDepth = 3

func newSharer(limit int) *sharer {
	return &sharer{cur: map[string]any{}, limit: limit}
}

// share replaces the parts of obj's metadata and spec that an object
// shared before holds too with that object's.
func (s *sharer) share(obj skiffv1.Resource) {
	m := obj.GetMetadata()
	if m == nil {
		return
	}
	m.Namespace = s.str(m.Namespace)
	m.Labels = s.stringMap(m.Labels)
	m.Annotations = s.stringMap(m.Annotations)
	for i, r := range m.OwnerReferences {
		m.OwnerReferences[i] = s.message(r, shareDepth).(*skiffv1.OwnerReference)
	}
	if spec := reflect.ValueOf(obj).Elem().FieldByName("Spec"); spec.IsValid() && spec.Kind() == reflect.Pointer && !spec.IsNil() {
		s.fields(spec.Elem(), shareDepth)
	}
}

var messageType = reflect.TypeFor[proto.Message]()

// What a field of a generated message is to the sharer.
const (
	fieldString = iota + 1
	fieldStringMap
	fieldMessage
	fieldMessages
)

type sharedField struct{ index, what int }

// plans are the fields worth sharing of each message type, found once.
var plans sync.Map // reflect.Type → []sharedField

func planOf(t reflect.Type) []sharedField {
	if p, ok := plans.Load(t); ok {
		return p.([]sharedField)
	}
	var p []sharedField
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue // the message's internal state
		}
		ft := f.Type
		switch {
		case ft.Kind() == reflect.String:
			p = append(p, sharedField{i, fieldString})
		case ft.Kind() == reflect.Map && ft.Key().Kind() == reflect.String && ft.Elem().Kind() == reflect.String:
			p = append(p, sharedField{i, fieldStringMap})
		case ft.Kind() == reflect.Pointer && ft.Implements(messageType):
			p = append(p, sharedField{i, fieldMessage})
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Pointer && ft.Elem().Implements(messageType):
			p = append(p, sharedField{i, fieldMessages})
		}
	}
	plans.Store(t, p)
	return p
}

// fields shares the string, string map and message fields of a generated
// message's struct v (and their lists).
func (s *sharer) fields(v reflect.Value, depth int) {
	for _, sf := range planOf(v.Type()) {
		f := v.Field(sf.index)
		switch sf.what {
		case fieldString:
			f.SetString(s.str(f.String()))
		case fieldStringMap:
			if !f.IsNil() {
				f.Set(reflect.ValueOf(s.stringMap(f.Interface().(map[string]string))))
			}
		case fieldMessage:
			if !f.IsNil() {
				f.Set(reflect.ValueOf(s.message(f.Interface().(proto.Message), depth)))
			}
		case fieldMessages:
			for j := range f.Len() {
				if e := f.Index(j); !e.IsNil() {
					e.Set(reflect.ValueOf(s.message(e.Interface().(proto.Message), depth)))
				}
			}
		}
	}
}

// lookup is what key holds, moved to the newer generation if found in the
// older.
func (s *sharer) lookup(key []byte) (any, bool) {
	if v, ok := s.cur[string(key)]; ok {
		return v, true
	}
	if v, ok := s.old[string(key)]; ok {
		s.keep(string(key), v)
		return v, true
	}
	return nil, false
}

func (s *sharer) keep(key string, v any) {
	if len(s.cur) >= s.limit {
		s.old, s.cur = s.cur, make(map[string]any, s.limit/4)
	}
	s.cur[key] = v
}

// str is a string equal to x, the one held before when there is one.
func (s *sharer) str(x string) string {
	if x == "" {
		return x
	}
	s.buf = append(append(s.buf[:0], 's'), x...)
	if v, ok := s.lookup(s.buf); ok {
		return v.(string)
	}
	key := string(s.buf)
	s.keep(key, key[1:]) // the key's bytes, not a second copy
	return key[1:]
}

// stringMap is a map equal to m, the one held before when there is one.
func (s *sharer) stringMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return m
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s.buf = append(s.buf[:0], 'm')
	for _, k := range keys {
		// Lengths first: no two different maps make one key.
		s.buf = appendLen(s.buf, len(k))
		s.buf = append(s.buf, k...)
		s.buf = appendLen(s.buf, len(m[k]))
		s.buf = append(s.buf, m[k]...)
	}
	if v, ok := s.lookup(s.buf); ok {
		return v.(map[string]string)
	}
	key := string(s.buf)
	for k, v := range m {
		m[k] = s.str(v) // values repeat across maps more than keys cost
	}
	s.keep(key, m)
	return m
}

func appendLen(b []byte, n int) []byte {
	return append(b, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// message is a message equal to msg, the one held before when there is
// one; a message not seen before has its own parts shared, depth levels
// down.
func (s *sharer) message(msg proto.Message, depth int) proto.Message {
	name := msg.ProtoReflect().Descriptor().FullName()
	s.buf = append(append(append(s.buf[:0], 'p'), name...), 0)
	b, err := proto.MarshalOptions{Deterministic: true}.MarshalAppend(s.buf, msg)
	if err != nil {
		return msg
	}
	s.buf = b
	if v, ok := s.lookup(s.buf); ok {
		return v.(proto.Message)
	}
	key := string(s.buf)
	if depth > 1 {
		s.fields(reflect.ValueOf(msg).Elem(), depth-1)
	}
	s.keep(key, msg)
	return msg
}
