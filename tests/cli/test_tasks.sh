#!/bin/sh
# The task ledger through the real Linux-PAM library (service files through
# pam_wrapper) and the real agent-run (docs/tasks.md): a task with
# task.max_sessions = 2 has two live sessions, the third is refused with
# the reason; `pam-agent revoke --task` revokes the keys of both (read back
# revoked from inside them), runs each exec grant's broker revocation once
# (and not again when agent-run closes them), and a new login for the task
# is refused; another task of the same agent is unaffected. `pam-agent
# tasks` shows both; a task ended between the account phase and the
# session (pam_exec in the stack) refuses the open; reap expires the ended
# tasks' ledgers.
# Runs as any user: keys and files are owned by the effective uid.
. "$(dirname "$0")/../lib/lib.sh"
set -u
need_pam_wrapper
need keyctl python3
pa_workdir pa-tasks
pids=""
# only what this test started, by pid
kill_pids() { for p in $pids; do kill -9 "$p" 2>/dev/null; done; }
pa_at_exit pa_pamwrap_leftovers
pa_at_exit pa_revoke_serials
pa_at_exit kill_pids # runs first
AUD=spiffe://example.org/host/test
BOT=spiffe://example.org/agents/bot
me=$(id -un)
CONF=$work/pam_agent.conf

"$PAM_AGENT" testca init "$work/ca" --trust-domain example.org >/dev/null
printf 'S3CR3T-file-%s\n' "$(newsid)" > "$work/file.secret"
chmod 0600 "$work/file.secret"
cat > "$work/issue" <<'EOF'
#!/bin/sh
cat >/dev/null
echo '{"secret":"exec-secret","expires_at":null,"revoke_handle":"lease-7"}'
EOF
cat > "$work/revoke" <<'EOF'
#!/bin/sh
{ cat; echo; } >> "$1"
EOF
chmod 0755 "$work/issue" "$work/revoke"
cat > "$CONF" <<CONF
[global]
audience = $AUD
helper = $HELPER
state_dir = $work/state
audit_log = $work/audit.log
task_expire = 1s
[trust_domain example.org]
bundle = $work/ca/bundle.json
[service agent-run]
class = read
[grant legacy-db]
class = read
source = file
path = $work/file.secret
ttl = 10m
[grant vault-ro]
class = read
source = exec
command = $work/issue
revoke = $work/revoke $work/revoked.log
ttl = 10m
[agent $BOT]
users = $me
services = agent-run
grants = legacy-db vault-ro
task.max_sessions = 2
CONF
chmod 0644 "$CONF"
pa_pamd "$work/pam.d" "$CONF"
for t in T-1 T-2; do
	"$PAM_AGENT" testca mint "$work/ca" --id "$BOT" --aud "$AUD" --claim task=$t > "$work/token.$t"
done

# CMD: records its pid; once told (DIR/pre), reads from inside its session
# the key whose serial the test wrote in DIR/serial; once triggered, reads
# it again, and ends. (By serial: a look-up by name may find the key of
# another session of this uid, the T-2 one, which holds the same secret.)
cat > "$work/cmd" <<'EOF'
#!/bin/sh
echo $$ > "$1/cmd.pid"
n=0
while [ ! -e "$1/pre" ] && [ $n -lt 1800 ]; do sleep 0.1; n=$((n + 1)); done
keyctl print "$(cat "$1/serial")" > "$1/before" 2>&1
echo "exit $?" >> "$1/before"
while [ ! -e "$1/trigger" ] && [ $n -lt 1800 ]; do sleep 0.1; n=$((n + 1)); done
keyctl print "$(cat "$1/serial")" > "$1/after" 2>&1
echo "exit $?" >> "$1/after"
EOF
chmod 0755 "$work/cmd"

