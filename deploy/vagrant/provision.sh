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
	;;
agent)
	server=$3 node=$4
	skiff cluster provision agent --api-server "$server:6443" --address "$address" \
		--node-name "$node" -o /etc/skiff/agent.env
	# Wait for the server so the first start registers at once.
	for i in $(seq 1 60); do
		skiff --server "$server:6443" get nodes >/dev/null 2>&1 && break
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
