#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Calls with one party, against real SIPp peers:
#  - b2bua.incoming = accept: the appliance answers (200 with its own media address); the
#    caller's RTP ends in the dataplane and is measured; DTMF goes to its one party; its
#    re-INVITEs and INFOs are answered by the appliance; tgctl call hangup sends BYE;
#  - b2bua.incoming = defer: the call rings (180) until the operator's call answer, call reject
#    (the caller gets that status) or call forward (a B2BUA call to the routed callee);
#  - call originate: the appliance calls a callee as a user of its choosing;
#  - bridge: an answered caller and an originated callee hear each other through the dataplane
#    (the callee echoes the caller's RTP back), unbridge stops it, and both calls go on;
#  - bad requests get a message and exit 1, and nothing is left at the end.
. "$(dirname "$0")/lib.sh"

start_appliance --set "routing.rules=1*@* => $CALLEE:5090" --set b2bua.incoming=accept

# caller NAME SCENARIO [options] : a SIPp caller in the background (bounded); sets uac_pid
caller() {
	local name=$1 sf=$2
	shift 2
	in_peers timeout 60 sipp -sf "$SIPP_DIR/$sf" "$APP4:5060" -i $CALLER -p 5080 -mi $CALLER \
		-mp 17000 -m 1 -s 1001 -timeout 50 -nostdin -trace_logs \
		-log_file "$WORK/$name.sipp.log" "$@" >"$WORK/$name.log" 2>&1 &
	uac_pid=$!
	TG_PIDS+=($uac_pid)
}

# callee NAME [options] : uas_answer on 5090 in the background; sets uas_pid
callee() {
	local name=$1
	shift
	in_peers timeout 60 sipp -sf "$SIPP_DIR/uas_answer.xml" -i $CALLEE -p 5090 -mi $CALLEE \
		-mp 16000 -m 1 -timeout 50 -nostdin -trace_logs -log_file "$WORK/$name.sipp.log" \
		"$@" >"$WORK/$name.log" 2>&1 &
	uas_pid=$!
	TG_PIDS+=($uas_pid)
	sleep 0.5
}

# wait_call KIND STATE : until one call of that kind is in that state (5 s); sets id
wait_call() {
	for _ in $(seq 50); do
		id=$(ctl --json show calls | python3 -c '
import json, sys
kind, state = sys.argv[1:3]
calls = [c for c in json.load(sys.stdin) if c["kind"] == kind and c["state"] == state]
assert len(calls) == 1
print(calls[0]["id"])' "$1" "$2" 2>/dev/null) && return 0
		sleep 0.1
	done
	fail "no $1 call $2: $(ctl --json show calls)"
}

# stat ID EXPR : a value from `show call ID` (python expression over c)
stat() {
	ctl --json show call "$1" | python3 -c "import json, sys; c = json.load(sys.stdin); print($2)"
}

# 1. accept: the appliance answers, the caller's RTP is measured in the dataplane
caller uac1 uac_wait_bye.xml -set media 1
wait_call answered connected
grep -q "event=answer status=200 c=$APP4 " "$WORK/uac1.sipp.log" ||
	fail "the answer: $(grep event=answer "$WORK/uac1.sipp.log")"
sleep 1.5
[[ $(stat "$id" 'c["b"]["call_id"]') == None ]] || fail "an answered call has a B leg: $(stat "$id" 'c["b"]')"
rx=$(stat "$id" 'c["media"][0]["a"]["stats"]["packets"]')
((rx >= 20)) || fail "the caller's RTP did not reach the dataplane: $rx packets"
# DTMF to an answered call goes to its one party, whichever side was named
ctl call dtmf "$id" 7 callee info >/dev/null || fail "call dtmf on an answered call"
for _ in $(seq 30); do grep -q "event=info signal=7" "$WORK/uac1.sipp.log" && break; sleep 0.1; done
grep -q "event=info signal=7" "$WORK/uac1.sipp.log" || fail "no INFO at the party: $(grep event= "$WORK/uac1.sipp.log")"
ctl call hangup "$id" >/dev/null || fail "call hangup $id"
wait "$uac_pid" || fail "the caller did not end cleanly: $(tail -5 "$WORK/uac1.log")"
# the party's re-INVITEs and INFOs: the appliance is its peer and answers them
caller uac1b uac_reinvite.xml -d 300
wait "$uac_pid" || fail "re-INVITEs to an answered call: $(tail -5 "$WORK/uac1b.log")"
[[ $(grep -cE "event=(hold|resume) status=200 c=$APP4 " "$WORK/uac1b.sipp.log") -eq 2 ]] ||
	fail "the re-INVITEs' answers: $(grep event= "$WORK/uac1b.sipp.log")"
before=$(ctl --json show stats | python3 -c 'import json, sys; print(json.load(sys.stdin)["calls"]["dtmf_received"])')
caller uac1c uac_info.xml -d 300
wait "$uac_pid" || fail "INFOs to an answered call: $(tail -5 "$WORK/uac1c.log")"
after=$(ctl --json show stats | python3 -c 'import json, sys; print(json.load(sys.stdin)["calls"]["dtmf_received"])')
((after == before + 2)) || fail "the party's INFO digits: $before -> $after"
pass "accept: answered by the appliance with its own address, $rx RTP packets measured, DTMF to its party, its re-INVITEs and INFOs answered, BYE on hangup"

# 2. defer: the operator decides
ctl set b2bua.incoming defer >/dev/null || fail "set b2bua.incoming defer"
caller uac2 uac_wait_bye.xml
wait_call deferred ringing
ctl_fails "no call 999" call answer 999
ctl_fails "CODE: '200' is not a status" call reject "$id" 200
ctl --json call answer "$id" >"$WORK/answer.json" || fail "call answer: $(cat "$WORK/answer.json")"
wait_call answered connected
ctl call hangup "$id" >/dev/null || fail "call hangup $id"
wait "$uac_pid" || fail "the answered caller: $(tail -5 "$WORK/uac2.log")"

caller uac3 uac_expect_reject.xml
wait_call deferred ringing
ctl call reject "$id" 486 >/dev/null || fail "call reject"
wait "$uac_pid" || fail "the rejected caller: $(tail -5 "$WORK/uac3.log")"
grep -q "status=486" "$WORK/uac3.sipp.log" || fail "not 486: $(cat "$WORK/uac3.sipp.log")"

callee uas4
caller uac4 uac_wait_bye.xml
wait_call deferred ringing
ctl call forward "$id" 1001 >/dev/null || fail "call forward"
wait_call b2bua connected
ctl_fails "not waiting for a decision" call answer "$id"
ctl call hangup "$id" >/dev/null || fail "call hangup $id"
wait "$uac_pid" || fail "the forwarded caller: $(tail -5 "$WORK/uac4.log")"
wait "$uas_pid" || fail "the callee of the forwarded call: $(tail -5 "$WORK/uas4.log")"
pass "defer: ringing until answered by the operator, rejected (486 to the caller) or forwarded to the routed callee"

# 3. the appliance calls the callee, answers a caller, and bridges the two
ctl set b2bua.incoming accept >/dev/null || fail "set b2bua.incoming accept"
callee uas5 -rtp_echo
ctl --json call originate 555 1001 >"$WORK/orig.json" || fail "call originate: $(cat "$WORK/orig.json")"
y=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["id"])' "$WORK/orig.json")
grep -q "event=invite .*from= \?<sip:555@$APP4" "$WORK/uas5.sipp.log" ||
	fail "the callee's INVITE: $(grep event=invite "$WORK/uas5.sipp.log" | head -1)"
