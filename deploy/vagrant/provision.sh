#!/bin/sh
# Provision one skiff machine: install the binary and the systemd units,
# write the unit's env file with `skiff cluster provision` (the code that
# gives a local `skiff cluster` its nodes' command lines), start it.
#
#   provision.sh server ADDRESS                      # the only server
#   provision.sh server ADDRESS init NAME            # the first of several
#   provision.sh server ADDRESS join NAME FIRST_ADDRESS
#   provision.sh agent  ADDRESS SERVER_ADDRESS[,SERVER_ADDRESS…] NODE_NAME
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
	mode=${3:-}
	case $mode in
	"")
		skiff cluster provision server --address "$address" -o /etc/skiff/server.env ;;
	init)
		skiff cluster provision server --address "$address" --cluster-init --server-name "$4" -o /etc/skiff/server.env ;;
	join)
		first=$5
		# The first server's server token, shared like the agents' below.
		for i in $(seq 1 120); do [ -s "$src/.skiff-server-token" ] && break; sleep 1; done
		install -d -m 0700 /etc/skiff
		install -m 0600 "$src/.skiff-server-token" /etc/skiff/server-token
		skiff cluster provision server --address "$address" --server-name "$4" \
			--join-server "https://$first:6443" --server-token-file /etc/skiff/server-token -o /etc/skiff/server.env
		for i in $(seq 1 60); do
			nc -z "$first" 6443 2>/dev/null && break
			sleep 1
		done
		;;
	*)
		echo "provision.sh server ADDRESS [init NAME | join NAME FIRST_ADDRESS]" >&2
		exit 2
		;;
	esac
	if [ "$mode" != join ]; then
		# Share the join token (and, for servers that join, the server
		# token) through the synced folder once the server wrote them.
		(for i in $(seq 1 60); do
			[ -s /var/lib/skiff/token ] && install -m 0600 /var/lib/skiff/token "$src/.skiff-token" &&
				{ [ "$mode" != init ] || install -m 0600 /var/lib/skiff/server-token "$src/.skiff-server-token"; } && break
			sleep 1
		done) &
	fi
	;;
agent)
	servers=$3 node=$4
	server=${servers%%,*}
	for i in $(seq 1 90); do [ -s "$src/.skiff-token" ] && break; sleep 1; done
	install -d -m 0700 /etc/skiff
	install -m 0600 "$src/.skiff-token" /etc/skiff/token
	# Every server, HOST:6443 each: the agent fails over between them.
	api=$(echo "$servers" | sed 's/\([^,]*\)/\1:6443/g')
	skiff cluster provision agent --api-server "$api" --address "$address" \
		--node-name "$node" --token-file /etc/skiff/token -o /etc/skiff/agent.env
	# Wait for the first server so the first start registers at once.
	for i in $(seq 1 60); do
		nc -z "$server" 6443 2>/dev/null && break
		sleep 1
	done
	;;
*)
	echo "usage: provision.sh server ADDRESS [init NAME | join NAME FIRST] | agent ADDRESS SERVER[,SERVER…] NODE" >&2
	exit 2
	;;
esac

systemctl daemon-reload
systemctl enable --now "skiff-$role.service"
