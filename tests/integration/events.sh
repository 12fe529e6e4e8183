#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The operator's event stream (tgctl events) against real SIPp calls through the appliance:
#  - a call watched from start to end by `tgctl events --json --for`: incoming, the states
#    initializing -> dialing -> ringing -> connected, established, the two digits of
#    `call dtmf ID 12 callee info` (info, sent, callee), hold (connected -> on-hold) and resume,
#    media-quality events with packets > 0 on both legs (b2bua.quality_interval=1s), and after
#    the operator's hangup terminating -> terminated and ended (reason operator, duration > 0);
#  - `--call ID --kinds ended` gets exactly that one event, and its stream ends with the call;
#  - a subscriber that never reads does not stall anything: calls go on meanwhile, the bus
#    drops for it and counts (show stats), and when it reads at last it is told what it lost;
#  - bad arguments are refused with a message (exit 1), a bad command line exits 2;
#  - and nothing is left behind (no call, no subscriber).
. "$(dirname "$0")/lib.sh"

start_appliance --set "routing.rules=1*@* => $CALLEE:5090" --set b2bua.quality_interval=1s

# show_stat EXPR : a value from `show stats` (python expression over s)
show_stat() {
	ctl --json show stats | python3 -c "import json, sys; s = json.load(sys.stdin); print($1)"
}

# wait_subscribers N : until the bus has N subscribers (5 s)
wait_subscribers() {
	for _ in $(seq 50); do
		[[ $(show_stat 's["events"]["subscribers"]') -eq $1 ]] && return 0
		sleep 0.1
	done
	fail "subscribers: $(show_stat 's["events"]') (expected $1)"
}

