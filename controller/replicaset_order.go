package controller

import (
	"sort"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// sortForDeletion orders pods so the ones to delete first come first, as
// Kubernetes does: a pod that costs the least to lose goes first.
//  1. not yet on a node, before on a node;
//  2. Pending, before Unknown, before Running;
//  3. not ready, before ready;
//  4. more container restarts, before fewer;
//  5. newer, before older.
func sortForDeletion(pods []*skiffv1.Pod) {
	sort.SliceStable(pods, func(i, j int) bool { return deleteBefore(pods[i], pods[j]) })
}

func deleteBefore(a, b *skiffv1.Pod) bool {
	if sa, sb := a.GetSpec().GetNodeName() != "", b.GetSpec().GetNodeName() != ""; sa != sb {
		return !sa
	}
	if pa, pb := phaseRank(a), phaseRank(b); pa != pb {
		return pa < pb
	}
	if ra, rb := skiffv1.IsPodReady(a), skiffv1.IsPodReady(b); ra != rb {
		return !ra
	}
	if ra, rb := restarts(a), restarts(b); ra != rb {
		return ra > rb
	}
	ta, tb := a.GetMetadata().GetCreationTimestamp().AsTime(), b.GetMetadata().GetCreationTimestamp().AsTime()
	if !ta.Equal(tb) {
		return ta.After(tb)
	}
	return a.GetMetadata().GetName() > b.GetMetadata().GetName()
}

func phaseRank(p *skiffv1.Pod) int {
	switch p.GetStatus().GetPhase() {
	case skiffv1.PodPending, "":
		return 0
	case skiffv1.PodUnknown:
		return 1
	}
	return 2
}

func restarts(p *skiffv1.Pod) int32 {
	var n int32
	for _, c := range p.GetStatus().GetContainerStatuses() {
		n += c.GetRestartCount()
	}
	return n
}
