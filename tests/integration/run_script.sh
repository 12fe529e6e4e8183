#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The README's run command, end to end: both processes come up in the namespaces the script
# makes, every dataplane lcore answers over the channel, SIPp calls go through the B2BUA with
# RTP both ways (each call's record printed with its media statistics), the stats segment is
# readable, and everything is gone afterwards.
. "$(dirname "$0")/lib.sh"

TOLLGATE_BUILD_DIR=$TG_BUILD "$TG_SRC/scripts/run" --duration 10 --rate 2 --hold 2 \
	--instance "$INSTANCE" >"$WORK/run.log" 2>&1 || fail "scripts/run exited with $?"
wait_log run "dataplane up: generation [0-9a-f]{8}, pid [0-9]+, 2 lcore\(s\), 2 port\(s\)" 1
wait_log run "summary: dataplane_reached=1 pings_ok=[1-9][0-9]* pings_failed=0" 1
wait_log run "lcore#0 [1-9][0-9]* ok/0 failed.*lcore#1 [1-9][0-9]* ok/0 failed" 1
# the stats dump lists every block with the counters' names, read from the segment itself
wait_log run "^\[worker lcore 1\]" 1
wait_log run "^  drop_no_flow +[0-9]+" 1
wait_log run "^\[port 0 net_tap0\]" 1
# calls placed by SIPp through the appliance, answered, with media both ways
wait_log run "calls: active [0-9]+, in memory [0-9]+, [0-9.]+ cps \| offered [1-9][0-9]*, answered [1-9]" 1
wait_log run "^call [0-9]+: normal-clearing-a 200 .* A->B [1-9][0-9]* pkts, lost 0, .* B->A [1-9][0-9]* pkts, lost 0" 1
wait_log run "^== calls: [1-9][0-9]* call records" 1
wait_log run "dataplane stopped" 5
ls /dev/shm/tollgate."$INSTANCE".* >/dev/null 2>&1 && fail "shared memory left behind"
ip link show "tg-$INSTANCE" >/dev/null 2>&1 && fail "TAP device left behind"
ip netns list | grep -q -- "-$INSTANCE" && fail "network namespace left behind"
pgrep -f "sipp -sf tests/sipp/" >/dev/null && fail "SIPp left running"
pass "scripts/run brings up the appliance, SIPp calls go through it with media, and it cleans up"
