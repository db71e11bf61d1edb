#!/bin/sh
# Root-only: the module in a real /etc/pam.d service, driven by a real PAM
# application (pamtester), as root and after a real uid switch.
. "$(dirname "$0")/lib.sh"
pa_root_require "root_stack.sh" pamtester setpriv

[ -f "$PA_MODULE" ] || { echo "FAIL: module $PA_MODULE not built"; exit 1; }

svc=$(pa_root_service "auth required @MODULE@
account required @MODULE@
session required @MODULE@
session required pam_permit.so")

# As root: no identity, no entry.
pa_expect "root: authenticate denied" "Authentication failure" \
	pamtester -v "$svc" root authenticate </dev/null
pa_expect "root: account denied" "Permission denied" \
	pamtester -v "$svc" root acct_mgmt </dev/null
pa_expect "root: session passes through" "successfully opened a session" \
	pamtester -v "$svc" root open_session </dev/null

# After a real switch to an unprivileged uid the module still loads,
# runs and denies.
pa_expect "nobody: authenticate denied" "Authentication failure" \
	setpriv --reuid=65534 --regid=65534 --clear-groups \
	pamtester -v "$svc" nobody authenticate </dev/null

bad=$(pa_root_service "auth required @MODULE@ no_such_option")
pa_expect "unknown option: service error" "Error in service module" \
	pamtester -v "$bad" root authenticate </dev/null

pa_root_summary
