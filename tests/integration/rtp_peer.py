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
  rtp_peer.py dtmf-rx A_BIND B_BIND A_TARGET B_TARGET FIFO PT DIGITS COMMAND
      A sends 20 ms audio toward A_TARGET for 2.4 s (relayed to B); after 0.4 s COMMAND is
      written to FIFO (tg-flowctl --commands: "dtmf b0 PT DIGITS"). Checks what B receives:
      the RFC 4733 events for DIGITS in order (PT, 7 packets each sharing a timestamp, marker on
      the first, end bit on the last three, durations growing to 100 ms, volume 10), no audio
      inside an event, one SSRC (the audio's) and sequence numbers stepping by one across
      audio, events and audio, timestamps in order. Prints one JSON line; exit 1 on failure.
  rtp_peer.py dtmf-tx A_BIND B_BIND A_TARGET PT
      A sends RFC 4733 events toward A_TARGET: '5' (an update repeated, end sent 3 times), '*'
      with its ends lost, '7', five hostile payloads (no event, 2 bytes, event 16, event 200,
      another event on '7's timestamp), '0' with its ends lost; counts what B receives
      (everything is relayed). Prints one JSON line; exit 1 if B missed any.

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


def drain(socks):
    for s in socks:
        s.settimeout(0.05)
        try:
            while True:
                s.recvfrom(4096)
        except socket.timeout:
            pass
        s.settimeout(0.5)


def warm_up(sa, sb, ta, tb, ssrc, seq):
    """Both endpoints learn their remote's MAC (the first packet toward an unknown MAC is
    dropped while the dataplane asks for it); B's copies of A's packets are drained."""
    for _ in range(2):
        sb.sendto(rtp(0xFFF0, 0xB0B0B0B0, b"warm"), tb)
        time.sleep(0.1)
        sa.sendto(struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, seq * 160, ssrc) + bytes(160), ta)
        seq += 1
        time.sleep(0.1)
    drain((sa, sb))
    return seq


def event(seq, ts, ssrc, pt, code, end, volume, duration, marker=False, raw=None):
    hdr = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts, ssrc)
    if raw is not None:
        return hdr + raw
    return hdr + struct.pack("!BBH", code, (0x80 if end else 0) | volume, duration)


def dtmf_rx(a_bind, b_bind, a_target, b_target, fifo, pt, digits, command):
    sa, sb = sock(a_bind), sock(b_bind)
    _, ta = parse(a_target)
    _, tb = parse(b_target)
    pt = int(pt)
    ssrc = 0xA0D10A0D
    seq = warm_up(sa, sb, ta, tb, ssrc, 1000)
    got = []  # (pt, marker, seq, ts, ssrc, payload)
    sb.setblocking(False)
    start = time.monotonic()
    i = 0
    commanded = False
    while time.monotonic() < start + 2.7:
        now = time.monotonic()
        if i < 120 and now >= start + 0.02 * i:
            sa.sendto(struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, seq * 160, ssrc) + bytes(160), ta)
            seq += 1
            i += 1
        if not commanded and now >= start + 0.4:
            with open(fifo, "w") as f:
                f.write(command + "\n")
            commanded = True
        try:
            while True:
                data, _ = sb.recvfrom(4096)
                if len(data) >= 12:
                    b1 = data[1]
                    s_, ts, ss = struct.unpack("!HII", data[2:12])
                    got.append((b1 & 0x7F, bool(b1 & 0x80), s_, ts, ss, data[12:]))
        except BlockingIOError:
            pass
        time.sleep(0.002)
    res = {"received": len(got), "audio": 0, "events": 0, "errors": []}
    err = res["errors"]
    groups = []  # [ts, [packets]]
    in_event = None
    for k, (p, m, s_, ts, ss, pl) in enumerate(got):
        if ss != ssrc:
            err.append("packet %d: SSRC %08x, not the audio's %08x" % (k, ss, ssrc))
        if k and s_ != (got[k - 1][2] + 1) & 0xFFFF:
            err.append("packet %d: seq %d after %d" % (k, s_, got[k - 1][2]))
        if k and (ts - got[k - 1][3]) & 0xFFFFFFFF > 0x7FFFFFFF:
            err.append("packet %d: timestamp %d went back from %d" % (k, ts, got[k - 1][3]))
        if p == pt:
            res["events"] += 1
            if len(pl) != 4:
                err.append("packet %d: event payload of %d bytes" % (k, len(pl)))
                continue
            code, flags, dur = struct.unpack("!BBH", pl)
            if not groups or groups[-1][0] != ts:
                groups.append([ts, []])
                if in_event is not None:
                    err.append("packet %d: event started before the last one ended" % k)
            groups[-1][1].append((m, code, bool(flags & 0x80), flags & 0x3F, dur))
            in_event = ts
            if len(groups[-1][1]) == 7:
                in_event = None
        elif p == 0:
            res["audio"] += 1
            if in_event is not None:
                err.append("packet %d: audio inside the event of timestamp %d" % (k, in_event))
            if groups and len(groups[-1][1]) == 7 and k and got[k - 1][0] == pt:
                # the first audio after an event: its clock went on while the event played
                if (ts - groups[-1][0]) & 0xFFFFFFFF < 800:
                    err.append("packet %d: audio timestamp %d within the event's 800" % (k, ts))
        else:
            err.append("packet %d: payload type %d" % (k, p))
    codes = "0123456789*#ABCD"
    res["digits"] = "".join(codes[g[1][0][1]] if g[1][0][1] < 16 else "?" for g in groups)
    if res["digits"] != digits:
        err.append("digits %r, expected %r" % (res["digits"], digits))
    for ts, pk in groups:
        if len(pk) != 7:
            err.append("event at %d: %d packets, expected 7" % (ts, len(pk)))
            continue
        if [x[0] for x in pk] != [True] + [False] * 6:
            err.append("event at %d: marker bits %s" % (ts, [x[0] for x in pk]))
        if [x[2] for x in pk] != [False] * 4 + [True] * 3:
            err.append("event at %d: end bits %s" % (ts, [x[2] for x in pk]))
        if [x[4] for x in pk] != [160, 320, 480, 640, 800, 800, 800]:
            err.append("event at %d: durations %s" % (ts, [x[4] for x in pk]))
        if any(x[3] != 10 for x in pk) or len(set(x[1] for x in pk)) != 1:
            err.append("event at %d: volume or code changed within the event" % ts)
    if got and got[-1][0] != 0:
        err.append("no audio after the digits")
    if not got or got[0][0] != 0:
        err.append("no audio before the digits")
    del err[20:]
    print(json.dumps(res))
    return 0 if not err else 1


