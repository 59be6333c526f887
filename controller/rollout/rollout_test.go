package rollout

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func deployment(replicas int32, surge, unavailable string) *skiffv1.Deployment {
	return &skiffv1.Deployment{
		Metadata: &skiffv1.ObjectMeta{Name: "web", Generation: 1},
		Spec: &skiffv1.DeploymentSpec{
			Replicas: proto.Int32(replicas),
			Strategy: &skiffv1.DeploymentStrategy{Type: "RollingUpdate", RollingUpdate: &skiffv1.RollingUpdateDeployment{MaxSurge: surge, MaxUnavailable: unavailable}},
		},
	}
}

// rs is a replica set created age seconds after a fixed instant, with
// spec replicas and available ones.
func rs(name string, age int, replicas, available int32) *skiffv1.ReplicaSet {
	return &skiffv1.ReplicaSet{
		Metadata: &skiffv1.ObjectMeta{Name: name, CreationTimestamp: timestamppb.New(time.Unix(1000+int64(age), 0))},
		Spec:     &skiffv1.ReplicaSetSpec{Replicas: proto.Int32(replicas)},
		Status:   &skiffv1.ReplicaSetStatus{Replicas: replicas, ReadyReplicas: available, AvailableReplicas: available},
	}
}

func TestFenceposts(t *testing.T) {
	for _, c := range []struct {
		replicas                 int32
		surge, unavailable       string
		wantSurge, wantUnavail   int32
		wantMaxUnavailableCapped int32
	}{
		{10, "25%", "25%", 3, 2, 2}, // surge rounds up, unavailable down
		{6, "25%", "25%", 2, 1, 1},
		{1, "25%", "25%", 1, 0, 0},
		{3, "0", "0%", 0, 1, 1}, // both zero: one may be unavailable
		{3, "1", "5", 1, 5, 3},  // never more unavailable than desired
		{4, "50%", "100%", 2, 4, 4},
	} {
		d := deployment(c.replicas, c.surge, c.unavailable)
		s, u := Fenceposts(d)
		if s != c.wantSurge || u != c.wantUnavail {
			t.Errorf("%d replicas, surge %s unavailable %s: got %d/%d, want %d/%d", c.replicas, c.surge, c.unavailable, s, u, c.wantSurge, c.wantUnavail)
		}
		if m := MaxUnavailable(d); m != c.wantMaxUnavailableCapped {
			t.Errorf("%d replicas, unavailable %s: MaxUnavailable %d, want %d", c.replicas, c.unavailable, m, c.wantMaxUnavailableCapped)
		}
	}
}

func TestNewReplicasStaysWithinSurge(t *testing.T) {
	d := deployment(6, "2", "1")
	old := rs("old", 0, 6, 6)
	n := rs("new", 1, 0, 0)
	if got := NewReplicas(d, []*skiffv1.ReplicaSet{old, n}, n); got != 2 {
		t.Errorf("first step: new set to %d, want 2 (6 old + 2 surge)", got)
	}
	old = rs("old", 0, 5, 5)
	n = rs("new", 1, 2, 0)
	if got := NewReplicas(d, []*skiffv1.ReplicaSet{old, n}, n); got != 3 {
		t.Errorf("after one old pod went: new set to %d, want 3", got)
	}
	n = rs("new", 1, 3, 0)
	old = rs("old", 0, 5, 5)
	if got := NewReplicas(d, []*skiffv1.ReplicaSet{old, n}, n); got != 3 {
		t.Errorf("at surge: new set to %d, want it unchanged at 3", got)
	}
	rec := deployment(6, "", "")
	rec.Spec.Strategy = &skiffv1.DeploymentStrategy{Type: "Recreate"}
	if got := NewReplicas(rec, []*skiffv1.ReplicaSet{old, n}, n); got != 6 {
		t.Errorf("Recreate: new set to %d, want 6 at once", got)
	}
}

