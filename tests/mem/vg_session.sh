#!/bin/sh
# vg_session.sh - the session phase for make check-valgrind: agent-run
# (a PAM application: libpam, pam_wrapper, pam_agent.so) opens a session
# whose mint, file and exec grants pam_agent_helper places, runs CMD,
# closes the session (the helper revokes, the exec broker is told); a
# refusal; an agent-run killed with -9 and then `pam-agent reap`. Every
# agent-run, pam-agent and pam_agent_helper process runs under
# $PA_VALGRIND (tests/mem/valgrind.sh LOGDIR, set by check-valgrind.sh);
# brokers and CMD are shell scripts in the work directory and run
# natively. Without PA_VALGRIND it is a plain functional test.
. "$(dirname "$0")/../pamd.sh"
set -u
B=$(cd "${top_builddir:-.}" && pwd)
PAM_AGENT=$B/pam-agent
AGENT_RUN=$B/agent-run
VG=${PA_VALGRIND:-}
if [ -z "${PA_PAM_WRAPPER_SO:-}" ] || [ ! -f "$PA_PAM_WRAPPER_SO" ]; then
	echo "SKIP: pam_wrapper is not available (install libpam-wrapper)"
	exit 77
fi
if ! command -v keyctl >/dev/null 2>&1; then
	echo "SKIP: vg_session.sh needs keyctl (Debian package keyutils)"
	exit 77
