#!/usr/bin/env bash
# Peers behind lab NATs that know only each other's key and a rendezvous
# (tests/lab/natpair.sh draws the topology). The representative subset of
# tools/natmatrix that CI runs:
#
#   none / none                         udp-direct
#   port-restricted / port-restricted   udp-direct
#   port-restricted / symmetric-seq     udp-direct (port prediction)
#   same NAT, no hairpin                udp-direct (LAN candidates)
#   udp-blocked / port-restricted       tcp-direct
#   symmetric-random / symmetric-random relay
#
# Proves: each pair pings through the tunnel over the path the NATs allow.
# The time to the first ping is printed (a figure, not an assertion).
set -uo pipefail
[ "$(id -u)" = 0 ] || { echo "SKIP: lab tests need root"; exit 77; }
cd "$(dirname "$0")"
export P2PVPN_BUILD=${P2PVPN_BUILD:-$PWD/../../build}
[ -x "$P2PVPN_BUILD/p2pvpn-rendezvous" ] || { echo "missing $P2PVPN_BUILD/p2pvpn-rendezvous"; exit 1; }
# shellcheck source=natpair.sh
. ./natpair.sh
export NL_PREFIX=tn$$
trap 'natpair_down' EXIT
PASSED=0
FAILED=0

# case A B EXPECTED_PATH [natlab options]
case_() {
	local a=$1 b=$2 want=$3 ms path
	shift 3
	echo "== $a / $b $* (expect $want)"
	if ! natpair_up "$a" "$b" "$@"; then
		echo "FAIL: $a/$b: lab did not come up"
		FAILED=$((FAILED + 1))
		natpair_down
		return
	fi
	natpair_start
	ms=$(natpair_first_ping 20)
	path=$(natpair_path)
	echo "   first ping after ${ms} ms, path $path"
	# explain tells the same story: the path in use and the candidates tried.
	explain=$("$NP_BUILD/p2pvpnctl" explain b -s "$NP_WORK/a.sock" 2>&1)
	if ! grep -q "candidate 0:" <<< "$explain" || ! grep -q "^  path: " <<< "$explain"; then
		echo "   explain said: $explain"
		path="explain-incomplete"
	fi
	if [ "$ms" != none ] && [ "$path" = "$want" ]; then
		echo "ok: $a/$b $*: $path"
		PASSED=$((PASSED + 1))
	else
		echo "FAIL: $a/$b $*: path '$path', first ping '$ms' (expected $want)"
		for f in "$NP_WORK"/*.log; do echo "---- $f"; tail -n 25 "$f"; done
		FAILED=$((FAILED + 1))
	fi
	natpair_down
}

case_ none none udp-direct
case_ port-restricted port-restricted udp-direct
case_ port-restricted symmetric-seq udp-direct
case_ port-restricted same udp-direct --hairpin off
case_ udp-blocked port-restricted tcp-direct
case_ symmetric-random symmetric-random relay
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
