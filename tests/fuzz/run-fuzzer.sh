#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Runs one libFuzzer target for a bounded time (TOLLGATE_FUZZ_SECONDS, default 20) from its
# checked-in seeds, writing new inputs to a scratch corpus so the seeds stay as committed.
# A crash, leak or timeout fails the test and leaves the reproducer in the printed directory.
#   run-fuzzer.sh BINARY SEED_DIR
set -euo pipefail
bin=$1
seeds=$2
work=$(mktemp -d /tmp/tg-fuzz.XXXXXX)
mkdir -p "$work/corpus"
rc=0
"$bin" -max_total_time="${TOLLGATE_FUZZ_SECONDS:-20}" -max_len=8192 -timeout=10 \
	-print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" "$seeds" || rc=$?
if [[ $rc -ne 0 ]]; then
	echo "fuzzer failed (exit $rc); reproducer kept in $work" >&2
	exit "$rc"
fi
rm -rf "$work"
