#!/bin/bash
# test_natlab.sh: the NAT lab checks itself. For each NAT type it builds the
# lab (natlab.sh), runs two third-party STUN servers in S and their clients in
# A, and asserts that both classify the NAT as configured; then it probes the
# mapping and filtering directly with socat.
#
#    A ---- NA (TYPE) ----+                        B on NA's LAN for same-NAT:
#                         +---- WAN ---- S           B ---+
#    B ---- NB (none) ----+         192.0.2.10            A ---- NA ---- WAN ---- S
#                                   192.0.2.20
#
#  S runs   stund -h 192.0.2.10 -a 192.0.2.20               (RFC 3489, 3478/3479)
#           turnserver --stun-only -L .10 -L .20 -p 3480    (RFC 5780, 3480/3481)
#  A runs   stun 192.0.2.10
#           turnutils_natdiscovery -m -f -p 3480 192.0.2.10
#
# Expected verdicts: shared/NAT-LAB-NOTES.md, "Validation with real third-party
# tools". Ends with a table and "N passed, N failed"; exits 1 on any failure,
# 77 without root or the tools.

set -e
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=natlab.sh
. "$HERE/natlab.sh"

lab_require_root
lab_require_cmds ip nft conntrack socat ping ss stun stund turnserver turnutils_natdiscovery timeout

NL_PREFIX=${NL_PREFIX:-nlk$$}
export NL_PREFIX
WORK=$(mktemp -d /tmp/test_natlab.XXXXXX)
lab_trap_cleanup
lab_on_exit 'rm -rf "$WORK"'
lab_on_exit 'natlab_down --prefix "$NL_PREFIX" 2>/dev/null'
lab_on_exit 'stop_servers'

PASS=0
FAIL=0
CASE_FAILED=0
ROWS=()

ok() {
	PASS=$((PASS + 1))
	echo "  ok    $*"
}

bad() {
	FAIL=$((FAIL + 1))
	CASE_FAILED=1
	echo "  FAIL  $*"
}

result() {
	[ "$CASE_FAILED" = 0 ] && echo pass || echo FAIL
}

# check WHAT WANT GOT
check() {
	if [ "$2" = "$3" ]; then
		ok "$1: $3"
	else
		bad "$1: expected '$2', got '$3'"
	fi
}

# --- servers in S ---

SERVER_PIDS=()

servers_listening() {
	local out
	out=$(ip netns exec "$NL_S" ss -Huln)
	for a in 192.0.2.10:3478 192.0.2.10:3479 192.0.2.20:3478 192.0.2.20:3479 \
		192.0.2.10:3480 192.0.2.10:3481 192.0.2.20:3480 192.0.2.20:3481; do
		grep -q " $a " <<<"$out" || return 1
	done
}

start_servers() {
	lab_bg "$NL_S" "$WORK/stund.log" stund -h "$S_IP1" -a "$S_IP2"
	SERVER_PIDS+=("$LAB_BG_PID")
	# -c /dev/null: Debian's config disables RFC 5780; two -L give it the
	# alternate address, --pidfile keeps it out of /var/run.
	lab_bg "$NL_S" "$WORK/turnserver.log" turnserver -c /dev/null -L "$S_IP1" -L "$S_IP2" \
		-p 3480 --alt-listening-port 3481 --stun-only --no-cli --no-tls --no-dtls \
		--pidfile "$WORK/turnserver.pid" --log-file stdout --simple-log
	SERVER_PIDS+=("$LAB_BG_PID")
	lab_wait_for 10 servers_listening
}

stop_servers() {
	local pid
	for pid in "${SERVER_PIDS[@]}"; do
		lab_kill_pid "$pid"
		wait "$pid" 2>/dev/null || true
	done
	SERVER_PIDS=()
}

# --- direct probes with socat ---

# seen_by_s HOST SPORT DPORT: HOST sends one datagram from SPORT to
# S_IP1:DPORT; prints the source address:port S received it from, if any.
seen_by_s() {
	local host=$1 sport=$2 dport=$3 log="$WORK/seen-$2-$3.log" pid
	lab_bg "$NL_S" "$log" timeout 6 socat -d -d -u "UDP-RECV:$dport,bind=$S_IP1,reuseaddr" /dev/null
	pid=$LAB_BG_PID
	lab_wait_for 3 grep -q 'starting data transfer' "$log" || true
	natlab_exec "$host" timeout 3 socat -u - "UDP-SENDTO:$S_IP1:$dport,sourceport=$sport,reuseaddr" <<<probe || true
	lab_wait_for 2 grep -q 'received packet' "$log" || true
	lab_kill_pid "$pid"
	wait "$pid" 2>/dev/null || true
	sed -n 's/.*received packet with [0-9]* bytes from AF=2 \([0-9.]*:[0-9]*\).*/\1/p' "$log" | head -n 1
}

