#!/usr/bin/env python3
"""Hostile TCP clients for tests/lab/test_tcp_abuse.sh (SECURITY-NOTES
section 6 item 27). Each subcommand prints key=value lines for the shell.

  hold DST PORT N SECS SRC...       N connects spread over the SRC addresses,
                                    held SECS s: how many the server closed
  slowloris DST PORT N SECS SRC...  N connections that dribble a 149-byte
                                    initiation frame 1 byte/s (half of them)
                                    or send nothing: when the server closes
  noread DST PORT SECS SRC          pipelines STUN Binding requests over TCP
                                    with a small receive buffer and never reads
  lengths DST PORT SRC              length prefixes 0, 1, 65535, 150 (> the
                                    initiation's 149): open or closed after 1 s
  synflood DST PORT N SECS SRC...   N non-blocking connects whose handshakes
                                    the caller's firewall keeps from completing
  flood DST PORT K SECS SRC...      keeps K connections open for SECS s,
                                    opening a new one for every one the
                                    server closes: connects and closes seen
  stun DST PORT                     one STUN Binding over TCP: answered or not
"""
import os
import resource
import select
import socket
import struct
import sys
import time

INIT_TYPE = 1
INIT_LEN = 149
COOKIE = 0x2112A442


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def connect(dst, port, src, rcvbuf=0, block=True):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind((src, 0))
    if block:
        s.settimeout(3)
        s.connect((dst, port))
        s.setblocking(False)
    else:
        s.setblocking(False)
        try:
            s.connect((dst, port))
        except BlockingIOError:
            pass
    return s


def closed_by_peer(s):
    """True once the server closed s (EOF or RST); reads away any data."""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def cmd_hold(dst, port, n, secs, srcs):
    socks, failed = [], 0
    t0 = time.monotonic()
    for i in range(n):
        try:
            socks.append(connect(dst, port, srcs[i % len(srcs)]))
        except OSError:
            failed += 1
    took = time.monotonic() - t0
    closed = set()
    end = time.monotonic() + secs
    while time.monotonic() < end:
        for i, s in enumerate(socks):
            if i not in closed and closed_by_peer(s):
                closed.add(i)
        time.sleep(0.2)
    print(f"opened={len(socks)} connect_failed={failed} connect_secs={took:.2f}")
    print(f"closed_by_server={len(closed)} still_open={len(socks) - len(closed)}")


def cmd_flood(dst, port, k, secs, srcs):
    socks, made, failed, closes, i = [], 0, 0, 0, 0
    end = time.monotonic() + secs
    while time.monotonic() < end:
        alive = []
        for s in socks:
            if closed_by_peer(s):
                closes += 1
                s.close()
            else:
                alive.append(s)
        socks = alive
        while len(socks) < k and time.monotonic() < end:
            try:
                socks.append(connect(dst, port, srcs[i % len(srcs)]))
                made += 1
            except OSError:
                failed += 1
            i += 1
        time.sleep(0.05)
    print(f"connects={made} connect_failed={failed} closed_by_server={closes} "
          f"open_at_end={len(socks)}")


def cmd_slowloris(dst, port, n, secs, srcs):
    frame = struct.pack(">H", INIT_LEN) + bytes([INIT_TYPE]) + bytes(INIT_LEN - 1)
    socks = [connect(dst, port, srcs[i % len(srcs)]) for i in range(n)]
    t0 = time.monotonic()
    sent = [0] * n
    life = [None] * n
    while time.monotonic() - t0 < secs and None in life:
        for i, s in enumerate(socks):
            if life[i] is not None:
                continue
            if closed_by_peer(s):
                life[i] = time.monotonic() - t0
                continue
            if i % 2 == 0 and sent[i] < len(frame):
                try:
                    s.send(frame[sent[i]:sent[i] + 1])
                    sent[i] += 1
                except OSError:
                    life[i] = time.monotonic() - t0
        time.sleep(1.0)
    done = [x for x in life if x is not None]
    print(f"clients={n} closed_by_server={len(done)}")
    print(f"longest_life_s={max(done) if done else -1:.1f} "
          f"most_bytes_sent={max(sent)}")