# start NAME TASK: agent-run in the background with CMD in $work/NAME
start() {
	mkdir "$work/$1"
	keyctl session - env LD_PRELOAD="$PA_PAM_WRAPPER_PRELOAD" PAM_WRAPPER=1 \
		PAM_WRAPPER_SERVICE_DIR="$work/pam.d" UID_WRAPPER_DISABLE_DEEPBIND=1 \
		"$AGENT_RUN" --token-file "$work/token.$2" --user "$me" -- "$work/cmd" "$work/$1" \
		> "$work/$1.out" 2>&1 &
	eval "pid_$1=$!"
	pids="$pids $!"
	i=0
	while [ ! -s "$work/$1/cmd.pid" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	if [ ! -s "$work/$1/cmd.pid" ]; then
		fail "agent-run did not start CMD for $1 ($2); its output:"
		sed 's/^/    /' "$work/$1.out"
		pa_summary
		exit 1
	fi
	pids="$pids $(cat "$work/$1/cmd.pid")"
}
# once NAME TASK: agent-run with CMD true (a login that ends at once)
once() {
	env LD_PRELOAD="$PA_PAM_WRAPPER_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$work/pam.d" \
		UID_WRAPPER_DISABLE_DEEPBIND=1 keyctl session - \
		"$AGENT_RUN" --token-file "$work/token.$1" --user "$me" -- /bin/true
}

start a T-1
start b T-1
start c T-2
expect "the third session of task T-1 (task.max_sessions = 2) is refused, with the reason" 77 \
	"account refused: Permission denied: pam_agent: task_budget_exceeded: max_sessions 2 (2 already)" \
	once T-1
check "  with the reason, in the audit file" \
	grep -q '"reasons":\[[^]]*task_budget_exceeded: max_sessions 2 (2 already)' "$work/audit.log"
check "  and a task_budget_exceeded event" \
	grep -q '"event":"task_budget_exceeded","result":"deny"' "$work/audit.log"

"$PAM_AGENT" sessions --config "$CONF" --json > "$work/live.json"
# sid and the file grant's key of the session of agent-run PID
sid_of() { json "$work/live.json" "[s['sid'] for s in j['sessions'] if s['pid'] == $1][0]"; }
key_of() { json "$work/live.json" "[k['serial'] for s in j['sessions'] if s['pid'] == $1 for k in s['keys'] if k['grant'] == 'legacy-db'][0]"; }
for n in a b c; do
	eval "p=\$pid_$n"
	eval "sid_$n=$(sid_of "$p")"
	key_of "$p" > "$work/$n/serial"
	cat "$work/$n/serial" >> "$work/serials"
done
# a witness keyring per session keeps its key from being garbage-collected
# once revoked (one each: a keyring holds one key of a description)
for n in a b c; do
	w=$(keyctl newring "pa-witness-$n" @s)
	echo "$w" >> "$work/serials"
	keyctl link "$(cat "$work/$n/serial")" "$w"
done
for n in a b c; do : > "$work/$n/pre"; done
i=0
while { [ ! -s "$work/a/before" ] || [ ! -s "$work/b/before" ]; } && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
secret=$(tr -d '\n' < "$work/file.secret")
check "from inside both T-1 sessions their credential reads before the revocation" \
	sh -c 'grep -qF -- "$1" "$2" && grep -qF -- "$1" "$3"' sh "$secret" "$work/a/before" "$work/b/before"
check "three live sessions: two of T-1, one of T-2" test \
	"$(json "$work/live.json" 'sorted(s["task"] for s in j["sessions"])')" = "['T-1', 'T-1', 'T-2']"
expect "pam-agent tasks: T-1 live with 2 sessions" 0 "sessions: 2 (read 2, write 0, escalate 0), 2 open" \
	"$PAM_AGENT" tasks --config "$CONF"
expect "explain: the task's ledger refuses a third session" 1 "task_budget_exceeded: max_sessions 2" \
	"$PAM_AGENT" explain --config "$CONF" --id "$BOT" --service agent-run --user "$me" \
	--claims '{"task":"T-1"}'

expect "pam-agent revoke --task T-1: one task ended, two sessions revoked" 0 \
	"1 task(s) ended, 2 session(s) matched, 2 revoked" \
	"$PAM_AGENT" revoke --config "$CONF" --task T-1 --reason "incident 7"
for n in a b; do : > "$work/$n/trigger"; done
i=0
while { [ ! -s "$work/a/after" ] || [ ! -s "$work/b/after" ]; } && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "from inside both T-1 sessions their credential no longer reads" \
	sh -c '! grep -qF -- "$1" "$2" && ! grep -qF -- "$1" "$3" && grep -q "exit 1" "$2" &&
		grep -q "exit 1" "$3"' sh "$secret" "$work/a/after" "$work/b/after" ||
	sed 's/^/    /' "$work/a/after" "$work/b/after"
check "the keys of both T-1 sessions read back revoked" \
	sh -c 'for f in "$1" "$2"; do out=$(keyctl print "$(cat "$f")" 2>&1) && exit 1
		case "$out" in *revoked*) ;; *) echo "    $out"; exit 1 ;; esac; done' \
	sh "$work/a/serial" "$work/b/serial"
