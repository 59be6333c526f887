package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// jobState is one sync's view of a Job: its pods sorted by what they
// mean for it, and the status being built.
type jobState struct {
	job     *skiffv1.Job
	st      *skiffv1.JobStatus
	now     time.Time
	active  []*skiffv1.Pod
	release []*skiffv1.Pod // finished pods whose finalizer goes after the status is written
	// completed indexes of an Indexed Job, counted or not.
	completed map[int]bool
	// lastFailure is when the newest failed pod finished.
	lastFailure time.Time
	failedBy    *skiffv1.Condition // set when the Job fails in this sync
}

func (jc *jobs) sync(ctx context.Context, key string) error {
	if podKey, ok := isOrphanPodKey(key); ok {
		return jc.releaseOrphan(ctx, podKey)
	}
	job, ok := jc.jobs.Get(key)
	if !ok {
		jc.exp.forget(key)
		jc.written.forget(key)
		return nil
	}
	if !jc.written.caughtUp(key, job.GetStatus()) {
		return nil // the informer's update of the Job queues it again
	}
	// Read expectations before the pods, as the replica set controller does.
	satisfied := jc.exp.satisfied(key)
	s := jc.observe(job)
	if job.GetMetadata().GetDeletionTimestamp() != nil {
		// Going: its pods are collected; only their finalizers must go.
		return jc.releaseAll(ctx, s.release)
	}
	finished := jobFinished(job)
	var manageErr error
	created, deleted := 0, 0
	// stop: the running pods of a Job that ends in this sync. They go only
	// once its condition is written, or a retry after a failed write could
	// no longer see why it ended (deleted pods' restarts no longer count).
	var stop []*skiffv1.Pod
	switch {
	case finished:
		deleted = jc.deletePods(ctx, key, s.active)
	case s.failedBy == nil && jc.complete(s):
		stop = s.active
		skiffv1.SetCondition(&s.st.Conditions, &skiffv1.Condition{Type: jobConditionComplete, Status: "True"}, s.now)
		s.st.CompletionTime = timestamppb.New(s.now)
	default:
		if s.failedBy == nil {
			s.failedBy = jc.limitsExceeded(s)
		}
		if s.failedBy != nil {
			stop = s.active
			skiffv1.SetCondition(&s.st.Conditions, s.failedBy, s.now)
		} else if satisfied {
			created, deleted, manageErr = jc.manage(ctx, key, s)
		}
	}
	s.st.Active = int32(len(s.active) + created - deleted)
	if err := jc.writeStatus(ctx, job, s.st); err != nil {
		return errors.Join(manageErr, err)
	}
	if !finished {
		switch done := findTrueFinish(s.st); {
		case done == nil:
		case done.GetType() == jobConditionComplete:
			jc.rec.event(ctx, "Job", job, "Normal", "Completed", "Job completed")
		default:
			jc.rec.event(ctx, "Job", job, "Warning", done.GetReason(), "%s", done.GetMessage())
		}
	}
	// The end is on record; the next sync counts these pods as they go.
	jc.deletePods(ctx, key, stop)
	// Only now that the status names them may the finished pods go.
	if err := jc.releaseAll(ctx, s.release); err != nil {
		return errors.Join(manageErr, err)
	}
	if done := findTrueFinish(s.st); done != nil {
		return errors.Join(manageErr, jc.expire(ctx, key, job, done))
	}
	if d := job.GetSpec().ActiveDeadlineSeconds; d != nil {
		jc.wakes.queueAt(s.st.GetStartTime().AsTime().Add(time.Duration(*d)*time.Second), key)
	}
	return manageErr
}

