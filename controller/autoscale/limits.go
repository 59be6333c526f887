package autoscale

// Reasons for the ScalingLimited condition.
const (
	ReasonDesiredWithinRange = "DesiredWithinRange"
	ReasonTooFewReplicas     = "TooFewReplicas"
	ReasonTooManyReplicas    = "TooManyReplicas"
	ReasonScaleUpLimit       = "ScaleUpLimit"
)

// ScaleUpLimit is the most replicas one period may scale current up to:
// +100 % or +4, whichever is more, so that a small set grows quickly and a
// large one does not overshoot on one noisy reading.
func ScaleUpLimit(current int32) int32 {
	return current + max(current, 4)
}

// Limit applies the scale-up limit and min/max to a (stabilized)
// recommendation. limited is true when the result differs from what was
// asked; reason and message say why, for the ScalingLimited condition.
func Limit(current, desired, minReplicas, maxReplicas int32) (out int32, limited bool, reason, message string) {
	upLimit := ScaleUpLimit(current)
	switch {
	case desired < minReplicas:
		return minReplicas, true, ReasonTooFewReplicas, "the desired replica count is less than the minimum replica count"
	case desired > maxReplicas && maxReplicas <= upLimit:
		return maxReplicas, true, ReasonTooManyReplicas, "the desired replica count is more than the maximum replica count"
	case desired > upLimit:
		return upLimit, true, ReasonScaleUpLimit, "the desired replica count is increasing faster than the maximum scale rate"
	}
	return desired, false, ReasonDesiredWithinRange, "the desired count is within the acceptable range"
}