# a_listen HOST PORT: start a UDP listener on HOST that logs every datagram
# and its source into $WORK/listen-HOST-PORT.log; the PID is in LISTEN_PID.
a_listen() {
	local host=$1 port=$2 ns log="$WORK/listen-$1-$2.log"
	ns=$(natlab_ns "$host")
	rm -f "$log"
	lab_bg "$ns" "$log" timeout 20 socat -d -d -u "UDP-RECV:$port,reuseaddr" -
	LISTEN_PID=$LAB_BG_PID
	lab_wait_for 3 grep -q 'starting data transfer' "$log" || true
}

# listen_stop HOST PORT: stop the listener; prints the payloads it got, one a
# line, then "from IP:PORT" for each sender.
listen_stop() {
	local log="$WORK/listen-$1-$2.log"
	sleep 0.5
	lab_kill_pid "$LISTEN_PID"
	wait "$LISTEN_PID" 2>/dev/null || true
	grep -v 'socat\[' "$log" || true
	sed -n 's/.*received packet with [0-9]* bytes from AF=2 \([0-9.]*:[0-9]*\).*/from \1/p' "$log"
}

# s_send SRC_IP SRC_PORT DST_IP DST_PORT PAYLOAD: one datagram from S.
s_send() {
	lab_run "$NL_S" timeout 3 socat -u - "UDP-SENDTO:$3:$4,bind=$1:$2,reuseaddr" <<<"$5" || true
}

# --- the STUN tools ---

# Runs both clients in A; sets STUN_VERDICT, ND_MAP, ND_FILT, ND_PORTS
# ("local->mapped mapped ..."), ND_PUBS (mapped addresses) and ND_TIMEOUT.
run_tools() {
	local out nd
	out=$(natlab_exec a timeout 20 stun "$S_IP1" 2>&1) || true
	echo "$out"
	STUN_VERDICT=$(sed -n 's/^Primary: //p' <<<"$out" | sed 's/[[:space:]]*$//')
	nd=$(natlab_exec a timeout 40 turnutils_natdiscovery -m -f -p 3480 "$S_IP1" 2>&1) || true
	echo "$nd" >"$WORK/natdiscovery.out"
	grep -E '^\[|reflexive|Local addr|NAT with|timeout' <<<"$nd" || true
	ND_MAP=$(sed -n 's/^NAT with \(.*\) Mapping!$/\1/p' <<<"$nd" | head -n 1)
	ND_FILT=$(sed -n 's/^NAT with \(.*\) Filtering!$/\1/p' <<<"$nd" | head -n 1)
	ND_TIMEOUT=$(grep -c 'STUN receive timeout' <<<"$nd" || true)
	# The mapping test's responses: reflexive address, then the local port.
	local map
	map=$(sed -n '/Mapping Behavior Discovery/,/Filtering Behavior Discovery/p' <<<"$nd")
	ND_PUBS=$(sed -n 's/.*UDP reflexive addr: \([0-9.]*\):[0-9]*$/\1/p' <<<"$map" | sort -u | tr '\n' ' ')
	ND_LOCAL=$(sed -n 's/.*Local addr: : [0-9.]*:\([0-9]*\)$/\1/p' <<<"$map" | sort -u | head -n 1)
	ND_MAPPED=$(sed -n 's/.*UDP reflexive addr: [0-9.]*:\([0-9]*\)$/\1/p' <<<"$map" | tr '\n' ' ')
	ND_MAPPED=${ND_MAPPED% }
}

# ports_shape LOCAL "P1 P2 ...": preserve, seq, random or other.
ports_shape() {
	local local_port=$1 p prev="" all_same=1 all_step=1 n=0
	for p in $2; do
		n=$((n + 1))
		[ "$p" = "$local_port" ] || all_same=0
		[ -z "$prev" ] || [ "$p" -eq $((prev + 1)) ] || all_step=0
		prev=$p
	done
	if [ "$n" -eq 0 ]; then
		echo none
	elif [ "$all_same" = 1 ]; then
		echo preserve
	elif [ "$n" -ge 3 ] && [ "$all_step" = 1 ]; then
		echo seq
	elif [ "$n" -ge 3 ] && [ "$(tr ' ' '\n' <<<"$2" | sort -u | wc -l)" -eq "$n" ]; then
		echo random
	else
		echo other
	fi
}

# --- one case ---

