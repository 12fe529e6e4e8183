#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The control plane notices a dataplane that crashes (SIGKILL: stale heartbeat) or stops cleanly
# (DP_STOPPING), fails what was in flight, waits, and re-sends its state to the new generation.
. "$(dirname "$0")/lib.sh"

start_dp dp
start_bg cp "$CP" --instance "$INSTANCE" --set sip.listen=127.0.0.1:0 --duration 40 --set controlplane.ping_interval=200ms \
	--set controlplane.dp_timeout=500ms --set controlplane.status_interval=1s
wait_log cp "dataplane up: generation" 10
gen1=$(grep -Eo 'dataplane up: generation [0-9a-f]{8}' "$WORK/cp.log" | head -1 | awk '{print $4}')

# 1. crash
kill -KILL "$dp_pid"
wait_log cp "dataplane $gen1 stopped its heartbeat" 10
wait_log cp "dataplane down" 1
start_dp dp2
wait_log cp "dataplane restarted: generation" 10
wait_log cp "dataplane restart #1: state re-sent" 1
gen2=$(grep -Eo 'dataplane restarted: generation [0-9a-f]{8}' "$WORK/cp.log" | tail -1 | awk '{print $4}')
[[ $gen1 != "$gen2" ]] || fail "generation did not change ($gen1)"
# pings flow again: the newest status line shows lcore#1 answering the new generation
wait_log cp "status: dataplane $gen2 up \| pings: lcore#0 [0-9]+ ok.*lcore#1" 5

# 2. clean stop and start
kill -INT "$dp2_pid"
wait_log cp "dataplane $gen2 (is stopping|stopped):" 10
start_dp dp3
wait_log cp "dataplane restart #2: state re-sent" 10
wait_log dp3 "hello from control plane" 5

kill -INT "$cp_pid"
wait_log cp "summary: dataplane_reached=1 .* dp_restarts=2" 10
pass "dataplane crash and clean restart are both seen and state is re-sent"
