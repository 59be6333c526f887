// Package cgroups places container processes in control groups and sets and
// reads their limits. One small Manager interface hides the two kernel
// interfaces: cgroup v1 (one hierarchy per controller) and the unified v2
// hierarchy, picked at run time by New. It is the only package in skiff that
// knows cgroup file names (runc's libcontainer/cgroups is the model).
package cgroups