# agent-run ends its session (close_session) once CMD is done
for n in a b; do
	eval "p=\$pid_$n"
	i=0
	while kill -0 "$p" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
done
check "each broker revocation ran exactly once, for the two T-1 sessions" test \
	"$(lines "$work/revoked.log"):$(python3 -c 'import json,sys; print(sorted(json.loads(l)["sid"] for l in open(sys.argv[1]) if l.strip()))' "$work/revoked.log")" \
	= "2:$(python3 -c 'import sys; print(sorted(sys.argv[1:]))' "$sid_a" "$sid_b")"
check "audit: the revocation of each T-1 session names pam-agent revoke" \
	sh -c 'for s in "$2" "$3"; do grep "\"sid\":\"$s\"" "$1" | grep "\"event\":\"session_closed\"" |
		grep -q "revoked by pam-agent revoke --task T-1: incident 7" || exit 1; done' \
	sh "$work/audit.log" "$sid_a" "$sid_b"
expect "a new login for task T-1 is refused" 77 "task ended: revoked by pam-agent revoke --task T-1" \
	once T-1
check "  because the task ended" grep -q "task ended: revoked by pam-agent revoke --task T-1" "$work/audit.log"
check "the T-2 session is unaffected: its key is live, its record there" \
	sh -c 'keyctl print "$(cat "$1")" >/dev/null 2>&1 && test -f "$2"' sh "$work/c/serial" \
	"$work/state/sessions/$sid_c"
expect "a new login for task T-2 is allowed" 0 "" once T-2
check "  (its close told its broker once)" test "$(lines "$work/revoked.log")" = 3
expect "pam-agent tasks: T-1 ended" 0 "state:    ended at" "$PAM_AGENT" tasks --config "$CONF"
check "pam-agent tasks --json: T-1 ended, T-2 live" test \
	"$("$PAM_AGENT" tasks --config "$CONF" --json | python3 -c 'import json,sys; print(sorted((t["task"], t["state"]) for t in json.load(sys.stdin)))')" \
	= "[('T-1', 'ended'), ('T-2', 'live')]"

: > "$work/c/trigger"
i=0
while kill -0 "$pid_c" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
check "the T-2 session closes normally: its broker revocation ran once" test \
	"$(lines "$work/revoked.log"):$(grep -c "\"sid\":\"$sid_c\"" "$work/revoked.log")" = 4:1
# a task ended between the account phase and the session (pam_exec runs
# pam-agent revoke there): the open is refused
"$PAM_AGENT" testca mint "$work/ca" --id "$BOT" --aud "$AUD" --claim task=T-3 > "$work/token.T-3"
mkdir "$work/pam.d.race"
cat > "$work/end-T-3" <<EOF
#!/bin/sh
exec "$(cd "$B" && pwd)/pam-agent" revoke --config "$CONF" --task T-3 > "$work/end-T-3.out" 2>&1
EOF
chmod 0755 "$work/end-T-3"
cat > "$work/pam.d.race/agent-run" <<SVC
auth     required $PA_MODULE config=$CONF
account  required $PA_MODULE config=$CONF
session  optional pam_exec.so $work/end-T-3
session  required $PA_MODULE config=$CONF
SVC
cp "$work/pam.d/other" "$work/pam.d.race/other"
expect "a task ended between account and session: the open is refused" 77 \
	"task ended: revoked by pam-agent revoke --task T-3" \
	env LD_PRELOAD="$PA_PAM_WRAPPER_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$work/pam.d.race" \
	UID_WRAPPER_DISABLE_DEEPBIND=1 keyctl session - \
	"$AGENT_RUN" --token-file "$work/token.T-3" --user "$me" -- /bin/true
sleep 1
expect "reap removes the ledger of the task ended task_expire ago" 0 "removed 2 expired task ledger(s)" \
	"$PAM_AGENT" reap --config "$CONF"
expect "revoke: usage without a selector" 2 "usage: pam-agent revoke" "$PAM_AGENT" revoke --config "$CONF"

pa_summary
