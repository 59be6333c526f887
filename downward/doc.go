// Package downward resolves the Kubernetes downward API: a pod's own
// fields (fieldRef) and its containers' resources (resourceFieldRef) as the
// strings a container sees in its environment or in a downwardAPI volume.
// It is pure logic; the agent supplies the pod, its addresses and the
// node's allocatable resources.
package downward