// observe sorts the Job's pods and does the counting steps that need no
// API call: uncounted pods that are released or gone move into the
// counters, finished pods still holding the finalizer become uncounted.
func (jc *jobs) observe(job *skiffv1.Job) *jobState {
	st := proto.Clone(job.GetStatus()).(*skiffv1.JobStatus)
	if st == nil {
		st = &skiffv1.JobStatus{}
	}
	if st.UncountedTerminatedPods == nil {
		st.UncountedTerminatedPods = &skiffv1.UncountedTerminatedPods{}
	}
	s := &jobState{job: job, st: st, now: jc.clock.Now(), completed: parseIndexes(st.GetCompletedIndexes())}
	if st.StartTime == nil {
		st.StartTime = timestamppb.New(s.now)
	}
	indexed := job.GetSpec().GetCompletionMode() == jobCompletionModeIndex
	owned := map[string]*skiffv1.Pod{}
	for _, p := range jc.pods.ByIndex(indexOwner, job.GetMetadata().GetUid()) {
		if ref := controllerRef(p.GetMetadata()); ref != nil && ref.GetUid() == job.GetMetadata().GetUid() {
			owned[p.GetMetadata().GetUid()] = p
		}
	}
	// Step 3 of the protocol: released (or gone) uncounted pods are counted.
	u := st.UncountedTerminatedPods
	stillHeld := func(uid string) bool {
		p, ok := owned[uid]
		return ok && hasTrackingFinalizer(p)
	}
	var keepS, keepF []string
	for _, uid := range u.Succeeded {
		if stillHeld(uid) {
			keepS = append(keepS, uid)
		} else if !indexed {
			st.Succeeded++
		}
	}
	for _, uid := range u.Failed {
		if stillHeld(uid) {
			keepF = append(keepF, uid)
		} else {
			st.Failed++
		}
	}
	u.Succeeded, u.Failed = keepS, keepF
	// Step 1: finished pods holding the finalizer become uncounted.
	for _, p := range owned {
		uid := p.GetMetadata().GetUid()
		phase := p.GetStatus().GetPhase()
		deleting := p.GetMetadata().GetDeletionTimestamp() != nil
		if phase == "Failed" && !ignored(job, p) {
			if t := podFinishTime(p); t.After(s.lastFailure) {
				s.lastFailure = t
			}
		}
		if phase != "Succeeded" && phase != "Failed" && !deleting {
			s.active = append(s.active, p)
			continue
		}
		if !hasTrackingFinalizer(p) {
			continue
		}
		s.release = append(s.release, p)
		if slices.Contains(u.Succeeded, uid) || slices.Contains(u.Failed, uid) {
			continue
		}
		if phase == "Succeeded" {
			if i := podIndex(p); indexed && i >= 0 && i < int(job.GetSpec().GetCompletions()) {
				s.completed[i] = true
			}
			u.Succeeded = append(u.Succeeded, uid)
			continue
		}
		// Failed, or deleted before it finished: a failure, unless the
		// pod failure policy says otherwise.
		if phase == "Failed" && job.GetSpec().GetPodFailurePolicy() != nil {
			switch action, msg := failureAction(job.GetSpec().GetPodFailurePolicy(), p); action {
			case jobActionIgnore:
				continue
			case jobActionFailJob:
				if s.failedBy == nil && !jobFinished(job) {
					s.failedBy = &skiffv1.Condition{Type: jobConditionFailed, Status: "True", Reason: jobReasonFailurePolicy, Message: msg}
				}
			}
		}
		u.Failed = append(u.Failed, uid)
	}
	slices.Sort(u.Succeeded)
	slices.Sort(u.Failed)
	if indexed {
		st.CompletedIndexes = formatIndexes(s.completed)
		st.Succeeded = int32(len(s.completed))
	}
	st.Ready = 0
	for _, p := range s.active {
		if skiffv1.IsPodReady(p) {
			st.Ready++
		}
	}
	return s
}

// ignored: the Job's pod failure policy says p's failure does not count.
func ignored(job *skiffv1.Job, p *skiffv1.Pod) bool {
	if job.GetSpec().GetPodFailurePolicy() == nil {
		return false
	}
	action, _ := failureAction(job.GetSpec().GetPodFailurePolicy(), p)
	return action == jobActionIgnore
}

// podFinishTime is when p's last container ended, or when the pod was
// made if no container says.
func podFinishTime(p *skiffv1.Pod) time.Time {
	var t time.Time
	for _, cs := range p.GetStatus().GetContainerStatuses() {
		if f := cs.GetState().GetTerminated().GetFinishedAt(); f != nil && f.AsTime().After(t) {
			t = f.AsTime()
		}
	}
	if t.IsZero() {
		t = p.GetMetadata().GetCreationTimestamp().AsTime()
	}
	return t
}

// failures counts the Job's failed pods, and for restartPolicy OnFailure
// the restarts of its running ones, as Kubernetes' backoffLimit does.
func (s *jobState) failures() int {
	n := int(s.st.GetFailed()) + len(s.st.GetUncountedTerminatedPods().GetFailed())
	if s.job.GetSpec().GetTemplate().GetSpec().GetRestartPolicy() == jobRestartPolicyOnError {
		for _, p := range s.active {
			for _, cs := range p.GetStatus().GetContainerStatuses() {
				n += int(cs.GetRestartCount())
			}
		}
	}
	return n
}

