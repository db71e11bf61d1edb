#!/bin/sh
# Builds pam_agent and runs the whole test suite (make check): unit tests,
# PAM-stack tests through pam_wrapper, the symbol and dlopen checks, and,
# as root, the root-only layer. Installs its Debian packages when missing.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${PA_BUILD_DIR:-$top/_build}

"$top/scripts/build.sh"
cd "$build"
if ! make -j"$(nproc)" check; then
	for log in $(find . -name '*.log' ! -name test-suite.log ! -name config.log); do
		if grep -q '^FAIL\|^ERROR' "$log" 2>/dev/null; then
			echo "===== $log" && tail -n 60 "$log"
		fi
	done
	exit 1
fi
