#!/bin/bash
# natlab.sh: two hosts, A and B, behind emulated NATs, and a server S with two
# public addresses, all in network namespaces (DESIGN.md section 4). Both a CLI
# and a library:
#
#   natlab.sh up --a TYPE --b TYPE [--loss PCT] [--udp-timeout S]
#                [--hairpin on|off] [--portmap none|a|b|both] [--prefix P]
#   natlab.sh down [--prefix P]
#   natlab.sh flush a|b [--prefix P]     conntrack -F in that side's NAT box(es)
#   natlab.sh exec [--prefix P] HOST CMD...   run CMD in HOST's namespace
#   natlab.sh env [--prefix P]           print the lab's variables
#
#   . tests/lab/natlab.sh                functions natlab_up, natlab_down,
#   NL_PREFIX=nlx natlab_up --a ...      natlab_exec, natlab_ns, natlab_flush;
#                                        natlab_up exports the variables below
#
# Variables (also in $NL_STATEDIR/env, NL_STATEDIR = /tmp/natlab-$P):
#   NL_A NL_B NL_S NL_WAN NL_NA NL_NB NL_CA NL_CB   namespace names ("" if absent)
#   NL_A_TYPE NL_B_TYPE NL_HAIRPIN NL_LOSS NL_UDP_TIMEOUT NL_PREFIX
#   S_IP1=192.0.2.10 S_IP2=192.0.2.20              the server's two addresses
#   A_LAN B_LAN       the hosts' own addresses (10.0.1.2, 10.0.2.2; the public
#                     address for none; 10.0.1.3 for B in same)
#   NA_PUB NB_PUB     the public address in front of each host (203.0.113.2,
#                     198.51.100.2; NB_PUB = NA_PUB in same)
#   NA_WAN NB_WAN     the NAT box's own outer address (100.64.x.2 for cgnat)
#   WAN_S WAN_A WAN_B the WAN router's addresses on each link
#
# TYPE: none full-cone restricted-cone port-restricted symmetric-seq
# symmetric-random udp-blocked cgnat cgnat:HOME:CARRIER; for B also "same"
# (B on A's LAN, behind NA). HOST: a b s na nb ca cb wan.
#
# --portmap a|b|both runs Debian's miniupnpd (nftables build; PCP and
# NAT-PMP on the LAN address, port 5351) in that side's NAT box, which
# must be a plain one (not none, cgnat or same). miniupnpd 2.3.1 refuses
# to map while its WAN address is in a reserved range, and every
# documentation range is one, so such a box's WAN link is 100.128.77.0/25
# (A: router .1, NAT box .2) or 100.128.77.128/25 (B: .129, .130) instead:
# the only addresses of the lab outside the documentation ranges, on links
# between its own namespaces, none of which has a route out (the WAN
# router has no default route). NA_PUB/NB_PUB and NA_WAN/NB_WAN follow.
# miniupnpd's DNAT and SNAT rules live in its own "inet filter" table,
# whose NAT chains run just before the natlab table's, so a mapped port
# keeps its external port for what the host sends from it too.
#
# Topology (namespaces are $P + name, default P=nl: nlA, nlNA, nlWAN, ...):
#
#    A 10.0.1.2                                              B 10.0.2.2
#    | eth0                                                  | eth0
#    | 10.0.1.0/24                                           | 10.0.2.0/24
#    | pa, port of bridge "lan" 10.0.1.1                     | pb, bridge "lan" 10.0.2.1
#    NA  NAT box                                             NB  NAT box
#    | wan 203.0.113.2 (NA_PUB)                              | wan 198.51.100.2 (NB_PUB)
#    | 203.0.113.0/24                                        | 198.51.100.0/24
#    | toa 203.0.113.1                                       | tob 198.51.100.1
#    +---------------------------- WAN router ---------------+
#                                  | tos 192.0.2.1
#                                  | 192.0.2.0/24
#                                  | eth0
#                                  S 192.0.2.10 (S_IP1), 192.0.2.20 (S_IP2)
#
#  none:      A itself holds 203.0.113.2 on eth0, cabled to the WAN router;
#             there is no NA and no firewall (A's kernel answers with RST and
#             ICMP like any unprotected host).
#  cgnat:     A - NA (home NAT, wan 100.64.1.2) - 100.64.1.0/24 - CA (carrier
#             NAT, lan 100.64.1.1, wan 203.0.113.2) - WAN. B: 100.64.2.0/24, CB.
#  same:      B (10.0.1.3) is a second port (pb) of NA's bridge; there is no NB
#             and NB_PUB = NA_PUB. --hairpin on lets B reach A's public mapping.
#
# Every NAT box (nft table "ip natlab"): input policy drop (only lo,
# established/related and the LAN), forward policy drop (invalid dropped;
# established/related, the LAN and inbound flows a cone rule DNATed are let
# through), and a "track" chain at postrouting srcnat+10 that records each
# mapping in @emap = (proto, external port) -> (inside ip, inside port). The
# per-type rules are the recipes of shared/NAT-LAB-NOTES.md; see
# tests/lab/README.md for one line per type.

