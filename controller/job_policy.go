package controller

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// What a Job's pods are told and carry, with Kubernetes' names.
const (
	jobTrackingFinalizer    = "batch.kubernetes.io/job-tracking"
	jobCompletionIndexKey   = "batch.kubernetes.io/job-completion-index"
	jobCompletionIndexEnv   = "JOB_COMPLETION_INDEX"
	jobBackoffBase          = 10 * time.Second
	jobBackoffMax           = 6 * time.Minute
	jobReasonBackoffLimit   = "BackoffLimitExceeded"
	jobReasonDeadline       = "DeadlineExceeded"
	jobReasonFailurePolicy  = "PodFailurePolicy"
	jobConditionComplete    = "Complete"
	jobConditionFailed      = "Failed"
	jobCompletionModeIndex  = "Indexed"
	jobActionFailJob        = "FailJob"
	jobActionIgnore         = "Ignore"
	jobActionCount          = "Count"
	jobRestartPolicyOnError = "OnFailure"
)

// jobBackoff is how long to wait before the next pod after failures
// failed ones in a row: 10s, doubling, at most 6 minutes, as Kubernetes'
// job controller does. No failures, no wait.
func jobBackoff(failures int) time.Duration {
	if failures <= 0 {
		return 0
	}
	d := jobBackoffBase
	for i := 1; i < failures; i++ {
		d *= 2
		if d >= jobBackoffMax {
			return jobBackoffMax
		}
	}
	return d
}

// failureAction is what the Job's podFailurePolicy says of a failed pod:
// the action of the first rule matching one of its containers' exit codes
// (Count when none matches), and for FailJob the message Kubernetes gives.
func failureAction(policy *skiffv1.PodFailurePolicy, p *skiffv1.Pod) (action, message string) {
	for i, r := range policy.GetRules() {
		req := r.GetOnExitCodes()
		for _, cs := range p.GetStatus().GetContainerStatuses() {
			t := cs.GetState().GetTerminated()
			if t == nil || t.GetExitCode() == 0 {
				continue
			}
			if req.GetContainerName() != "" && req.GetContainerName() != cs.GetName() {
				continue
			}
			in := slices.Contains(req.GetValues(), t.GetExitCode())
			if in != (req.GetOperator() == "NotIn") {
				return r.GetAction(), fmt.Sprintf("Container %s for pod %s/%s failed with exit code %d matching %s rule at index %d",
					cs.GetName(), p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(), t.GetExitCode(), r.GetAction(), i)
			}
		}
	}
	return jobActionCount, ""
}

// podIndex is the completion index of an Indexed Job's pod, or -1.
func podIndex(p *skiffv1.Pod) int {
	v, ok := p.GetMetadata().GetAnnotations()[jobCompletionIndexKey]
	if !ok {
		return -1
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 {
		return -1
	}
	return i
}

// parseIndexes reads a completedIndexes string ("1,3-5") into a set;
// what does not parse is left out (the controller wrote it).
func parseIndexes(s string) map[int]bool {
	out := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		for i := a; i <= b; i++ {
			out[i] = true
		}
	}
	return out
}

// formatIndexes writes a set of indexes as Kubernetes does: sorted, runs
// of three or more (and pairs) as "a-b".
func formatIndexes(set map[int]bool) string {
	idx := make([]int, 0, len(set))
	for i, ok := range set {
		if ok {
			idx = append(idx, i)
		}
	}
	sort.Ints(idx)
	var parts []string
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(idx[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", idx[i], idx[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// indexesToStart are the lowest n indexes below completions that neither
// succeeded nor have a pod running.
func indexesToStart(completions int, completed, running map[int]bool, n int) []int {
	var out []int
	for i := 0; i < completions && len(out) < n; i++ {
		if !completed[i] && !running[i] {
			out = append(out, i)
		}
	}
	return out
}

// wantActive is how many pods a NonIndexed Job with active running ones
// should be running.
func wantActive(parallelism int, completions *int32, succeeded, active int) int {
	if completions == nil {
		// A work queue: once one pod succeeded, no new ones start, and
		// the running ones finish their share.
		if succeeded > 0 {
			return min(active, parallelism)
		}
		return parallelism
	}
	return max(0, min(parallelism, int(*completions)-succeeded))
}
