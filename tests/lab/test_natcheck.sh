#!/bin/bash
# test_natcheck.sh: p2pvpnctl natcheck against real STUN servers, and real
# STUN clients against p2pvpn-rendezvous, from behind every NAT type of the
# lab; then natcheck against servers that misbehave.
#
#    A ---- NA (TYPE) ---- WAN ---- S  192.0.2.10 (S_IP1), 192.0.2.20 (S_IP2)
#    (B = none, unused)
#
#  stage 1, S runs   stund -h .10 -a .20                     3478/3479 (RFC 3489)
#                    turnserver --stun-only -L .10 -L .20     3480/3481 (RFC 5780)
#           A runs   p2pvpnctl natcheck --server 192.0.2.10:3478 --json
#                    p2pvpnctl natcheck --server 192.0.2.10:3480 --json
#  stage 2, S runs   p2pvpn-rendezvous (listen .10:3478, alternate_address .20)
#           A runs   stun 192.0.2.10; turnutils_natdiscovery -m -f -P -p 3478 192.0.2.10;
#                    p2pvpnctl natcheck --server 192.0.2.10:3478 --json
#           with no NAT and port-restricted, stage 2 again with listen 0.0.0.0:3478
#           (same alternate): the same natcheck result, stun and natdiscovery verdicts
#  stage 3 (in the port-restricted lab), S runs a fake STUN server on .10:3490 that
#           stays silent, answers garbage, answers with a wrong transaction
#           ID, names no alternate, or names one that never answers.
#
#  stage 4, a pair (natpair.sh, port-restricted on both sides) registers and
#           is introduced through a rendezvous on 0.0.0.0:3478 (alternate .20):
#           first ping, path udp-direct, the rendezvous counts the introduction.
#
# Stages 2 and 4 are skipped, with a message, while $P2PVPN_BUILD has no
# p2pvpn-rendezvous. Expected results: the configured type (tests/lab/README.md,
# NAT-LAB-NOTES.md). Ends with a table NAT type x (tool -> server) and
# "N passed, N failed"; exits 1 on any failure, 77 without root or tools.
# Nothing is sent outside the namespaces this script makes; a counter in A
# checks that natcheck sends only to S, to A's own public address and to
# its default gateway's port 5351.

set -e
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=${P2PVPN_SRC:-$(cd "$HERE/../.." && pwd)}
BUILD=${P2PVPN_BUILD:-$SRC/build}
# shellcheck source=natlab.sh
. "$HERE/natlab.sh"
# shellcheck source=natpair.sh
. "$HERE/natpair.sh"

lab_require_root
lab_require_cmds ip nft jq stun stund turnserver turnutils_natdiscovery timeout python3
CTL=$BUILD/p2pvpnctl
RDV=$BUILD/p2pvpn-rendezvous
if [ ! -x "$CTL" ]; then
	echo "SKIP: ${0##*/}: no $CTL (build first, or set P2PVPN_BUILD)" >&2
	exit 77
fi

NL_PREFIX=${NL_PREFIX:-nlc$$}
export NL_PREFIX
WORK=$(mktemp -d /tmp/test_natcheck.XXXXXX)
lab_trap_cleanup
lab_on_exit 'rm -rf "$WORK"'
lab_on_exit 'natlab_down --prefix "$NL_PREFIX" >/dev/null 2>&1'
lab_on_exit 'stop_servers'
lab_on_exit 'lab_kill_pid "${NP_PIDS[@]}"; [ -z "${NP_WORK:-}" ] || rm -rf "$NP_WORK"'

PASS=0
FAIL=0
CASE_FAILED=0
ROWS=()
TIMEOUT_S=3

ok() {
	PASS=$((PASS + 1))
	echo "  ok    $*"
}

bad() {
	FAIL=$((FAIL + 1))
	CASE_FAILED=1
	echo "  FAIL  $*"
}

# verify WHAT CMD...: ok when CMD succeeds.
verify() {
	local what=$1
	shift
	if "$@"; then
		ok "$what"
	else
		bad "$what"
	fi
}