NL_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$NL_DIR/lib.sh"

NL_NAT_TYPES="full-cone restricted-cone port-restricted symmetric-seq symmetric-random udp-blocked"

_nl_err() {
	echo "natlab: $*" >&2
}

_nl_statedir() {
	echo "${NL_STATEROOT:-/tmp}/natlab-${1:-${NL_PREFIX:-nl}}"
}

# Every namespace a lab with prefix $1 can own; down deletes exactly these.
_nl_all_ns() {
	local p=$1 n
	for n in A B S NA NB CA CB WAN; do
		echo "$p$n"
	done
}

_nl_is_nat_type() {
	local t
	for t in $NL_NAT_TYPES; do
		[ "$1" = "$t" ] && return 0
	done
	return 1
}

# Accepts a side's TYPE; for cgnat, sets _nl_home/_nl_carrier.
_nl_check_type() {
	local side=$1 type=$2 rest
	case $type in
	none) return 0 ;;
	same)
		[ "$side" = b ] && return 0
		_nl_err "--a same: only B can share A's NAT"
		return 1
		;;
	cgnat) return 0 ;;
	cgnat:*:*)
		rest=${type#cgnat:}
		if _nl_is_nat_type "${rest%%:*}" && _nl_is_nat_type "${rest#*:}"; then
			return 0
		fi
		;;
	*) _nl_is_nat_type "$type" && return 0 ;;
	esac
	_nl_err "--$side: unknown type '$type' (expected none, $NL_NAT_TYPES, cgnat or cgnat:HOME:CARRIER; --b also same)"
	return 1
}

