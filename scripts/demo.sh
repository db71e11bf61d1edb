#!/bin/sh
# The end-to-end demo of pam_agent, in a throwaway directory; never touches
# /etc. Installs its Debian packages when missing and builds first.
#
# What it shows grows with the project; today: the module inside a real
# Linux-PAM stack (pamtester through pam_wrapper), what it logs, and that
# without a verified identity nothing gets in.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${PA_BUILD_DIR:-$top/_build}
"$top/scripts/build.sh" >/dev/null
module="$build/.libs/pam_agent.so"
wrapper=$(pkg-config --libs pam_wrapper)

demo=$(mktemp -d "${TMPDIR:-/tmp}/pam_agent-demo.XXXXXX")
trap 'rm -rf "$demo"' EXIT
mkdir "$demo/services"
failed=0

say() { printf '\n== %s\n' "$*"; }
# run_pam SERVICE USER OP EXPECTED: runs one PAM operation through the real
# libpam (pamtester) with the demo's service files, shows module logs.
run_pam() {
	out=$(cd "$demo" && env LD_PRELOAD="$wrapper" PAM_WRAPPER=1 \
		PAM_WRAPPER_SERVICE_DIR="$demo/services" PAM_WRAPPER_DEBUGLEVEL=2 \
		pamtester -v "$1" "$2" "$3" </dev/null 2>&1) || true
	printf '%s\n' "$out" | sed -n 's/.*SYSLOG([0-9]): /  log: /p; s/^pamtester: /  pamtester: /p' |
		grep -v 'invoking pam_start\|performing operation'
	case "$out" in
	*"$4"*) echo "  -> as expected: $4" ;;
	*) echo "  -> UNEXPECTED: wanted \"$4\""; failed=1 ;;
	esac
}

say "pam_agent $(sed -n 's/^PACKAGE_VERSION = //p' "$build/Makefile") built: $module"
printf '  exports: %s\n' "$(nm -D --defined-only "$module" | awk '{print $3}' | tr '\n' ' ')"

cat >"$demo/services/agent-demo" <<SVC
auth    required $module debug
account required $module
session required $module
session required pam_permit.so
SVC
cat >"$demo/services/agent-typo" <<SVC
auth    required $module debug use_frist_pass
SVC
printf 'auth required pam_deny.so\naccount required pam_deny.so\nsession required pam_deny.so\n' \
	>"$demo/services/other"

say "an agent with no attested identity asks to log in: denied"
run_pam agent-demo support-bot authenticate "Authentication failure"
say "the account phase without a verified identity: denied"
run_pam agent-demo support-bot acct_mgmt "Permission denied"
say "a typo in /etc/pam.d is a service error, never a silent pass"
run_pam agent-typo support-bot authenticate "Error in service module"

if [ "$failed" -ne 0 ]; then
	say "demo FAILED: a step did not behave as shown"
	exit 1
fi
say "demo finished: every step behaved as shown"
