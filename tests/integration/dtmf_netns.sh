#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# RFC 4733 DTMF through the real dataplane, with kernel peers in a network namespace:
#  1. digits asked for with tg-flowctl's dtmf command reach B's remote as telephone-event packets
#     (payload type, events in order, 7 packets each with marker, end bits and durations, one
#     timestamp per event), with the audio relayed from A held back meanwhile, on the audio's
#     SSRC with sequence numbers stepping by one across audio -> DTMF -> audio;
#  2. what EP_DTMF refuses: digits still playing (-EBUSY), an unknown key, a bad digit;
#  3. digits A's remote sends are relayed to B's remote and reported once each (repeats and end
#     copies give one report; lost ends are reported at the next digit and at the timeout);
#     hostile payloads are counted and left out, and the worker goes on;
#  4. the dtmf verb, as a control plane of its own, on a pair left installed with --keep.
. "$(dirname "$0")/lib.sh"

FLOWCTL=$TG_BUILD/tools/flowctl/tg-flowctl
PEER=$TG_SRC/tests/integration/rtp_peer.py

# software checksums: the peers' kernels check those of the packets the dataplane makes
start_dp dp --set dataplane.media_address=$APP4 --set dataplane.checksum_offload=false \
	--set "dataplane.lcores=${TG_DP_LCORES:-0-1}"
media_netns

# one pair whose remotes send telephone-event with PT 101; commands through a FIFO the test
# keeps open (read-write: nobody blocks on it)
mkfifo "$WORK/fc.in"
exec 3<>"$WORK/fc.in"
"$FLOWCTL" --instance "$INSTANCE" --pairs 1 --a-remote 198.18.0.2:5100 \
	--b-remote 198.18.0.3:6100 --dtmf-pt 101 --commands --stats \
	<"$WORK/fc.in" >"$WORK/fc.log" 2>&1 &
fc_pid=$!
TG_PIDS+=("$fc_pid")
wait_log fc "^installed 1 pairs" 10
a_local=$(grep -o 'a=[^ ]*' "$WORK/fc.log" | cut -d= -f2)
b_local=$(grep -o 'b=[^ ]*' "$WORK/fc.log" | cut -d= -f2)

# 1. generation: audio from A's remote to B's; "1#9" from B toward B's remote mid-stream
in_peers python3 "$PEER" dtmf-rx 198.18.0.2:5100 198.18.0.3:6100 "$a_local" "$b_local" \
	"$WORK/fc.in" 101 '1#9' 'dtmf b0 101 1#9' >"$WORK/peer_rx.log" 2>&1 ||
	fail "digits on the wire: $(cat "$WORK/peer_rx.log")"
wait_log fc "^dtmf-reply key=3 status=0 \(accepted\) play_ms=420$" 2
grep -q '"events": 21' "$WORK/peer_rx.log" || fail "not 21 event packets: $(cat "$WORK/peer_rx.log")"
[[ $(dp_counter dtmf_sent) -eq 21 ]] || fail "dtmf_sent $(dp_counter dtmf_sent), expected 21"
[[ $(dp_counter dtmf_played) -eq 1 ]] || fail "dtmf_played $(dp_counter dtmf_played), expected 1"
held=$(dp_counter drop_dtmf_playing)
((held >= 15)) || fail "only $held audio packets held back during three 120 ms events"
pass "'1#9' reaches the peer as RFC 4733 events continuing the audio's stream ($held audio packets held back)"

# 2. refusals: a second string while the first plays, an unknown key, a bad digit, no PT
printf 'dtmf b0 101 123\ndtmf b0 101 4\ndtmf 99 101 1\ndtmf b0 101 12X\ndtmf a0 0 1\n' >&3
wait_log fc "^dtmf-reply key=3 status=-16 " 2
wait_log fc "^dtmf-reply key=99 status=-2 " 2
wait_log fc "^dtmf-reply key=3 status=-22 " 2
wait_log fc "^dtmf-reply key=2 status=-22 " 2
# replies come in order: "123" was accepted before "4" was refused
[[ $(count_log fc "^dtmf-reply key=3 status=0 \(accepted\) play_ms=420$") -eq 2 ]] ||
	fail "the second string was not accepted"
