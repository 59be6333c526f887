package nodeagent

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/skiff-sh/skiff/nodeagent/runtime"
)

// A runtime container is one instance (attempt) of a pod's container. Its
// ID says which: "<pod uid>.<container name>.<attempt>", so an agent that
// restarts can tell from the runtime alone what runs for whom, and the
// attempt number is the restart count.
func containerID(podUID, name string, attempt int) string {
	return fmt.Sprintf("%s.%s.%d", podUID, name, attempt)
}

type instance struct {
	podUID  string
	name    string
	attempt int
	state   runtime.State
}

func parseContainerID(id string) (podUID, name string, attempt int, ok bool) {
	parts := strings.Split(id, ".")
	if len(parts) != 3 {
		return "", "", 0, false
	}
	n, err := strconv.Atoi(parts[2])
	if err != nil || n < 0 {
		return "", "", 0, false
	}
	return parts[0], parts[1], n, true
}

// podInstances groups the runtime's containers of one pod by container
// name, oldest attempt first.
func podInstances(states []runtime.State, podUID string) map[string][]instance {
	out := map[string][]instance{}
	for _, s := range states {
		uid, name, attempt, ok := parseContainerID(s.ID)
		if !ok || uid != podUID {
			continue
		}
		out[name] = append(out[name], instance{podUID: uid, name: name, attempt: attempt, state: s})
	}
	for _, list := range out {
		sort.Slice(list, func(i, j int) bool { return list[i].attempt < list[j].attempt })
	}
	return out
}

func (a *Agent) instancesOf(podUID string) (map[string][]instance, error) {
	states, err := a.runtime.ListPrefix(podUID + ".")
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
