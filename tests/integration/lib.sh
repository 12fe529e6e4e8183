# SPDX-License-Identifier: BSD-3-Clause
# Shared helpers for integration tests: the build under test, unique instance names, processes
# that are always reaped, and bounded waits on log lines. Source it; it sets -euo pipefail.
set -euo pipefail

TG_BUILD=${TG_BUILD:?TG_BUILD must name the build directory under test}
TG_SRC=${TG_SRC:?TG_SRC must name the source tree}
DP=$TG_BUILD/tollgate-dp
CP=$TG_BUILD/tollgate-cp
WORK=$(mktemp -d /tmp/tg-it.XXXXXX)
# short: the TAP interface is tg-<first 12 chars of the instance>
INSTANCE=it$$
TG_PIDS=()
TG_NETNS=()

tg_cleanup() {
	local p
	for p in "${TG_PIDS[@]:-}"; do
		[[ -n $p ]] || continue
		kill -INT "$p" 2>/dev/null || true
	done
	for p in "${TG_PIDS[@]:-}"; do
		[[ -n $p ]] || continue
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
	done
	for n in "${TG_NETNS[@]:-}"; do
		[[ -n $n ]] && ip netns del "$n" 2>/dev/null || true
	done
	rm -f /dev/shm/tollgate."$INSTANCE".* 2>/dev/null || true
	# a control plane killed with SIGKILL leaves its control socket
	rm -f /run/tollgate/"$INSTANCE".ctl 2>/dev/null || true
	# a dataplane killed with SIGKILL leaves its hugepage files and EAL runtime directory
	rm -f /dev/hugepages/"$INSTANCE"map_* 2>/dev/null || true
	rm -rf /var/run/dpdk/"$INSTANCE" 2>/dev/null || true
	if [[ ${TG_KEEP_WORK:-0} == 1 ]]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap tg_cleanup EXIT
trap "exit 143" TERM INT

fail() {
	echo "FAIL: $*" >&2
	for f in "$WORK"/*.log; do
		[[ -f $f ]] || continue
		echo "---- $f" >&2
		tail -30 "$f" >&2
	done
	exit 1
}

# start_bg NAME CMD... : runs CMD in the background with its output in $WORK/NAME.log
start_bg() {
	local name=$1
	shift
	"$@" >"$WORK/$name.log" 2>&1 &
	TG_PIDS+=($!)
	eval "${name}_pid=$!"
}

# wait_log NAME PATTERN SECONDS : waits until $WORK/NAME.log matches the extended regex
wait_log() {
	local f=$WORK/$1.log pattern=$2 deadline=$((SECONDS + $3))
	while ((SECONDS < deadline)); do
		grep -Eq -- "$pattern" "$f" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "no line matching '$pattern' in $1.log after $3 s"
}

# wait_ended NAME N SECONDS : waits until NAME's status line counts at least N calls ended
# (a status line comes once a second, so with several calls ending in one second an exact
# "ended N," may never be printed)
wait_ended() {
	local f=$WORK/$1.log want=$2 deadline=$((SECONDS + $3)) n
	while ((SECONDS < deadline)); do
		n=$(grep -Eo "ended [0-9]+," "$f" 2>/dev/null | tail -1 | tr -dc 0-9)
		[[ -n $n ]] && ((n >= want)) && return 0
		sleep 0.1
	done
	fail "fewer than $want calls ended in $1.log after $3 s"
}

# count_log NAME PATTERN : how many lines of $WORK/NAME.log match
count_log() {
	grep -Ec -- "$2" "$WORK/$1.log" 2>/dev/null || true
}

# start_dp NAME [tollgate-dp options...] : starts a dataplane and waits until it is up
start_dp() {
	local name=$1
	shift
	start_bg "$name" "$DP" --instance "$INSTANCE" --set dataplane.memory_mb=128 "$@"
	wait_log "$name" "dataplane '$INSTANCE' up" 30
}

pass() {
	echo "PASS: $*"
}

# media_netns : the standard media test bed. The dataplane's media TAP (tg-$INSTANCE) goes into
# netns $PEER_NS, where the peers live (198.18.0.2-3, fdec:7011::2-3); its exception TAP goes
# into netns $APP_NS with the appliance's address (198.18.0.1, fdec:7011::1). Nothing is left
# in the root namespace and no address leaves the machine. Call after start_dp.
APP_NS=tga$$
PEER_NS=tgp$$
APP4=198.18.0.1
APP6=fdec:7011::1
media_netns() {
	ip netns add "$APP_NS"
	TG_NETNS+=("$APP_NS")
	ip netns add "$PEER_NS"
	TG_NETNS+=("$PEER_NS")
	ip link set "tg-$INSTANCE" netns "$PEER_NS"
	ip link set "tgx0-$INSTANCE" netns "$APP_NS"
	ip -n "$PEER_NS" link set lo up
	# the peers' side needs a MAC of its own: the TAP starts with the port's
	ip -n "$PEER_NS" link set "tg-$INSTANCE" address 02:00:00:00:00:02
	ip -n "$PEER_NS" link set "tg-$INSTANCE" up
	ip -n "$PEER_NS" addr add 198.18.0.2/24 dev "tg-$INSTANCE"
	ip -n "$PEER_NS" addr add 198.18.0.3/24 dev "tg-$INSTANCE"
	ip -n "$PEER_NS" addr add fdec:7011::2/64 dev "tg-$INSTANCE" nodad
	ip -n "$PEER_NS" addr add fdec:7011::3/64 dev "tg-$INSTANCE" nodad
	ip -n "$APP_NS" link set lo up
	ip -n "$APP_NS" link set "tgx0-$INSTANCE" up
	ip -n "$APP_NS" addr add "$APP4/24" dev "tgx0-$INSTANCE"
	ip -n "$APP_NS" addr add "$APP6/64" dev "tgx0-$INSTANCE" nodad
}

in_peers() {
	ip netns exec "$PEER_NS" "$@"
}

# dp_counter NAME : the sum over lcores of a dataplane counter, from the stats segment
dp_counter() {
	"$CP" --instance "$INSTANCE" --dump-stats | awk -v n="$1" '$1 == n { s += $2 } END { print s + 0 }'
}

# nothing_left SOCKET : polls `tgctl show stats` (up to 10 s) until no call, dialog, caller
# address, transaction, channel request or media endpoint is left; fails naming what is.
nothing_left() {
	local stats=$WORK/left.json
	for _ in $(seq 50); do
		"$TG_BUILD/tools/tgctl/tgctl" --socket "$1" --json show stats >"$stats" ||
			fail "show stats"
		python3 - "$stats" <<'EOF' && return 0
import json, sys
s = json.load(open(sys.argv[1]))
lcores = s["dataplane"]["lcores"]
assert any("endpoints" in l for l in lcores), lcores
left = {"calls": s["calls"]["in_memory"], "dialogs": s["calls"]["dialogs"],
        "sources": s["calls"]["sources"],
        "transactions": s["transactions"]["live"], "channel": s["channel"]["in_flight"],
        "endpoints": sum(l.get("endpoints", 0) for l in lcores)}
left = {k: v for k, v in left.items() if v}
if left:
    sys.exit("left: %s" % left)
EOF
		sleep 0.2
	done
	fail "left behind after every call ended: $(cat "$stats")"
}

# The appliance's control socket in the tests that start tollgate-cp with
# --set controlplane.control_socket="$SOCK"
SOCK=$WORK/ctl/tollgate.ctl
TGCTL=$TG_BUILD/tools/tgctl/tgctl
ctl() { "$TGCTL" --socket "$SOCK" "$@"; }

# tgctl_exits EXIT PATTERN ARGS... : tgctl (ARGS as given, socket included) exits with EXIT
# and says PATTERN on stderr
tgctl_exits() {
	local want=$1 pattern=$2 rc=0
	shift 2
	"$TGCTL" "$@" >"$WORK/ctl.out" 2>"$WORK/ctl.err" || rc=$?
	[[ $rc -eq $want ]] || fail "tgctl $*: exit $rc, expected $want ($(cat "$WORK/ctl.err"))"
	grep -Eq -- "$pattern" "$WORK/ctl.err" ||
		fail "tgctl $*: expected '$pattern' on stderr, got: $(cat "$WORK/ctl.err")"
}

# ctl_fails PATTERN ARGS... : the appliance refuses the command (exit 1) saying PATTERN
ctl_fails() {
	local pattern=$1
	shift
	tgctl_exits 1 "$pattern" --socket "$SOCK" "$@"
}

# The SIP test bed: SIPp callers on $CALLER, callees on $CALLEE (both in $PEER_NS, scenarios in
# $SIPP_DIR), call records in $CDR.
SIPP_DIR=$TG_SRC/tests/sipp
CALLER=198.18.0.2
CALLEE=198.18.0.3
CDR=$WORK/cdr.jsonl

# start_appliance [tollgate-cp options] : the dataplane on the media test bed (media_netns) and
# a control plane in $APP_NS on $APP4:5060, writing $CDR, its control socket at $SOCK; returns
# once the two are connected
start_appliance() {
	start_dp dp --set dataplane.media_address=$APP4 --set dataplane.checksum_offload=false
	media_netns
	start_bg cp ip netns exec "$APP_NS" "$CP" --instance "$INSTANCE" \
		--set sip.listen=$APP4:5060 --set cdr.path="$CDR" \
		--set controlplane.status_interval=1s --set controlplane.dp_timeout=10s \
		--set controlplane.control_socket="$SOCK" "$@"
	wait_log cp "dataplane up" 10
}
