#!/usr/bin/env bash
# A peer's endpoint routed through its own tunnel (SECURITY-NOTES 6.17):
#
#   a 192.0.2.11 ---+--- b 192.0.2.12          (PREFIX-sw bridge)
#   p2p0 10.77.0.1      p2p0 10.77.0.2
#
# On a, the encrypted datagrams to b's endpoint 192.0.2.12:51820 are made to
# take the tunnel itself, in each way a user can do it:
#   1. b's allowed_ips gains b's own outer address (192.0.2.12/32), SIGHUP;
#   2. b's allowed_ips gains a prefix covering it (192.0.2.0/25), SIGHUP;
#   3. a full tunnel (0.0.0.0/0, harmless while the connected /24 is more
#      specific), then `ip route add 192.0.2.12/32 dev p2p0`;
#   4. the same route with b owning only 10.77.0.2/32 (no peer owns the
#      looped packets).
# While a pings b 10 times a second, each case must stay bounded for 10 s:
# a's daemon uses little CPU (/proc/PID/stat), packets on p2p0 and on eth0
# stay at a low rate (/sys/class/net/*/statistics), `p2pvpnctl show`
# answers within 1 s, one warning names the loop (not a flood); after the
# config or route is restored the tunnel works again.
PREFIX=p2rlp$$
source "$(dirname "$0")/peers.sh"
command -v socat > /dev/null || { echo "SKIP: needs socat"; exit 77; }

WINDOW_S=10
MAX_CPU_S=1.0	   # of a's daemon over the window (10 % of a core)
MAX_PKT_RATE=500   # packets/s on p2p0 (rx + tx) and on eth0 (tx)
HZ=$(getconf CLK_TCK)

lab_switch
lab_host a 192.0.2.11
lab_host b 192.0.2.12
for n in a b; do lab_keys $n; done
lab_conf a "10.77.0.1/24"
lab_conf b "10.77.0.2/24"
cp "$WORK/a.conf" "$WORK/a-base.conf"
lab_peer b a "10.77.0.1/32" 192.0.2.11:51820
# a's config for b with the given allowed_ips.
a_conf() {
	cp "$WORK/a-base.conf" "$WORK/a.conf"
	lab_peer a b "$1" 192.0.2.12:51820
}
a_reload() {
	a_conf "$1"
	say "[a] kill -HUP ${PID[a]} (b: allowed_ips = $1)"
	kill -HUP "${PID[a]}"
	sleep 0.5
}
a_conf "10.77.0.2/32"
for n in a b; do lab_start $n; done
check "a pings b" wait_ping a 10.77.0.2 10

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
stat_of() { nsq a cat "/sys/class/net/$1/statistics/$2"; }
warnings() { grep -c 'routed into its own tunnel' "$WORK/a.log" || true; }
# Warnings are counted from the last mark, set before each change: the
# first looped datagram (and its warning) comes at once.
mark() { W_MARK=$(warnings); L_MARK=$(looped); }
# a's drop_routing_loop counter (0 until the first), from the raw control socket.
looped() {
	local n
	n=$(printf 'show\n\n' | socat -t 2 - "UNIX-CONNECT:$WORK/a.sock" |
		sed -n 's/^drop_routing_loop=//p')
	echo "${n:-0}"
}

