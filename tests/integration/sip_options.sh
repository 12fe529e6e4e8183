#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# SIP on the control plane, against SIPp as the real peer: OPTIONS answered 200 with Allow, rport
# and a To tag (RFC 3581, RFC 3261 §8.2.6); then malformed requests over UDP are answered 400
# with a reason naming the problem, malformed responses are dropped, and tollgate-cp carries on.
. "$(dirname "$0")/lib.sh"

command -v sipp >/dev/null || fail "sipp missing (scripts/bootstrap installs sip-tester)"
ADDR=127.0.0.$((RANDOM % 200 + 20))
PORT=$((RANDOM % 20000 + 30000))
start_bg cp "$CP" --instance "$INSTANCE" --set "sip.listen=$ADDR:$PORT" --duration 60
wait_log cp "SIP listening on udp and tcp $ADDR:$PORT" 10

# 200 OPTIONS at 100/s from SIPp: every one answered as the scenario demands
rc=0
timeout 60 sipp "$ADDR:$PORT" -sf "$TG_SRC/tests/sipp/options.xml" -i 127.0.0.1 -p $((PORT + 1)) -m 200 \
	-r 100 -timeout 30s -timeout_error -trace_err -error_file "$WORK/sipp_err.log" \
	-nostdin >"$WORK/sipp.log" 2>&1 || rc=$?
[[ $rc -eq 0 ]] || fail "sipp exit status $rc: $(tail -5 "$WORK/sipp_err.log" 2>/dev/null)"
pass "200 OPTIONS from SIPp answered 200 with Allow, rport and a To tag"
rc=0
timeout 60 sipp "$ADDR:$PORT" -t t1 -sf "$TG_SRC/tests/sipp/options.xml" -i 127.0.0.1 \
	-p $((PORT + 2)) -m 100 -r 100 -timeout 30s -timeout_error -trace_err \
	-error_file "$WORK/sipp_tcp_err.log" -nostdin >"$WORK/sipp_tcp.log" 2>&1 || rc=$?
[[ $rc -eq 0 ]] || fail "sipp over TCP exit status $rc: $(tail -5 "$WORK/sipp_tcp_err.log" 2>/dev/null)"
pass "100 OPTIONS from SIPp over one TCP connection answered"

# TCP framing: pipelined messages, a message in pieces, keep-alives, a missing Content-Length
python3 - "$ADDR" "$PORT" >"$WORK/tcp.log" 2>&1 <<'PY' || fail "TCP framing: $(cat "$WORK/tcp.log")"
import socket, sys, time
addr, port = sys.argv[1], int(sys.argv[2])
def opt(n, cl=True):
    return ("OPTIONS sip:x@%s SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKt%d\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:a@example.test>;tag=1\r\nTo: <sip:b@example.test>\r\n"
            "Call-ID: tcp%d\r\nCSeq: %d OPTIONS\r\n%s\r\n" % (addr, n, n, n, "Content-Length: 0\r\n" if cl else ""))
def answers(sock, want, deadline=3.0):
    sock.settimeout(0.3)
    data, end = b"", time.monotonic() + deadline
    while data.count(b"SIP/2.0 ") < want and time.monotonic() < end:
        try:
            chunk = sock.recv(65535)
            if not chunk:
                break
            data += chunk
        except socket.timeout:
            pass
    return data.decode("latin-1")
s = socket.create_connection((addr, port))
s.sendall((opt(1) + "\r\n\r\n" + opt(2) + opt(3)).encode())
got = answers(s, 3)
assert got.count("SIP/2.0 200 OK") == 3, "pipelined: %r" % got
for i in ("Call-ID: tcp1", "Call-ID: tcp2", "Call-ID: tcp3"):
    assert i in got, "missing " + i
m = opt(4).encode()
for part in (m[:10], m[10:70], m[70:]):
    s.sendall(part); time.sleep(0.05)
got = answers(s, 1)
assert "SIP/2.0 200 OK" in got and "Call-ID: tcp4" in got, "in pieces: %r" % got
s.sendall(opt(5, cl=False).encode())
got = answers(s, 1)
assert "400 Missing Content-Length" in got, "no Content-Length: %r" % got
s.settimeout(2)
assert s.recv(100) == b"", "connection should be closed after bad framing"
print("ok")
PY
pass "TCP: pipelined and split messages answered in order; no Content-Length gets 400 and a close"

# malformed input: a 400 whose reason names the problem; nothing for broken responses
python3 - "$ADDR" "$PORT" >"$WORK/bad.log" 2>&1 <<'PY' || fail "malformed requests: $(cat "$WORK/bad.log")"
import socket, sys
addr, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.settimeout(2)
me = "127.0.0.1:%d" % s.getsockname()[1]
base = ("{m} sip:x@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK{n}\r\nMax-Forwards: 70\r\n"
        "From: <sip:a@example.test>;tag=1\r\nTo: <sip:b@example.test>\r\n" % (addr, me))
cases = [
    ("no Call-ID", base.format(m="INVITE", n=1) + "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", "400 Missing Call-ID"),
    ("CSeq mismatch", base.format(m="INVITE", n=2) + "Call-ID: c2\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n", "400 CSeq method"),
    ("Content-Length", base.format(m="OPTIONS", n=3) + "Call-ID: c3\r\nCSeq: 1 OPTIONS\r\nContent-Length: 50\r\n\r\nshort", "400 Content-Length"),
    ("scheme", base.format(m="OPTIONS", n=4).replace("sip:x@", "http:x@", 1) + "Call-ID: c4\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", "416 "),
    ("unknown method", base.format(m="FROBNICATE", n=5) + "Call-ID: c5\r\nCSeq: 1 FROBNICATE\r\nContent-Length: 0\r\n\r\n", "501 Not Implemented"),
    ("garbage headers", "INVITE sip:x@%s SIP/2.0\r\nv: SIP/2.0/UDP %s;branch=z9hG4bK6\r\nf: <sip:a@e.test>;tag=1\r\nt: <sip:b@e.test>\r\ni: c6\r\nCSeq: 1 INVITE\r\nContent-Type: \x01\x02\r\n\x00\x00\r\n\r\n" % (addr, me), "400 "),
]
for name, msg, want in cases:
    s.sendto(msg.encode("latin-1"), (addr, port))
    try:
        data = s.recv(65535).decode("latin-1")
    except socket.timeout:
        print("%s: no answer" % name); sys.exit(1)
    first = data.split("\r\n", 1)[0]
    if want not in first:
        print("%s: got %r, want %r" % (name, first, want)); sys.exit(1)
    print("%s: %s" % (name, first))
# responses that are broken, and pure garbage, get no answer at all
for junk in (b"SIP/2.0 200 OK\r\nVia: broken\r\n\r\n", b"\x00\xff" * 100, b"\r\n\r\n", b"x" * 70000):
    try:
        s.sendto(junk, (addr, port))
    except OSError:
        pass
try:
    data = s.recv(65535)
    print("unexpected answer to junk: %r" % data[:80]); sys.exit(1)
except socket.timeout:
    pass
print("ok")
PY
pass "malformed requests answered with reasons: $(grep -c ': SIP/2.0' "$WORK/bad.log") cases"
# still alive and counting
kill -INT "$cp_pid"
wait_log cp "sip: rx=[0-9]+ bad_requests=[0-9]+ bad_responses=[1-9]" 10
pass "tollgate-cp survived and counted the bad input"
