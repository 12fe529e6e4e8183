#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tollgate-dp and tg-pktgen over memif, 100 calls installed through the channel: every packet
# pktgen sends to a call's A endpoint comes back relayed from its B endpoint, none lost at a
# modest rate, and the per-endpoint statistics over the channel agree.
. "$(dirname "$0")/lib.sh"

FLOWCTL=$TG_BUILD/tools/flowctl/tg-flowctl
PG=$TG_BUILD/tools/pktgen/tg-pktgen
sock=$WORK/dp.sock
MEMIF="socket-abstract=no,rsize=10"
DP_MAC=02:00:00:00:00:01
PG_MAC=02:00:00:00:00:02
CALLS=100

start_dp dp --set "dataplane.vdevs=net_memif0,role=server,socket=$sock,$MEMIF,mac=$DP_MAC" \
	--set dataplane.exception=false --set dataplane.media_address=198.18.0.1 \
	--set dataplane.next_hop_mac=$PG_MAC --set dataplane.media_timeout=0
start_bg fc "$FLOWCTL" --instance "$INSTANCE" --pairs $CALLS --a-local 198.18.0.1:30000 \
	--b-local 198.18.0.11:30000 --a-remote 198.18.1.1:10000 --b-remote 198.18.1.2:10000 --stats
wait_log fc "^installed $CALLS pairs" 20
grep -q "pair 99: a=198.18.0.1:30198 b=198.18.0.11:30198" "$WORK/fc.log" || fail "pair ports"

rc=0
timeout -s INT -k 5 60 "$PG" --file-prefix "${INSTANCE}pg" --lcores 0 --streams $CALLS \
	--dst 198.18.0.1:30000 --src 198.18.1.1:10000 --src-mac $PG_MAC --dst-mac $DP_MAC \
	--pps 20000 --count 40000 --huge off -- \
	--vdev "net_memif0,role=client,socket=$sock,$MEMIF,mac=$PG_MAC" >"$WORK/pg.log" 2>&1 || rc=$?
rm -rf /var/run/dpdk/"${INSTANCE}pg"
[[ $rc -eq 0 ]] || fail "tg-pktgen exit status $rc"
line=$(grep '^tx_pkts=' "$WORK/pg.log")
[[ $line == *"tx_pkts=40000 rx_pkts=40000 "* ]] || fail "not all relayed: $line"
[[ $line == *"loss_pct=0.0000 "* ]] || fail "loss: $line"
[[ $(dp_counter relayed) -eq 40000 ]] || fail "relayed counter $(dp_counter relayed)"
kill -INT "$fc_pid"
wait_log fc "^pairs=$CALLS installed=1 exit=0" 20
# 40000 packets over 100 streams: 400 to each A endpoint, relayed out of its B endpoint
[[ $(count_log fc "stats pair [0-9]+ a: rx_pkts=400 .* lost=0 ") -eq $CALLS ]] ||
	fail "A endpoints' statistics: $(grep -m3 'stats pair' "$WORK/fc.log")"
[[ $(count_log fc "stats pair [0-9]+ b: rx_pkts=0 .* tx_pkts=400 ") -eq $CALLS ]] ||
	fail "B endpoints' statistics: $(grep -m3 'stats pair [0-9]* b' "$WORK/fc.log")"
pass "100 calls over memif: 40000 packets relayed, none lost, statistics agree"