# check WHAT WANT GOT
check() {
	if [ "$2" = "$3" ]; then
		ok "$1: $3"
	else
		bad "$1: expected '$2', got '$3'"
	fi
}

# --- servers in S, started and stopped by PID ---

SERVER_PIDS=()

udp_listening() {
	local out a
	out=$(ip netns exec "$NL_S" ss -Huln)
	for a in "$@"; do
		grep -q " $a " <<<"$out" || return 1
	done
}

start_third_party() {
	lab_bg "$NL_S" "$WORK/stund.log" stund -h "$S_IP1" -a "$S_IP2"
	SERVER_PIDS+=("$LAB_BG_PID")
	# -c /dev/null: Debian's config disables RFC 5780 (pitfall 8).
	lab_bg "$NL_S" "$WORK/turnserver.log" turnserver -c /dev/null -L "$S_IP1" -L "$S_IP2" \
		-p 3480 --alt-listening-port 3481 --stun-only --no-cli --no-tls --no-dtls \
		--pidfile "$WORK/turnserver.pid" --log-file stdout --simple-log
	SERVER_PIDS+=("$LAB_BG_PID")
	lab_wait_for 10 udp_listening "$S_IP1:3478" "$S_IP1:3479" "$S_IP2:3478" "$S_IP2:3479" \
		"$S_IP1:3480" "$S_IP1:3481" "$S_IP2:3480" "$S_IP2:3481"
}

# start_rendezvous [LISTEN_IP]: $S_IP1 by default, or a wildcard (0.0.0.0).
start_rendezvous() {
	local ip=${1:-$S_IP1}
	umask 077
	"$CTL" genkey >"$WORK/rdv.key"
	umask 022
	cat >"$WORK/rdv.conf" <<EOF
[rendezvous]
listen = $ip:3478
alternate_address = $S_IP2
private_key_file = $WORK/rdv.key
relay = yes
open = yes
EOF
	lab_bg "$NL_S" "$WORK/rdv.log" "$RDV" -f -c "$WORK/rdv.conf"
	SERVER_PIDS+=("$LAB_BG_PID")
	if [ "$ip" = 0.0.0.0 ]; then
		# The wildcard sockets carry the alternate's requests too.
		lab_wait_for 10 udp_listening "0.0.0.0:3478" "0.0.0.0:3479"
	else
		lab_wait_for 10 udp_listening "$S_IP1:3478" "$S_IP1:3479" "$S_IP2:3478" "$S_IP2:3479"
	fi
}

stop_servers() {
	local pid
	for pid in "${SERVER_PIDS[@]}"; do
		lab_kill_pid "$pid"
		wait "$pid" 2>/dev/null || true
	done
	SERVER_PIDS=()
}

# --- natcheck ---

# Counts UDP that A sends anywhere but S, its own public address and the
# port-mapping port 5351 of its default gateway (natcheck's PCP/NAT-PMP
# question; tests/lab/test_natcheck_portmap.sh checks its answers).
watch_a() {
	local gw
	gw=$(natlab_exec a ip -4 route show default | awk '{ print $3; exit }')
	natlab_exec a nft -f - <<EOF
table ip natcheck_watch {
	chain out {
		type filter hook output priority 0;
		ip daddr != { $S_IP1, $S_IP2, $NA_PUB } ip daddr . udp dport != { $gw . 5351 } counter
	}
}
EOF
}

stray_packets() {
	natlab_exec a nft list chain ip natcheck_watch out | sed -n 's/.*counter packets \([0-9]*\).*/\1/p'
}

