#!/usr/bin/env python3
"""Traffic and checks for tests/lab/test_offload.sh. Standard library only.

  offloadtool.py hash                      read stdin to EOF; print "BYTES SHA256"
  offloadtool.py sink PORT                 accept one TCP connection on [::]:PORT
                                           (v4 and v6), read it to EOF; print
                                           "BYTES SHA256 SECONDS" (first byte to EOF)
  offloadtool.py udp-recv PORT N           receive numbered datagrams (udp-send)
                                           until 2 s of silence; print
                                           "received=R bad=B dup=D missing=M"
  offloadtool.py udp-send HOST PORT MAX N [gso|plain|both]
                                           N numbered datagrams of several sizes up
                                           to MAX bytes of payload: one per sendto
                                           (plain), and in runs of equal-sized
                                           datagrams sent as one UDP_SEGMENT
                                           message (gso); print "sent=N gso_msgs=G"
  offloadtool.py small-recv PORT BYTES     accept one TCP connection; print
                                           "bytes=N ok" or "bytes=N bad at OFFSET"
  offloadtool.py small-send HOST PORT BYTES
                                           the same stream as many small writes
                                           (1-300 bytes, TCP_NODELAY)
  offloadtool.py pcap-stat PCAP MTU        of the IP packets in a capture: how many,
                                           how many longer than MTU, how many TCP
                                           ones carry the timestamp option, how
                                           many of the long ones do, the longest
  offloadtool.py no-merged-writes CMD...   exec CMD under a seccomp filter that
                                           fails every writev(2) of 3 or more
                                           iovecs with EINVAL (p2pvpnd writes a
                                           merged super-packet to its TUN as the
                                           vnet header and 2+ segments, a single
                                           packet as 2 iovecs)

Datagrams of udp-send: 4-byte sequence number, 2-byte length, then
SHAKE-128(sequence number) cut to the length; the receiver recomputes it.
"""
import ctypes
import hashlib
import os
import platform
import select
import socket
import struct
import sys
import time

SOL_UDP = 17
UDP_SEGMENT = 103
RATE = 150e6  # bit/s of udp-send


def payload(seq, size):
    head = struct.pack("!IH", seq, size)
    return head + hashlib.shake_128(struct.pack("!I", seq)).digest(size - len(head))


