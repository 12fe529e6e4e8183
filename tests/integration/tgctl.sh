#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tgctl against a running appliance, with a real call from SIPp through it: show calls, show
# call (both legs, live media statistics from the dataplane), call hangup (BYE with a Reason to
# both peers, the record says "operator"), show stats, show config, set (a live key takes effect
# on the next call, a boot-only key is refused), reload (a new routing rule for the next call,
# a broken file refused with the old rules kept), bad input (a clear message and a non-zero
# exit: 1 refused by the appliance, 2 usage, 3 no appliance), and once every call has ended,
# nothing left behind: no call, dialog, caller address, transaction, channel request or media
# endpoint.
. "$(dirname "$0")/lib.sh"

SIPP_DIR=$TG_SRC/tests/sipp
CALLER=198.18.0.2
CALLEE=198.18.0.3
CDR=$WORK/cdr.jsonl
CONF=$WORK/tollgate.conf

start_dp dp --set dataplane.media_address=$APP4 --set dataplane.checksum_offload=false
media_netns

cat >"$CONF" <<EOF
[routing]
rules = 1*@* => $CALLEE:5090
EOF
start_bg cp ip netns exec "$APP_NS" "$CP" --instance "$INSTANCE" --config "$CONF" \
	--set sip.listen=$APP4:5060 --set cdr.path="$CDR" --set controlplane.status_interval=1s \
	--set controlplane.dp_timeout=10s --set controlplane.control_socket="$SOCK"
wait_log cp "sessions: 1 routing rules" 10
wait_log cp "dataplane up" 10

# callee NAME PORT SCENARIO [sipp options] : one call, in the background (bounded)
callee() {
	local name=$1 port=$2 sf=$3
	shift 3
	in_peers timeout 60 sipp -sf "$SIPP_DIR/$sf" -i $CALLEE -p "$port" -mi $CALLEE -mp 16000 \
		-m 1 -timeout 50 -nostdin -trace_logs -log_file "$WORK/$name.sipp.log" "$@" \
		>"$WORK/$name.log" 2>&1 &
	TG_PIDS+=($!)
	eval "${name}_pid=$!"
	sleep 0.5
}

# 1. a call up with RTP from the caller; the operator looks at it
callee uas1 5090 uas_answer.xml -rtp_echo
in_peers timeout 60 sipp -sf "$SIPP_DIR/uac_wait_bye.xml" "$APP4:5060" -i $CALLER -p 5080 \
	-mi $CALLER -mp 17000 -m 1 -s 1001 -timeout 50 -nostdin -set media 1 -trace_logs \
	-log_file "$WORK/uac1.sipp.log" >"$WORK/uac1.log" 2>&1 &
uac1_pid=$!
TG_PIDS+=($uac1_pid)
wait_log cp "answered 1," 10
sleep 2 # media for the statistics

