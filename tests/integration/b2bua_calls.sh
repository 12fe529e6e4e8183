#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The B2BUA with SIPp as the real peers, on the appliance's own network: the dataplane's media
# TAP in the peers' namespace (caller 198.18.0.2, callee 198.18.0.3), its exception TAP with the
# appliance's address (198.18.0.1) in the appliance's namespace where tollgate-cp listens. SIP
# reaches the control plane through the exception path; RTP is relayed by the dataplane.
# Checked: basic calls with media both ways, callee hang-up, 486, 404, CANCEL, no answer -> 408,
# re-INVITE, UPDATE, late offer, SIP over TCP (and an INVITE over 1300 bytes switched to TCP), 3xx followed (through the routing table) or relayed, 503 at max calls, retransmissions under 10% loss, topology hiding on the wire
# (tshark in the peers' namespace) and in what the callee saw, and the call records.
. "$(dirname "$0")/lib.sh"

SIPP_DIR=$TG_SRC/tests/sipp
CALLER=198.18.0.2
CALLEE=198.18.0.3
CDR=$WORK/cdr.jsonl

start_dp dp --set dataplane.media_address=$APP4 --set dataplane.media_address6=$APP6 \
	--set dataplane.checksum_offload=false
media_netns

# start_cp NAME [--set ...] : a control plane in the appliance's namespace, calls to the callee
# (dp_timeout 10 s: on a loaded 2-core box the dataplane's main lcore can miss heartbeats for a
# second or two, which must not turn calls into 503s here)
start_cp() {
	local name=$1
	shift
	start_bg "$name" ip netns exec "$APP_NS" "$CP" --instance "$INSTANCE" \
		--set sip.listen=$APP4:5060 --set "routing.rules=1*@* => $CALLEE:5090, 3*@* => $CALLEE:5092, 4*@* => $CALLEE:5094/tcp, 5*@* => $CALLEE:5095/tcp" \
		--set cdr.path="$CDR" --set controlplane.status_interval=1s \
		--set controlplane.dp_timeout=10s "$@"
	wait_log "$name" "sessions: 4 routing rules" 10
	wait_log "$name" "dataplane up" 10
}

stop_cp() {
	local pid
	pid=$(eval echo "\$${1}_pid")
	kill -INT "$pid"
	wait "$pid" 2>/dev/null || true
}

# callee NAME SCENARIO CALLS [sipp options] : a SIPp callee in the background (bounded)
callee() {
	local name=$1 sf=$2 n=$3
	shift 3
	in_peers timeout 60 sipp -sf "$SIPP_DIR/$sf" -i $CALLEE -p 5090 -mi $CALLEE -mp 16000 \
		-m "$n" -timeout 50 -nostdin -trace_logs -log_file "$WORK/$name.sipp.log" \
		-trace_err -error_file "$WORK/$name.err.log" "$@" >"$WORK/$name.log" 2>&1 &
	TG_PIDS+=($!)
	eval "${name}_pid=$!"
	sleep 0.5
}

# caller NAME SCENARIO CALLS [sipp options] : a SIPp caller to the appliance; its exit status
caller() {
	local name=$1 sf=$2 n=$3
	shift 3
	in_peers timeout 60 sipp -sf "$SIPP_DIR/$sf" "$APP4:5060" -i $CALLER -p 5080 -mi $CALLER \
		-mp 17000 -m "$n" -timeout 50 -nostdin -trace_logs -log_file "$WORK/$name.sipp.log" \
		-trace_err -error_file "$WORK/$name.err.log" "$@" >"$WORK/$name.log" 2>&1
}

# the last record: a call answered 200, ended by the caller, with RTP relayed both ways
last_record_answered_with_media() {
	tail -1 "$CDR" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
assert r["end_reason"] == "normal-clearing-a" and r["sip_code"] == 200, r
assert r["media"]["from_a"]["packets"] > 50 and r["media"]["from_b"]["packets"] > 20, r["media"]
'
}

cdr_count() {
	grep -c -- "$1" "$CDR" 2>/dev/null || true
}