func TestScaleNewDownWhenAboveDesired(t *testing.T) {
	d := deployment(2, "1", "1")
	n := rs("new", 1, 5, 5)
	s, ok := ScaleNew(d, []*skiffv1.ReplicaSet{n}, n)
	if !ok || s.Replicas != 2 {
		t.Fatalf("got %v %v, want a scale down to 2", s.Replicas, ok)
	}
	n = rs("new", 1, 2, 2)
	if _, ok := ScaleNew(d, []*skiffv1.ReplicaSet{n}, n); ok {
		t.Error("a new set at desired got a step")
	}
}

func replicasOf(steps []Scale) map[string]int32 {
	out := map[string]int32{}
	for _, s := range steps {
		out[s.RS.GetMetadata().GetName()] = s.Replicas
	}
	return out
}

func TestScaleOldKeepsMinimumAvailable(t *testing.T) {
	d := deployment(6, "2", "1") // at least 5 available
	// New set surged to 2, none available yet: only one old pod may go.
	old := rs("old", 0, 6, 6)
	n := rs("new", 1, 2, 0)
	got := replicasOf(ScaleOld(d, []*skiffv1.ReplicaSet{old}, n))
	if got["old"] != 5 {
		t.Errorf("old set to %v, want 5", got)
	}
	// Nothing more may go while the new pods are not available.
	old = rs("old", 0, 5, 5)
	if steps := ScaleOld(d, []*skiffv1.ReplicaSet{old}, rs("new", 1, 3, 0)); len(steps) != 0 {
		t.Errorf("scaled %v below minimum availability", replicasOf(steps))
	}
	// Two new pods available: two more old ones go.
	got = replicasOf(ScaleOld(d, []*skiffv1.ReplicaSet{old}, rs("new", 1, 3, 2)))
	if got["old"] != 3 {
		t.Errorf("old set to %v, want 3", got)
	}
}

// A set just scaled down still reports its old count as available until
// its pods are gone: those must not be counted on, or a second step would
// take the deployment below its minimum.
func TestScaleOldIgnoresPodsBeingRemoved(t *testing.T) {
	d := deployment(6, "1", "1") // at least 5 available
	old := rs("old", 0, 5, 6)    // scaled to 5, the sixth pod not yet gone
	n := rs("new", 1, 2, 1)
	// 5 old + 1 new available: one more old pod may go, not two.
	if got := replicasOf(ScaleOld(d, []*skiffv1.ReplicaSet{old}, n)); got["old"] != 4 {
		t.Errorf("old set to %v, want 4", got)
	}
}

func TestScaleOldRemovesUnhealthyFirstAndOldestFirst(t *testing.T) {
	d := deployment(4, "1", "1") // at least 3 available
	older := rs("older", 0, 2, 2)
	old := rs("old", 5, 2, 0) // a broken earlier rollout: none available
	n := rs("new", 9, 1, 1)
	got := replicasOf(ScaleOld(d, []*skiffv1.ReplicaSet{old, older}, n))
	// 5 pods, minimum 3 available, new has none unavailable: 2 may go;
	// the two unavailable pods of "old" go, the available ones stay.
	if got["old"] != 0 || len(got) != 1 {
		t.Errorf("got %v, want old scaled to 0 and older untouched", got)
	}
	// All healthy: the oldest set shrinks first.
	got = replicasOf(ScaleOld(d, []*skiffv1.ReplicaSet{rs("b", 5, 2, 2), rs("a", 0, 2, 2)}, rs("new", 9, 1, 1)))
	if got["a"] != 0 || len(got) != 1 {
		t.Errorf("got %v, want a (the oldest) scaled to 0", got)
	}
}

