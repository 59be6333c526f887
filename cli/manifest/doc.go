// Package manifest turns skiff manifests — multi-document YAML or JSON with
// `apiVersion: skiff/v1`, `kind`, `metadata`, `spec` (and `status`) — into
// typed API objects, and checks each one locally before anything is sent to a
// server, so that a file with one bad document applies nothing. Encode is the
// way back, for `get -o yaml|json`.
//
// Kubernetes manifests (v1, apps/v1, autoscaling/v1 and v2) of the kinds
// skiff has are converted to skiff's objects here, at the edge, and back in
// Encode (convert.go); the object remembers what it was applied as. A
// Kubernetes field skiff does not implement is refused by name
// (unsupported.go).
//
// Decoding goes YAML → JSON (sigs.k8s.io/yaml) → protojson, so field names are
// the proto's JSON names. Scalars YAML typed differently from the proto
// (`cpu: 1` where the proto has a string) are coerced by walking the JSON tree
// alongside the message descriptor, which also names unknown fields with
// their path. The package is pure: no network, no globals, fuzzed.
package manifest
