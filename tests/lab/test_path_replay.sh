#!/usr/bin/env bash
# Replayed probes cannot move a path (issue: "a path moves only on fresh,
# authenticated evidence"). Two pairs from tests/lab/natpair.sh, plus a third
# host M on the lab internet that replays what it captured:
#
#   direct:  A public (none) --- WAN --- NB port-restricted --- B
#   relayed: A public (none) --- WAN --- NB symmetric-random --- B, with the
#            WAN router dropping everything between the two public
#            addresses, so only the rendezvous's relay joins them
#
#   M 192.0.2.66/32, cabled to the WAN router (a host route on each side)
#
# For each pair: capture what reaches A while the pair comes up and
# heartbeats, pick out B's probe replies and heartbeat replies (tools'
# probekind opens them with A's key), then replay them from M to A's
# socket for 30 s (the relayed pair: the relay frames as captured, and the
# probes they carry as bare datagrams) while A pings B five times a second.
# Proves: A's path (kind and address) never changes, A sends nothing to M,
# the ping keeps working. Then, for the direct pair, B's probe requests are
# replayed from M for 10 s: the path still never moves, and what A sends to
# M stays bounded (at most a reply and a triggered probe per replayed
# request, under the engine's reply rate limit).
set -uo pipefail
[ "$(id -u)" = 0 ] || { echo "SKIP: lab tests need root"; exit 77; }
cd "$(dirname "$0")"
export P2PVPN_BUILD=${P2PVPN_BUILD:-$PWD/../../build}
for b in p2pvpnd p2pvpnctl p2pvpn-rendezvous probekind; do
	[ -x "$P2PVPN_BUILD/$b" ] || { echo "missing $P2PVPN_BUILD/$b (build first)"; exit 1; }
done
# shellcheck source=natpair.sh
. ./natpair.sh
export NL_PREFIX=pr$$
TOOL="python3 $PWD/pcaptool.py"
M_NS=${NL_PREFIX}M
M_IP=192.0.2.66
REPLAY_S=${REPLAY_S:-30}
BG=()
PASSED=0
FAILED=0

check() {
	local what=$1
	shift
	if "$@"; then
		echo "ok: $what"
		PASSED=$((PASSED + 1))
	else
		echo "FAIL: $what"
		FAILED=$((FAILED + 1))
	fi
}

down() {
	lab_kill_pid "${BG[@]}"
	BG=()
	[ -e "/run/netns/$M_NS" ] && ip netns del "$M_NS"
	natpair_down
}
trap 'down' EXIT

# M: its own namespace, a veth to the WAN router, 192.0.2.66/32 with host
# routes both ways (S's 192.0.2.0/24 stays on its own cable).
m_up() {
	local t=prt$$ u=pru$$
	lab_run root ip netns add "$M_NS"
	lab_run "$M_NS" ip link set dev lo up
	lab_run root ip link add "$t" type veth peer name "$u"
	lab_run root ip link set dev "$t" netns "$M_NS"
	lab_run root ip link set dev "$u" netns "$NL_WAN"
	lab_run "$M_NS" ip link set dev "$t" name eth0
	lab_run "$NL_WAN" ip link set dev "$u" name tom
	lab_run "$M_NS" ip link set dev eth0 up
	lab_run "$NL_WAN" ip link set dev tom up
	lab_run "$M_NS" ip addr add "$M_IP/32" dev eth0
	lab_run "$M_NS" ip route add 192.0.2.1/32 dev eth0
	lab_run "$M_NS" ip route add default via 192.0.2.1 dev eth0
	lab_run "$NL_WAN" ip route add "$M_IP/32" dev tom
}

# The path A uses to B, as "kind endpoint".
path_of_a() {
	"$NP_BUILD/p2pvpnctl" show --json -s "$NP_WORK/a.sock" 2>/dev/null | python3 -c '
import json, sys
p = json.load(sys.stdin)["peers"][0]
print((p.get("path") or "none") + " " + (p.get("endpoint") or "-"))' 2>/dev/null || echo "none -"
}

# Keeps the payloads in pcap $1 from $2 that probekind names $3 (a regex);
# their names go to $NP_WORK/replies.kinds.
pick() {
	local pcap=$1 src=$2 want=$3 type
	: > "$NP_WORK/replies.kinds.new"
	for type in 5 7; do
		$TOOL list "$pcap" "$type" "$src"
	done | while read -r hex; do
		kind=$(echo "$hex" | "$NP_BUILD/probekind" "$NP_WORK/a.key" "$(cat "$NP_WORK/b.pub")")
		if [[ $kind =~ ^($want)$ ]]; then
			echo "$hex"
			echo "$kind" >> "$NP_WORK/replies.kinds.new"
			# The probe inside a relay frame goes out bare too.
			[[ $kind == relay:* ]] && echo "${hex:16}"
		fi
	done
	mv "$NP_WORK/replies.kinds.new" "$NP_WORK/replies.kinds"
}

