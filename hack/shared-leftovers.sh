#!/usr/bin/env bash
# shared-leftovers keeps a test run from leaving behind what its tests
# share and so cannot remove themselves:
#
#   - skiff's default parent cgroup (/sys/fs/cgroup/skiff on cgroup v2,
#     /sys/fs/cgroup/<controller>/skiff on v1): the e2e clusters' agents
#     make their pods' cgroups under it and remove their own, not the
#     parent, which another cluster running beside them may be using;
#   - /run/skiff/clusters.lock (and /run/skiff): `skiff cluster create`
#     serialises its choice of a lab subnet, which is the host's, on it.
#
# Once every test has ended:
#
#   shared-leftovers.sh save FILE    lists those that exist before the run
#   shared-leftovers.sh clean FILE   removes those that appeared since
#
# What was there before (a `skiff up` on this machine) is left alone, and
# a directory is removed only when empty (a parent cgroup still holding a
# cgroup stays, with a message).
set -euo pipefail

# In removal order: a file before the directory holding it.
shared() {
	for path in /sys/fs/cgroup/skiff /sys/fs/cgroup/*/skiff /run/skiff/clusters.lock /run/skiff; do
		if [ -e "$path" ]; then echo "$path"; fi
	done
}

case ${1:-} in
save) shared >"$2" ;;
clean)
	for path in $(shared); do
		[ -e "$path" ] || continue # cpu and cpuacct may name one hierarchy
		grep -qxF "$path" "$2" 2>/dev/null && continue
		if [ -d "$path" ]; then
			rmdir "$path" 2>/dev/null || echo "shared-leftovers: could not remove $path (not empty?); left in place"
		else
			rm -f "$path"
		fi
	done
	;;
*)
	echo "usage: $0 save|clean FILE" >&2
	exit 2
	;;
esac
