#!/usr/bin/env bash
# Memory and work bounds of a running peer (SECURITY-NOTES section 6 item
# 14: half-open handshakes, the receiver index table, many peers, packets
# queued without a key):
#
#   a 192.0.2.11 ---+--- b 192.0.2.12 (under test) ---+--- m 192.0.2.66
#   real peer of b                                      "c" (b's peer, key
#                                                       stolen), and the
#                                                       endpoints of 500
#                                                       dead peers of b
#
# b has 502 peers: a (working), c (not running; m holds its private key)
# and 500 whose endpoints are ports of m where nothing answers.
#  1. 100,000 inner packets to the 500 dead peers in 10 s (no session):
#     each peer holds at most STAGED_MAX of them, the rest are counted as
#     dropped; initiations to the dead endpoints stay at the retry pace
#     (one per peer per REKEY_TIMEOUT, not one per packet); b's memory grows
#     by at most the staging rings; a's pings go on.
#  2. 2,000 authentic initiations/s from c's key for 10 s, from 254 spoofed
#     sources: b's receiver indexes and memory do not grow with them, b
#     answers at most 50 a second for c (the per-peer initiation rule),
#     a's pings go on and b's control socket answers (b is under load:
#     cookie replies, no DH for initiations without mac2).
#  3. 60 authentic initiations/s (below the under-load threshold, so b does
#     the DH work): about every other one answered, indexes bounded.
# Index table exhaustion by configuration is impossible by construction
# (CFG_MAX_PEERS, a static_assert in daemon.h, unit test in test_config.c).
PREFIX=p2bnd$$
source "$(dirname "$0")/peers.sh"
[ -x "$BUILD/hsflood" ] || { echo "missing $BUILD/hsflood (build first)"; exit 1; }
N_DEAD=500

lab_switch
lab_host a 192.0.2.11
lab_host b 192.0.2.12
lab_host m 192.0.2.66
for n in a b c; do lab_keys $n; done
lab_conf a "10.77.0.1/24"
lab_conf b "10.77.0.2/24" "log_level = info"
sed -i '0,/^log_level = debug$/{/^log_level = debug$/d}' "$WORK/b.conf"
lab_peer a b "10.77.0.2/32" 192.0.2.12:51820
lab_peer b a "10.77.0.1/32"
lab_peer b c "10.77.0.3/32"
# Dead peers: random public keys (nobody holds their private keys),
# 10.78.i/32 inside, endpoints 192.0.2.66:40000+i.
python3 - "$N_DEAD" >> "$WORK/b.conf" << 'EOF'
import base64, os, sys
for i in range(int(sys.argv[1])):
    print(f'\n[peer "dead{i}"]')
    print("public_key = " + base64.b64encode(os.urandom(32)).decode())
    print(f"allowed_ips = 10.78.{i >> 8}.{i & 255}/32")
    print(f"endpoint = 192.0.2.66:{40000 + i}")