# run_case NAME "UP ARGS" STUN_WANT ND_MAP_WANT ND_FILT_WANT PORTS_WANT INBOUND_WANT HAIRPIN_WANT
#   INBOUND_WANT: which of the three inbound probes reach A, as y/n for
#   (same endpoint A sent to, same address other port, other address), or
#   "blocked" for a NAT that lets no UDP out.
#   HAIRPIN_WANT: yes/no for the same-NAT layout (B -> A's public mapping),
#   "-" otherwise.
run_case() {
	local name=$1 upargs=$2 stun_want=$3 map_want=$4 filt_want=$5 ports_want=$6
	local inbound_want=$7 hairpin_want=$8
	local shape="-" inbound="-" unsolicited="-" hairpin="-" got m p srcs
	CASE_FAILED=0
	echo
	echo "=== $name: natlab up $upargs"
	# shellcheck disable=SC2086
	if ! natlab_up $upargs; then
		bad "$name: natlab up failed"
		ROWS+=("$name|lab did not come up|||||FAIL")
		return 0
	fi

	# Both hosts reach S (ICMP passes every NAT type, udp-blocked included).
	for h in a b; do
		if natlab_exec "$h" ping -c 1 -W 2 "$S_IP1" >/dev/null; then
			ok "$h pings S"
		else
			bad "$h cannot ping S"
		fi
	done

	# The RFC 3489 and RFC 5780 clients classify the NAT as configured.
	if start_servers; then
		ok "stund and turnserver listen in S"
	else
		bad "stund/turnserver not listening in S"
	fi
	run_tools
	stop_servers
	check "stun verdict" "$stun_want" "$(cut -c1-${#stun_want} <<<"$STUN_VERDICT")"
	if [ "$map_want" = "-" ]; then
		# udp-blocked: natdiscovery gets no answer, so no verdict at all.
		check "natdiscovery verdict" "none/none" "${ND_MAP:-none}/${ND_FILT:-none}"
		if [ "${ND_TIMEOUT:-0}" -gt 0 ]; then
			ok "natdiscovery timed out"
		else
			bad "natdiscovery did not time out"
		fi
	else
		check "natdiscovery mapping" "$map_want" "$ND_MAP"
		check "natdiscovery filtering" "$filt_want" "$ND_FILT"
		check "mapped address" "$NA_PUB " "$ND_PUBS"
		shape=$(ports_shape "$ND_LOCAL" "$ND_MAPPED")
		# seq: the mapped ports of successive flows step by +1.
		check "mapped ports ($ND_LOCAL -> $ND_MAPPED)" "$ports_want" "$shape"
		shape="$ND_LOCAL->${ND_MAPPED// /,}"
	fi

	# Filtering, directly: A opens a mapping to S_IP1:9000 from port 4000;
	# S answers from that endpoint, from another port, from another address.
	if [ "$inbound_want" = blocked ]; then
		got=$(seen_by_s a 4000 9000)
		check "A's UDP reaches S" "" "$got"
		local log="$WORK/tcp.log" pid
		lab_bg "$NL_S" "$log" timeout 8 socat -u "TCP-LISTEN:9100,bind=$S_IP1,reuseaddr" -
		pid=$LAB_BG_PID
		lab_wait_for 3 sh -c "ip netns exec $NL_S ss -Htln | grep -q ':9100 '" || true
		natlab_exec a timeout 5 socat -u - "TCP:$S_IP1:9100,connect-timeout=3" <<<tcp-ok || true
		lab_wait_for 3 grep -q tcp-ok "$log" || true
		lab_kill_pid "$pid"
		wait "$pid" 2>/dev/null || true
		check "A's TCP reaches S" "tcp-ok" "$(grep -o tcp-ok "$log" || true)"
		inbound="udp dropped, tcp ok"
	else
		m=$(seen_by_s a 4000 9000)
		if [ -n "$m" ]; then
			ok "S sees A's mapping $m"
		else
			bad "S saw nothing from A"
		fi
		m=${m##*:}
		a_listen a 4000
		s_send "$S_IP1" 9000 "$NA_PUB" "${m:-4000}" same
		s_send "$S_IP1" 9001 "$NA_PUB" "${m:-4000}" port
		s_send "$S_IP2" 9002 "$NA_PUB" "${m:-4000}" addr
		got=$(listen_stop a 4000)
		inbound="" srcs=""
		for p in "same $S_IP1:9000" "port $S_IP1:9001" "addr $S_IP2:9002"; do
			if grep -qx "${p% *}" <<<"$got"; then
				inbound+=y srcs+="from ${p#* }"$'\n'
			else
				inbound+=n
			fi
		done
		check "inbound reaches A (same endpoint, other port, other address)" "$inbound_want" "$inbound"
		# A sees the true sender, not an address the NAT put in its place.
		check "inbound senders seen by A" "$(sort <<<"${srcs%$'\n'}" | tr '\n' ' ')" \
			"$(grep '^from ' <<<"$got" | sort | tr '\n' ' ')"
	fi

	# Unsolicited packets to the public address: a NAT box drops them
	# silently (no ICMP, no RST); an unprotected "none" host refuses.
	a_listen a 4444
	s_send "$S_IP1" 9003 "$NA_PUB" 4444 unsolicited
	got=$(listen_stop a 4444)
	grep -qx unsolicited <<<"$got" && got=yes || got=no
	local udp tcp want_in=no want_err="silent/timed out"
	udp=$(lab_run "$NL_S" timeout 4 socat -T 1.5 - "UDP:$NA_PUB:4445" <<<x 2>&1 |
		grep -o 'Connection refused' | sed 's/Connection //' || true)
	tcp=$(lab_run "$NL_S" timeout 5 socat -u - "TCP:$NA_PUB:4445,connect-timeout=2" </dev/null 2>&1 |
		grep -oE 'Connection (refused|timed out)' | sed 's/Connection //' || true)
	if [ "$NL_A_TYPE" = none ]; then
		want_in=yes want_err="refused/refused"
	fi
	check "unsolicited UDP reaches A" "$want_in" "$got"
	check "closed port answers UDP/TCP" "$want_err" "${udp:-silent}/${tcp:-nothing}"
	case "$got/${udp:-silent}/${tcp:-nothing}" in
	"no/silent/timed out") unsolicited="dropped silently" ;;
	"yes/refused/refused") unsolicited="open, ICMP/RST" ;;
	*) unsolicited="reached A: $got, closed udp/tcp: ${udp:-silent}/${tcp:-nothing}" ;;
	esac

	# Same NAT: B sends to A's public mapping; with hairpin A gets it from B's
	# public mapping, without hairpin it never arrives.
	if [ "$hairpin_want" != "-" ]; then
		local ma mb
		ma=$(seen_by_s a 4100 9010)
		mb=$(seen_by_s b 5100 9011)
		a_listen a 4100
		natlab_exec b timeout 3 socat -u - "UDP-SENDTO:$NA_PUB:${ma##*:},sourceport=5100,reuseaddr" <<<hairpin || true
		got=$(listen_stop a 4100)
		if grep -qx hairpin <<<"$got"; then
			hairpin="yes, from $(sed -n 's/^from //p' <<<"$got" | head -n 1)"
		else
			hairpin=no
		fi
		if [ "$hairpin_want" = yes ]; then
			check "B -> A's public mapping ($ma) reaches A, from B's mapping" "yes, from $mb" "$hairpin"
		else
			check "B -> A's public mapping ($ma) reaches A" "no" "$hairpin"
		fi
	fi

	natlab_down
	[ "$hairpin_want" = "-" ] || unsolicited+="; hairpin: $hairpin"
	ROWS+=("$name|${STUN_VERDICT:-?}|${ND_MAP:-no verdict} / ${ND_FILT:-no verdict}|$shape|$inbound|$unsolicited|$(result)")
}