def listen(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(1)
    s.settimeout(60)
    c, _ = s.accept()
    c.settimeout(60)
    s.close()
    return c


def cmd_hash():
    h = hashlib.sha256()
    n = 0
    buf = bytearray(1 << 20)
    f = sys.stdin.buffer.raw
    while True:
        k = f.readinto(buf)
        if not k:
            break
        h.update(memoryview(buf)[:k])
        n += k
    print(n, h.hexdigest())


def cmd_sink(port):
    c = listen(int(port))
    h = hashlib.sha256()
    n = 0
    t0 = None
    buf = bytearray(1 << 20)
    while True:
        k = c.recv_into(buf)
        if not k:
            break
        if t0 is None:
            t0 = time.monotonic()
        h.update(memoryview(buf)[:k])
        n += k
    dt = time.monotonic() - t0 if t0 is not None else 0.0
    print(n, h.hexdigest(), "%.3f" % dt)


# Sizes include 6 (header only), small ones (NEEDS_CSUM, no GSO) and the
# largest that fits the tunnel MTU.
def sizes(maxlen):
    return [6, 7, 64, 200, 511, 1000, 1200, maxlen - 1, maxlen]


def cmd_udp_send(host, port, maxlen, count, mode="both"):
    maxlen, count = int(maxlen), int(count)
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    dst = (host, int(port))
    sz = sizes(maxlen)
    seq = 0
    gso_msgs = 0
    sent_bytes = 0
    rounds = 0
    t0 = time.monotonic()
    # Runs of k equal-sized datagrams (the last one shorter) as one
    # UDP_SEGMENT message: a USO super-packet on the TUN.
    gso_shapes = [(maxlen, 40), (1000, 33), (200, 64), (maxlen - 1, 2), (511, 17)]
    while seq < count:
        if mode in ("plain", "both"):
            for size in sz:
                if seq >= count:
                    break
                sent_bytes += s.sendto(payload(seq, size), dst)
                seq += 1
        if mode in ("gso", "both"):
            g, k = gso_shapes[rounds % len(gso_shapes)]
            k = min(k, count - seq)
            if k >= 1:
                last = max(6, g - 1 - (rounds % 50)) if k > 1 else g
                parts = [payload(seq + i, g) for i in range(k - 1)] + [payload(seq + k - 1, last)]
                buf = b"".join(parts)
                cm = [(SOL_UDP, UDP_SEGMENT, struct.pack("=H", g))]
                sent_bytes += s.sendmsg([buf], cm, 0, dst)
                seq += k
                gso_msgs += 1
        rounds += 1
        # At most RATE: a pace the receiving end takes without loss.
        ahead = t0 + sent_bytes * 8 / RATE - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    print("sent=%d gso_msgs=%d bytes=%d" % (seq, gso_msgs, sent_bytes))


def cmd_udp_recv(port, count):
    count = int(count)
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    try:
        s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
    s.bind(("::", int(port)))
    seen = bytearray(count)
    bad = dup = got = 0
    first_deadline = time.monotonic() + 60
    while True:
        timeout = 2.0 if got else max(0.0, first_deadline - time.monotonic())
        r, _, _ = select.select([s], [], [], timeout)
        if not r:
            break
        d = s.recv(70000)
        got += 1
        if len(d) < 6:
            bad += 1
            continue
        seq, size = struct.unpack("!IH", d[:6])
        if seq >= count or size != len(d) or d != payload(seq, size):
            bad += 1
            continue
        if seen[seq]:
            dup += 1
        seen[seq] = 1
    missing = count - sum(seen)
    print("received=%d bad=%d dup=%d missing=%d" % (got, bad, dup, missing))


def small_stream(total):
    return hashlib.shake_128(b"small writes").digest(total)


def cmd_small_send(host, port, total):
    total = int(total)
    data = small_stream(total)
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(60)
    s.connect((host, int(port)))
    off = 0
    i = 0
    while off < total:
        n = min(1 + (i * 37) % 300, total - off)
        s.sendall(data[off:off + n])
        off += n
        i += 1
        if i % 20 == 0:
            time.sleep(0.001)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    s.close()
    print("writes=%d bytes=%d" % (i, off))


def cmd_small_recv(port, total):
    total = int(total)
    want = small_stream(total)
    c = listen(int(port))
    got = bytearray()
    while True:
        d = c.recv(65536)
        if not d:
            break
        got += d
    c.close()
    if bytes(got) == want:
        print("bytes=%d ok" % len(got))
        return
    k = next((i for i in range(min(len(got), total)) if got[i] != want[i]), min(len(got), total))
    print("bytes=%d bad at %d" % (len(got), k))


def cmd_pcap_stat(path, mtu):
    mtu = int(mtu)
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    e = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    link = struct.unpack(e + "I", data[20:24])[0]
    skip = {101: 0, 12: 0, 228: 0, 229: 0, 1: 14, 113: 16, 276: 20}.get(link)
    if skip is None:
        sys.exit("pcap-stat: link type %d" % link)
    off = 24
    pkts = big = ts = big_ts = longest = 0
    while off + 16 <= len(data):
        incl, orig = struct.unpack(e + "II", data[off + 8:off + 16])
        p = data[off + 16 + skip:off + 16 + incl]
        off += 16 + incl
        ip_len = orig - skip
        if not p:
            continue
        ver = p[0] >> 4
        if ver == 4 and len(p) >= 20:
            proto, l4 = p[9], (p[0] & 15) * 4
        elif ver == 6 and len(p) >= 40:
            proto, l4 = p[6], 40
        else:
            continue
        pkts += 1
        longest = max(longest, ip_len)
        has_ts = False
        if proto == 6 and len(p) >= l4 + 20:
            doff = (p[l4 + 12] >> 4) * 4
            opt = p[l4 + 20:l4 + doff]
            i = 0
            while i < len(opt):
                kind = opt[i]
                if kind == 0:
                    break
                if kind == 1:
                    i += 1
                    continue
                if i + 1 >= len(opt) or opt[i + 1] < 2:
                    break
                if kind == 8:
                    has_ts = True
                i += opt[i + 1]
        if ip_len > mtu:
            big += 1
            big_ts += has_ts
        ts += has_ts
    print("packets=%d over_mtu=%d tcp_ts=%d over_mtu_ts=%d longest=%d" % (pkts, big, ts, big_ts, longest))


def cmd_no_merged_writes(argv):
    arch = platform.machine()
    nr, audit = {"x86_64": (20, 0xC000003E), "aarch64": (66, 0xC00000B7)}.get(arch, (None, None))
    if nr is None:
        sys.exit("no-merged-writes: unsupported architecture " + arch)
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, einval = 0x7FFF0000, 0x00050000 | 22
    # seccomp_data: nr at 0, arch at 4, args[2] (iovcnt) low word at 32.
    prog = [
        (ld, 0, 0, 4),
        (jeq, 0, 4, audit),
        (ld, 0, 0, 0),
        (jeq, 0, 2, nr),
        (ld, 0, 0, 32),
        (jge, 1, 0, 3),
        (ret, 0, 0, allow),
        (ret, 0, 0, einval),
    ]

    class Filter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                    ("k", ctypes.c_uint)]

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Filter))]

    arr = (Filter * len(prog))(*[Filter(*f) for f in prog])
    fp = Prog(len(prog), arr)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        sys.exit("prctl(PR_SET_NO_NEW_PRIVS): " + os.strerror(ctypes.get_errno()))
    if libc.prctl(22, 2, ctypes.byref(fp), 0, 0) != 0:  # PR_SET_SECCOMP, FILTER
        sys.exit("prctl(PR_SET_SECCOMP): " + os.strerror(ctypes.get_errno()))
    os.execvp(argv[0], argv)


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    cmd, args = a[0], a[1:]
    if cmd == "no-merged-writes":
        if args and args[0] == "--":
            args = args[1:]
        return cmd_no_merged_writes(args)
    fn = {
        "hash": cmd_hash,
        "sink": cmd_sink,
        "udp-send": cmd_udp_send,
        "udp-recv": cmd_udp_recv,
        "small-send": cmd_small_send,
        "small-recv": cmd_small_recv,
        "pcap-stat": cmd_pcap_stat,
    }.get(cmd)
    if not fn:
        sys.exit(__doc__)
    fn(*args)


if __name__ == "__main__":
    main()
