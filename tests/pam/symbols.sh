#!/bin/sh
# The module must export exactly the six pam_sm_* entry points, and
# neither it nor the helper ($PA_HELPER, when set) may load libcurl,
# directly or through another library: no network code in the
# authentication path (only pam-agent links it, for bundle fetch,
# docs/bundles.md). libnss_agent needs libc only (nss_symbols.sh).
# Usage: symbols.sh [MODULE]   (default: $PA_MODULE, the built module)
mod=${1:-$PA_MODULE}
NM=${NM:-nm}
OBJDUMP=${OBJDUMP:-objdump}
if [ ! -f "$mod" ]; then
	echo "FAIL: module $mod not found"
	exit 1
fi
got=$($NM -D --defined-only "$mod" | awk '$2 ~ /^[TDBRVWi]$/ { print $3 }' | sort)
want=$(printf '%s\n' pam_sm_acct_mgmt pam_sm_authenticate pam_sm_chauthtok \
	pam_sm_close_session pam_sm_open_session pam_sm_setcred | sort)
if [ "$got" != "$want" ]; then
	echo "FAIL: $mod exports:"
	echo "$got"
	echo "expected exactly:"
	echo "$want"
	exit 1
fi
echo "PASS: $mod exports exactly the six pam_sm_* symbols"
for f in "$mod" ${PA_HELPER:+"$PA_HELPER"}; do
	[ -f "$f" ] || continue
	# the libtool wrapper script of an uninstalled program: its real binary
	case $(head -c 2 "$f") in '#!') f=$(dirname "$f")/.libs/$(basename "$f") ;; esac
	if $OBJDUMP -p "$f" | awk '$1 == "NEEDED" { print $2 }' | grep -q '^libcurl' ||
		ldd "$f" 2>/dev/null | grep -q 'libcurl'; then
		echo "FAIL: $f loads libcurl:"
		ldd "$f" | grep libcurl
		exit 1
	fi
	echo "PASS: $f does not load libcurl (directly or through its libraries)"
done
