#!/bin/sh
# Root-only: the module in a real /etc/pam.d service, driven by a real PAM
# application (pamtester), as root and after a real uid switch.
. "$(dirname "$0")/lib.sh"
pa_root_require "root_stack.sh" pamtester setpriv

# A test trust domain and a policy, root-owned, in a directory of our own
# (nobody's pamtester must still load the module: pa_root_work copies it)
pa_root_work root
AUD=spiffe://example.org/host/root-test
pa_testca
mint() {
	pa_mint bot "${1:-$AUD}"
}

# the policy names the service by its class section; PAM_SERVICE is the file name
svc=$(pa_root_service "auth required @MODULE@ config=$work/pam_agent.conf
account required @MODULE@ config=$work/pam_agent.conf
session required @MODULE@ config=$work/pam_agent.conf
session required pam_permit.so")
{
	pa_policy_head
	pa_section "service $svc" class=read
	pa_section "agent spiffe://example.org/agents/bot" users="root nobody" services="$svc"
} | pa_write "$work/pam_agent.conf"

pa_expect "root: valid token authenticates, account allowed" "account management done" \
	sh -c "mint_out=\$1; printf '%s\n' \"\$mint_out\" | pamtester -v $svc root authenticate acct_mgmt" \
	sh "$(mint)"
pa_expect "root: token for another audience refused" "Authentication failure" \
	sh -c "printf '%s\n' \"\$1\" | pamtester -v $svc root authenticate" sh "$(mint spiffe://example.org/host/other)"
pa_expect "root: no token refused" "Authentication failure" \
	pamtester -v "$svc" root authenticate </dev/null
pa_expect "root: account without identity refused" "Authentication failure" \
	pamtester -v "$svc" root acct_mgmt </dev/null

# After a real switch to an unprivileged uid the module still verifies
# against root-owned files, and still refuses what it must.
pa_expect "nobody: valid token authenticates, account allowed" "account management done" \
	sh -c "printf '%s\n' \"\$1\" | setpriv --reuid=65534 --regid=65534 --clear-groups pamtester -v $svc nobody authenticate acct_mgmt" \
	sh "$(mint)"
pa_expect "nobody: no token refused" "Authentication failure" \
	setpriv --reuid=65534 --regid=65534 --clear-groups \
	pamtester -v "$svc" nobody authenticate </dev/null

bad=$(pa_root_service "auth required @MODULE@ no_such_option")
pa_expect "unknown option: service error" "Error in service module" \
	pamtester -v "$bad" root authenticate </dev/null

pa_summary
