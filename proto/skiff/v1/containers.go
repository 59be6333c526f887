package skiffv1

// IsSidecar reports whether an init container is a sidecar: one with
// restartPolicy Always, started in init order and kept running beside the
// pod's containers.
func IsSidecar(c *Container) bool { return c.GetRestartPolicy() == "Always" }
