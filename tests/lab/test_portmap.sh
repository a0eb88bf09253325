#!/usr/bin/env bash
# Port mapping against Debian's miniupnpd (nftables build) in a NAT box:
#
#   in 10.0.1.2 ---lan--- gw 10.0.1.1 | 100.128.77.1 ---wan--- out 100.128.77.2
#                         (masquerade, miniupnpd: PCP and NAT-PMP on 10.0.1.1:5351)
#
# Proves: tools/portmap-probe (the portmap engine over a real socket) gets a
# PCP mapping of UDP 51820 from miniupnpd; miniupnpd installed it in
# nftables; a datagram from the WAN side to the mapped external port
# reaches the inside socket through it; on stop the mapping is deleted
# (answered), the rule is gone and the port closed again. Then the same
# over NAT-PMP: the NAT box drops PCP requests (first payload octet 2) on
# its LAN side, so the engine gives PCP up after its three tries and falls
# back to NAT-PMP on the same port.
#
# 100.128.77.0/24 is not a documentation range: miniupnpd 2.3.1 refuses to
# map while its WAN address is in a reserved range, and the documentation
# ranges are reserved for it. It is allowed for this lab only, inside its
# namespaces: the test asserts that no namespace routes out of the machine
# (no default route anywhere, only the lab's own links) and that the host
# namespace holds no address of that range.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_cmds ip nft socat /usr/sbin/miniupnpd
BUILD=${P2PVPN_BUILD:-$(dirname "$0")/../../build}
PROBE=$BUILD/portmap-probe
[ -x "$PROBE" ] || { echo "missing $PROBE" >&2; exit 1; }

P=pm$$
IN=$P-in GW=$P-gw OUT=$P-out
WORK=$(mktemp -d /tmp/p2pvpn-portmap.XXXXXX)
PASSED=0
lab_trap_cleanup
lab_on_exit "rm -rf '$WORK'"

