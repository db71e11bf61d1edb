#!/bin/sh
# pam-agent verify and pam-agent testca: outputs and exit codes.
set -u
. "$(dirname "$0")/../lib/lib.sh"
pa_workdir pa-verify
AUD=spiffe://example.org/host/web01

expect "testca init" 0 "trust domain example.org (ES256" \
	"$PAM_AGENT" testca init "$work/ca" --trust-domain example.org
expect "testca init refuses to overwrite" 2 "already exists" \
	"$PAM_AGENT" testca init "$work/ca" --trust-domain example.org
expect "testca init RS256" 0 "(RS256" "$PAM_AGENT" testca init "$work/ca-rsa" --trust-domain example.org --alg RS256
expect "testca init refuses HS256" 2 "not a JWT-SVID algorithm" \
	"$PAM_AGENT" testca init "$work/x" --trust-domain example.org --alg HS256
expect "testca init other domain" 0 "other.org" "$PAM_AGENT" testca init "$work/other" --trust-domain other.org
expect "testca mint refuses an id of another trust domain" 2 "is not in trust domain example.org" \
	"$PAM_AGENT" testca mint "$work/ca" --id spiffe://other.org/a --aud "$AUD"
check "signing key is 0600" test "$(stat -c %a "$work/ca/signing.key")" = 600

tok=$("$PAM_AGENT" testca mint "$work/ca" --id spiffe://example.org/agents/bot --aud "$AUD" \
	--ttl 5m --claim task=T-1 --claim 'act={"sub":"spiffe://example.org/agents/planner"}')
printf '%s\n' "$tok" > "$work/tok"
rsa=$("$PAM_AGENT" testca mint "$work/ca-rsa" --id spiffe://example.org/agents/bot --aud "$AUD")

expect "valid token: claims as JSON, exit 0" 0 '"task": "T-1"' \
	"$PAM_AGENT" verify --bundle "$work/ca/bundle.json" --audience "$AUD" "$work/tok"
expect "valid token from stdin with --json" 0 '"agent_id":"spiffe://example.org/agents/bot"' \
	sh -c "printf '%s' '$tok' | '$PAM_AGENT' verify --bundle '$work/ca/bundle.json' --audience '$AUD' --json -"
expect "RS256 token" 0 '"sub": "spiffe://example.org/agents/bot"' \
	sh -c "printf '%s' '$rsa' | '$PAM_AGENT' verify --bundle example.org='$work/ca-rsa/bundle.json' --audience '$AUD'"
# the module's token_file= and agent-run refuse a NUL byte; verify must too,
# not check what strlen() sees (the token) and ignore the junk after it
printf '%s\000junk' "$tok" > "$work/tok-nul"
expect "token followed by a NUL and junk: exit 1" 1 "rejected: the token contains a NUL byte" \
	"$PAM_AGENT" verify --bundle "$work/ca/bundle.json" --audience "$AUD" "$work/tok-nul"
expect "token with a NUL from stdin: exit 1" 1 "rejected: the token contains a NUL byte" \
	sh -c "'$PAM_AGENT' verify --bundle '$work/ca/bundle.json' --audience '$AUD' - < '$work/tok-nul'"
{ printf '%s' "$tok"; head -c 20000 /dev/zero | tr '\000' ' '; printf 'junk'; } > "$work/tok-long"
expect "token, 20000 blanks and junk: exit 1" 1 "rejected: token longer than 16384 bytes" \
	"$PAM_AGENT" verify --bundle "$work/ca/bundle.json" --audience "$AUD" "$work/tok-long"
expect "wrong audience: exit 1, rejected: reason" 1 "rejected: audience mismatch" \
	"$PAM_AGENT" verify --bundle "$work/ca/bundle.json" --audience spiffe://example.org/host/x "$work/tok"
expect "expired at --now: exit 1" 1 "rejected: token expired at" \
	"$PAM_AGENT" verify --bundle "$work/ca/bundle.json" --audience "$AUD" --now 4102444800 "$work/tok"
expect "not yet valid at --now: exit 1" 1 "rejected: token issued in the future" \
	"$PAM_AGENT" verify --bundle "$work/ca/bundle.json" --audience "$AUD" --now 1000000000 "$work/tok"
expect "key of another trust domain: exit 1" 1 "rejected: unknown kid" \
	"$PAM_AGENT" verify --bundle example.org="$work/other/bundle.json" --audience "$AUD" "$work/tok"
expect "RS256 token against the ES256 bundle: exit 1" 1 "rejected: unknown kid" \
	sh -c "printf '%s' '$rsa' | '$PAM_AGENT' verify --bundle '$work/ca/bundle.json' --audience '$AUD'"
printf 'not.a.token\n' > "$work/junk"
expect "garbage: exit 1" 1 "rejected: " \
	"$PAM_AGENT" verify --bundle "$work/ca/bundle.json" --audience "$AUD" "$work/junk"
printf '%s' "$tok" | sed 's/\.\([^.]*\)$/.AAAA\1/' > "$work/tampered"
expect "tampered signature: exit 1" 1 "rejected: " \
	"$PAM_AGENT" verify --bundle "$work/ca/bundle.json" --audience "$AUD" "$work/tampered"

pa_policy_head single_use=yes | pa_write "$work/pam_agent.conf"
expect "--config: valid, jti not recorded" 0 "verify did not record jti" \
	"$PAM_AGENT" verify --config "$work/pam_agent.conf" "$work/tok"
expect "--config twice: still valid (dry run)" 0 '"jti"' \
	"$PAM_AGENT" verify --config "$work/pam_agent.conf" "$work/tok"
chmod 0666 "$work/pam_agent.conf"
expect "--config world-writable: exit 2" 2 "mode 0666 is too open" \
	"$PAM_AGENT" verify --config "$work/pam_agent.conf" "$work/tok"
expect "--config missing: exit 2" 2 "cannot open" \
	"$PAM_AGENT" verify --config "$work/none.conf" "$work/tok"
expect "usage: --bundle without --audience" 2 "go together" \
	"$PAM_AGENT" verify --bundle "$work/ca/bundle.json" "$work/tok"
expect "usage: --config and --bundle" 2 "not both" \
	"$PAM_AGENT" verify --config "$work/pam_agent.conf" --bundle x --audience y "$work/tok"
expect "usage: several --bundle need TD=" 2 "TD=FILE" \
	"$PAM_AGENT" verify --bundle a --bundle b --audience y "$work/tok"
expect "usage: bad --now" 2 "not an epoch time" \
	"$PAM_AGENT" verify --bundle a --audience y --now yesterday "$work/tok"
expect "usage: unknown option" 2 "usage: pam-agent verify" \
	"$PAM_AGENT" verify --frobnicate
expect "missing bundle file: the token is refused, exit 1" 1 "trust domain example.org cannot be used, so none of its tokens is accepted: $work/nope.json: cannot open" \
	"$PAM_AGENT" verify --bundle "$work/nope.json" --audience "$AUD" "$work/tok"
expect "unknown command: exit 2" 2 'unknown command "frob"' "$PAM_AGENT" frob

pa_summary
