#!/usr/bin/env bash
# Hostile TCP clients against a real p2pvpn-rendezvous and a real p2pvpnd
# (issue 7 item 4, SECURITY-NOTES section 6 item 27):
#
#   s 192.0.2.10 (p2pvpn-rendezvous, relay = yes)   m 192.0.2.66 and
#   a 192.0.2.11 (no UDP at all: TCP only)            203.0.113.1-200 (the
#   b 192.0.2.12                                      hostile clients,
#   c 192.0.2.13 (no UDP; starts during a flood)      tests/lab/tcpabuse.py)
#
# a reaches the rendezvous and b over TCP only (its UDP is dropped), so it
# registers over TCP and its path to b is tcp-direct. Against the
# rendezvous's TCP port, m then runs: a flood of connections from one IP,
# from 200 IPs (c starts meanwhile and must register over TCP), slowloris
# clients (one byte a second of an initiation, or nothing), a STUN-over-TCP
# client that never reads what it asked for, length prefixes 0, 1, 65535
# and 150 (> the initiation's 149), and a SYN flood whose handshakes never
# complete (m's firewall drops everything but its SYNs: the kernel's SYN
# queue and syncookies take it, the rendezvous never sees those; a STUN
# exchange over TCP from c must still be answered). Asserts: a stays
# registered (no re-registration, no expired session), c registers over
# TCP during the flood, the rendezvous's RSS stays within 32 MiB of where
# it started, the per-IP cap and the cap on connections without a session
# hold, and every slowloris client is gone within 7 s. Then the same
# floods, slowloris and lengths against b's TCP port while a pings b 10
# times a second over tcp-direct (loss <= 5%), and a, restarted during the
# flood, gets its tcp-direct path to b back. Prints the refused, evicted
# and closed counts both programs log at stop.
PREFIX=p2tab$$
source "$(dirname "$0")/peers.sh"
[ -x "$BUILD/p2pvpn-rendezvous" ] || { echo "missing $BUILD/p2pvpn-rendezvous (build first)"; exit 1; }
command -v nft > /dev/null || { echo "SKIP: needs nft"; exit 77; }
command -v python3 > /dev/null || { echo "SKIP: needs python3"; exit 77; }
TA="$SRC/tests/lab/tcpabuse.py"

lab_switch
lab_host s 192.0.2.10
lab_host a 192.0.2.11
lab_host b 192.0.2.12
lab_host c 192.0.2.13
lab_host m 192.0.2.66
for n in s a b c; do lab_keys $n; done
M_SRCS=()
for i in $(seq 1 200); do
	nsq m ip addr add "203.0.113.$i/32" dev eth0
	M_SRCS+=("203.0.113.$i")
done
say "[m] 200 addresses 203.0.113.1-200 on eth0"
for n in s b; do
	nsx $n ip route add 203.0.113.0/24 via 192.0.2.66
done

cat > "$WORK/s.conf" << CONF
[rendezvous]
listen = 192.0.2.10:3478
private_key_file = $WORK/s.key
relay = yes
open = no

[peer "a"]
public_key = $(pub a)

[peer "b"]
public_key = $(pub b)

[peer "c"]
public_key = $(pub c)
CONF
rdv_lines=("rendezvous = 192.0.2.10:3478" "rendezvous_key = $(pub s)")
lab_conf a "10.77.0.1/24" "${rdv_lines[@]}"
lab_conf b "10.77.0.2/24" "${rdv_lines[@]}"
lab_conf c "10.77.0.3/24" "${rdv_lines[@]}"
lab_peer a b "10.77.0.2/32"
lab_peer b a "10.77.0.1/32"
lab_peer c a "10.77.0.1/32"
for n in a c; do
	nsx $n nft add table inet noudp
	nsx $n nft add chain inet noudp out '{ type filter hook output priority 0; }'
	nsx $n nft add rule inet noudp out oifname != lo meta l4proto udp drop
done

printf '[s] %s\n' "p2pvpn-rendezvous -f -c $WORK/s.conf"
ip netns exec "$PREFIX-s" "$BUILD/p2pvpn-rendezvous" -f -c "$WORK/s.conf" >> "$WORK/s.log" 2>&1 &
PID[s]=$!
sleep 0.3
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/${PID[s]}/status"; }
RSS_MAX=0
rss_sample() {
	local r
	r=$(rss_kb)
	[ "$r" -gt "$RSS_MAX" ] && RSS_MAX=$r
	return 0
}
# Samples the rendezvous's RSS every 0.2 s while the given command runs.
sampled() {
	"$@" &
	local p=$!
	while kill -0 "$p" 2>/dev/null; do
		rss_sample
		sleep 0.2
	done
	wait "$p"
}
wait_for() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 5; i++)); do
		"$@" > /dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}
