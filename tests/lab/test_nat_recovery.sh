#!/usr/bin/env bash
# Recovery of a punched path (tests/lab/natpair.sh draws the topology): A and
# B behind port-restricted NATs whose UDP mappings time out after 15 s,
# keepalive 5 s.
#
# Proves: after 60 s idle the first ping goes through (heartbeats held the
# mappings); after a NAT box's conntrack table is flushed the tunnel is back
# within three heartbeats; with the rendezvous killed the direct tunnel keeps
# working, and when it comes back both peers register again.
set -uo pipefail
[ "$(id -u)" = 0 ] || { echo "SKIP: lab tests need root"; exit 77; }
cd "$(dirname "$0")"
export P2PVPN_BUILD=${P2PVPN_BUILD:-$PWD/../../build}
# shellcheck source=natpair.sh
. ./natpair.sh
export NL_PREFIX=tr$$
trap 'natpair_down' EXIT
PASSED=0
FAILED=0
check() {
	local what=$1; shift
	if "$@"; then echo "ok: $what"; PASSED=$((PASSED + 1)); else echo "FAIL: $what"; FAILED=$((FAILED + 1)); fi
}
ping_once() { ip netns exec "$NL_A" ping -c 1 -W 1 10.77.0.2 > /dev/null 2>&1; }
# Seconds until a ping goes through again (polls every 0.2 s), or "none".
time_to_ping() {
	local limit=$1 t0 i
	t0=$(date +%s%N)
	for ((i = 0; i < limit * 5; i++)); do
		if ip netns exec "$NL_A" ping -c 1 -W 0.2 10.77.0.2 > /dev/null 2>&1; then
			echo $((($(date +%s%N) - t0) / 1000000))
			return 0
		fi
	done
	echo none
	return 1
}
registrations() { grep -c "registered with the rendezvous" "$NP_WORK/$1.log"; }

natpair_up port-restricted port-restricted --udp-timeout 15 || exit 1
natpair_start
ms=$(natpair_first_ping 20)
echo "first ping after $ms ms, path $(natpair_path)"
check "tunnel up" test "$ms" != none

# 60 s without traffic through the tunnel: the NAT forgets idle mappings
# after 15 s, so only heartbeats can keep this path alive.
echo "idle for 60 s"
sleep 60
check "first ping after 60 s idle goes through" ping_once

# conntrack flushed in A's NAT box: every mapping gone at once.
lab_run "$NL_NA" conntrack -F > /dev/null 2>&1
back=$(time_to_ping 20)
echo "tunnel back $back ms after conntrack -F"
check "tunnel back within three heartbeats (15 s) after conntrack -F" \
	bash -c "[ '$back' != none ] && [ '$back' -le 15000 ]"

# Rendezvous killed: the direct tunnel does not need it.
before_a=$(registrations a)
before_b=$(registrations b)
lab_kill_pid "$NP_RDV_PID"
sleep 12
check "direct tunnel works with the rendezvous down" ping_once
# Back: both peers notice their registration lapsed and register again.
lab_bg "$NL_S" "$NP_WORK/s2.log" "$NP_BUILD/p2pvpn-rendezvous" -f -c "$NP_WORK/s.conf"
NP_PIDS+=("$LAB_BG_PID")
reregistered() { [ "$(registrations a)" -gt "$before_a" ] && [ "$(registrations b)" -gt "$before_b" ]; }
check "both peers registered again within 40 s" lab_wait_for 40 reregistered
check "tunnel still up" ping_once
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
