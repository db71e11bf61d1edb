#!/bin/sh
# The end-to-end demo of pam_agent, in a throwaway directory; never touches
# /etc. Installs its Debian packages when missing and builds first.
#
# The story: a test trust domain issues an agent a JWT-SVID; the agent logs
# in through a real Linux-PAM stack (pamtester, with service files in the
# throwaway directory through pam_wrapper); pam_agent verifies the token
# and decides each request when it happens; then three refusals, each with
# its reason, and the audit lines all of it left.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${PA_BUILD_DIR:-$top/_build}
"$top/scripts/build.sh" >/dev/null
module="$build/.libs/pam_agent.so"
pam_agent="$build/pam-agent"
wrapper=$(pkg-config --libs pam_wrapper)

demo=$(mktemp -d "${TMPDIR:-/tmp}/pam_agent-demo.XXXXXX")
trap 'rm -rf "$demo"' EXIT
failed=0
agent=spiffe://demo.example/agents/support-bot
audience=spiffe://demo.example/host/$(hostname -s 2>/dev/null || echo host)
user=nobody

say() { printf '\n== %s\n' "$*"; }
show() { printf '   $ %s\n' "$*"; }
# login SERVICE TOKEN EXPECTED: auth + account through the real libpam.
login() {
	show "pamtester $1 $user authenticate acct_mgmt   (token on stdin)"
	out=$(printf '%s\n' "$2" | env LD_PRELOAD="$wrapper" PAM_WRAPPER=1 \
		PAM_WRAPPER_SERVICE_DIR="$demo/pam.d" PAM_WRAPPER_DEBUGLEVEL=2 \
		pamtester -v "$1" "$user" authenticate acct_mgmt 2>&1) || true
	# each module line; a denial's decisive reason comes first (the full
	# list is in the audit event), an allow's reasons are shortened
	printf '%s\n' "$out" | sed -n 's/.*SYSLOG([0-9]): \(auth\|account\): /   pam_agent: \1: /p' |
		sed 's/ (all reasons: .*//' |
		awk -F'; ' 'NF > 2 { print $1 "; ...; " $NF; next } { print }' | cut -c1-260
	printf '%s\n' "$out" | sed -n 's/.*SYSLOG([0-9]): audit: /AUDIT /p' >>"$demo/audit.lines"
	printf '%s\n' "$out" | grep '^pamtester: ' | grep -v 'invoking\|performing' | sed 's/^/   /'
	case "$out" in
	*"$3"*) echo "   -> as expected: $3" ;;
	*) echo "   -> UNEXPECTED: wanted \"$3\""; failed=1 ;;
	esac
}

say "1. A test trust domain (in production: SPIRE's bundle, kept fresh on disk)"
show "pam-agent testca init ca --trust-domain demo.example"
"$pam_agent" testca init "$demo/ca" --trust-domain demo.example | sed 's/^/   /'

say "2. The host's policy: which agent may do what, by service class"
mkdir "$demo/pam.d"
cat >"$demo/pam_agent.conf" <<CONF
[global]
audience    = $audience
clock_skew  = 30s
audit_log   = $demo/audit.jsonl

[trust_domain demo.example]
bundle = $demo/ca/bundle.json

[service agent-read]
class = read
[service agent-write]
class = write
[service sudo]
class = escalate

[agent $agent]
users        = $user
services     = agent-read agent-write sudo
max_class    = write
max_session  = 15m
require_task = yes
grants       = tickets-ro tickets-rw

[grant tickets-ro]
class    = read
source   = mint
audience = https://tickets.demo.example
scope    = tickets:read
ttl      = 10m

[grant tickets-rw]
class    = write
source   = mint
audience = https://tickets.demo.example
scope    = tickets:write
ttl      = 5m
CONF
sed -n '/^\[agent/,/^grants/p' "$demo/pam_agent.conf" | sed 's/^/   /'
for svc in agent-read agent-write sudo; do
	printf 'auth    required %s config=%s\naccount required %s config=%s\n' \
		"$module" "$demo/pam_agent.conf" "$module" "$demo/pam_agent.conf" >"$demo/pam.d/$svc"
done
printf 'auth required pam_deny.so\naccount required pam_deny.so\n' >"$demo/pam.d/other"
show "pam-agent check --config pam_agent.conf"
if "$pam_agent" check --config "$demo/pam_agent.conf" >"$demo/check.out" 2>&1; then
	sed 's/^/   /' "$demo/check.out"
elif [ -s "$demo/check.out" ] && ! grep -q 'unknown command' "$demo/check.out"; then
	sed 's/^/   /' "$demo/check.out"; failed=1
fi

say "3. The agent gets a short-lived JWT-SVID for task T-1001 and logs in to agent-read"
token=$("$pam_agent" testca mint "$demo/ca" --id "$agent" --aud "$audience" --ttl 5m --claim task=T-1001)
show "pam-agent verify --config pam_agent.conf   (what the module will see)"
printf '%s\n' "$token" | "$pam_agent" verify --config "$demo/pam_agent.conf" --json 2>&1 |
	cut -c1-200 | sed 's/^/   /'
login agent-read "$token" "account management done"

say "4. The same token on agent-write: a write session, decided afresh"
login agent-write "$token" "account management done"

say "5. Refused: a token that expired (issued 10 minutes ago for 5 minutes)"
old=$("$pam_agent" testca mint "$demo/ca" --id "$agent" --aud "$audience" --ttl 5m \
	--now $(( $(date +%s) - 600 )) --claim task=T-1001)
login agent-read "$old" "Authentication failure"

say "6. Refused: a token minted for another host (audience)"
other=$("$pam_agent" testca mint "$demo/ca" --id "$agent" --aud spiffe://demo.example/host/elsewhere --claim task=T-1001)
login agent-read "$other" "Authentication failure"

say "7. Refused: the same agent asks for an escalate service (sudo)"
login sudo "$token" "Permission denied"

say "8. The audit trail (one JSON object per event; never a token)"
if [ -f "$demo/audit.jsonl" ]; then
	cut -c1-200 "$demo/audit.jsonl" | sed 's/^/   /'
	if grep -qF "$(printf '%s' "$token" | cut -d. -f3)" "$demo/audit.jsonl"; then
		echo "   -> UNEXPECTED: a token signature is in the audit file"; failed=1
	else
		echo "   -> no token in the audit file"
	fi
else
	echo "   -> UNEXPECTED: no audit file"; failed=1
fi

if [ "$failed" -ne 0 ]; then
	say "demo FAILED: a step did not behave as shown"
	exit 1
fi
say "demo finished: every step behaved as shown"
