#!/usr/bin/env bash
# Hostile input against a running peer (SECURITY-NOTES section 6, items 1-9):
#
#   a 192.0.2.11 ---+--- b 192.0.2.12 (the target) ---+--- m 192.0.2.66
#   peer of b           knows a only                    unknown to b
#
# Proves: replayed data and replayed initiations are dropped; an initiation
# properly made by a key b does not know gets no answer; malformed and
# truncated datagrams get no answer and do not disturb the tunnel; a
# duplicate response, a response to an unknown index and forged cookie
# replies are dropped and counted (item 6); an inner packet with a source
# outside the sender's allowed_ips is dropped.
PREFIX=p2sec$$
source "$(dirname "$0")/peers.sh"
TOOL="python3 $(dirname "$0")/pcaptool.py"

lab_switch
lab_host a 192.0.2.11
lab_host b 192.0.2.12
lab_host m 192.0.2.66
for n in a b m; do lab_keys $n; done
lab_conf a "10.77.0.1/24"
lab_conf b "10.77.0.2/24"
lab_conf m "10.77.0.66/24"
lab_peer a b "10.77.0.2/32" 192.0.2.12:51820
lab_peer b a "10.77.0.1/32"
lab_peer m b "10.77.0.2/32" 192.0.2.12:51820

# Raw control request, to read b's drop counters.
drops_of() {
	printf 'show\n\n' | socat -t 2 - "UNIX-CONNECT:$WORK/$1.sock" | sed -n "s/^drop_$2=//p" | head -1
}
drops() { drops_of b "$1"; }
rx_packets() { nsq b cat /sys/class/net/p2p0/statistics/rx_packets; }
b_sent_to() { tcpdump -r "$1" -n "src host 192.0.2.12 and dst host $2" 2>/dev/null | wc -l; }

nsq b tcpdump -i eth0 -U -w "$WORK/b1.pcap" udp > /dev/null 2>&1 &
TCPDUMP=$!
sleep 1
lab_start a
lab_start b
check "a pings b" wait_ping a 10.77.0.2 10

# An initiation from a key b does not know: m is a real p2pvpnd that knows
# b's key, so its initiations are well formed; b must stay silent.
lab_start m
sleep 3
kill $TCPDUMP; wait $TCPDUMP 2>/dev/null || true
check "m's initiations reached b" test "$($TOOL count "$WORK/b1.pcap" 1 192.0.2.66)" -ge 1
check "b sent nothing to the unknown key" test "$(b_sent_to "$WORK/b1.pcap" 192.0.2.66)" = 0
check "b counted the unknown key" test "$(drops handshake_unknown_key)" -ge 1
lab_stop m

# Replays: a data packet from a, and an initiation the other side accepted
# (either peer may have initiated: both know the other's address by now).
data=$($TOOL extract "$WORK/b1.pcap" 4 192.0.2.11)
read -r init_src init < <($TOOL answered "$WORK/b1.pcap")
if [ "$init_src" = 192.0.2.11 ]; then init_dst=b init_ip=192.0.2.12; else init_dst=a init_ip=192.0.2.11; fi
say "replaying an initiation from $init_src that $init_dst accepted"
# Everything that reaches m from now on, to prove nobody answers it.
nsq m tcpdump -i eth0 -U -w "$WORK/m.pcap" udp > /dev/null 2>&1 &
TCPDUMP=$!
sleep 1
before=$(rx_packets)
nsx m $TOOL send 192.0.2.12 51820 "$data" "$data"
nsx m $TOOL send "$init_ip" 51820 "$init"
sleep 1
check "replayed data packet not delivered" test "$(rx_packets)" = "$before"
check "replayed data counted as replay" test "$(drops data_replay)" -ge 2
check "replayed initiation counted as replay" test "$(drops_of "$init_dst" handshake_replay)" -ge 1

