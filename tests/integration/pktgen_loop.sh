#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tg-pktgen through loops that need no relay: a net_ring port (what goes out comes back in the
# same process), then a memif link to dpdk-testpmd forwarding in io mode. Checks the counts,
# zero loss at a low rate, the latency figures, a clean stop on SIGINT, and that bad command
# lines are refused with a message. All traffic stays inside these DPDK processes.
. "$(dirname "$0")/lib.sh"

PG=$TG_BUILD/tools/pktgen/tg-pktgen
TESTPMD=${TG_TESTPMD:-dpdk-testpmd}
[[ -x $PG ]] || fail "no $PG: build it first"

# Our own EAL prefixes and namespace, cleaned whatever happens (a process killed with SIGKILL
# leaves files).
PG_NS=
pg_files_cleanup() {
	rm -f /dev/hugepages/"$INSTANCE"pg*map_* /dev/hugepages/"$INSTANCE"tp*map_* 2>/dev/null || true
	rm -rf /var/run/dpdk/"$INSTANCE"pg* /var/run/dpdk/"$INSTANCE"tp* 2>/dev/null || true
	[[ -z $PG_NS ]] || ip netns del "$PG_NS" 2>/dev/null || true
}
trap 'tg_cleanup; pg_files_cleanup' EXIT

