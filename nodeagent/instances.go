package nodeagent

import (
	"sort"

	"github.com/skiff-sh/skiff/nodeagent/runtime"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A runtime container is one instance (attempt) of a pod's container: the
// pod's UID is its sandbox ID, and its name and attempt are in its State,
// so an agent that restarts can tell from the runtime alone what runs for
// whom; the attempt number is the restart count.
type instance struct {
	podUID  string
	name    string
	attempt int
	state   runtime.State
}

// Labels every container of a pod carries, so the runtime alone tells which
// pod a container runs for (as CRI's io.kubernetes.pod.* labels do).
const (
	LabelPodName      = "skiff.io/pod-name"
	LabelPodNamespace = "skiff.io/pod-namespace"
	LabelPodUID       = "skiff.io/pod-uid"
)

func podLabels(pod *skiffv1.Pod) map[string]string {
	m := pod.GetMetadata()
	return map[string]string{LabelPodName: m.GetName(), LabelPodNamespace: m.GetNamespace(), LabelPodUID: m.GetUid()}
}

// podInstances groups the runtime's containers of one pod by container
// name, oldest attempt first.
func podInstances(states []runtime.State, podUID string) map[string][]instance {
	out := map[string][]instance{}
	for _, s := range states {
		if s.Name == "" || s.SandboxID != podUID {
			continue
		}
		out[s.Name] = append(out[s.Name], instance{podUID: podUID, name: s.Name, attempt: s.Attempt, state: s})
	}
	for _, list := range out {
		sort.Slice(list, func(i, j int) bool { return list[i].attempt < list[j].attempt })
	}
	return out
}

func (a *Agent) instancesOf(podUID string) (map[string][]instance, error) {
	states, err := a.runtime.ListSandbox(podUID)
	if err != nil {
		return nil, err
	}
	return podInstances(states, podUID), nil
}

func latest(list []instance) *instance {
	if len(list) == 0 {
		return nil
	}
	return &list[len(list)-1]
}

func previous(list []instance) *instance {
	if len(list) < 2 {
		return nil
	}
	return &list[len(list)-2]
}

func running(i *instance) bool {
	return i != nil && (i.state.Status == runtime.StatusRunning || i.state.Status == runtime.StatusCreated)
}
