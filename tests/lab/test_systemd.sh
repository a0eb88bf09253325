#!/usr/bin/env bash
# The systemd units, for real: a Debian bookworm system booted with
# systemd-nspawn, the project installed into it by `cmake --install`, and
# p2pvpnd and p2pvpn-rendezvous run by its systemd as the units say.
#
#   PREFIX-a (netns)                                  PREFIX-b (netns)
#   +----------------------------------------+
#   | systemd-nspawn --boot (Debian 12)      |
#   |   PID 1 systemd                        |
#   |   p2pvpnd.service   p2p0 10.77.0.1     |
#   |   p2pvpn-rendezvous.service :3478      |
#   +--- eth0 192.0.2.11 --------------------+------ veth ------ eth0 192.0.2.12
#                                                     build/p2pvpnd, p2p0 10.77.0.2
#
# The container's root is an overlay on the cached tree of tools/rootfs (which
# stays untouched). Commands run inside the container through nsenter into
# its init's namespaces (it is not registered with machined) and are echoed
# as "[ctr] command".
#
# Proves: cmake --install puts binaries, units and examples where DESIGN.md
# says; `systemctl start p2pvpnd` returns once the interface is up (Type=notify)
# and the unit is active; p2pvpnd runs as a non-root dynamic user holding
# CAP_NET_ADMIN only, non-dumpable, without core dumps, under MemoryMax=, and
# sees its key (a credential) and nothing else of /etc/p2pvpn; as that user
# it still creates p2p0 and sets the routes of allowed_ips, and a reload
# that adds a prefix adds its route; the peer outside pings the tunnel
# address inside;
# `p2pvpnctl show` works in the container; the watchdog is fed; `systemctl
# reload` keeps the unit and a running ping alive, and fails on a bad config
# without disturbing the tunnel; `systemctl stop` removes p2p0; the
# rendezvous unit runs as an unprivileged dynamic user with no capabilities,
# non-dumpable and without core dumps, reads its root-only key and answers
# STUN; both units' exposure scores from
# `systemd-analyze security` stay low; enabled, p2pvpnd comes up at boot
# and carries traffic; the container powers off cleanly.

# shellcheck disable=SC2016 # lab_on_exit code is expanded when it runs
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