# Malformed datagrams (item 1): sizes 0-4, bad types, reserved bytes, each
# handshake size +-1, a data packet with a flipped tag bit, garbage.
flip_last() { python3 -c "import sys; b=bytearray.fromhex(sys.argv[1]); b[-1]^=1; print(b.hex())" "$1"; }
bad=(00 01 010000 01000000 00000000 05000000 ff000000 01010000
	"$(head -c 148 /dev/zero | xxd -p -c 1000 | sed 's/^00/01/')"
	"$(head -c 150 /dev/zero | xxd -p -c 1000 | sed 's/^00/01/')"
	"$(head -c 149 /dev/urandom | xxd -p -c 1000 | sed 's/^../01/')"
	"$(head -c 92 /dev/zero | xxd -p -c 1000 | sed 's/^00/02/')"
	"$(head -c 93 /dev/urandom | xxd -p -c 1000 | sed 's/^../02/')"
	"$(head -c 31 /dev/zero | xxd -p -c 1000 | sed 's/^00/04/')"
	"$(flip_last "$data")"
	"$(head -c 1400 /dev/urandom | xxd -p -c 4000)")
nsx m $TOOL send 192.0.2.12 51820 "${bad[@]}"
# Low-order ephemeral keys in an otherwise copied initiation (item 5).
for point in 0000000000000000000000000000000000000000000000000000000000000000 \
	0100000000000000000000000000000000000000000000000000000000000000 \
	e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800 \
	5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157 \
	ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f \
	edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f \
	eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f; do
	nsq m $TOOL send 192.0.2.12 51820 "${init:0:16}${point}${init:80}"
done
sleep 2
kill $TCPDUMP; wait $TCPDUMP 2>/dev/null || true
check "no answer to anything m sent" test "$(tcpdump -r "$WORK/m.pcap" -n "dst host 192.0.2.66" 2>/dev/null | wc -l)" = 0
check "b counted malformed datagrams" test "$(drops malformed)" -ge 5
check "b counted invalid handshakes" test "$(drops handshake_invalid)" -ge 5
check "b counted the tampered data packet" test "$(drops data_invalid)" -ge 1
check "b is still running" kill -0 "${PID[b]}"
check "tunnel still works after the garbage" wait_ping a 10.77.0.2 5

# Responses and cookie replies (item 6): the accepted initiation's response
# again (a duplicate, no initiation outstanding for it), the same with an
# unknown receiver index and a mac1 made anew for it (so only the index is
# wrong), and cookie replies to b naming an unknown index and the index of
# b's live keypair (nothing requested, a tag nobody could make).
resp=$($TOOL extract "$WORK/b1.pcap" 2 "$init_ip")
if [ "$init_src" = 192.0.2.11 ]; then init_name=a; else init_name=b; fi
# remac HEX PUB [RECEIVER_INDEX_HEX]: the response with mac1 made for PUB.
remac() {
	python3 - "$@" << 'PY'
import base64, hashlib, sys
msg = bytearray.fromhex(sys.argv[1])
if len(sys.argv) > 3:
    msg[8:12] = bytes.fromhex(sys.argv[3])
key = hashlib.blake2b(b"mac1----" + base64.b64decode(sys.argv[2]), digest_size=32).digest()
msg[61:77] = hashlib.blake2b(bytes(msg[:61]), digest_size=16, key=key).digest()
print(msg.hex())
PY
}
check "the response's mac1 is made as the test makes it" \
	test "$(remac "$resp" "$(pub "$init_name")")" = "$resp"
count_of() { local v; v=$(drops_of "$@"); echo "${v:-0}"; }
inv0=$(count_of "$init_name" handshake_invalid)
cookie0=$(count_of b cookie_invalid)
b_index=${data:8:8}
nsq m tcpdump -i eth0 -U -w "$WORK/m-resp.pcap" udp > /dev/null 2>&1 &
TCPDUMP=$!
sleep 1
nsx m $TOOL send "$init_src" 51820 "$resp" "$(remac "$resp" "$(pub "$init_name")" 5a5a5a5a)"
nsx m $TOOL send 192.0.2.12 51820 \
	"03000000a5a5a5a5$(head -c 56 /dev/urandom | xxd -p -c 1000)" \
	"03000000${b_index}$(head -c 56 /dev/urandom | xxd -p -c 1000)"