# field NAME LOG : the value of NAME=... on the log's machine-readable line
field() {
	grep '^tx_pkts=' "$WORK/$2.log" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# run_pg NAME ARGS... : tg-pktgen in the foreground, bounded by timeout; sets rc
run_pg() {
	local name=$1
	shift
	rc=0
	timeout -s INT -k 5 30 "$PG" --file-prefix "${INSTANCE}pg$name" "$@" >"$WORK/$name.log" 2>&1 ||
		rc=$?
}

# expect_loop NAME COUNT : the run sent COUNT, got all back, and measured latency
expect_loop() {
	local name=$1 count=$2 f
	[[ $rc -eq 0 ]] || fail "$name: exit status $rc"
	for f in tx_pkts rx_pkts; do
		[[ $(field $f "$name") == "$count" ]] ||
			fail "$name: $f $(field $f "$name"), expected $count"
	done
	[[ $(field loss_pct "$name") == 0.0000 ]] || fail "$name: loss_pct $(field loss_pct "$name")"
	[[ $(field reordered "$name") == 0 ]] || fail "$name: reordered $(field reordered "$name")"
	for f in p50_us p99_us p999_us max_us; do
		[[ $(field $f "$name") =~ ^[0-9]+\.[0-9]+$ ]] || fail "$name: $f '$(field $f "$name")'"
	done
}

expect_err() { # expect_err NAME PATTERN ARGS...
	local name=$1 pattern=$2
	shift 2
	rc=0
	"$PG" "$@" >"$WORK/$name.log" 2>&1 || rc=$?
	[[ $rc -eq 2 ]] || fail "$name: exit status $rc, expected 2"
	grep -Eq -- "$pattern" "$WORK/$name.log" || fail "$name: no message matching '$pattern'"
}

# --- bad command lines: refused before any EAL start-up
expect_err unknown "unknown option '--frobnicate'" --dst 10.0.0.1:4000 --frobnicate
expect_err badip "--dst '10.0.0.300:4000': expected IP:PORT" --dst 10.0.0.300:4000
expect_err nostreams "--streams '0': must be between 1 and 65536" --dst 10.0.0.1:4000 --streams 0
expect_err nodst "--dst is required" --pps 100
expect_err badrate "--pps 'fast'" --dst 10.0.0.1:4000 --pps fast
"$PG" --help >"$WORK/help.log" 2>&1 || fail "--help: exit status $?"
grep -q "usage: tg-pktgen" "$WORK/help.log" || fail "--help: no usage"
pass "bad arguments exit 2 with a message naming the option"

# --- net_ring: a loopback inside one process; IPv4 and IPv6, several streams, one or two lcores
run_pg ring4 --dst 10.0.0.1:4000 --streams 4 --pps 20000 --count 20000 -- --vdev net_ring0
expect_loop ring4 20000
run_pg ring6 --dst '[2001:db8::2]:6000' --streams 3 --pps 20000 --count 20000 --huge off \
	--lcores 0,1 -- --vdev net_ring0
expect_loop ring6 20000
grep -q "rx on a worker" "$WORK/ring6.log" || fail "ring6: did not receive on a second lcore"
pass "net_ring loopback: IPv4 and IPv6, 4 and 3 streams, one and two lcores, no loss"

# --- SIGINT: stops early, still reports, exits 0 and leaves no EAL files
start_bg sigint "$PG" --file-prefix "${INSTANCE}pgsig" --dst 10.0.0.1:4000 --pps 1000 \
	--duration 60 -- --vdev net_ring0
wait_log sigint "link up" 20
sleep 0.5
kill -INT "$sigint_pid"
rc=0
for _ in $(seq 100); do kill -0 "$sigint_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$sigint_pid" 2>/dev/null && fail "sigint: still running 10 s after SIGINT"
wait "$sigint_pid" || rc=$?
[[ $rc -eq 0 ]] || fail "sigint: exit status $rc"
grep -q "stopped by a signal" "$WORK/sigint.log" || fail "sigint: no report of the stop"
[[ $(field tx_pkts sigint) -gt 0 ]] || fail "sigint: nothing sent"
compgen -G "/dev/hugepages/${INSTANCE}pgsigmap_*" >/dev/null && fail "sigint: hugepage files left"
[[ -e /var/run/dpdk/${INSTANCE}pgsig ]] && fail "sigint: EAL runtime directory left"
pass "SIGINT: report printed, exit 0, no EAL files left"

# --- checksums by the port: net_tap offers UDP checksum offload. The TAP is created inside a
# namespace of our own, so the frames go nowhere else; tcpdump there checks their checksums.
if command -v tcpdump >/dev/null; then
	PG_NS=pgns$$
	ip netns add "$PG_NS"
	for fam in 4 6; do
		tap=pgt$fam$$
		dst=10.99.0.1:4000
		[[ $fam == 6 ]] && dst='[fd00:99::1]:4000'
		start_bg tap$fam ip netns exec "$PG_NS" "$PG" --file-prefix "${INSTANCE}pgtap$fam" \
			--tx-only --dst "$dst" --streams 2 --pps 200 --duration 3 --huge off \
			-- --vdev "net_tap0,iface=$tap"
		wait_log tap$fam "link up" 20
		timeout 5 ip netns exec "$PG_NS" tcpdump -i "$tap" -nn -vv -c 4 udp \
			>"$WORK/tcpdump$fam.log" 2>&1 || true
		eval "pid=\$tap${fam}_pid"
		rc=0
		wait "$pid" || rc=$?
		[[ $rc -eq 0 ]] || fail "tap$fam: exit status $rc"
		grep -q "UDP checksum by the port" "$WORK/tap$fam.log" ||
			fail "tap$fam: the port's checksum offload was not used"
		[[ $(grep -c "udp sum ok" "$WORK/tcpdump$fam.log") -eq 4 ]] ||
			fail "tap$fam: checksums not all good: $(cat "$WORK/tcpdump$fam.log")"
	done
	pass "UDP checksum offload (net_tap): IPv4 and IPv6 checksums right"
fi

# --- memif to dpdk-testpmd (io forwarding back out of the same port)
command -v "$TESTPMD" >/dev/null || fail "no $TESTPMD (package dpdk)"
sock=$WORK/memif.sock
memif="socket=$sock,socket-abstract=no"
# no peer: a client cannot start, a server waits for the link in vain; both exit 1, saying why
# (on a socket of their own: a server's socket file outlives it and would stop testpmd's bind)
nopeer="socket=$WORK/nopeer.sock,socket-abstract=no"
run_pg noserver --dst 10.0.0.1:4000 --count 10 -- --vdev "net_memif0,role=client,$nopeer"
[[ $rc -eq 1 ]] || fail "noserver: exit status $rc, expected 1"
grep -q "memif client starts only once its server listens" "$WORK/noserver.log" ||
	fail "noserver: no message about the server"
run_pg noclient --dst 10.0.0.1:4000 --count 10 --link-wait 0.5 \
	-- --vdev "net_memif0,role=server,$nopeer"
[[ $rc -eq 1 ]] || fail "noclient: exit status $rc, expected 1"
grep -q "link still down" "$WORK/noclient.log" || fail "noclient: no message about the link"
pass "memif without a peer: exit 1 with the reason"

# testpmd's main lcore sleeps in its stats loop; its forwarding lcore busy-polls CPU 1, which
# leaves CPU 0 to tg-pktgen. --stats-period keeps it running until SIGINT (not stdin's EOF);
# stdbuf makes its log lines appear as they are written.
start_bg testpmd stdbuf -oL "$TESTPMD" --lcores 0@1,1@1 --no-pci --no-huge -m 256 --no-telemetry \
	--file-prefix "${INSTANCE}tp" --vdev "net_memif0,role=server,$memif,rsize=12" -- \
	--forward-mode=io --port-topology=loop --auto-start --stats-period 3600 \
	--total-num-mbufs 16384
# a client that connects before the server's port has started is not taken back: wait for that
wait_log testpmd "start packet forwarding" 15
# 100,000 packets at 50 kpps: 2 s. Rings of 4096 (rsize, equal on both sides or the server
# refuses the client) absorb some CPU contention from whatever else runs on the machine.
run_pg memif --dst 10.0.0.1:4000 --streams 8 --pps 50000 --count 100000 \
	-- --vdev "net_memif0,role=client,$memif,rsize=12"
expect_loop memif 100000
pass "memif <-> testpmd io: 100000 packets at 50 kpps, none lost"
grep '^tx_pkts=' "$WORK/memif.log"

kill -INT "$testpmd_pid"
for _ in $(seq 100); do kill -0 "$testpmd_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$testpmd_pid" 2>/dev/null && fail "testpmd: still running 10 s after SIGINT"
pass "testpmd stopped"
