#!/bin/bash
# test_natcheck_portmap.sh: p2pvpnctl natcheck says whether the default
# gateway speaks a port-mapping protocol, and maps nothing while asking.
#
#    A 10.0.1.2 -- NA (port-restricted, miniupnpd: PCP and NAT-PMP on 10.0.1.1:5351) --+
#                                                                                      WAN -- S (stund)
#    B 10.0.2.2 -- NB (port-restricted, no port mapping: nothing on 10.0.2.1:5351) ----+
#
# natlab.sh up --portmap a (see its header: NA's WAN link is then
# 100.128.77.0/25, inside the lab). Proves, from A: natcheck reports pcp
# (with NAT-PMP's external address, NA's WAN address) in text and in JSON
# that python3's json module parses; with PCP (version 2) dropped on NA's
# LAN side, as test_portmap.sh does, it reports nat-pmp; without a default
# route (S reached by a route of its own) "no IPv4 default gateway" and no
# datagram to 5351 at all. From B: "none answered (gateway 10.0.2.1)".
# After every run miniupnpd holds no mapping (no dnat rule in NA's
# prerouting_miniupnpd chain), and a counter in A and B sees no UDP to
# anything but S, the host's own public address and its gateway's port
# 5351. Exits 1 on any failure, 77 without root or tools.

set -e
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=${P2PVPN_SRC:-$(cd "$HERE/../.." && pwd)}
BUILD=${P2PVPN_BUILD:-$SRC/build}
# shellcheck source=natlab.sh
. "$HERE/natlab.sh"

lab_require_root
lab_require_cmds ip nft stund python3 /usr/sbin/miniupnpd
CTL=$BUILD/p2pvpnctl
if [ ! -x "$CTL" ]; then
	echo "SKIP: ${0##*/}: no $CTL (build first, or set P2PVPN_BUILD)" >&2
	exit 77
fi

NL_PREFIX=${NL_PREFIX:-nlp$$}
export NL_PREFIX
WORK=$(mktemp -d /tmp/test_natcheck_portmap.XXXXXX)
STUND_PID=
lab_trap_cleanup
lab_on_exit 'rm -rf "$WORK"'
lab_on_exit 'natlab_down --prefix "$NL_PREFIX" >/dev/null 2>&1'
lab_on_exit '[ -z "$STUND_PID" ] || { lab_kill_pid "$STUND_PID"; wait "$STUND_PID" 2>/dev/null; }'

PASS=0
FAIL=0
TIMEOUT_S=3

ok() {
	PASS=$((PASS + 1))
	echo "  ok    $*"
}

bad() {
	FAIL=$((FAIL + 1))
	echo "  FAIL  $*"
}

# check WHAT WANT GOT
check() {
	if [ "$2" = "$3" ]; then
		ok "$1: $3"
	else
		bad "$1: expected '$2', got '$3'"
	fi
}

# check_re WHAT REGEX GOT
check_re() {
	if [[ $3 =~ $2 ]]; then
		ok "$1: $3"
	else
		bad "$1: expected /$2/, got '$3'"
	fi
}

natlab_up --a port-restricted --b port-restricted --portmap a >"$WORK/up.log" 2>&1 || {
	cat "$WORK/up.log"
	echo "FAIL: natlab up"
	exit 1
}
lab_bg "$NL_S" "$WORK/stund.log" stund -h "$S_IP1" -a "$S_IP2"
STUND_PID=$LAB_BG_PID
lab_wait_for 10 bash -c "ip netns exec $NL_S ss -Huln | grep -q ' $S_IP1:3478 '" || {
	echo "FAIL: stund does not listen in S"
	exit 1
}

# watch HOST PUB GW: counts the UDP HOST sends anywhere but S, PUB and
# GW:5351 (stray), and to GW:5351 (asked).
watch() {
	natlab_exec "$1" nft -f - <<EOF
table ip nc_watch {
	chain out {
		type filter hook output priority 0;
		ip daddr . udp dport { $3 . 5351 } counter comment "asked"
		ip daddr != { $S_IP1, $S_IP2, $2 } ip daddr . udp dport != { $3 . 5351 } counter comment "stray"
	}
}
EOF
}

# counter HOST asked|stray
counter() {
	natlab_exec "$1" nft list chain ip nc_watch out |
		sed -n "s/.*counter packets \([0-9]*\) .*comment \"$2\".*/\1/p"
}

watch a "$NA_PUB" 10.0.1.1
watch b "$NB_PUB" 10.0.2.1

# nc HOST [ARGS]: natcheck in HOST, text into NC_TEXT, then --json into
# NC_JSON; NC_RC the exit status of the JSON run, NC_MS its wall time.
nc() {
	local host=$1 t0 t1
	shift
	NC_TEXT=$(natlab_exec "$host" "$CTL" natcheck --server "$S_IP1:3478" "$@" 2>&1) || true
	grep '^port mapping:' <<<"$NC_TEXT" | sed 's/^/  text: /'
	NC_RC=0
	t0=$(date +%s%N)
	natlab_exec "$host" "$CTL" natcheck --server "$S_IP1:3478" --json "$@" >"$WORK/nc.json" \
		2>"$WORK/nc.err" || NC_RC=$?
	t1=$(date +%s%N)
	NC_MS=$(((t1 - t0) / 1000000))
	NC_JSON=$(cat "$WORK/nc.json")
}