func (jc *jobs) complete(s *jobState) bool {
	spec := s.job.GetSpec()
	if spec.GetCompletionMode() == jobCompletionModeIndex {
		return len(s.completed) >= int(spec.GetCompletions())
	}
	succeeded := int(s.st.GetSucceeded()) + len(s.st.GetUncountedTerminatedPods().GetSucceeded())
	if spec.Completions == nil {
		return succeeded > 0 && len(s.active) == 0
	}
	return succeeded >= int(spec.GetCompletions())
}

// limitsExceeded is the Failed condition when the back-off limit or the
// active deadline is passed, else nil.
func (jc *jobs) limitsExceeded(s *jobState) *skiffv1.Condition {
	spec := s.job.GetSpec()
	if s.failures() > int(spec.GetBackoffLimit()) {
		return &skiffv1.Condition{Type: jobConditionFailed, Status: "True", Reason: jobReasonBackoffLimit, Message: "Job has reached the specified backoff limit"}
	}
	if d := spec.ActiveDeadlineSeconds; d != nil && !s.now.Before(s.st.GetStartTime().AsTime().Add(time.Duration(*d)*time.Second)) {
		return &skiffv1.Condition{Type: jobConditionFailed, Status: "True", Reason: jobReasonDeadline, Message: "Job was active longer than specified deadline"}
	}
	return nil
}

// manage starts the pods the Job lacks, once the back-off after its last
// failure has passed, and deletes those beyond its parallelism.
func (jc *jobs) manage(ctx context.Context, key string, s *jobState) (created, deleted int, err error) {
	spec := s.job.GetSpec()
	parallelism := int(spec.GetParallelism())
	var indexes []int
	want := 0
	if spec.GetCompletionMode() == jobCompletionModeIndex {
		running := map[int]bool{}
		for _, p := range s.active {
			running[podIndex(p)] = true
		}
		indexes = indexesToStart(int(spec.GetCompletions()), s.completed, running, parallelism-len(s.active))
		want = len(s.active) + len(indexes)
	} else {
		succeeded := int(s.st.GetSucceeded()) + len(s.st.GetUncountedTerminatedPods().GetSucceeded())
		want = wantActive(parallelism, spec.Completions, succeeded, len(s.active))
	}
	want = min(want, parallelism)
	if surplus := len(s.active) - want; surplus > 0 {
		victims := append([]*skiffv1.Pod(nil), s.active...)
		sortForDeletion(victims)
		return 0, jc.deletePods(ctx, key, victims[:surplus]), nil
	}
	n := min(want-len(s.active), jc.burst)
	if n <= 0 {
		return 0, 0, nil
	}
	if retry := s.lastFailure.Add(jobBackoff(s.failures())); retry.After(s.now) {
		jc.wakes.queueAt(retry, key)
		return 0, 0, nil
	}
	jc.exp.expectCreations(key, n)
	next := make(chan int, n)
	for i := 0; i < n; i++ {
		if indexes != nil {
			next <- indexes[i]
		} else {
			next <- -1
		}
	}
	created, err = slowStartBatch(n, 1, func() error { return jc.createPod(ctx, s.job, <-next) })
	for i := created; i < n; i++ {
		jc.exp.creationObserved(key)
	}
	if err != nil {
		jc.rec.event(ctx, "Job", s.job, "Warning", "FailedCreate", "Error creating: %v", err)
	}
	return created, 0, err
}

// createPod makes one pod from the Job's template; index is its
// completion index, or -1 for a NonIndexed Job.
func (jc *jobs) createPod(ctx context.Context, job *skiffv1.Job, index int) error {
	tmpl := job.GetSpec().GetTemplate()
	m := job.GetMetadata()
	base := m.GetName()
	spec := proto.Clone(tmpl.GetSpec()).(*skiffv1.PodSpec)
	annotations := cloneMap(tmpl.GetMetadata().GetAnnotations())
	podLabels := cloneMap(tmpl.GetMetadata().GetLabels())
	if index >= 0 {
		is := strconv.Itoa(index)
		base = fmt.Sprintf("%s-%d", m.GetName(), index)
		if annotations == nil {
			annotations = map[string]string{}
		}
		if podLabels == nil {
			podLabels = map[string]string{}
		}
		annotations[jobCompletionIndexKey] = is
		podLabels[jobCompletionIndexKey] = is
		if spec.Hostname == "" {
			spec.Hostname = base
		}
		for _, c := range spec.Containers {
			c.Env = append(c.Env, &skiffv1.EnvVar{Name: jobCompletionIndexEnv, Value: is})
		}
	}
	for attempt := 0; ; attempt++ {
		pod := &skiffv1.Pod{
			Metadata: &skiffv1.ObjectMeta{
				Name:            podName(base),
				Namespace:       m.GetNamespace(),
				Labels:          podLabels,
				Annotations:     annotations,
				Finalizers:      []string{jobTrackingFinalizer},
				OwnerReferences: []*skiffv1.OwnerReference{{Kind: "Job", Name: m.GetName(), Uid: m.GetUid(), Controller: true}},
			},
			Spec: spec,
		}
		if m.GetAppliedAs() != nil {
			pod.Metadata.AppliedAs = &skiffv1.TypeMeta{ApiVersion: "v1", Kind: "Pod"}
		}
		cctx, cancel := call(ctx)
		_, err := jc.c.Pods().Create(cctx, pod)
		cancel()
		if client.IsAlreadyExists(err) && attempt < 3 {
			continue
		}
		if err != nil {
			return fmt.Errorf("job: create pod for %s: %w", client.KeyOf(job), err)
		}
		jc.rec.event(ctx, "Job", job, "Normal", "SuccessfulCreate", "Created pod: %s", pod.GetMetadata().GetName())
		return nil
	}
}