start_cp cp
in_peers tshark -i "tg-$INSTANCE" -f "udp port 5060 or udp port 5090" -w "$WORK/sip.pcap" \
	-q >"$WORK/tshark.log" 2>&1 &
TG_PIDS+=($!)
tshark_pid=$!
sleep 1.5

# 1. basic calls, the caller hangs up, media both ways (the caller plays a PCMA recording, the
# callee echoes what the relay brings it, so B->A packets prove the whole loop)
callee uas_basic uas_answer.xml 3 -rtp_echo
caller uac_basic uac_basic.xml 3 -s 1001 -d 1500 -r 5 -set media 1 ||
	fail "basic calls: $(tail -5 "$WORK/uac_basic.log")"
wait "$uas_basic_pid" || fail "basic calls: the callee saw a failure"
wait_ended cp 3 10
[[ $(cdr_count '"end_reason":"normal-clearing-a","sip_code":200') -eq 3 ]] ||
	fail "3 records normal-clearing-a/200 expected: $(cat "$CDR")"
# the caller was given the appliance's media address, never the callee's
grep -q "event=answer status=200 c=$APP4 m=" "$WORK/uac_basic.sipp.log" ||
	fail "the caller's answer does not point at $APP4"
pass "3 basic calls through the B2BUA, records written"

# media both ways through the dataplane: packets from A and from B in every record
python3 - "$CDR" <<'EOF' || fail "media not relayed both ways: $(cat "$CDR")"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
for r in recs:
    m = r["media"]
    assert m["from_a"]["packets"] > 50, m
    assert m["from_b"]["packets"] > 20, m
EOF
pass "RTP relayed both ways in each call (from the records' per-leg statistics)"

# topology hiding: what the callee saw names the appliance only
grep "event=invite" "$WORK/uas_basic.sipp.log" >"$WORK/callee_saw.txt" || fail "no INVITE logged by the callee"
grep -q "$CALLER" "$WORK/callee_saw.txt" && fail "the caller's address reached the callee: $(head -1 "$WORK/callee_saw.txt")"
grep -q "c=$APP4" "$WORK/callee_saw.txt" || fail "the callee's offer does not point at $APP4"
grep -Eq "via= ?SIP/2.0/UDP $APP4:5060" "$WORK/callee_saw.txt" || fail "the callee's Via is not the appliance's"

# on the wire: no SIP message between the appliance and the callee carries the caller's address,
# nor one of the caller's Call-IDs
# (background jobs ignore SIGINT: tshark itself gets a TERM, which it ends its file on)
pkill -TERM -f "tshark -i tg-$INSTANCE" || true
wait "$tshark_pid" 2>/dev/null || true
tshark -r "$WORK/sip.pcap" -Y "sip && ip.addr == $CALLEE" -T fields -e sip.Call-ID -e sip.Via \
	-e sip.Contact -e sip.From -e sdp.connection_info >"$WORK/wire_b.txt" 2>/dev/null
tshark -r "$WORK/sip.pcap" -Y "sip && ip.addr == $CALLER" -T fields -e sip.Call-ID \
	>"$WORK/wire_a.txt" 2>/dev/null
[[ -s $WORK/wire_b.txt ]] || fail "no SIP captured toward the callee"
grep -q "$CALLER" "$WORK/wire_b.txt" && fail "the caller's address is on the callee's leg: $(grep "$CALLER" "$WORK/wire_b.txt" | head -1)"
while read -r cid; do
	[[ -n $cid ]] || continue
	grep -qF "$cid" "$WORK/wire_b.txt" && fail "caller Call-ID $cid is on the callee's leg"
done < <(sort -u "$WORK/wire_a.txt")
pass "topology hiding: the callee's leg shows only the appliance ($(wc -l <"$WORK/wire_b.txt") messages checked on the wire)"

# 2. the callee hangs up
callee uas_hangup uas_hangup.xml 2
caller uac_wait_bye uac_wait_bye.xml 2 -s 1002 -r 5 || fail "callee hang-up: $(tail -5 "$WORK/uac_wait_bye.log")"
wait "$uas_hangup_pid" || fail "callee hang-up: the callee saw a failure"
wait_ended cp 5 10
[[ $(cdr_count '"end_reason":"normal-clearing-b"') -eq 2 ]] || fail "2 records normal-clearing-b expected"
pass "the callee hangs up: BYE relayed to the caller"