# replay_phase LABEL FILE SECONDS: replays FILE from M while A pings B and
# the path is sampled; sets SENT, TO_M (datagrams A sent to M), LOSS (%),
# MOVED (path changes seen).
replay_phase() {
	local label=$1 file=$2 secs=$3 want sample pingpid tdpid
	want=$(path_of_a)
	ip netns exec "$M_NS" tcpdump -i eth0 -U -n -w "$NP_WORK/m-$label.pcap" \
		"dst host $M_IP" > /dev/null 2>&1 &
	tdpid=$!
	BG+=("$tdpid")
	ip netns exec "$NL_A" ping -q -i 0.2 -W 1 -c $((secs * 5)) 10.77.0.2 \
		> "$NP_WORK/ping-$label.txt" 2>&1 &
	pingpid=$!
	BG+=("$pingpid")
	sleep 0.5
	ip netns exec "$M_NS" $TOOL replay 203.0.113.2 51820 "$secs" 10 "$file" \
		> "$NP_WORK/sent-$label.txt" &
	local replaypid=$!
	BG+=("$replaypid")
	MOVED=0
	while kill -0 "$replaypid" 2>/dev/null; do
		sample=$(path_of_a)
		if [ "$sample" != "$want" ]; then
			echo "   path moved: '$want' -> '$sample'"
			MOVED=$((MOVED + 1))
		fi
		sleep 1
	done
	wait "$pingpid" 2>/dev/null
	sleep 1
	kill "$tdpid" 2>/dev/null
	wait "$tdpid" 2>/dev/null
	SENT=$(cat "$NP_WORK/sent-$label.txt")
	TO_M=$(tcpdump -r "$NP_WORK/m-$label.pcap" -n "src host 203.0.113.2" 2>/dev/null | wc -l)
	LOSS=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$NP_WORK/ping-$label.txt")
	echo "   $label: path '$want', $SENT datagrams replayed from M in ${secs} s," \
		"A sent $TO_M to M, ping loss ${LOSS:-?} %, path changes seen $MOVED"
}

# pair LABEL B_TYPE EXPECTED_PATH [isolate]
pair() {
	local label=$1 btype=$2 want=$3 isolate=${4:-} tdpid ms path
	echo "== $label: none / $btype (expect $want)"
	if ! natpair_up none "$btype"; then
		echo "FAIL: $label: lab did not come up"
		FAILED=$((FAILED + 1))
		return
	fi
	m_up
	if [ -n "$isolate" ]; then
		# Nothing between the two public addresses: only the relay joins A and B.
		cat > "$NP_WORK/isolate.nft" <<-'NFT'
		table ip prtest {
			chain isolate {
				type filter hook forward priority -10;
				ip saddr 203.0.113.2 ip daddr 198.51.100.2 drop
				ip saddr 198.51.100.2 ip daddr 203.0.113.2 drop
			}
		}
		NFT
		lab_run "$NL_WAN" nft -f "$NP_WORK/isolate.nft"
	fi
	ip netns exec "$NL_A" tcpdump -i eth0 -U -n -w "$NP_WORK/a.pcap" udp > /dev/null 2>&1 &
	tdpid=$!
	BG+=("$tdpid")
	sleep 0.5
	natpair_start
	ms=$(natpair_first_ping 20)
	path=$(path_of_a)
	echo "   first ping after $ms ms, path $path"
	check "$label: the pair is up on $want" test "${path%% *}" = "$want"
	if [ "${path%% *}" != "$want" ]; then
		for f in "$NP_WORK"/*.log; do echo "---- $f"; tail -n 25 "$f"; done
		down
		return
	fi
	local src=198.51.100.2 t
	[ -n "$isolate" ] && src=192.0.2.10
	# Heartbeats go out keepalive (5 s) after the last sign of life: capture
	# until a heartbeat reply is in, so both kinds of reply get replayed.
	for ((t = 0; t < 30; t += 2)); do
		sleep 2
		pick "$NP_WORK/a.pcap" "$src" 'reply|heartbeat-reply|relay:reply|relay:heartbeat-reply' \
			> "$NP_WORK/replies.hex"
		grep -q heartbeat-reply "$NP_WORK/replies.kinds" 2>/dev/null && break
	done
	kill "$tdpid" 2>/dev/null
	wait "$tdpid" 2>/dev/null
	pick "$NP_WORK/a.pcap" "$src" 'reply|heartbeat-reply|relay:reply|relay:heartbeat-reply' \
		> "$NP_WORK/replies.hex"
	echo "   captured $(wc -l < "$NP_WORK/replies.hex") reply datagrams to replay:" \
		"$(sort "$NP_WORK/replies.kinds" | uniq -c | tr -s ' \n' ' ')"
	check "$label: a heartbeat reply is among them" grep -q heartbeat-reply "$NP_WORK/replies.kinds"
	check "$label: replies were captured" test -s "$NP_WORK/replies.hex"

	replay_phase "$label-replies" "$NP_WORK/replies.hex" "$REPLAY_S"
	check "$label: replayed replies never moved the path" test "$MOVED" = 0
	check "$label: the path is still $path" test "$(path_of_a)" = "$path"
	check "$label: A sent nothing to M" test "$TO_M" = 0
	check "$label: ping kept working (loss ${LOSS:-?} % <= 5 %)" \
		python3 -c "import sys; sys.exit(not (float('${LOSS:-100}') <= 5))"

	if [ -z "$isolate" ]; then
		pick "$NP_WORK/a.pcap" "$src" 'request|heartbeat' > "$NP_WORK/requests.hex"
		echo "   captured $(wc -l < "$NP_WORK/requests.hex") request datagrams to replay"
		if [ -s "$NP_WORK/requests.hex" ]; then
			replay_phase "$label-requests" "$NP_WORK/requests.hex" 10
			check "$label: replayed requests never moved the path" test "$MOVED" = 0
			check "$label: A's answers to M stay bounded ($TO_M for $SENT)" \
				test "$TO_M" -le $((2 * SENT))
			check "$label: ping kept working (loss ${LOSS:-?} % <= 5 %)" \
				python3 -c "import sys; sys.exit(not (float('${LOSS:-100}') <= 5))"
		fi
	fi
	"$NP_BUILD/p2pvpnctl" show -s "$NP_WORK/a.sock" 2>&1 | grep -E "drop|path" | head -20
	down
}

pair direct port-restricted udp-direct
pair relayed symmetric-random relay isolate
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
