#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The relay with kernel peers in a network namespace: IPv4 and IPv6 legs and a v4 leg joined to
# a v6 leg, each way, arriving intact from the appliance's own addresses; ARP and ping through
# the exception path; latching refuses a foreign source; malformed frames are counted and
# dropped while the worker keeps relaying; a second media address takes the endpoints the
# first has no port for.
. "$(dirname "$0")/lib.sh"

FLOWCTL=$TG_BUILD/tools/flowctl/tg-flowctl
PEER=$TG_SRC/tests/integration/rtp_peer.py

# software checksums: the relay's own incremental update, checked by the peers' kernels (which
# drop a datagram with a bad checksum); offload is the NIC's business
# TG_DP_LCORES: the same checks with several workers (e.g. 0@0,1@1,2@1: two workers, one core)
# four RTP ports an address: two pairs fill the first media address (each check below holds one)
APP4B=198.18.0.4
start_dp dp --set dataplane.media_address=$APP4,$APP4B --set dataplane.media_address6=$APP6 \
	--set dataplane.port_min=30000 --set dataplane.port_max=30006 \
	--set dataplane.media_timeout=2s --set dataplane.checksum_offload=false \
	--set "dataplane.lcores=${TG_DP_LCORES:-0-1}"
media_netns
ip -n "$APP_NS" addr add "$APP4B/24" dev "tgx0-$INSTANCE"

# exception path: the kernel in the appliance's namespace answers ARP, ND and ping
in_peers ping -c 2 -W 2 "$APP4" >"$WORK/ping4.log" 2>&1 || fail "ping $APP4 through the exception path"
in_peers ping -6 -c 2 -W 2 "$APP6" >"$WORK/ping6.log" 2>&1 || fail "ping $APP6 through the exception path"
in_peers ping -c 2 -W 2 "$APP4B" >"$WORK/ping4b.log" 2>&1 || fail "ping $APP4B through the exception path"
[[ $(dp_counter exc_from_kernel) -gt 0 ]] || fail "exc_from_kernel stayed 0"
pass "ARP, ND and ping go through the exception path"

# pair_test NAME A_REMOTE B_REMOTE [flowctl options] : installs one pair and exchanges RTP
pair_test() {
	local name=$1 a=$2 b=$3 a_local b_local
	shift 3
	start_bg "fc_$name" "$FLOWCTL" --instance "$INSTANCE" --pairs 1 --a-remote "$a" \
		--b-remote "$b" --stats "$@"
	wait_log "fc_$name" "^installed 1 pairs" 10
	a_local=$(grep -o 'a=[^ ]*' "$WORK/fc_$name.log" | cut -d= -f2)
	b_local=$(grep -o 'b=[^ ]*' "$WORK/fc_$name.log" | cut -d= -f2)
	in_peers python3 "$PEER" exchange "$a" "$b" "$a_local" "$b_local" 50 \
		>"$WORK/peer_$name.log" 2>&1 || fail "$name: $(cat "$WORK/peer_$name.log")"
	kill -INT "$(eval echo "\$fc_${name}_pid")"
	wait_log "fc_$name" "^pairs=1 installed=1 exit=0" 10
	# each side received 50 (+ warm-up) with no loss the dataplane could measure
	wait_log "fc_$name" "stats pair 0 a: rx_pkts=5[0-2] .* tx_pkts=5[0-2] .* lost=0 " 1
	wait_log "fc_$name" "stats pair 0 b: rx_pkts=5[0-2] .* tx_pkts=5[0-2] .* lost=0 " 1
	wait_log "fc_$name" "stats pair 0 a: .* mos=4\.[0-9]+" 1
	pass "$name: 50 RTP packets each way, intact, from the appliance's addresses"
}

pair_test v4 198.18.0.2:5000 198.18.0.3:6000
pair_test v6 "[fdec:7011::2]:5002" "[fdec:7011::3]:6002"
pair_test v4v6 198.18.0.2:5004 "[fdec:7011::3]:6004"
pair_test latch 198.18.0.2:5006 198.18.0.3:6006 --latch

# latching: A's endpoint locks onto its first source; another source is refused and counted
start_bg fc_bleed "$FLOWCTL" --instance "$INSTANCE" --pairs 1 --a-remote 198.18.0.2:5010 \
	--b-remote 198.18.0.3:6010 --latch --stats
wait_log fc_bleed "^installed 1 pairs" 10
a_local=$(grep -o 'a=[^ ]*' "$WORK/fc_bleed.log" | cut -d= -f2)
before=$(dp_counter drop_foreign_source)
in_peers python3 "$PEER" send 198.18.0.2:5010 "$a_local" 5
in_peers python3 "$PEER" expect 198.18.0.3:6010 5 3 >"$WORK/bleed_good.log" &
exp=$!
sleep 0.2
in_peers python3 "$PEER" send 198.18.0.2:5010 "$a_local" 5
wait "$exp"
grep -q '"received": 5' "$WORK/bleed_good.log" || fail "latched source not relayed: $(cat "$WORK/bleed_good.log")"
in_peers python3 "$PEER" expect 198.18.0.3:6010 1 1.5 >"$WORK/bleed_bad.log" &
exp=$!
sleep 0.2
in_peers python3 "$PEER" send 198.18.0.3:7777 "$a_local" 20
wait "$exp"
grep -q '"received": 0' "$WORK/bleed_bad.log" || fail "a foreign source was relayed: $(cat "$WORK/bleed_bad.log")"
after=$(dp_counter drop_foreign_source)
((after - before >= 20)) || fail "drop_foreign_source went $before -> $after"
kill -INT "$fc_bleed_pid"
wait_log fc_bleed "^pairs=1 installed=1 exit=0" 10
pass "latching refuses a foreign source and counts it ($((after - before)) dropped)"

