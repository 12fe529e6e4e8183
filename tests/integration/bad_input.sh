#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Bad command lines and config files: a clear message naming the problem and exit status 2,
# never a crash or a half-started appliance.
. "$(dirname "$0")/lib.sh"

expect_err() { # expect_err NAME PATTERN CMD...
	local name=$1 pattern=$2 rc=0
	shift 2
	"$@" >"$WORK/$name.log" 2>&1 || rc=$?
	[[ $rc -eq 2 ]] || fail "$name: exit status $rc, expected 2"
	grep -Eq -- "$pattern" "$WORK/$name.log" || fail "$name: no message matching '$pattern'"
}

expect_err enum "dataplane.idle.*busy\|adaptive" "$DP" --set dataplane.idle=fast
expect_err bounds "memory_mb" "$DP" --set dataplane.memory_mb=1
expect_err ring "ring_size.*power of two" "$DP" --set channel.ring_size=1000
expect_err nokey "nosuch" "$CP" --set controlplane.nosuch=1
expect_err noeq "expected KEY=VALUE" "$CP" --set controlplane.ping_interval
expect_err instance "not a valid instance name" "$CP" --instance '../etc'
expect_err log "not a log spec" "$CP" --log 'chan=loud'
expect_err missing "/nonexistent/tollgate.conf" "$CP" --config /nonexistent/tollgate.conf
expect_err option "unknown option '--frobnicate'" "$DP" --frobnicate
expect_err duration "not a number of seconds" "$CP" --duration soon
printf '[controlplane]\nping_interval = 1s\nping_interval = 2s\n' >"$WORK/dup.conf"
expect_err dup "dup.conf:3" "$CP" --config "$WORK/dup.conf"
printf '[dataplane]\nidle = busy\n\x01\x02garbage without equals\n' >"$WORK/garbage.conf"
expect_err garbage "garbage.conf:3" "$DP" --config "$WORK/garbage.conf"
printf '[nosuchsection]\nkey = 1\n' >"$WORK/section.conf"
expect_err section "nosuchsection" "$CP" --config "$WORK/section.conf"

# the embedded defaults and the shipped example file agree, and both load
"$DP" --show-config >"$WORK/dp-defaults.txt"
"$DP" --config "$TG_SRC/etc/tollgate.conf" --show-config >"$WORK/dp-etc.txt"
diff -u "$WORK/dp-defaults.txt" "$WORK/dp-etc.txt" >&2 || fail "etc/tollgate.conf differs from the built-in defaults"
"$CP" --config "$TG_SRC/etc/tollgate.conf" --show-config >/dev/null || fail "cp rejects etc/tollgate.conf"

# no dataplane: the stats dump says so and fails
rc=0
"$CP" --instance "$INSTANCE" --dump-stats >"$WORK/nostats.log" 2>&1 || rc=$?
[[ $rc -eq 1 ]] && grep -q "no dataplane stats for instance '$INSTANCE'" "$WORK/nostats.log" ||
	fail "dump-stats without a dataplane: rc $rc"
pass "bad options and config files are refused with a message naming the problem"

# the generated references and example are committed: they must match the tables
"$CP" --config-docs | diff -u "$TG_SRC/docs/CONFIG.md" - >&2 ||
	fail "docs/CONFIG.md is stale: regenerate with tollgate-cp --config-docs > docs/CONFIG.md"
"$CP" --config-example | diff -u "$TG_SRC/etc/tollgate.conf" - >&2 ||
	fail "etc/tollgate.conf is stale: regenerate with tollgate-cp --config-example"
"$CP" --ctl-docs | diff -u "$TG_SRC/docs/CLI.md" - >&2 ||
	fail "docs/CLI.md is stale: regenerate with tollgate-cp --ctl-docs > docs/CLI.md"
pass "docs/CONFIG.md, docs/CLI.md and etc/tollgate.conf match the key and command tables"
