#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Kernel-socket RTP peers for the relay's integration tests (run inside the test's netns).

  rtp_peer.py exchange A_BIND B_BIND A_TARGET B_TARGET COUNT
      Binds a socket for each side, sends COUNT RTP packets each way (A->A_TARGET, then
      B->B_TARGET, interleaved) and checks that every packet arrives at the other side, intact,
      from the address the other side was told (B sees A's packets coming from B_TARGET, the
      appliance's B endpoint, and the other way round). Prints one JSON line; exit 1 on failure.
  rtp_peer.py send BIND TARGET COUNT      sends COUNT packets, no checks
  rtp_peer.py expect BIND COUNT SECONDS   counts RTP packets arriving within SECONDS; prints it
  rtp_peer.py raw IFACE DST_MAC SRC_IP DST_IP DST_PORT   sends malformed frames (AF_PACKET)

Addresses are IP:PORT or [IPv6]:PORT. Every loop is bounded in count and time.
"""
import json
import socket
import struct
import sys
import time


def parse(addr):
    host, port = addr.rsplit(":", 1)
    host = host.strip("[]")
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    return fam, (host, int(port))


def sock(bind):
    fam, a = parse(bind)
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind(a)
    s.settimeout(0.5)
    return s


def rtp(seq, ssrc, tag):
    return struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, seq * 160, ssrc) + tag + bytes(160 - len(tag))


def recv_one(s, deadline):
    while time.monotonic() < deadline:
        try:
            return s.recvfrom(4096)
        except socket.timeout:
            continue
    return None, None


def exchange(a_bind, b_bind, a_target, b_target, count):
    sa, sb = sock(a_bind), sock(b_bind)
    _, ta = parse(a_target)
    _, tb = parse(b_target)
    res = {"a_to_b": 0, "b_to_a": 0, "bad_source": 0, "corrupt": 0}
    # warm-up: the first packet toward a remote whose MAC is unknown is dropped while the
    # dataplane resolves it (drop_no_neighbor); one packet each way, then drain
    sa.sendto(rtp(0xFFFF, 0xA0A0A0A0, b"warm"), ta)
    sb.sendto(rtp(0xFFFF, 0xB0B0B0B0, b"warm"), tb)
    time.sleep(0.3)
    sa.sendto(rtp(0xFFFF, 0xA0A0A0A0, b"warm"), ta)
    sb.sendto(rtp(0xFFFF, 0xB0B0B0B0, b"warm"), tb)
    time.sleep(0.1)
    for s in (sa, sb):
        s.settimeout(0.05)
        try:
            while True:
                s.recvfrom(4096)
        except socket.timeout:
            pass
        s.settimeout(0.5)
    deadline = time.monotonic() + 20
    for i in range(count):
        for src, dst_sock, target, other_target, key, ssrc in (
                (sa, sb, ta, tb, "a_to_b", 0xA0A0A0A0),
                (sb, sa, tb, ta, "b_to_a", 0xB0B0B0B0)):
            tag = ("%s-%d" % (key, i)).encode()
            src.sendto(rtp(i, ssrc, tag), target)
            data, frm = recv_one(dst_sock, min(deadline, time.monotonic() + 2))
            if data is None:
                continue
            res[key] += 1
            # the relay sends from the far endpoint's local address: the one the peer targets
            if frm[0] != other_target[0] or frm[1] != other_target[1]:
                res["bad_source"] += 1
            if data[12:12 + len(tag)] != tag or len(data) != 172:
                res["corrupt"] += 1
    print(json.dumps(res))
    ok = res["a_to_b"] == count and res["b_to_a"] == count and not res["bad_source"] \
        and not res["corrupt"]
    return 0 if ok else 1


def send(bind, target, count):
    s = sock(bind)
    _, t = parse(target)
    for i in range(count):
        s.sendto(rtp(i, 0xC0C0C0C0, b"send"), t)
        time.sleep(0.001)
    return 0


def expect(bind, count, seconds):
    s = sock(bind)
    got = 0
    deadline = time.monotonic() + seconds
    while got < count and time.monotonic() < deadline:
        data, _ = recv_one(s, deadline)
        if data is not None:
            got += 1
    print(json.dumps({"received": got}))
    return 0


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src, dst, payload, ihl=5, total=None, frag=0x4000, proto=17):
    opts = b"\x01" * ((ihl - 5) * 4)
    tl = total if total is not None else 20 + len(opts) + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, tl, 1, frag, 64, proto, 0,
                      socket.inet_aton(src), socket.inet_aton(dst)) + opts
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def raw(iface, dst_mac, src_ip, dst_ip, dst_port):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    src_mac = s.getsockname()[4]
    eth = bytes.fromhex(dst_mac.replace(":", "")) + src_mac + b"\x08\x00"
    port = int(dst_port)
    good_rtp = rtp(1, 0xDDDDDDDD, b"raw")

    def udp(payload, length=None):
        return struct.pack("!HHHH", 7000, port, length if length is not None else 8 + len(payload), 0) + payload

    frames = {
        "truncated_ip": eth + ipv4(src_ip, dst_ip, udp(good_rtp))[:12],
        "ip_total_too_long": eth + ipv4(src_ip, dst_ip, udp(good_rtp), total=1400),
        "udp_len_too_long": eth + ipv4(src_ip, dst_ip, udp(good_rtp, length=900)),
        "udp_len_too_short": eth + ipv4(src_ip, dst_ip, udp(good_rtp, length=3)),
        "ip_options": eth + ipv4(src_ip, dst_ip, udp(good_rtp), ihl=7),
        "fragment": eth + ipv4(src_ip, dst_ip, udp(good_rtp), frag=0x2000),
        "not_rtp": eth + ipv4(src_ip, dst_ip, udp(b"\x00" * 40)),
        "short_rtp": eth + ipv4(src_ip, dst_ip, udp(b"\x80\x00\x00")),
        "bad_version": eth + b"\x65" + bytes(40),
        "runt": eth + b"\x45",
    }
    for name, f in frames.items():
        for _ in range(5):
            s.send(f)
    print(json.dumps({"sent": {k: 5 for k in frames}}))
    return 0


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "exchange" and len(argv) == 7:
        return exchange(argv[2], argv[3], argv[4], argv[5], int(argv[6]))
    if cmd == "send" and len(argv) == 5:
        return send(argv[2], argv[3], int(argv[4]))
    if cmd == "expect" and len(argv) == 5:
        return expect(argv[2], int(argv[3]), float(argv[4]))
    if cmd == "raw" and len(argv) == 7:
        return raw(*argv[2:7])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