ok() { echo "ok: $*"; PASSED=$((PASSED + 1)); }
fail() {
	echo "FAIL: $*"
	for f in "$WORK"/*.log; do echo "---- $f"; tail -n 30 "$f"; done
	exit 1
}

# ---- topology: three namespaces, two veth links made under temporary
# names in the root namespace, moved, then renamed.
for ns in $IN $GW $OUT; do
	lab_run root ip netns add "$ns"
	lab_on_exit "ip netns del '$ns'"
	lab_run "$ns" ip link set lo up
done
link() { # NS_A NAME_A NS_B NAME_B
	local t=pmt$$$RANDOM
	lab_run root ip link add "$t" type veth peer name "${t}p"
	lab_run root ip link set "$t" netns "$1"
	lab_run root ip link set "${t}p" netns "$3"
	lab_run "$1" ip link set "$t" name "$2"
	lab_run "$3" ip link set "${t}p" name "$4"
	lab_run "$1" ip link set "$2" up
	lab_run "$3" ip link set "$4" up
}
link $IN eth0 $GW lan
link $GW wan $OUT eth0
lab_run $IN ip addr add 10.0.1.2/24 dev eth0
lab_run $IN ip route add default via 10.0.1.1
lab_run $GW ip addr add 10.0.1.1/24 dev lan
lab_run $GW ip addr add 100.128.77.1/24 dev wan
lab_run $OUT ip addr add 100.128.77.2/24 dev eth0
lab_run $GW sysctl -qw net.ipv4.ip_forward=1

# ---- 100.128.77.0/24 stays inside: the NAT box and the WAN host have no
# default route at all (the inside host's goes to the NAT box, inside the
# lab), no namespace of ours has a link other than lo and the lab's veths,
# and the host namespace has no address of the range.
for ns in $GW $OUT; do
	[ -z "$(ip -n "$ns" route show default)" ] || fail "$ns has a default route"
	[ -z "$(ip -n "$ns" -6 route show default)" ] || fail "$ns has an IPv6 default route"
done
[ "$(ip -n $IN route show default)" = "default via 10.0.1.1 dev eth0 " ] ||
	[ "$(ip -n $IN route show default)" = "default via 10.0.1.1 dev eth0" ] ||
	fail "$IN's default route is not the NAT box: $(ip -n $IN route show default)"
for ns in $IN $GW $OUT; do
	links=$(ip -n "$ns" -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | tr '\n' ' ')
	case $links in
	"eth0 lo " | "lan lo wan ") ;;
	*) fail "$ns has other links: $links" ;;
	esac
done
if ip -4 addr show | grep -q 'inet 100\.128\.77\.'; then
	fail "the host namespace has an address in 100.128.77.0/24"
fi
ok "the lab's 100.128.77.0/24 has no route out of the machine"

# ---- the NAT box: table inet filter with the chains miniupnpd expects
# (Debian's nft_init.sh is broken), a forward policy of drop that lets in
# only what miniupnpd opens, masquerade out of wan.
cat > "$WORK/gw.nft" <<'NFT'
table inet filter {
	chain miniupnpd {
	}
	chain prerouting_miniupnpd {
	}
	chain postrouting_miniupnpd {
	}
	chain input {
		type filter hook input priority 0; policy drop;
		iifname "lo" accept
		ct state established,related accept
		iifname "lan" accept
	}
	chain forward {
		type filter hook forward priority 0; policy drop;
		ct state invalid drop
		ct state established,related accept
		iifname "lan" accept
		jump miniupnpd
	}
	chain prerouting {
		type nat hook prerouting priority -100; policy accept;
		jump prerouting_miniupnpd
	}
	chain postrouting {
		type nat hook postrouting priority 100; policy accept;
		jump postrouting_miniupnpd
		oifname "wan" masquerade
	}
}
NFT
lab_run $GW nft -f "$WORK/gw.nft"
cat > "$WORK/miniupnpd.conf" <<CONF
ext_ifname=wan
listening_ip=lan
enable_natpmp=yes
enable_upnp=no
secure_mode=yes
system_uptime=no
min_lifetime=120
max_lifetime=7200
upnp_table_name=filter
upnp_nat_table_name=filter
upnp_forward_chain=miniupnpd
upnp_nat_chain=prerouting_miniupnpd
upnp_nat_postrouting_chain=postrouting_miniupnpd
uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b
allow 1024-65535 10.0.1.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
CONF
lab_bg $GW "$WORK/miniupnpd.log" /usr/sbin/miniupnpd -d -f "$WORK/miniupnpd.conf" -P "$WORK/miniupnpd.pid"
MUPNP=$LAB_BG_PID
lab_on_exit "lab_kill_pid $MUPNP"
lab_wait_for 5 bash -c "ip netns exec $GW ss -Hlun | grep -q '10.0.1.1:5351'" ||
	fail "miniupnpd does not listen on 10.0.1.1:5351"

# ---- one mapping of UDP 51820 through the engine, checked end to end.
# map_case WANT_PROTO TAG
map_case() {
	local want=$1 tag=$2 start proto ext ext_port pid late
	start=$(date +%s%N)
	lab_bg $IN "$WORK/probe-$tag.log" "$PROBE" 10.0.1.1 51820 60
	pid=$LAB_BG_PID
	lab_on_exit "lab_kill_pid $pid"
	lab_wait_for 10 grep -q '^mapped ' "$WORK/probe-$tag.log" || fail "$tag: no mapping"
	echo "   $tag: mapped in $((($(date +%s%N) - start) / 1000000)) ms (probe start included)"
	sed 's/^/   | /' "$WORK/probe-$tag.log"
	read -r _ proto ext < <(grep '^mapped ' "$WORK/probe-$tag.log")
	ext_port=${ext##*:}
	[ "$proto" = "$want" ] || fail "$tag: mapped over $proto, expected $want"
	[ "${ext%:*}" = 100.128.77.1 ] || fail "$tag: external address $ext, expected 100.128.77.1"
	grep -q "^state $want $ext, renews in " "$WORK/probe-$tag.log" || fail "$tag: no state line"
	ok "$tag: $want mapping from miniupnpd: $ext"

	# miniupnpd put the DNAT to 10.0.1.2:51820 in its chain.
	ip netns exec $GW nft list ruleset > "$WORK/ruleset-$tag-mapped.txt"
	grep -A20 'chain prerouting_miniupnpd' "$WORK/ruleset-$tag-mapped.txt" |
		grep -q "th dport $ext_port dnat ip to 10.0.1.2:51820" ||
		{ cat "$WORK/ruleset-$tag-mapped.txt"; fail "$tag: no DNAT rule for $ext_port"; }
	ok "$tag: nftables holds the DNAT of $ext_port to 10.0.1.2:51820"

	# A datagram from the WAN side to the mapped port reaches the inside socket.
	lab_run $OUT bash -c "echo hello-$tag-$$ | socat -u - UDP4-SENDTO:100.128.77.1:$ext_port,sourceport=5000"
	lab_wait_for 5 grep -q "^recv 100.128.77.2:5000 hello-$tag-$$" "$WORK/probe-$tag.log" ||
		fail "$tag: the datagram to $ext did not reach the inside socket"
	ok "$tag: a datagram from 100.128.77.2 to $ext reached 10.0.1.2:51820"

	# Stop: the mapping is deleted, answered, and the rule is gone.
	lab_log $IN "kill -TERM $pid"
	kill -TERM "$pid"
	lab_wait_for 5 grep -q '^deleted ' "$WORK/probe-$tag.log" || fail "$tag: no delete"
	grep -q '^deleted answered' "$WORK/probe-$tag.log" || fail "$tag: delete unanswered"
	wait "$pid" || fail "$tag: portmap-probe exited $?"
	ip netns exec $GW nft list ruleset > "$WORK/ruleset-$tag-deleted.txt"
	if grep -q "dport $ext_port " "$WORK/ruleset-$tag-deleted.txt"; then
		cat "$WORK/ruleset-$tag-deleted.txt"
		fail "$tag: the rule for $ext_port is still there after the delete"
	fi
	ok "$tag: deleted on stop: miniupnpd answered and removed the rule"

	# And a datagram to that port no longer gets in.
	lab_bg $IN "$WORK/late-$tag.log" socat -u UDP4-RECV:51820 -
	late=$LAB_BG_PID
	lab_on_exit "lab_kill_pid $late"
	sleep 0.3
	lab_run $OUT bash -c "echo late-$$ | socat -u - UDP4-SENDTO:100.128.77.1:$ext_port,sourceport=5000"
	sleep 1
	[ ! -s "$WORK/late-$tag.log" ] || fail "$tag: a datagram got in after the delete"
	lab_kill_pid "$late"
	ok "$tag: after the delete the port is closed again"
}

map_case pcp pcp

# ---- NAT-PMP: the NAT box drops PCP (version 2) requests from the LAN.
lab_run $GW nft insert rule inet filter input iifname lan udp dport 5351 @th,64,8 2 drop
map_case nat-pmp natpmp

echo "PASS: $PASSED checks"