SRC=${P2PVPN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${P2PVPN_BUILD:-$SRC/build}
PREFIX=p2sd$$
NSA=$PREFIX-a
NSB=$PREFIX-b
# Bounds: building the root tree when it is not cached, and the container's
# whole life (the cleanup powers it off long before, normally).
ROOTFS_TIMEOUT=${P2PVPN_ROOTFS_TIMEOUT:-360}
CONTAINER_TIMEOUT=240
# Upper bounds for `systemd-analyze security` (0 = locked down, 10 = exposed).
# Measured on bookworm (systemd 252): p2pvpnd 1.5 (1.9 while it ran as
# uid 0), p2pvpn-rendezvous 1.1.
MAX_EXPOSURE_DAEMON=2.0
MAX_EXPOSURE_RENDEZVOUS=2.0

lab_require_root
lab_require_cmds ip nsenter systemd-nspawn debootstrap cmake python3 timeout flock
for b in p2pvpnd p2pvpnctl p2pvpn-rendezvous; do
	[ -x "$BUILD/$b" ] || { echo "missing $BUILD/$b (build first)" >&2; exit 1; }
done

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

lab_trap_cleanup

# The root tree: built once, then reused (tools/rootfs caches it).
lab_log root "$SRC/tools/rootfs --timeout $ROOTFS_TIMEOUT"
if ! ROOTFS=$("$SRC/tools/rootfs" --timeout "$ROOTFS_TIMEOUT"); then
	echo "SKIP: ${0##*/}: no Debian root tree (tools/rootfs failed, see above)" >&2
	exit 77
fi

WORK=$(mktemp -d "/tmp/$PREFIX.XXXXXX")
lab_on_exit 'rm -rf --one-file-system "$WORK"'
ROOT=$WORK/root
mkdir -p "$WORK/upper" "$WORK/ovl" "$ROOT"

# The container's root: an overlay, so the cached tree is never written; a
# full copy where overlayfs is not available.
if lab_run root mount -t overlay overlay \
	-o "lowerdir=$ROOTFS,upperdir=$WORK/upper,workdir=$WORK/ovl" "$ROOT"; then
	lab_on_exit 'umount "$ROOT" 2>/dev/null || umount -l "$ROOT"'
else
	lab_run root cp -a "$ROOTFS/." "$ROOT/"
fi

# Install exactly as a user would, into the container's /usr.
lab_log root "DESTDIR=$ROOT cmake --install $BUILD --prefix /usr"
DESTDIR=$ROOT cmake --install "$BUILD" --prefix /usr > "$WORK/install.log"
installed() {
	local f
	for f in /usr/sbin/p2pvpnd /usr/bin/p2pvpnctl /usr/bin/p2pvpn-rendezvous \
		/usr/lib/systemd/system/p2pvpnd.service \
		/usr/lib/systemd/system/p2pvpn-rendezvous.service \
		/usr/share/doc/p2pvpn/examples/p2pvpn.conf.example \
		/usr/share/doc/p2pvpn/examples/p2pvpn-rendezvous.conf.example; do
		[ -f "$ROOT$f" ] || { echo "not installed: $f"; return 1; }
	done
	cmp -s "$ROOT/usr/lib/systemd/system/p2pvpnd.service" "$SRC/systemd/p2pvpnd.service"
}
check "cmake --install puts binaries, units and examples in place" installed

# Keys and configs, as the README tells an administrator to lay them out:
# the key files root-only, both configs world-readable (they hold public keys
# only; the daemons' users must read them at start and on every reload).
mkkey() { (umask 077 && "$BUILD/p2pvpnctl" genkey > "$1"); }
pubkey() { "$BUILD/p2pvpnctl" pubkey < "$1"; }
install -d -m 0700 "$ROOT/etc/p2pvpn"
mkkey "$ROOT/etc/p2pvpn/private.key"
mkkey "$ROOT/etc/p2pvpn/rendezvous.key"
mkkey "$WORK/b.key"
# 10.78.0.0/16 lies outside p2p0's own subnet: its route is one the daemon
# must add over rtnetlink (the kernel adds only the prefix route).
(umask 022 && cat > "$ROOT/etc/p2pvpn.conf") <<EOF
[interface]
address = 10.77.0.1/24
private_key_file = /etc/p2pvpn/private.key
listen_port = 51820
keepalive = 5

[peer "b"]
public_key = $(pubkey "$WORK/b.key")
allowed_ips = 10.77.0.2/32, 10.78.0.0/16
endpoint = 192.0.2.12:51820
EOF
cp -p "$ROOT/etc/p2pvpn.conf" "$WORK/a.conf.good"
(umask 022 && cat > "$ROOT/etc/p2pvpn-rendezvous.conf") <<EOF
[rendezvous]
listen = 0.0.0.0:3478
private_key_file = /etc/p2pvpn/rendezvous.key
relay = yes
open = yes
EOF
(umask 077 && cat > "$WORK/b.conf") <<EOF
[interface]
address = 10.77.0.2/24
private_key_file = $WORK/b.key
listen_port = 51820
keepalive = 5
control_socket = $WORK/b.sock

[peer "a"]
public_key = $(pubkey "$ROOT/etc/p2pvpn/private.key")
allowed_ips = 10.77.0.1/32
endpoint = 192.0.2.11:51820
EOF
# What udev's default rule (KERNEL=="tun", MODE="0666") does on a real
# system, for the container, where no udev runs and systemd-nspawn copies
# the node with the host's mode (0600 on some hosts): a non-root daemon with
# CAP_NET_ADMIN must be able to open it. Only the container's own node
# (made by systemd-nspawn in the container's /dev) is changed, never a node
# bind-mounted from the host.
cat > "$ROOT/etc/systemd/system/test-tun-mode.service" <<'UNIT'
[Unit]
Description=test: /dev/net/tun mode 0666, as udev sets it
DefaultDependencies=no
Before=p2pvpnd.service
[Service]
Type=oneshot
ExecStart=/bin/sh -c '! findmnt -n --mountpoint /dev/net/tun && chmod 0666 /dev/net/tun'
[Install]
WantedBy=sysinit.target
UNIT
mkdir -p "$ROOT/etc/systemd/system/sysinit.target.wants"
ln -sf ../test-tun-mode.service "$ROOT/etc/systemd/system/sysinit.target.wants/test-tun-mode.service"
HOST_TUN_MODE=$(stat -c %a /dev/net/tun)
# A short watchdog for the test only, so that its feeding shows in seconds.
mkdir -p "$ROOT/etc/systemd/system/p2pvpnd.service.d"
printf '[Service]\nWatchdogSec=2s\n' > "$ROOT/etc/systemd/system/p2pvpnd.service.d/test-watchdog.conf"

# The wire: two namespaces joined by a veth.
lab_run root ip netns add "$NSA"
lab_on_exit 'ip netns del "$NSA"'
lab_run root ip netns add "$NSB"
lab_on_exit 'ip netns del "$NSB"'
lab_run root ip -n "$NSA" link add eth0 type veth peer name eth0 netns "$NSB"
lab_run "$NSA" ip addr add 192.0.2.11/24 dev eth0
lab_run "$NSB" ip addr add 192.0.2.12/24 dev eth0
for ns in "$NSA" "$NSB"; do
	ip -n "$ns" link set lo up
	ip -n "$ns" link set eth0 up
done

# The container runs in namespace a; each boot's lifetime is bounded by
# timeout(1), whose PID is TIMEOUT_PID; CPID is the container's init.
TIMEOUT_PID=
CPID=
lab_on_exit 'container_poweroff'

# The container's init: a descendant of timeout(1) that is PID 1 in a PID
# namespace one level below ours.
OUR_NSPID_LEVELS=$(awk '/^NSpid:/ { print NF }' /proc/self/status)
descends_from() {
	local p=$1 anc=$2
	while [ -n "$p" ] && [ "$p" -gt 1 ]; do
		[ "$p" = "$anc" ] && return 0
		p=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2> /dev/null) || return 1
	done
	return 1
}
find_init() {
	local st p
	for st in /proc/[0-9]*/status; do
		awk -v n="$((OUR_NSPID_LEVELS + 1))" \
			'/^NSpid:/ { ok = (NF == n && $NF == 1) } END { exit !ok }' "$st" 2> /dev/null || continue
		p=${st#/proc/}
		p=${p%/status}
		descends_from "$p" "$TIMEOUT_PID" && { CPID=$p; return 0; }
	done
	return 1
}

# ctr CMD...: runs CMD in the container (all of its init's namespaces).
ctr() {
	lab_log ctr "$@"
	SYSTEMD_COLORS=0 SYSTEMD_PAGER=cat nsenter -a -t "$CPID" -- "$@"
}
ctrq() { SYSTEMD_COLORS=0 SYSTEMD_PAGER=cat nsenter -a -t "$CPID" -- "$@"; }
prop() { ctrq systemctl show -P "$2" "$1" 2> /dev/null || echo '?'; }
# running PID: alive and not a zombie (our children stay zombies until waited).
running() { [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2> /dev/null; }
not_running() { ! running "$1"; }

# container_boot: starts systemd-nspawn and waits until the container's
# systemd reports the system up ("running", or "degraded" with the failed
# units listed).
container_boot() {
	local s
	lab_bg root "$WORK/nspawn.log" timeout --kill-after=10 "$CONTAINER_TIMEOUT" \
		systemd-nspawn --boot --register=no --keep-unit --machine="$PREFIX" \
		--capability=CAP_NET_ADMIN --network-namespace-path="/run/netns/$NSA" \
		--console=read-only -D "$ROOT"
	TIMEOUT_PID=$LAB_BG_PID
	CPID=
	if ! lab_wait_for 30 find_init; then
		echo "the container did not start:"
		tail -n 30 "$WORK/nspawn.log"
		return 1
	fi
	# PID 1 exists before its bus does: until systemd listens on
	# /run/systemd/private, systemctl prints nothing ("Failed to connect to
	# bus"), so ask again until it gives a settled state.
	lab_wait_for 90 system_settled || true
	s=$SYSTEM_STATE
	echo "system state: ${s:-none, systemctl got no answer}"
	[ "$s" = running ] || ctr systemctl --failed --no-legend || true
	[ "$s" = running ] || [ "$s" = degraded ]
}

# system_settled: the container's systemd answers with a state past start-up
# (left in SYSTEM_STATE).
SYSTEM_STATE=
system_settled() {
	SYSTEM_STATE=$(ctrq timeout 60 systemctl is-system-running --wait 2> /dev/null) || true
	case $SYSTEM_STATE in
	"" | offline | unknown | initializing | starting) return 1 ;;
	esac
}

# container_poweroff: a clean shutdown through the container's systemd; the
# exit status of systemd-nspawn (0 after a clean power-off). After 20 s it
# kills what it started (timeout, hence systemd-nspawn, and the init).
container_poweroff() {
	local rc=0
	[ -n "$TIMEOUT_PID" ] || return 0
	if [ -n "$CPID" ] && running "$CPID"; then
		ctr systemctl --no-block --check-inhibitors=no poweroff > /dev/null 2>&1 || true
	fi
	if ! lab_wait_for 20 not_running "$TIMEOUT_PID"; then
		echo "the container still runs after 20 s: killing it"
		lab_kill_pid "$TIMEOUT_PID"
		[ -z "$CPID" ] || kill -KILL "$CPID" 2> /dev/null || true
		rc=1
	fi
	wait "$TIMEOUT_PID" 2> /dev/null || rc=$?
	echo "systemd-nspawn exited with $rc"
	TIMEOUT_PID=
	CPID=
	return "$rc"
}

if ! container_boot; then
	echo "FAIL: the container boots"
	echo "$PASSED passed, 1 failed"
	exit 1
fi
echo "ok: the container boots (systemd is PID 1)"
PASSED=$((PASSED + 1))

# Both units as installed: systemd-analyze verify finds nothing to say.
verify() {
	local out
	out=$(ctrq systemd-analyze verify p2pvpnd.service p2pvpn-rendezvous.service 2>&1) || {
		echo "$out"
		return 1
	}
	[ -z "$out" ] || { echo "$out"; return 1; }
}
check "systemd-analyze verify accepts both units" verify

# Type=notify: `systemctl start` returns after READY=1, which the daemon
# sends once p2p0 is up, so the interface exists the moment start returns.
check "systemctl start p2pvpnd succeeds" ctr systemctl start p2pvpnd
check "p2p0 exists when start returns" ip -n "$NSA" link show p2p0
state=$(prop p2pvpnd ActiveState)/$(prop p2pvpnd SubState)/$(prop p2pvpnd Type)
echo "p2pvpnd: $state"
check "p2pvpnd is active (running, Type=notify)" test "$state" = active/running/notify
MAINPID=$(prop p2pvpnd MainPID)
sandbox() {
	local st
	st=$(ctrq cat "/proc/$MAINPID/status")
	grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs|Seccomp|VmRSS):' <<< "$st"
	! grep -q '^Uid:[[:space:]]*0[[:space:]]' <<< "$st" &&
		grep -q '^CapEff:[[:space:]]*0000000000001000$' <<< "$st" &&
		grep -q '^CapBnd:[[:space:]]*0000000000001000$' <<< "$st" &&
		grep -q '^NoNewPrivs:[[:space:]]*1$' <<< "$st" &&
		grep -q '^Seccomp:[[:space:]]*2$' <<< "$st"
}
check "p2pvpnd runs as a non-root user with CAP_NET_ADMIN only, no new privileges, a syscall filter" sandbox

