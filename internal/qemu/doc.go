// Package qemu boots Linux guests under QEMU from what this package makes
// on the host: Debian's cloud kernel (downloaded once with apt into a
// cache directory, with the modules a guest loads), an initramfs written
// here in the kernel's cpio format (busybox, the programs and files the
// caller hands in, an init that moves the root into a tmpfs and mounts a
// pure cgroup v2 system), and QEMU's command line — KVM when the host's
// KVM boots the guest, QEMU's emulation (TCG) otherwise.
//
// The VM test tier (e2e/vm) and `skiff cluster create --vm` both boot
// their guests through it.
package qemu
