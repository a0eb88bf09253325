#!/usr/bin/env bash
# A handshake flood against a running peer (issue 7 item 2, SECURITY-NOTES
# section 6 item 13):
#
#   a 192.0.2.11 ---+--- b 192.0.2.12 (the victim) ---+--- m 192.0.2.66
#   real peer of b                                      hsflood, spoofing
#                                                       203.0.113.0/24
#
# m sends initiations with a valid mac1 for b's key (the rest random) from
# 254 spoofed sources, routed back to m, at 20k/s and then 80k/s for 10 s
# each, while a pings b 10 times a second. Asserts: ping loss <= 5% at
# 20k/s and <= 20% at 80k/s; b's control socket answers within 1 s
# throughout; b goes under load and sends cookie replies; a restarted a
# completes a fresh handshake during a flood (through the cookie). Prints
# the CPU seconds b used in each phase.
PREFIX=p2fld$$
source "$(dirname "$0")/peers.sh"
[ -x "$BUILD/hsflood" ] || { echo "missing $BUILD/hsflood (build first)"; exit 1; }

lab_switch
lab_host a 192.0.2.11
lab_host b 192.0.2.12
lab_host m 192.0.2.66
for n in a b; do lab_keys $n; done
lab_conf a "10.77.0.1/24"
lab_conf b "10.77.0.2/24" "log_level = info"
lab_peer a b "10.77.0.2/32" 192.0.2.12:51820
lab_peer b a "10.77.0.1/32"
# lab_conf sets log_level = debug first; the flood would make megabytes of it.
sed -i '0,/^log_level = debug$/{/^log_level = debug$/d}' "$WORK/b.conf"
# The spoofed sources live behind m: b's cookie replies go there, and b
# must accept datagrams from them (no reverse-path filter).
nsx b ip route add 203.0.113.0/24 via 192.0.2.66
nsx b sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0

ctl_b() { printf 'show\n\n' | socat -t 2 - "UNIX-CONNECT:$WORK/b.sock"; }
field_b() { ctl_b | sed -n "s/^$1=//p" | head -1; }
cpu_b() { awk '{ printf "%.2f", ($14 + $15) / '"$(getconf CLK_TCK)"' }' "/proc/${PID[b]}/stat"; }

lab_start b
lab_start a
check "a pings b" wait_ping a 10.77.0.2 10

# Polls b's control socket every 0.25 s until killed; one line per answer
# slower than 1 s (or missing).
ctl_watch() {
	while :; do
		local t0 t1
		t0=$(date +%s%N)
		if ! timeout 1 "$BUILD/p2pvpnctl" show -s "$WORK/b.sock" > /dev/null 2>&1; then
			echo "no answer within 1 s at $(date +%T.%N)"
		fi
		t1=$(date +%s%N)
		[ $(((t1 - t0) / 1000000)) -le 1000 ] || echo "slow: $(((t1 - t0) / 1000000)) ms"
		sleep 0.25
	done
}

# flood RATE MAXLOSS: 10 s of flood with 100 pings at 10/s alongside.
flood() {
	local rate=$1 maxloss=$2 cpu0 cpu1 loss slow
	cpu0=$(cpu_b)
	ctl_watch > "$WORK/ctl.$rate" 2>&1 &
	local watch=$!
	nsq m "$BUILD/hsflood" 192.0.2.12 51820 "$(pub b)" "$rate" 10 203.0.113.0/24 \
		> "$WORK/flood.$rate" 2>&1 &
	local fl=$!
	sleep 0.2
	nsq a ping -q -i 0.1 -c 100 -W 1 10.77.0.2 > "$WORK/ping.$rate" 2>&1 || true
	wait "$fl" || true
	kill "$watch" 2>/dev/null || true
	wait "$watch" 2>/dev/null || true
	cpu1=$(cpu_b)
	loss=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$WORK/ping.$rate")
	slow=$(wc -l < "$WORK/ctl.$rate")
	say "flood $rate/s: $(cat "$WORK/flood.$rate")"
	say "flood $rate/s: ping loss ${loss:-?}%, control socket late/missing $slow times," \
		"b used $(awk "BEGIN { print $cpu1 - $cpu0 }") CPU s in ~10 s"
	check "ping loss <= $maxloss% at $rate/s" awk "BEGIN { exit !(\"${loss:-100}\" + 0 <= $maxloss) }"
	check "control socket answered within 1 s at $rate/s" test "$slow" = 0
}

flood 20000 5
check "b went under load" test "$(field_b under_load_entered)" -ge 1
check "b sent cookie replies" test "$(field_b cookie_replies_sent)" -ge 1
check "b refused DH work without mac2" test "$(field_b drop_handshake_no_mac2)" -ge 1000
# The same counters in show --json, as numbers, matching the text reply.
json_b() { "$BUILD/p2pvpnctl" show -s "$WORK/b.sock" --json |
	python3 -c "import json,sys; v=json.load(sys.stdin)['interface']['$1']; print(v)"; }
check "show --json has under_load_entered" test "$(json_b under_load_entered)" -ge 1
check "show --json has cookie_replies_sent" test "$(json_b cookie_replies_sent)" -ge 1
check "show --json has under_load (a bool)" grep -qxE 'True|False' <<< "$(json_b under_load)"
flood 80000 20

# A fresh handshake during a flood: a restarts (new session, new cookie
# maker); b is under load, so a's first initiation gets a cookie reply and
# the retry carries mac2.
nsq m "$BUILD/hsflood" 192.0.2.12 51820 "$(pub b)" 20000 25 203.0.113.0/24 \
	> "$WORK/flood.hs" 2>&1 &
FL=$!
sleep 1
lab_stop a
lab_start a
check "a's fresh handshake completes during the flood" wait_ping a 10.77.0.2 20
check "a received a cookie" grep -q "cookie received" "$WORK/a.log"
wait "$FL" || true
say "b's counters: $(ctl_b | grep -E '^(under_load|cookie|drop_handshake|drop_cookie)' | tr '\n' ' ')"
finish