# natcheck SERVER [ARGS...]: runs it in A with --json; sets NC_JSON, NC_ERR,
# NC_RC and NC_MS (wall time).
natcheck() {
	local server=$1 t0 t1
	shift
	t0=$(date +%s%N)
	NC_RC=0
	# Echoed here, so that stderr holds only what natcheck says.
	lab_log "$NL_A" "$CTL" natcheck --server "$server" --json "$@"
	ip netns exec "$NL_A" "$CTL" natcheck --server "$server" --json "$@" >"$WORK/nc.json" \
		2>"$WORK/nc.err" || NC_RC=$?
	t1=$(date +%s%N)
	NC_MS=$(((t1 - t0) / 1000000))
	NC_JSON=$(cat "$WORK/nc.json")
	NC_ERR=$(cat "$WORK/nc.err")
	echo "$NC_JSON" | jq -c '{rfc3489_type, mapping, filtering, mapped_address, port_step, hairpin, not_learned}' 2>/dev/null || true
	[ -z "$NC_ERR" ] || echo "  stderr: $NC_ERR"
}

jget() {
	jq -r "$@" <<<"$NC_JSON" 2>/dev/null || echo "(no JSON)"
}

abbrev() {
	sed 's/address-and-port-dependent/APD/; s/address-dependent/AD/; s/endpoint-independent/EI/' <<<"$1"
}

# The table cell for the last natcheck run.
nc_cell() {
	local c
	c="$(jget .rfc3489_type) $(abbrev "$(jget .mapping)")M/$(abbrev "$(jget .filtering)")F"
	[ "$(jget .port_step)" = null ] || c+=", step $(jget .port_step)"
	c+=", hairpin $(jget .hairpin)"
	[ "$NC_RC" = 0 ] || c="$(jget .rfc3489_type), exit $NC_RC"
	echo "$c"
}

# check_natcheck WHAT TYPE MAPPING FILTERING STEP PRESERVING HAIRPIN
#   for udp-blocked TYPE is udp-blocked and the rest is ignored.
check_natcheck() {
	local what=$1 type=$2 map=$3 filt=$4 step=$5 pres=$6 hair=$7
	if [ "$type" = udp-blocked ]; then
		check "$what: exit status (nothing learned)" 1 "$NC_RC"
		check "$what: rfc3489_type" udp-blocked "$(jget .rfc3489_type)"
		check "$what: mapped_address" null "$(jget .mapped_address)"
		check "$what: message" \
			"p2pvpnctl: natcheck: no answer from $S_IP1:${what##*:} within $TIMEOUT_S s: UDP blocked or server down" \
			"$NC_ERR"
	else
		check "$what: exit status" 0 "$NC_RC"
		check "$what: rfc3489_type" "$type" "$(jget .rfc3489_type)"
		check "$what: mapping/filtering" "$map/$filt" "$(jget .mapping)/$(jget .filtering)"
		check "$what: port_step" "$step" "$(jget .port_step)"
		check "$what: port_preserving" "$pres" "$(jget .port_preserving)"
		check "$what: hairpin (pitfall 7: no self-hairpin through a NAT)" "$hair" "$(jget .hairpin)"
		check "$what: mapped IP" "$NA_PUB" "$(jget .mapped_address | cut -d: -f1)"
		check "$what: nothing left unlearned" "[]" "$(jget -c .not_learned)"
	fi
	# Never a hang past the timeout (plus process start-up).
	verify "$what: done in $NC_MS ms (timeout $TIMEOUT_S s)" [ "$NC_MS" -le $((TIMEOUT_S * 1000 + 500)) ]
}

# --- third-party clients against p2pvpn-rendezvous ---

run_clients() {
	local out nd
	out=$(natlab_exec a timeout 20 stun "$S_IP1" 2>&1) || true
	STUN_VERDICT=$(sed -n 's/^Primary: //p' <<<"$out" | sed 's/[[:space:]]*$//')
	echo "  stun: ${STUN_VERDICT:-(none)}"
	# -P (RFC 5780 PADDING): natdiscovery's requests are otherwise bare 20
	# bytes, too small for the mapped address and OTHER-ADDRESS within the
	# rendezvous's 2x amplification limit.
	nd=$(natlab_exec a timeout 40 turnutils_natdiscovery -m -f -P -p 3478 "$S_IP1" 2>&1) || true
	ND_MAP=$(sed -n 's/^NAT with \(.*\) Mapping!$/\1/p' <<<"$nd" | head -n 1)
	ND_FILT=$(sed -n 's/^NAT with \(.*\) Filtering!$/\1/p' <<<"$nd" | head -n 1)
	ND_TIMEOUT=$(grep -c 'STUN receive timeout' <<<"$nd" || true)
	echo "  natdiscovery: ${ND_MAP:-none} / ${ND_FILT:-none} (timeouts: $ND_TIMEOUT)"
}

