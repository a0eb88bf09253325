# Helpers for lab tests of the tunnel itself (no NAT): hosts in network
# namespaces on one switch, each running p2pvpnd from the build tree.
#
#            +-------------- PREFIX-sw (bridge br0) --------------+
#            |                     |                              |
#      PREFIX-a 192.0.2.11   PREFIX-b 192.0.2.12      PREFIX-c 192.0.2.13 ...
#      p2p0 10.77.0.1        p2p0 10.77.0.2           p2p0 10.77.0.3
#
# Source it after setting PREFIX (unique per test). It installs an EXIT trap
# that stops the daemons it started (by PID) and deletes its namespaces.
# Every command that changes something is echoed as "[ns] command".

set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "SKIP: lab tests need root"; exit 77; }
BUILD=${P2PVPN_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
SRC=${P2PVPN_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
for b in p2pvpnd p2pvpnctl; do
	[ -x "$BUILD/$b" ] || { echo "missing $BUILD/$b (build first)"; exit 1; }
done
: "${PREFIX:?set PREFIX before sourcing peers.sh}"
WORK=$(mktemp -d "/tmp/${PREFIX}.XXXXXX")
declare -A PID=()
declare -a NSLIST=()
PASSED=0
FAILED=0

say() { printf '%s\n' "$*"; }
# Runs a command in a lab namespace, echoing it.
nsx() {
	local ns=$1; shift
	printf '[%s] %s\n' "$ns" "$*"
	ip netns exec "$PREFIX-$ns" "$@"
}
# Same, silently (for polling).
nsq() {
	local ns=$1; shift
	ip netns exec "$PREFIX-$ns" "$@"
}

lab_cleanup() {
	local rc=$?
	for n in "${!PID[@]}"; do
		kill "${PID[$n]}" 2>/dev/null || true
	done
	for n in "${!PID[@]}"; do
		wait "${PID[$n]}" 2>/dev/null || true
	done
	for ns in "${NSLIST[@]}"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	if [ "$rc" != 0 ] && [ -d "$WORK" ]; then
		for f in "$WORK"/*.log; do
			[ -f "$f" ] || continue
			echo "---- $f (last 30 lines)"
			tail -n 30 "$f"
		done
	fi
	rm -rf "$WORK"
	exit "$rc"
}
trap lab_cleanup EXIT

lab_switch() {
	ip netns add "$PREFIX-sw"
	NSLIST+=("$PREFIX-sw")
	nsx sw ip link add br0 type bridge
	nsx sw ip link set br0 up
	nsx sw ip link set lo up
}

# lab_host NAME IP: a namespace attached to the switch with IP/24 and lo up.
lab_host() {
	local name=$1 ip=$2 tmp="p2t$$${#NSLIST[@]}"
	ip netns add "$PREFIX-$name"
	NSLIST+=("$PREFIX-$name")
	ip link add "$tmp" type veth peer name "${tmp}s"
	ip link set "$tmp" netns "$PREFIX-$name"
	ip link set "${tmp}s" netns "$PREFIX-sw"
	nsq "$name" ip link set "$tmp" name eth0
	nsq sw ip link set "${tmp}s" name "v-$name"
	nsq sw ip link set "v-$name" master br0 up
	nsx "$name" ip addr add "$ip/24" dev eth0
	nsq "$name" ip link set eth0 up
	nsq "$name" ip link set lo up
}

# lab_keys NAME: writes $WORK/NAME.key (0600) and sets KEY_NAME/PUB_NAME.
lab_keys() {
	local name=$1
	(umask 077; "$BUILD/p2pvpnctl" genkey > "$WORK/$name.key")
	"$BUILD/p2pvpnctl" pubkey < "$WORK/$name.key" > "$WORK/$name.pub"
}
pub() { cat "$WORK/$1.pub"; }

# lab_conf NAME "ADDRESSES" [extra interface lines...]: starts NAME's config.
lab_conf() {
	local name=$1 addrs=$2; shift 2
	{
		echo "[interface]"
		echo "address = $addrs"
		echo "private_key_file = $WORK/$name.key"
		echo "listen_port = 51820"
		echo "control_socket = $WORK/$name.sock"
		echo "keepalive = 5"
		echo "log_level = debug"
		for l in "$@"; do echo "$l"; done
	} > "$WORK/$name.conf"
}

# lab_peer NAME PEER "ALLOWED" [ENDPOINT]: appends a peer section.
lab_peer() {
	local name=$1 peer=$2 allowed=$3 ep=${4:-}
	{
		echo
		echo "[peer \"$peer\"]"
		echo "public_key = $(pub "$peer")"
		echo "allowed_ips = $allowed"
		[ -z "$ep" ] || echo "endpoint = $ep"
	} >> "$WORK/$name.conf"
}

# lab_start NAME [WRAPPER...]: runs p2pvpnd in NAME's namespace in the
# foreground (logging to $WORK/NAME.log) and waits for its control socket.
lab_start() {
	local name=$1; shift
	rm -f "$WORK/$name.sock"
	printf '[%s] %s\n' "$name" "$* p2pvpnd -f -c $WORK/$name.conf"
	ip netns exec "$PREFIX-$name" "$@" "$BUILD/p2pvpnd" -f -c "$WORK/$name.conf" \
		>> "$WORK/$name.log" 2>&1 &
	PID[$name]=$!
	for _ in $(seq 1 100); do
		[ -S "$WORK/$name.sock" ] && return 0
		kill -0 "${PID[$name]}" 2>/dev/null || { echo "p2pvpnd $name exited"; return 1; }
		sleep 0.1
	done
	echo "p2pvpnd $name: no control socket after 10 s"
	return 1
}

# lab_stop NAME [SIGNAL]: stops the daemon we started and waits for it.
lab_stop() {
	local name=$1 sig=${2:-TERM} rc=0
	[ -n "${PID[$name]:-}" ] || return 0
	say "[$name] kill -$sig ${PID[$name]}"
	kill -"$sig" "${PID[$name]}" 2>/dev/null || true
	wait "${PID[$name]}" 2>/dev/null || rc=$?
	unset "PID[$name]"
	return 0
}

show() { "$BUILD/p2pvpnctl" show -s "$WORK/$1.sock" "${@:2}"; }

# wait_ping NS ADDR [TIMEOUT_S]: first successful ping within the timeout.
wait_ping() {
	local ns=$1 addr=$2 t=${3:-10} i
	for i in $(seq 1 $((t * 5))); do
		nsq "$ns" ping -c 1 -W 0.2 "$addr" > /dev/null 2>&1 && return 0
	done
	return 1
}

check() {
	local what=$1; shift
	if "$@"; then
		say "ok: $what"
		PASSED=$((PASSED + 1))
	else
		say "FAIL: $what"
		FAILED=$((FAILED + 1))
	fi
}

finish() {
	say "$PASSED passed, $FAILED failed"
	[ "$FAILED" = 0 ]
}