# nft ruleset of one NAT box: _nl_ruleset TYPE PUB LANNET HAIRPIN(on|off) TIMEOUT_S
_nl_ruleset() {
	local type=$1 pub=$2 lannet=$3 hairpin=$4 timeout=$5
	cat <<EOF
table ip natlab {
	map emap {
		type inet_proto . inet_service : ipv4_addr . inet_service
		flags dynamic, timeout
		timeout ${timeout}s
	}
EOF
	if [ "$type" = restricted-cone ]; then
		cat <<EOF
	set rset {
		type ipv4_addr . inet_proto . inet_service
		flags dynamic, timeout
		timeout ${timeout}s
	}
EOF
	fi
	if [ "$type" = symmetric-seq ]; then
		# numgen into a NAT port register steps by 256 (byte order); a
		# counter -> port map gives +1 steps.
		echo "	map seqport {"
		echo "		typeof numgen inc mod 2 : udp dport"
		printf '		elements = { '
		awk 'BEGIN { for (i = 0; i < 20000; i++) printf "%s%d : %d", (i ? ", " : ""), i, 20000 + i }'
		echo " }"
		echo "	}"
	fi
	cat <<EOF
	chain input {
		type filter hook input priority filter; policy drop;
		iifname "lo" accept
		ct state established,related accept
		iifname "lan" accept
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state invalid drop
EOF
	[ "$type" = udp-blocked ] && echo '		iifname "lan" oifname "wan" meta l4proto udp drop'
	cat <<EOF
		ct state established,related accept
		iifname "lan" accept
		ct status dnat accept
	}
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
EOF
	case $type in
	full-cone)
		echo "		iifname \"wan\" ip daddr $pub meta l4proto { tcp, udp } dnat ip to meta l4proto . th dport map @emap"
		;;
	restricted-cone)
		echo "		iifname \"wan\" ip daddr $pub meta l4proto { tcp, udp } ip saddr . meta l4proto . th dport @rset dnat ip to meta l4proto . th dport map @emap"
		;;
	esac
	[ "$hairpin" = on ] &&
		echo "		iifname \"lan\" ip daddr $pub meta l4proto { tcp, udp } dnat ip to meta l4proto . th dport map @emap"
	cat <<EOF
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
EOF
	# Hairpin: the LAN peer sees the sender's public mapping, not its LAN
	# address. Only flows from the LAN (postrouting has no iifname);
	# inbound cone flows keep their source.
	[ "$hairpin" = on ] &&
		echo "		oifname \"lan\" ct status dnat ip saddr $lannet snat ip to $pub"
	case $type in
	symmetric-seq)
		echo "		oifname \"wan\" meta l4proto { tcp, udp } snat ip to $pub : numgen inc mod 20000 map @seqport"
		echo "		oifname \"wan\" snat ip to $pub"
		;;
	symmetric-random)
		echo "		oifname \"wan\" masquerade fully-random"
		;;
	*)
		echo "		oifname \"wan\" snat ip to $pub"
		;;
	esac
	cat <<EOF
	}
	chain track {
		type filter hook postrouting priority srcnat + 10; policy accept;
		meta l4proto != { tcp, udp } accept
		meta l4proto { tcp, udp } ct direction original ct status snat update @emap { meta l4proto . ct reply proto-dst : ct original ip saddr . ct original proto-src }
		meta l4proto { tcp, udp } ct direction reply ct status dnat update @emap { meta l4proto . ct original proto-dst : ct reply ip saddr . ct reply proto-src }
EOF
	if [ "$type" = restricted-cone ]; then
		cat <<EOF
		meta l4proto { tcp, udp } oifname "wan" ct direction original ct status snat update @rset { ip daddr . meta l4proto . ct reply proto-dst }
		meta l4proto { tcp, udp } oifname "wan" ct direction reply ct status dnat update @rset { ip daddr . meta l4proto . ct original proto-dst }
EOF
	fi
	cat <<EOF
	}
}
EOF
}

# --- building blocks (run by "natlab.sh __build" under set -e) ---
# natlab_up passes them, in the environment: _nl_p (prefix), _nl_wan (the WAN
# router's namespace), _nl_sd (state directory), _nl_hairpin, _nl_timeout.
_nl_p=${_nl_p:-} _nl_wan=${_nl_wan:-} _nl_sd=${_nl_sd:-}

