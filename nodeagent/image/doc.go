// Package image is the node's image store: it pulls OCI and Docker images
// from registries, keeps blobs by digest, unpacks each layer once into its
// own directory (with OCI whiteouts turned into overlayfs whiteouts) so the
// container runtime can stack the layer dirs as overlay lowerdirs, resolves
// the image config, and garbage-collects unused images.
//
// It knows nothing about the skiff API: references, pull policies and
// overrides come in as plain values.
//
// On disk, under the store's root:
//
//	blobs/sha256/<hex>   manifests, configs and compressed layers, by digest
//	layers/<hex>/        one unpacked layer (keyed by its compressed digest)
//	tmp/                 work in progress; emptied at start
//	index.json           images and layers known to the store
package image