# call N : a call from uac_wait_bye to uas_answer, both playing RTP; sets $id
call() {
	local n=$1
	in_peers timeout 60 sipp -sf "$SIPP_DIR/uas_answer.xml" -i $CALLEE -p 5090 -mi $CALLEE \
		-mp 16000 -m 1 -timeout 50 -nostdin -set media 1 >"$WORK/uas$n.log" 2>&1 &
	uas_pid=$!
	TG_PIDS+=($uas_pid)
	sleep 0.5
	in_peers timeout 60 sipp -sf "$SIPP_DIR/uac_wait_bye.xml" "$APP4:5060" -i $CALLER \
		-p 5080 -mi $CALLER -mp 17000 -m 1 -s 1001 -timeout 50 -nostdin -set media 1 \
		>"$WORK/uac$n.log" 2>&1 &
	uac_pid=$!
	TG_PIDS+=($uac_pid)
	wait_log cp "answered $n," 10
	id=$(ctl --json show calls | python3 -c '
import json, sys
calls = json.load(sys.stdin)
assert len(calls) == 1 and calls[0]["state"] == "connected", calls
print(calls[0]["id"])') || fail "call $n not connected: $(ctl --json show calls)"
}

# hang_up N : the operator ends the call; both peers must end cleanly
hang_up() {
	ctl call hangup "$id" >/dev/null || fail "call hangup $id"
	wait "$uac_pid" || fail "the caller did not end cleanly: $(tail -5 "$WORK/uac$1.log")"
	wait "$uas_pid" || fail "the callee did not end cleanly: $(tail -5 "$WORK/uas$1.log")"
}

# 1. bad arguments: a message and exit 1; a bad command line: exit 2
ctl_fails "unknown kind 'nope' \(kinds: state, incoming" events --kinds state,nope
ctl_fails "--call 'x1': not a call number" events --call x1
ctl_fails "no call 424242" events --call 424242
ctl_fails "unknown argument '--frob'" events --frob
rc=0
ctl events --count 0 2>"$WORK/ctl.err" || rc=$?
[[ $rc -eq 2 ]] && grep -q -- "--count '0'" "$WORK/ctl.err" || fail "--count 0: exit $rc: $(cat "$WORK/ctl.err")"
pass "bad arguments: unknown kind, bad or unknown call, unknown option refused (exit 1); --count 0 exit 2"

# 2. one call, watched whole
"$TGCTL" --socket "$SOCK" events --json --for 45 >"$WORK/all.jsonl" 2>"$WORK/all.err" &
all_pid=$!
TG_PIDS+=($all_pid)
wait_subscribers 1
call 1
"$TGCTL" --socket "$SOCK" events --json --call "$id" --kinds ended --for 40 >"$WORK/ended.jsonl" 2>"$WORK/ended.err" &
ended_pid=$!
TG_PIDS+=($ended_pid)
wait_subscribers 2
sleep 2.5 # media-quality rounds while the media flows
ctl call dtmf "$id" 12 callee info >/dev/null || fail "call dtmf"
ctl call hold "$id" >/dev/null || fail "call hold"
ctl call resume "$id" >/dev/null || fail "call resume"
hang_up 1
# the --call stream ends with its call: tgctl exits 0 by itself
for _ in $(seq 50); do kill -0 "$ended_pid" 2>/dev/null || break; sleep 0.1; done
wait "$ended_pid" || fail "tgctl events --call: exit $?: $(cat "$WORK/ended.err")"
python3 - "$WORK/ended.jsonl" "$id" <<'EOF' || fail "the --call $id --kinds ended stream: $(cat "$WORK/ended.jsonl")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
events = [l for l in lines if "kind" in l]
assert len(events) == 1, events
assert events[0]["kind"] == "ended" and events[0]["call"] == int(sys.argv[2]), events
assert events[0]["reason"] == "operator", events
assert lines[-1] == {"end": True, "reason": "call %s ended" % sys.argv[2]}, lines[-1]
EOF
pass "events --call $id --kinds ended: exactly one event, then the stream ended with the call"

# the watcher: until the call's end is in, then Ctrl-C's sibling (SIGTERM): exit 0
for _ in $(seq 50); do
	grep -q '"kind":"ended"' "$WORK/all.jsonl" && break
	sleep 0.1
done
kill -TERM "$all_pid"
wait "$all_pid" || fail "tgctl events --for: exit $? on SIGTERM: $(cat "$WORK/all.err")"
python3 - "$WORK/all.jsonl" "$id" <<'EOF' || fail "the call's events: $(cat "$WORK/all.jsonl")"
import json, re, sys
call = int(sys.argv[2])
lines = [json.loads(l) for l in open(sys.argv[1])]
assert not [l for l in lines if "dropped" in l], "dropped while reading"
ev = [l for l in lines if l.get("call") == call]
assert ev, "no event of call %d" % call
for e in ev:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["time"]), e
kinds = [e["kind"] for e in ev]
assert kinds[0] == "incoming", kinds
assert "sip:sipp@198.18.0.2" in ev[0]["from"] and "sip:1001@" in ev[0]["to"], ev[0]
# the states, repeats (18x again, a re-INVITE pending) folded
states = []
for e in ev:
    if e["kind"] == "state":
        assert {"from", "to", "event"} <= set(e), e
        if not states or states[-1] != e["to"]:
            states.append(e["to"])
want = ["initializing", "dialing", "ringing", "connected", "on-hold", "connected",
        "terminating", "terminated"]
assert states == want, states
assert kinds.index("established") > kinds.index("state"), kinds
held = [e for e in ev if e["kind"] == "state" and e["from"] == "connected" and e["to"] == "on-hold"]
assert len(held) == 1 and held[0]["event"] == "hold-confirmed", held
dtmf = [e for e in ev if e["kind"] == "dtmf"]
assert [d["digit"] for d in dtmf] == ["1", "2"], dtmf
for d in dtmf:
    assert (d["method"], d["direction"], d["leg"]) == ("info", "sent", "callee"), d
mq = [e for e in ev if e["kind"] == "media-quality"]
for leg in ("caller", "callee"):
    got = [m for m in mq if m["leg"] == leg and m["stream"] == 0]
    assert got and max(m["packets"] for m in got) > 0, (leg, mq)
for m in mq:
    assert {"mos", "jitter_ms", "rtt_ms", "lost", "packets"} <= set(m), m
