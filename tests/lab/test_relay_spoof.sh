#!/usr/bin/env bash
# Relay frames are bound to the sender's session, not to its address
# (issue 7 item 4, rdvproto/proto.h section 3):
#
#   s 192.0.2.10 (p2pvpn-rendezvous, relay = yes)   m 192.0.2.66 (attacker:
#   a 192.0.2.11 --- b 192.0.2.12 (a relayed pair)    raw socket, forged sources)
#
# a and b meet only through the relay (direct traffic dropped by nft). s
# captures real relay frames while a pings b. Then m, on the same switch,
# forges a's source address (192.0.2.11:51820) towards s with those frames
# replayed, untagged (tag zeroed) and with a flipped tag bit, all naming
# b's relay id, at well over a's 10 MB/s relay budget for 10 s, while a
# pings b 10 times a second with 1200-byte pings (as large as the forged
# frames: a bucket the forgeries drained would refuse them; small ones
# would slip through its gaps). Asserts: ping loss <= 5% (a's budget was not
# spent), nothing reached b (its relay and data drop counters stand still),
# and s counted the frames as unauthenticated. Then m forges s's address
# (192.0.2.10:3478) towards b with the captured s -> peer frames, replayed
# and untagged, for 5 s: b drops each as relay_invalid (none reaches its
# data path), and a's pings still pass. Prints the rates and the counters.
PREFIX=p2rsp$$
source "$(dirname "$0")/peers.sh"
[ -x "$BUILD/p2pvpn-rendezvous" ] || { echo "missing $BUILD/p2pvpn-rendezvous (build first)"; exit 1; }
for c in nft tcpdump socat; do
	command -v $c > /dev/null || { echo "SKIP: needs $c"; exit 77; }
done
PCAP="$SRC/tests/lab/pcaptool.py"

lab_switch
lab_host s 192.0.2.10
lab_host a 192.0.2.11
lab_host b 192.0.2.12
lab_host m 192.0.2.66
for n in s a b; do lab_keys $n; done

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
CONF
rdv_lines=("rendezvous = 192.0.2.10:3478" "rendezvous_key = $(pub s)" "relay = yes")
lab_conf a "10.77.0.1/24" "${rdv_lines[@]}"
lab_conf b "10.77.0.2/24" "${rdv_lines[@]}"
lab_peer a b "10.77.0.2/32"
lab_peer b a "10.77.0.1/32"

# No direct path between a and b: only the relay is left.
for p in "a 192.0.2.12" "b 192.0.2.11"; do
	set -- $p
	nsx "$1" nft add table inet blk
	nsx "$1" nft add chain inet blk out '{ type filter hook output priority 0; }'
	nsx "$1" nft add rule inet blk out ip daddr "$2" drop
done

printf '[s] %s\n' "p2pvpn-rendezvous -f -c $WORK/s.conf"
ip netns exec "$PREFIX-s" "$BUILD/p2pvpn-rendezvous" -f -c "$WORK/s.conf" >> "$WORK/s.log" 2>&1 &
PID[s]=$!
sleep 0.3
lab_start a
lab_start b
check "a pings b (through the rendezvous)" wait_ping a 10.77.0.2 40
path=$(show a --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["peers"][0]["path"])')
say "a's path to b: $path"
check "a and b use the relay" test "$path" = relay

drops_of() {
	printf 'show\n\n' | socat -t 2 - "UNIX-CONNECT:$WORK/$1.sock" |
		sed -n "s/^drop_$2=//p" | head -1 | grep . || echo 0
}

# Real frames, captured at s: a's to s, and s's to both peers.
printf '[s] %s\n' "tcpdump -i eth0 -U -w $WORK/cap.pcap udp port 3478"
ip netns exec "$PREFIX-s" tcpdump -i eth0 -U -w "$WORK/cap.pcap" udp port 3478 \
	> "$WORK/tcpdump.log" 2>&1 &
