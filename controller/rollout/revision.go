package rollout

import (
	"encoding/binary"
	"hash/fnv"
	"strconv"

	"google.golang.org/protobuf/proto"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Names Kubernetes gives the label and annotations of a rollout.
const (
	// HashLabel on a replica set, its selector and its pods tells the
	// versions of a template apart.
	HashLabel = "pod-template-hash"
	// RevisionAnnotation numbers the versions on replica sets (and gives
	// the current one on the deployment).
	RevisionAnnotation = "deployment.kubernetes.io/revision"
	// RestartedAtAnnotation, set on the template by `rollout restart`,
	// changes the template so that every pod is replaced.
	RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"
	// ChangeCauseAnnotation is shown by `rollout history`.
	ChangeCauseAnnotation = "kubernetes.io/change-cause"
)

// hashChars: digits and consonants, as Kubernetes' SafeEncodeString, so a
// hash never spells a word.
const hashChars = "bcdfghjklmnpqrstvwxz2456789"

// TemplateHash is a short name-safe hash of a pod template (its
// deterministic encoding; collisions bumps it to the next variant).
func TemplateHash(t *skiffv1.PodTemplateSpec, collisions int32) string {
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(t)
	h := fnv.New32a()
	h.Write(b)
	if collisions > 0 {
		var c [4]byte
		binary.LittleEndian.PutUint32(c[:], uint32(collisions))
		h.Write(c[:])
	}
	s := strconv.FormatUint(uint64(h.Sum32()), 10)
	out := make([]byte, len(s))
	for i := range s {
		out[i] = hashChars[int(s[i])%len(hashChars)]
	}
	return string(out)
}

// SameTemplate: the replica set's template is the deployment's, apart
// from the hash label the replica set adds.
func SameTemplate(d *skiffv1.PodTemplateSpec, rs *skiffv1.PodTemplateSpec) bool {
	a := proto.Clone(d).(*skiffv1.PodTemplateSpec)
	b := proto.Clone(rs).(*skiffv1.PodTemplateSpec)
	for _, t := range []*skiffv1.PodTemplateSpec{a, b} {
		if t.Metadata != nil {
			delete(t.Metadata.Labels, HashLabel)
			if len(t.Metadata.Labels) == 0 {
				t.Metadata.Labels = nil
			}
		}
	}
	return proto.Equal(a, b)
}

// Revision reads a replica set's revision annotation (0 when none).
func Revision(rs *skiffv1.ReplicaSet) int64 {
	n, _ := strconv.ParseInt(rs.GetMetadata().GetAnnotations()[RevisionAnnotation], 10, 64)
	return n
}

// MaxRevision is the highest revision among sets.
func MaxRevision(sets []*skiffv1.ReplicaSet) int64 {
	var m int64
	for _, rs := range sets {
		m = max(m, Revision(rs))
	}
	return m
}
