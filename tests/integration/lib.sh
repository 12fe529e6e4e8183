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
	rm -f /dev/shm/tollgate."$INSTANCE".* 2>/dev/null || true
	# a dataplane killed with SIGKILL leaves its hugepage files and EAL runtime directory
	rm -f /dev/hugepages/"$INSTANCE"map_* 2>/dev/null || true
	rm -rf /var/run/dpdk/"$INSTANCE" 2>/dev/null || true
	if [[ ${TG_KEEP_WORK:-0} == 1 ]]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap tg_cleanup EXIT

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
