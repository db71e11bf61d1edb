#!/bin/sh
# valgrind.sh LOGDIR PROGRAM [ARG...] - runs PROGRAM under memcheck for
# make check-valgrind (tests/mem/check-valgrind.sh reads the logs).
#
# Every process of the test is checked: the test program, the copy of it
# the PAM harness re-executes under pam_wrapper (the one that loads
# pam_agent.so), agent-run, and every pam_agent_helper the module spawns
# (--trace-children). System programs and test brokers/commands (shell
# scripts) run natively: PA_VG_SKIP, a --trace-children-skip list.
# One log per process: LOGDIR/vg.PID.log.
set -u
if [ $# -lt 2 ]; then
	echo "usage: valgrind.sh LOGDIR PROGRAM [ARG...]" >&2
	exit 2
fi
logdir=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
exec valgrind --tool=memcheck --trace-children=yes \
	--trace-children-skip="${PA_VG_SKIP:-/bin/*,/sbin/*,/usr/*,*/tests/data/*}" \
	--leak-check=full --show-leak-kinds=definite,indirect \
	--errors-for-leak-kinds=definite,indirect \
	--error-exitcode="${PA_VG_ERROR_EXIT:-97}" --num-callers=40 \
	--suppressions="$here/valgrind.supp" --gen-suppressions=all \
	--log-file="$logdir/vg.%p.log" ${PA_VG_EXTRA:-} "$@"