# 3. busy
callee uas_busy uas_busy.xml 1
caller uac_486 uac_expect_reject.xml 1 -s 1003 || fail "486: $(tail -5 "$WORK/uac_486.log")"
grep -q "status=486" "$WORK/uac_486.sipp.log" || fail "the caller did not get 486"
wait_ended cp 6 10
[[ $(cdr_count '"end_reason":"rejected","sip_code":486') -eq 1 ]] || fail "no record rejected/486"
pass "486 from the callee reaches the caller"

# 4. no route: 404, and nothing is sent anywhere else (never an open relay)
caller uac_404 uac_expect_reject.xml 1 -s 999 || fail "404: $(tail -5 "$WORK/uac_404.log")"
grep -q "status=404" "$WORK/uac_404.sipp.log" || fail "the caller did not get 404"
pass "no route: 404"

# 5. the caller cancels while the callee rings
callee uas_cancel uas_noanswer.xml 1
caller uac_cancel uac_cancel.xml 1 -s 1005 || fail "CANCEL: $(tail -5 "$WORK/uac_cancel.log")"
wait "$uas_cancel_pid" || fail "CANCEL: the callee did not see CANCEL and answer 487"
wait_ended cp 7 10
[[ $(cdr_count '"end_reason":"cancelled","sip_code":487') -eq 1 ]] || fail "no record cancelled/487"
pass "CANCEL propagated: 200 + 487 on both legs"

# 6. re-INVITEs (hold, resume) relayed with their SDP rewritten
callee uas_reinv uas_answer.xml 1
caller uac_reinvite uac_reinvite.xml 1 -s 1006 || fail "re-INVITE: $(tail -5 "$WORK/uac_reinvite.log")"
wait "$uas_reinv_pid" || fail "re-INVITE: the callee saw a failure"
wait_ended cp 8 10
pass "re-INVITEs relayed both ways"

# 6b. an UPDATE with a new offer (sendonly) relayed with its SDP rewritten, and its answer back
callee uas_upd uas_answer.xml 1
caller uac_update uac_update.xml 1 -s 1011 || fail "UPDATE: $(tail -5 "$WORK/uac_update.log")"
wait "$uas_upd_pid" || fail "UPDATE: the callee saw a failure"
grep -q "event=reinvite .*dir=sendonly .*c=$APP4" "$WORK/uas_upd.sipp.log" ||
	fail "the callee's UPDATE offer: $(grep event=reinvite "$WORK/uas_upd.sipp.log")"
grep -q "event=update status=200 dir=recvonly c=$APP4" "$WORK/uac_update.sipp.log" ||
	fail "the caller's UPDATE answer: $(grep event=update "$WORK/uac_update.sipp.log")"
wait_ended cp 9 10
pass "UPDATE relayed: offer and answer rewritten to the appliance's media"

# 6c. a 302 from the callee: followed to its best routable Contact (3001 -> the second callee
# on 5092 by rule "3*@*"), never to a Contact without a route (9999@198.18.0.99)
callee uas_moved uas_redirect.xml 1 -key contact "sip:3001@$CALLEE:5092"
in_peers timeout 60 sipp -sf "$SIPP_DIR/uas_answer.xml" -i $CALLEE -p 5092 -mi $CALLEE -mp 16100 \
	-m 1 -timeout 50 -nostdin -trace_logs -log_file "$WORK/uas_moved2.sipp.log" \
	>"$WORK/uas_moved2.log" 2>&1 &
moved2_pid=$!
TG_PIDS+=($moved2_pid)
sleep 0.5
caller uac_302 uac_basic.xml 1 -s 1012 -d 500 || fail "302 followed: $(tail -5 "$WORK/uac_302.log")"
wait "$uas_moved_pid" || fail "302: the first callee saw a failure"
wait "$moved2_pid" || fail "302: the second callee saw a failure: $(tail -5 "$WORK/uas_moved2.log")"
grep -q "INVITE sip:3001@$CALLEE" "$WORK/uas_moved2.sipp.log" ||
	fail "the followed INVITE's Request-URI: $(grep -m1 INVITE "$WORK/uas_moved2.sipp.log")"
