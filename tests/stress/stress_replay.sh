#!/bin/sh
# The replay cache under concurrent use from many processes, with random
# SIGKILLs of them (tests/stress/replay_hammer.c): no jti accepted twice,
# the file reopens intact, its size is the documented one; a cache smaller
# than the load fails closed ("full"), never accepts past its limit.
set -u
. "$(dirname "$0")/lib.sh"
procs=${PA_STRESS_REPLAY_PROCS:-16}
jtis=${PA_STRESS_REPLAY_JTIS:-20000}
pa_workdir pa-stress-replay
trap 'exit 130' PIPE
secs=$((S_SECONDS / 2))
[ "$secs" -ge 5 ] || secs=5

t0=$(ms)
mkdir -m 0700 "$work/r1" "$work/r2"
big=$((jtis * 2))
echo "== $procs processes x $jtis overlapping jtis, max_entries $big, 100 random kills"
if "$B/tests/stress/replay_hammer" "$work/cache1" "$work/r1" "$procs" "$jtis" "$big" 100 "$secs"; then
	pass "replay cache: concurrent use with kills"
else
	fail "replay cache: concurrent use with kills"
fi
small=$((jtis / 4))
echo "== the same load on a cache of max_entries $small: must fail closed when full"
if "$B/tests/stress/replay_hammer" "$work/cache2" "$work/r2" "$procs" "$jtis" "$small" 50 "$secs"; then
	pass "replay cache: full cache fails closed under concurrent use"
else
	fail "replay cache: full cache fails closed under concurrent use"
fi
echo "replay stress wall time: $(($(ms) - t0)) ms"
pa_summary