// A whole rollout simulated step by step, pods becoming available at
// once: the count never leaves [desired-maxUnavailable, desired+maxSurge]
// and ends with every pod new.
func TestRollingUpdateSimulation(t *testing.T) {
	for _, c := range []struct {
		replicas       int32
		surge, unavail string
	}{
		{6, "25%", "25%"}, {6, "1", "0"}, {6, "0", "1"}, {10, "30%", "10%"}, {1, "25%", "25%"}, {3, "100%", "0"},
	} {
		d := deployment(c.replicas, c.surge, c.unavail)
		surge, _ := Fenceposts(d)
		minAvail := c.replicas - MaxUnavailable(d)
		old := rs("old", 0, c.replicas, c.replicas)
		n := rs("new", 1, 0, 0)
		for step := 0; step < 100; step++ {
			all := []*skiffv1.ReplicaSet{old, n}
			var steps []Scale
			if s, ok := ScaleNew(d, all, n); ok {
				steps = []Scale{s}
			} else {
				steps = ScaleOld(d, []*skiffv1.ReplicaSet{old}, n)
			}
			if len(steps) == 0 {
				break
			}
			for _, s := range steps {
				r := s.Replicas
				// Pods start and stop at once in this simulation.
				s.RS.Spec.Replicas = proto.Int32(r)
				s.RS.Status = &skiffv1.ReplicaSetStatus{Replicas: r, ReadyReplicas: r, AvailableReplicas: r}
			}
			total := old.GetSpec().GetReplicas() + n.GetSpec().GetReplicas()
			avail := old.GetStatus().GetAvailableReplicas() + n.GetStatus().GetAvailableReplicas()
			if total > c.replicas+surge || avail < minAvail {
				t.Fatalf("%+v step %d: %d pods (max %d), %d available (min %d)", c, step, total, c.replicas+surge, avail, minAvail)
			}
		}
		if n.GetSpec().GetReplicas() != c.replicas || old.GetSpec().GetReplicas() != 0 {
			t.Errorf("%+v: ended with new %d old %d", c, n.GetSpec().GetReplicas(), old.GetSpec().GetReplicas())
		}
		st := Status(d, []*skiffv1.ReplicaSet{old, n}, n)
		if !Complete(d, st) {
			t.Errorf("%+v: status %v not complete", c, st)
		}
	}
}

func TestProportional(t *testing.T) {
	d := deployment(10, "", "")
	got := replicasOf(Proportional(d, []*skiffv1.ReplicaSet{rs("a", 0, 2, 2), rs("b", 1, 3, 3)}))
	if got["a"] != 4 || got["b"] != 6 {
		t.Errorf("got %v, want a 4 b 6", got)
	}
}

func TestCleanupKeepsHistoryLimit(t *testing.T) {
	d := deployment(1, "", "")
	d.Spec.RevisionHistoryLimit = proto.Int32(1)
	mk := func(name string, rev string, replicas int32) *skiffv1.ReplicaSet {
		r := rs(name, 0, replicas, replicas)
		r.Metadata.Annotations = map[string]string{RevisionAnnotation: rev}
		return r
	}
	got := Cleanup(d, []*skiffv1.ReplicaSet{mk("r3", "3", 0), mk("r1", "1", 0), mk("r2", "2", 0), mk("busy", "0", 1)})
	if len(got) != 2 || got[0].GetMetadata().GetName() != "r1" || got[1].GetMetadata().GetName() != "r2" {
		t.Errorf("cleanup picked %v, want r1 and r2", got)
	}
}

func TestTemplateHashAndSameTemplate(t *testing.T) {
	t1 := &skiffv1.PodTemplateSpec{Metadata: &skiffv1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: &skiffv1.PodSpec{Containers: []*skiffv1.Container{{Name: "c", Image: "a:1"}}}}
	t2 := proto.Clone(t1).(*skiffv1.PodTemplateSpec)
	t2.Spec.Containers[0].Image = "a:2"
	h1, h2 := TemplateHash(t1, 0), TemplateHash(t2, 0)
	if h1 == h2 || h1 != TemplateHash(proto.Clone(t1).(*skiffv1.PodTemplateSpec), 0) || h1 == TemplateHash(t1, 1) {
		t.Errorf("hashes %s %s: want stable, distinct per template and per collision count", h1, h2)
	}
	withHash := proto.Clone(t1).(*skiffv1.PodTemplateSpec)
	withHash.Metadata.Labels[HashLabel] = h1
	if !SameTemplate(t1, withHash) || SameTemplate(t2, withHash) {
		t.Error("SameTemplate must ignore only the hash label")
	}
}
