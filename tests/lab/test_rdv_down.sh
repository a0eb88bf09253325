#!/usr/bin/env bash
# A rendezvous that is not running: its host is up (so UDP goes unanswered
# and its TCP port refuses with a reset), p2pvpnd configured with it. Before
# the fix every refused TCP connect was retried at once: 66 % of a CPU and
# some 35,000 "trying TCP" log lines a second. Checks, over 20 s: CPU time
# and wake-ups of the daemon bounded, TCP connects backing off (counted on
# the wire and in the log); then the rendezvous starts and the peers connect
# through it over UDP within 15 s, without waiting out the TCP back-off.
#
#   s  192.0.2.10  p2pvpn-rendezvous (started late)
#   a  192.0.2.11  10.77.0.1   knows b only by key
#   b  192.0.2.12  10.77.0.2
PREFIX=p2rdn$$
source "$(dirname "$0")/peers.sh"
[ -x "$BUILD/p2pvpn-rendezvous" ] || { echo "missing $BUILD/p2pvpn-rendezvous"; exit 1; }
command -v tcpdump > /dev/null || { echo "SKIP: needs tcpdump"; exit 77; }
SECS=20

lab_switch
lab_host s 192.0.2.10
lab_host a 192.0.2.11
lab_host b 192.0.2.12
for n in s a b; do lab_keys "$n"; done
cat > "$WORK/s.conf" << EOF2
[rendezvous]
listen = 192.0.2.10:3478
private_key_file = $WORK/s.key
open = yes
EOF2
RDV=("rendezvous = 192.0.2.10:3478" "rendezvous_key = $(pub s)")
lab_conf a 10.77.0.1/24 "${RDV[@]}"
lab_conf b 10.77.0.2/24 "${RDV[@]}"
sed -i "s/^log_level = debug/log_level = info/" "$WORK/a.conf" "$WORK/b.conf"
lab_peer a b 10.77.0.2/32
lab_peer b a 10.77.0.1/32

# TCP SYNs from a to the rendezvous's port, counted on s's side.
ip netns exec "$PREFIX-s" tcpdump -i eth0 -n -l -U \
	'tcp dst port 3478 and tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn and src host 192.0.2.11' \
	> "$WORK/syn.txt" 2> /dev/null &
PID[tcpdump]=$!
sleep 0.5
lab_start a
lab_start b
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
wakes() { awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$1/status"; }
t0=$(ticks "${PID[a]}")
w0=$(wakes "${PID[a]}")
sleep "$SECS"
t1=$(ticks "${PID[a]}")
w1=$(wakes "${PID[a]}")
hz=$(getconf CLK_TCK)
cpu_ms=$(((t1 - t0) * 1000 / hz))
syns=$(wc -l < "$WORK/syn.txt")
tries=$(grep -c 'trying TCP' "$WORK/a.log" || true)
lines=$(wc -l < "$WORK/a.log")
say "a, $SECS s with the rendezvous down: CPU $cpu_ms ms, $((w1 - w0)) wake-ups," \
	"$syns TCP connects on the wire, $tries 'trying TCP' lines, $lines log lines"
check "a: CPU while the rendezvous is down <= 500 ms in $SECS s ($cpu_ms ms)" test "$cpu_ms" -le 500
check "a: wake-ups <= 20/s ($((w1 - w0)) in $SECS s)" test $((w1 - w0)) -le $((20 * SECS))
# Waits of 1, 2, 4, 8, 16 s: 5 connects in the first 31 s (one more SYN
# retransmission each at most, should a reset be lost).
check "a: TCP connects back off (2..10 SYNs in $SECS s: $syns)" test "$syns" -ge 2 -a "$syns" -le 10
check "a: one log line per connect at most ($tries)" test "$tries" -le 6
check "a: nothing through the tunnel yet" test "$(show a --json | python3 -c \
	'import json,sys; print(json.load(sys.stdin)["peers"][0]["path"] or "none")')" = none

ip netns exec "$PREFIX-s" "$BUILD/p2pvpn-rendezvous" -f -c "$WORK/s.conf" >> "$WORK/s.log" 2>&1 &
PID[s]=$!
t_up=$(date +%s%N)
check "a pings b within 15 s of the rendezvous starting" wait_ping a 10.77.0.2 15
say "first ping $((($(date +%s%N) - t_up) / 1000000)) ms after the rendezvous started"
show a | grep -E 'path|endpoint' | sed 's/^/   /'
finish
