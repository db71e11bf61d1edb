#!/bin/sh
# Root-only: the module in a real /etc/pam.d service, driven by a real PAM
# application (pamtester), as root and after a real uid switch.
. "$(dirname "$0")/lib.sh"
pa_root_require "root_stack.sh" pamtester setpriv

[ -f "$PA_MODULE" ] || { echo "FAIL: module $PA_MODULE not built"; exit 1; }
PAM_AGENT=${top_builddir:-.}/pam-agent

# A test trust domain and a policy, root-owned, in a directory of our own.
work=$(mktemp -d /tmp/pam-agent-root.XXXXXX)
pa_root_track_dir "$work"
chmod 0755 "$work"
# the build tree may sit below a directory only root can enter (a CI
# clone in mktemp -d): nobody's pamtester must still load the module
install -m 0755 "$PA_MODULE" "$work/pam_agent.so"
PA_MODULE=$work/pam_agent.so
"$PAM_AGENT" testca init "$work/ca" --trust-domain example.org >/dev/null
chmod 0755 "$work/ca"
cat > "$work/pam_agent.conf" <<CONF
[global]
audience = spiffe://example.org/host/root-test
[trust_domain example.org]
bundle = $work/ca/bundle.json
[service pam-agent-test]
class = read
[agent spiffe://example.org/agents/bot]
users = root nobody
services = pam-agent-test
CONF
chmod 0644 "$work/pam_agent.conf"
mint() {
	"$PAM_AGENT" testca mint "$work/ca" --id spiffe://example.org/agents/bot \
		--aud "${1:-spiffe://example.org/host/root-test}"
}

# the policy names the service by its class section; PAM_SERVICE is the file name
svc=$(pa_root_service "auth required @MODULE@ config=$work/pam_agent.conf
account required @MODULE@ config=$work/pam_agent.conf
session required @MODULE@ config=$work/pam_agent.conf
session required pam_permit.so")
sed -i "s/^\[service pam-agent-test\]/[service $svc]/; s/^services = pam-agent-test/services = $svc/" \
	"$work/pam_agent.conf"

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

pa_root_summary
