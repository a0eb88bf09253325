#!/usr/bin/env bash
# The rendezvous cannot aim a peer's punching at a third host (issue: "probing
# and TCP connects toward one peer's candidates are rate-limited and bounded
# per round with back-off between rounds"). tests/lab/natpair.sh's lab with
# only A's daemon; B's key is held by an attacker in M (tools/rdv-intro):
#
#   A p2pvpnd (public, 203.0.113.2) --- WAN --- S rendezvous 192.0.2.10
#                                        |
#                                        M 192.0.2.66 + 192.0.2.64/28 routed to it
#
# The attacker registers as B from 192.0.2.66:51820 with 8 host candidates
# 192.0.2.67..74:51820 (all routed to M, only .66 held), answers nothing,
# and sends CONNECT for A once ("once") or every second ("repeated"), so
# the rendezvous introduces A to those addresses (again and again, as far
# as the rendezvous lets it). tcpdump in M records what A sends there
# for WINDOW_S seconds (default 90). Proves: in the first 30 s A sends at
# most one round's budget (PUNCH_ROUND_PROBES probes, PUNCH_ROUND_CONNECTS
# connects; the repeated introductions do not restart the round), at most
# PUNCH_CAND_PROBES probes to any one address, and after the first 30 s no
# more rounds than the back-off allows (waits of 30 s, 60 s, 120 s...; from
# 30 s to 90 s at most one more round, the rate at least halved). Prints
# the figures per 30 s window.
set -uo pipefail
[ "$(id -u)" = 0 ] || { echo "SKIP: lab tests need root"; exit 77; }
cd "$(dirname "$0")"
export P2PVPN_BUILD=${P2PVPN_BUILD:-$PWD/../../build}
for b in p2pvpnd p2pvpnctl p2pvpn-rendezvous rdv-intro; do
	[ -x "$P2PVPN_BUILD/$b" ] || { echo "missing $P2PVPN_BUILD/$b (build first)"; exit 1; }
done
command -v tcpdump > /dev/null || { echo "SKIP: needs tcpdump"; exit 77; }
# shellcheck source=natpair.sh
. ./natpair.sh
export NL_PREFIX=pb$$
M_NS=${NL_PREFIX}M
M_IP=192.0.2.66
M_NET=192.0.2.64/28
A_PUB=203.0.113.2
WINDOW_S=${WINDOW_S:-90}
# The engine's bounds (src/punch/engine.h); the test asserts against them.
hdr=../../src/punch/engine.h
bound() { sed -n "s/.*\b$1 = \([0-9]*\),.*/\1/p" "$hdr" | head -1; }
ROUND_PROBES=$(bound PUNCH_ROUND_PROBES)
ROUND_CONNECTS=$(bound PUNCH_ROUND_CONNECTS)
CAND_PROBES=$(bound PUNCH_CAND_PROBES)
BG=()
PASSED=0
FAILED=0

check() {
	local what=$1
	shift
	if "$@"; then
		echo "ok: $what"
		PASSED=$((PASSED + 1))
	else
		echo "FAIL: $what"
		FAILED=$((FAILED + 1))
	fi
}

down() {
	lab_kill_pid "${BG[@]}"
	BG=()
	[ -e "/run/netns/$M_NS" ] && ip netns del "$M_NS"
	natpair_down
}
trap 'down' EXIT

# M: its own namespace, a veth to the WAN router; 192.0.2.66 on it and the
# whole /28 routed there (the rest of 192.0.2.0/24 stays on S's cable).
m_up() {
	local t=pbt$$ u=pbu$$
	lab_run root ip netns add "$M_NS"
	lab_run "$M_NS" ip link set dev lo up
	lab_run root ip link add "$t" type veth peer name "$u"
	lab_run root ip link set dev "$t" netns "$M_NS"
	lab_run root ip link set dev "$u" netns "$NL_WAN"
	lab_run "$M_NS" ip link set dev "$t" name eth0
	lab_run "$NL_WAN" ip link set dev "$u" name tom
	lab_run "$M_NS" ip link set dev eth0 up
	lab_run "$NL_WAN" ip link set dev tom up
	lab_run "$M_NS" ip addr add "$M_IP/32" dev eth0
	lab_run "$M_NS" ip route add 192.0.2.1/32 dev eth0
	lab_run "$M_NS" ip route add default via 192.0.2.1 dev eth0
	lab_run "$NL_WAN" ip route add "$M_IP/32" dev tom
	lab_run "$NL_WAN" ip route add "$M_NET" via "$M_IP" dev tom
	# S holds 192.0.2.0/24 on its cable: M's part of it is behind the router.
	lab_run "$NL_S" ip route add "$M_NET" via 192.0.2.1
}

natpair_up none port-restricted || exit 1
m_up || exit 1
for n in a b s; do
	[ -s "$NP_WORK/$n.key" ] || { echo "no key $n"; exit 1; }
done
[ -n "$ROUND_PROBES" ] && [ -n "$ROUND_CONNECTS" ] && [ -n "$CAND_PROBES" ] ||
	{ ROUND_PROBES=0; ROUND_CONNECTS=0; CAND_PROBES=0; echo "note: engine.h has no bounds"; }

# window FILE FROM TO: "probes syns connects addresses" sent to M in [FROM, TO) s.
window() {
	awk -v a="$2" -v b="$3" '
		$1 >= a && $1 < b {
			if ($2 == "udp") u++; else { s++; if (!(($3 " " $4) in c)) { c[$3 " " $4]; n++ } }
			if (!($3 in d)) { d[$3]; k++ }
		}
		END { printf "%d %d %d %d\n", u, s, n, k }' "$1"
}

