#!/usr/bin/env bash
# p2pvpn-rendezvous against real STUN clients, hostile input and strangers:
#
#   ns S (the rendezvous)                       ns C (the client)
#   eth0 192.0.2.10/24 + 192.0.2.20/24 ---veth--- eth0 198.51.100.5/24
#   UDP 3478/3479 on both, TCP 3478
#
# No NAT between them, so every tool must see the client as it is.
# Proves: Debian's RFC 3489 `stun` client says "Open" and coturn's RFC 5780
# turnutils_natdiscovery finds endpoint-independent mapping and filtering;
# each CHANGE-REQUEST is answered from the right address and port;
# no answer is more than 2x its request (natdiscovery runs with -P, RFC 5780
# PADDING, since its bare requests leave no room for OTHER-ADDRESS) and one
# source asking fast gets at most its burst of answers;
# malformed STUN and garbage on any of the four sockets get no answer and
# the server answers afterwards; STUN works over TCP; a properly made
# handshake from a key not in the config gets no answer while a listed key
# registers; all of it again (but rate and reload) with listen = 0.0.0.0:3478
# and the same alternate (and with the kernel's own source as alternate,
# whose partner is unknown: answered as without one); without alternate_address the mapping test works, the change
# tests cannot run (no OTHER-ADDRESS, change IP unanswered) and change port
# still does; a bad config on SIGHUP is logged and the old one kept;
# SIGTERM ends it cleanly.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_cmds ip python3 stun turnutils_natdiscovery timeout
BUILD=${P2PVPN_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
for b in p2pvpn-rendezvous rdv-load p2pvpnctl; do
	if [ ! -x "$BUILD/$b" ]; then
		echo "SKIP: ${0##*/} needs $BUILD/$b (set P2PVPN_BUILD)" >&2
		exit 77
	fi
done

PREFIX=rdv$$
S=${PREFIX}s
C=${PREFIX}c
WORK=$(mktemp -d /tmp/${PREFIX}.XXXXXX)
FAILS=0
RDV_PID=

lab_trap_cleanup
lab_on_exit "rm -rf '$WORK'"
# Evaluated at exit: the server still running then, if any (a PID we
# reaped is cleared, so no recycled PID is ever signalled).
lab_on_exit 'lab_kill_pid $RDV_PID'

check() {
	local what=$1
	shift
	if "$@"; then
		echo "PASS: $what"
	else
		echo "FAIL: $what"
		FAILS=$((FAILS + 1))
	fi
}

# ---- topology: two namespaces and one cable ----
for ns in "$S" "$C"; do
	lab_run root ip netns add "$ns"
	lab_on_exit "ip netns del '$ns'"
	lab_run "$ns" ip link set dev lo up
done
# Made in the root namespace under unique names, then moved and renamed.
lab_run root ip link add "${PREFIX}t" type veth peer name "${PREFIX}u"
lab_on_exit "ip link del '${PREFIX}t' 2>/dev/null"
lab_run root ip link set dev "${PREFIX}t" netns "$S"
lab_run root ip link set dev "${PREFIX}u" netns "$C"
lab_run "$S" ip link set dev "${PREFIX}t" name eth0
lab_run "$C" ip link set dev "${PREFIX}u" name eth0
lab_run "$S" ip addr add 192.0.2.10/24 dev eth0
lab_run "$S" ip addr add 192.0.2.20/24 dev eth0
lab_run "$C" ip addr add 198.51.100.5/24 dev eth0
lab_run "$S" ip link set dev eth0 up
lab_run "$C" ip link set dev eth0 up
lab_run "$S" ip route add 198.51.100.0/24 dev eth0
lab_run "$C" ip route add 192.0.2.0/24 dev eth0

# ---- keys and configs ----
SRV_PRIV=$("$BUILD/p2pvpnctl" genkey)
SRV_PUB=$(printf '%s\n' "$SRV_PRIV" | "$BUILD/p2pvpnctl" pubkey)
A_PRIV=$("$BUILD/p2pvpnctl" genkey)
A_PUB=$(printf '%s\n' "$A_PRIV" | "$BUILD/p2pvpnctl" pubkey)
write_conf() { # FILE ALTERNATE(yes|no|ADDRESS) LISTEN
	{
		echo "[rendezvous]"
		echo "listen = ${3:-192.0.2.10:3478}"
		[ "$2" = yes ] && echo "alternate_address = 192.0.2.20"
		[ "$2" = yes ] || [ "$2" = no ] || echo "alternate_address = $2"
		echo "private_key = $SRV_PRIV"
		echo "open = no"
		echo "[peer \"alice\"]"
		echo "public_key = $A_PUB"
	} >"$1"
	chmod 600 "$1" # it holds the key inline
}
write_conf "$WORK/alt.conf" yes
write_conf "$WORK/one.conf" no
write_conf "$WORK/wild.conf" yes 0.0.0.0:3478
# The alternate is the address the kernel sends from (192.0.2.10 is the
# interface's primary): its partner is unknown.
write_conf "$WORK/wildswap.conf" 192.0.2.10 0.0.0.0:3478

# A STUN prober: requests built by hand, answers and their sources checked.
cat >"$WORK/probe.py" <<'EOF'
import os, select, socket, struct, sys, zlib

COOKIE = 0x2112A442

def request(change=None, cookie=True, fingerprint=False, pad=0, extra=None):
    tid = os.urandom(12)
    head = struct.pack("!I", COOKIE) if cookie else os.urandom(4)
    attrs = b""
    if change is not None:
        attrs += struct.pack("!HHI", 0x0003, 4, change)
    if pad:  # RFC 5780 PADDING: room for a full answer within 2x
        attrs += struct.pack("!HH", 0x0026, pad) + bytes((pad + 3) // 4 * 4)
    if extra is not None:
        attrs += extra
    msg = struct.pack("!HH", 0x0001, len(attrs) + (8 if fingerprint else 0)) + head + tid + attrs
    if fingerprint:
        msg += struct.pack("!HHI", 0x8028, 4, (zlib.crc32(msg) ^ 0x5354554E) & 0xFFFFFFFF)
    return msg

def attrs(msg):
    out, pos = {}, 20
    while pos + 4 <= len(msg):
        t, l = struct.unpack("!HH", msg[pos:pos + 4])
        out.setdefault(t, msg[pos + 4:pos + 4 + l])
        pos += 4 + (l + 3) // 4 * 4
    return out

def addr(v, xor=False):
    port, ip = struct.unpack("!H", v[2:4])[0], bytearray(v[4:8])
    if xor:
        port ^= COOKIE >> 16
        ip = bytearray(a ^ b for a, b in zip(ip, struct.pack("!I", COOKIE)))
    return "%s:%d" % (socket.inet_ntoa(bytes(ip)), port)

def ask(sock, ip, port, data, wait=1.0):
    sock.sendto(data, (ip, port))
    if select.select([sock], [], [], wait)[0]:
        return sock.recvfrom(2048)
    return None, None

def sources(srv, alt, port):
    """Each socket and each change request: where the answer came from."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 0))
    bad = 0
    for ip in (srv, alt):
        for p in (port, port + 1):
            for change in (0, 2, 4, 6):
                msg, src = ask(s, ip, p, request(change, pad=40))
                want = ((alt if ip == srv else srv) if change & 4 else ip,
                        (port + 1 if p == port else port) if change & 2 else p)
                # OTHER-ADDRESS: the other IP and port than asked.
                other_want = "%s:%d" % (alt if ip == srv else srv, port + 1 if p == port else port)
                a = attrs(msg) if msg else {}
                origin = addr(a[0x802B]) if 0x802B in a else None
                other = addr(a[0x802C]) if 0x802C in a else None
                ok = src == want and origin == "%s:%d" % want and other == other_want
                print("to %s:%d change %d: answer from %s, RESPONSE-ORIGIN %s, OTHER-ADDRESS %s %s" %
                      (ip, p, change, src, origin, other, "ok" if ok else "WRONG"))
                bad += not ok
    sys.exit(1 if bad else 0)

def one_address(srv, port):
    """No alternate: change IP unanswered, change port from port + 1."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 0))
    msg, src = ask(s, srv, port, request(0))
    a = attrs(msg) if msg else {}
    ok = msg is not None and 0x802C not in a and 0x0005 not in a
    print("plain request: answer %s, OTHER-ADDRESS %s" % (src, "present" if 0x802C in a else "absent"))
    for change in (4, 6):
        msg, src = ask(s, srv, port, request(change))
        print("change %d: %s" % (change, "answered from %s" % (src,) if msg else "no answer"))
        ok = ok and msg is None
    msg, src = ask(s, srv, port, request(2))
    print("change 2: answered from %s" % (src,))
    ok = ok and src == (srv, port + 1)
    sys.exit(0 if ok else 1)

def silent(srv, alt, port):
    """Garbage and malformed STUN to every socket: not one answer."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 0))
    good = request(fingerprint=True)
    broken_fp = bytearray(good); broken_fp[-1] ^= 1
    bad_len = bytearray(request()); bad_len[3] = 8
    top_bits = bytearray(request()); top_bits[0] |= 0xC0
    overrun = struct.pack("!HHI", 1, 8, COOKIE) + os.urandom(12) + struct.pack("!HH", 0x8022, 200) + b"abcd"
    cases = [b"", b"\x00", good[:19], bytes(bad_len), bytes(top_bits), bytes(broken_fp), overrun,
             good[:-4], os.urandom(200), b"\x04\x00\x00\x00" + os.urandom(44),
             b"\x01\x00\x00\x00" + os.urandom(144), b"\x07\x00\x00\x00" + os.urandom(60),
             b"\x02\x00\x00\x00" + os.urandom(88), b"\xff" * 64,
             struct.pack("!HH", 0x0111, 0) + struct.pack("!I", COOKIE) + os.urandom(12)]
    for ip in (srv, alt):
        for p in (port, port + 1):
            for c in cases:
                s.sendto(c, (ip, p))
    answers = 0
    while select.select([s], [], [], 1.5)[0]:
        s.recvfrom(4096)
        answers += 1
    print("%d hostile datagrams, %d answers" % (4 * len(cases), answers))
    sys.exit(0 if answers == 0 else 1)

def amplification(srv, alt, port):
    """Every kind of request on every socket: no answer above 2x its size."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 0))
    resp_addr = struct.pack("!HHBBH", 0x0002, 8, 0, 1, 53) + socket.inet_aton("203.0.113.9")
    kinds = {"bare": request(), "bare rfc3489": request(cookie=False),
             "change": request(0), "change rfc3489": request(0, cookie=False),
             "fingerprint": request(fingerprint=True), "change+fingerprint": request(4, fingerprint=True),
             "unknown attribute": request(extra=struct.pack("!HHI", 0x0033, 4, 0)),
             "RESPONSE-ADDRESS": request(extra=resp_addr), "padded": request(pad=100)}
    worst, bad, n = 0.0, 0, 0
    for ip in (srv, alt):
        for p in (port, port + 1):
            for name, req in kinds.items():
                msg, _ = ask(s, ip, p, req, 0.5)
                if msg is None:
                    print("%s to %s:%d: no answer" % (name, ip, p))
                    bad += 1
                    continue
                n += 1
                worst = max(worst, len(msg) / len(req))
                if len(msg) > 2 * len(req):
                    print("%s to %s:%d: %d -> %d bytes" % (name, ip, p, len(req), len(msg)))
                    bad += 1
    print("%d answers, largest answer/request %.2fx" % (n, worst))
    sys.exit(1 if bad else 0)

def ratelimit(srv, port, n):
    """n requests at once from one source: at most the per-IP burst is
    answered; a second later the source is served again."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 0))
    for _ in range(n):
        s.sendto(request(), (srv, port))
    got = 0
    while select.select([s], [], [], 1.0)[0]:
        s.recvfrom(2048)
        got += 1
    msg, _ = ask(s, srv, port, request(), 1.0)
    print("%d requests at once: %d answers; one more after 1 s: %s" %
          (n, got, "answered" if msg else "no answer"))
    sys.exit(0 if 0 < got <= 60 and msg else 1)

def partnerless(alt, other, port):
    """A wildcard whose alternate is the kernel's own source: requests to
    the alternate get no OTHER-ADDRESS and no change-IP answer, change port
    still works; requests to the other address name the alternate."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 0))
    ok = True
    for change, want in ((0, (alt, port)), (2, (alt, port + 1)), (4, None), (6, None)):
        msg, src = ask(s, alt, port, request(change, pad=40))
        a = attrs(msg) if msg else {}
        good = src == want and 0x802C not in a and 0x0005 not in a
        print("to %s:%d change %d: answer from %s, OTHER-ADDRESS %s %s" %
              (alt, port, change, src, "present" if 0x802C in a else "absent",
               "ok" if good else "WRONG"))
        ok = ok and good
    for change, want in ((0, (other, port)), (4, (alt, port))):
        msg, src = ask(s, other, port, request(change, pad=40))
        a = attrs(msg) if msg else {}
        got = addr(a[0x802C]) if 0x802C in a else None
        good = src == want and got == "%s:%d" % (alt, port + 1)
        print("to %s:%d change %d: answer from %s, OTHER-ADDRESS %s %s" %
              (other, port, change, src, got, "ok" if good else "WRONG"))
        ok = ok and good
    sys.exit(0 if ok else 1)

def answers(srv, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 0))
    msg, src = ask(s, srv, port, request(), 0.5)
    sys.exit(0 if msg else 1)

def tcp(srv, port, other=None):
    """STUN over TCP: XOR-MAPPED-ADDRESS is the connection's source,
    RESPONSE-ORIGIN the address asked, OTHER-ADDRESS other when given."""
    s = socket.create_connection((srv, port), timeout=3)
    s.sendall(request(fingerprint=True))
    buf = b""
    while len(buf) < 20 or len(buf) < 20 + struct.unpack("!H", buf[2:4])[0]:
        chunk = s.recv(2048)
        if not chunk:
            break
        buf += chunk
    a = attrs(buf)
    local = "%s:%d" % s.getsockname()
    mapped = addr(a[0x0020], xor=True) if 0x0020 in a else None
    origin = addr(a[0x802B]) if 0x802B in a else None
    got = addr(a[0x802C]) if 0x802C in a else None
    print("tcp: local %s, XOR-MAPPED-ADDRESS %s, RESPONSE-ORIGIN %s, OTHER-ADDRESS %s" %
          (local, mapped, origin, got))
    ok = mapped == local and origin == "%s:%d" % (srv, port)
    sys.exit(0 if ok and (other is None or got == other) else 1)

cmd = sys.argv[1]
args = [int(a) if a.isdigit() else a for a in sys.argv[2:]]
{"sources": sources, "one": one_address, "partnerless": partnerless, "silent": silent, "answers": answers, "tcp": tcp,
 "amplification": amplification, "ratelimit": ratelimit}[cmd](*args)
EOF
PROBE="python3 $WORK/probe.py"

start_rdv() { # CONFIG
	lab_bg "$S" "$WORK/rdv.log" "$BUILD/p2pvpn-rendezvous" -f -c "$1"
	RDV_PID=$LAB_BG_PID
	lab_wait_for 10 ip netns exec "$C" $PROBE answers 192.0.2.10 3478
}

# ---- configuration checks ----
check "--check accepts the config" "$BUILD/p2pvpn-rendezvous" --check -c "$WORK/alt.conf"
check "--check accepts alternate_address with a wildcard listen" \
	"$BUILD/p2pvpn-rendezvous" --check -c "$WORK/wild.conf"
write_conf "$WORK/wild6.conf" yes "[::]:3478"
check "--check refuses an IPv4 alternate_address with listen [::]" \
	bash -c "! '$BUILD/p2pvpn-rendezvous' --check -c '$WORK/wild6.conf' 2>'$WORK/wild6.err'"
check "... and says why" grep -q "alternate_address: not the same family as listen" "$WORK/wild6.err"

# ---- with an alternate address: a full RFC 5780 / RFC 3489 server ----
check "rendezvous answers STUN" start_rdv "$WORK/alt.conf"

lab_run "$C" timeout 60 stun 192.0.2.10 >"$WORK/stun.out" 2>&1 || true
cat "$WORK/stun.out"
check "stun (RFC 3489 client) says Open" grep -q "Primary: Open" "$WORK/stun.out"

# natdiscovery's requests are bare (20 bytes): the mapped address and
# OTHER-ADDRESS (44 bytes) do not fit in 2x. With -P (RFC 5780 PADDING to
# 1500 bytes) they do; without it only the mapped address comes back.
lab_run "$C" timeout 60 turnutils_natdiscovery -m -f -P -p 3478 192.0.2.10 >"$WORK/nd.out" 2>&1 || true
grep -E "NAT with|reflexive|Local addr|Response origin|Other addr" "$WORK/nd.out" || true
check "natdiscovery: endpoint-independent mapping" \
	grep -q "NAT with Endpoint Independent Mapping" "$WORK/nd.out"
check "natdiscovery: endpoint-independent filtering" \
	grep -q "NAT with Endpoint Independent Filtering" "$WORK/nd.out"
check "natdiscovery: reflexive address is the client's own" \
	grep -q "UDP reflexive addr: 198.51.100.5:" "$WORK/nd.out"
check "natdiscovery: OTHER-ADDRESS is the alternate address and port" \
	grep -q "Other addr: : 192.0.2.20:3479" "$WORK/nd.out"

check "each change request answered from the right socket" \
	lab_run "$C" $PROBE sources 192.0.2.10 192.0.2.20 3478
check "STUN over TCP maps the connection" lab_run "$C" $PROBE tcp 192.0.2.10 3478

# Amplification: every answer at most 2x its request; one source gets no
# more than its burst (40) however fast it asks. The tools above spent part
# of this source's burst: let it refill first.
sleep 2
check "no STUN answer above 2x the request" \
	lab_run "$C" $PROBE amplification 192.0.2.10 192.0.2.20 3478
sleep 2 # the source's bucket refills (20/s)
check "STUN answers to one source are rate-limited" \
	lab_run "$C" $PROBE ratelimit 192.0.2.10 3478 300
sleep 2

# Hostile input on every socket, then proof that it still answers on each.
check "garbage and malformed STUN get no answer" \
	lab_run "$C" $PROBE silent 192.0.2.10 192.0.2.20 3478
for dst in 192.0.2.10:3478 192.0.2.10:3479 192.0.2.20:3478 192.0.2.20:3479; do
	check "still answers on $dst" lab_run "$C" $PROBE answers "${dst%:*}" "${dst#*:}"
done

# Handshakes: a key that is not listed (valid initiation) gets nothing; the
# listed key registers.
lab_run "$C" "$BUILD/rdv-load" -s 192.0.2.10:3478 -k "$SRV_PUB" -n 1 -H 0 >"$WORK/stranger.out" 2>&1 || true
cat "$WORK/stranger.out"
check "initiation from an unlisted key: no answer" \
	grep -q "peers registered: 0 of 1 (1 failed), handshakes answered: 0" "$WORK/stranger.out"
check "the listed key registers" \
	lab_run "$C" "$BUILD/rdv-load" -s 192.0.2.10:3478 -k "$SRV_PUB" -n 1 -K "$A_PRIV" -H 0
check "the log names the registration" grep -q "peer alice (198.51.100.5:[0-9]*): registered" "$WORK/rdv.log"

# SIGHUP with a broken file: logged, old config kept, still serving.
cp "$WORK/alt.conf" "$WORK/alt.conf.good"
echo "this is not a config" >>"$WORK/alt.conf"
lab_run root kill -HUP "$RDV_PID"
sleep 0.5
check "a bad reload is logged" grep -q "reload of .* failed, keeping the running configuration" "$WORK/rdv.log"
check "still answers after the bad reload" lab_run "$C" $PROBE answers 192.0.2.10 3478
cp "$WORK/alt.conf.good" "$WORK/alt.conf"

# SIGTERM: a clean exit, status 0.
lab_run root kill -TERM "$RDV_PID"
status=0
wait "$RDV_PID" || status=$?
RDV_PID=
check "SIGTERM: clean exit" test "$status" = 0
check "no error logged but the bad reload's" \
	bash -c "! grep '^error' '$WORK/rdv.log' | grep -v -e 'alt.conf:' -e 'reload of'"

# ---- listen = 0.0.0.0:3478 with the alternate: the same server ----
check "rendezvous on 0.0.0.0 with alternate_address answers STUN" start_rdv "$WORK/wild.conf"
lab_run "$C" timeout 60 stun 192.0.2.10 >"$WORK/stunw.out" 2>&1 || true
cat "$WORK/stunw.out"
check "0.0.0.0: stun (RFC 3489 client) says Open" grep -q "Primary: Open" "$WORK/stunw.out"
lab_run "$C" timeout 60 turnutils_natdiscovery -m -f -P -p 3478 192.0.2.10 >"$WORK/ndw.out" 2>&1 || true
grep -E "NAT with|reflexive|Other addr" "$WORK/ndw.out" || true
check "0.0.0.0: natdiscovery: endpoint-independent mapping and filtering" \
	bash -c "grep -q 'NAT with Endpoint Independent Mapping' '$WORK/ndw.out' &&
		grep -q 'NAT with Endpoint Independent Filtering' '$WORK/ndw.out'"
check "0.0.0.0: natdiscovery: OTHER-ADDRESS is the alternate address and port" \
	grep -q "Other addr: : 192.0.2.20:3479" "$WORK/ndw.out"
sleep 2 # the source's STUN bucket refills
check "0.0.0.0: each change request answered from the right address and port" \
	lab_run "$C" $PROBE sources 192.0.2.10 192.0.2.20 3478
check "0.0.0.0: STUN over TCP maps the connection" \
	lab_run "$C" $PROBE tcp 192.0.2.10 3478 192.0.2.20:3479
check "0.0.0.0: STUN over TCP to the alternate names its partner" \
	lab_run "$C" $PROBE tcp 192.0.2.20 3478 192.0.2.10:3479
sleep 2
check "0.0.0.0: garbage and malformed STUN get no answer" \
	lab_run "$C" $PROBE silent 192.0.2.10 192.0.2.20 3478
check "0.0.0.0: the listed key registers" \
	lab_run "$C" "$BUILD/rdv-load" -s 192.0.2.10:3478 -k "$SRV_PUB" -n 1 -K "$A_PRIV" -H 0
lab_run root kill -TERM "$RDV_PID"
status=0
wait "$RDV_PID" || status=$?
RDV_PID=
check "0.0.0.0: SIGTERM: clean exit" test "$status" = 0

# The partner rule's limit: alternate_address = 192.0.2.10, which the kernel
# picks as source towards the client, so requests to it are answered as
# without an alternate; those to 192.0.2.20 name it as OTHER-ADDRESS.
check "0.0.0.0 with alternate 192.0.2.10 answers STUN" start_rdv "$WORK/wildswap.conf"
check "0.0.0.0, alternate = the kernel's source: no partner, change port only" \
	lab_run "$C" $PROBE partnerless 192.0.2.10 192.0.2.20 3478
lab_run root kill -TERM "$RDV_PID"
wait "$RDV_PID" || true
RDV_PID=

# ---- one address: mapping works, the change tests cannot run ----
check "rendezvous without alternate_address answers STUN" start_rdv "$WORK/one.conf"
lab_run "$C" timeout 60 turnutils_natdiscovery -m -f -P -p 3478 192.0.2.10 >"$WORK/nd1.out" 2>&1 || true
grep -E "NAT with|reflexive|Other addr" "$WORK/nd1.out" || true
check "natdiscovery: mapping test answered" grep -q "UDP reflexive addr: 198.51.100.5:" "$WORK/nd1.out"
check "natdiscovery: no OTHER-ADDRESS, so no filtering verdict" \
	bash -c "! grep -qE 'Other addr|Filtering!' '$WORK/nd1.out'"
check "change IP unanswered, change port from port + 1, no OTHER-ADDRESS" \
	lab_run "$C" $PROBE one 192.0.2.10 3478
lab_run root kill -TERM "$RDV_PID"
wait "$RDV_PID" || true
RDV_PID=

if [ "$FAILS" -gt 0 ]; then
	echo "$FAILS check(s) failed; rendezvous log:"
	cat "$WORK/rdv.log"
	exit 1
fi
echo "all checks passed"
