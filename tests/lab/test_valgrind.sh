#!/usr/bin/env bash
# p2pvpnd under valgrind for a short ping exchange:
#
#   a 192.0.2.11 (valgrind p2pvpnd) ---+--- b 192.0.2.12 (p2pvpnd)
#
# Proves: no memory errors and no leaks on the data path, the handshake,
# a reload and a clean shutdown.
PREFIX=p2vg$$
source "$(dirname "$0")/peers.sh"
command -v valgrind > /dev/null || { echo "SKIP: no valgrind"; exit 77; }

lab_switch
lab_host a 192.0.2.11
lab_host b 192.0.2.12
for n in a b; do lab_keys $n; done
lab_conf a "10.77.0.1/24, fd77::1/64"
lab_conf b "10.77.0.2/24, fd77::2/64"
lab_peer a b "10.77.0.2/32, fd77::2/128" 192.0.2.12:51820
lab_peer b a "10.77.0.1/32, fd77::1/128" 192.0.2.11:51820
lab_start b
lab_start a valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible \
	--errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 \
	--log-file="$WORK/valgrind.log"
check "a pings b (under valgrind)" wait_ping a 10.77.0.2 30
check "b pings a over IPv6" wait_ping b fd77::1 10
nsx a ping -c 20 -i 0.05 -s 1300 10.77.0.2 > /dev/null
kill -HUP "${PID[a]}"
sleep 1
show a > /dev/null
pid=${PID[a]}
say "[a] kill -TERM $pid"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
unset "PID[a]"
tail -n 15 "$WORK/valgrind.log"
check "valgrind: exit status 0" test "$rc" = 0
check "valgrind: no errors" grep -q "ERROR SUMMARY: 0 errors" "$WORK/valgrind.log"
check "valgrind: all heap blocks freed" grep -q "All heap blocks were freed" "$WORK/valgrind.log"
finish