# --- p2pvpn-rendezvous ---

# What a rendezvous on a wildcard must report as one on $S_IP1 does (the
# mapped port aside: each natcheck run has its own socket).
same_fields() {
	jq -c '[.rfc3489_type, .mapping, .filtering, .port_step, .port_preserving, .hairpin,
		.other_address, .not_learned, (.mapped_address | split(":")[0])]'
}

# run_rendezvous LISTEN_IP TYPE NC_TYPE ... (run_type's arguments): stun,
# natdiscovery and natcheck against a rendezvous listening on LISTEN_IP.
run_rendezvous() {
	local ip=$1 type=$2 nt=$3 map=$4 filt=$5 step=$6 pres=$7 hair=$8 stun_want=$9
	local nd_map=${10} nd_filt=${11} on=""
	[ "$ip" = "$S_IP1" ] || on=" on $ip"
	if start_rendezvous "$ip"; then
		ok "p2pvpn-rendezvous$on listens on both addresses and ports"
	else
		bad "p2pvpn-rendezvous$on not listening: $(tail -n 3 "$WORK/rdv.log")"
	fi
	run_clients
	check "stun -> rendezvous$on" "$stun_want" "$(cut -c1-${#stun_want} <<<"$STUN_VERDICT")"
	if [ "$nd_map" = - ]; then
		check "natdiscovery -> rendezvous$on: no verdict" "none/none" "${ND_MAP:-none}/${ND_FILT:-none}"
		verify "natdiscovery timed out (${ND_TIMEOUT:-0} timeouts)" [ "${ND_TIMEOUT:-0}" -gt 0 ]
	else
		check "natdiscovery -> rendezvous$on" "$nd_map/$nd_filt" "$ND_MAP/$ND_FILT"
	fi
	natcheck "$S_IP1:3478"
	check_natcheck "natcheck -> rendezvous$on $S_IP1:3478" "$nt" "$map" "$filt" "$step" "$pres" "$hair"
	stop_servers
}

# --- one NAT type ---

