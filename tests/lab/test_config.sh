#!/usr/bin/env bash
# Bad configurations against the real binary, in a namespace of its own:
#
#   PREFIX-a (no links but lo)
#
# Proves: each bad config case gives its message (file:line: key: problem)
# and exit 1, with --check and without; a config that validates but fails
# at start-up (UDP port taken) exits 1; in every case no interface is left
# behind. A good config passes --check with exit 0. A config holding a key
# inline must be as private as a key file: mode 0600 and owned by root or the
# daemon's user.
PREFIX=p2cfg$$
source "$(dirname "$0")/peers.sh"
# Configs below may hold a key inline: written private unless a case says not.
umask 077

lab_switch
lab_host a 192.0.2.11
lab_keys a
lab_keys b
KEY=$(cat "$WORK/a.key")
PUB_B=$(pub b)
C="$WORK/bad.conf"

good() {
	cat <<CONF
[interface]
name = p2p0
address = 10.77.0.1/24
private_key_file = $WORK/a.key
control_socket = $WORK/a.sock

[peer "b"]
public_key = $PUB_B
allowed_ips = 10.77.0.2/32
CONF
}

# expect_bad NAME EXPECTED-FRAGMENT: the config in $C must be refused.
expect_bad() {
	local name=$1 frag=$2 out rc
	out=$("$BUILD/p2pvpnd" --check -c "$C" 2>&1) && rc=0 || rc=$?
	if [ "$rc" = 1 ] && grep -qF -- "$frag" <<< "$out"; then
		:
	else
		say "  --check said (exit $rc): $out"
		check "$name: --check exit 1 with '$frag'" false
		return
	fi
	out=$(ip netns exec "$PREFIX-a" "$BUILD/p2pvpnd" -f -c "$C" 2>&1) && rc=0 || rc=$?
	if [ "$rc" = 1 ] && grep -qF -- "$frag" <<< "$out" && ! nsq a ip link show p2p0 > /dev/null 2>&1; then
		check "$name" true
	else
		say "  p2pvpnd said (exit $rc): $out"
		check "$name: start refused, no interface" false
	fi
}

good > "$C"
check "good config passes --check" "$BUILD/p2pvpnd" --check -c "$C"

good | sed 's/^mtu.*//; s/^name = p2p0/name = p2p0\nmtux = 1420/' > "$C"
expect_bad "unknown key" "$C:3: mtux"
good | sed "s/^public_key = .*/public_key = not-base64!!/" > "$C"
expect_bad "bad base64 public key" "$C:8: public_key"
good | sed "s|^public_key = .*|public_key = ${PUB_B:0:40}|" > "$C"
expect_bad "short public key" "$C:8: public_key"
good | sed "s#^allowed_ips = .*#allowed_ips = 10.77.0.2/33#" > "$C"
expect_bad "bad CIDR" "$C:9: allowed_ips"
good | sed "s#^address = .*#address = 10.77.0.300/24#" > "$C"
expect_bad "bad interface address" "$C:3: address"
{ good; printf '\n[peer "b"]\npublic_key = %s\nallowed_ips = 10.77.0.3/32\n' "$(pub a)"; } > "$C"
expect_bad "duplicate peer name" "$C:11:"
{ good; printf '\n[peer "c"]\npublic_key = %s\nallowed_ips = 10.77.0.3/32\n' "$PUB_B"; } > "$C"
expect_bad "duplicate public key" "$C:12: public_key"
lab_keys c
{ good; printf '\n[peer "c"]\npublic_key = %s\nallowed_ips = 10.77.0.0/30\n' "$(pub c)"; } > "$C"
expect_bad "overlapping allowed_ips" "$C:13: allowed_ips"
good | grep -v private_key_file > "$C"
expect_bad "missing private key" "private_key"
chmod 0644 "$WORK/a.key"
good > "$C"
expect_bad "world-readable key file" "$WORK/a.key"
chmod 0600 "$WORK/a.key"
good | sed "s#^private_key_file = .*#private_key = ${KEY:0:20}#" > "$C"
expect_bad "bad private key" "$C:4: private_key"
# An inline key in a config others can read: refused, as a key file would be.
good | sed "s#^private_key_file = .*#private_key = $KEY#" > "$C"
check "inline key in a 0600 config passes --check" "$BUILD/p2pvpnd" --check -c "$C"
chmod 0644 "$C"
expect_bad "world-readable config with an inline key" \
	"$C:4: private_key: config file holds a key but is accessible by group or others, mode 0644"
good | sed "s#^\[peer \"b\"\]#[peer \"b\"]\npreshared_key = $KEY#" > "$C"
chmod 0640 "$C"
expect_bad "group-readable config with a preshared key" "$C:8: preshared_key: config file holds a key"
# Owned by another user, who could read or swap the key: refused at any mode.
rm -f "$C" # a redirection keeps the old mode; start again at 0600
good | sed "s#^private_key_file = .*#private_key = $KEY#" > "$C"
chown 65534 "$C"
expect_bad "config with an inline key owned by another uid" "$C:4: private_key: config file holds a key but is owned by uid 65534"
chown 0 "$C"
cp "$WORK/a.key" "$WORK/other.key"
chown 65534 "$WORK/other.key"
good | sed "s#^private_key_file = .*#private_key_file = $WORK/other.key#" > "$C"
expect_bad "key file owned by another uid" "key file is owned by uid 65534"
good | sed "s#^private_key_file = .*#private_key_file = $WORK/nonexistent.key#" > "$C"
expect_bad "missing key file" "$WORK/nonexistent.key"
good | sed "s#^\[peer \"b\"\]#[peer \"b\"]\nendpoint = 192.0.2.12#" > "$C"
expect_bad "endpoint without port" "$C:8: endpoint"
good | sed "s#^name = p2p0#name = this-name-is-far-too-long#" > "$C"
expect_bad "interface name too long" "$C:2: name"
expect_out=$("$BUILD/p2pvpnd" --check -c "$WORK/does-not-exist.conf" 2>&1) || true
check "missing config file named" grep -qF "$WORK/does-not-exist.conf" <<< "$expect_out"
# The key never appears in an error message.
good | sed "s#^private_key_file = .*#private_key = ${KEY:0:43}#" > "$C"
out=$("$BUILD/p2pvpnd" --check -c "$C" 2>&1) || true
check "private key value not echoed" bash -c "! grep -qF '${KEY:0:20}' <<< \"\$1\"" _ "$out"

# Valid config, failing start: the UDP port is taken. Nothing may remain.
good > "$C"
ip netns exec "$PREFIX-a" socat -u UDP4-RECV:51820 /dev/null &
SOCAT=$!
sleep 0.3
rc=0
nsx a "$BUILD/p2pvpnd" -f -c "$C" > "$WORK/start.log" 2>&1 || rc=$?
kill $SOCAT; wait $SOCAT 2>/dev/null || true
cat "$WORK/start.log"
check "start-up failure exits 1" test "$rc" = 1
check "start-up failure names the port" grep -q "51820" "$WORK/start.log"
check "start-up failure leaves no interface" bash -c "! ip netns exec $PREFIX-a ip link show p2p0 2>/dev/null"
check "start-up failure leaves no control socket" test ! -e "$WORK/a.sock"
finish