wait_ended cp 10 10
tail -1 "$CDR" | grep -q '"end_reason":"normal-clearing-a","sip_code":200' ||
	fail "the redirected call's record: $(tail -1 "$CDR")"
pass "302 followed: the call reached the routable Contact, the caller never saw the 302"

callee uas_moved_nr uas_redirect.xml 1 -key contact "sip:9001@$CALLEE:5092"
caller uac_302nr uac_expect_reject.xml 1 -s 1013 || fail "302 unroutable: $(tail -5 "$WORK/uac_302nr.log")"
grep -q "status=480" "$WORK/uac_302nr.sipp.log" || fail "the caller did not get 480: $(cat "$WORK/uac_302nr.sipp.log")"
wait_ended cp 11 10
pass "302 without a routable Contact: 480 to the caller, nothing sent to the Contacts"

# 6d. late offer: A's INVITE has no SDP, B offers in its 2xx, A answers in its ACK, B's ACK
# carries that answer; every SDP each side sees points at the appliance, media flows both ways
callee uas_late uas_late.xml 1 -rtp_echo
caller uac_late uac_late.xml 1 -s 1015 -d 1500 -set media 1 || fail "late offer: $(tail -5 "$WORK/uac_late.log")"
wait "$uas_late_pid" || fail "late offer: the callee saw a failure: $(tail -5 "$WORK/uas_late.log")"
grep -q "event=invite content-length=0" "$WORK/uas_late.sipp.log" || fail "the callee's INVITE had a body"
grep -q "event=offer status=200 c=$APP4 " "$WORK/uac_late.sipp.log" ||
	fail "the caller's offer: $(grep event=offer "$WORK/uac_late.sipp.log")"
grep -q "event=ack c=$APP4 " "$WORK/uas_late.sipp.log" ||
	fail "the callee's answer in the ACK: $(grep event=ack "$WORK/uas_late.sipp.log")"
wait_ended cp 12 10
last_record_answered_with_media || fail "the late-offer call's record: $(tail -1 "$CDR")"
pass "late offer: B's offer to A in the 2xx, A's answer to B in the ACK, RTP both ways"

# 6e. SIP over TCP on both legs: the caller connects to the appliance, the appliance connects to
# the callee (route "/tcp"), media both ways; a TCP target that refuses the connection fails
# the call at once with 503 (RFC 3261 §8.1.3.1), not after Timer B
in_peers timeout 60 sipp -sf "$SIPP_DIR/uas_answer.xml" -t t1 -i $CALLEE -p 5094 -mi $CALLEE \
	-mp 16200 -m 1 -timeout 50 -nostdin -rtp_echo -trace_logs -log_file "$WORK/uas_tcp.sipp.log" \
	>"$WORK/uas_tcp.log" 2>&1 &
uas_tcp_pid=$!
TG_PIDS+=($uas_tcp_pid)
sleep 0.5
caller uac_tcp uac_basic.xml 1 -t t1 -s 4001 -d 1500 -set media 1 || fail "TCP call: $(tail -5 "$WORK/uac_tcp.log")"
wait "$uas_tcp_pid" || fail "TCP call: the callee saw a failure: $(tail -5 "$WORK/uas_tcp.log")"
grep -Eq "via= ?SIP/2.0/TCP $APP4:5060" "$WORK/uas_tcp.sipp.log" ||
	fail "the callee's Via over TCP: $(grep -m1 'event=invite ' "$WORK/uas_tcp.sipp.log")"
grep -q "INVITE sip:4001@$CALLEE:5094;transport=tcp SIP/2.0" "$WORK/uas_tcp.sipp.log" ||
	fail "the callee's Request-URI: $(grep -m1 '^INVITE' "$WORK/uas_tcp.sipp.log")"
wait_ended cp 13 10
last_record_answered_with_media || fail "the TCP call's record: $(tail -1 "$CDR")"
pass "SIP over TCP on both legs (Via TCP, transport=tcp), RTP both ways"

