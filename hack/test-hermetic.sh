#!/usr/bin/env bash
# test-hermetic runs the packages most likely to lean on the invoking user's
# machine under a hostile one, the state `make run` leaves behind and worse:
#
#   - HOME is a fresh directory whose ~/.skiff/config names a TLS server that
#     does not exist, with a real CA, certificate and token;
#   - SKIFF_SERVER, SKIFF_CONFIG and SKIFF_TOKEN hold junk (second pass; the
#     first has only the home, so a test that clears the variables but still
#     falls back on ~/.skiff/config is caught too);
#   - the network namespace the tests run in already has the nftables table
#     `ip skiff`, a `skiff0` bridge with 10.88.0.1/24, the blackhole route
#     for 10.88.0.0/16, the `skiff-svc` bridge and the rule routing the
#     node's own service traffic to it (table 2946) that `skiff up` makes;
#   - /var/lib/skiff and /run/skiff, where they exist, are hidden behind empty
#     read-only mounts; where they do not, they must not appear.
#
# The host-state traps live in a network namespace made for this run, not in
# the host's: a test process sees "its own" namespace either way, which is
# the one a non-hermetic test would wrongly touch, and nothing running beside
# this on the machine is disturbed. They need root; without it only the
# environment traps run (and this says so).
#
# Any test that reads the user's config, the default ports' server or host
# state it did not make fails here. Packages: $HERMETIC_PKGS; e2e tests
# (cheap ones: a TLS server alone): $HERMETIC_E2E.
set -euo pipefail

GO=${GO:-go}
PKGS=${HERMETIC_PKGS:-./cli/... ./client/ ./cmd/skiff/ ./controlplane/ ./cluster/ ./nodeagent/network/ ./nodeagent/teardown/}
E2E=${HERMETIC_E2E:-^TestSecurity$}

# Go keeps its caches under HOME: pin them before HOME changes.
export GOCACHE="$($GO env GOCACHE)" GOMODCACHE="$($GO env GOMODCACHE)" GOPATH="$($GO env GOPATH)"
unset SKIFF_SERVER SKIFF_CONFIG SKIFF_TOKEN

work=$(mktemp -d /tmp/skiff-hermetic.XXXXXX)
ns=""
cleanup() {
	if [ -n "$ns" ]; then ip netns del "$ns" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

# A home whose ~/.skiff/config points at a TLS server nobody runs.
home=$work/home
mkdir -p "$home/.skiff"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj /CN=hermetic-trap -keyout "$home/.skiff/admin.key" -out "$home/.skiff/ca.crt" 2>/dev/null
cp "$home/.skiff/ca.crt" "$home/.skiff/admin.crt"
cat >"$home/.skiff/config" <<CONFIG
server: 127.0.0.1:9
ca: ca.crt
cert: admin.crt
key: admin.key
token: hermetic-trap
CONFIG
printf 'this is: [not a skiff config\n' >"$work/junk-config"

# What exists now of skiff's on the host must be the same afterwards.
host_state() {
	for d in /var/lib/skiff /run/skiff "$HOME/.skiff"; do
		if [ -e "$d" ]; then echo "present $d"; else echo "absent $d"; fi
	done
	if [ "$(id -u)" = 0 ]; then
		ip -o link show skiff0 2>/dev/null | awk '{print "link", $2}' || true
		ip -o link show skiff-svc 2>/dev/null | awk '{print "link", $2}' || true
		ip rule show 2>/dev/null | grep 'lookup 2946' | sed 's/^/rule /' || true
		ip route show proto 115 2>/dev/null | sed 's/^/route /' || true
		if command -v nft >/dev/null; then nft list table ip skiff >/dev/null 2>&1 && echo "nft table ip skiff" || true; fi
	fi
}
before=$(host_state)

run=()
if [ "$(id -u)" = 0 ] && command -v nft >/dev/null && command -v ip >/dev/null; then
	ns=skiff-hermetic-$$
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip netns exec "$ns" nft add table ip skiff
	ip netns exec "$ns" nft add chain ip skiff hermetic-trap
	ip -n "$ns" link add skiff0 type bridge
	ip -n "$ns" addr add 10.88.0.1/24 dev skiff0
	ip -n "$ns" link set skiff0 up
	ip -n "$ns" route add blackhole 10.88.0.0/16 proto 115
	ip -n "$ns" link add skiff-svc type bridge
	ip -n "$ns" link set skiff-svc up
	ip -n "$ns" route add 10.96.0.0/12 dev skiff-svc table 2946 proto 115
	ip -n "$ns" rule add to 10.96.0.0/12 iif lo lookup 2946 pref 2946
	# `ip netns exec` gives the command a mount namespace of its own, so the
	# read-only mounts below are seen by the tests alone.
	run=(ip netns exec "$ns")
	echo "hermetic: tests run in netns $ns (ip skiff table, skiff0 and skiff-svc bridges, blackhole route, service rule present)"
else
	echo "hermetic: not root or no nft/ip: the host-state traps are NOT set, only the environment ones"
fi

inner=$(cat <<'INNER'
for d in /var/lib/skiff /run/skiff; do
	if [ -d "$d" ]; then mount -t tmpfs -o ro,size=64k hermetic-trap "$d"; fi
done
exec "$@"
INNER
)

pass() { # pass NAME ENV... -- runs the packages, then the e2e tests, under env
	local name=$1
	shift
	echo "hermetic: pass '$name'"
	"${run[@]}" env "$@" sh -c "$inner" sh $GO test -count=1 $PKGS
	if [ -n "$E2E" ]; then
		"${run[@]}" env "$@" sh -c "$inner" sh $GO test -count=1 -run "$E2E" ./e2e/
	fi
}
pass "home with a config for a server nobody runs" HOME="$home"
pass "junk SKIFF_SERVER, SKIFF_CONFIG, SKIFF_TOKEN" HOME="$home" \
	SKIFF_SERVER=hermetic-trap.invalid:1 SKIFF_CONFIG="$work/junk-config" SKIFF_TOKEN=hermetic-trap

after=$(host_state)
if [ "$before" != "$after" ]; then
	echo "hermetic: the tests changed skiff's state on the host:"
	diff <(echo "$before") <(echo "$after") || true
	exit 1
fi
echo "hermetic: ok"
