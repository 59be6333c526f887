package controller

import (
	"log/slog"
	"strconv"
	"strings"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// statefulSets runs each StatefulSet's pods NAME-0 … NAME-(n-1), each with
// its own name, hostname (NAME-i.SERVICE) and volumes, as Kubernetes'
// StatefulSet controller does: with OrderedReady, one pod at a time in
// ordinal order, each Ready before the next, and scale-down from the
// highest ordinal; with Parallel, all at once. An update replaces pods
// from the highest ordinal down to the partition, one at a time, each
// Ready again before the next.
//
// Each volumeClaimTemplate becomes a Volume TEMPLATE-NAME-i the first time
// pod i is made; it outlives the pod (and a scale-down, unless the
// persistentVolumeClaimRetentionPolicy says otherwise), so a pod made
// again under the same name finds its data. A local volume stays on the
// node that first held it, and so does its pod: the scheduler pins it.
type statefulSets struct {
	c       *client.Client
	pods    *client.SharedInformer[*skiffv1.Pod]
	sets    *client.SharedInformer[*skiffv1.StatefulSet]
	volumes *client.SharedInformer[*skiffv1.Volume]
	exp     *expectations
	rec     *recorder
	log     *slog.Logger
	r       *reconciler
}

// Labels a StatefulSet's pods carry besides the template's, as in
// Kubernetes.
const (
	StatefulSetPodNameLabel = "statefulset.kubernetes.io/pod-name"
	PodIndexLabel           = "apps.kubernetes.io/pod-index"
)

func newStatefulSets(cfg *Config, inf *informers, m *metrics, rec *recorder) *statefulSets {
	sc := &statefulSets{
		c: cfg.Client, pods: inf.pods, sets: inf.statefuls, volumes: inf.volumes, exp: newExpectations(),
		rec: rec, log: cfg.Logger.With("controller", nameStatefulSet),
	}
	sc.r = newReconciler(nameStatefulSet, cfg.Workers, cfg.Logger, m, sc.sync)
	inf.statefuls.AddHandler(client.Handler[*skiffv1.StatefulSet]{
		OnAdd:    func(o *skiffv1.StatefulSet) { sc.r.queue.Add(client.KeyOf(o)) },
		OnUpdate: func(_, o *skiffv1.StatefulSet) { sc.r.queue.Add(client.KeyOf(o)) },
		OnDelete: func(o *skiffv1.StatefulSet) { sc.exp.forget(client.KeyOf(o)) },
	})
	inf.pods.AddHandler(client.Handler[*skiffv1.Pod]{
		OnAdd: func(p *skiffv1.Pod) {
			if key, ok := sc.owner(p); ok {
				sc.exp.creationObserved(key)
				sc.r.queue.Add(key)
			}
		},
		OnUpdate: func(old, p *skiffv1.Pod) {
			if key, ok := sc.owner(p); ok {
				if p.GetMetadata().GetDeletionTimestamp() != nil && old.GetMetadata().GetDeletionTimestamp() == nil {
					sc.exp.deletionObserved(key, p.GetMetadata().GetUid())
				}
				sc.r.queue.Add(key)
			}
		},
		OnDelete: func(p *skiffv1.Pod) {
			if key, ok := sc.owner(p); ok {
				sc.exp.deletionObserved(key, p.GetMetadata().GetUid())
				sc.r.queue.Add(key)
			}
		},
	})
	// A deleted claim of a pod that waits is made again (see
	// claimsForWaitingPod): its set has to hear of the deletion.
	inf.volumes.AddHandler(client.Handler[*skiffv1.Volume]{
		OnDelete: func(v *skiffv1.Volume) {
			for _, key := range sc.setsClaiming(v) {
				sc.r.queue.Add(key)
			}
		},
	})
	return sc
}

// setsClaiming lists the StatefulSets of v's namespace whose claim
// templates name v (TEMPLATE-SET-i).
func (sc *statefulSets) setsClaiming(v *skiffv1.Volume) []string {
	var keys []string
	for _, set := range sc.sets.List() {
		m := set.GetMetadata()
		if m.GetNamespace() != v.GetMetadata().GetNamespace() {
			continue
		}
		for _, t := range set.GetSpec().GetVolumeClaimTemplates() {
			rest, ok := strings.CutPrefix(v.GetMetadata().GetName(), t.GetMetadata().GetName()+"-")
			if _, isOrdinal := ordinalOf(m.GetName(), rest); ok && isOrdinal {
				keys = append(keys, client.KeyOf(set))
				break
			}
		}
	}
	return keys
}

func (sc *statefulSets) owner(p *skiffv1.Pod) (string, bool) {
	ref := controllerRef(p.GetMetadata())
	if ref == nil || ref.GetKind() != "StatefulSet" {
		return "", false
	}
	key := client.Key(p.GetMetadata().GetNamespace(), ref.GetName())
	set, ok := sc.sets.Get(key)
	if !ok || set.GetMetadata().GetUid() != ref.GetUid() {
		return "", false
	}
	return key, true
}

// ordinalOf reads the ordinal from a pod name SET-i; false when the name
// is not of that form.
func ordinalOf(set, pod string) (int, bool) {
	s, ok := strings.CutPrefix(pod, set+"-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || strconv.Itoa(n) != s {
		return 0, false
	}
	return n, true
}

// claimName is the Volume a claim template gives ordinal i of set.
func claimName(template, set string, i int) string {
	return template + "-" + set + "-" + strconv.Itoa(i)
}
