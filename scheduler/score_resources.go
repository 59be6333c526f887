package scheduler

// leastAllocatedScorer prefers the node with the most cpu and memory left
// after placing the pod: it spreads load, the way kube-scheduler's default
// NodeResourcesFit(LeastAllocated) does.
type leastAllocatedScorer struct{}

func (leastAllocatedScorer) Name() string { return "LeastAllocated" }

func (leastAllocatedScorer) Score(p *PodInfo, n *NodeInfo) int64 {
	free := func(requested, alloc int64) int64 {
		if alloc <= 0 || requested >= alloc {
			return 0
		}
		return (alloc - requested) * MaxScore / alloc
	}
	cpu := free(n.NonZeroRequested.MilliCPU+p.NonZero.MilliCPU, n.Allocatable.MilliCPU)
	mem := free(n.NonZeroRequested.Memory+p.NonZero.Memory, n.Allocatable.Memory)
	return (cpu + mem) / 2
}

// balancedScorer prefers nodes where cpu and memory would be used in the
// same proportion, so neither is stranded: MaxScore × (1 − |cpu − mem| / 2)
// with each a fraction of allocatable (the standard deviation of the two).
type balancedScorer struct{}

func (balancedScorer) Name() string { return "BalancedAllocation" }

func (balancedScorer) Score(p *PodInfo, n *NodeInfo) int64 {
	// Fractions in millionths, to stay in integers.
	const one = 1_000_000
	frac := func(requested, alloc int64) int64 {
		if alloc <= 0 || requested >= alloc {
			return one
		}
		return requested * one / alloc
	}
	cpu := frac(n.NonZeroRequested.MilliCPU+p.NonZero.MilliCPU, n.Allocatable.MilliCPU)
	mem := frac(n.NonZeroRequested.Memory+p.NonZero.Memory, n.Allocatable.Memory)
	diff := cpu - mem
	if diff < 0 {
		diff = -diff
	}
	return MaxScore * (2*one - diff) / (2 * one)
}
