package scheduler

import (
	"fmt"
	"sort"
	"strings"
)

// Status says why a node cannot take a pod. A nil *Status means it can.
// Most filters give one failure; the resource filter may give several
// (Insufficient cpu and memory), and each is counted, as kube-scheduler does.
type Status struct {
	Failures []Failure
}

// Reject makes a Status with one failure.
func Reject(r Reason, detail string) *Status {
	return &Status{Failures: []Failure{{Reason: r, Detail: detail}}}
}

// FitError is the answer when no node can take the pod.
type FitError struct {
	// NumNodes is how many nodes were considered.
	NumNodes int
	// Pod, when set, failed the pod before any node was looked at (a missing
	// volume, a malformed request).
	Pod *Status
	// Nodes holds the status of every node that was rejected, by name.
	Nodes map[string]*Status
}

// Error is the message for the pod's condition and event, e.g.
// "0/3 nodes are available: 2 Insufficient cpu, 1 node(s) had untolerated taint {dedicated=db}."
// Reasons are sorted by count (most first), then by text.
func (e *FitError) Error() string {
	prefix := fmt.Sprintf("0/%d nodes are available: ", e.NumNodes)
	if e.Pod != nil {
		texts := make([]string, 0, len(e.Pod.Failures))
		for _, f := range e.Pod.Failures {
			texts = append(texts, f.String())
		}
		return prefix + strings.Join(texts, ", ") + "."
	}
	counts := map[string]int{}
	for _, st := range e.Nodes {
		for _, f := range st.Failures {
			counts[f.String()]++
		}
	}
	if len(counts) == 0 {
		return prefix + Failure{Reason: ReasonNoNodes}.String() + "."
	}
	texts := make([]string, 0, len(counts))
	for t := range counts {
		texts = append(texts, t)
	}
	sort.Slice(texts, func(i, j int) bool {
		if counts[texts[i]] != counts[texts[j]] {
			return counts[texts[i]] > counts[texts[j]]
		}
		return texts[i] < texts[j]
	})
	parts := make([]string, len(texts))
	for i, t := range texts {
		parts[i] = fmt.Sprintf("%d %s", counts[t], t)
	}
	return prefix + strings.Join(parts, ", ") + "."
}

// Reasons lists the distinct reasons behind the error, sorted, for metrics.
func (e *FitError) Reasons() []Reason {
	seen := map[Reason]bool{}
	add := func(st *Status) {
		for _, f := range st.Failures {
			seen[f.Reason] = true
		}
	}
	if e.Pod != nil {
		add(e.Pod)
	}
	for _, st := range e.Nodes {
		add(st)
	}
	if len(seen) == 0 {
		seen[ReasonNoNodes] = true
	}
	out := make([]Reason, 0, len(seen))
	for r := range seen {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