EOF
# The spoofed sources live behind m: b's answers go there.
nsx b ip route add 203.0.113.0/24 via 192.0.2.66
nsx b sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0
# m counts what b sends it, by message type (the first payload byte):
# initiations and anything else (probes) to the dead endpoints; handshake
# responses and cookie replies to the spoofed sources.
nsx m nft -f - << 'EOF'
table inet count {
	counter dead_init {}
	counter dead_other {}
	counter resp {}
	counter cookie {}
	chain in {
		type filter hook prerouting priority -300; policy accept;
		ip saddr 192.0.2.12 udp dport 40000-40999 @th,64,8 1 counter name dead_init accept
		ip saddr 192.0.2.12 udp dport 40000-40999 counter name dead_other accept
		ip daddr 203.0.113.0/24 udp sport 51820 @th,64,8 2 counter name resp
		ip daddr 203.0.113.0/24 udp sport 51820 @th,64,8 3 counter name cookie
	}
}
EOF
counter_m() {
	nsq m nft -j list counter inet count "$1" |
		python3 -c 'import json,sys; print([o for o in json.load(sys.stdin)["nftables"] if "counter" in o][0]["counter"]["packets"])'
}
json_b() {
	"$BUILD/p2pvpnctl" show -s "$WORK/b.sock" --json |
		python3 -c "import json,sys; print(json.load(sys.stdin)['interface']['$1'])"
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/${PID[b]}/status"; }
cpu_b() { awk '{ printf "%.2f", ($14 + $15) / '"$(getconf CLK_TCK)"' }' "/proc/${PID[b]}/stat"; }
loss() { sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$1"; }
le() { awk "BEGIN { exit !($1 <= $2) }"; }

lab_start b
lab_start a
check "a pings b" wait_ping a 10.77.0.2 10
# Past the first initiations' fast retries (4, 1 s apart, daemon.c): from
# here each peer's initiations follow the 5 s retransmit timer.
sleep 5
idx0=$(json_b receiver_indexes)
rss0=$(rss_kib)
say "b with $((N_DEAD + 2)) peers: RSS $rss0 KiB, $idx0 receiver indexes"

# 1. Packets for peers without a session.
cpu0=$(cpu_b)
init0=$(counter_m dead_init)
other0=$(counter_m dead_other)
tun0=$(nsq b cat /sys/class/net/p2p0/statistics/tx_packets)
nsq a ping -q -i 0.1 -c 100 -W 1 10.77.0.2 > "$WORK/ping.staged" 2>&1 &
PING=$!
nsq b python3 - "$N_DEAD" << 'EOF'
import socket, sys, time
n = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
start, sent = time.monotonic(), 0
while sent < 100000:
    # 10,000 a second, spread over every dead peer.
    due = min(100000, int((time.monotonic() - start) * 10000))
    while sent < due:
        i = sent % n
        try:
            s.sendto(b"x" * 200, (f"10.78.{i >> 8}.{i & 255}", 9))
        except OSError:
            pass
        sent += 1
    time.sleep(0.001)
print(f"sent {sent} packets in {time.monotonic() - start:.1f} s")
EOF
wait "$PING" || true
cpu1=$(cpu_b)
staged=$(json_b staged_dropped)
dead_init=$(($(counter_m dead_init) - init0))
dead_other=$(($(counter_m dead_other) - other0))
tun_read=$(($(nsq b cat /sys/class/net/p2p0/statistics/tx_packets) - tun0))
rss1=$(rss_kib)
say "staging: b read $tun_read inner packets, dropped $staged for room; sent the dead" \
	"endpoints $dead_init initiations and $dead_other other datagrams;" \
	"RSS $rss0 -> $rss1 KiB, b used $(awk "BEGIN { print $cpu1 - $cpu0 }") CPU s," \
	"a's ping loss $(loss "$WORK/ping.staged")%"
# What b read from the TUN (the kernel's tx count on it) went to a (its
# 100 ping replies, a few more packets of its own at most) or into a ring of STAGED_MAX = 16 per dead peer, or was
# dropped and counted.
check "at most 16 packets staged per peer" le $((tun_read - 120 - 16 * N_DEAD)) "$staged"
# Initiations retry every 5 s (REKEY_TIMEOUT, plus up to 1/3 s of jitter)
# whatever the traffic: 2 or 3 per peer in these ~10 s, not one per packet.
check "initiations to dead peers at the retry pace" le "$dead_init" $((3 * N_DEAD))
check "every dead peer was tried" le "$N_DEAD" "$dead_init"
# Staging rings: 500 x 16 slots of about 1.5 KiB.
check "memory grew by at most the staging rings" le $((rss1 - rss0)) 16384
check "a's ping loss <= 5% while staging" le "$(loss "$WORK/ping.staged")" 5

# 2. Half-open handshakes from a configured key.
sleep 1
rss2=$(rss_kib)
resp0=$(counter_m resp)
cookie0=$(counter_m cookie)
cpu2=$(cpu_b)
nsq m "$BUILD/hsflood" -k "$WORK/c.key" 192.0.2.12 51820 "$(pub b)" 2000 10 203.0.113.0/24 \
	> "$WORK/flood.c" 2>&1 &
FL=$!
nsq a ping -q -i 0.1 -c 100 -W 1 10.77.0.2 > "$WORK/ping.halfopen" 2>&1 &
PING=$!
late=0 idx_max=0
for _ in $(seq 1 20); do
	t0=$(date +%s%N)
	if i=$(timeout 1 "$BUILD/p2pvpnctl" show -s "$WORK/b.sock" --json |
		python3 -c "import json,sys; print(json.load(sys.stdin)['interface']['receiver_indexes'])"); then
		[ "$i" -le "$idx_max" ] || idx_max=$i
	else
		late=$((late + 1))
	fi
	[ $((($(date +%s%N) - t0) / 1000000)) -le 1000 ] || late=$((late + 1))
	sleep 0.4
done
wait "$FL" || true
wait "$PING" || true
cpu3=$(cpu_b)
rss3=$(rss_kib)
resp=$(($(counter_m resp) - resp0))
cookie=$(($(counter_m cookie) - cookie0))
say "half-open: $(cat "$WORK/flood.c")"
say "half-open: b sent $resp responses and $cookie cookie replies, receiver indexes" \
	"$idx0 before, at most $idx_max during, RSS $rss2 -> $rss3 KiB," \
	"b used $(awk "BEGIN { print $cpu3 - $cpu2 }") CPU s, a's ping loss" \
	"$(loss "$WORK/ping.halfopen")%, control socket late/missing $late times"
# c holds at most 4 indexes, like every peer (a handshake and three
# keypairs), however many initiations it sends.
check "receiver indexes did not grow with the flood" le "$idx_max" $((idx0 + 4))
check "at most 50 responses a second for one peer" le "$resp" 550
check "memory did not grow with the flood" le $((rss3 - rss2)) 1024
check "a's ping loss <= 5% during the flood" le "$(loss "$WORK/ping.halfopen")" 5
check "control socket answered within 1 s" test "$late" = 0

# 3. The same below the under-load threshold (64 handshakes/s), where b
# does the DH work for each: 60/s for 10 s, 16.7 ms apart. The per-peer
# rule accepts one initiation per 20 ms at most, so about every other one
# (~300); every accepted one replaces c's unconfirmed session, so the
# indexes stay where they were.
sleep 2
resp0=$(counter_m resp)
nsq m "$BUILD/hsflood" -k "$WORK/c.key" 192.0.2.12 51820 "$(pub b)" 60 10 203.0.113.0/24 \
	> "$WORK/flood.c60" 2>&1 &
FL=$!
idx_max=0
for _ in $(seq 1 20); do
	i=$(json_b receiver_indexes)
	[ "$i" -le "$idx_max" ] || idx_max=$i
	sleep 0.5
done
wait "$FL" || true
resp=$(($(counter_m resp) - resp0))
say "half-open, 60/s: $(cat "$WORK/flood.c60"); b sent $resp responses, receiver" \
	"indexes at most $idx_max, RSS $(rss_kib) KiB"
say "b's counters: $(printf 'show\n\n' | socat -t 2 - "UNIX-CONNECT:$WORK/b.sock" | grep -E '^(under_load|cookie|drop_|staged|receiver)' | tr '\n' ' ')"
check "b answered authentic initiations below the load threshold" le 200 "$resp"
check "at most one initiation per 20 ms accepted" le "$resp" 400
check "receiver indexes stayed bounded through 600 handshakes" le "$idx_max" $((idx0 + 4))
# c's path followed the spoofed sources (it has no confirmed session);
# each move names where it came from and where it went.
moves=$(grep -c "peer c: path moved from" "$WORK/b.log" || true)
say "c's path moved $moves times"
check "c's path moves were logged" test "$moves" -ge 1
check "no move names the same path twice" \
	bash -c '! grep -qE "path moved from ([^ ]+) to \1\$" "$1"' _ "$WORK/b.log"
finish
