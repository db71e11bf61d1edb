#!/bin/sh
# layout.sh - the folder rules of docs/architecture.md ("The folders, and
# which may use which"), read from the table between its layout markers:
# every #include "X.h" of a file in a folder must name a header of that
# folder or of a folder in its "may use" column, and <security/...> (PAM)
# headers only where that column says PAM. Prints one line per violation.
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
doc=$top/docs/architecture.md
[ -r "$doc" ] || { echo "FAIL: $doc not found"; exit 1; }
rules=$(sed -n '/<!-- layout:begin -->/,/<!-- layout:end -->/p' "$doc" |
	grep '^| `[a-z_]*/` |' |
	awk -F'|' '{ f = $2; u = $5; gsub(/[` \/]/, "", f); gsub(/`/, "", u); print f ":" u }')
[ -n "$rules" ] || { echo "FAIL: no layout table between the markers of $doc"; exit 1; }

nl='
'
# the folder that owns header name $1 (empty when it is no header of ours)
owner() {
	IFS=$nl
	for r in $rules; do
		d=${r%%:*}
		[ -f "$top/$d/$1" ] && { echo "$d"; unset IFS; return; }
	done
	unset IFS
}

bad=0 files=0
IFS=$nl
for r in $rules; do
	unset IFS
	d=${r%%:*} uses=" ${r#*:} "
	for f in "$top/$d"/*.c "$top/$d"/*.h; do
		[ -f "$f" ] || continue
		files=$((files + 1))
		rel=${f#"$top"/}
		# shellcheck disable=SC2013
		for h in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
			case $h in config.h) continue ;; esac
			o=$(owner "$h")
			if [ -z "$o" ]; then
				echo "FAIL: $rel includes \"$h\", which is no header of a folder in the table"
				bad=$((bad + 1))
			elif [ "$o" != "$d" ] && ! printf '%s' "$uses" | grep -q " $o "; then
				echo "FAIL: $rel includes \"$h\" of $o/, which $d/ may not use (docs/architecture.md)"
				bad=$((bad + 1))
			fi
		done
		if grep -q '^[[:space:]]*#[[:space:]]*include[[:space:]]*<security/' "$f" &&
			! printf '%s' "$uses" | grep -q " PAM "; then
			echo "FAIL: $rel includes a PAM header; $d/ knows nothing of PAM (docs/architecture.md)"
			bad=$((bad + 1))
		fi
	done
done
[ "$files" -gt 0 ] || { echo "FAIL: no source file found under $top"; exit 1; }

# sizes (docs/architecture.md, "Conventions"): no file of these folders over
# 800 lines, no function over 100 (from the line of its name to its closing
# brace, in the project's style: braces of functions at column 0)
IFS=$nl
for r in $rules; do
	unset IFS
	d=${r%%:*}
	for f in "$top/$d"/*.c "$top/$d"/*.h; do
		[ -f "$f" ] || continue
		rel=${f#"$top"/}
		lines=$(wc -l < "$f")
		if [ "$lines" -gt 800 ]; then
			echo "FAIL: $rel has $lines lines (at most 800)"
			bad=$((bad + 1))
		fi
		long=$(awk -v f="$rel" '
			/^[A-Za-z_].*\(/ { head = FNR; name = $0 }
			/^\{/ { start = head ? head : FNR }
			/^\}/ && start { if (FNR - start + 1 > 100)
					printf "FAIL: %s:%d: a function of %d lines (at most 100): %s\n",
						f, start, FNR - start + 1, name
				start = 0; head = 0 }' "$f")
		if [ -n "$long" ]; then
			echo "$long"
			bad=$((bad + $(printf '%s\n' "$long" | wc -l)))
		fi
	done
done
# the same sizes for the tests, their fixtures and the benchmarks (C, sh, Python)
tfiles=0
for f in $(find "$top/tests" -type f \( -name '*.c' -o -name '*.h' -o -name '*.sh' -o -name '*.py' \) \
	-not -path '*/corpus/*' | sort); do
	tfiles=$((tfiles + 1))
	rel=${f#"$top"/}
	lines=$(wc -l < "$f")
	if [ "$lines" -gt 800 ]; then
		echo "FAIL: $rel has $lines lines (at most 800)"
		bad=$((bad + 1))
	fi
	case $f in *.c | *.h) ;; *) continue ;; esac
	long=$(awk -v f="$rel" '
		/^[A-Za-z_].*\(/ { head = FNR; name = $0 }
		/^\{/ { start = head ? head : FNR }
		/^\}/ && start { if (FNR - start + 1 > 100)
				printf "FAIL: %s:%d: a function of %d lines (at most 100): %s\n",
					f, start, FNR - start + 1, name
			start = 0; head = 0 }' "$f")
	if [ -n "$long" ]; then
		echo "$long"
		bad=$((bad + $(printf '%s\n' "$long" | wc -l)))
	fi
done
[ "$tfiles" -gt 0 ] || { echo "FAIL: no test source found under $top/tests"; exit 1; }
if [ "$bad" -eq 0 ]; then
	echo "PASS: $files files in $(echo "$rules" | wc -l) folders include only what docs/architecture.md allows; none of them or of the $tfiles files of tests/ is over 800 lines, no C function over 100"
	exit 0
fi
echo "$bad violation(s)"
exit 1