_nl_mkns() {
	lab_run root ip netns add "$1"
	lab_run "$1" ip link set dev lo up
	lab_run "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# A veth from NS1:IF1 to NS2:IF2, made in the root namespace under unique
# temporary names, then moved and renamed (two labs never clash on a name).
_nl_veth() {
	local ns1=$1 if1=$2 ns2=$3 if2=$4
	local t="nlt$$x$_nl_vethn" u="nlu$$x$_nl_vethn"
	_nl_vethn=$((_nl_vethn + 1))
	lab_run root ip link add "$t" type veth peer name "$u"
	lab_run root ip link set dev "$t" netns "$ns1"
	lab_run root ip link set dev "$u" netns "$ns2"
	lab_run "$ns1" ip link set dev "$t" name "$if1"
	lab_run "$ns2" ip link set dev "$u" name "$if2"
	lab_run "$ns1" ip link set dev "$if1" up
	lab_run "$ns2" ip link set dev "$if2" up
}

_nl_router() {
	lab_run "$1" sysctl -qw net.ipv4.ip_forward=1
}

# _nl_natbox NS TYPE PUB LANNET: load the NAT table and the timeouts.
_nl_natbox() {
	local ns=$1 type=$2 pub=$3 lannet=$4 f
	f="$_nl_sd/$ns.nft"
	_nl_ruleset "$type" "$pub" "$lannet" "$_nl_hairpin" "${_nl_timeout:-180}" >"$f"
	lab_run "$ns" nft -f "$f"
	if [ -n "$_nl_timeout" ]; then
		lab_run "$ns" sysctl -qw net.netfilter.nf_conntrack_udp_timeout="$_nl_timeout" \
			net.netfilter.nf_conntrack_udp_timeout_stream="$_nl_timeout"
	fi
}

# _nl_side a|b TYPE: the host, its NAT box(es) and the cable to the WAN.
_nl_side() {
	local s=$1 type=$2 S H N C idx pub wanif home carrier
	S=${s^^}
	H="$_nl_p$S" N="${_nl_p}N$S" C="${_nl_p}C$S"
	if [ "$s" = a ]; then
		idx=1 pub=203.0.113 wanif=toa
	else
		idx=2 pub=198.51.100 wanif=tob
	fi
	_nl_mkns "$H"
	if [ "$type" = none ]; then
		_nl_veth "$H" eth0 "$_nl_wan" "$wanif"
		lab_run "$_nl_wan" ip addr add "$pub.1/24" dev "$wanif"
		lab_run "$H" ip addr add "$pub.2/24" dev eth0
		lab_run "$H" ip route add default via "$pub.1"
		return 0
	fi
	_nl_mkns "$N"
	_nl_router "$N"
	lab_run "$N" ip link add lan type bridge
	lab_run "$N" ip addr add "10.0.$idx.1/24" dev lan
	lab_run "$N" ip link set dev lan up
	_nl_veth "$H" eth0 "$N" "p$s"
	lab_run "$N" ip link set dev "p$s" master lan
	lab_run "$H" ip addr add "10.0.$idx.2/24" dev eth0
	lab_run "$H" ip route add default via "10.0.$idx.1"
	if _nl_portmap_side "$s"; then
		_nl_portmap_box "$s" "$type" "$N" "$idx" "$wanif"
		return 0
	fi
	case $type in
	cgnat*)
		home=port-restricted carrier=port-restricted
		if [ "$type" != cgnat ]; then
			home=${type#cgnat:} carrier=${home#*:} home=${home%%:*}
		fi
		_nl_mkns "$C"
		_nl_router "$C"
		_nl_veth "$C" wan "$_nl_wan" "$wanif"
		lab_run "$_nl_wan" ip addr add "$pub.1/24" dev "$wanif"
		lab_run "$C" ip addr add "$pub.2/24" dev wan
		lab_run "$C" ip route add default via "$pub.1"
		_nl_veth "$N" wan "$C" lan
		lab_run "$C" ip addr add "100.64.$idx.1/24" dev lan
		lab_run "$N" ip addr add "100.64.$idx.2/24" dev wan
		lab_run "$N" ip route add default via "100.64.$idx.1"
		_nl_natbox "$N" "$home" "100.64.$idx.2" "10.0.$idx.0/24"
		_nl_natbox "$C" "$carrier" "$pub.2" "100.64.$idx.0/24"
		;;
	*)
		_nl_veth "$N" wan "$_nl_wan" "$wanif"
		lab_run "$_nl_wan" ip addr add "$pub.1/24" dev "$wanif"
		lab_run "$N" ip addr add "$pub.2/24" dev wan
		lab_run "$N" ip route add default via "$pub.1"
		_nl_natbox "$N" "$type" "$pub.2" "10.0.$idx.0/24"
		;;
	esac
}

# True when side $1 (a or b) runs miniupnpd (--portmap).
_nl_portmap_side() {
	case ${_nl_portmap:-none} in
	both) return 0 ;;
	"$1") return 0 ;;
	esac
	return 1
}