# pm EXPR: a Python expression over the parsed "port_mapping" object p,
# printed (json.dumps for lists and objects); "(no JSON)" when it does not parse.
pm() {
	python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))["port_mapping"]
v = eval(sys.argv[2])
print(v if isinstance(v, str) else json.dumps(v))
' "$WORK/nc.json" "$1" 2>/dev/null || echo "(no JSON)"
}

no_mapping() {
	local chain
	chain=$(natlab_exec na nft list chain inet filter prerouting_miniupnpd)
	if grep -q dnat <<<"$chain"; then
		bad "$1: miniupnpd holds a mapping: $(grep dnat <<<"$chain" | tr -s ' \t' ' ')"
	else
		ok "$1: miniupnpd holds no mapping (no dnat in prerouting_miniupnpd)"
	fi
}

common() {
	check "$1: exit status" 0 "$NC_RC"
	check "$1: the STUN part still works (mapped IP)" "$2" \
		"$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mapped_address"].split(":")[0])' "$WORK/nc.json" 2>/dev/null)"
	if [ "$NC_MS" -le $((TIMEOUT_S * 1000 + 500)) ]; then
		ok "$1: done in $NC_MS ms (timeout $TIMEOUT_S s)"
	else
		bad "$1: took $NC_MS ms (timeout $TIMEOUT_S s)"
	fi
}

echo "=== A behind NA with miniupnpd (PCP and NAT-PMP)"
nc a
check_re "A text" "^port mapping: pcp \(gateway 10\.0\.1\.1, epoch [0-9]+ s\), nat-pmp too \(external address ${NA_PUB//./\\.}\)$" \
	"$(grep '^port mapping:' <<<"$NC_TEXT")"
common "A" "$NA_PUB"
check "A JSON protocol/gateway/external_address/note" "pcp 10.0.1.1 $NA_PUB None" \
	"$(pm '"%s %s %s %s" % (p["protocol"], p["gateway"], p["external_address"], p["note"])')"
check "A JSON answers" '["pcp SUCCESS", "nat-pmp SUCCESS"]' \
	"$(pm '["%s %s" % (a["protocol"], a["result"]) for a in p["answers"]]')"
check "A JSON ignored" 0 "$(pm 'p["ignored"]')"
no_mapping "A, pcp"

echo "=== A, with PCP (version 2) dropped on NA's LAN side"
natlab_exec na nft insert rule ip natlab input iifname lan udp dport 5351 @th,64,8 2 counter drop
nc a
check "A text" "port mapping: nat-pmp (gateway 10.0.1.1, external address $NA_PUB)" \
	"$(grep '^port mapping:' <<<"$NC_TEXT")"
common "A, PCP dropped" "$NA_PUB"
check "A JSON protocol/gateway/external_address" "nat-pmp 10.0.1.1 $NA_PUB" \
	"$(pm '"%s %s %s" % (p["protocol"], p["gateway"], p["external_address"])')"
check "A JSON answers" '["nat-pmp SUCCESS"]' \
	"$(pm '["%s %s" % (a["protocol"], a["result"]) for a in p["answers"]]')"
# Two runs (text and JSON), three PCP requests each.
check "PCP requests dropped in NA (3 per run)" 6 \
	"$(natlab_exec na nft list chain ip natlab input | sed -n 's/.*@th,64,8 0x2 counter packets \([0-9]*\) .*/\1/p')"
no_mapping "A, nat-pmp"

echo "=== A without a default route (S reached by a route of its own)"
asked=$(counter a asked)
natlab_exec a ip route add 192.0.2.0/24 via 10.0.1.1
natlab_exec a ip route del default
nc a
check "A text" "port mapping: no IPv4 default gateway" "$(grep '^port mapping:' <<<"$NC_TEXT")"
common "A, no default route" "$NA_PUB"
check "A JSON protocol/gateway/note/answers" "None None no IPv4 default gateway []" \
	"$(pm '"%s %s %s %s" % (p["protocol"], p["gateway"], p["note"], json.dumps(p["answers"]))')"
check "A sent nothing to 10.0.1.1:5351 without a default route" "$asked" "$(counter a asked)"
natlab_exec a ip route add default via 10.0.1.1
natlab_exec a ip route del 192.0.2.0/24 via 10.0.1.1
no_mapping "A, no gateway"

echo "=== B behind NB without port mapping"
nc b
check "B text" "port mapping: none answered (gateway 10.0.2.1)" "$(grep '^port mapping:' <<<"$NC_TEXT")"
common "B" "$NB_PUB"
check "B JSON protocol/gateway/external_address/answers" "None 10.0.2.1 None []" \
	"$(pm '"%s %s %s %s" % (p["protocol"], p["gateway"], p["external_address"], json.dumps(p["answers"]))')"
# Two runs, each: PCP and NAT-PMP at 0, 250 and 750 ms.
check "B asked 10.0.2.1:5351 three times per protocol and run" 12 "$(counter b asked)"

echo "=== where natcheck sent"
check_re "A asked its gateway" '^[1-9][0-9]*$' "$(counter a asked)"
check "A sent nothing but to S, its public address and 10.0.1.1:5351" 0 "$(counter a stray)"
check "B sent nothing but to S, its public address and 10.0.2.1:5351" 0 "$(counter b stray)"

echo
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
