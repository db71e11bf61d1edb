#!/bin/sh
# Static analysis of pam_agent, as .ci/run runs it: cppcheck over every C
# file, then the clang static analyser (scan-build) over a fresh build of
# the module, the helper, the CLIs and the library. Any finding fails.
# Installs its Debian packages (cppcheck, clang-tools) first.
#
# What is suppressed, and why, is in one place: here (and one inline
# cppcheck-suppress in tests/unit/test_keyring_inject.c). docs/security.md has the
# compiler warnings that are on.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${PA_BUILD_DIR:-$top/_build-scan}

"$top/scripts/deps.sh"
cd "$top"
[ -x configure ] || autoreconf -fi >/dev/null

echo "== cppcheck $(cppcheck --version | sed 's/^Cppcheck //')"
# config.h of a configured tree (paths, feature macros)
cfgdir=$(mktemp -d)
trap 'rm -rf "$cfgdir"' EXIT
(cd "$cfgdir" && "$top/configure" --sysconfdir=/etc >/dev/null)
# Suppressed checks:
#  varFuncNullUB  - NULL as the last variadic argument (execl, ...): on
#                   glibc NULL is ((void *)0), which is what it warns about
#                   on platforms where NULL is a plain 0;
#  variableScope  - a style preference: declarations open their block
#                   (STYLE.md), they are not moved into inner scopes.
#  missingInclude*- system headers are not analysed, jansson.h is
#                   included for its iteration macros.
# shellcheck disable=SC2046
cppcheck -q --error-exitcode=1 --inline-suppr --std=c11 \
	--enable=warning,style,performance,portability \
	--suppress=varFuncNullUB --suppress=variableScope \
	--suppress=missingIncludeSystem \
	-D__linux__ -D__x86_64__ -DPA_HELPER_PATH='"/usr/libexec/pam_agent_helper"' \
	-DSYSCONFDIR='"/etc"' -DPA_DEFAULT_CONFIG='"/etc/security/pam_agent.conf"' \
	--include=/usr/include/jansson.h \
	-I "$cfgdir" -I common -I identity -I policy -I audit -I keyring -I agentcred -I session -I handoff -I pam_agent -I cli -I nss -I tests/lib \
	$(git ls-files '*.c' 2>/dev/null || find . -name '*.c' -not -path './_build*')
echo "cppcheck: no findings"

echo "== scan-build ($(clang --version | head -n 1))"
rm -rf "$build"
mkdir -p "$build"
cd "$build"
scan-build --status-bugs -o "$build/reports" "$top/configure" --sysconfdir=/etc \
	>configure.out 2>&1 || { cat configure.out; exit 1; }
# the module, helper, CLIs and library (make all). Not the tests: cmocka's
# assertion functions are not marked noreturn, so the analyser walks on past
# a failed assertion and reports what the test never does.
if ! scan-build --status-bugs -o "$build/reports" make -j"$(nproc)" all \
	>make.out 2>&1; then
	grep -E 'warning:|error:|scan-build:' make.out
	echo "scan-build: findings above; HTML reports in $build/reports" >&2
	exit 1
fi
grep 'scan-build:' make.out | tail -n 2
