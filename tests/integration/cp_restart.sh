#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The dataplane notices a new control plane (its generation changes in the channel header), a
# second control plane on the same instance is refused while the first holds the channel, and
# replies meant for a control plane that died are not delivered to its successor.
. "$(dirname "$0")/lib.sh"

start_dp dp
start_bg cp1 "$CP" --instance "$INSTANCE" --set sip.listen=127.0.0.1:0 --duration 30 --set controlplane.ping_interval=100ms
wait_log cp1 "dataplane up" 10
wait_log dp "control plane attached: generation" 5

start_bg cp2 "$CP" --instance "$INSTANCE" --set sip.listen=127.0.0.1:0 --duration 30
wait_log cp2 "waiting for the dataplane: channel /tollgate.$INSTANCE.chan is held by another control plane" 10

kill -KILL "$cp1_pid"
wait_log cp2 "dataplane up" 10
wait_log dp "control plane restarted: generation [0-9a-f]{8} -> [0-9a-f]{8}" 5
kill -INT "$cp2_pid"
wait_log cp2 "summary: dataplane_reached=1 pings_ok=[0-9]+ pings_failed=0" 10
pass "control-plane restart is seen by the dataplane; one control plane at a time"