def cmd_noread(dst, port, secs, src):
    s = connect(dst, port, src, rcvbuf=4096)
    req = 0
    t0 = time.monotonic()
    closed_at = None
    while time.monotonic() - t0 < secs:
        msg = struct.pack(">HHI", 0x0001, 0, COOKIE) + os.urandom(12)
        try:
            s.send(msg)
            req += 1
        except BlockingIOError:
            time.sleep(0.01)
        except OSError:
            closed_at = time.monotonic() - t0
            break
        if req % 64 == 0:
            # Peek only: a client that does not read never takes the data.
            try:
                if s.recv(1, socket.MSG_PEEK) == b"":
                    closed_at = time.monotonic() - t0
                    break
            except BlockingIOError:
                pass
            except OSError:
                closed_at = time.monotonic() - t0
                break
    print(f"requests_sent={req} closed_by_server={'yes' if closed_at is not None else 'no'} "
          f"closed_after_s={closed_at if closed_at is not None else -1:.2f}")


def cmd_lengths(dst, port, src):
    cases = {
        "len0": struct.pack(">H", 0) + bytes(6),
        "len1": struct.pack(">H", 1) + bytes([INIT_TYPE]),
        "len65535": struct.pack(">H", 65535) + bytes([INIT_TYPE]) + bytes(4096),
        "len150": struct.pack(">H", INIT_LEN + 1) + bytes([INIT_TYPE]) + bytes(INIT_LEN),
    }
    socks = {}
    for name, data in cases.items():
        s = connect(dst, port, src)
        s.setblocking(True)
        try:
            s.sendall(data)
        except OSError:
            pass
        s.setblocking(False)
        socks[name] = s
    time.sleep(1.0)
    print(" ".join(f"{k}={'closed' if closed_by_peer(s) else 'open'}"
                   for k, s in socks.items()))


def cmd_synflood(dst, port, n, secs, srcs):
    socks = []
    for i in range(n):
        try:
            socks.append(connect(dst, port, srcs[i % len(srcs)], block=False))
        except OSError:
            pass
    print(f"syns_started={len(socks)}", flush=True)
    time.sleep(secs)


def cmd_stun(dst, port):
    t0 = time.monotonic()
    try:
        s = socket.create_connection((dst, port), timeout=3)
        tid = os.urandom(12)
        s.sendall(struct.pack(">HHI", 0x0001, 0, COOKIE) + tid)
        hdr = s.recv(20)
        ok = len(hdr) == 20 and hdr[0:2] == b"\x01\x01" and hdr[8:20] == tid
    except OSError:
        ok = False
    print(f"stun_over_tcp={'answered' if ok else 'failed'} "
          f"ms={(time.monotonic() - t0) * 1000:.0f}")
    return 0 if ok else 1


def main(argv):
    raise_nofile()
    cmd, dst, port = argv[1], argv[2], int(argv[3])
    if cmd == "hold":
        cmd_hold(dst, port, int(argv[4]), float(argv[5]), argv[6:])
    elif cmd == "flood":
        cmd_flood(dst, port, int(argv[4]), float(argv[5]), argv[6:])
    elif cmd == "slowloris":
        cmd_slowloris(dst, port, int(argv[4]), float(argv[5]), argv[6:])
    elif cmd == "noread":
        cmd_noread(dst, port, float(argv[4]), argv[5])
    elif cmd == "lengths":
        cmd_lengths(dst, port, argv[4])
    elif cmd == "synflood":
        cmd_synflood(dst, port, int(argv[4]), float(argv[5]), argv[6:])
    elif cmd == "stun":
        return cmd_stun(dst, port)
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