# The WAN link of side $1's NAT box with miniupnpd: "ROUTER_IP NAT_IP".
_nl_portmap_wan() {
	if [ "$1" = a ]; then echo "100.128.77.1 100.128.77.2"; else echo "100.128.77.129 100.128.77.130"; fi
}

# _nl_portmap_box SIDE TYPE NATBOX IDX WANIF: the WAN side of a plain NAT box
# (its LAN made by _nl_side) in 100.128.77.0/24, with miniupnpd (see the
# header).
_nl_portmap_box() {
	local s=$1 type=$2 N=$3 idx=$4 wanif=$5 rip nip f
	read -r rip nip < <(_nl_portmap_wan "$s")
	_nl_veth "$N" wan "$_nl_wan" "$wanif"
	lab_run "$_nl_wan" ip addr add "$rip/25" dev "$wanif"
	lab_run "$N" ip addr add "$nip/25" dev wan
	lab_run "$N" ip route add default via "$rip"
	_nl_natbox "$N" "$type" "$nip" "10.0.$idx.0/24"
	# The chains miniupnpd fills (Debian's nft_init.sh, which would make
	# them, is broken): its NAT chains one priority step before natlab's.
	f="$_nl_sd/$N-upnp.nft"
	cat >"$f" <<NFT
table inet filter {
	chain miniupnpd {
	}
	chain prerouting_miniupnpd {
	}
	chain postrouting_miniupnpd {
	}
	chain prerouting {
		type nat hook prerouting priority dstnat - 1; policy accept;
		jump prerouting_miniupnpd
	}
	chain postrouting {
		type nat hook postrouting priority srcnat - 1; policy accept;
		jump postrouting_miniupnpd
	}
}
NFT
	lab_run "$N" nft -f "$f"
	f="$_nl_sd/$N-miniupnpd.conf"
	cat >"$f" <<CONF
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
uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07$idx
allow 1024-65535 10.0.$idx.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
CONF
	# Runs until natlab_down kills what lives in the lab's namespaces.
	lab_log "$N" /usr/sbin/miniupnpd -d -f "$f"
	ip netns exec "$N" /usr/sbin/miniupnpd -d -f "$f" -P "$_nl_sd/$N-miniupnpd.pid" \
		>"$_nl_sd/$N-miniupnpd.log" 2>&1 </dev/null &
	lab_wait_for 5 bash -c "ip netns exec $N ss -Hlun | grep -q '10.0.$idx.1:5351'" || {
		_nl_err "miniupnpd in $N does not listen on 10.0.$idx.1:5351"
		cat "$_nl_sd/$N-miniupnpd.log" >&2
		return 1
	}
}

_nl_build() {
	local a=$1 b=$2 loss=$3
	_nl_vethn=0
	# The WAN router: three directly connected public subnets.
	_nl_mkns "$_nl_wan"
	_nl_router "$_nl_wan"
	_nl_mkns "$_nl_p"S
	_nl_veth "$_nl_p"S eth0 "$_nl_wan" tos
	lab_run "$_nl_wan" ip addr add 192.0.2.1/24 dev tos
	lab_run "$_nl_p"S ip addr add 192.0.2.10/24 dev eth0
	lab_run "$_nl_p"S ip addr add 192.0.2.20/24 dev eth0
	lab_run "$_nl_p"S ip route add default via 192.0.2.1
	if [ "${loss:-0}" -gt 0 ]; then
		printf 'table ip natlab {\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n\t\tnumgen random mod 100 < %d drop\n\t}\n}\n' \
			"$loss" >"$_nl_sd/wan.nft"
		lab_run "$_nl_wan" nft -f "$_nl_sd/wan.nft"
	fi
	_nl_side a "$a"
	if [ "$b" = same ]; then
		_nl_mkns "$_nl_p"B
		_nl_veth "$_nl_p"B eth0 "${_nl_p}NA" pb
		lab_run "${_nl_p}NA" ip link set dev pb master lan
		lab_run "$_nl_p"B ip addr add 10.0.1.3/24 dev eth0
		lab_run "$_nl_p"B ip route add default via 10.0.1.1
	else
		_nl_side b "$b"
	fi
}