ended = ev[-1]
assert ended["kind"] == "ended", ended
assert ended["reason"] == "operator" and ended["duration_ms"] > 0, ended
term = [e for e in ev if e["kind"] == "state" and e["to"] == "terminated"]
assert term and term[-1]["from"] == "terminating", term
print("%d events, %d media-quality" % (len(ev), len(mq)))
EOF
pass "events --json: incoming, initializing->dialing->ringing->connected, established, dtmf x2 (info, sent, callee), on-hold and back, media-quality with packets on both legs, terminating->terminated, ended (operator); SIGTERM exits 0"

# 3. a subscriber that never reads
python3 - "$SOCK" "$WORK/slow.ready" "$WORK/slow.go" >"$WORK/slow.json" 2>"$WORK/slow.err" <<'EOF' &
import json, os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(b'["events"]\n')
f = s.makefile("rb")
head = json.loads(f.readline())
assert head == {"ok": True, "stream": True}, head
open(sys.argv[2], "w").close()
# read nothing until told (bounded)
for _ in range(600):
    if os.path.exists(sys.argv[3]):
        break
    time.sleep(0.1)
s.settimeout(3)
events = dropped = 0
try:
    for line in f:
        l = json.loads(line)
        if "dropped" in l:
            dropped += l["dropped"]
        else:
            events += 1
except socket.timeout:
    pass
print(json.dumps({"events": events, "dropped": dropped}))
EOF
slow_pid=$!
TG_PIDS+=($slow_pid)
for _ in $(seq 50); do [[ -e $WORK/slow.ready ]] && break; sleep 0.1; done
[[ -e $WORK/slow.ready ]] || fail "the slow subscriber did not subscribe: $(cat "$WORK/slow.err")"
call 2
# digits, 32 at a time: each one an event nobody reads
for i in $(seq 40); do
	ctl call dtmf "$id" 0123456789ABCD0123456789ABCD0123 callee info >/dev/null || fail "call dtmf ($i)"
	(($(show_stat 's["events"]["dropped"]') > 0)) && break
done
dropped=$(show_stat 's["events"]["dropped"]')
((dropped > 0)) || fail "no drops counted: $(show_stat 's["events"]')"
hang_up 2
# calls go on meanwhile
in_peers timeout 60 sipp -sf "$SIPP_DIR/uas_answer.xml" -i $CALLEE -p 5090 -mi $CALLEE \
	-mp 16000 -m 3 -timeout 30 -nostdin >"$WORK/uas3.log" 2>&1 &
uas_pid=$!
TG_PIDS+=($uas_pid)
sleep 0.5
in_peers timeout 60 sipp -sf "$SIPP_DIR/uac_basic.xml" "$APP4:5060" -i $CALLER -p 5080 \
	-mi $CALLER -mp 17000 -m 3 -r 5 -s 1001 -d 500 -timeout 30 -nostdin >"$WORK/uac3.log" 2>&1 ||
	fail "calls while a subscriber stalls: $(tail -5 "$WORK/uac3.log")"
wait "$uas_pid" || fail "their callee: $(tail -5 "$WORK/uas3.log")"
[[ $(show_stat 's["events"]["subscribers"]') -eq 1 ]] || fail "the slow subscriber is gone: $(show_stat 's["events"]')"
dropped=$(show_stat 's["events"]["dropped"]')
touch "$WORK/slow.go"
wait "$slow_pid" || fail "the slow subscriber: $(cat "$WORK/slow.err")"
python3 - "$WORK/slow.json" "$dropped" <<'EOF' || fail "the slow subscriber: $(cat "$WORK/slow.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["dropped"] >= int(sys.argv[2]) and r["events"] > 0, r
EOF
wait_subscribers 0
pass "a subscriber that never reads: $dropped events dropped and counted, 3 calls completed meanwhile, told {\"dropped\": N} when it read"

# 4. nothing left
kill -0 "$cp_pid" || fail "the control plane died"
nothing_left "$SOCK"
[[ $(show_stat 's["events"]["subscribers"]') -eq 0 ]] || fail "subscribers left"
[[ $(wc -l <"$CDR") -eq 5 ]] || fail "records: $(wc -l <"$CDR")"
pass "nothing left: no call, no subscriber; five records"