# prctl(PR_SET_DUMPABLE, 0) hands the files of /proc/PID (not the directory)
# to root even though the process is not root; LimitCORE=0 shows in its
# limits; MemoryMax= in its cgroup. guarded PID UNIT BYTES: the three.
guarded() {
	local owner core mem
	owner=$(ctrq stat -c %u "/proc/$1/environ") || return 1
	core=$(ctrq sed -n 's/^Max core file size *\([^ ]*\) *\([^ ]*\).*/\1\/\2/p' "/proc/$1/limits")
	mem=$(prop "$2" MemoryMax)
	echo "$2: /proc/$1/environ owned by uid $owner, core limit $core, MemoryMax $mem"
	[ "$owner" = 0 ] && [ "$core" = 0/0 ] && [ "$mem" = "$3" ]
}
check "p2pvpnd is non-dumpable, LimitCORE=0, MemoryMax=256M" \
	guarded "$MAINPID" p2pvpnd $((256 << 20))
own_key() { # PID KEY: /etc/p2pvpn, as PID sees it, holds KEY and nothing else
	local ls
	ls=$(ctrq ls -A "/proc/$1/root/etc/p2pvpn") || return 1
	echo "/etc/p2pvpn as PID $1 sees it: $ls"
	[ "$ls" = "$2" ]
}
check "p2pvpnd sees its own key in /etc/p2pvpn and nothing else" own_key "$MAINPID" private.key
# routes DEST: p2p0 carries a route to DEST.
routes() {
	local r
	r=$(ip -n "$NSA" route show "$1" dev p2p0) || return 1
	echo "route $1: ${r:-none}"
	[ -n "$r" ]
}
check "p2pvpnd, not root, set the route of allowed_ips 10.78.0.0/16" routes 10.78.0.0/16