# The variables a test or tool needs, written to $NL_STATEDIR/env.
_nl_write_env() {
	local p=$1 a=$2 b=$3 sd=$4 loss=$5
	local na="" nb="" ca="" cb="" alan=10.0.1.2 blan=10.0.2.2 nawan=203.0.113.2 nbwan=198.51.100.2 nbpub=198.51.100.2
	[ "$a" = none ] && alan=203.0.113.2 || na="${p}NA"
	case $b in
	none) blan=198.51.100.2 ;;
	same) blan=10.0.1.3 nb=$na nbpub=203.0.113.2 nbwan= ;;
	*) nb="${p}NB" ;;
	esac
	case $a in cgnat*) ca="${p}CA" nawan=100.64.1.2 ;; esac
	case $b in cgnat*) cb="${p}CB" nbwan=100.64.2.2 ;; esac
	[ "$b" = same ] && case $a in cgnat*) cb=$ca ;; esac
	[ "$b" = same ] && nbwan=$nawan
	local napub=203.0.113.2 rip
	if _nl_portmap_side a; then
		read -r rip napub < <(_nl_portmap_wan a)
		nawan=$napub
	fi
	if _nl_portmap_side b; then
		read -r rip nbpub < <(_nl_portmap_wan b)
		nbwan=$nbpub
	fi
	cat <<EOF
NL_PREFIX=$p
NL_STATEDIR=$sd
NL_A_TYPE=$a
NL_B_TYPE=$b
NL_HAIRPIN=$_nl_hairpin
NL_PORTMAP=${_nl_portmap:-none}
NL_LOSS=$loss
NL_UDP_TIMEOUT=$_nl_timeout
NL_A=${p}A
NL_B=${p}B
NL_S=${p}S
NL_WAN=${p}WAN
NL_NA=$na
NL_NB=$nb
NL_CA=$ca
NL_CB=$cb
S_IP1=192.0.2.10
S_IP2=192.0.2.20
A_LAN=$alan
B_LAN=$blan
NA_PUB=$napub
NB_PUB=$nbpub
NA_WAN=$nawan
NB_WAN=$nbwan
WAN_S=192.0.2.1
WAN_A=203.0.113.1
WAN_B=198.51.100.1
EOF
}

