#!/bin/sh
# agent-run through the real Linux-PAM library (service files through
# pam_wrapper): CMD runs inside the session with the PAM environment and
# its exit status comes back; refusals print one line and exit 77.
set -u
. "$(dirname "$0")/../lib/lib.sh"
need_pam_wrapper
pa_workdir pa-agent-run
AUD=spiffe://example.org/host/test
me=$(id -un)

pa_testca
pa_testca "$work/broker" broker.example.org
{
	pa_policy_head helper="$HELPER" state_dir="$work/state" broker_key="$work/broker/signing.key" \
		broker_issuer=https://broker.example.org broker_jwks="$work/broker-jwks.json"
	pa_section "service agent-run" class=read
	pa_section "service sudo" class=escalate
	pa_section "agent spiffe://example.org/agents/bot" users="$me" services="agent-run sudo" \
		grants=tickets
	pa_section "grant tickets" class=read source=mint audience=https://tickets.example.org \
		scope=tickets:read ttl=5m
} | pa_write "$work/pam_agent.conf"
pa_pamd "$work/pam.d" "$work/pam_agent.conf" agent-run sudo

run() {
	pa_wrapped "$work/pam.d" "$AGENT_RUN" "$@"
}
mint() {
	pa_mint bot "$@"
}

mint "$AUD" > "$work/token"
# a token longer than any PAM conversation limit: agent-run has none
mint "$AUD" --claim "pad=$(head -c 3000 /dev/zero | tr '\0' x)" > "$work/long"
expect "CMD runs as the user and its status comes back" 3 "hello from $me" \
	run --token-file "$work/token" --user "$me" -- sh -c 'echo "hello from $(id -un)"; exit 3'
expect "a 4 KiB token through --token-fd" 0 "ran" \
	sh -c 'exec 4<"$1"; shift; "$@"' sh "$work/long" \
	env LD_PRELOAD="$PA_PAM_WRAPPER_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$work/pam.d" \
	UID_WRAPPER_DISABLE_DEEPBIND=1 "$AGENT_RUN" --token-fd 4 --user "$me" -- echo ran
mint spiffe://example.org/host/other > "$work/wrong"
expect "wrong audience: one line, exit 77, CMD never runs" 77 \
	"agent-run: authentication refused: Authentication failure: pam_agent: token rejected: audience mismatch" \
	run --token-file "$work/wrong" --user "$me" -- echo SHOULD-NOT-RUN
expect "escalate service: refused by the policy at authentication, exit 77" 77 \
	"agent-run: authentication refused: Authentication failure: pam_agent: not allowed by the policy: service sudo needs class escalate" \
	run --service sudo --token-file "$work/token" --user "$me" -- echo SHOULD-NOT-RUN
out=$(run --service sudo --token-file "$work/token" --user "$me" -- echo SHOULD-NOT-RUN 2>&1)
case "$out" in *SHOULD-NOT-RUN*) fail "CMD ran after a refusal" ;;
*) pass "no CMD after a refusal" ;; esac
expect "signals reach CMD" 143 "" \
	sh -c 'run() { env LD_PRELOAD="$2" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$3" UID_WRAPPER_DISABLE_DEEPBIND=1 "$1" --token-file "$4" --user "$5" -- sleep 30; }
		run "$@" & pid=$!; sleep 1; kill -TERM $pid; wait $pid' \
	sh "$AGENT_RUN" "$PA_PAM_WRAPPER_PRELOAD" "$work/pam.d" "$work/token" "$me"
expect "usage error" 125 "usage: agent-run" "$AGENT_RUN" --token-file x
expect "--token-fd must be a number" 125 "--token-fd wants a file descriptor number" \
	"$AGENT_RUN" --token-fd 4x -- echo no
{ head -c 20 "$work/token"; printf '\000'; tail -c +21 "$work/token"; } > "$work/nul"
expect "a token with a NUL byte is refused, CMD never runs" 125 \
	"agent-run: cannot read the token" \
	run --token-file "$work/nul" --user "$me" -- echo SHOULD-NOT-RUN
# --config DIR: the service files from DIR through the plain libpam
expect "--config DIR without pam_wrapper" 0 "via confdir" \
	"$AGENT_RUN" --config "$work/pam.d" --token-file "$work/token" --user "$me" -- echo via confdir
mkdir -m 0777 "$work/open.d" && chmod 0777 "$work/open.d"
expect "--config refuses a world-writable directory" 125 "not group/world-writable" \
	"$AGENT_RUN" --config "$work/open.d" --token-file "$work/token" --user "$me" -- echo no

# the minted credential, as the agent reads it, is a JWT that a relying
# service verifies with the broker's published JWKS (pam-agent verify)
run --token-file "$work/token" --user "$me" -- sh -c \
	'keyctl search @s user pam_agent:tickets; keyctl print %user:pam_agent:tickets' \
	> "$work/cmd.out" 2>/dev/null
serial=$(sed -n 1p "$work/cmd.out")
sed -n 2p "$work/cmd.out" > "$work/minted"
{
	pa_section global audience=https://tickets.example.org
	pa_section "issuer https://broker.example.org" jwks="$work/broker-jwks.json" \
		audience=https://tickets.example.org
} | pa_write "$work/relying.conf"
expect "mint credential verifies against the broker JWKS" 0 '"scope": "tickets:read"' \
	"$PAM_AGENT" verify --config "$work/relying.conf" "$work/minted"
expect "mint credential names the agent and the session" 0 '"sid": "' \
	"$PAM_AGENT" verify --config "$work/relying.conf" "$work/minted"
case "$serial" in
[1-9]*) expect "key $serial is gone once agent-run returned" 1 "" keyctl print "$serial" ;;
*) fail "the agent saw no key serial" ;;
esac

pa_summary
