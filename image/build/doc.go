// Package build makes and publishes images without Docker: it imports
// docker-save and OCI-layout tarballs, builds a minimal image from a
// directory or a single static binary, makes the busybox demo image, and
// pushes to, lists and deletes from a registry. `skiff image` is a thin
// layer over it.
package build