# The peer outside, a plain build/p2pvpnd in namespace b.
lab_bg "$NSB" "$WORK/b.log" "$BUILD/p2pvpnd" -f -c "$WORK/b.conf"
# shellcheck disable=SC2034 # read by the cleanup code
B_PID=$LAB_BG_PID
lab_on_exit 'lab_kill_pid "$B_PID"'
ping_once() { ip netns exec "$NSB" ping -c 1 -W 0.5 10.77.0.1; }
lab_log "$NSB" ping 10.77.0.1
check "the peer outside pings 10.77.0.1 inside the container" lab_wait_for 15 ping_once

show() {
	local out
	out=$(ctr p2pvpnctl show) || return 1
	echo "$out"
	ctr p2pvpnctl show --json > "$WORK/show.json" || return 1
	python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
p = {x["name"]: x for x in j["peers"]}
assert p["b"]["state"] == "up" and p["b"]["endpoint"] == "192.0.2.12:51820", p
' "$WORK/show.json"
}
check "p2pvpnctl show in the container lists peer b up" show
sock_mode() {
	local m
	m=$(ctrq stat -c %a /run/p2pvpn/p2p0.sock) || return 1
	echo "control socket mode: $m"
	[ "$m" = 600 ]
}
check "the control socket is /run/p2pvpn/p2p0.sock, mode 0600" sock_mode

