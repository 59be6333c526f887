package scheduler

// resourceFilter checks that the node's allocatable cpu, memory and pod
// count hold what its pods (bound and assumed) request plus this pod. Every
// resource that falls short is reported, as kube-scheduler does.
type resourceFilter struct{}

func (resourceFilter) Name() string { return "ResourceFit" }

func (resourceFilter) Filter(p *PodInfo, n *NodeInfo) *Status {
	var st *Status
	fail := func(r Reason) {
		if st == nil {
			st = &Status{}
		}
		st.Failures = append(st.Failures, Failure{Reason: r})
	}
	if n.Requested.Pods+1 > n.Allocatable.Pods {
		fail(ReasonTooManyPods)
	}
	if p.Requests.MilliCPU > 0 && n.Requested.MilliCPU+p.Requests.MilliCPU > n.Allocatable.MilliCPU {
		fail(ReasonInsufficientCPU)
	}
	if p.Requests.Memory > 0 && n.Requested.Memory+p.Requests.Memory > n.Allocatable.Memory {
		fail(ReasonInsufficientMemory)
	}
	return st
}
