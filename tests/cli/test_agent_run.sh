#!/bin/sh
# agent-run through the real Linux-PAM library (service files through
# pam_wrapper): CMD runs inside the session with the PAM environment and
# its exit status comes back; refusals print one line and exit 77.
set -u
B=$(cd "${top_builddir:-.}" && pwd)
PAM_AGENT=$B/pam-agent
AGENT_RUN=$B/agent-run
if [ -z "${PA_PAM_WRAPPER_SO:-}" ] || [ ! -f "$PA_PAM_WRAPPER_SO" ]; then
	echo "SKIP: pam_wrapper is not available (install libpam-wrapper)"
	exit 77
fi
work=$(mktemp -d /tmp/pa-agent-run.XXXXXX)
trap 'rm -rf "$work"' EXIT
passes=0 fails=0
AUD=spiffe://example.org/host/test
me=$(id -un)

expect() {
	name=$1 want=$2 text=$3
	shift 3
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$want" ] && { [ -z "$text" ] || printf "%s" "$out" | grep -qF -- "$text"; }; then
		echo "PASS: $name"
		passes=$((passes + 1))
	else
		echo "FAIL: $name: exit $rc (want $want), output:"
		printf '%s\n' "$out" | sed 's/^/    /'
		echo "    wanted: $text"
		fails=$((fails + 1))
	fi
}

"$PAM_AGENT" testca init "$work/ca" --trust-domain example.org >/dev/null
"$PAM_AGENT" testca init "$work/broker" --trust-domain broker.example.org >/dev/null
cat > "$work/pam_agent.conf" <<CONF
[global]
audience = $AUD
helper = $B/pam_agent_helper
state_dir = $work/state
broker_key = $work/broker/signing.key
broker_issuer = https://broker.example.org
broker_jwks = $work/broker-jwks.json
[trust_domain example.org]
bundle = $work/ca/bundle.json
[service agent-run]
class = read
[service sudo]
class = escalate
[agent spiffe://example.org/agents/bot]
users = $me
services = agent-run sudo
grants = tickets
[grant tickets]
class = read
source = mint
audience = https://tickets.example.org
scope = tickets:read
ttl = 5m
CONF
chmod 0644 "$work/pam_agent.conf"
mkdir "$work/pam.d"
for svc in agent-run sudo; do
	cat > "$work/pam.d/$svc" <<SVC
auth     required $PA_MODULE config=$work/pam_agent.conf
account  required $PA_MODULE config=$work/pam_agent.conf
session  required $PA_MODULE config=$work/pam_agent.conf
session  required pam_permit.so
SVC
done
printf 'auth required pam_deny.so\naccount required pam_deny.so\nsession required pam_deny.so\n' > "$work/pam.d/other"

run() {
	env LD_PRELOAD="$PA_PAM_WRAPPER_SO" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$work/pam.d" \
		UID_WRAPPER_DISABLE_DEEPBIND=1 "$AGENT_RUN" "$@"
}
mint() {
	"$PAM_AGENT" testca mint "$work/ca" --id spiffe://example.org/agents/bot --aud "$@"
}

mint "$AUD" > "$work/token"
# a token longer than any PAM conversation limit: agent-run has none
mint "$AUD" --claim "pad=$(head -c 3000 /dev/zero | tr '\0' x)" > "$work/long"
expect "CMD runs as the user and its status comes back" 3 "hello from $me" \
	run --token-file "$work/token" --user "$me" -- sh -c 'echo "hello from $(id -un)"; exit 3'
expect "a 4 KiB token through --token-fd" 0 "ran" \
	sh -c 'exec 4<"$1"; shift; "$@"' sh "$work/long" \
	env LD_PRELOAD="$PA_PAM_WRAPPER_SO" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$work/pam.d" \
	UID_WRAPPER_DISABLE_DEEPBIND=1 "$AGENT_RUN" --token-fd 4 --user "$me" -- echo ran
mint spiffe://example.org/host/other > "$work/wrong"
expect "wrong audience: one line, exit 77, CMD never runs" 77 \
	"agent-run: authentication refused: Authentication failure: pam_agent: token rejected: audience mismatch" \
	run --token-file "$work/wrong" --user "$me" -- echo SHOULD-NOT-RUN
expect "escalate service: refused by the policy at authentication, exit 77" 77 \
	"agent-run: authentication refused: Authentication failure: pam_agent: not allowed by the policy: service sudo needs class escalate" \
	run --service sudo --token-file "$work/token" --user "$me" -- echo SHOULD-NOT-RUN
out=$(run --service sudo --token-file "$work/token" --user "$me" -- echo SHOULD-NOT-RUN 2>&1)
case "$out" in *SHOULD-NOT-RUN*) echo "FAIL: CMD ran after a refusal"; fails=$((fails + 1)) ;;
*) echo "PASS: no CMD after a refusal"; passes=$((passes + 1)) ;; esac
expect "signals reach CMD" 143 "" \
	sh -c 'run() { env LD_PRELOAD="$2" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$3" UID_WRAPPER_DISABLE_DEEPBIND=1 "$1" --token-file "$4" --user "$5" -- sleep 30; }
		run "$@" & pid=$!; sleep 1; kill -TERM $pid; wait $pid' \
	sh "$AGENT_RUN" "$PA_PAM_WRAPPER_SO" "$work/pam.d" "$work/token" "$me"
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
cat > "$work/relying.conf" <<CONF
[global]
audience = https://tickets.example.org
[issuer https://broker.example.org]
jwks = $work/broker-jwks.json
audience = https://tickets.example.org
CONF
chmod 0644 "$work/relying.conf"
expect "mint credential verifies against the broker JWKS" 0 '"scope": "tickets:read"' \
	"$PAM_AGENT" verify --config "$work/relying.conf" "$work/minted"
expect "mint credential names the agent and the session" 0 '"sid": "' \
	"$PAM_AGENT" verify --config "$work/relying.conf" "$work/minted"
case "$serial" in
[1-9]*) expect "key $serial is gone once agent-run returned" 1 "" keyctl print "$serial" ;;
*) echo "FAIL: the agent saw no key serial"; fails=$((fails + 1)) ;;
esac

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