# natlab_up --a TYPE --b TYPE [--loss PCT] [--udp-timeout S] [--hairpin on|off]
#           [--prefix P]
# Builds the lab, writes $NL_STATEDIR/env and exports its variables. On
# failure everything built so far is removed and it returns 1.
natlab_up() {
	local a="" b="" loss=0 p=${NL_PREFIX:-nl} sd ns rc s t
	_nl_hairpin=off _nl_timeout="" _nl_portmap=none
	while [ $# -gt 0 ]; do
		case $1 in
		--a) a=$2 ;;
		--b) b=$2 ;;
		--loss) loss=$2 ;;
		--udp-timeout) _nl_timeout=$2 ;;
		--hairpin) _nl_hairpin=$2 ;;
		--portmap) _nl_portmap=$2 ;;
		--prefix) p=$2 ;;
		*)
			_nl_err "up: unknown option '$1'"
			return 1
			;;
		esac
		shift 2 || {
			_nl_err "up: $1 needs a value"
			return 1
		}
	done
	[ -n "$a" ] && [ -n "$b" ] || {
		_nl_err "up: --a TYPE and --b TYPE are required"
		return 1
	}
	_nl_check_type a "$a" && _nl_check_type b "$b" || return 1
	if [ "$b" = same ] && [ "$a" = none ]; then
		_nl_err "up: --b same needs a NAT on A's side, not none"
		return 1
	fi
	[[ "$loss" =~ ^[0-9]+$ ]] && [ "$loss" -le 100 ] || {
		_nl_err "up: --loss expects 0..100, got '$loss'"
		return 1
	}
	[ -z "$_nl_timeout" ] || [[ "$_nl_timeout" =~ ^[1-9][0-9]*$ ]] || {
		_nl_err "up: --udp-timeout expects seconds > 0, got '$_nl_timeout'"
		return 1
	}
	case $_nl_hairpin in on | off) ;; *)
		_nl_err "up: --hairpin expects on or off, got '$_nl_hairpin'"
		return 1
		;;
	esac
	case $_nl_portmap in none | a | b | both) ;; *)
		_nl_err "up: --portmap expects none, a, b or both, got '$_nl_portmap'"
		return 1
		;;
	esac
	for s in a b; do
		_nl_portmap_side "$s" || continue
		t=$a
		[ "$s" = b ] && t=$b
		case $t in none | same | cgnat*)
			_nl_err "up: --portmap $s needs a plain NAT box on that side, not $t"
			return 1
			;;
		esac
		[ -x /usr/sbin/miniupnpd ] || {
			_nl_err "up: --portmap needs /usr/sbin/miniupnpd (apt-get install miniupnpd-nftables)"
			return 1
		}
	done
	[[ "$p" =~ ^[A-Za-z][A-Za-z0-9_-]{0,15}$ ]] || {
		_nl_err "up: --prefix must be a letter then up to 15 of [A-Za-z0-9_-]"
		return 1
	}
	for ns in $(_nl_all_ns "$p"); do
		if [ -e "/run/netns/$ns" ]; then
			_nl_err "up: namespace $ns exists; run 'natlab.sh down --prefix $p' first"
			return 1
		fi
	done
	sd=$(_nl_statedir "$p")
	rm -rf "$sd"
	mkdir -p "$sd"
	# The build runs in a new bash with set -e, so any failing step stops it
	# even when the caller has errexit off or calls us from an && or ||
	# list (where bash ignores set -e in everything below).
	_nl_p=$p _nl_wan="${p}WAN" _nl_sd=$sd _nl_hairpin=$_nl_hairpin \
		_nl_timeout=$_nl_timeout _nl_portmap=$_nl_portmap \
		bash -e "$NL_DIR/natlab.sh" __build "$a" "$b" "$loss"
	rc=$?
	if [ "$rc" -ne 0 ]; then
		_nl_err "up: building the lab failed; removing it"
		natlab_down --prefix "$p"
		return 1
	fi
	_nl_write_env "$p" "$a" "$b" "$sd" "$loss" >"$sd/env.tmp"
	mv "$sd/env.tmp" "$sd/env"
	set -a
	# shellcheck disable=SC1091
	. "$sd/env"
	set +a
	return 0
}

# natlab_down [--prefix P]: kill the processes living in the lab's namespaces
# (and only those), delete the namespaces, temporary veths left behind by a
# dead natlab process, and the state directory.
natlab_down() {
	local p=${NL_PREFIX:-nl} ns pids link owner
	[ "${1:-}" = --prefix ] && p=$2
	for ns in $(_nl_all_ns "$p"); do
		[ -e "/run/netns/$ns" ] || continue
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		if [ -n "$pids" ]; then
			lab_log root kill $pids
			# shellcheck disable=SC2086
			lab_kill_pid $pids
		fi
		lab_run root ip netns del "$ns" || true
	done
	for link in $(ip -o link show 2>/dev/null | sed -n 's/^[0-9]*: \(nl[tu][0-9]*x[0-9]*\)[@:].*/\1/p'); do
		owner=${link#nl?}
		owner=${owner%x*}
		if ! kill -0 "$owner" 2>/dev/null; then
			lab_run root ip link del dev "$link" 2>/dev/null || true
		fi
	done
	rm -rf "$(_nl_statedir "$p")"
	return 0
}

# Loads the env of the lab with prefix $NL_PREFIX when not loaded yet.
_nl_load() {
	local sd
	sd=$(_nl_statedir "${NL_PREFIX:-nl}")
	if [ -z "${NL_S:-}" ] || [ "${NL_STATEDIR:-}" != "$sd" ]; then
		[ -r "$sd/env" ] || {
			_nl_err "no lab with prefix ${NL_PREFIX:-nl} is up"
			return 1
		}
		set -a
		# shellcheck disable=SC1091
		. "$sd/env"
		set +a
	fi
}

# natlab_ns HOST: the namespace of a, b, s, na, nb, ca, cb or wan.
natlab_ns() {
	local ns
	_nl_load || return 1
	case $1 in
	a) ns=$NL_A ;;
	b) ns=$NL_B ;;
	s) ns=$NL_S ;;
	na) ns=$NL_NA ;;
	nb) ns=$NL_NB ;;
	ca) ns=$NL_CA ;;
	cb) ns=$NL_CB ;;
	wan) ns=$NL_WAN ;;
	*)
		_nl_err "unknown host '$1' (a b s na nb ca cb wan)"
		return 1
		;;
	esac
	if [ -z "$ns" ]; then
		_nl_err "this lab has no '$1' (A: $NL_A_TYPE, B: $NL_B_TYPE)"
		return 1
	fi
	echo "$ns"
}

