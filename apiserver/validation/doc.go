// Package validation fills in defaults and checks objects before the API
// server stores them. Every error names the field path the way a manifest
// writes it, e.g. spec.containers[1].resources.limits.memory.
package validation
