#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The operator's call control through tgctl, against real SIPp peers on both legs:
#  - call hold / call resume: a re-INVITE to each leg (sendonly, then sendrecv), checked in both
#    peers' logs; the call's state follows only the 2xx; while held the dataplane relays nothing
#    (the caller's RTP keeps coming and is dropped), after the resume it relays again;
#  - a leg that refuses the hold (488): the error names the leg and status, the other leg is put
#    back (its second re-INVITE is sendrecv), the call stays connected;
#  - 491 from a leg: retried after the RFC 3261 back-off, then held;
#  - a party's own hold (a relayed re-INVITE with sendonly) moves the state to on-hold and back,
#    and the operator cannot lift it;
#  - call dtmf: SIP INFO per digit to either party, or RFC 4733 events played by the dataplane
#    (checked on the wire with tshark); a party's INFO relayed to the other; a party's RFC 4733
#    digit relayed and reported;
#  - transfer: a caller's REFER (202, NOTIFYs with the target's status, the callee connected to
#    the target on the same endpoints with media relayed, the transferor let go), the operator's
#    call transfer (the callee replaced, BYE with a Reason), a target that refuses (486: the call
#    goes on); an attended transfer (REFER with Replaces naming the transferor's other call: the
#    two remaining parties bridged in the dataplane, the transferor let go on both calls);
#  - bad requests (already held, not held, unknown call) get a message and exit 1;
#  - and afterwards nothing is left behind.
. "$(dirname "$0")/lib.sh"

start_appliance --set "routing.rules=24*@* => $CALLEE:5093, 2*@* => $CALLEE:5092, 1*@* => $CALLEE:5090"