ctl show calls >"$WORK/calls.txt" || fail "show calls: $(cat "$WORK/calls.txt")"
grep -q "connected" "$WORK/calls.txt" || fail "show calls (table): $(cat "$WORK/calls.txt")"
id=$(ctl --json show calls | python3 -c '
import json, sys
calls = json.load(sys.stdin)
assert len(calls) == 1, calls
c = calls[0]
assert c["state"] == "connected" and "sip:1001@" in c["to"], c
print(c["id"])
') || fail "show calls --json"
pass "show calls: one call, connected (table and JSON)"

ctl --json show call "$id" >"$WORK/call.json" || fail "show call $id: $(cat "$WORK/call.json")"
python3 - "$WORK/call.json" "$APP4" <<'EOF' || fail "show call $id: $(cat "$WORK/call.json")"
import json, sys
c = json.load(open(sys.argv[1]))
app = sys.argv[2]
assert c["state"] == "connected", c["state"]
a, b = c["a"], c["b"]
assert a["call_id"] and b["call_id"] and a["call_id"] != b["call_id"], (a, b)
assert a["peer"].startswith("198.18.0.2:") and b["peer"].startswith("198.18.0.3:"), (a, b)
m = c["media"][0]
assert m["a"]["local"].startswith(app + ":") and m["b"]["local"].startswith(app + ":"), m
# the caller plays RTP: its endpoint has received it, the callee's has relayed it
assert m["a"]["stats"]["packets"] > 20, m["a"]["stats"]
assert m["b"]["stats"]["relayed"] > 20, m["b"]["stats"]
assert m["a"]["stats"]["mos"] is None or 1 <= m["a"]["stats"]["mos"] <= 5, m["a"]["stats"]
EOF
ctl show call "$id" >"$WORK/call.txt" || fail "show call (human)"
grep -q "call_id" "$WORK/call.txt" || fail "show call (human): $(cat "$WORK/call.txt")"
# the dataplane's endpoint gauge counts this call's two (the check at the end relies on it)
ctl --json show stats | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert sum(l.get("endpoints", 0) for l in s["dataplane"]["lcores"]) == 2, s["dataplane"]["lcores"]
assert s["calls"]["dialogs"] == 2 and s["calls"]["sources"] == 1, s["calls"]
' || fail "endpoints and dialogs during the call: $(ctl --json show stats | head -c 800)"
pass "show call: two legs with their own Call-IDs, endpoints on $APP4, live RTP statistics"

# set: a live key takes effect on the next call (one call up, max_calls 1: the next gets 503);
# a boot-only key and a bad value are refused
ctl set b2bua.max_calls 1 >/dev/null || fail "set b2bua.max_calls 1"
in_peers timeout 30 sipp -sf "$SIPP_DIR/uac_expect_reject.xml" "$APP4:5060" -i $CALLER -p 5081 \
	-m 1 -s 1002 -timeout 20 -nostdin -trace_logs -log_file "$WORK/uac503.sipp.log" \
	>"$WORK/uac503.log" 2>&1 || fail "the refused call: $(tail -5 "$WORK/uac503.log")"
grep -q "status=503" "$WORK/uac503.sipp.log" || fail "not 503 with max_calls 1 and a call up"
ctl set b2bua.max_calls 1000 >/dev/null || fail "set b2bua.max_calls 1000"
# one call at most from one address: the caller's second call is refused, for that reason
ctl set b2bua.max_calls_per_source 1 >/dev/null || fail "set b2bua.max_calls_per_source 1"
in_peers timeout 30 sipp -sf "$SIPP_DIR/uac_expect_reject.xml" "$APP4:5060" -i $CALLER -p 5081 \
	-m 1 -s 1002 -timeout 20 -nostdin -trace_logs -log_file "$WORK/uac503s.sipp.log" \
	>"$WORK/uac503s.log" 2>&1 || fail "the call over the source limit: $(tail -5 "$WORK/uac503s.log")"
grep -q "status=503 reason=Service Unavailable (too many calls from this address)" \
	"$WORK/uac503s.sipp.log" || fail "per-source limit: $(grep event=final "$WORK/uac503s.sipp.log")"
ctl set b2bua.max_calls_per_source 0 >/dev/null || fail "set b2bua.max_calls_per_source 0"
tgctl_exits 1 "sip.listen" --socket "$SOCK" set sip.listen 127.0.0.1:5999
tgctl_exits 1 "b2bua.max_calls" --socket "$SOCK" set b2bua.max_calls lots
pass "set: live keys apply to the next call (503 at max_calls, 503 at max_calls_per_source), boot-only and bad values refused"

ctl call hangup "$id" >/dev/null || fail "call hangup $id"
wait "$uac1_pid" || fail "the caller did not end cleanly: $(tail -5 "$WORK/uac1.log")"
wait "$uas1_pid" || fail "the callee did not end cleanly: $(tail -5 "$WORK/uas1.log")"
grep -Eq 'event=bye reason= ?SIP;cause=200;text="ended by the operator"' "$WORK/uac1.sipp.log" ||
	fail "the caller's BYE: $(grep event=bye "$WORK/uac1.sipp.log")"
wait_ended cp 1 10
tail -1 "$CDR" | grep -q '"end_reason":"operator"' || fail "the record: $(tail -1 "$CDR")"
[[ $(ctl --json show calls) == "[]" ]] || fail "calls left: $(ctl --json show calls)"
pass "call hangup: BYE with a Reason to both legs, record 'operator', no call left"

# 2. bad input: a message and a non-zero exit, the appliance unharmed
tgctl_exits 1 "not a call number" --socket "$SOCK" show call abc
tgctl_exits 1 "no call 99999" --socket "$SOCK" show call 99999
tgctl_exits 1 "no call $id" --socket "$SOCK" call hangup "$id"
tgctl_exits 1 "unknown command" --socket "$SOCK" frobnicate now
tgctl_exits 1 "ID" --socket "$SOCK" show call
tgctl_exits 2 "." --socket "$SOCK"
tgctl_exits 3 "$WORK/nosuch.ctl" --socket "$WORK/nosuch.ctl" show calls
ctl help >"$WORK/help.txt" || fail "help"
for c in "show calls" "show call" "call hangup" "show stats" "show config" "set" "reload"; do
	grep -q "$c" "$WORK/help.txt" || fail "help lacks '$c': $(cat "$WORK/help.txt")"
done
pass "bad input: clear messages, exit 1 (refused), 2 (usage), 3 (no appliance); help lists the commands"

# 3. stats and config
ctl --json show stats | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["calls"]["answered"] == 1 and s["calls"]["active"] == 0, s["calls"]
assert s["calls"]["rejected_limit"] == 1, s["calls"]
assert s["calls"]["rejected_source_limit"] == 1, s["calls"]
' || fail "show stats: $(ctl --json show stats)"
ctl --json show config | python3 -c '
import json, sys
keys = {k["key"]: k for k in json.load(sys.stdin)}
assert keys["b2bua.max_calls"]["changes"] == "live", keys["b2bua.max_calls"]
assert keys["b2bua.max_calls"]["value"] == "1000", keys["b2bua.max_calls"]
assert keys["sip.listen"]["changes"] == "boot", keys["sip.listen"]
assert "1*@*" in keys["routing.rules"]["value"], keys["routing.rules"]
' || fail "show config: $(ctl --json show config | head -c 600)"
pass "show stats and show config"

# 4. reload: the file's new rule routes the next call; a broken file changes nothing
cat >"$CONF" <<EOF
[routing]
rules = 1*@* => $CALLEE:5091
EOF
ctl reload >/dev/null || fail "reload: $(ctl reload 2>&1)"
callee uas2 5091 uas_answer.xml
in_peers timeout 60 sipp -sf "$SIPP_DIR/uac_basic.xml" "$APP4:5060" -i $CALLER -p 5082 \
	-mi $CALLER -mp 17100 -m 1 -s 1003 -timeout 30 -nostdin >"$WORK/uac2.log" 2>&1 ||
	fail "the call after reload: $(tail -5 "$WORK/uac2.log")"
wait "$uas2_pid" || fail "the new target did not get the call: $(tail -5 "$WORK/uas2.log")"
echo "rules = 1*@* => nowhere" >>"$CONF"
tgctl_exits 1 "rules" --socket "$SOCK" reload
ctl --json show config | python3 -c '
import json, sys
keys = {k["key"]: k for k in json.load(sys.stdin)}
assert "5091" in keys["routing.rules"]["value"], keys["routing.rules"]
' || fail "the broken reload changed the rules"
kill -0 "$cp_pid" || fail "the control plane died"
pass "reload: new routing rules for the next call, calls kept; a broken file refused, rules kept"

# 5. all calls over: nothing left (the endpoints go after the dataplane's grace period)
nothing_left "$SOCK"
pass "every call over: no call, dialog, caller address, transaction, channel request or media endpoint left"
