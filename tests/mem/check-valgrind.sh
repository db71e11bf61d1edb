#!/bin/sh
# check-valgrind.sh TEST... - make check-valgrind: runs each test under
# valgrind memcheck (tests/mem/valgrind.sh), every process it starts
# included, and fails on any memcheck error (invalid read/write, use of
# uninitialised values, bad free, fd misuse reported as error) and any
# definitely or indirectly lost block, in any process.
#
# A program runs as valgrind.sh LOGDIR PROGRAM; a shell test (*.sh) is
# given PA_VALGRIND="valgrind.sh LOGDIR" and puts it in front of the
# programs it wants checked. Logs stay in tests/mem/vg/TEST/ (build dir).
# Run from the build directory with the test environment of make check.
set -u
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v valgrind >/dev/null 2>&1; then
	echo "SKIP: valgrind is not installed (Debian package valgrind)"
	exit 77
fi
fails=0 total_start=$(date +%s)
for t in "$@"; do
	name=$(basename "$t")
	logdir=$PWD/tests/mem/vg/$name
	rm -rf "$logdir"
	mkdir -p "$logdir"
	start=$(date +%s)
	case $t in
	*.sh)
		PA_VALGRIND="$here/valgrind.sh $logdir" "$SHELL" "$here/../run-test.sh" \
			"$SHELL" "$t" >"$logdir/test.out" 2>&1
		;;
	*)
		"$SHELL" "$here/../run-test.sh" "$here/valgrind.sh" "$logdir" "./$t" \
			>"$logdir/test.out" 2>&1
		;;
	esac
	rc=$?
	secs=$(( $(date +%s) - start ))
	# pam_wrapper copies its services to /tmp/pam.X and, initialised twice
	# under valgrind, can leave one behind: remove those whose owner (the
	# pid file) was one of this test's processes and is gone
	for d in /tmp/pam.?; do
		[ -f "$d/pid" ] || continue
		pid=$(cat "$d/pid" 2>/dev/null)
		case $pid in '' | *[!0-9]*) continue ;; esac
		[ -e "$logdir/vg.$pid.log" ] && ! kill -0 "$pid" 2>/dev/null && rm -rf -- "$d"
	done
	# one log per process; the first "Command:" line names its program
	procs=0 summaries=0 bad=
	what=
	for log in "$logdir"/vg.*.log; do
		[ -e "$log" ] || continue
		procs=$((procs + 1))
		grep -q 'ERROR SUMMARY: ' "$log" && summaries=$((summaries + 1))
		if grep -q 'ERROR SUMMARY: [1-9]' "$log"; then
			bad="$bad $log"
		fi
		prog=$(sed -n 's/^==[0-9]*== Command: \([^ ]*\).*/\1/p' "$log" | head -n 1)
		what="$what $(basename "${prog:-?}")"
	done
	what=$(printf '%s\n' $what | sort | uniq -c | awk '{printf "%s%s x%s", sep, $2, $1; sep=", "}')
	if [ "$rc" -eq 77 ]; then
		echo "SKIP: $t ($(grep -m1 SKIP "$logdir/test.out" || echo "exit 77"))"
	elif [ "$rc" -ne 0 ] || [ -n "$bad" ] || [ "$summaries" -eq 0 ]; then
		echo "FAIL: $t: exit $rc, $procs processes under valgrind ($what), memcheck errors in:${bad:- none}"
		for log in $bad; do
			echo "---- $log"
			sed -n '/ERROR SUMMARY/q;p' "$log" | grep -v '^==[0-9]*== *$' | head -n 150
		done
		[ -n "$bad" ] || tail -n 40 "$logdir/test.out"
		fails=$((fails + 1))
	else
		echo "PASS: $t (${secs}s; $procs processes under valgrind, $summaries ran to exit: $what)"
	fi
done
echo "check-valgrind: $# tests, $fails failed, $(( $(date +%s) - total_start ))s"
[ "$fails" -eq 0 ]