# window NAME: measures a over WINDOW_S seconds while a pings b; prints the
# figures and leaves them in CPU_S, TUN_RATE, ETH_RATE, SHOW_MAX_MS, and
# WARNS (since the mark).
window() {
	local name=$1 c0 c1 t0 r1 e0 s ms i
	nsq a ping -i 0.1 -W 1 -w "$WINDOW_S" 10.77.0.2 > "$WORK/ping-$name.log" 2>&1 &
	local ping=$!
	c0=$(cpu_ticks "${PID[a]}")
	t0=$(($(stat_of p2p0 rx_packets) + $(stat_of p2p0 tx_packets)))
	e0=$(stat_of eth0 tx_packets)
	SHOW_MAX_MS=0
	SHOW_FAILS=0
	for ((i = 0; i < WINDOW_S; i++)); do
		s=$(date +%s%N)
		timeout 1 "$BUILD/p2pvpnctl" show -s "$WORK/a.sock" > /dev/null 2>&1 ||
			SHOW_FAILS=$((SHOW_FAILS + 1))
		ms=$((($(date +%s%N) - s) / 1000000))
		[ "$ms" -le "$SHOW_MAX_MS" ] || SHOW_MAX_MS=$ms
		sleep 1
	done
	wait "$ping" || true
	c1=$(cpu_ticks "${PID[a]}")
	CPU_S=$(python3 -c "print(round(($c1 - $c0) / $HZ, 2))")
	r1=$(($(stat_of p2p0 rx_packets) + $(stat_of p2p0 tx_packets)))
	TUN_RATE=$(((r1 - t0) / (WINDOW_S + 1)))
	ETH_RATE=$((($(stat_of eth0 tx_packets) - e0) / (WINDOW_S + 1)))
	WARNS=$(($(warnings) - W_MARK))
	LOOPED=$(($(looped) - L_MARK))
	say "figures [$name]: cpu ${CPU_S} s in ~${WINDOW_S} s; p2p0 ${TUN_RATE} pkt/s;" \
		"eth0 tx ${ETH_RATE} pkt/s; show max ${SHOW_MAX_MS} ms ($SHOW_FAILS failed);" \
		"warnings $WARNS; looped datagrams dropped $LOOPED; ping: $(grep -o '[0-9.]*% packet loss' "$WORK/ping-$name.log")"
}

# bounded NAME: the checks every looping case must pass.
bounded() {
	local name=$1
	check "[$name] daemon still running" kill -0 "${PID[a]}"
	check "[$name] cpu ${CPU_S} s <= $MAX_CPU_S s" \
		python3 -c "import sys; sys.exit(not $CPU_S <= $MAX_CPU_S)"
	check "[$name] p2p0 ${TUN_RATE} pkt/s <= $MAX_PKT_RATE" test "$TUN_RATE" -le "$MAX_PKT_RATE"
	check "[$name] eth0 ${ETH_RATE} pkt/s <= $MAX_PKT_RATE" test "$ETH_RATE" -le "$MAX_PKT_RATE"
	check "[$name] show answered every time within 1 s" test "$SHOW_FAILS" = 0
	check "[$name] one warning about the loop (got $WARNS)" test "$WARNS" -ge 1 -a "$WARNS" -le 2
	check "[$name] looped datagrams counted (drop_routing_loop +$LOOPED)" test "$LOOPED" -ge 1
}

mark
window baseline
check "[baseline] no loop warning, nothing dropped as a loop" test "$WARNS" = 0 -a "$LOOPED" = 0
BASE_CPU=$CPU_S BASE_TUN=$TUN_RATE BASE_ETH=$ETH_RATE

# 1 and 2: allowed_ips that cover b's endpoint, by SIGHUP.
for case in "own-address:192.0.2.12/32" "covering-prefix:192.0.2.0/25"; do
	name=${case%%:*}
	mark
	a_reload "10.77.0.2/32, ${case#*:}"
	window "$name"
	bounded "$name"
	a_reload "10.77.0.2/32"
	check "[$name] tunnel works again after the config is restored" wait_ping a 10.77.0.2 15
done

# 3: a full tunnel works (the connected /24 keeps the endpoint outside)...
a_reload "10.77.0.2/32, 0.0.0.0/0"
check "[full-tunnel] a pings b with 0.0.0.0/0 in b's allowed_ips" wait_ping a 10.77.0.2 15
# ...until a route sends b's endpoint into the tunnel.
mark
nsx a ip route add 192.0.2.12/32 dev p2p0
window route-full-tunnel
bounded route-full-tunnel
nsx a ip route del 192.0.2.12/32 dev p2p0
check "[route-full-tunnel] tunnel works again after the route is removed" \
	wait_ping a 10.77.0.2 15

# 4: the same route with nothing but 10.77.0.2/32 for b.
a_reload "10.77.0.2/32"
check "[route] a pings b" wait_ping a 10.77.0.2 15
mark
nsx a ip route add 192.0.2.12/32 dev p2p0
window route
bounded route
nsx a ip route del 192.0.2.12/32 dev p2p0
check "[route] tunnel works again after the route is removed" wait_ping a 10.77.0.2 15

grep 'routed into its own tunnel' "$WORK/a.log" || true
say "figures [baseline]: cpu $BASE_CPU s, p2p0 $BASE_TUN pkt/s, eth0 tx $BASE_ETH pkt/s"
finish