t0=$(date +%s%N)
caller uac_tcp_refused uac_expect_reject.xml 1 -s 5001 || fail "refused TCP target: $(tail -5 "$WORK/uac_tcp_refused.log")"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
grep -q "status=503" "$WORK/uac_tcp_refused.sipp.log" ||
	fail "a refused TCP target: $(cat "$WORK/uac_tcp_refused.sipp.log")"
[[ $ms -lt 10000 ]] || fail "the refused TCP target took $ms ms (Timer B is 32 s)"
wait_ended cp 14 10
pass "a TCP target that refuses the connection: 503 to the caller after $ms ms"

# 7. retransmissions: 10% loss on both peers, every call completes
callee uas_lost uas_answer.xml 20 -lost 10
caller uac_lost uac_basic.xml 20 -s 1007 -r 10 -lost 10 -d 1000 ||
	fail "-lost 10: $(grep -E 'Successful|Failed' "$WORK/uac_lost.log" | tr -s ' ')"
wait "$uas_lost_pid" || true
wait_ended cp 34 40
pass "20 calls with 10% loss on both peers: all completed (retransmissions at work)"

# 7b. the INVITE again after our 200 ended its transaction (RFC 6026: the 200 was lost on its
# way): absorbed as the retransmission it is, no second call reaches the callee
records=$(wc -l <"$CDR")
callee uas_again uas_answer.xml 1
caller uac_again uac_invite_again.xml 1 -s 1009 -d 300 ||
	fail "INVITE again: $(tail -5 "$WORK/uac_again.log")"
wait "$uas_again_pid" || fail "INVITE again: the callee $(tail -5 "$WORK/uas_again.log")"
[[ $(grep -c "event=invite " "$WORK/uas_again.sipp.log") -eq 1 ]] ||
	fail "the callee got $(grep -c "event=invite " "$WORK/uas_again.sipp.log") INVITEs"
wait_ended cp 35 10
(($(wc -l <"$CDR") == records + 1)) || fail "records: $records -> $(wc -l <"$CDR")"
pass "an INVITE sent again after the 200: absorbed, one call, one record"
stop_cp cp

# 8. no answer: the B2BUA cancels B and answers the caller 408
start_cp cp_na --set b2bua.no_answer_timeout=1s --set b2bua.redirect=relay
callee uas_na uas_noanswer.xml 1
caller uac_na uac_expect_reject.xml 1 -s 1008 || fail "no answer: $(tail -5 "$WORK/uac_na.log")"
grep -q "status=408" "$WORK/uac_na.sipp.log" || fail "the caller did not get 408"
wait "$uas_na_pid" || fail "no answer: the callee was not cancelled"
wait_ended cp_na 1 10
[[ $(cdr_count '"end_reason":"no-answer"') -eq 1 ]] || fail "no record no-answer"
pass "no answer: B cancelled, 408 to the caller"

# 8b. b2bua.redirect = relay: the 302 and its Contacts go to the caller
callee uas_moved_rl uas_redirect.xml 1 -key contact "sip:3001@$CALLEE:5092"
caller uac_302rl uac_expect_reject.xml 1 -s 1014 || fail "302 relayed: $(tail -5 "$WORK/uac_302rl.log")"
grep -q "status=302 .*contact=.*9999@198.18.0.99.* contact2=.*sip:3001@$CALLEE:5092" "$WORK/uac_302rl.sipp.log" ||
	fail "the caller did not get the 302 with its Contact: $(cat "$WORK/uac_302rl.sipp.log")"
wait_ended cp_na 2 10
pass "b2bua.redirect=relay: the 302 reaches the caller with the callee's Contacts"
stop_cp cp_na

# 9. max calls: one call up, the next one gets 503 with Retry-After
start_cp cp_max --set b2bua.max_calls=1 --set b2bua.retry_after=7
callee uas_max uas_answer.xml 1
in_peers timeout 60 sipp -sf "$SIPP_DIR/uac_basic.xml" "$APP4:5060" -i $CALLER -p 5082 -mi $CALLER \
	-mp 17100 -m 1 -s 1009 -d 3000 -timeout 30 -nostdin >"$WORK/uac_max1.log" 2>&1 &
