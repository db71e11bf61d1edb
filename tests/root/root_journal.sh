#!/bin/sh
# Root-only: audit events of real PAM transactions into the journal through
# its native protocol (docs/audit.md, "The journal"). In a private mount
# namespace (unshare -m) a tmpfs hides /run/systemd and tests/lib/journal.py
# listens at
# /run/systemd/journal/socket in journald's place; the host's /run is not
# touched. Then, through the real agent-run, module and helper (service
# files through pam_wrapper) and pam-agent reap:
#  - every kind of audit event arrives, each with its MESSAGE_ID (as
#    docs/audit.md lists it), MESSAGE one line, a PAM_AGENT_* field per key
#    of its audit line, one per list entry, and the whole line in
#    PAM_AGENT_JSON equal to the line of the audit file;
#  - no token, token segment or credential in any field.
# tests/cli/test_journal.sh (any user) has the long event and the fallback
# to syslog.
# Skips (exit 77) as non-root or where unshare -m is not allowed.
set -u
if [ -z "${PA_JOURNAL_NS:-}" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP: root_journal.sh needs root (CI runs it as root)"
		exit 77
	fi
	if ! command -v unshare >/dev/null 2>&1 || ! unshare -m --propagation private true 2>/dev/null; then
		echo "SKIP: root_journal.sh: cannot make a private mount namespace (unshare -m, util-linux)"
		exit 77
	fi
	PA_JOURNAL_NS=1 exec unshare -m --propagation private sh "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
pa_root_require "root_journal.sh" python3 keyctl
need_pam_wrapper
need_built "$PA_MODULE"

# journald's socket directory, private to this namespace
jdir=/run/systemd
[ -d "$jdir" ] || jdir=/run
if ! mount -t tmpfs -o mode=0755 pa-journal-test "$jdir"; then
	echo "SKIP: root_journal.sh: cannot mount a tmpfs over $jdir in the private namespace"
	exit 77
fi
mkdir -p /run/systemd/journal
SOCK=/run/systemd/journal/socket

pa_workdir pam-agent-root-journal
JPY=$(dirname "$0")/../lib/journal.py
AUD=spiffe://example.org/host/journal
CONF=$work/pam_agent.conf
me=$(id -un)

python3 "$JPY" listen "$SOCK" "$work/entries" "$work/ready" 2> "$work/listener.err" &
listener=$!
pa_root_track_pid "$listener"
wait_for "$work/ready" "$listener" 100 || pa_die "the test listener did not start: $(cat "$work/listener.err")"

# ---- a policy, brokers, tokens -----------------------------------------------------------
pa_testca
pa_secrets_and_issuer
cat > "$work/revoke" <<'EOF'
#!/bin/sh
cat >/dev/null
EOF
chmod 0755 "$work/issue" "$work/revoke"
{
	pa_policy_head broker_key="$work/ca/signing.key" helper="$HELPER" state_dir="$work/state" \
		audit_log="$work/audit.log"
	pa_section "service agent-run" class=read
	pa_section "grant legacy-db" class=read source=file path="$work/file.secret" ttl=10m
	pa_section "grant vault-ro" class=read source=exec command="$work/issue $work/exec.secret" \
		revoke="$work/revoke" ttl=10m
	pa_section "agent spiffe://example.org/agents/bot" users="$me" services=agent-run \
		grants="legacy-db vault-ro" task.max_sessions=1
	pa_section "agent spiffe://example.org/agents/stranger" users=daemon services=agent-run
} | pa_write "$CONF"
pa_check_conf "$CONF"
pa_pamd "$work/pam.d" "$CONF"
umask 077
pa_mint bot "$AUD" --claim task=T-journal > "$work/token.bot"
pa_mint stranger "$AUD" > "$work/token.stranger"
pa_mint bot https://elsewhere.example.org > "$work/token.aud"
umask 022
{ tr -d '\n' < "$work/file.secret"; echo; cat "$work/exec.secret"; echo
	cat "$work/token.bot" "$work/token.stranger" "$work/token.aud"; } | sed '/^$/d' > "$work/secrets"

run() { # run NAME TOKEN: agent-run -- true, under pam_wrapper
	pa_wrapped "$work/pam.d" "$AGENT_RUN" --token-file "$work/token.$2" --user "$me" -- /bin/true \
		> "$work/$1.out" 2>&1
}

# ---- real events ---------------------------------------------------------------------------
# authenticate ok, decision allow, credential_placed, key_revoked, session_closed
run session1 bot
check "a session of agent bot runs" test "$(grep -c '"event":"session_closed","result":"ok"' "$work/audit.log")" = 1
# the second session of task T-journal: task_budget_exceeded, decision deny
run session2 bot
check "the second session of the task is refused: task_budget_exceeded, decision deny" \
	sh -c 'grep -q "\"event\":\"task_budget_exceeded\",\"result\":\"deny\"" "$1" &&
		grep -q "\"event\":\"decision\",\"result\":\"deny\".*T-journal" "$1"' sh "$work/audit.log"
# a token for another audience: authenticate failed
run wrongaud aud
# an agent that may not be this user: authenticate failed, with the policy's reasons
run stranger stranger
check "the stranger is refused" grep -q '"event":"authenticate","result":"failed".*agents/stranger' "$work/audit.log"
# a record pam-agent reap cannot read: revoke_failed
mkdir -p "$work/state/sessions"
printf 'not json\n' > "$work/state/sessions/$(newsid)"
chmod 0600 "$work/state/sessions/"*
"$PAM_AGENT" reap --config "$CONF" > "$work/reap.out" 2>&1
check "reap reports the unreadable record" grep -q '"event":"revoke_failed"' "$work/audit.log"

# the listener has every entry once the senders are gone: datagrams are queued
n=0
while [ "$(lines "$work/entries")" -lt "$(lines "$work/audit.log")" ] && [ $n -lt 100 ]; do
	sleep 0.1
	n=$((n + 1))
done
python3 "$JPY" check "$work/entries" "$work/audit.log" "$(dirname "$0")/../../docs/audit.md" "$work/secrets" \
	authenticate decision credential_placed key_revoked revoke_failed session_closed \
	task_budget_exceeded > "$work/check.out" 2>&1
cat "$work/check.out"
pa_passes=$((pa_passes + $(grep -c '^PASS' "$work/check.out")))
pa_fails=$((pa_fails + $(grep -c '^FAIL' "$work/check.out")))
pa_summary