# scenario LABEL CONNECT_INTERVAL_MS: a fresh A, the attacker for WINDOW_S
# seconds, then the figures and the checks.
scenario() {
	local label=$1 interval=$2 hosts=() i t0 intros w f p30 s30 c30 k30 plate slate clate maxcand
	f=$NP_WORK/m-$label.txt
	lab_bg "$NL_A" "$NP_WORK/a-$label.log" "$NP_BUILD/p2pvpnd" -f -c "$NP_WORK/a.conf"
	BG+=("$LAB_BG_PID")
	lab_wait_for 10 grep -q "registered with the rendezvous" "$NP_WORK/a-$label.log" ||
		{ echo "FAIL: A did not register"; FAILED=$((FAILED + 1)); return; }
	ip netns exec "$M_NS" tcpdump -i eth0 -U -n -w "$NP_WORK/m-$label.pcap" \
		"src host $A_PUB and dst net $M_NET" > /dev/null 2>&1 &
	BG+=("$!")
	sleep 1
	for i in $(seq 67 74); do hosts+=(-H "192.0.2.$i:51820"); done
	t0=$(date +%s.%N)
	lab_bg "$M_NS" "$NP_WORK/rogue.log" "$NP_BUILD/rdv-intro" -s 192.0.2.10:3478 \
		-k "$(cat "$NP_WORK/s.pub")" -K "$(cat "$NP_WORK/b.key")" \
		-t "$(cat "$NP_WORK/a.pub")" -b 51820 -i "$interval" -d "$WINDOW_S" "${hosts[@]}"
	wait "$LAB_BG_PID" 2> /dev/null
	sleep 1
	lab_kill_pid "${BG[@]}"
	BG=()
	echo "== $label: $(cat "$NP_WORK/rogue.log")"
	intros=$(grep -c "introduced (reflexive" "$NP_WORK/a-$label.log")
	echo "A was introduced to the attacker $intros times in $WINDOW_S s"
	# One line per packet: seconds since t0, proto, destination, TCP seq.
	tcpdump -r "$NP_WORK/m-$label.pcap" -n -tt 2> /dev/null | awk -v t0="$t0" '
		{ t = $1 - t0; dst = $5; sub(/:$/, "", dst) }
		/ UDP, / { print t, "udp", dst, "-"; next }
		/Flags \[S\]/ { s = $0; sub(/.* seq /, "", s); sub(/,.*/, "", s); print t, "tcp", dst, s }
	' > "$f"
	echo "to M (probes, TCP SYNs, distinct connects, distinct addresses) per window:"
	for ((w = 0; w < WINDOW_S; w += 30)); do
		echo "  ${w}-$((w + 30)) s: $(window "$f" $w $((w + 30)))"
	done
	read -r p30 s30 c30 k30 < <(window "$f" 0 30)
	read -r plate slate clate _ < <(window "$f" 30 "$WINDOW_S")
	maxcand=$(awk '$1 < 30 && $2 == "udp" { n[$3]++ } END { m = 0; for (a in n) if (n[a] > m) m = n[a]; print m + 0 }' "$f")
	echo "first 30 s: $p30 probes, $c30 connects ($s30 SYNs) to $k30 addresses; most probes to one address: $maxcand"
	echo "30-$WINDOW_S s: $plate probes, $clate connects ($slate SYNs)"
	# A rendezvous that introduces only on mutual intent turns most of
	# the attacker's CONNECTs away; the engine must hold either way.
	check "$label: the attacker's introduction reached A" [ "$intros" -ge 1 ]
	check "$label: A probed the attacker's addresses at all (the test sees something)" \
		[ "$p30" -gt 0 ]
	check "$label: first 30 s: probes to M within one round's budget ($p30 <= $ROUND_PROBES)" \
		[ "$p30" -le "$ROUND_PROBES" ]
	check "$label: first 30 s: connects to M within one round's budget ($c30 <= $ROUND_CONNECTS)" \
		[ "$c30" -le "$ROUND_CONNECTS" ]
	check "$label: first 30 s: probes to one address within the per-candidate cap ($maxcand <= $CAND_PROBES)" \
		[ "$maxcand" -le "$CAND_PROBES" ]
	if [ "$WINDOW_S" -ge 90 ]; then
		# Rounds the back-off allows after the first: starts at 60 s,
		# 150 s, 300 s... (30 s rounds, waits of 30 s doubling, 5 min cap).
		local t=0 wait=30 n=0
		while :; do
			t=$((t + 30 + wait))
			[ "$t" -lt "$WINDOW_S" ] || break
			n=$((n + 1))
			wait=$((wait * 2 > 300 ? 300 : wait * 2))
		done
		check "$label: 30-$WINDOW_S s: at most $n more rounds ($plate <= $n x $p30 probes)" \
			[ "$plate" -le $((n * p30)) ]
		check "$label: 30-$WINDOW_S s: at most $n more rounds ($clate <= $n x $c30 connects)" \
			[ "$clate" -le $((n * c30)) ]
		check "$label: the probe rate fell after the first round ($plate in $((WINDOW_S - 30)) s vs $p30 in 30 s)" \
			[ $((plate * 30)) -lt $((p30 * (WINDOW_S - 30))) ]
	fi
}

echo "bounds (engine.h): $ROUND_PROBES probes and $ROUND_CONNECTS connects a round, $CAND_PROBES probes a candidate"
scenario once 0
scenario repeated 1000
echo "passed $PASSED, failed $FAILED"
[ "$FAILED" = 0 ]
