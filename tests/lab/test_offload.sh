#!/usr/bin/env bash
# Correctness of the data path with TUN and UDP offloads on (offload = auto):
# TSO/USO super-packets read from the TUN and cut into segments, UDP GSO
# runs, GRO runs merged into TUN super-packets, against a peer without
# offloads, over tcp-direct and relay paths, and with the kernel refusing
# merged TUN writes. One switch (192.0.2.0/24):
#
#   a  .11  10.77.0.1 fd77::1   peers b, c, d (offload = auto)
#   b  .12  10.77.0.2 fd77::2   offload = auto
#   c  .13  10.77.0.3 fd77::3   offload = no
#   d  .14  10.77.0.4 fd77::4   under a seccomp filter that fails every
#                               writev of 3+ iovecs (merged TUN writes) with
#                               EINVAL (offloadtool.py no-merged-writes)
#   s  .10  p2pvpn-rendezvous (relay = yes)
#   t1 .21 / t2 .22  10.78.0.1/2  know only the rendezvous; nft drops their UDP
#                               to anything but s: tcp-direct
#   r1 .31 / r2 .32  10.79.0.1/2  MTU 1392; nft drops everything to anything
#                               but s: relay
#
# Checks: 1 GiB TCP a->b over IPv4 and over IPv6 (SHA-256 of what the sender
# sent, computed beforehand from the same deterministic stream, against the
# receiver's), offloads on during it, no malformed, invalid, replayed or
# looped drops anywhere; super-packets
# with TCP timestamp options on both TUNs (a's TSO, b's merged writes); a
# UDP flow of numbered datagrams (plain and UDP_SEGMENT sends, sizes up to
# the MTU) checked byte for byte, loss <= 0.5 %; ping at MTU-1, MTU and MTU+1
# (IPv4 and IPv6, DF); small UDP datagrams and TCP_NODELAY writes (NEEDS_CSUM
# without GSO) intact; 1 GiB each way between a and c (offload = no);
# 64 MiB over tcp-direct and relay with the path kind before and after; and
# d: the first merged write refused, merging off (log, show), every datagram
# of a UDP_SEGMENT burst and 256 MiB of TCP delivered intact.
PREFIX=p2off$$
# lib.sh for lab_wait_for; peers.sh (sourced after it) owns the cleanup.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/peers.sh"
command -v socat > /dev/null || { echo "SKIP: needs socat"; exit 77; }
command -v nft > /dev/null || { echo "SKIP: needs nft"; exit 77; }
command -v tcpdump > /dev/null || { echo "SKIP: needs tcpdump"; exit 77; }
command -v openssl > /dev/null || { echo "SKIP: needs openssl"; exit 77; }
[ -x "$BUILD/p2pvpn-rendezvous" ] || { echo "missing $BUILD/p2pvpn-rendezvous"; exit 1; }
TOOL=$SRC/tests/lab/offloadtool.py
T_START=$(date +%s)
MTU=1420
BIG=$((1 << 30))
declare -a BGPIDS=()
declare -A RATES=()
bg_cleanup() {
	local p
	for p in "${BGPIDS[@]}"; do kill "$p" 2> /dev/null || true; done
}
# set +e first: under errexit the (exit $rc) that hands lab_cleanup the status
# would end the trap before anything is stopped.
trap 'rc=$?; set +e; bg_cleanup; (exit $rc); lab_cleanup' EXIT

# stream BYTES: the deterministic test stream (AES-128-CTR of zeros).
stream() {
	head -c "$1" /dev/zero |
		openssl enc -aes-128-ctr -nosalt -K 000102030405060708090a0b0c0d0e0f \
			-iv 0f0e0d0c0b0a09080706050403020100 2> /dev/null
}
# ctl NAME: the control socket's raw show output (key=value).
ctl() { printf 'show\n\n' | socat -t 2 - "UNIX-CONNECT:$WORK/$1.sock"; }
field() { ctl "$1" | sed -n "s/^$2=//p" | head -1; }
offl() { field "$1" offloads; }
# path NAME: the path kind of NAME's first peer.
path_of() {
	show "$1" --json 2> /dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["peers"][0]["path"] or "none")' 2> /dev/null ||
		echo none
}
on_path() { [ "$(path_of "$1")" = "$2" ]; }
listening() { nsq "$1" ss -Hltn "sport = :$2" | grep -q .; }
udp_listening() { nsq "$1" ss -Hlun "sport = :$2" | grep -q .; }

