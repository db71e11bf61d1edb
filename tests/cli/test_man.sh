#!/bin/sh
# Every man page (man/*.[0-9]) renders without a single warning:
# `groff -ww -man -z PAGE` and `mandoc -T lint PAGE` must both print
# nothing and succeed. With only one of the two tools installed, that one
# runs (and the test says which is missing); with neither, the test is
# skipped, visibly.
set -u
dir=${srcdir:-.}/man
tools=""
command -v groff >/dev/null 2>&1 && tools="$tools groff"
command -v mandoc >/dev/null 2>&1 && tools="$tools mandoc"
if [ -z "$tools" ]; then
	echo "SKIP: neither groff nor mandoc is installed (apt-get install groff-base mandoc)"
	exit 77
fi
case "$tools" in
*groff*) ;;
*) echo "note: groff is not installed (groff-base); only mandoc -T lint runs" ;;
esac
case "$tools" in
*mandoc*) ;;
*) echo "note: mandoc is not installed; only groff -ww runs" ;;
esac

passes=0 fails=0 pages=0
for page in "$dir"/*.[0-9]; do
	[ -f "$page" ] || continue
	pages=$((pages + 1))
	name=$(basename "$page")
	for tool in $tools; do
		if [ "$tool" = groff ]; then
			out=$(LC_ALL=C groff -ww -man -z "$page" 2>&1)
		else
			out=$(mandoc -T lint "$page" 2>&1)
		fi
		rc=$?
		if [ "$rc" -eq 0 ] && [ -z "$out" ]; then
			echo "PASS: $name: $tool"
			passes=$((passes + 1))
		else
			echo "FAIL: $name: $tool (exit $rc):"
			printf '%s\n' "$out" | sed 's/^/    /'
			fails=$((fails + 1))
		fi
	done
done
if [ "$pages" -eq 0 ]; then
	echo "FAIL: no man pages found in $dir"
	exit 1
fi
echo "$passes passed, $fails failed ($pages pages)"
[ "$fails" -eq 0 ]