registrations() { grep -c "registered with the rendezvous" "$WORK/$1.log" || true; }
path_of() {
	show "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["peers"][0]["path"])'
}

lab_start b
lab_start a
check "a pings b" wait_ping a 10.77.0.2 40
check "a reached the rendezvous over TCP" grep -q "rendezvous .*: connected over TCP" "$WORK/a.log"
check "a registered" wait_for 10 grep -q "registered with the rendezvous" "$WORK/a.log"
is_tcp_direct() { [ "$(path_of a)" = tcp-direct ]; }
wait_for 20 is_tcp_direct || true
path=$(path_of a)
say "a's path to b: $path"
check "a's path to b is tcp-direct" test "$path" = tcp-direct
reg_a0=$(registrations a)
rss0=$(rss_kb)
RSS_MAX=$rss0
say "rendezvous RSS before the floods: $rss0 kB"

say "--- rendezvous: 2000 connections from one IP (192.0.2.66), held 3 s"
out=$(sampled nsq m python3 "$TA" hold 192.0.2.10 3478 2000 3 192.0.2.66)
say "$out"
open_end=$(sed -n 's/.*still_open=\([0-9]*\).*/\1/p' <<< "$out")
check "at most 4 of them stay open (per-IP cap)" test "${open_end:-9999}" -le 4

say "--- rendezvous: a continuous flood from 200 IPs (1000 held open) for 12 s; c starts after 1 s"
nsq m python3 "$TA" flood 192.0.2.10 3478 1000 12 "${M_SRCS[@]}" > "$WORK/flood.out" 2>&1 &
FL=$!
sleep 1
lab_start c
while kill -0 "$FL" 2>/dev/null; do
	rss_sample
	sleep 0.2
done
wait "$FL" || true
say "$(cat "$WORK/flood.out")"
check "c reached the rendezvous over TCP during the flood" \
	grep -q "rendezvous .*: connected over TCP" "$WORK/c.log"
check "c registered during the flood" grep -q "registered with the rendezvous" "$WORK/c.log"
say "--- rendezvous: the same 200 IPs, 1000 connections held 3 s"
out=$(sampled nsq m python3 "$TA" hold 192.0.2.10 3478 1000 3 "${M_SRCS[@]}")
say "$out"
open_end=$(sed -n 's/.*still_open=\([0-9]*\).*/\1/p' <<< "$out")
check "at most 256 stay open (cap on connections without a session)" \
	test "${open_end:-9999}" -le 256

say "--- rendezvous: 200 slowloris clients (half dribble 1 byte/s, half silent)"
out=$(sampled nsq m python3 "$TA" slowloris 192.0.2.10 3478 200 15 "${M_SRCS[@]:0:100}")
say "$out"
closed=$(sed -n 's/.*closed_by_server=\([0-9]*\).*/\1/p' <<< "$out")
life=$(sed -n 's/.*longest_life_s=\([0-9.-]*\).*/\1/p' <<< "$out")
check "every slowloris client was closed" test "${closed:-0}" = 200
check "within 7 s (first complete frame due in 5 s)" awk "BEGIN { exit !(${life:-99} <= 7) }"

say "--- rendezvous: a STUN-over-TCP client that never reads"
out=$(sampled nsq m python3 "$TA" noread 192.0.2.10 3478 15 192.0.2.66)
say "$out"
check "the server closed the non-reading client" grep -q "closed_by_server=yes" <<< "$out"

say "--- rendezvous: length prefixes"
out=$(nsq m python3 "$TA" lengths 192.0.2.10 3478 192.0.2.66)
say "$out"
check "length 0: closed" grep -q "len0=closed" <<< "$out"
check "length 1: a datagram (dropped by the parser), connection kept" grep -q "len1=open" <<< "$out"
check "length 65535 for an initiation: closed" grep -q "len65535=closed" <<< "$out"
check "length 150 for an initiation (> 149): closed" grep -q "len150=closed" <<< "$out"

say "--- rendezvous: 3000 SYNs from 200 IPs that never complete (m drops its own ACKs)"
nsx m nft add table inet halfopen
nsx m nft add chain inet halfopen out '{ type filter hook output priority 0; }'
nsx m nft add rule inet halfopen out ip daddr 192.0.2.10 tcp dport 3478 'tcp flags & (syn|ack) != syn' drop
cookies0=$(nsq s nstat -az TcpExtSyncookiesSent | awk '/TcpExtSyncookiesSent/ { print $2 }')
nsq m python3 "$TA" synflood 192.0.2.10 3478 3000 6 "${M_SRCS[@]}" > "$WORK/syn.out" 2>&1 &
SF=$!
sleep 2
synrecv=$(nsq s ss -H -tn state syn-recv '( sport = :3478 )' | wc -l)
stun=$(nsq c python3 "$TA" stun 192.0.2.10 3478 || true)
wait "$SF" || true
cookies1=$(nsq s nstat -az TcpExtSyncookiesSent | awk '/TcpExtSyncookiesSent/ { print $2 }')
nsx m nft delete table inet halfopen
say "$(cat "$WORK/syn.out"); at the rendezvous: $synrecv in SYN_RECV," \
	"$((${cookies1:-0} - ${cookies0:-0})) syncookies sent; from c meanwhile: $stun"
