package controller_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller/rollout"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func newDeployment(name string, replicas int32, image string) *skiffv1.Deployment {
	spec := podSpec("10m")
	spec.Containers[0].Image = image
	return &skiffv1.Deployment{
		Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: &skiffv1.DeploymentSpec{
			Replicas: proto.Int32(replicas),
			Selector: &skiffv1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: &skiffv1.PodTemplateSpec{Metadata: &skiffv1.ObjectMeta{Labels: map[string]string{"app": name}}, Spec: spec},
		},
	}
}

// fakeKubelet makes every pod Running and Ready soon after it appears, as
// agents would, except pods of an image containing "broken", which run
// but never become ready. It polls until the test ends.
func fakeKubelet(t *testing.T, c *client.Client) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			pods, _, _ := c.Pods().List(ctx, client.ListOptions{Namespace: "default"})
			for _, p := range pods {
				if p.GetStatus().GetPhase() == "Running" || p.GetMetadata().GetDeletionTimestamp() != nil {
					continue
				}
				broken := strings.Contains(p.GetSpec().GetContainers()[0].GetImage(), "broken")
				setPodState(ctx, c, p, "Running", !broken)
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// ownedSets lists the replica sets the deployment controls.
func ownedSets(ctx context.Context, c *client.Client, dp *skiffv1.Deployment) ([]*skiffv1.ReplicaSet, error) {
	all, _, err := c.ReplicaSets().List(ctx, client.ListOptions{Namespace: "default"})
	var out []*skiffv1.ReplicaSet
	for _, rs := range all {
		for _, r := range rs.GetMetadata().GetOwnerReferences() {
			if r.GetController() && r.GetUid() == dp.GetMetadata().GetUid() {
				out = append(out, rs)
			}
		}
	}
	return out, err
}

func condition(dp *skiffv1.Deployment, typ string) *skiffv1.Condition {
	for _, c := range dp.GetStatus().GetConditions() {
		if c.GetType() == typ {
			return c
		}
	}
	return nil
}

// waitRolledOut waits until the deployment reports every replica updated
// and available, with Progressing NewReplicaSetAvailable.
func waitRolledOut(t *testing.T, ctx context.Context, c *client.Client, name string, replicas int32) *skiffv1.Deployment {
	t.Helper()
	var dp *skiffv1.Deployment
	waitFor(t, name+" rolled out", func() (bool, error) {
		var err error
		dp, err = c.Deployments().Get(ctx, "default", name)
		st := dp.GetStatus()
		p := condition(dp, "Progressing")
		return err == nil && st.GetObservedGeneration() >= dp.GetMetadata().GetGeneration() &&
			st.GetUpdatedReplicas() == replicas && st.GetReplicas() == replicas && st.GetAvailableReplicas() == replicas &&
			p.GetReason() == "NewReplicaSetAvailable", err
	})
	return dp
}

func setImage(t *testing.T, ctx context.Context, c *client.Client, name, image string) {
	t.Helper()
	changeDeployment(t, ctx, c, name, func(d *skiffv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = image })
}

func changeDeployment(t *testing.T, ctx context.Context, c *client.Client, name string, change func(*skiffv1.Deployment)) {
	t.Helper()
	if _, err := c.Deployments().Modify(ctx, "default", name, func(d *skiffv1.Deployment) error {
		change(d)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// samplePods calls check with the pods of the default namespace every
// 20ms until the returned stop is called; check returns what is wrong
// with them, if anything, and stop returns every such finding.
func samplePods(ctx context.Context, c *client.Client, check func([]*skiffv1.Pod) string) (stop func() []string) {
	var mu sync.Mutex
	var found []string
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			if all, _, err := c.Pods().List(ctx, client.ListOptions{Namespace: "default"}); err == nil {
				if bad := check(all); bad != "" {
					mu.Lock()
					found = append(found, bad)
					mu.Unlock()
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return func() []string {
		cancel()
		wg.Wait()
		return found
	}
}

// startDeployments starts an API server, the controllers and a fake
// kubelet.
func startDeployments(t *testing.T) (*client.Client, context.Context) {
	srv := apitest.Start(t)
	startManager(t, srv)
	fakeKubelet(t, srv.Client)
	return srv.Client, ctxT(t)
}

func TestDeploymentRollingUpdate(t *testing.T) {
	c, ctx := startDeployments(t)

	d := newDeployment("web", 6, "web:1")
	d.Spec.Strategy = &skiffv1.DeploymentStrategy{Type: "RollingUpdate", RollingUpdate: &skiffv1.RollingUpdateDeployment{MaxSurge: "1", MaxUnavailable: "1"}}
	d.Spec.ProgressDeadlineSeconds = proto.Int32(3)
	dp, err := c.Deployments().Create(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	dp = waitRolledOut(t, ctx, c, "web", 6)
	if rev := dp.GetMetadata().GetAnnotations()[rollout.RevisionAnnotation]; rev != "1" {
		t.Errorf("revision %q, want 1", rev)
	}
	if a := condition(dp, "Available"); a.GetStatus() != "True" || a.GetReason() != "MinimumReplicasAvailable" {
		t.Errorf("Available condition %v", a)
	}
	sets, _ := ownedSets(ctx, c, dp)
	if len(sets) != 1 {
		t.Fatalf("%d replica sets, want 1", len(sets))
	}
	first := sets[0]
	hash := first.GetMetadata().GetLabels()[rollout.HashLabel]
	if hash == "" || first.GetMetadata().GetName() != "web-"+hash || first.GetSpec().GetSelector().GetMatchLabels()[rollout.HashLabel] != hash {
		t.Errorf("replica set %s labels %v selector %v: want named and selected by its pod-template-hash", first.GetMetadata().GetName(), first.GetMetadata().GetLabels(), first.GetSpec().GetSelector())
	}
	pods, _ := podsOf(ctx, c, first.GetMetadata().GetUid())
	for _, p := range pods {
		if p.GetMetadata().GetLabels()[rollout.HashLabel] != hash {
			t.Errorf("pod %s lacks the pod-template-hash label", p.GetMetadata().GetName())
		}
	}

	// Roll to a new image, watching that the pods stay within the bounds:
	// at most 7 (6 + surge 1), at least 5 ready (6 - unavailable 1).
	stop := samplePods(ctx, c, func(all []*skiffv1.Pod) string {
		var active, ready int
		for _, p := range all {
			if p.GetMetadata().GetDeletionTimestamp() == nil {
				active++
				if hasReady(p) {
					ready++
				}
			}
		}
		if active > 7 || ready < 5 {
			return fmt.Sprintf("active %d ready %d", active, ready)
		}
		return ""
	})
	setImage(t, ctx, c, "web", "web:2")
	dp = waitRolledOut(t, ctx, c, "web", 6)
	if violations := stop(); len(violations) > 0 {
		t.Errorf("the rollout left its bounds: %v", violations)
	}
	if rev := dp.GetMetadata().GetAnnotations()[rollout.RevisionAnnotation]; rev != "2" {
		t.Errorf("revision %q, want 2", rev)
	}
	sets, _ = ownedSets(ctx, c, dp)
	if len(sets) != 2 {
		t.Fatalf("%d replica sets, want the old one kept (history) and the new one", len(sets))
	}
	for _, rs := range sets {
		want := int32(6)
		if rs.GetMetadata().GetUid() == first.GetMetadata().GetUid() {
			want = 0
		}
		if rs.GetSpec().GetReplicas() != want {
			t.Errorf("replica set %s has %d replicas, want %d", rs.GetMetadata().GetName(), rs.GetSpec().GetReplicas(), want)
		}
	}
	evs, _, _ := c.Events().List(ctx, client.ListOptions{Namespace: "default"})
	var scaled []string
	for _, e := range evs {
		if e.GetInvolvedObject().GetKind() == "Deployment" && e.GetReason() == "ScalingReplicaSet" {
			scaled = append(scaled, e.GetMessage())
		}
	}
	if !containsPrefix(scaled, "Scaled up replica set web-") || !containsPrefix(scaled, "Scaled down replica set "+first.GetMetadata().GetName()+" to 0") {
		t.Errorf("scaling events %q: want scale ups and the old set scaled down to 0", scaled)
	}

	// A broken image: the rollout stops at maxUnavailable, 5 old pods
	// keep serving, and the deadline passes.
	setImage(t, ctx, c, "web", "web:broken")
	waitFor(t, "ProgressDeadlineExceeded", func() (bool, error) {
		dp, err = c.Deployments().Get(ctx, "default", "web")
		p := condition(dp, "Progressing")
		return p.GetStatus() == "False" && p.GetReason() == "ProgressDeadlineExceeded", err
	})
	sets, _ = ownedSets(ctx, c, dp)
	var oldServing int32
	for _, rs := range sets {
		if strings.Contains(rs.GetSpec().GetTemplate().GetSpec().GetContainers()[0].GetImage(), "web:2") {
			oldServing = rs.GetStatus().GetAvailableReplicas()
		}
	}
	if oldServing != 5 || dp.GetStatus().GetAvailableReplicas() != 5 {
		t.Errorf("old set has %d available, deployment %d: want 5 (6 - maxUnavailable)", oldServing, dp.GetStatus().GetAvailableReplicas())
	}
	waitFor(t, "one ProgressDeadlineExceeded event", func() (bool, error) {
		evs, _, err := c.Events().List(ctx, client.ListOptions{Namespace: "default"})
		n := 0
		for _, e := range evs {
			if e.GetReason() == "ProgressDeadlineExceeded" {
				n++
			}
		}
		if n > 1 {
			t.Fatalf("%d ProgressDeadlineExceeded events, want one", n)
		}
		return n == 1, err
	})
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func TestDeploymentRecreatePauseAndHistory(t *testing.T) {
	c, ctx := startDeployments(t)

	d := newDeployment("db", 3, "db:1")
	d.Spec.Strategy = &skiffv1.DeploymentStrategy{Type: "Recreate"}
	d.Spec.RevisionHistoryLimit = proto.Int32(1)
	dp, err := c.Deployments().Create(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	waitRolledOut(t, ctx, c, "db", 3)

	// Recreate: no new pod while an old one is left.
	stop := samplePods(ctx, c, func(all []*skiffv1.Pod) string {
		images := map[string]bool{}
		for _, p := range all {
			images[p.GetSpec().GetContainers()[0].GetImage()] = true
		}
		if len(images) > 1 {
			return fmt.Sprint(images)
		}
		return ""
	})
	setImage(t, ctx, c, "db", "db:2")
	waitFor(t, "db:2 rolled out", func() (bool, error) {
		dp, err = c.Deployments().Get(ctx, "default", "db")
		return err == nil && dp.GetMetadata().GetAnnotations()[rollout.RevisionAnnotation] == "2" && dp.GetStatus().GetUpdatedReplicas() == 3 && dp.GetStatus().GetAvailableReplicas() == 3 && dp.GetStatus().GetReplicas() == 3, err
	})
	if mixed := stop(); len(mixed) > 0 {
		t.Errorf("Recreate ran old and new pods at the same time: %v", mixed)
	}

	// Paused: a new template starts nothing; a new count still scales.
	changeDeployment(t, ctx, c, "db", func(d *skiffv1.Deployment) { d.Spec.Paused = true })
	setImage(t, ctx, c, "db", "db:3")
	changeDeployment(t, ctx, c, "db", func(d *skiffv1.Deployment) { d.Spec.Replicas = proto.Int32(4) })
	waitFor(t, "paused deployment scaled to 4", func() (bool, error) {
		dp, err = c.Deployments().Get(ctx, "default", "db")
		p := condition(dp, "Progressing")
		return err == nil && dp.GetStatus().GetAvailableReplicas() == 4 && p.GetReason() == "DeploymentPaused" && p.GetStatus() == "Unknown", err
	})
	sets, _ := ownedSets(ctx, c, dp)
	for _, rs := range sets {
		if rs.GetSpec().GetTemplate().GetSpec().GetContainers()[0].GetImage() == "db:3" {
			t.Fatal("a paused deployment made a replica set for its new template")
		}
	}
	changeDeployment(t, ctx, c, "db", func(d *skiffv1.Deployment) { d.Spec.Paused = false })
	dp = waitRolledOut(t, ctx, c, "db", 4)
	// History limit 1: the current set and one old one.
	waitFor(t, "old replica sets cleaned up", func() (bool, error) {
		sets, err := ownedSets(ctx, c, dp)
		return len(sets) == 2, err
	})
}

func TestDeploymentValidation(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := ctxT(t)
	d := newDeployment("bad", 2, "x:1")
	d.Spec.Selector = &skiffv1.LabelSelector{MatchLabels: map[string]string{"app": "other"}}
	_, err := c.Deployments().Create(ctx, d)
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "spec.selector") {
		t.Fatalf("got %v, want InvalidArgument naming spec.selector", err)
	}
	if _, err := c.Deployments().Get(ctx, "default", "bad"); !client.IsNotFound(err) {
		t.Errorf("a refused deployment was stored: %v", err)
	}
	// An existing deployment's selector is fixed.
	if _, err := c.Deployments().Create(ctx, newDeployment("good", 1, "x:1")); err != nil {
		t.Fatal(err)
	}
	_, err = c.Deployments().Modify(ctx, "default", "good", func(d *skiffv1.Deployment) error {
		d.Spec.Selector.MatchLabels["tier"] = "x"
		d.Spec.Template.Metadata.Labels["tier"] = "x"
		return nil
	})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "spec.selector: cannot change") {
		t.Fatalf("got %v, want InvalidArgument: spec.selector cannot change", err)
	}
	d = newDeployment("bad", 2, "x:1")
	d.Spec.Strategy = &skiffv1.DeploymentStrategy{RollingUpdate: &skiffv1.RollingUpdateDeployment{MaxSurge: "0", MaxUnavailable: "0%"}}
	_, err = c.Deployments().Create(ctx, d)
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "spec.strategy.rollingUpdate.maxUnavailable") {
		t.Fatalf("got %v, want InvalidArgument naming maxUnavailable", err)
	}
	d = newDeployment("bad", 2, "x:1")
	d.Spec.Strategy = &skiffv1.DeploymentStrategy{RollingUpdate: &skiffv1.RollingUpdateDeployment{MaxSurge: "lots"}}
	_, err = c.Deployments().Create(ctx, d)
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "spec.strategy.rollingUpdate.maxSurge") {
		t.Fatalf("got %v, want InvalidArgument naming maxSurge", err)
	}
}