// deletePods deletes pods (their finalizer keeps them until counted) and
// returns how many deletions were made.
func (jc *jobs) deletePods(ctx context.Context, key string, pods []*skiffv1.Pod) int {
	if len(pods) == 0 {
		return 0
	}
	uids := make([]string, len(pods))
	for i, p := range pods {
		uids[i] = p.GetMetadata().GetUid()
	}
	jc.exp.expectDeletions(key, uids)
	var wg sync.WaitGroup
	var mu sync.Mutex
	n := 0
	for _, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := call(ctx)
			defer cancel()
			_, _, err := jc.c.Pods().Delete(cctx, p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(), client.DeleteOptions{UID: p.GetMetadata().GetUid()})
			if err != nil {
				jc.exp.deletionObserved(key, p.GetMetadata().GetUid())
				if !client.IsNotFound(err) && !client.IsConflict(err) {
					jc.log.Warn("delete pod", "job", key, "pod", p.GetMetadata().GetName(), "err", err)
					return
				}
			}
			mu.Lock()
			n++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return n
}

func (jc *jobs) releaseAll(ctx context.Context, pods []*skiffv1.Pod) error {
	var errs []error
	for _, p := range pods {
		errs = append(errs, jc.removeFinalizer(ctx, p))
	}
	return errors.Join(errs...)
}

// writeStatus writes st if it changed, against the resource version the
// counts were made from: a stale cache must not count a pod twice.
func (jc *jobs) writeStatus(ctx context.Context, job *skiffv1.Job, st *skiffv1.JobStatus) error {
	if proto.Equal(st, job.GetStatus()) {
		return nil
	}
	next := &skiffv1.Job{Metadata: proto.Clone(job.GetMetadata()).(*skiffv1.ObjectMeta), Status: st}
	cctx, cancel := call(ctx)
	defer cancel()
	out, err := jc.c.Jobs().UpdateStatus(cctx, next)
	if client.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("job: update status of %s: %w", client.KeyOf(job), err)
	}
	jc.written.wrote(client.KeyOf(job), out.GetStatus())
	return nil
}

// expire deletes a finished Job once ttlSecondsAfterFinished has passed
// since it finished, or looks again then.
func (jc *jobs) expire(ctx context.Context, key string, job *skiffv1.Job, done *skiffv1.Condition) error {
	ttl := job.GetSpec().TtlSecondsAfterFinished
	if ttl == nil {
		return nil
	}
	at := done.GetLastTransitionTime().AsTime().Add(time.Duration(*ttl) * time.Second)
	if at.After(jc.clock.Now()) {
		jc.wakes.queueAt(at, key)
		return nil
	}
	cctx, cancel := call(ctx)
	defer cancel()
	_, _, err := jc.c.Jobs().Delete(cctx, job.GetMetadata().GetNamespace(), job.GetMetadata().GetName(), client.DeleteOptions{UID: job.GetMetadata().GetUid()})
	if err != nil && !client.IsNotFound(err) && !client.IsConflict(err) {
		return fmt.Errorf("job: delete %s after its ttlSecondsAfterFinished: %w", key, err)
	}
	jc.log.Info("deleted finished job", "job", key)
	return nil
}

// jobFinished: a Complete or Failed condition is True.
func jobFinished(j *skiffv1.Job) bool { return findTrueFinish(j.GetStatus()) != nil }

func findTrueFinish(st *skiffv1.JobStatus) *skiffv1.Condition {
	for _, t := range []string{jobConditionComplete, jobConditionFailed} {
		if c := skiffv1.FindCondition(st.GetConditions(), t); c != nil && c.GetStatus() == "True" {
			return c
		}
	}
	return nil
}
