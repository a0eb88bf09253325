#!/usr/bin/env bash
# The rendezvous restarts (killed, started again 3 s later with the same
# key; it remembers nothing): a relayed pair carries traffic again soon
# after it is back, a direct pair never stops.
#
#   symmetric-random / symmetric-random   relay: pings again after the return
#   port-restricted / port-restricted     udp-direct: no ping lost, no new
#                                         handshake, still udp-direct
#
# The peers see their REGISTERs go unanswered (RDVC_REGISTER_ANSWER_MS,
# three in a row), make a new session, register and ask for introductions
# again; the restarted rendezvous hands out new relay ids and the relayed
# path takes them. The time from the restart to the first ping through the
# relay is printed; the check allows 15 s (the target is 10 s).
set -uo pipefail
[ "$(id -u)" = 0 ] || { echo "SKIP: lab tests need root"; exit 77; }
cd "$(dirname "$0")"
export P2PVPN_BUILD=${P2PVPN_BUILD:-$PWD/../../build}
[ -x "$P2PVPN_BUILD/p2pvpn-rendezvous" ] || { echo "missing $P2PVPN_BUILD/p2pvpn-rendezvous"; exit 1; }
# shellcheck source=natpair.sh
. ./natpair.sh
export NL_PREFIX=trr$$
trap 'natpair_down' EXIT
PASSED=0
FAILED=0

ok() { echo "ok: $*"; PASSED=$((PASSED + 1)); }
bad() {
	echo "FAIL: $*"
	FAILED=$((FAILED + 1))
	for f in "$NP_WORK"/*.log; do
		echo "---- $f"
		tail -n 30 "$f"
	done
}

restart_rendezvous() {
	lab_kill_pid "$NP_RDV_PID"
	sleep 3
	RESTART_T0=$(date +%s%N)
	lab_bg "$NL_S" "$NP_WORK/s2.log" "$NP_BUILD/p2pvpn-rendezvous" -f -c "$NP_WORK/s.conf"
	NP_PIDS+=("$LAB_BG_PID")
	NP_RDV_PID=$LAB_BG_PID
}

echo "== symmetric-random / symmetric-random: relayed"
natpair_up symmetric-random symmetric-random || { bad "lab did not come up"; exit 1; }
natpair_start
ms=$(natpair_first_ping 20)
path=$(natpair_path)
echo "   first ping after $ms ms, path $path"
[ "$path" = relay ] && ok "the pair is relayed" || bad "path '$path' before the restart (expected relay)"
restart_rendezvous
back=$(natpair_first_ping 30 "$RESTART_T0")
echo "   pings through the relay again $back ms after the rendezvous restarted"
if [ "$back" != none ] && [ "$back" -le 15000 ]; then
	ok "relayed traffic again ${back} ms after the restart"
else
	bad "relayed traffic not back within 15 s of the restart ($back)"
fi
grep -q "relay id .* now (was " "$NP_WORK/a.log" &&
	ok "a took the restarted rendezvous's new relay id" ||
	bad "a's log does not show a new relay id"
path=$(natpair_path)
[ "$path" = relay ] && ok "still relayed after the restart" || bad "path '$path' after the restart"
natpair_down

echo "== port-restricted / port-restricted: direct"
natpair_up port-restricted port-restricted || { bad "lab did not come up"; exit 1; }
natpair_start
ms=$(natpair_first_ping 20)
path=$(natpair_path)
echo "   first ping after $ms ms, path $path"
[ "$path" = udp-direct ] && ok "the pair is direct" || bad "path '$path' (expected udp-direct)"
# 10 pings a second through the restart and the re-registration after it.
ip netns exec "$NL_A" ping -c 150 -i 0.1 -W 1 10.77.0.2 > "$NP_WORK/ping.txt" 2>&1 &
PING_PID=$!
sleep 1
restart_rendezvous
wait "$PING_PID"
lost=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$NP_WORK/ping.txt")
echo "   direct pair during the restart: $(grep 'packet loss' "$NP_WORK/ping.txt")"
[ "$lost" = 0 ] && ok "no ping lost on the direct path" || bad "$lost % of pings lost on the direct path"
# "tunnel up" lines about peer b (those about the rendezvous name it).
after_a=$(grep -c "peer b.*tunnel up" "$NP_WORK/a.log")
[ "$after_a" -le 1 ] && ok "no new handshake with b (the session carried on)" ||
	bad "a made $after_a tunnels to b"
[ "$(grep -c "registered with the rendezvous" "$NP_WORK/a.log")" -ge 2 ] &&
	ok "a registered again" || bad "a did not register again"
path=$(natpair_path)
[ "$path" = udp-direct ] && ok "still udp-direct" || bad "path '$path' after the restart"
natpair_down
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