first=$!
TG_PIDS+=($first)
wait_log cp_max "active 1," 10
caller uac_503 uac_expect_reject.xml 1 -s 1010 || fail "503: $(tail -5 "$WORK/uac_503.log")"
grep -q "status=503 .*retry-after=7" "$WORK/uac_503.sipp.log" || fail "no 503 with Retry-After 7: $(cat "$WORK/uac_503.sipp.log")"
wait "$first" || fail "the call in progress failed"
pass "max_calls: 503 with Retry-After while the limit is reached"
stop_cp cp_max

# 10. graceful stop: SIGTERM with a call up -> BYE with a Reason on both legs, the record
# written (shutdown), the process gone well within controlplane.shutdown_grace
start_cp cp_drain --set controlplane.shutdown_grace=10s
wait "$uas_max_pid" || true # its port is the next callee's
callee uas_drain uas_answer.xml 1
in_peers timeout 60 sipp -sf "$SIPP_DIR/uac_wait_bye.xml" "$APP4:5060" -i $CALLER -p 5083 -mi $CALLER \
	-mp 17200 -m 1 -s 1016 -timeout 30 -nostdin -trace_logs -log_file "$WORK/uac_drain.sipp.log" \
	>"$WORK/uac_drain.log" 2>&1 &
drain_caller=$!
TG_PIDS+=($drain_caller)
wait_log cp_drain "answered 1," 10
t0=$(date +%s%N)
kill -TERM "$cp_drain_pid"
wait "$cp_drain_pid" 2>/dev/null || true
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
wait "$drain_caller" || fail "graceful stop: the caller saw a failure: $(tail -5 "$WORK/uac_drain.log")"
wait "$uas_drain_pid" || fail "graceful stop: the callee saw a failure"
grep -Eq 'event=bye reason= ?SIP;cause=503;text="appliance shutting down"' "$WORK/uac_drain.sipp.log" ||
	fail "the caller's BYE: $(grep event=bye "$WORK/uac_drain.sipp.log")"
grep -q "ending 1 call(s)" "$WORK/cp_drain.log" || fail "no drain logged"
[[ $ms -lt 8000 ]] || fail "the stop took $ms ms"
tail -1 "$CDR" | grep -q '"end_reason":"shutdown"' || fail "the drained call's record: $(tail -1 "$CDR")"
pass "SIGTERM drains: BYE with Reason to both legs, record written, exit after $ms ms"

# 11. RFC 3261 §18.1.1: an INVITE over 1300 bytes goes over TCP though the route says UDP (the
# callee listens on TCP only: over UDP the call could not succeed)
start_cp cp_big
callee uas_big uas_answer.xml 1 -t t1
caller uac_big uac_big_sdp.xml 1 -s 1017 -d 200 || fail "big INVITE: $(tail -5 "$WORK/uac_big.log")"
wait "$uas_big_pid" || fail "big INVITE: the callee saw a failure: $(tail -5 "$WORK/uas_big.log")"
grep -Eq "via= ?SIP/2.0/TCP $APP4:5060" "$WORK/uas_big.sipp.log" ||
	fail "the big INVITE's Via: $(grep -m1 'event=invite ' "$WORK/uas_big.sipp.log")"
grep -q "INVITE over 1300 bytes: to $CALLEE:5090/udp over TCP" "$WORK/cp_big.log" ||
	fail "the switch to TCP was not logged"
wait_ended cp_big 1 10
tail -1 "$CDR" | grep -q '"end_reason":"normal-clearing-a","sip_code":200' ||
	fail "the big INVITE's record: $(tail -1 "$CDR")"
pass "an INVITE over 1300 bytes goes to a UDP route over TCP (RFC 3261 18.1.1), Via TCP"
stop_cp cp_big

[[ $(grep -c . "$CDR") -ge 38 ]] || fail "records missing: $(grep -c . "$CDR")"
pass "every call has its record ($(grep -c . "$CDR"))"
