#!/usr/bin/env bash
# Reload and restart:
#
#   a 192.0.2.11 ---+--- b 192.0.2.12 ---+--- c 192.0.2.13
#
# Proves: SIGHUP adds a peer (c) and removes it again while a ping to b runs
# without loss; a bad config on SIGHUP is logged and the running one kept;
# kill -9 then restart re-establishes the tunnel within a few seconds.
PREFIX=p2rld$$
source "$(dirname "$0")/peers.sh"

lab_switch
lab_host a 192.0.2.11
lab_host b 192.0.2.12
lab_host c 192.0.2.13
for n in a b c; do lab_keys $n; done
lab_conf a "10.77.0.1/24"
lab_conf b "10.77.0.2/24"
lab_conf c "10.77.0.3/24"
lab_peer a b "10.77.0.2/32" 192.0.2.12:51820
cp "$WORK/a.conf" "$WORK/a-without-c.conf"
lab_peer a c "10.77.0.3/32" 192.0.2.13:51820
cp "$WORK/a.conf" "$WORK/a-with-c.conf"
cp "$WORK/a-without-c.conf" "$WORK/a.conf"
lab_peer b a "10.77.0.1/32" 192.0.2.11:51820
lab_peer c a "10.77.0.1/32" 192.0.2.11:51820
for n in a b c; do lab_start $n; done
check "a pings b" wait_ping a 10.77.0.2 10
check "c is not reachable before the reload" bash -c "! ip netns exec $PREFIX-a ping -c 1 -W 1 10.77.0.3 >/dev/null 2>&1"

# A ping to b runs across all reloads; it must lose nothing.
nsq a ping -i 0.1 -c 120 -W 1 10.77.0.2 > "$WORK/ping.log" 2>&1 &
PING=$!
sleep 1
cp "$WORK/a-with-c.conf" "$WORK/a.conf"
say "[a] kill -HUP ${PID[a]}"
kill -HUP "${PID[a]}"
check "after SIGHUP a reaches the new peer c" wait_ping a 10.77.0.3 10
cp "$WORK/a-without-c.conf" "$WORK/a.conf"
say "[a] kill -HUP ${PID[a]}"
kill -HUP "${PID[a]}"
sleep 1
check "after SIGHUP c is gone again" bash -c "! ip netns exec $PREFIX-a ping -c 2 -W 1 10.77.0.3 >/dev/null 2>&1"
show a
check "show no longer lists c" bash -c "! \"$BUILD/p2pvpnctl\" show -s $WORK/a.sock | grep -q 'peer: c'"
# A broken config: logged, the running one kept.
echo "this is = [not valid" >> "$WORK/a.conf"
kill -HUP "${PID[a]}"
sleep 1
check "bad reload logged" grep -q "reload failed" "$WORK/a.log"
check "a still running after bad reload" kill -0 "${PID[a]}"
wait $PING || true
cat "$WORK/ping.log" | tail -3
check "the ping to b lost nothing across reloads" grep -q " 0% packet loss" "$WORK/ping.log"

# kill -9 and restart: back within a few seconds.
cp "$WORK/a-without-c.conf" "$WORK/a.conf"
lab_stop a KILL
sleep 0.5
start=$(date +%s.%N)
lab_start a
check "tunnel back within 5 s of restart" wait_ping a 10.77.0.2 5
say "re-established in $(python3 -c "print(round($(date +%s.%N) - $start, 2))") s"
finish
