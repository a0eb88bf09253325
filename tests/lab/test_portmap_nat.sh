#!/usr/bin/env bash
# Port mapping end to end: p2pvpnd behind a symmetric NAT whose box runs
# Debian's miniupnpd (natlab.sh --portmap; PCP and NAT-PMP on the LAN side)
# maps its listen_port, offers the mapped address as its first candidate,
# and the pair goes udp-direct where without the mapping it could not
# (symmetric-random against symmetric-random stays on the relay in
# test_nat.sh):
#
#   symmetric-random + miniupnpd / port-restricted                udp-direct
#   symmetric-random + miniupnpd / symmetric-random + miniupnpd   udp-direct
#
# and on exit the daemon deletes its mapping: miniupnpd's rule is gone.
#
# 100.128.77.0/24 (the miniupnpd boxes' WAN links, see natlab.sh) is not a
# documentation range; the test asserts it stays inside the lab: no
# namespace of the lab has a default route but the hosts' and NAT boxes'
# (into the lab), the WAN router has none, the lab's namespaces hold only
# their own links, and the host namespace has no address of that range.
# The time to the first ping is printed (a figure, not an assertion).
set -uo pipefail
[ "$(id -u)" = 0 ] || { echo "SKIP: lab tests need root"; exit 77; }
[ -x /usr/sbin/miniupnpd ] || { echo "SKIP: needs /usr/sbin/miniupnpd (miniupnpd-nftables)"; exit 77; }
cd "$(dirname "$0")"
export P2PVPN_BUILD=${P2PVPN_BUILD:-$PWD/../../build}
[ -x "$P2PVPN_BUILD/p2pvpn-rendezvous" ] || { echo "missing $P2PVPN_BUILD/p2pvpn-rendezvous"; exit 1; }
# shellcheck source=natpair.sh
. ./natpair.sh
export NL_PREFIX=tpm$$
trap 'natpair_down' EXIT
PASSED=0
FAILED=0

ok() { echo "ok: $*"; PASSED=$((PASSED + 1)); }
bad() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }

# The lab's 100.128.77.0/24 has no way out of the machine: every default
# route of the lab leads to the WAN router, which has none; the lab's
# namespaces hold only their own links; the host namespace has no address
# of the range.
check_contained() {
	local ns l
	if [ -n "$(ip -n "$NL_WAN" route show default)" ]; then
		echo "   the WAN router has a default route"
		return 1
	fi
	for ns in $(_nl_all_ns "$NL_PREFIX"); do
		[ -e "/run/netns/$ns" ] || continue
		[ -z "$(ip -n "$ns" -6 route show default)" ] || {
			echo "   $ns has an IPv6 default route"
			return 1
		}
		for l in $(ip -n "$ns" -o link show | awk -F': ' '{print $2}' | sed 's/@.*//'); do
			case $l in
			lo | eth0 | lan | wan | pa | pb | toa | tob | tos | p2p0) ;;
			*)
				echo "   $ns has the link $l"
				return 1
				;;
			esac
		done
	done
	if ip -4 addr show | grep -q 'inet 100\.128\.77\.'; then
		echo "   the host namespace has an address in 100.128.77.0/24"
		return 1
	fi
}

# show --json field of daemon $1 ("a" or "b"), interface object.
iface_field() {
	"$NP_BUILD/p2pvpnctl" show --json -s "$NP_WORK/$1.sock" 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["interface"].get(sys.argv[1]) or "")' "$2" 2>/dev/null
}

has_mapping() { [ -n "$(iface_field "$1" port_mapping_address)" ]; }

# case A B PORTMAP EXPECTED_PATH
case_() {
	local a=$1 b=$2 pm=$3 want=$4 ms path mapped side natns want_ip other
	echo "== $a / $b, miniupnpd on $pm (expect $want)"
	if ! natpair_up "$a" "$b" --portmap "$pm"; then
		bad "$a/$b: lab did not come up"
		natpair_down
		return
	fi
	if check_contained; then
		ok "100.128.77.0/24 stays inside the lab"
	else
		bad "the lab routes out"
		natpair_down
		return
	fi
	natpair_start
	ms=$(natpair_first_ping 20)
	path=$(natpair_path)
	echo "   first ping after ${ms} ms, path $path"
	for side in a b; do
		case $pm in both | "$side") ;; *) continue ;; esac
		lab_wait_for 5 has_mapping "$side"
		mapped=$(iface_field "$side" port_mapping_address)
		echo "   $side: port mapping $(iface_field "$side" port_mapping)"
		if [ "$side" = a ]; then want_ip=$NA_PUB other=b; else want_ip=$NB_PUB other=a; fi
		if [ "${mapped%:*}" = "$want_ip" ]; then
			ok "$side: mapped at $mapped by its NAT box"
		else
			bad "$side: port mapping address '$mapped' (expected $want_ip:PORT)"
		fi
		if "$NP_BUILD/p2pvpnctl" explain "$other" -s "$NP_WORK/$side.sock" 2>&1 |
			grep -q "mapped udp $mapped"; then
			ok "$side: explain offers the mapped candidate"
		else
			bad "$side: explain does not name the mapped candidate $mapped"
		fi
	done
	if [ "$ms" != none ] && [ "$path" = "$want" ]; then
		ok "$a/$b with miniupnpd on $pm: $path"
	else
		bad "$a/$b with miniupnpd on $pm: path '$path', first ping '$ms' (expected $want)"
		for f in "$NP_WORK"/*.log "$NL_STATEDIR"/*miniupnpd.log; do
			echo "---- $f"
			tail -n 25 "$f"
		done
	fi
	# The exit deletes the mapping: miniupnpd's DNAT of A's port goes.
	natns=$NL_NA
	if ip netns exec "$natns" nft list chain inet filter prerouting_miniupnpd 2>/dev/null |
		grep -q "dnat ip to $A_LAN:51820"; then
		lab_kill_pid "$NP_A_PID"
		if lab_wait_for 5 bash -c "! ip netns exec $natns nft list chain inet filter prerouting_miniupnpd | grep -q 'dnat ip to $A_LAN:51820'"; then
			ok "a's exit deleted its mapping at the NAT box"
		else
			bad "a's mapping is still in $natns after its exit"
			ip netns exec "$natns" nft list chain inet filter prerouting_miniupnpd
		fi
	elif [ "$pm" != b ]; then
		bad "no DNAT of $A_LAN:51820 in $natns while a ran"
	fi
	natpair_down
}

case_ symmetric-random port-restricted a udp-direct
case_ symmetric-random symmetric-random both udp-direct
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