check "a STUN exchange over TCP from c was answered during the SYN flood" \
	grep -q "stun_over_tcp=answered" <<< "$stun"
rss_sample

reg_a1=$(registrations a)
check "a stayed registered over TCP (no new registration)" test "$reg_a1" = "$reg_a0"
check "no session expired at the rendezvous" bash -c "! grep -q 'session expired' '$WORK/s.log'"
check "a still pings b" wait_ping a 10.77.0.2 5
say "rendezvous RSS: $rss0 kB before, at most $RSS_MAX kB during the floods"
check "the rendezvous's RSS grew by less than 32 MiB" test $((RSS_MAX - rss0)) -lt 32768

say "--- p2pvpnd b (TCP port 51820): floods while a pings b over tcp-direct"
nsq a ping -q -i 0.1 -c 250 -W 1 10.77.0.2 > "$WORK/ping.out" 2>&1 &
PG=$!
out=$(nsq m python3 "$TA" hold 192.0.2.12 51820 300 3 192.0.2.66)
say "one IP, 300 held: $out"
open_end=$(sed -n 's/.*still_open=\([0-9]*\).*/\1/p' <<< "$out")
check "b keeps at most 4 from one IP" test "${open_end:-9999}" -le 4
out=$(nsq m python3 "$TA" hold 192.0.2.12 51820 300 3 "${M_SRCS[@]}")
say "200 IPs, 300 held: $out"
open_end=$(sed -n 's/.*still_open=\([0-9]*\).*/\1/p' <<< "$out")
check "b keeps at most 16 unauthenticated in all" test "${open_end:-9999}" -le 16
out=$(nsq m python3 "$TA" lengths 192.0.2.12 51820 192.0.2.66)
say "lengths: $out"
check "b: length 0 closes" grep -q "len0=closed" <<< "$out"
check "b: length 1 is a (dropped) datagram, connection kept" grep -q "len1=open" <<< "$out"
out=$(nsq m python3 "$TA" slowloris 192.0.2.12 51820 40 14 "${M_SRCS[@]:0:20}")
say "slowloris: $out"
closed=$(sed -n 's/.*closed_by_server=\([0-9]*\).*/\1/p' <<< "$out")
check "b closed every slowloris client (10 s to authenticate)" test "${closed:-0}" = 40
wait "$PG" || true
loss=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$WORK/ping.out")
say "ping a -> b over tcp-direct during b's floods: loss ${loss:-?}%"
check "ping loss <= 5%" awk "BEGIN { exit !(\"${loss:-100}\" + 0 <= 5) }"

say "--- p2pvpnd b: a restarts during a continuous flood from 200 IPs"
nsq m python3 "$TA" flood 192.0.2.12 51820 200 25 "${M_SRCS[@]}" > "$WORK/bflood.out" 2>&1 &
FL=$!
sleep 1
lab_stop a
lab_start a
check "a pings b again during the flood" wait_ping a 10.77.0.2 20
wait_for 10 is_tcp_direct || true
path=$(path_of a)
say "a's path to b: $path"
check "a's new path to b is tcp-direct" test "$path" = tcp-direct
wait "$FL" || true
say "$(cat "$WORK/bflood.out")"

lab_stop b
lab_stop s
unset "PID[s]"
say "rendezvous: $(grep "rendezvous: tcp:" "$WORK/s.log" | tail -1 | sed 's/^.*rendezvous: tcp: //')"
say "p2pvpnd b: $(grep ": tcp: .* accepted" "$WORK/b.log" | tail -1 | sed 's/^.*: tcp: //')"
refused_ip=$(sed -n 's/.*refused: \([0-9]*\) over the per-IP cap.*/\1/p' <<< "$(grep 'rendezvous: tcp:' "$WORK/s.log" | tail -1)")
evicted=$(sed -n 's/.* \([0-9]*\) evicted.*/\1/p' <<< "$(grep 'rendezvous: tcp:' "$WORK/s.log" | tail -1)")
check "the rendezvous refused connections over the per-IP cap" test "${refused_ip:-0}" -ge 1
check "the rendezvous evicted connections without a session" test "${evicted:-0}" -ge 1
finish