[[ $(stat "$y" 'c["kind"], c["state"]') == "originated connected" ]] || fail "originated: $(stat "$y" 'c')"
caller uac5 uac_wait_bye.xml -set media 1
wait_call answered connected
x=$id
ctl bridge "$x" "$y" >/dev/null || fail "bridge $x $y"
[[ $(stat "$x" 'c["bridged"]') == "$y" ]] || fail "not bridged: $(stat "$x" 'c["bridged"]')"
sleep 1.5
to_callee=$(stat "$y" 'c["media"][0]["b"]["stats"]["relayed"]')
echoed=$(stat "$y" 'c["media"][0]["b"]["stats"]["packets"]')
to_caller=$(stat "$x" 'c["media"][0]["a"]["stats"]["relayed"]')
((to_callee >= 20 && echoed >= 20 && to_caller >= 20)) ||
	fail "bridged media: to the callee $to_callee, echoed $echoed, back to the caller $to_caller"
ctl_fails "bridged already" bridge "$x" "$y"
ctl unbridge "$x" >/dev/null || fail "unbridge $x"
sleep 0.3
r0=$(stat "$y" 'c["media"][0]["b"]["stats"]["relayed"]')
sleep 1
r1=$(stat "$y" 'c["media"][0]["b"]["stats"]["relayed"]')
((r1 == r0)) || fail "still relayed to the callee after unbridge: $r0 -> $r1"
ctl_fails "can be bridged" bridge "$x" "$x"
ctl_fails "not a connected call of two parties" call transfer "$x" 1001
ctl call hangup "$x" >/dev/null || fail "call hangup $x"
ctl call hangup "$y" >/dev/null || fail "call hangup $y"
wait "$uac_pid" || fail "the bridged caller: $(tail -5 "$WORK/uac5.log")"
wait "$uas_pid" || fail "the bridged callee: $(tail -5 "$WORK/uas5.log")"
pass "originate and bridge: the caller's RTP reached the callee and its echo came back ($to_callee/$echoed/$to_caller), unbridge stopped it"

# 4. bad requests, and nothing left
ctl_fails "TO: no routing rule matches '9999'" call originate 555 9999
ctl_fails "FROM must be a user" call originate 'a b' 1001
ctl_fails "no call 424242" unbridge 424242
nothing_left "$SOCK"
[[ $(wc -l <"$CDR") -eq 8 ]] || fail "records: $(wc -l <"$CDR")"
pass "bad requests refused with a message; nothing left, eight records"
