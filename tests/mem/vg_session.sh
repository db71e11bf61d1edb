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
set -u
. "$(dirname "$0")/../lib/lib.sh"
VG=${PA_VALGRIND:-}
need_pam_wrapper
if ! command -v keyctl >/dev/null 2>&1; then
	pa_skip "vg_session.sh needs keyctl (Debian package keyutils)"
fi
pa_workdir pa-vgsess
ar_pid=""
cleanup() {
	[ -n "$ar_pid" ] && kill -9 "$ar_pid" 2>/dev/null
	pa_pamwrap_leftovers
}
pa_at_exit cleanup
# brokers and CMD run natively (valgrind.sh's --trace-children-skip)
PA_VG_SKIP="/bin/*,/sbin/*,/usr/*,$work/*"
export PA_VG_SKIP
AUD=spiffe://example.org/host/test
me=$(id -un)
CONF=$work/pam_agent.conf

# agent-run through pam_wrapper; env is valgrind's first client, so the
# preload reaches agent-run only (never the valgrind launcher)
run() {
	$VG env LD_PRELOAD="$PA_PAM_WRAPPER_PRELOAD" PAM_WRAPPER=1 \
		PAM_WRAPPER_SERVICE_DIR="$work/pam.d" UID_WRAPPER_DISABLE_DEEPBIND=1 \
		"$AGENT_RUN" "$@"
}

pa_testca
pa_testca "$work/broker" broker.example.org
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
pa_policy_sessions helper="$HELPER" state_dir="$work/state" audit_log="$work/audit.log" \
	broker_key="$work/broker/signing.key" broker_issuer=https://broker.example.org \
	broker_jwks="$work/broker-jwks.json" | pa_write "$CONF"
pa_pamd "$work/pam.d" "$CONF"
pa_mint bot "$AUD" --claim task=T-1 > "$work/token"
pa_mint bot spiffe://example.org/host/other > "$work/wrong"

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
$VG env LD_PRELOAD="$PA_PAM_WRAPPER_PRELOAD" PAM_WRAPPER=1 \
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

pa_summary
