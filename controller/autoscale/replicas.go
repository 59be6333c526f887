package autoscale

import (
	"errors"
	"fmt"
	"math"
)

// DefaultTolerance is the relative distance from the target within which
// the replica count is left alone, so that noise does not flap it.
const DefaultTolerance = 0.1

// ErrNoMetrics means no ready pod of the target has a usage reading yet.
var ErrNoMetrics = errors.New("no metrics for any ready pod of the target (are the pods running and their agents reporting?)")

// Pod is what the calculation needs to know about one pod of the target.
// Pods being deleted or failed are left out by the caller.
type Pod struct {
	Name string
	// Pending: not yet running (unscheduled, pulling, starting).
	Pending bool
	// Ready: its Ready condition is True.
	Ready bool
	// Request is the sum of its containers' requests of the resource
	// scaled on, in the unit usage is read in (millicores of CPU, bytes of
	// memory). Utilization is a share of it, so it must be positive.
	Request int64
}

// Recommendation is the outcome of one calculation.
type Recommendation struct {
	// Replicas is the count the metrics ask for, before stabilization,
	// the scale-up limit and min/max.
	Replicas int32
	// UtilizationPercent is the mean CPU use of the ready pods with
	// metrics, in percent of their requests.
	UtilizationPercent int32
}

// Replicas computes the recommended replica count, following Kubernetes'
// replica calculator (GetResourceReplicas):
//
//   - the utilization is the mean over ready pods with metrics of used
//     over requested CPU;
//   - within tolerance of the target, the count stays;
//   - pods without metrics count as using 100 % of their request when the
//     ready pods ask to scale down and 0 % when they ask to scale up, and
//     pods not ready count as 0 % on scale-up (on scale-down they are left
//     out): assumptions that can only dampen a change, never cause one;
//   - if those assumptions flip the direction, or bring the ratio within
//     tolerance, the count stays.
//
// usage maps pod names to their use, in the unit of Request; current is the
// target's replica count now.
func Replicas(current int32, pods []Pod, usage map[string]int64, targetPercent int32, tolerance float64) (Recommendation, error) {
	if targetPercent <= 0 {
		return Recommendation{}, fmt.Errorf("target utilization %d%%: must be positive", targetPercent)
	}
	requests := make(map[string]int64, len(pods))
	metrics := map[string]int64{} // ready pods with a reading
	var unready, missing []string
	for _, p := range pods {
		if p.Request <= 0 {
			return Recommendation{}, fmt.Errorf("pod %s has no CPU request: utilization is a share of the request", p.Name)
		}
		requests[p.Name] = p.Request
		u, found := usage[p.Name]
		switch {
		case p.Pending:
			unready = append(unready, p.Name)
		case !found:
			missing = append(missing, p.Name)
		case !p.Ready:
			unready = append(unready, p.Name)
		default:
			metrics[p.Name] = u
		}
	}
	if len(metrics) == 0 {
		return Recommendation{}, ErrNoMetrics
	}
	ratio, util := usageRatio(metrics, requests, targetPercent)
	rec := Recommendation{Replicas: current, UtilizationPercent: util}

	scaleUpWithUnready := len(unready) > 0 && ratio > 1
	if !scaleUpWithUnready && len(missing) == 0 {
		if math.Abs(1-ratio) <= tolerance {
			return rec, nil
		}
		rec.Replicas = ceil(ratio * float64(len(metrics)))
		return rec, nil
	}

	// Fill in the assumptions and compute again.
	if len(missing) > 0 {
		for _, name := range missing {
			if ratio < 1 {
				// Assume the missing use their whole request (or the
				// target, if that is higher): scale-down slows down.
				metrics[name] = requests[name] * int64(max(100, targetPercent)) / 100
			} else {
				metrics[name] = 0
			}
		}
	}
	if scaleUpWithUnready {
		for _, name := range unready {
			metrics[name] = 0
		}
	}
	newRatio, _ := usageRatio(metrics, requests, targetPercent)
	if math.Abs(1-newRatio) <= tolerance || (ratio < 1 && newRatio > 1) || (ratio > 1 && newRatio < 1) {
		return rec, nil
	}
	n := ceil(newRatio * float64(len(metrics)))
	if (newRatio < 1 && n > current) || (newRatio > 1 && n < current) {
		return rec, nil
	}
	rec.Replicas = n
	return rec, nil
}

// usageRatio is the utilization of the pods in metrics over the target
// (1.0 is on target), and the utilization itself in percent.
func usageRatio(metrics, requests map[string]int64, targetPercent int32) (float64, int32) {
	var used, requested int64
	for name, u := range metrics {
		used += u
		requested += requests[name]
	}
	util := float64(used) * 100 / float64(requested)
	return util / float64(targetPercent), int32(math.Round(util))
}

func ceil(f float64) int32 {
	c := math.Ceil(f)
	if c > math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(c)
}