# The watchdog (2 s in the test drop-in) is fed: the timestamp moves and
# the unit was never restarted.
wd1=$(prop p2pvpnd WatchdogTimestampMonotonic)
sleep 3
wd2=$(prop p2pvpnd WatchdogTimestampMonotonic)
echo "watchdog timestamps: $wd1 -> $wd2"
check "the watchdog is fed" test "$wd2" -gt "$wd1"
check "no restart so far" test "$(prop p2pvpnd NRestarts)" = 0

# Reload while a ping runs: the unit stays active with the same process and
# the ping loses nothing.
reload_under_ping() {
	local ok=0 rx
	lab_log "$NSB" ping -q -c 25 -i 0.2 10.77.0.1 "&"
	ip netns exec "$NSB" ping -q -c 25 -i 0.2 -W 1 10.77.0.1 > "$WORK/ping-reload.txt" 2>&1 &
	PING_PID=$!
	sleep 1
	ctr systemctl reload p2pvpnd || ok=1
	wait "$PING_PID" || true
	PING_PID=
	rx=$(sed -n 's/.* \([0-9]\+\) received.*/\1/p' "$WORK/ping-reload.txt")
	echo "ping during reload: ${rx:-?}/25 received"
	[ "$ok" = 0 ] && [ "${rx:-0}" -ge 24 ]
}
PING_PID=
lab_on_exit '[ -z "$PING_PID" ] || lab_kill_pid "$PING_PID"'
check "systemctl reload succeeds while a ping keeps running" reload_under_ping
check "p2pvpnd is still active after reload, same main PID" \
	test "$(prop p2pvpnd ActiveState)/$(prop p2pvpnd MainPID)" = "active/$MAINPID"