# natlab_exec HOST CMD...: run CMD in HOST's namespace, echoed as [ns] CMD.
natlab_exec() {
	local ns
	ns=$(natlab_ns "$1") || return 1
	shift
	lab_run "$ns" "$@"
}

# natlab_flush a|b: forget every conntrack entry in that side's NAT box(es),
# as a NAT that reboots or runs out of table space would.
natlab_flush() {
	local side=$1 h
	_nl_load || return 1
	case $side in
	a) set -- "$NL_NA" "$NL_CA" ;;
	b) set -- "$NL_NB" "$NL_CB" ;;
	*)
		_nl_err "flush: expected a or b, got '$side'"
		return 1
		;;
	esac
	if [ -z "$1$2" ]; then
		_nl_err "flush: $side has no NAT box (type none)"
		return 0
	fi
	for h in "$@"; do
		[ -n "$h" ] || continue
		lab_run "$h" conntrack -F
	done
	return 0
}

_nl_usage() {
	cat <<'EOF'
usage: natlab.sh up --a TYPE --b TYPE [--loss PCT] [--udp-timeout S] [--hairpin on|off] [--prefix P]
       natlab.sh down [--prefix P]
       natlab.sh flush a|b [--prefix P]
       natlab.sh exec [--prefix P] HOST CMD...
       natlab.sh env [--prefix P]
TYPE: none full-cone restricted-cone port-restricted symmetric-seq symmetric-random
      udp-blocked cgnat cgnat:HOME:CARRIER; --b also: same
HOST: a b s na nb ca cb wan
EOF
}

_nl_main() {
	local cmd=${1:-} args=()
	[ $# -gt 0 ] && shift
	case $cmd in
	-h | --help | help)
		_nl_usage
		return 0
		;;
	up | down | flush | exec | env) ;;
	__build)
		# Internal: the body of natlab_up, in its own process (see there).
		set -e
		_nl_build "$@"
		return 0
		;;
	*)
		[ -n "$cmd" ] && _nl_err "unknown command '$cmd'"
		_nl_usage >&2
		return 1
		;;
	esac
	lab_require_root
	# --prefix P: anywhere for down, flush and env; before HOST for exec.
	if [ "$cmd" = exec ]; then
		[ "${1:-}" = --prefix ] && NL_PREFIX=$2 && shift 2
		args=("$@")
	elif [ "$cmd" != up ]; then
		while [ $# -gt 0 ]; do
			if [ "$1" = --prefix ] && [ $# -ge 2 ]; then
				NL_PREFIX=$2
				shift 2
			else
				args+=("$1")
				shift
			fi
		done
	fi
	case $cmd in
	up)
		natlab_up "$@" || return 1
		cat "$NL_STATEDIR/env"
		;;
	down) natlab_down --prefix "${NL_PREFIX:-nl}" ;;
	flush) natlab_flush "${args[0]:-}" ;;
	exec) natlab_exec "${args[@]}" ;;
	env) _nl_load && cat "$NL_STATEDIR/env" ;;
	esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	_nl_main "$@"
	exit $?
fi
