package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
	"github.com/skiff-sh/skiff/quantity"
)

// resourceJSON is one resource of a node: what it offers pods, what the
// pods bound to it request, and what they use (nil until the agent
// reported). CPU in millicores, memory in bytes.
type resourceJSON struct {
	Allocatable int64  `json:"allocatable"`
	Requested   int64  `json:"requested"`
	Used        *int64 `json:"used"`
}

type nodeJSON struct {
	Name          string            `json:"name"`
	Ready         string            `json:"ready"`
	Unschedulable bool              `json:"unschedulable"`
	Conditions    json.RawMessage   `json:"conditions"`
	Taints        []json.RawMessage `json:"taints"`
	Pods          int               `json:"pods"`
	CPU           resourceJSON      `json:"cpu"`
	Memory        resourceJSON      `json:"memory"`
}

type overviewJSON struct {
	Nodes       []nodeJSON        `json:"nodes"`
	PodPhases   map[string]int    `json:"podPhases"`
	CrashLoops  int               `json:"crashLooping"`
	Warnings    []json.RawMessage `json:"warnings"`
	Counts      map[string]int    `json:"counts"`
	UsageError  string            `json:"usageError,omitempty"`
	GeneratedAt time.Time         `json:"generatedAt"`
}

// maxWarnings is how many recent warning events the overview shows.
const maxWarnings = 20

func (s *Server) overview(w http.ResponseWriter, r *http.Request, _ *session) {
	if !s.synced(w, r) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	usage, uerr := skiffv1.NewUsageClient(s.cfg.Viewer.Conn()).Get(ctx, &skiffv1.UsageQuery{})
	out := buildOverview(s.cache, usage)
	if uerr != nil {
		out.UsageError = uerr.Error()
	}
	out.GeneratedAt = s.cfg.Now().UTC()
	writeJSON(w, out)
}

func buildOverview(ca *cache, usage *skiffv1.UsageSnapshot) overviewJSON {
	out := overviewJSON{PodPhases: map[string]int{}, Counts: map[string]int{}, Nodes: []nodeJSON{}, Warnings: []json.RawMessage{}}
	for _, k := range shownKinds() {
		out.Counts[k.Plural] = len(ca.list(k.Kind, nil))
	}
	type sums struct{ cpu, mem int64 }
	requested := map[string]*sums{}
	podsOn := map[string]int{}
	for _, c := range ca.list(skiffv1.Kind_KIND_POD, nil) {
		p := c.obj.(*skiffv1.Pod)
		phase := p.GetStatus().GetPhase()
		if phase == "" {
			phase = skiffv1.PodPending
		}
		out.PodPhases[phase]++
		if crashLooping(p) {
			out.CrashLoops++
		}
		node := p.GetSpec().GetNodeName()
		if node == "" || phase == skiffv1.PodSucceeded || phase == skiffv1.PodFailed {
			continue
		}
		podsOn[node]++
		if requested[node] == nil {
			requested[node] = &sums{}
		}
		for _, ct := range p.GetSpec().GetContainers() {
			requested[node].cpu += request(ct, "cpu")
			requested[node].mem += request(ct, "memory") / 1000
		}
	}
	used := map[string]*skiffv1.ResourceUsage{}
	for _, n := range usage.GetNodes() {
		used[n.GetName()] = n.GetUsage()
	}
	for _, c := range ca.list(skiffv1.Kind_KIND_NODE, nil) {
		n := c.obj.(*skiffv1.Node)
		name := n.GetMetadata().GetName()
		nj := nodeJSON{
			Name: name, Ready: skiffv1.ConditionUnknown, Unschedulable: n.GetSpec().GetUnschedulable(),
			Conditions: conditionsJSON(n.GetStatus().GetConditions()), Taints: []json.RawMessage{}, Pods: podsOn[name],
		}
		if cond := skiffv1.FindCondition(n.GetStatus().GetConditions(), skiffv1.NodeReady); cond != nil {
			nj.Ready = cond.GetStatus()
		}
		for _, t := range n.GetSpec().GetTaints() {
			b, _ := jsonOptions.Marshal(t)
			nj.Taints = append(nj.Taints, b)
		}
		nj.CPU.Allocatable = milli(n.GetStatus().GetAllocatable()["cpu"])
		nj.Memory.Allocatable = milli(n.GetStatus().GetAllocatable()["memory"]) / 1000
		if rq := requested[name]; rq != nil {
			nj.CPU.Requested, nj.Memory.Requested = rq.cpu, rq.mem
		}
		if u := used[name]; u != nil {
			cpu := int64(u.GetCpuCores() * 1000)
			mem := int64(u.GetMemoryWorkingSetBytes())
			nj.CPU.Used, nj.Memory.Used = &cpu, &mem
		}
		out.Nodes = append(out.Nodes, nj)
	}
	events := ca.list(skiffv1.Kind_KIND_EVENT, func(o skiffv1.Resource) bool {
		return o.(*skiffv1.Event).GetType() == "Warning"
	})
	sortEventsNewestFirst(events)
	if len(events) > maxWarnings {
		events = events[:maxWarnings]
	}
	out.Warnings = append(out.Warnings, rawItems(events)...)
	return out
}

// crashLooping: a container waits to be restarted after failing.
func crashLooping(p *skiffv1.Pod) bool {
	for _, cs := range p.GetStatus().GetContainerStatuses() {
		if cs.GetState().GetWaiting().GetReason() == "CrashLoopBackOff" {
			return true
		}
	}
	return false
}

func conditionsJSON(conds []*skiffv1.Condition) json.RawMessage {
	list := make([]json.RawMessage, 0, len(conds))
	for _, c := range conds {
		b, _ := jsonOptions.Marshal(c)
		list = append(list, b)
	}
	b, _ := json.Marshal(list)
	return b
}

// request is a container's request of a resource in milli-units; a
// missing request falls back to the limit, as the scheduler counts it.
func request(c *skiffv1.Container, name string) int64 {
	s, ok := c.GetResources().GetRequests()[name]
	if !ok {
		s = c.GetResources().GetLimits()[name]
	}
	return milli(s)
}

func milli(s string) int64 {
	if s == "" {
		return 0
	}
	q, err := quantity.Parse(s)
	if err != nil || q.Sign() < 0 {
		return 0
	}
	return q.MilliValue()
}
