#!/usr/bin/env bash
# Three peers on one switch, full mesh, static endpoints:
#
#   a 192.0.2.11 ---+--- b 192.0.2.12 ---+--- c 192.0.2.13      (PREFIX-sw bridge)
#   p2p0 10.77.0.1      p2p0 10.77.0.2       p2p0 10.77.0.3
#        fd77::1             fd77::2              fd77::3
#
# Proves: IPv4 and IPv6 inside the tunnel; a 3-peer mesh; no plaintext on the
# wire; the data cipher agreed per pair (c offers ChaCha20-Poly1305 alone,
# P2PVPN_DATA_CIPHER; a and b take AES-256-GCM where the CPU has AES-NI);
# `p2pvpnctl show` (text and JSON) reflects the tunnels; SIGTERM removes the
# interface.
PREFIX=p2tun$$
source "$(dirname "$0")/peers.sh"

lab_switch
lab_host a 192.0.2.11
lab_host b 192.0.2.12
lab_host c 192.0.2.13
for n in a b c; do lab_keys $n; done
i=1
for n in a b c; do
	lab_conf $n "10.77.0.$i/24, fd77::$i/64"
	i=$((i + 1))
done
lab_peer a b "10.77.0.2/32, fd77::2/128" 192.0.2.12:51820
lab_peer a c "10.77.0.3/32, fd77::3/128" 192.0.2.13:51820
lab_peer b a "10.77.0.1/32, fd77::1/128" 192.0.2.11:51820
lab_peer b c "10.77.0.3/32, fd77::3/128"
lab_peer c a "10.77.0.1/32, fd77::1/128"
lab_peer c b "10.77.0.2/32, fd77::2/128" 192.0.2.12:51820
lab_start a
lab_start b
lab_start c env P2PVPN_DATA_CIPHER=chacha20-poly1305

# IPv4 and IPv6 through the tunnel, both directions.
check "a pings b over IPv4" wait_ping a 10.77.0.2 10
check "b pings a over IPv4" wait_ping b 10.77.0.1 5
check "a pings b over IPv6" wait_ping a fd77::2 5
check "b pings a over IPv6" wait_ping b fd77::1 5

# Full mesh: c has no endpoint for a (a has c's), b has c's only through c's config.
check "a pings c" wait_ping a 10.77.0.3 10
check "c pings b" wait_ping c 10.77.0.2 10
check "b pings c over IPv6" wait_ping b fd77::3 10

# No plaintext: a recognisable payload sent through the tunnel must not
# appear in a capture of the link.
pattern=c0ffee5eedc0ffee5eedc0ffee5eed00
nsq a tcpdump -i eth0 -U -w "$WORK/link.pcap" > /dev/null 2>&1 &
TCPDUMP=$!
sleep 1
nsx a ping -c 5 -i 0.2 -p "$pattern" 10.77.0.2 > /dev/null
nsx a ping -c 3 -i 0.2 -p "$pattern" 192.0.2.12 > /dev/null # control: plaintext outside the tunnel
sleep 0.5
kill $TCPDUMP; wait $TCPDUMP 2>/dev/null || true
count_pattern() { python3 -c "import sys; print(open(sys.argv[1],'rb').read().count(bytes.fromhex(sys.argv[2])))" "$@"; }
# The control pings put the pattern on the wire in the clear, which shows the
# search works; the tunnel's UDP packets must not contain it.
tcpdump -r "$WORK/link.pcap" -w "$WORK/udp.pcap" udp 2>/dev/null
tcpdump -r "$WORK/link.pcap" -w "$WORK/icmp.pcap" icmp 2>/dev/null
in_udp=$(count_pattern "$WORK/udp.pcap" "$pattern")
in_icmp=$(count_pattern "$WORK/icmp.pcap" "$pattern")
udp_pkts=$(tcpdump -r "$WORK/udp.pcap" 2>/dev/null | wc -l)
say "capture: $udp_pkts tunnel packets, pattern found $in_udp times in them, $in_icmp times in plain ICMP"
check "capture holds the tunnel's packets" test "$udp_pkts" -ge 10
check "the pattern is found in plaintext pings (search works)" test "$in_icmp" -gt 0
check "the pattern is absent from the tunnel's packets" test "$in_udp" = 0

# show: text and JSON.
show a
show b --json > "$WORK/b.json"
cat "$WORK/b.json"
check "show lists b's peer a as up" python3 -c "
import json,sys
j=json.load(open('$WORK/b.json'))
p={x['name']:x for x in j['peers']}
assert p['a']['state']=='up' and p['a']['path']=='udp-direct', p
assert p['a']['endpoint']=='192.0.2.11:51820', p
assert p['a']['rx_bytes']>0 and p['a']['tx_bytes']>0
"
if grep -qw aes /proc/cpuinfo; then want_ab=aes-256-gcm; else want_ab=chacha20-poly1305; fi
check "b and a send with $want_ab" python3 -c "
import json
p={x['name']:x for x in json.load(open('$WORK/b.json'))['peers']}
assert p['a']['cipher']=='$want_ab', p['a']
"
check "b and c (ChaCha20-Poly1305 only) fall back to it" python3 -c "
import json
p={x['name']:x for x in json.load(open('$WORK/b.json'))['peers']}
assert p['c']['cipher']=='chacha20-poly1305', p['c']
"

# SIGTERM: clean exit and the interface is gone.
lab_stop a TERM
check "interface removed after SIGTERM" bash -c "! ip netns exec $PREFIX-a ip link show p2p0 2>/dev/null"
finish