# run_type TYPE NC_TYPE MAPPING FILTERING STEP PRESERVING HAIRPIN STUN_WANT ND_MAP ND_FILT
run_type() {
	local type=$1 nt=$2 map=$3 filt=$4 step=$5 pres=$6 hair=$7 stun_want=$8
	local nd_map=$9 nd_filt=${10} c_stund c_coturn c_rdv="skipped" c_stun="skipped" c_nd="skipped"
	local c_wild="-"
	CASE_FAILED=0
	echo
	echo "=== $type"
	if ! natlab_up --a "$type" --b none >"$WORK/up.log" 2>&1; then
		cat "$WORK/up.log"
		bad "$type: natlab up failed"
		ROWS+=("$type|lab did not come up|||||FAIL")
		return 0
	fi
	watch_a

	# natcheck classifies the NAT as configured against both third-party
	# servers, and reports the same through stund (RFC 3489 CHANGED-ADDRESS)
	# as through coturn (RFC 5780 OTHER-ADDRESS).
	if start_third_party; then
		ok "stund and turnserver listen in S"
	else
		bad "stund/turnserver not listening in S"
	fi
	natcheck "$S_IP1:3478"
	check_natcheck "natcheck -> stund $S_IP1:3478" "$nt" "$map" "$filt" "$step" "$pres" "$hair"
	c_stund=$(nc_cell)
	natcheck "$S_IP1:3480"
	check_natcheck "natcheck -> coturn $S_IP1:3480" "$nt" "$map" "$filt" "$step" "$pres" "$hair"
	c_coturn=$(nc_cell)
	# --port: the socket under test is the one asked for.
	if [ "$type" = port-restricted ]; then
		natcheck "$S_IP1:3480" --port 4242
		check "natcheck --port 4242: local and mapped address" "10.0.1.2:4242 $NA_PUB:4242" \
			"$(jget .local_address) $(jget .mapped_address)"
	fi
	stop_servers
	check "natcheck sent nothing but to S, A's own public address and gateway:5351" 0 "$(stray_packets)"
	if [ "$type" = none ]; then
		# The counter does count: one datagram to B (a lab host) shows up.
		lab_run "$NL_A" bash -c "echo probe >/dev/udp/$NB_PUB/9"
		check "the stray-packet counter sees a datagram to B" 1 "$(stray_packets)"
		natlab_exec a nft reset counters table ip natcheck_watch >/dev/null
	fi

	# The other direction: real clients against our rendezvous, and natcheck;
	# with no NAT and port-restricted also against a rendezvous on 0.0.0.0
	# (same alternate), which must say the same.
	if [ -x "$RDV" ]; then
		run_rendezvous "$S_IP1" "$@"
		c_rdv=$(nc_cell)
		c_stun=${STUN_VERDICT:-no verdict}
		c_nd="${ND_MAP:-no verdict} / ${ND_FILT:-no verdict}"
		if [ "$type" = none ] || [ "$type" = port-restricted ]; then
			local specific=$NC_JSON
			run_rendezvous 0.0.0.0 "$@"
			c_wild=$(nc_cell)
			check "natcheck -> rendezvous on 0.0.0.0: same as on $S_IP1" \
				"$(same_fields <<<"$specific")" "$(same_fields <<<"$NC_JSON")"
			[ "$c_stun" = "${STUN_VERDICT:-no verdict}" ] || c_stun="$c_stun (0.0.0.0: ${STUN_VERDICT:-no verdict})"
		fi
	else
		echo "  SKIP  stage 2: no $RDV (p2pvpn-rendezvous not built yet)"
	fi

	[ "$type" != port-restricted ] || run_bad_servers
	natlab_down >/dev/null 2>&1
	ROWS+=("$type|$c_stund|$c_coturn|$c_rdv|$c_wild|$c_stun|$c_nd|$([ "$CASE_FAILED" = 0 ] && echo pass || echo FAIL)")
}

# --- servers that misbehave ---

cat >"$WORK/fakestun.py" <<'EOF'
# A STUN server that misbehaves on purpose: fakestun.py MODE IP PORT.
import socket, struct, sys

mode, ip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
COOKIE = 0x2112A442
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((ip, port))
while True:
    data, (rip, rport) = s.recvfrom(2048)
    if len(data) < 20 or struct.unpack('!H', data[:2])[0] != 0x0001:
        continue
    tid, change, i = data[4:20], False, 20
    while i + 4 <= len(data):
        t, n = struct.unpack('!HH', data[i:i + 4])
        change |= t == 0x0003 and data[i + 7] & 6 != 0
        i += 4 + (n + 3) // 4 * 4
    if mode == 'silent':
        continue
    if mode == 'garbage':
        s.sendto(b'this is not STUN at all', (rip, rport))
        continue
    if mode == 'wrong-id':
        tid = tid[:-1] + bytes([tid[-1] ^ 1])
    if change and mode in ('no-alternate', 'alternate-silent'):
        continue
    xip = struct.unpack('!I', socket.inet_aton(rip))[0] ^ COOKIE
    attrs = struct.pack('!HHBBHI', 0x0020, 8, 0, 1, rport ^ (COOKIE >> 16), xip)
    if mode == 'alternate-silent':
        attrs += struct.pack('!HHBBH', 0x802C, 8, 0, 1, port + 1) + socket.inet_aton('192.0.2.20')
    s.sendto(struct.pack('!HH', 0x0101, len(attrs)) + tid + attrs, (rip, rport))
EOF

