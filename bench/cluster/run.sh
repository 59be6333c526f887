#!/bin/bash
# Benchmark of local multi-node clusters (needs root):
#  1. time of `skiff cluster create --nodes 3` (and of delete), R runs;
#  2. pod-to-pod latency (ICMP, busybox ping) and throughput (256 MiB over
#     HTTP, busybox wget from busybox httpd) between pods on the same node
#     and on different nodes (host-gw across the lab bridge).
# Everything runs in the cluster's namespaces; the state goes to a temp
# dir that is removed at the end, with the cluster, on failure too.
#
#   go build -o /tmp/skiff ./cmd/skiff && sudo bench/cluster/run.sh /tmp/skiff [RUNS]
set -euo pipefail
SKIFF=${1:-bin/skiff}
RUNS=${2:-5}
STATE=$(mktemp -d /tmp/skiff-bench-cluster.XXXXXX)
NAME=bench$$
trap '"$SKIFF" cluster delete --name $NAME --state-dir "$STATE" >/dev/null 2>&1 || true; rm -rf "$STATE"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }

echo "== create / delete a 3-node cluster, $RUNS runs"
creates=() deletes=()
for i in $(seq "$RUNS"); do
	t0=$(now); "$SKIFF" cluster create --name $NAME --nodes 3 --state-dir "$STATE" >/dev/null 2>&1; t1=$(now)
	"$SKIFF" cluster delete --name $NAME --state-dir "$STATE" >/dev/null 2>&1; t2=$(now)
	creates+=("$(echo "$t1 - $t0" | bc)") deletes+=("$(echo "$t2 - $t1" | bc)")
done
echo "create: median $(printf '%s\n' "${creates[@]}" | median) s  (runs: ${creates[*]})"
echo "delete: median $(printf '%s\n' "${deletes[@]}" | median) s  (runs: ${deletes[*]})"

"$SKIFF" cluster create --name $NAME --nodes 3 --state-dir "$STATE" >/dev/null 2>&1
export SKIFF_CONFIG=$STATE/$NAME/config
REG=$(grep -o '[0-9.]*:6443' "$SKIFF_CONFIG" | sed 's/6443/5000/')
pod() { # name node command
	cat <<YAML
---
apiVersion: skiff/v1
kind: Pod
metadata: {name: $1}
spec:
  terminationGracePeriodSeconds: 1
  nodeSelector: {skiff.io/hostname: $2}
  containers:
  - name: c
    image: $REG/demo:latest
    command: ["/bin/sh", "-c", "$3"]
YAML
}
serve="dd if=/dev/zero of=/www/big bs=1M count=256 2>/dev/null; exec /bin/httpd -f -p 8080 -h /www"
{ pod client node-1 "exec sleep 100000"; pod same node-1 "$serve"; pod cross node-2 "$serve"; } > "$STATE/pods.yaml"
"$SKIFF" apply -f "$STATE/pods.yaml" >/dev/null
for i in $(seq 100); do
	[ "$("$SKIFF" get pods | grep -c Running)" = 3 ] && break; sleep 0.2
done
ip() { "$SKIFF" get pod "$1" -o wide | awk 'NR==2{print $6}'; }
for target in same cross; do
	addr=$(ip $target)
	# Wait for httpd (it starts after writing the file), warm up ARP and cache.
	for i in $(seq 100); do
		"$SKIFF" exec client -- wget -q -O /dev/null "http://$addr:8080/big" 2>/dev/null && break; sleep 0.2
	done
	times=()
	for i in $(seq "$RUNS"); do
		t=$("$SKIFF" exec client -- sh -c "time wget -q -O /dev/null http://$addr:8080/big" 2>&1 | awk '/real/{sub("s","",$3); print $3}')
		times+=("$t")
	done
	med=$(printf '%s\n' "${times[@]}" | median)
	rtt=$("$SKIFF" exec client -- ping -c 100 -i 0.02 -q "$addr" 2>&1 | awk -F'[/ =]+' '/round-trip/{print $6 " ms avg (min " $5 ", max " $7 ")"}')
	echo "$target node: ping $rtt; 256 MiB over HTTP: median ${med}s = $(echo "256 / $med" | bc) MiB/s (runs: ${times[*]})"
done