sleep 0.6 # "123" plays 420 ms: the relay toward B's remote waits meanwhile
[[ $(dp_counter dtmf_played) -eq 2 ]] || fail "dtmf_played $(dp_counter dtmf_played), expected 2"
pass "EP_DTMF refuses a string while one plays (-EBUSY), an unknown key, a bad digit or PT"

# 3. detection: A's remote sends digits to A; each goes on to B's remote and is reported once
d0=$(dp_counter dtmf_detected)
bad0=$(dp_counter dtmf_bad)
in_peers python3 "$PEER" dtmf-tx 198.18.0.2:5100 198.18.0.3:6100 "$a_local" 101 \
	>"$WORK/peer_tx.log" 2>&1 || fail "events not relayed: $(cat "$WORK/peer_tx.log")"
# '0' lost its ends and nothing follows: reported 500 ms after its last packet
wait_log fc "^dtmf key=2 digit=0 end=0 duration_ms=80 volume=7 ts=40000$" 3
for want in "digit=5 end=1 duration_ms=100 volume=7 ts=8000" \
	"digit=\* end=0 duration_ms=80 volume=7 ts=16000" \
	"digit=7 end=1 duration_ms=100 volume=7 ts=24000" \
	"digit=0 end=0 duration_ms=80 volume=7 ts=40000"; do
	[[ $(count_log fc "^dtmf key=2 $want$") -eq 1 ]] || fail "not once: dtmf key=2 $want"
done
[[ $(count_log fc "^dtmf key=") -eq 4 ]] || fail "$(count_log fc "^dtmf key=") DTMF events, expected 4"
order=$(grep -o '^dtmf key=2 digit=.' "$WORK/fc.log" | cut -d= -f3 | tr -d '\n')
[[ $order == '5*70' ]] || fail "digits reported in the order '$order', expected '5*70'"
d1=$(dp_counter dtmf_detected)
bad1=$(dp_counter dtmf_bad)
((d1 - d0 == 4)) || fail "dtmf_detected $d0 -> $d1"
((bad1 - bad0 == 5)) || fail "dtmf_bad $bad0 -> $bad1 (5 hostile payloads sent)"
pass "digits from a peer are relayed and reported once each, lost ends too; 5 hostile payloads counted"

echo quit >&3
wait_log fc "^pairs=1 installed=1 exit=0" 10
wait_log fc "stats pair 0 a: rx_pkts=" 1

# 4. the dtmf verb on a pair left installed by --keep (one control plane at a time)
timeout 20 "$FLOWCTL" --instance "$INSTANCE" --pairs 1 --a-remote 198.18.0.2:5200 \
	--b-remote 198.18.0.3:6200 --hold 0.2 --keep >"$WORK/fc_keep.log" 2>&1 ||
	fail "--keep: $(cat "$WORK/fc_keep.log")"
p0=$(dp_counter dtmf_played)
timeout 20 "$FLOWCTL" dtmf --instance "$INSTANCE" --key a0 --pt 101 --listen 0.6 '*0#' \
	>"$WORK/fc_verb.log" 2>&1 || fail "dtmf verb: $(cat "$WORK/fc_verb.log")"
grep -q "^dtmf-reply key=2 status=0 (accepted) play_ms=420$" "$WORK/fc_verb.log" ||
	fail "dtmf verb: $(cat "$WORK/fc_verb.log")"
rc=0
timeout 20 "$FLOWCTL" dtmf --instance "$INSTANCE" --key 1234 --pt 101 1 >"$WORK/fc_verb2.log" 2>&1 || rc=$?
((rc == 1)) && grep -q "status=-2 " "$WORK/fc_verb2.log" || fail "dtmf verb, unknown key: exit $rc"
[[ $(dp_counter dtmf_played) -eq $((p0 + 1)) ]] || fail "the verb's digits did not play"
pass "tg-flowctl dtmf plays digits on an installed endpoint"