PID[tcpdump]=$!
sleep 1
nsq a ping -q -i 0.05 -c 60 -s 1200 10.77.0.2 > /dev/null 2>&1 || true
sleep 0.5
kill "${PID[tcpdump]}"
wait "${PID[tcpdump]}" 2>/dev/null || true
unset "PID[tcpdump]"
python3 "$PCAP" list "$WORK/cap.pcap" 7 192.0.2.11 > "$WORK/a2s.hex"
python3 "$PCAP" list "$WORK/cap.pcap" 7 192.0.2.10 > "$WORK/s2x.hex"
n_a=$(wc -l < "$WORK/a2s.hex")
n_s=$(wc -l < "$WORK/s2x.hex")
say "captured $n_a relay frames a -> s and $n_s s -> peers"
check "relay frames were captured" test "$n_a" -ge 20 -a "$n_s" -ge 20
# Variants of each captured frame: as captured (a replay), the tag zeroed
# (no tag: what anyone who read the relay id off the wire can build), one
# tag bit flipped. The tag is bytes 20..35 of the frame.
variants() {
	python3 -c '
import sys
for line in open(sys.argv[1]):
    f = bytes.fromhex(line.strip())
    print(f.hex())
    print((f[:20] + bytes(16) + f[36:]).hex())
    print((f[:20] + bytes([f[20] ^ 1]) + f[21:]).hex())
' "$1"
}
# Five frames (15 datagrams) a round, 1000 rounds a second: an even
# stream of ~15000 frames/s, so that a bucket the forgeries could drain
# would stay empty (bursts with pauses would let a's frames through).
head -n 5 "$WORK/a2s.hex" > "$WORK/a2s5.hex"
variants "$WORK/a2s5.hex" > "$WORK/attack_a.hex"
variants "$WORK/s2x.hex" > "$WORK/attack_b.hex"
frame_len=$(head -1 "$WORK/a2s.hex" | awk '{ print length($0) / 2 }')

# A raw socket writes the forged source itself; m holds no such address,
# so ARP and routing on the switch stay as they were.
rate=1000
relay_b0=$(drops_of b relay_invalid)
replay_b0=$(drops_of b data_replay)
nsx m python3 "$PCAP" spoof 192.0.2.11 51820 192.0.2.10 3478 10 "$rate" "$WORK/attack_a.hex" \
	> "$WORK/spoof_a.out" 2>&1 &
SP=$!
sleep 0.2
nsq a ping -q -i 0.1 -c 95 -W 1 -s 1200 10.77.0.2 > "$WORK/ping_a.out" 2>&1 || true
wait "$SP" || true
sent_a=$(tail -1 "$WORK/spoof_a.out")
loss=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$WORK/ping_a.out")
relay_b1=$(drops_of b relay_invalid)
replay_b1=$(drops_of b data_replay)
say "m sent $sent_a forged frames of ~$frame_len bytes as a in 10 s" \
	"($(awk "BEGIN { printf \"%.1f\", $sent_a * $frame_len / 10 / 1e6 }") MB/s; a's budget is 10 MB/s)"
say "ping a -> b through the relay meanwhile: loss ${loss:-?}%"
say "b's drop_relay_invalid $relay_b0 -> $relay_b1, drop_data_replay $replay_b0 -> $replay_b1"
check "m's forgeries outran a's relay budget" \
	awk "BEGIN { exit !(${sent_a:-0} * $frame_len / 10 > 10e6) }"
check "ping loss <= 5% through the relay while a's address is forged" \
	awk "BEGIN { exit !(\"${loss:-100}\" + 0 <= 5) }"
check "nothing forged reached b" test "$relay_b1" = "$relay_b0" -a "$replay_b1" = "$replay_b0"

# The other way: the rendezvous's address forged towards b.
nsx m python3 "$PCAP" spoof 192.0.2.10 3478 192.0.2.12 51820 5 \
	$((3000 / $(wc -l < "$WORK/attack_b.hex") + 1)) "$WORK/attack_b.hex" \
	> "$WORK/spoof_b.out" 2>&1 &
SP=$!
sleep 0.2
nsq a ping -q -i 0.1 -c 45 -W 1 -s 1200 10.77.0.2 > "$WORK/ping_b.out" 2>&1 || true
wait "$SP" || true
sent_b=$(tail -1 "$WORK/spoof_b.out")
loss=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$WORK/ping_b.out")
relay_b2=$(drops_of b relay_invalid)
replay_b2=$(drops_of b data_replay)
say "m sent $sent_b forged frames as the rendezvous to b in 5 s; ping loss ${loss:-?}%"
say "b's drop_relay_invalid $relay_b1 -> $relay_b2, drop_data_replay $replay_b1 -> $replay_b2"
check "b dropped the forged frames as relay_invalid" \
	test $((relay_b2 - relay_b1)) -ge $((${sent_b:-1} * 9 / 10))
check "none reached b's data path" test "$replay_b2" = "$replay_b1"
check "ping loss <= 5% while the rendezvous's address is forged" \
	awk "BEGIN { exit !(\"${loss:-100}\" + 0 <= 5) }"
check "a still pings b" wait_ping a 10.77.0.2 5

lab_stop s
unset "PID[s]"
stats=$(grep "rendezvous: stopping:" "$WORK/s.log" | tail -1 || true)
say "rendezvous counters: ${stats#*stopping: }"
unauth=$(sed -n 's/.* \([0-9]*\) unauthenticated.*/\1/p' <<< "$stats" || true)
say "relay frames refused unauthenticated at s: ${unauth:-?} of $sent_a forged"
check "s refused the forged frames as unauthenticated" \
	test "${unauth:-0}" -ge $((${sent_a:-1} * 9 / 10))
finish