# xfer FROM TO DST BYTES: TCP FROM->TO to DST (a socat address ending in
# :PORT), the receiver's "BYTES SHA SECONDS" in XFER and the rate in RATE
# (Mbit/s).
xfer() {
	local from=$1 to=$2 dst=$3 port=${3##*:} bytes=$4 out=$WORK/xfer.$1.$2.${3##*:}
	ip netns exec "$PREFIX-$to" python3 "$TOOL" sink "$port" > "$out" 2>&1 &
	local sink=$!
	BGPIDS+=("$sink")
	lab_wait_for 10 listening "$to" "$port" || { XFER="no listener"; RATE=0; return 1; }
	printf '[%s] stream %s | socat -u - %s\n' "$from" "$bytes" "$dst"
	stream "$bytes" | nsq "$from" timeout 120 socat -u -b 262144 - "$dst" || true
	wait "$sink" 2> /dev/null || true
	XFER=$(cat "$out")
	RATE=$(awk -v s="$XFER" 'BEGIN { split(s, f, " "); if (f[3] > 0) printf "%.0f", f[1] * 8 / f[3] / 1e6; else print 0 }')
	say "   received: $XFER ($RATE Mbit/s)"
}
# sent_ok BYTES: XFER is BYTES with the sender's hash.
sent_ok() { [ "$XFER" != "" ] && [ "${XFER% *}" = "$1 ${SHA[$1]}" ]; }

# capture NS FILE FILTER...: tcpdump on NS's p2p0 (first 3000 packets, headers).
capture() {
	local ns=$1 file=$2
	shift 2
	ip netns exec "$PREFIX-$ns" tcpdump -i p2p0 -n -s 128 -c 3000 -U -w "$file" "$@" > /dev/null 2>&1 &
	CAP=$!
	BGPIDS+=("$CAP")
	sleep 0.5
}
capture_end() {
	kill "$1" 2> /dev/null || true
	wait "$1" 2> /dev/null || true
}
stat_of() { sed -n "s/.*\b$2=\([0-9]*\).*/\1/p" <<< "$1"; }

# ------------------------------------------------------------------ setup
lab_switch
lab_host s 192.0.2.10
lab_host a 192.0.2.11
lab_host b 192.0.2.12
lab_host c 192.0.2.13
lab_host d 192.0.2.14
lab_host t1 192.0.2.21
lab_host t2 192.0.2.22
lab_host r1 192.0.2.31
lab_host r2 192.0.2.32
for n in s a b c d t1 t2 r1 r2; do lab_keys "$n"; done

# The sender's hashes, while the tunnels come up.
declare -A SHA=()
for n in $BIG $((256 << 20)) $((64 << 20)); do
	(stream "$n" | python3 "$TOOL" hash > "$WORK/sha.$n") &
	BGPIDS+=("$!")
done

cat > "$WORK/s.conf" << EOF
[rendezvous]
listen = 192.0.2.10:3478
private_key_file = $WORK/s.key
relay = yes
open = no
EOF
for n in t1 t2 r1 r2; do printf '\n[peer "%s"]\npublic_key = %s\n' "$n" "$(pub "$n")" >> "$WORK/s.conf"; done
ip netns exec "$PREFIX-s" "$BUILD/p2pvpn-rendezvous" -f -c "$WORK/s.conf" >> "$WORK/s.log" 2>&1 &
PID[s]=$!

# tcp-direct pair: no UDP except to the rendezvous. relay pair: nothing
# but the rendezvous.
for n in t1 t2; do
	nsx "$n" nft add table inet off
	nsx "$n" nft add chain inet off out '{ type filter hook output priority 0; }'
	nsx "$n" nft add rule inet off out oifname eth0 meta l4proto udp ip daddr != 192.0.2.10 drop
	nsx "$n" nft add rule inet off out oifname eth0 meta nfproto ipv6 meta l4proto udp drop
done
for n in r1 r2; do
	nsx "$n" nft add table inet off
	nsx "$n" nft add chain inet off out '{ type filter hook output priority 0; }'
	nsx "$n" nft add rule inet off out oifname eth0 ip daddr != 192.0.2.10 drop
	nsx "$n" nft add rule inet off out oifname eth0 meta nfproto ipv6 drop
done
RDV=("rendezvous = 192.0.2.10:3478" "rendezvous_key = $(pub s)")
lab_conf t1 10.78.0.1/24 "${RDV[@]}" "relay = no"
lab_conf t2 10.78.0.2/24 "${RDV[@]}" "relay = no"
lab_conf r1 10.79.0.1/24 "${RDV[@]}" "relay = yes" "mtu = 1392"
lab_conf r2 10.79.0.2/24 "${RDV[@]}" "relay = yes" "mtu = 1392"
lab_peer t1 t2 10.78.0.2/32
lab_peer t2 t1 10.78.0.1/32
lab_peer r1 r2 10.79.0.2/32
lab_peer r2 r1 10.79.0.1/32

lab_conf a "10.77.0.1/24, fd77::1/64"
lab_conf b "10.77.0.2/24, fd77::2/64"
lab_conf c "10.77.0.3/24, fd77::3/64" "offload = no"
lab_conf d "10.77.0.4/24, fd77::4/64"
i=2
for n in b c d; do
	lab_peer a "$n" "10.77.0.$i/32, fd77::$i/128" "192.0.2.1$i:51820"
	lab_peer "$n" a "10.77.0.1/32, fd77::1/128" 192.0.2.11:51820
	i=$((i + 1))
done
lab_wait_for 5 nsq s ss -Hlun "sport = :3478" || { echo "rendezvous did not start"; exit 1; }
for n in t1 t2 r1 r2 a b c; do lab_start "$n"; done
lab_start d python3 "$TOOL" no-merged-writes --

# The start-up self-probe: each daemon with offloads wrote one TCP and one
# UDP super-packet that its kernel took and dropped as IPv4 header errors
# (nothing else here makes header errors); c, with offload = no, none.
hdr_errors() { nsq "$1" awk '/^Ip: [0-9]/ { print $5 }' /proc/net/snmp; }
for n in a b d; do
	check "$n: the start-up probe's two merged writes taken (IpInHdrErrors $(hdr_errors $n))" \
		test "$(hdr_errors $n)" = 2
done
check "c: no probe with offload = no (IpInHdrErrors $(hdr_errors c))" test "$(hdr_errors c)" = 0
check "no start-up probe failed" \
	test "$(cat "$WORK"/{a,b,c,d}.log | grep -c 'start-up probe')" = 0

# The filter itself: 2 iovecs pass, 3 are refused with EINVAL.
check "the seccomp wrapper refuses a 3-iovec writev with EINVAL and passes 2" \
	python3 "$TOOL" no-merged-writes -- python3 -c '
import os, errno
assert os.writev(2, [b"", b""]) == 0
try:
    os.writev(2, [b"", b"", b""])
except OSError as e:
    assert e.errno == errno.EINVAL
else:
    raise SystemExit("3 iovecs not refused")'

check "a pings b" wait_ping a 10.77.0.2 10
check "a pings b over IPv6" wait_ping a fd77::2 5
check "a pings c" wait_ping a 10.77.0.3 5
check "a pings d" wait_ping a 10.77.0.4 5
wait "${BGPIDS[@]:0:3}" 2> /dev/null || true
for n in $BIG $((256 << 20)) $((64 << 20)); do
	read -r sz h < "$WORK/sha.$n" || true
	[ "$sz" = "$n" ] || { echo "hashing the $n-byte stream failed"; exit 1; }
	SHA[$n]=$h
done
say "sender's SHA-256: 1 GiB ${SHA[$BIG]}, 256 MiB ${SHA[$((256 << 20))]}, 64 MiB ${SHA[$((64 << 20))]}"

# --------------------------------------------- 1 + 4: 1 GiB TCP, v4 and v6
say "== 1 GiB a->b with offloads on"
for n in a b; do say "[$n] offloads: $(offl $n)"; done
for n in a b; do
	check "$n: TUN and UDP offloads on (csum tso uso, gso gro)" \
		test "$(offl $n)" = "TUN csum tso uso, UDP gso gro"
done
check "a: TCP timestamps on (net.ipv4.tcp_timestamps = 1)" \
	test "$(nsq a sysctl -n net.ipv4.tcp_timestamps)" = 1
capture a "$WORK/a-tso.pcap" tcp and dst host 10.77.0.2
CAP_A=$CAP
capture b "$WORK/b-gro.pcap" tcp and dst host 10.77.0.2
CAP_B=$CAP
xfer a b TCP:10.77.0.2:5001 $BIG
RATE4=$RATE
capture_end "$CAP_A"
capture_end "$CAP_B"
check "1 GiB over IPv4: the receiver's SHA-256 is the sender's" sent_ok $BIG
sa=$(python3 "$TOOL" pcap-stat "$WORK/a-tso.pcap" $MTU)
sb=$(python3 "$TOOL" pcap-stat "$WORK/b-gro.pcap" $MTU)
say "   a's TUN (read, TSO): $sa"
say "   b's TUN (written, merged): $sb"
check "a's TUN handed over TSO super-packets (> MTU) carrying TCP timestamps" \
	test "$(stat_of "$sa" over_mtu_ts)" -ge 10
check "b's TUN took merged super-packets (> MTU) carrying TCP timestamps" \
	test "$(stat_of "$sb" over_mtu_ts)" -ge 10
during=$(offl a)/$(offl b)

xfer a b "TCP6:[fd77::2]:5002" $BIG
RATE6=$RATE
check "1 GiB over IPv6: the receiver's SHA-256 is the sender's" sent_ok $BIG
for n in a b; do
	check "$n: offloads still on after the transfers, merging not refused" \
		test "$(offl $n)" = "TUN csum tso uso, UDP gso gro"
done
check "offloads on during the IPv4 transfer" \
	test "$during" = "TUN csum tso uso, UDP gso gro/TUN csum tso uso, UDP gso gro"

# ------------------------------------------- 2 + 5: UDP flow, small packets
say "== UDP a->b: numbered datagrams, plain and UDP_SEGMENT, checked byte for byte"
N_UDP=40000
for fam in 4 6; do
	if [ $fam = 4 ]; then dst=10.77.0.2 max=$((MTU - 28)); else dst=fd77::2 max=$((MTU - 48)); fi
	port=600$fam
	ip netns exec "$PREFIX-b" python3 "$TOOL" udp-recv "$port" $N_UDP > "$WORK/udp$fam.out" 2>&1 &
	rcv=$!
	BGPIDS+=("$rcv")
	lab_wait_for 5 udp_listening b "$port" || true
	capture a "$WORK/a-uso$fam.pcap" udp and dst port "$port"
	sent=$(nsq a python3 "$TOOL" udp-send "$dst" "$port" "$max" $N_UDP both 2>&1 || true)
	wait "$rcv" 2> /dev/null || true
	capture_end "$CAP"
	got=$(cat "$WORK/udp$fam.out")
	st=$(python3 "$TOOL" pcap-stat "$WORK/a-uso$fam.pcap" $MTU)
	say "   IPv$fam: $sent; $got; a's TUN: $st"
	miss=$(stat_of "$got" missing)
	check "UDP over IPv$fam: every datagram that arrived is exact (none bad, none duplicated)" \
		grep -q "bad=0 dup=0 " <<< "$got"
	check "UDP over IPv$fam: loss $miss of $N_UDP (<= 0.5 %)" test "${miss:-$N_UDP}" -le $((N_UDP / 200))
	check "UDP over IPv$fam: a's TUN handed over USO super-packets (> MTU)" \
		test "$(stat_of "$st" over_mtu)" -ge 10
done

say "== small TCP writes (TCP_NODELAY) a->b, IPv4 and IPv6"
for dst in 10.77.0.2 fd77::2; do
	ip netns exec "$PREFIX-b" python3 "$TOOL" small-recv 5003 300000 > "$WORK/small.out" 2>&1 &
	rcv=$!
	BGPIDS+=("$rcv")
	lab_wait_for 5 listening b 5003 || true
	sent=$(nsq a python3 "$TOOL" small-send "$dst" 5003 300000 2>&1 || true)
	wait "$rcv" 2> /dev/null || true
	say "   $dst: $sent; received $(cat "$WORK/small.out")"
	check "small TCP writes to $dst arrive intact" grep -qx "bytes=300000 ok" "$WORK/small.out"
done

# ------------------------------------------------------------ 3: MTU edges
say "== MTU edges (DF) from a's TUN, offloads on"
for fam in 4 6; do
	if [ $fam = 4 ]; then dst=10.77.0.2 hdr=28; else dst=fd77::2 hdr=48; fi
	for len in $((MTU - 1)) $MTU; do
		check "IPv$fam packet of $len bytes (MTU $MTU) answered" \
			nsq a ping -$fam -c 2 -W 2 -M "do" -s $((len - hdr)) "$dst"
	done
	out=$(nsq a ping -$fam -c 1 -W 2 -M "do" -s $((MTU + 1 - hdr)) "$dst" 2>&1 || true)
	say "   IPv$fam MTU+1: $(tr '\n' ' ' <<< "$out" | cut -c1-160)"
	check "IPv$fam packet of MTU+1 bytes refused locally (message too long)" \
		grep -qi "message too long" <<< "$out"
done

# --------------------------------------------- 6: a peer with offload = no
say "== a <-> c (offload = no on c), 1 GiB each way"
say "[c] offloads: $(offl c)"
check "c: offloads line says off" test "$(offl c)" = "TUN off, UDP off"
xfer a c TCP:10.77.0.3:5001 $BIG
RATE_AC=$RATE
check "1 GiB a->c: the receiver's SHA-256 is the sender's" sent_ok $BIG
xfer c a "TCP6:[fd77::1]:5001" $BIG
RATE_CA=$RATE
check "1 GiB c->a over IPv6: the receiver's SHA-256 is the sender's" sent_ok $BIG

# ---------------------------------------------- 8: merged writes refused
say "== d: the kernel refuses merged TUN writes (seccomp)"
say "[d] offloads: $(offl d)"
check "d: offloads on and merging not yet refused" test "$(offl d)" = "TUN csum tso uso, UDP gso gro"
ip netns exec "$PREFIX-d" python3 "$TOOL" udp-recv 6004 4000 > "$WORK/udpd.out" 2>&1 &
rcv=$!
BGPIDS+=("$rcv")
lab_wait_for 5 udp_listening d 6004 || true
sent=$(nsq a python3 "$TOOL" udp-send 10.77.0.4 6004 $((MTU - 28)) 4000 gso 2>&1 || true)
wait "$rcv" 2> /dev/null || true
got=$(cat "$WORK/udpd.out")
say "   UDP_SEGMENT bursts a->d: $sent; $got"
check "d: the kernel's refusal logged once, merging off" \
	test "$(grep -c 'refused a merged TUN write' "$WORK/d.log")" = 1
check "d: show says the TUN writes go unmerged" \
	test "$(offl d)" = "TUN csum tso uso (writes unmerged), UDP gso gro"
check "d: every datagram of the bursts arrived exact (the refused runs went one by one)" \
	test "$got" = "received=4000 bad=0 dup=0 missing=0"
xfer a d TCP:10.77.0.4:5001 $((256 << 20))
RATE_AD=$RATE
check "256 MiB a->d with merging off: the receiver's SHA-256 is the sender's" sent_ok $((256 << 20))
grep 'refused a merged' "$WORK/d.log" | sed 's/^/   d.log: /'

# --------------------------------------------------- 7: tcp-direct, relay
say "== tcp-direct (t1 -> t2) and relay (r1 -> r2), 64 MiB each"
check "t1 reaches t2 over tcp-direct" lab_wait_for 40 on_path t1 tcp-direct
check "r1 reaches r2 over the relay" lab_wait_for 40 on_path r1 relay
for pair in "t1 t2 10.78.0.2 tcp-direct 1420" "r1 r2 10.79.0.2 relay 1392"; do
	read -r x y dst kind mtu <<< "$pair"
	before=$(path_of "$x")
	check "$x: offloads on" test "$(offl "$x")" = "TUN csum tso uso, UDP gso gro"
	capture "$x" "$WORK/$x-tso.pcap" tcp and dst host "$dst"
	xfer "$x" "$y" "TCP:$dst:5001" $((64 << 20))
	capture_end "$CAP"
	RATES[$x]=$RATE
	st=$(python3 "$TOOL" pcap-stat "$WORK/$x-tso.pcap" "$mtu")
	after=$(path_of "$x")
	say "   path before $before, after $after; $x's TUN: $st"
	check "64 MiB over $kind: the receiver's SHA-256 is the sender's" sent_ok $((64 << 20))
	check "$x: on $kind before and after the transfer" test "$before/$after" = "$kind/$kind"
	check "$x's TUN handed over TSO super-packets on the $kind path" \
		test "$(stat_of "$st" over_mtu)" -ge 10
done

# ---------------------------------------------------------- drop counters
# Drops that a correct data path never causes between honest peers (no_route
# counts the kernel's own IPv6 router solicitations and is expected).
BAD_DROPS="malformed|data_invalid|data_replay|data_expired|inner_malformed|inner_source|routing_loop|relay_invalid"
for n in a b c d t1 t2 r1 r2; do
	say "[$n] $(ctl "$n" | grep -E '^drop_' | tr '\n' ' ')"
	bad=$(ctl "$n" | grep -E "^drop_($BAD_DROPS)=" | tr '\n' ' ' || true)
	check "$n: no packet dropped as malformed, invalid, replayed or looped" test -z "$bad"
done
say "rates (Mbit/s, receiver): a->b v4 $RATE4, v6 $RATE6; a->c $RATE_AC, c->a $RATE_CA;" \
	"a->d (merging refused) $RATE_AD; tcp-direct ${RATES[t1]}, relay ${RATES[r1]}"
say "run time $(($(date +%s) - T_START)) s"
finish
