#!/usr/bin/env python3
"""Small helpers for lab tests: pull p2pvpn datagrams out of a pcap and send
raw datagrams. Standard library only.

  pcaptool.py extract PCAP TYPE [SRC_IP]   hex of the first UDP payload whose
                                           first byte is TYPE (and source SRC_IP)
  pcaptool.py list PCAP TYPE [SRC_IP]      hex of every such payload, one a line
  pcaptool.py count PCAP TYPE [SRC_IP]     how many such payloads
  pcaptool.py answered PCAP                "SRC_IP HEX" of the first handshake
                                           initiation that a response answered
  pcaptool.py send HOST PORT HEX [HEX...]  send each hex string as one datagram
  pcaptool.py replay HOST PORT SECONDS RATE FILE
                                           send every hex line of FILE, RATE
                                           rounds a second for SECONDS; prints
                                           how many datagrams went out
  pcaptool.py spoof SRC_IP SRC_PORT HOST PORT SECONDS RATE FILE
                                           the same from a forged source
                                           address (raw socket, needs root)
"""
import socket
import struct
import sys
import time


def udp_payloads(path):
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if linktype == 1:  # Ethernet
            if len(pkt) < 14 or pkt[12:14] != b"\x08\x00":
                continue
            ip = pkt[14:]
        elif linktype in (101, 228):  # raw IPv4
            ip = pkt
        elif linktype == 113:  # Linux cooked
            ip = pkt[16:]
        else:
            continue
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 15) * 4
        src = socket.inet_ntoa(ip[12:16])
        yield src, ip[ihl + 8:]


def matching(path, typ, src):
    for s, payload in udp_payloads(path):
        if payload and payload[0] == typ and (src is None or s == src):
            yield payload


def answered(path):
    """The first initiation (type 1) whose sender index a response (type 2)
    names as its receiver index: one the other side accepted."""
    pkts = list(udp_payloads(path))
    for src, p in pkts:
        if len(p) == 149 and p[0] == 1:
            for _, q in pkts:
                if len(q) == 93 and q[0] == 2 and q[8:12] == p[4:8]:
                    return src, p
    return None


def ipv4_udp(src, sport, dst, dport, payload):
    """An IPv4 header and a UDP header (checksum 0: none, RFC 768) before
    payload; the kernel fills in the IP checksum and id (IP_HDRINCL)."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 8 + len(payload), 0, 0, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    return ip + udp + payload


def replay(host, port, seconds, rate, path, spoof=None):
    pkts = [bytes.fromhex(x) for x in open(path).read().split()]
    if spoof:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        pkts = [ipv4_udp(spoof[0], spoof[1], host, port, p) for p in pkts]
        port = 0
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start = time.monotonic()
    sent = 0
    rounds = 0
    while pkts and time.monotonic() - start < seconds:
        for p in pkts:
            s.sendto(p, (host, port))
            sent += 1
        rounds += 1
        # Rounds on a fixed schedule, not "sleep after each": a slow round
        # does not lower the rate.
        delay = start + rounds / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    print(sent)
    return 0


def main(argv):
    if len(argv) == 2 and argv[0] == "answered":
        found = answered(argv[1])
        if not found:
            return 1
        print(found[0], found[1].hex())
        return 0
    if len(argv) >= 3 and argv[0] in ("extract", "count", "list"):
        src = argv[3] if len(argv) > 3 else None
        found = list(matching(argv[1], int(argv[2]), src))
        if argv[0] == "count":
            print(len(found))
            return 0
        if argv[0] == "list":
            for p in found:
                print(p.hex())
            return 0
        if not found:
            return 1
        print(found[0].hex())
        return 0
    if len(argv) >= 4 and argv[0] == "send":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for h in argv[3:]:
            s.sendto(bytes.fromhex(h), (argv[1], int(argv[2])))
        return 0
    if len(argv) == 6 and argv[0] == "replay":
        return replay(argv[1], int(argv[2]), float(argv[3]), float(argv[4]), argv[5])
    if len(argv) == 8 and argv[0] == "spoof":
        return replay(argv[3], int(argv[4]), float(argv[5]), float(argv[6]), argv[7],
                      (argv[1], int(argv[2])))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