ctr journalctl -u p2pvpnd --no-pager -n 3 -o cat || true

# A bad config on reload: `systemctl reload` fails (the ExecReload check),
# the daemon keeps running with its config, and the tunnel still carries.
lab_log root "echo 'no_such_key = 1' >> $ROOT/etc/p2pvpn.conf"
echo "no_such_key = 1" >> "$ROOT/etc/p2pvpn.conf"
reload_fails() { ! ctr systemctl reload p2pvpnd; }
check "systemctl reload fails on a bad config" reload_fails
cp -p "$WORK/a.conf.good" "$ROOT/etc/p2pvpn.conf"
check "p2pvpnd is still active with the same PID" \
	test "$(prop p2pvpnd ActiveState)/$(prop p2pvpnd MainPID)" = "active/$MAINPID"
check "the tunnel still carries after the failed reload" lab_wait_for 5 ping_once

# A reload that adds a prefix to peer b: the daemon, as its own user,
# re-reads the 0644 config and its credential key and adds the route.
lab_log root "allowed_ips += 10.79.0.0/16 in $ROOT/etc/p2pvpn.conf"
sed -i 's#^allowed_ips = .*#&, 10.79.0.0/16#' "$ROOT/etc/p2pvpn.conf"
check "systemctl reload with a new prefix succeeds" ctr systemctl reload p2pvpnd
check "the reload added the route to 10.79.0.0/16" lab_wait_for 5 routes 10.79.0.0/16
check "p2pvpnd is still active with the same PID after that reload" \
	test "$(prop p2pvpnd ActiveState)/$(prop p2pvpnd MainPID)" = "active/$MAINPID"
check "the tunnel carries after that reload" lab_wait_for 10 ping_once
cp -p "$WORK/a.conf.good" "$ROOT/etc/p2pvpn.conf"

# Stop: SIGTERM, clean exit, the interface removed.
check "systemctl stop p2pvpnd succeeds" ctr systemctl stop p2pvpnd
stopped=$(prop p2pvpnd ActiveState)/$(prop p2pvpnd Result)
echo "p2pvpnd: $stopped"
check "p2pvpnd is inactive with result success" test "$stopped" = inactive/success
check "p2p0 is gone after stop" bash -c "! ip -n '$NSA' link show p2p0 2>/dev/null"

# systemd-analyze security: the exposure score (and what is not locked down).
exposure() {
	local unit=$1 max=$2 out score
	out=$(ctrq systemd-analyze security --no-pager "$unit" 2>&1) || true
	printf '%s\n' "$out" > "$WORK/security-$unit.txt"
	lab_log ctr systemd-analyze security "$unit"
	grep '✗' <<< "$out" | sed 's/^/    /' || true
	score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]\+\).*/\1/p' <<< "$out")
	echo "exposure of $unit: ${score:-?} (must be below $max)"
	[ -n "$score" ] && python3 -c 'import sys; sys.exit(not float(sys.argv[1]) < float(sys.argv[2]))' "$score" "$max"
}
check "systemd-analyze security p2pvpnd below $MAX_EXPOSURE_DAEMON" \
	exposure p2pvpnd.service "$MAX_EXPOSURE_DAEMON"