fi
work=$(mktemp -d /tmp/pa-vgsess.XXXXXX)
ar_pid=""
cleanup() {
	[ -n "$ar_pid" ] && kill -9 "$ar_pid" 2>/dev/null
	# pam_wrapper's copies of our services, left by the agent-run killed
	# with -9: only those naming our directory
	for d in /tmp/pam.?; do
		[ -d "$d" ] && grep -qs -- "$work" "$d"/* && rm -rf -- "$d"
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
# brokers and CMD run natively (valgrind.sh's --trace-children-skip)
PA_VG_SKIP="/bin/*,/sbin/*,/usr/*,$work/*"
export PA_VG_SKIP
passes=0 fails=0
AUD=spiffe://example.org/host/test
me=$(id -un)
CONF=$work/pam_agent.conf

pass() { echo "PASS: $1"; passes=$((passes + 1)); }
fail() { echo "FAIL: $1"; fails=$((fails + 1)); }
check() { # check NAME COMMAND...
	name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}
expect() { # expect NAME STATUS TEXT COMMAND...
	name=$1 want=$2 text=$3
	shift 3
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$want" ] && { [ -z "$text" ] || printf "%s" "$out" | grep -qF -- "$text"; }; then
		pass "$name"
	else
		fail "$name: exit $rc (want $want), output:"
		printf '%s\n' "$out" | sed 's/^/    /'
		echo "    wanted: $text"
	fi
}
lines() { if [ -f "$1" ]; then wc -l < "$1" | tr -d ' '; else echo 0; fi; }
# agent-run through pam_wrapper; env is valgrind's first client, so the
# preload reaches agent-run only (never the valgrind launcher)
run() {
	$VG env LD_PRELOAD="$PA_PAM_WRAPPER_SO" PAM_WRAPPER=1 \
		PAM_WRAPPER_SERVICE_DIR="$work/pam.d" UID_WRAPPER_DISABLE_DEEPBIND=1 \
		"$AGENT_RUN" "$@"
}

"$PAM_AGENT" testca init "$work/ca" --trust-domain example.org >/dev/null
"$PAM_AGENT" testca init "$work/broker" --trust-domain broker.example.org >/dev/null
printf 'S3CR3T-file-vg\n' > "$work/file.secret"
chmod 0600 "$work/file.secret"
cat > "$work/issue" <<'SH'
#!/bin/sh
cat >/dev/null
echo '{"secret":"S3CR3T-exec-vg","expires_at":null,"revoke_handle":"lease-7"}'
SH
cat > "$work/revoke" <<'SH'
#!/bin/sh
{ cat; echo; } >> "$1"
SH
cat > "$work/cmd" <<'SH'
#!/bin/sh
for g in legacy-db tickets-ro vault-ro; do
	keyctl print "%user:pam_agent:$g" >/dev/null 2>&1 || { echo "no key $g"; exit 9; }
done
echo "CMD saw 3 keys"
SH
cat > "$work/sleeper" <<'SH'
#!/bin/sh
echo $$ > "$1"
exec sleep 60
SH
chmod 0755 "$work/issue" "$work/revoke" "$work/cmd" "$work/sleeper"
cat > "$CONF" <<CONF
[global]
audience = $AUD
helper = $B/pam_agent_helper
state_dir = $work/state
audit_log = $work/audit.log
broker_key = $work/broker/signing.key
broker_issuer = https://broker.example.org
broker_jwks = $work/broker-jwks.json
[trust_domain example.org]
bundle = $work/ca/bundle.json
[service agent-run]
class = read
[grant legacy-db]
class = read
source = file
path = $work/file.secret
ttl = 10m
[grant tickets-ro]
class = read
source = mint
audience = https://tickets.example.org
ttl = 10m
[grant vault-ro]
class = read
source = exec
command = $work/issue
revoke = $work/revoke $work/revoked.log
ttl = 10m
[agent spiffe://example.org/agents/bot]
users = $me
services = agent-run
grants = legacy-db tickets-ro vault-ro
CONF
chmod 0644 "$CONF"
pam_service_dir "$work/pam.d" "$CONF"
"$PAM_AGENT" testca mint "$work/ca" --id spiffe://example.org/agents/bot --aud "$AUD" \
	--claim task=T-1 > "$work/token"
"$PAM_AGENT" testca mint "$work/ca" --id spiffe://example.org/agents/bot \
	--aud spiffe://example.org/host/other > "$work/wrong"

# 1. a whole session: open (3 grants placed by the helper), CMD, close
expect "session: CMD sees its 3 keys, agent-run returns its status" 0 "CMD saw 3 keys" \
	run --token-file "$work/token" --user "$me" -- "$work/cmd"
check "session: the exec broker's revoke ran once at close" test "$(lines "$work/revoked.log")" = 1
check "session: audit has credential_placed and session_closed ok" \
	sh -c 'grep -q "\"event\":\"credential_placed\",\"result\":\"ok\"" "$1" &&
		grep -q "\"event\":\"session_closed\",\"result\":\"ok\"" "$1"' sh "$work/audit.log"

# 2. a refusal at auth: no helper, exit 77
expect "refusal: wrong audience, exit 77" 77 "audience mismatch" \
	run --token-file "$work/wrong" --user "$me" -- echo SHOULD-NOT-RUN

# 3. agent-run killed with -9 while CMD runs, then pam-agent reap
# (not through run(): $! must be agent-run itself, not a subshell)
$VG env LD_PRELOAD="$PA_PAM_WRAPPER_SO" PAM_WRAPPER=1 \
	PAM_WRAPPER_SERVICE_DIR="$work/pam.d" UID_WRAPPER_DISABLE_DEEPBIND=1 \
	"$AGENT_RUN" --token-file "$work/token" --user "$me" -- "$work/sleeper" "$work/cmd.pid" \
	> "$work/killed.out" 2>&1 &
ar_pid=$!
i=0
while [ ! -s "$work/cmd.pid" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
if [ -s "$work/cmd.pid" ]; then
	pass "kill -9: session open, CMD running"
else
	fail "kill -9: CMD never started; agent-run said:"
	sed 's/^/    /' "$work/killed.out"
fi
kill -9 "$ar_pid" 2>/dev/null
wait "$ar_pid" 2>/dev/null
ar_pid=""
kill -9 "$(cat "$work/cmd.pid" 2>/dev/null)" 2>/dev/null
expect "reap revokes the orphaned session" 0 "reaped" $VG "$PAM_AGENT" reap --config "$CONF"
check "reap: the broker revoke ran exactly once more" test "$(lines "$work/revoked.log")" = 2
expect "a second reap finds nothing" 0 "nothing to reap" $VG "$PAM_AGENT" reap --config "$CONF"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