sleep 2
kill $TCPDUMP; wait $TCPDUMP 2>/dev/null || true
check "no answer to the responses and cookie replies m sent" \
	test "$(tcpdump -r "$WORK/m-resp.pcap" -n "dst host 192.0.2.66" 2>/dev/null | wc -l)" = 0
check "the duplicate and the unknown-index response counted" \
	test "$(($(count_of "$init_name" handshake_invalid) - inv0))" -ge 2
check "the cookie replies counted as invalid" test "$(($(count_of b cookie_invalid) - cookie0))" -ge 2
check "tunnel still works after them" wait_ping a 10.77.0.2 5

# Forged inner source (item 9): a sends through the tunnel from an address
# that is not in its allowed_ips on b.
nsx a ip addr add 10.77.0.9/32 dev p2p0
before=$(rx_packets)
nsx a ping -c 3 -i 0.2 -W 1 -I 10.77.0.9 10.77.0.2 > /dev/null || true
check "forged source not delivered" test "$(rx_packets)" = "$before"
check "forged source counted" test "$(drops inner_source)" -ge 3

# Replay state across reload and restart (issue 7 item 3), on the side
# that accepted $init. A reload that changes the peer's section rebuilds
# the peer: the initiation is still a replay. Then a restart (replay state
# gone) after which that side makes the new session itself: the replay is
# accepted by the handshake, but the working session's endpoint stays.
if [ "$init_dst" = a ]; then
	other_ip=192.0.2.12 other_tun=10.77.0.2
	change() { sed -i 's|^allowed_ips = 10.77.0.2/32$|allowed_ips = 10.77.0.2/32, 10.77.9.0/24|' "$WORK/a.conf"; }
else
	other_ip=192.0.2.11 other_tun=10.77.0.1
	change() { echo "endpoint = 192.0.2.11:51820" >> "$WORK/b.conf"; }
fi
endpoint_of() {
	printf 'show\n\n' | socat -t 2 - "UNIX-CONNECT:$WORK/$1.sock" | sed -n 's/^endpoint=//p' | head -1
}
replays=$(drops_of "$init_dst" handshake_replay)
change
kill -HUP "${PID[$init_dst]}"
sleep 1
check "$init_dst rebuilt the changed peer" grep -q "peer [ab] added" "$WORK/$init_dst.log"
nsx m $TOOL send "$init_ip" 51820 "$init"
sleep 1
check "replayed initiation after a reload counted as replay" \
	test "$(drops_of "$init_dst" handshake_replay)" -gt "$replays"
lab_stop "$init_dst" KILL
sleep 0.5
lab_start "$init_dst"
check "$init_dst reaches its peer after restart" wait_ping "$init_dst" "$other_tun" 10
nsq m tcpdump -i eth0 -U -w "$WORK/m2.pcap" udp > /dev/null 2>&1 &
TCPDUMP=$!
sleep 1
nsx m $TOOL send "$init_ip" 51820 "$init"
sleep 1
say "[$init_dst] endpoint after the replay: $(endpoint_of "$init_dst")"
check "replay after restart did not move the endpoint" \
	test "$(endpoint_of "$init_dst")" = "$other_ip:51820"
check "tunnel still works after the replay" wait_ping "$init_dst" "$other_tun" 5
nsq "$init_dst" ping -c 10 -i 0.2 -W 1 "$other_tun" > /dev/null 2>&1 || true
kill $TCPDUMP; wait $TCPDUMP 2>/dev/null || true
to_m=$(tcpdump -r "$WORK/m2.pcap" -n "dst host 192.0.2.66" 2>/dev/null | wc -l)
say "datagrams to m after the replay: $to_m"
check "at most the handshake response went to m" test "$to_m" -le 1
finish