# --- the lab's knobs: timeouts, flush, loss ---

# --udp-timeout 3: the conntrack timeouts and the cone maps follow it; an idle
# mapping is gone after 4 s. natlab.sh flush a: a live mapping is forgotten.
run_timeout_case() {
	local name="port-restricted, --udp-timeout 3, flush" got m
	CASE_FAILED=0
	echo
	echo "=== $name"
	if ! natlab_up --a port-restricted --b none --udp-timeout 3; then
		bad "natlab up failed"
		ROWS+=("$name|lab did not come up|||||FAIL")
		return 0
	fi
	check "nf_conntrack_udp_timeout" 3 "$(natlab_exec na sysctl -n net.netfilter.nf_conntrack_udp_timeout)"
	check "nf_conntrack_udp_timeout_stream" 3 "$(natlab_exec na sysctl -n net.netfilter.nf_conntrack_udp_timeout_stream)"
	check "emap timeout" "timeout 3s" "$(natlab_exec na nft list map ip natlab emap | grep -o 'timeout 3s' | head -n 1)"

	m=$(seen_by_s a 4200 9000)
	a_listen a 4200
	s_send "$S_IP1" 9000 "$NA_PUB" "${m##*:}" fresh
	sleep 4.5
	s_send "$S_IP1" 9000 "$NA_PUB" "${m##*:}" stale
	got=$(listen_stop a 4200)
	check "answer within the timeout reaches A" yes "$(grep -qx fresh <<<"$got" && echo yes || echo no)"
	check "answer after 4.5 s idle reaches A" no "$(grep -qx stale <<<"$got" && echo yes || echo no)"

	m=$(seen_by_s a 4201 9000)
	a_listen a 4201
	s_send "$S_IP1" 9000 "$NA_PUB" "${m##*:}" before
	natlab_flush a
	s_send "$S_IP1" 9000 "$NA_PUB" "${m##*:}" after
	got=$(listen_stop a 4201)
	check "answer before flush reaches A" yes "$(grep -qx before <<<"$got" && echo yes || echo no)"
	check "answer after flush reaches A" no "$(grep -qx after <<<"$got" && echo yes || echo no)"
	natlab_down
	ROWS+=("$name|||||mapping gone after 4.5 s idle and after flush|$(result)")
}

