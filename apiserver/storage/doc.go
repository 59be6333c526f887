// Package storage keeps skiff objects in etcd. It is the only code that
// knows etcd keys (/skiff/<kinds>/<namespace>/<name>), how objects are
// encoded (protobuf), and what revisions mean: an object's resource_version
// is the etcd mod revision of its key, never stored in the value itself.
package storage
