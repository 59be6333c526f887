// Package autoscale is the arithmetic of the autoscaler, apart from any API:
// how many replicas a measured CPU use asks for (Kubernetes' HPA replica
// calculator, with its rules for pods that are not ready or have no
// metrics), the scale-up limit, the clamp to min/max, and the scale-down
// stabilization window. The controller feeds it; the tables test it.
package autoscale