# --loss 50 drops half the packets in each direction at the WAN router, so
# about a quarter of the pings come back; --loss 0 (every other case) loses
# none.
run_loss_case() {
	local name="none/none, --loss 50" got
	CASE_FAILED=0
	echo
	echo "=== $name"
	if ! natlab_up --a none --b none --loss 50; then
		bad "natlab up failed"
		ROWS+=("$name|lab did not come up|||||FAIL")
		return 0
	fi
	got=$(natlab_exec a ping -q -c 200 -i 0.005 -W 1 "$S_IP1" | sed -n 's/.* \([0-9]*\) received.*/\1/p' || true)
	if [ -n "$got" ] && [ "$got" -ge 20 ] && [ "$got" -le 80 ]; then
		ok "$got of 200 pings answered (expected about 50)"
	else
		bad "${got:-no} of 200 pings answered (expected 20..80)"
	fi
	natlab_down
	ROWS+=("$name|||||$got/200 pings answered|$(result)")
}

# The expected verdicts (NAT-LAB-NOTES.md). B is "none" unless same-NAT.
#        name              up args                                     stun (Primary: ...)                                          natdiscovery mapping         filtering                     ports     inbound  hairpin
run_case none "--a none --b none" \
	"Open" "Endpoint Independent" "Endpoint Independent" preserve yyy -
run_case full-cone "--a full-cone --b none" \
	"Independent Mapping, Independent Filter, preserves ports" "Endpoint Independent" "Endpoint Independent" preserve yyy -
run_case restricted-cone "--a restricted-cone --b none" \
	"Independent Mapping, Address Dependent Filter, preserves ports" "Endpoint Independent" "Address Dependent" preserve yyn -
run_case port-restricted "--a port-restricted --b none" \
	"Independent Mapping, Port Dependent Filter, preserves ports" "Endpoint Independent" "Address and Port Dependent" preserve ynn -
run_case symmetric-seq "--a symmetric-seq --b none" \
	"Dependent Mapping, random port" "Address and Port Dependent" "Address and Port Dependent" seq ynn -
run_case symmetric-random "--a symmetric-random --b none" \
	"Dependent Mapping, random port" "Address and Port Dependent" "Address and Port Dependent" random ynn -
run_case udp-blocked "--a udp-blocked --b none" \
	"Blocked or could not reach STUN server" - - - blocked -
run_case cgnat "--a cgnat --b none" \
	"Independent Mapping, Port Dependent Filter, preserves ports" "Endpoint Independent" "Address and Port Dependent" preserve ynn -
run_case cgnat:full-cone:symmetric-random "--a cgnat:full-cone:symmetric-random --b none" \
	"Dependent Mapping, random port" "Address and Port Dependent" "Address and Port Dependent" random ynn -
run_case "same-NAT, hairpin on" "--a port-restricted --b same --hairpin on" \
	"Independent Mapping, Port Dependent Filter, preserves ports" "Endpoint Independent" "Address and Port Dependent" preserve ynn yes
run_case "same-NAT, hairpin off" "--a port-restricted --b same --hairpin off" \
	"Independent Mapping, Port Dependent Filter, preserves ports" "Endpoint Independent" "Address and Port Dependent" preserve ynn no
run_case "same-NAT full-cone, hairpin on" "--a full-cone --b same --hairpin on" \
	"Independent Mapping, Independent Filter, preserves ports" "Endpoint Independent" "Endpoint Independent" preserve yyy yes
run_timeout_case
run_loss_case

echo
{
	echo "case|stun (RFC 3489)|natdiscovery (RFC 5780)|local->mapped ports|inbound y/n: same ep, port, addr|unsolicited / other|result"
	printf '%s\n' "${ROWS[@]}"
} | column -t -s '|' -o ' | '
echo
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
