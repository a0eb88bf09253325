# shellcheck shell=bash
# One trial of two p2pvpnd peers behind lab NATs (natlab.sh) that know only
# each other's public key and a rendezvous in S:
#
#    A (p2pvpnd, 10.77.0.1) -- NA --+-- WAN --+-- NB -- B (p2pvpnd, 10.77.0.2)
#                                   |
#                                   S  p2pvpn-rendezvous 192.0.2.10:3478
#                                      (alternate address 192.0.2.20)
#
# Source it (it sources natlab.sh), then:
#   natpair_up A_TYPE B_TYPE [natlab options...]   lab, keys, configs, rendezvous
#   natpair_start                                  both daemons; sets NP_T0 (ns)
#   natpair_first_ping [TIMEOUT_S [T0_NS]]         ms from NP_T0 (or T0_NS) to the first ping
#   natpair_path                                   A's path to B (show --json)
#   natpair_down                                   stop everything, remove the lab
# Needs P2PVPN_BUILD (binaries). Uses NL_PREFIX (set it unique per trial).
# NP_RDV_LISTEN: the rendezvous's listen (default 192.0.2.10:3478; e.g.
# 0.0.0.0:3478, the alternate address stays 192.0.2.20); the peers ask
# 192.0.2.10:3478 either way.

NP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=natlab.sh
. "$NP_DIR/natlab.sh"
NP_BUILD=${P2PVPN_BUILD:-$NP_DIR/../../build}
NP_PIDS=()

_np_conf_peer() {
	local self=$1 other=$2 addr=$3 other_addr=$4
	cat > "$NP_WORK/$self.conf" <<CONF
[interface]
address = $addr/24
private_key_file = $NP_WORK/$self.key
listen_port = 51820
keepalive = ${NP_KEEPALIVE:-5}
rendezvous = 192.0.2.10:3478
rendezvous_key = $(cat "$NP_WORK/s.pub")
relay = yes
control_socket = $NP_WORK/$self.sock
log_level = debug

[peer "$other"]
public_key = $(cat "$NP_WORK/$other.pub")
allowed_ips = $other_addr/32
CONF
}

natpair_up() {
	local a=$1 b=$2 n
	shift 2
	NP_WORK=$(mktemp -d "/tmp/natpair-${NL_PREFIX:-nl}.XXXXXX")
	natlab_up --a "$a" --b "$b" "$@" || return 1
	for n in a b s; do
		(umask 077; "$NP_BUILD/p2pvpnctl" genkey > "$NP_WORK/$n.key")
		"$NP_BUILD/p2pvpnctl" pubkey < "$NP_WORK/$n.key" > "$NP_WORK/$n.pub"
	done
	cat > "$NP_WORK/s.conf" <<CONF
[rendezvous]
listen = ${NP_RDV_LISTEN:-192.0.2.10:3478}
alternate_address = 192.0.2.20
private_key_file = $NP_WORK/s.key
relay = yes
open = no

[peer "a"]
public_key = $(cat "$NP_WORK/a.pub")

[peer "b"]
public_key = $(cat "$NP_WORK/b.pub")
CONF
	_np_conf_peer a b 10.77.0.1 10.77.0.2
	_np_conf_peer b a 10.77.0.2 10.77.0.1
	lab_bg "$NL_S" "$NP_WORK/s.log" "$NP_BUILD/p2pvpn-rendezvous" -f -c "$NP_WORK/s.conf"
	NP_PIDS+=("$LAB_BG_PID")
	NP_RDV_PID=$LAB_BG_PID
	sleep 0.2
}

natpair_start() {
	NP_T0=$(date +%s%N)
	lab_bg "$NL_A" "$NP_WORK/a.log" "$NP_BUILD/p2pvpnd" -f -c "$NP_WORK/a.conf"
	NP_PIDS+=("$LAB_BG_PID")
	NP_A_PID=$LAB_BG_PID
	lab_bg "$NL_B" "$NP_WORK/b.log" "$NP_BUILD/p2pvpnd" -f -c "$NP_WORK/b.conf"
	NP_PIDS+=("$LAB_BG_PID")
	NP_B_PID=$LAB_BG_PID
}

natpair_first_ping() {
	local timeout=${1:-20} t0=${2:-$NP_T0} end
	end=$(($(date +%s%N) + timeout * 1000000000))
	while [ "$(date +%s%N)" -lt "$end" ]; do
		if ip netns exec "$NL_A" ping -c 1 -W 0.2 10.77.0.2 > /dev/null 2>&1; then
			echo $((($(date +%s%N) - t0) / 1000000))
			return 0
		fi
		sleep 0.05
	done
	echo none
	return 1
}

natpair_path() {
	"$NP_BUILD/p2pvpnctl" show --json -s "$NP_WORK/a.sock" 2>/dev/null |
		python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["peers"][0]["path"] or "none")' 2>/dev/null ||
		echo none
}

natpair_down() {
	lab_kill_pid "${NP_PIDS[@]}"
	NP_PIDS=()
	natlab_down > /dev/null 2>&1 || true
	[ -z "${NP_KEEP_LOGS:-}" ] && rm -rf "$NP_WORK"
	return 0
}