# bad_server MODE TIMEOUT: fake server on S_IP1:3490, natcheck --timeout TIMEOUT.
bad_server() {
	local pid
	lab_bg "$NL_S" "$WORK/fake.log" python3 "$WORK/fakestun.py" "$1" "$S_IP1" 3490
	pid=$LAB_BG_PID
	lab_wait_for 5 udp_listening "$S_IP1:3490" || bad "fake server ($1) not listening"
	natcheck "$S_IP1:3490" --timeout "$2"
	lab_kill_pid "$pid"
	wait "$pid" 2>/dev/null || true
}

run_bad_servers() {
	local n
	echo "--- misbehaving servers (fake STUN server on $S_IP1:3490)"
	# Silent: nothing learned, exit 1, the message says so, no hang.
	bad_server silent 2
	check "silent server: exit status" 1 "$NC_RC"
	check "silent server: message" \
		"p2pvpnctl: natcheck: no answer from $S_IP1:3490 within 2 s: UDP blocked or server down" "$NC_ERR"
	verify "silent server: gave up in $NC_MS ms" [ "$NC_MS" -le 2500 ]
	# Garbage: ignored and counted; it is not mistaken for an answer.
	bad_server garbage 2
	check "garbage: exit status" 1 "$NC_RC"
	check "garbage: type" udp-blocked "$(jget .rfc3489_type)"
	n=$(jget .ignored.not_stun)
	verify "garbage: $n datagrams ignored" [ "${n//[!0-9]/}" -ge 1 ]
	check "garbage: message" "p2pvpnctl: natcheck: no STUN answer from $S_IP1:3490 within 2 s; ignored: $n datagrams that are not STUN, 0 STUN messages with a transaction ID we did not send" "$NC_ERR"
	verify "garbage: done in $NC_MS ms" [ "$NC_MS" -le 2500 ]
	# Wrong transaction ID: an off-path answer must not be taken.
	bad_server wrong-id 2
	check "wrong transaction ID: exit status" 1 "$NC_RC"
	check "wrong transaction ID: mapped_address" null "$(jget .mapped_address)"
	n=$(jget .ignored.unknown_transaction)
	verify "wrong transaction ID: $n answers ignored" [ "${n//[!0-9]/}" -ge 1 ]
	# No alternate address: what it can tell, exit 0, and what it cannot.
	bad_server no-alternate 2
	check "no alternate: exit status" 0 "$NC_RC"
	check "no alternate: mapped" "$NA_PUB" "$(jget .mapped_address | cut -d: -f1)"
	check "no alternate: filtering (not guessed from silence)" null "$(jget .filtering)"
	check "no alternate: not_learned" \
		'["change tests and alternate-address tests (filtering, mapping): not run: the server names no alternate address"]' \
		"$(jget -c .not_learned)"
	verify "no alternate: done in $NC_MS ms" [ "$NC_MS" -le 2500 ]
	# An alternate address that never answers: the tests to it are named.
	bad_server alternate-silent 2
	check "alternate silent: exit status" 0 "$NC_RC"
	check "alternate silent: other_address" "$S_IP2:3491" "$(jget .other_address)"
	check "alternate silent: mapping (needs the alternate tests)" null "$(jget .mapping)"
	check "alternate silent: not_learned" \
		'["alternate-IP test (RFC 5780 mapping test II): no answer","alternate-address test (RFC 5780 mapping test III): no answer"]' \
		"$(jget -c .not_learned)"
	verify "alternate silent: done in $NC_MS ms" [ "$NC_MS" -le 2500 ]
	# Usage errors: exit 1, usage on stderr, nothing on stdout.
	NC_RC=0
	natlab_exec a "$CTL" natcheck --server "$S_IP1" >"$WORK/u.out" 2>"$WORK/u.err" || NC_RC=$?
	check "usage error: exit status" 1 "$NC_RC"
	check "usage error: usage on stderr, stdout empty" "yes/0" \
		"$(grep -q '^Usage: p2pvpnctl natcheck --server HOST:PORT' "$WORK/u.err" && echo yes || echo no)/$(wc -c <"$WORK/u.out")"
	check "misbehaving servers: natcheck sent nothing elsewhere" 0 "$(stray_packets)"
}