# The rendezvous: no capabilities, a dynamic user, its root-only key handed
# over as a credential; it answers STUN from the peer outside.
check "systemctl start p2pvpn-rendezvous succeeds" ctr systemctl start p2pvpn-rendezvous
check "p2pvpn-rendezvous is active" test "$(prop p2pvpn-rendezvous ActiveState)" = active
RPID=$(prop p2pvpn-rendezvous MainPID)
unprivileged() {
	local st
	st=$(ctrq cat "/proc/$RPID/status")
	grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs):' <<< "$st"
	! grep -q '^Uid:[[:space:]]*0[[:space:]]' <<< "$st" &&
		grep -q '^CapEff:[[:space:]]*0000000000000000$' <<< "$st" &&
		grep -q '^CapBnd:[[:space:]]*0000000000000000$' <<< "$st" &&
		grep -q '^NoNewPrivs:[[:space:]]*1$' <<< "$st"
}
check "p2pvpn-rendezvous runs as a non-root user with no capabilities" unprivileged
check "the rendezvous sees its own key in /etc/p2pvpn and nothing else" \
	own_key "$RPID" rendezvous.key
check "p2pvpn-rendezvous is non-dumpable, LimitCORE=0, MemoryMax=768M" \
	guarded "$RPID" p2pvpn-rendezvous $((768 << 20))
stun() {
	local out
	lab_log "$NSB" "$BUILD/p2pvpnctl" natcheck --server 192.0.2.11:3478 --json
	out=$(ip netns exec "$NSB" "$BUILD/p2pvpnctl" natcheck --server 192.0.2.11:3478 --json) || {
		echo "$out"
		return 1
	}
	grep -q '"192\.0\.2\.12:' <<< "$out" || { echo "$out"; return 1; }
}
check "the rendezvous answers STUN with the peer's address" stun
check "systemctl reload p2pvpn-rendezvous succeeds" ctr systemctl reload p2pvpn-rendezvous
check "p2pvpn-rendezvous is still active after reload, same main PID" \
	test "$(prop p2pvpn-rendezvous ActiveState)/$(prop p2pvpn-rendezvous MainPID)" = "active/$RPID"
check "systemd-analyze security p2pvpn-rendezvous below $MAX_EXPOSURE_RENDEZVOUS" \
	exposure p2pvpn-rendezvous.service "$MAX_EXPOSURE_RENDEZVOUS"
check "systemctl stop p2pvpn-rendezvous succeeds" ctr systemctl stop p2pvpn-rendezvous

if [ "$FAILED" -gt 0 ]; then
	echo "---- journal of the units in the container"
	ctrq journalctl -u p2pvpnd -u p2pvpn-rendezvous --no-pager -o short-monotonic | tail -n 40 || true
	echo "---- $WORK/b.log (last 20 lines)"
	tail -n 20 "$WORK/b.log" || true
fi

# Enabled, p2pvpnd comes up at boot (WantedBy=multi-user.target) and the
# tunnel works without anyone starting it; the container then powers off
# cleanly (systemd-nspawn exits 0).
check "systemctl enable p2pvpnd succeeds" ctr systemctl enable p2pvpnd
check "the container powers off cleanly" container_poweroff
lab_log root "(boot again)"
check "the container boots again" container_boot
check "p2pvpnd is active after boot" test "$(prop p2pvpnd ActiveState)" = active
check "the peer outside pings 10.77.0.1 after the reboot" lab_wait_for 15 ping_once
check "the container powers off cleanly again" container_poweroff

check "the host's /dev/net/tun keeps its mode ($HOST_TUN_MODE)" \
	test "$(stat -c %a /dev/net/tun)" = "$HOST_TUN_MODE"

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