# malformed frames on a media port: counted and dropped, and the worker keeps relaying
start_bg fc_bad "$FLOWCTL" --instance "$INSTANCE" --pairs 1 --a-remote 198.18.0.2:5020 \
	--b-remote 198.18.0.3:6020 --stats
wait_log fc_bad "^installed 1 pairs" 10
a_local=$(grep -o 'a=[^ ]*' "$WORK/fc_bad.log" | cut -d= -f2)
a_port=${a_local##*:}
app_mac=$(ip -n "$APP_NS" -br link show "tgx0-$INSTANCE" | awk '{print $3}')
m0=$(dp_counter drop_malformed) o0=$(dp_counter drop_ip_options) n0=$(dp_counter drop_not_rtp)
f0=$(dp_counter drop_fragment)
in_peers python3 "$PEER" raw "tg-$INSTANCE" "$app_mac" 198.18.0.2 "$APP4" "$a_port" >"$WORK/raw.log"
sleep 0.5
m1=$(dp_counter drop_malformed) o1=$(dp_counter drop_ip_options) n1=$(dp_counter drop_not_rtp)
f1=$(dp_counter drop_fragment)
((f1 - f0 == 5)) || fail "drop_fragment $f0 -> $f1"
((m1 - m0 >= 20)) || fail "drop_malformed $m0 -> $m1 (4 kinds x 5 sent)"
((o1 - o0 == 5)) || fail "drop_ip_options $o0 -> $o1"
((n1 - n0 == 10)) || fail "drop_not_rtp $n0 -> $n1"
kill -INT "$fc_bad_pid"
wait_log fc_bad "^pairs=1 installed=1 exit=0" 10
pair_test after_malformed 198.18.0.2:5030 198.18.0.3:6030
pass "malformed frames counted (malformed +$((m1 - m0)), ip_options +$((o1 - o0)), not_rtp +$((n1 - n0)), fragment +$((f1 - f0))) and the relay lives on"

# media timeout: a pair that receives nothing is reported to the control plane, once per side
start_bg fc_quiet "$FLOWCTL" --instance "$INSTANCE" --pairs 1 --a-remote 198.18.0.2:5040 \
	--b-remote 198.18.0.3:6040
wait_log fc_quiet "^installed 1 pairs" 10
wait_log fc_quiet "media-timeout key=2 last_rx_ms_ago=4294967295 rx_pkts=0" 6
wait_log fc_quiet "media-timeout key=3 " 1
kill -INT "$fc_quiet_pid"
wait_log fc_quiet "^pairs=1 installed=1 exit=0" 10
[[ $(count_log fc_quiet "media-timeout key=2 ") -eq 1 ]] || fail "timeout reported more than once"
pass "a silent endpoint is reported once as a media timeout"

# several media addresses: the first one's ports are all taken by two pairs, so the third
# pair's endpoints go to the second, and RTP flows there (the peers' ARP for it answered by
# the kernel on the exception TAP); with both full, a fifth pair is refused
start_bg fc_multi "$FLOWCTL" --instance "$INSTANCE" --pairs 3 --a-remote 198.18.0.2:5050 \
	--b-remote 198.18.0.3:6050 --stats
wait_log fc_multi "^installed 3 pairs" 10
for i in 0 1; do
	grep -q "^pair $i: a=$APP4:[0-9]* b=$APP4:[0-9]*$" "$WORK/fc_multi.log" ||
		fail "pair $i not on $APP4: $(grep "^pair $i:" "$WORK/fc_multi.log")"
done
a_local=$(sed -n "s/^pair 2: a=\([^ ]*\) b=.*/\1/p" "$WORK/fc_multi.log")
b_local=$(sed -n "s/^pair 2: a=[^ ]* b=\(.*\)/\1/p" "$WORK/fc_multi.log")
[[ $a_local == "$APP4B":* && $b_local == "$APP4B":* ]] || fail "pair 2 not on $APP4B: a=$a_local b=$b_local"
in_peers python3 "$PEER" exchange 198.18.0.2:5054 198.18.0.3:6054 "$a_local" "$b_local" 50 \
	>"$WORK/peer_multi.log" 2>&1 || fail "second media address: $(cat "$WORK/peer_multi.log")"
kill -INT "$fc_multi_pid"
wait_log fc_multi "^pairs=3 installed=1 exit=0" 10
wait_log fc_multi "stats pair 2 a: rx_pkts=5[0-2] .* tx_pkts=5[0-2] .* lost=0 " 1
# one control plane at a time: the full addresses are tried once fc_multi has gone
rc=0
timeout 20 "$FLOWCTL" --instance "$INSTANCE" --pairs 5 --a-remote 198.18.0.2:5060 \
	--b-remote 198.18.0.3:6060 >"$WORK/fc_full.log" 2>&1 || rc=$?
((rc == 1)) && grep -q "2 of 10 requests failed (first: No space left on device)" "$WORK/fc_full.log" ||
	fail "every media address full: flowctl exit $rc: $(cat "$WORK/fc_full.log")"
pass "a second media address takes what the first has no port for and carries RTP; then full"
