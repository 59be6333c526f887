#!/usr/bin/env bash
# cgroup-parents keeps a test run from leaving skiff's parent cgroups
# behind. The e2e clusters' agents make their pods' cgroups under the
# default parent (/sys/fs/cgroup/skiff on cgroup v2,
# /sys/fs/cgroup/<controller>/skiff on v1) and remove their own pods'
# cgroups, but not the parent, which another cluster running beside them
# may be using. Once every test has ended:
#
#   cgroup-parents.sh save FILE    lists the parents that exist before the run
#   cgroup-parents.sh clean FILE   removes those that appeared since, if empty
#
# A parent that was there before (a `skiff up` on this machine) is left
# alone, and rmdir refuses one that still holds a cgroup.
set -euo pipefail

parents() { ls -d /sys/fs/cgroup/skiff /sys/fs/cgroup/*/skiff 2>/dev/null || true; }

case ${1:-} in
save) parents >"$2" ;;
clean)
	for dir in $(parents); do
		[ -d "$dir" ] || continue # cpu and cpuacct may name one hierarchy
		if ! grep -qxF "$dir" "$2" 2>/dev/null; then
			rmdir "$dir" 2>/dev/null || echo "cgroup-parents: could not remove $dir (a cgroup still in it?); left in place"
		fi
	done
	;;
*)
	echo "usage: $0 save|clean FILE" >&2
	exit 2
	;;
esac
