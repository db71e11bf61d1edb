#!/bin/sh
# The module must export exactly the six pam_sm_* entry points.
# Usage: symbols.sh [MODULE]   (default: $PA_MODULE, the built module)
mod=${1:-$PA_MODULE}
NM=${NM:-nm}
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
