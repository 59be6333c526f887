#!/bin/sh
# Provision one skiff machine: install the binary and the systemd units,
# write the unit's env file with `skiff cluster provision` (the code that
# gives a local `skiff cluster` its nodes' command lines), start it.
#
#   provision.sh server ADDRESS
#   provision.sh agent  ADDRESS SERVER_ADDRESS NODE_NAME
#
# The binary is taken from /vagrant/bin/skiff (make build on the host).
set -eu
role=$1 address=$2
src=${SKIFF_SRC:-/vagrant}

install -m 0755 "$src/bin/skiff" /usr/local/bin/skiff
install -m 0644 "$src/deploy/systemd/skiff-$role.service" /etc/systemd/system/
mkdir -p /etc/skiff

case $role in
server)
	skiff cluster provision server --address "$address" -o /etc/skiff/server.env
	# Share the join token with the agents through the synced folder,
	# once the server has written it on its first start.
	(for i in $(seq 1 60); do
		[ -s /var/lib/skiff/token ] && install -m 0600 /var/lib/skiff/token "$src/.skiff-token" && break
		sleep 1
	done) &
	;;
agent)
	server=$3 node=$4
	for i in $(seq 1 90); do [ -s "$src/.skiff-token" ] && break; sleep 1; done
	install -d -m 0700 /etc/skiff
	install -m 0600 "$src/.skiff-token" /etc/skiff/token
	skiff cluster provision agent --api-server "$server:6443" --address "$address" \
		--node-name "$node" --token-file /etc/skiff/token -o /etc/skiff/agent.env
	# Wait for the server so the first start registers at once.
	for i in $(seq 1 60); do
		nc -z "$server" 6443 2>/dev/null && break
		sleep 1
	done
	;;
*)
	echo "usage: provision.sh server ADDRESS | agent ADDRESS SERVER NODE" >&2
	exit 2
	;;
esac

systemctl daemon-reload
systemctl enable --now "skiff-$role.service"