#        type              rfc3489_type          mapping                    filtering                  step pres  hairpin stun (Primary: ...)                                            natdiscovery mapping / filtering
run_type none             open-internet         endpoint-independent       endpoint-independent       null true  true  "Open" "Endpoint Independent" "Endpoint Independent"
run_type full-cone        full-cone             endpoint-independent       endpoint-independent       null true  false "Independent Mapping, Independent Filter, preserves ports" "Endpoint Independent" "Endpoint Independent"
run_type restricted-cone  restricted-cone       endpoint-independent       address-dependent          null true  false "Independent Mapping, Address Dependent Filter, preserves ports" "Endpoint Independent" "Address Dependent"
run_type port-restricted  port-restricted-cone  endpoint-independent       address-and-port-dependent null true  false "Independent Mapping, Port Dependent Filter, preserves ports" "Endpoint Independent" "Address and Port Dependent"
run_type symmetric-seq    symmetric             address-and-port-dependent address-and-port-dependent 1    false false "Dependent Mapping, random port" "Address and Port Dependent" "Address and Port Dependent"
run_type symmetric-random symmetric             address-and-port-dependent address-and-port-dependent null false false "Dependent Mapping, random port" "Address and Port Dependent" "Address and Port Dependent"
run_type udp-blocked      udp-blocked           - - - - - "Blocked or could not reach STUN server" - -

# --- stage 4: two peers introduced through a rendezvous on 0.0.0.0 ---

run_pair_wildcard() {
	local ms path stats
	CASE_FAILED=0
	echo
	echo "=== pair: port-restricted / port-restricted through a rendezvous on 0.0.0.0:3478"
	if [ ! -x "$RDV" ] || [ ! -x "$BUILD/p2pvpnd" ]; then
		echo "  SKIP  stage 4: no $RDV or $BUILD/p2pvpnd"
		return 0
	fi
	if ! NP_RDV_LISTEN=0.0.0.0:3478 natpair_up port-restricted port-restricted >"$WORK/up.log" 2>&1; then
		cat "$WORK/up.log"
		bad "pair: natlab up failed"
		return 0
	fi
	natpair_start
	ms=$(natpair_first_ping 30) || true
	path=$(natpair_path)
	verify "pair: A pings B through the tunnel (first ping after $ms ms)" [ "$ms" != none ]
	check "pair: path" udp-direct "$path"
	lab_kill_pid "$NP_RDV_PID"
	wait "$NP_RDV_PID" 2>/dev/null || true
	# Reaped: natpair_down must not signal that PID again.
	local pids=() pid
	for pid in "${NP_PIDS[@]}"; do
		[ "$pid" = "$NP_RDV_PID" ] || pids+=("$pid")
	done
	NP_PIDS=("${pids[@]}")
	verify "pair: the rendezvous registered a and b" \
		bash -c "grep -q 'peer a (.*): registered' '$NP_WORK/s.log' && grep -q 'peer b (.*): registered' '$NP_WORK/s.log'"
	stats=$(grep -o '[0-9]* introductions' "$NP_WORK/s.log" | tail -n 1)
	echo "  rendezvous: $stats"
	verify "pair: the rendezvous introduced them" [ "${stats%% *}" -ge 1 ]
	natpair_down
	NP_WORK=
	ROWS+=("pair on 0.0.0.0|-|-|-|first ping $ms ms, $path|-|-|$([ "$CASE_FAILED" = 0 ] && echo pass || echo FAIL)")
}
run_pair_wildcard

echo
{
	echo "NAT type (A)|natcheck -> stund|natcheck -> coturn|natcheck -> p2pvpn-rendezvous|... on 0.0.0.0|stun -> p2pvpn-rendezvous|natdiscovery -> p2pvpn-rendezvous|result"
	printf '%s\n' "${ROWS[@]}"
} | column -t -s '|' -o ' | '
echo
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