def dtmf_tx(a_bind, b_bind, a_target, pt):
    sa, sb = sock(a_bind), sock(b_bind)
    _, ta = parse(a_target)
    pt = int(pt)
    ssrc = 0xE7E7E7E7
    seq = 1
    sent = 0
    pkts = []
    dur = [160, 320, 480, 640, 800, 800, 800]

    def digit(code, ts, ends):
        nonlocal seq
        for j in range(7 if ends else 4):
            for _ in range(2 if j == 1 else 1):
                pkts.append(event(seq, ts, ssrc, pt, code, j >= 4, 7, dur[j], marker=j == 0))
                seq += 1

    digit(5, 8000, True)
    digit(10, 16000, False)
    digit(7, 24000, True)
    # hostile: no event at all, 2 bytes of one, events 16 and 200, another event on '7's
    # timestamp; every one still relayed
    pkts.append(event(seq, 30000, ssrc, pt, 0, 0, 0, 0, marker=True, raw=b""))
    pkts.append(event(seq + 1, 30001, ssrc, pt, 0, 0, 0, 0, marker=True, raw=b"\x05\x87"))
    pkts.append(event(seq + 2, 30002, ssrc, pt, 16, True, 7, 800, marker=True))
    pkts.append(event(seq + 3, 30003, ssrc, pt, 200, True, 7, 800, marker=True))
    pkts.append(event(seq + 4, 24000, ssrc, pt, 3, True, 7, 800))
    seq += 5
    digit(0, 40000, False)
    sb.setblocking(False)
    got = 0
    for p in pkts:
        sa.sendto(p, ta)
        sent += 1
        time.sleep(0.02)
        try:
            while True:
                sb.recvfrom(4096)
                got += 1
        except BlockingIOError:
            pass
    end = time.monotonic() + 1.0
    while got < sent and time.monotonic() < end:
        try:
            sb.recvfrom(4096)
            got += 1
        except BlockingIOError:
            time.sleep(0.01)
    print(json.dumps({"sent": sent, "relayed": got}))
    return 0 if got == sent else 1


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
    if cmd == "dtmf-rx" and len(argv) == 10:
        return dtmf_rx(*argv[2:10])
    if cmd == "dtmf-tx" and len(argv) == 6:
        return dtmf_tx(*argv[2:6])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