# call N [callee options] : a call from uac_wait_bye (playing RTP) to uas_answer; sets $id
call() {
	local n=$1
	shift
	in_peers timeout 60 sipp -sf "$SIPP_DIR/uas_answer.xml" -i $CALLEE -p 5090 -mi $CALLEE \
		-mp 16000 -m 1 -timeout 50 -nostdin -trace_logs -log_file "$WORK/uas$n.sipp.log" \
		"$@" >"$WORK/uas$n.log" 2>&1 &
	uas_pid=$!
	TG_PIDS+=($uas_pid)
	sleep 0.5
	in_peers timeout 60 sipp -sf "$SIPP_DIR/uac_wait_bye.xml" "$APP4:5060" -i $CALLER \
		-p 5080 -mi $CALLER -mp 17000 -m 1 -s 1001 -timeout 50 -nostdin -set media 1 \
		-trace_logs -log_file "$WORK/uac$n.sipp.log" >"$WORK/uac$n.log" 2>&1 &
	uac_pid=$!
	TG_PIDS+=($uac_pid)
	for _ in $(seq 100); do
		id=$(ctl --json show calls | python3 -c '
import json, sys
calls = json.load(sys.stdin)
assert len(calls) == 1 and calls[0]["state"] == "connected", calls
print(calls[0]["id"])' 2>/dev/null) && return 0
		sleep 0.1
	done
	fail "call $n not connected: $(ctl --json show calls)"
}

# hang_up : the operator ends the call; both peers must end cleanly
hang_up() {
	ctl call hangup "$id" >/dev/null || fail "call hangup $id"
	wait "$uac_pid" || fail "the caller did not end cleanly: $(tail -5 "$WORK/uac$1.log")"
	wait "$uas_pid" || fail "the callee did not end cleanly: $(tail -5 "$WORK/uas$1.log")"
}

# field EXPR : a value from `show call $id` (python expression over c)
field() {
	ctl --json show call "$id" | python3 -c "import json, sys; c = json.load(sys.stdin); print($1)"
}

# wait_field EXPR VALUE WHAT : until `field EXPR` prints VALUE (4 s); else fails naming WHAT
wait_field() {
	local st=
	for _ in $(seq 40); do
		st=$(field "$1" 2>/dev/null) || break
		[[ $st == "$2" ]] && return 0
		sleep 0.1
	done
	fail "$3 did not show: $st"
}

# reinvites LOG SCENARIO : the re-INVITEs a peer saw, "dir/answer" one per line
reinvites() {
	sed -n "s/^$2 call=1 event=reinvite cseq=[0-9]* dir=\([a-z]*\) answer=\([a-z]*\).*/\1\/\2/p" "$1"
}

# 1. hold and resume, with the media checked in the dataplane
call 1
sleep 0.5
ctl --json call hold "$id" >"$WORK/hold.json" || fail "call hold: $(cat "$WORK/hold.json")"
grep -q '"on-hold"' "$WORK/hold.json" || fail "call hold answered: $(cat "$WORK/hold.json")"
[[ $(field 'c["state"], c["operator_hold"]') == "on-hold True" ]] ||
	fail "after hold: $(field 'c["state"], c["operator_hold"]')"
[[ $(reinvites "$WORK/uas1.sipp.log" uas_answer) == "sendonly/recvonly" ]] ||
	fail "the callee's hold re-INVITE: $(grep event=reinvite "$WORK/uas1.sipp.log")"
[[ $(reinvites "$WORK/uac1.sipp.log" uac_wait_bye) == "sendonly/recvonly" ]] ||
	fail "the caller's hold re-INVITE: $(grep event=reinvite "$WORK/uac1.sipp.log")"
# the caller plays RTP all along: held, it is dropped at its endpoint, nothing goes to the callee
sleep 0.3
relayed0=$(field 'c["media"][0]["b"]["stats"]["relayed"]')
dropped0=$(field 'c["media"][0]["a"]["stats"]["dropped"]')
sleep 1.5
relayed1=$(field 'c["media"][0]["b"]["stats"]["relayed"]')
dropped1=$(field 'c["media"][0]["a"]["stats"]["dropped"]')
[[ $relayed1 -eq $relayed0 ]] || fail "relayed while held: $relayed0 -> $relayed1"
((dropped1 >= dropped0 + 20)) || fail "the caller's RTP was not dropped while held: $dropped0 -> $dropped1"
pass "call hold: sendonly re-INVITE to both legs, on-hold after both 2xx, the dataplane relays nothing"

ctl_fails "on hold already" call hold "$id"
ctl --json call resume "$id" >"$WORK/resume.json" || fail "call resume: $(cat "$WORK/resume.json")"
[[ $(field 'c["state"], c["operator_hold"]') == "connected False" ]] ||
	fail "after resume: $(field 'c["state"], c["operator_hold"]')"
for who in "uas1.sipp.log uas_answer" "uac1.sipp.log uac_wait_bye"; do
	set -- $who
	[[ $(reinvites "$WORK/$1" "$2" | tr '\n' ' ') == "sendonly/recvonly sendrecv/sendrecv " ]] ||
		fail "$2's re-INVITEs: $(grep event=reinvite "$WORK/$1")"
done
relayed2=$(field 'c["media"][0]["b"]["stats"]["relayed"]')
sleep 1
relayed3=$(field 'c["media"][0]["b"]["stats"]["relayed"]')
((relayed3 >= relayed2 + 20)) || fail "no relay after the resume: $relayed2 -> $relayed3"
ctl_fails "connected already" call resume "$id"
pass "call resume: sendrecv re-INVITE to both legs, connected, media relayed again"

# DTMF from the operator as SIP INFO, to the callee (default) and to the caller
ctl --json call dtmf "$id" '1#9' callee info >"$WORK/dtmf.json" || fail "call dtmf: $(cat "$WORK/dtmf.json")"
ctl --json call dtmf "$id" 5 caller info >"$WORK/dtmf2.json" || fail "call dtmf caller: $(cat "$WORK/dtmf2.json")"
signals() { sed -n "s/^$2 call=1 event=info signal=\(.\) content-type= \?application\/dtmf-relay.*/\1/p" "$1" | tr -d '\n'; }
[[ $(signals "$WORK/uas1.sipp.log" uas_answer) == "1#9" ]] ||
	fail "the callee's INFOs: $(grep event=info "$WORK/uas1.sipp.log")"
[[ $(signals "$WORK/uac1.sipp.log" uac_wait_bye) == "5" ]] ||
	fail "the caller's INFOs: $(grep event=info "$WORK/uac1.sipp.log")"
# ... and as RFC 4733 events in the callee's RTP stream, checked on the wire: the digits in
# order with their end packets, one SSRC for the audio and the events (the stream stays whole)
in_peers tshark -i "tg-$INSTANCE" -f "udp dst port 16000" -w "$WORK/dtmf.pcap" \
	>"$WORK/tshark.log" 2>&1 &
tshark_pid=$!
TG_PIDS+=($tshark_pid)
for _ in $(seq 50); do grep -q "Capturing on" "$WORK/tshark.log" && break; sleep 0.1; done
ctl --json call dtmf "$id" 47 callee rtp >"$WORK/dtmf3.json" || fail "call dtmf rtp: $(cat "$WORK/dtmf3.json")"
sleep 1
kill -TERM "$tshark_pid"
wait "$tshark_pid" || true
events=$(tshark -r "$WORK/dtmf.pcap" -d udp.port==16000,rtp -Y rtpevent -T fields \
	-e rtpevent.event_id -e rtpevent.end_of_event 2>/dev/null | uniq | tr '\t\n' ': ')
[[ $events =~ ^4:0\ (4:0\ )*4:1\ 7:0\ (7:0\ )*7:1\ $ ]] || fail "RFC 4733 events on the wire: '$events'"
ssrcs=$(tshark -r "$WORK/dtmf.pcap" -d udp.port==16000,rtp -Y rtp -T fields -e rtp.ssrc 2>/dev/null | sort -u | wc -l)
[[ $ssrcs -eq 1 ]] || fail "the callee's stream changed SSRC around the digits: $ssrcs SSRCs"
ctl_fails "DIGITS: '12x' is not" call dtmf "$id" 12x
ctl_fails "HOW: 'smoke' is neither" call dtmf "$id" 1 callee smoke
ctl_fails "TO: 'both' is neither" call dtmf "$id" 1 both
hang_up 1
pass "call dtmf: INFO per digit to the callee or the caller; RFC 4733 events in the callee's stream on the wire, one SSRC; bad digits refused"

# 2. the callee refuses the hold: the caller is put back, the call stays connected
call 2 -set refuse 1
ctl_fails "callee's leg answered 488; the call is back as it was" call hold "$id"
[[ $(field 'c["state"]') == "connected" ]] || fail "after a refused hold: $(field 'c["state"]')"
sleep 0.5 # the caller's way back
[[ $(reinvites "$WORK/uac2.sipp.log" uac_wait_bye | tr '\n' ' ') == "sendonly/recvonly sendrecv/sendrecv " ]] ||
	fail "the caller was not put back: $(grep event=reinvite "$WORK/uac2.sipp.log")"
grep -q "event=reinvite-refused cseq=[0-9]* code=488" "$WORK/uas2.sipp.log" ||
	fail "the callee did not refuse: $(grep event=reinvite "$WORK/uas2.sipp.log")"
hang_up 2
pass "a refused hold: the error names the leg and its 488, the caller is resumed, the call stays connected"

# 3. 491 from the callee: tried again after the back-off (RFC 3261 14.1: 2.1-4 s for us on B)
call 3 -set glare 1
start=$(date +%s%N)
ctl --json call hold "$id" >"$WORK/hold3.json" || fail "call hold after 491: $(cat "$WORK/hold3.json")"
waited=$((($(date +%s%N) - start) / 1000000))
((waited >= 2000)) || fail "the 491 was retried after $waited ms (RFC 3261: at least 2.1 s)"
grep -q "code=491" "$WORK/uas3.sipp.log" || fail "no 491 sent"
[[ $(reinvites "$WORK/uas3.sipp.log" uas_answer | tr '\n' ' ') == "sendonly/recvonly sendonly/recvonly " ]] ||
	fail "the callee's re-INVITEs: $(grep event=reinvite "$WORK/uas3.sipp.log")"
[[ $(field 'c["state"]') == "on-hold" ]] || fail "after the retried hold: $(field 'c["state"]')"
hang_up 3
pass "491: the hold was sent again after $waited ms and succeeded"

# 4. the caller holds by itself (a relayed re-INVITE): on-hold, and not the operator's to lift
in_peers timeout 60 sipp -sf "$SIPP_DIR/uas_answer.xml" -i $CALLEE -p 5090 -mi $CALLEE \
	-mp 16000 -m 1 -timeout 50 -nostdin >"$WORK/uas4.log" 2>&1 &
uas_pid=$!
TG_PIDS+=($uas_pid)
sleep 0.5
in_peers timeout 60 sipp -sf "$SIPP_DIR/uac_reinvite.xml" "$APP4:5060" -i $CALLER -p 5080 \
	-mi $CALLER -mp 17000 -m 1 -s 1001 -d 2500 -timeout 50 -nostdin >"$WORK/uac4.log" 2>&1 &
uac_pid=$!
TG_PIDS+=($uac_pid)
wait_log cp "answered 4," 10
id=$(ctl --json show calls | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')
wait_field 'c["state"], c["operator_hold"]' "on-hold False" "the caller's hold"
ctl_fails "put on hold by a party" call resume "$id"
wait_field 'c["state"]' connected "the caller's resume"
wait "$uac_pid" || fail "the holding caller: $(tail -5 "$WORK/uac4.log")"
wait "$uas_pid" || fail "its callee: $(tail -5 "$WORK/uas4.log")"
pass "a party's hold and resume move the call's state; the operator cannot lift it"

# 5. a party's INFO is relayed to the other party, and the answer back
in_peers timeout 60 sipp -sf "$SIPP_DIR/uas_answer.xml" -i $CALLEE -p 5090 -mi $CALLEE \
	-mp 16000 -m 1 -timeout 50 -nostdin -trace_logs -log_file "$WORK/uas5.sipp.log" \
	>"$WORK/uas5.log" 2>&1 &
uas_pid=$!
TG_PIDS+=($uas_pid)
sleep 0.5
in_peers timeout 60 sipp -sf "$SIPP_DIR/uac_info.xml" "$APP4:5060" -i $CALLER -p 5080 \
	-mi $CALLER -mp 17000 -m 1 -s 1001 -d 300 -timeout 50 -nostdin -trace_logs \
	-log_file "$WORK/uac5.sipp.log" >"$WORK/uac5.log" 2>&1 || fail "the INFO caller: $(tail -5 "$WORK/uac5.log")"
wait "$uas_pid" || fail "its callee: $(tail -5 "$WORK/uas5.log")"
[[ $(signals "$WORK/uas5.sipp.log" uas_answer) == "5#" ]] ||
	fail "the relayed INFOs: $(grep event=info "$WORK/uas5.sipp.log")"
[[ $(grep -c "event=info-answered" "$WORK/uac5.sipp.log") -eq 2 ]] || fail "the INFOs' answers"
pass "a party's INFO reaches the other party with its body, its 200 comes back"

# 5b. a caller's RFC 4733 digit: relayed to the callee and reported by the dataplane
before=$(ctl --json show stats | python3 -c 'import json, sys; print(json.load(sys.stdin)["calls"]["dtmf_received"])')
in_peers timeout 60 sipp -sf "$SIPP_DIR/uas_answer.xml" -i $CALLEE -p 5090 -mi $CALLEE \
	-mp 16000 -m 1 -timeout 50 -nostdin >"$WORK/uas5b.log" 2>&1 &
uas_pid=$!
TG_PIDS+=($uas_pid)
sleep 0.5
in_peers timeout 60 sipp -sf "$SIPP_DIR/uac_wait_bye.xml" "$APP4:5060" -i $CALLER -p 5080 \
	-mi $CALLER -mp 17000 -m 1 -s 1001 -timeout 50 -nostdin -set dtmf 1 >"$WORK/uac5b.log" 2>&1 &
uac_pid=$!
TG_PIDS+=($uac_pid)
wait_log cp "DTMF 5 [(][0-9]+ ms, RTP[)]" 10
after=$(ctl --json show stats | python3 -c 'import json, sys; print(json.load(sys.stdin)["calls"]["dtmf_received"])')
((after == before + 1)) || fail "dtmf_received: $before -> $after"
id=$(ctl --json show calls | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')
relayed=$(field 'c["media"][0]["b"]["stats"]["relayed"]')
((relayed >= 10)) || fail "the digit's packets were not relayed to the callee: $relayed"
hang_up 5b
pass "a caller's RFC 4733 digit is relayed and reported once (DTMF 5)"

# 6. blind transfer by REFER: the caller sends the callee to 2001 (the target plays RTP)
target() { # target NAME SCENARIO [options] : the transfer target on 5092 (5093 for a refusal)
	local name=$1 sf=$2
	shift 2
	in_peers timeout 60 sipp -sf "$SIPP_DIR/$sf" -i $CALLEE -p "${TPORT:-5092}" -mi $CALLEE \
		-mp 16100 -m 1 -timeout 50 -nostdin -trace_logs -log_file "$WORK/$name.sipp.log" \
		"$@" >"$WORK/$name.log" 2>&1 &
	tgt_pid=$!
	TG_PIDS+=($tgt_pid)
}
target tgt6 uas_answer.xml -set media 1
in_peers timeout 60 sipp -sf "$SIPP_DIR/uas_answer.xml" -i $CALLEE -p 5090 -mi $CALLEE \
	-mp 16000 -m 1 -timeout 50 -nostdin -trace_logs -log_file "$WORK/uas6.sipp.log" -rtp_echo \
	>"$WORK/uas6.log" 2>&1 &
uas_pid=$!
TG_PIDS+=($uas_pid)
sleep 0.5
in_peers timeout 60 sipp -sf "$SIPP_DIR/uac_refer.xml" "$APP4:5060" -i $CALLER -p 5080 \
	-mi $CALLER -mp 17000 -m 1 -s 1001 -d 1000 -set target 2001 -timeout 50 -nostdin \
	-trace_logs -log_file "$WORK/uac6.sipp.log" >"$WORK/uac6.log" 2>&1 ||
	fail "the transferor: $(tail -5 "$WORK/uac6.log"; cat "$WORK/uac6.sipp.log")"
grep -q "event=refer status=202" "$WORK/uac6.sipp.log" || fail "no 202 to the REFER"
[[ $(sed -n 's/.*event=notify sipfrag=\([0-9]*\) state=\([a-z]*\).*/\1\/\2/p' "$WORK/uac6.sipp.log" | tr '\n' ' ') =~ ^100/active\ (180/active\ )?200/terminated\ $ ]] ||
	fail "the NOTIFYs: $(grep event=notify "$WORK/uac6.sipp.log")"
grep -q "event=notify .*event-header= \?refer" "$WORK/uac6.sipp.log" || fail "NOTIFY without Event: refer"
id=$(ctl --json show calls | python3 -c 'import json, sys; c = json.load(sys.stdin); assert len(c) == 1, c; print(c[0]["id"])') ||
	fail "after the transfer: $(ctl --json show calls)"
[[ $(field 'c["state"], c["a"]["peer"]') == "connected $CALLEE:5092" ]] ||
	fail "the target is not in the caller's place: $(field 'c["state"], c["a"]["peer"]')"
# the target saw the transferee's user calling, from the appliance (topology hiding)
grep -q "event=invite .*from= \?\(\"[^\"]*\" \)\?<sip:1001@$APP4" "$WORK/tgt6.sipp.log" ||
	fail "the target's INVITE: $(grep event=invite "$WORK/tgt6.sipp.log" | head -1)"
# the transferee got a fresh offer
[[ $(reinvites "$WORK/uas6.sipp.log" uas_answer) == "sendrecv/sendrecv" ]] ||
	fail "the transferee's re-offer: $(grep event=reinvite "$WORK/uas6.sipp.log")"
# the target's RTP reaches the transferee (which echoes it back)
rx0=$(field 'c["media"][0]["a"]["stats"]["packets"]')
relayed0=$(field 'c["media"][0]["b"]["stats"]["relayed"]')
sleep 1
rx1=$(field 'c["media"][0]["a"]["stats"]["packets"]')
relayed1=$(field 'c["media"][0]["b"]["stats"]["relayed"]')
((rx1 >= rx0 + 20 && relayed1 >= relayed0 + 20)) ||
	fail "the target's media: received $rx0 -> $rx1, relayed $relayed0 -> $relayed1"
hang_up_pids() {
	ctl call hangup "$id" >/dev/null || fail "call hangup $id"
	wait "$uas_pid" || fail "the callee did not end cleanly"
	wait "$tgt_pid" || fail "the target did not end cleanly"
}
hang_up_pids
pass "REFER: 202, NOTIFYs 100 then 200 (Event: refer), the target in the caller's place with the callee's identity and media relayed, a fresh offer to the callee"

# 7. the operator transfers the caller to 2002: the callee is replaced and told why
target tgt7 uas_answer.xml
call 7
ctl --json call transfer "$id" 2002 >"$WORK/xfer.json" || fail "call transfer: $(cat "$WORK/xfer.json")"
grep -q '"replaced": *"callee"' "$WORK/xfer.json" || fail "call transfer answered: $(cat "$WORK/xfer.json")"
wait "$uas_pid" || fail "the replaced callee did not end cleanly: $(tail -5 "$WORK/uas7.log")"
[[ $(field 'c["b"]["peer"]') == "$CALLEE:5092" ]] || fail "the target is not the callee: $(field 'c["b"]')"
[[ $(reinvites "$WORK/uac7.sipp.log" uac_wait_bye) == "sendrecv/sendrecv" ]] ||
	fail "the caller's re-offer: $(grep event=reinvite "$WORK/uac7.sipp.log")"
uas_pid=$tgt_pid
hang_up 7
pass "call transfer: the callee replaced by the target (BYE), the caller re-offered, connected"

# 8. a target that refuses: the call goes on
TPORT=5093 target tgt8 uas_busy.xml
call 8
ctl_fails "transfer target answered 486; the call goes on" call transfer "$id" 2400
wait "$tgt_pid" || fail "the busy target: $(tail -5 "$WORK/tgt8.log")"
[[ $(field 'c["state"], c["b"]["peer"]') == "connected $CALLEE:5090" ]] ||
	fail "after a refused transfer: $(field 'c["state"], c["b"]["peer"]')"
ctl_fails "TARGET: no routing rule matches '9999'" call transfer "$id" 9999
ctl_fails "WHO: 'both' is neither" call transfer "$id" 2002 both
hang_up 8
pass "a refused transfer (486) leaves the call as it was; an unroutable target is refused at once"

# 8b. attended transfer: X calls Z (2001), then Y (1001), and REFERs Y to Z with Replaces
# naming its dialog with Z; the appliance joins Y and Z itself and lets X go on both calls
target tgt9 uas_answer.xml -set media 1
in_peers timeout 60 sipp -sf "$SIPP_DIR/uac_wait_bye.xml" "$APP4:5060" -i $CALLER -p 5081 \
	-mi $CALLER -mp 17100 -m 1 -s 2001 -timeout 50 -nostdin -trace_logs \
	-log_file "$WORK/x2.sipp.log" >"$WORK/x2.log" 2>&1 &
x2_pid=$!
TG_PIDS+=($x2_pid)
for _ in $(seq 50); do grep -q "event=dialog" "$WORK/x2.sipp.log" 2>/dev/null && break; sleep 0.1; done
read -r cid ft tt < <(sed -n 's/.*event=dialog call-id=\([^ ]*\) from-tag=\([^ ]*\) to-tag= \?\([^ ]*\).*/\1 \2 \3/p' "$WORK/x2.sipp.log")
[[ -n $tt ]] || fail "X's dialog with Z: $(cat "$WORK/x2.sipp.log")"
in_peers timeout 60 sipp -sf "$SIPP_DIR/uas_answer.xml" -i $CALLEE -p 5090 -mi $CALLEE \
	-mp 16000 -m 1 -timeout 50 -nostdin -trace_logs -log_file "$WORK/y9.sipp.log" -rtp_echo \
	>"$WORK/y9.log" 2>&1 &
uas_pid=$!
TG_PIDS+=($uas_pid)
sleep 0.5
in_peers timeout 60 sipp -sf "$SIPP_DIR/uac_refer.xml" "$APP4:5060" -i $CALLER -p 5080 \
	-mi $CALLER -mp 17000 -m 1 -s 1001 -d 1000 -set target 2001 \
	-set replaces "?Replaces=${cid//@/%40}%3Bto-tag%3D$tt%3Bfrom-tag%3D$ft" -timeout 50 \
	-nostdin -trace_logs -log_file "$WORK/x1.sipp.log" >"$WORK/x1.log" 2>&1 ||
	fail "the transferor's first call: $(tail -5 "$WORK/x1.log"; cat "$WORK/x1.sipp.log")"
[[ $(sed -n 's/.*event=notify sipfrag=\([0-9]*\) state=\([a-z]*\).*/\1\/\2/p' "$WORK/x1.sipp.log" | tr '\n' ' ') == "100/active 200/terminated " ]] ||
	fail "the NOTIFYs: $(grep event=notify "$WORK/x1.sipp.log")"
wait "$x2_pid" || fail "the transferor's second call: $(tail -5 "$WORK/x2.log")"
grep -q "event=bye reason= \?SIP;cause=200;text=\"call transferred\"" "$WORK/x2.sipp.log" ||
	fail "the BYE to X's dialog with Z: $(grep event=bye "$WORK/x2.sipp.log")"
read -r c1 c2 < <(ctl --json show calls | python3 -c '
import json, sys
calls = json.load(sys.stdin)
assert len(calls) == 2, calls
a, b = calls
assert a["bridged"] == b["id"] and b["bridged"] == a["id"], calls
print(a["id"], b["id"])') || fail "Y and Z not bridged: $(ctl --json show calls)"
[[ $(reinvites "$WORK/y9.sipp.log" uas_answer) == "sendrecv/sendrecv" ]] ||
	fail "Y's re-offer: $(grep event=reinvite "$WORK/y9.sipp.log")"
[[ $(reinvites "$WORK/tgt9.sipp.log" uas_answer) == "sendrecv/sendrecv" ]] ||
	fail "Z's re-offer: $(grep event=reinvite "$WORK/tgt9.sipp.log")"
sleep 1
moved=$(for c in $c1 $c2; do ctl --json show call "$c"; done | python3 -c '
import json, sys
dec = json.JSONDecoder()
text = sys.stdin.read()
i, total = 0, 0
while i < len(text):
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text):
        break
    c, i = dec.raw_decode(text, i)
    m = c["media"][0]
    total += sum((m[s]["stats"] or {}).get("relayed", 0) for s in ("a", "b") if m[s]["stats"])
print(total)')
((moved >= 40)) || fail "Z's RTP and Y's echo between the two calls: $moved packets relayed"
ctl call hangup "$c1" >/dev/null || fail "call hangup $c1"
ctl call hangup "$c2" >/dev/null || fail "call hangup $c2"
wait "$uas_pid" || fail "Y did not end cleanly: $(tail -5 "$WORK/y9.log")"
wait "$tgt_pid" || fail "Z did not end cleanly: $(tail -5 "$WORK/tgt9.log")"
pass "attended transfer: REFER with Replaces, NOTIFY 100/200, X let go on both calls, Y and Z bridged and re-offered, $moved packets between them"

# 9. bad requests
ctl_fails "no call 424242" call hold 424242
ctl_fails "not a call number" call resume x1
kill -0 "$cp_pid" || fail "the control plane died"

# 10. nothing left behind
nothing_left "$SOCK"
[[ $(wc -l <"$CDR") -eq 11 ]] || fail "records: $(wc -l <"$CDR")"
pass "bad requests refused with a message; every call over: nothing left, eleven records"
