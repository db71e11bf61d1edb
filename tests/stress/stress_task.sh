#!/bin/sh
# A task's budget under concurrency (docs/tasks.md): STRESS_TASK_PROCS (16)
# launchers start agent-run for one task at the same moment, through the
# real libpam (agent-run --config DIR), against task.max_sessions =
# STRESS_TASK_BUDGET (5): exactly the budget is allowed, every other
# login is refused with task_budget_exceeded; the task's ledger counts them
# all (no decision lost or counted twice) and no session is left open.
set -u
. "$(dirname "$0")/lib.sh"
need keyctl python3
PROCS=${PA_STRESS_TASK_PROCS:-16}
BUDGET=${PA_STRESS_TASK_BUDGET:-5}
work=$(mktemp -d /tmp/pa-stress-task.XXXXXX)
chmod 0755 "$work"
pids=""
cleanup() {
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE
user=$(id -un)
AUD=spiffe://example.org/host/task
BOT=spiffe://example.org/agents/bot
TASK=T-stress-$$
CONF=$work/pam_agent.conf
"$PAM_AGENT" testca init "$work/ca" --trust-domain example.org >/dev/null
chmod 0755 "$work/ca"
umask 077
printf 'S3CR3T-file-%s\n' "$(rnd)" > "$work/file.secret"
umask 022
cat > "$CONF" <<CONF
[global]
audience = $AUD
helper = $HELPER
state_dir = $work/state
audit_log = $work/audit.log
[trust_domain example.org]
bundle = $work/ca/bundle.json
[service agent-run]
class = read
[grant f1]
class = read
source = file
path = $work/file.secret
ttl = 10m
[agent $BOT]
users = $user
services = agent-run
grants = f1
task.max_sessions = $BUDGET
CONF
chmod 0644 "$CONF"
pa_pamd "$work/pam.d" "$CONF"
"$PAM_AGENT" testca mint "$work/ca" --id "$BOT" --aud "$AUD" --ttl 30m --claim task=$TASK \
	> "$work/token"

# each launcher waits for the start line, then logs in once
start=$(($(date +%s) + 2))
i=0
while [ $i -lt "$PROCS" ]; do
	(
		while [ "$(date +%s)" -lt "$start" ]; do sleep 0.01; done
		"$AGENT_RUN" --config "$work/pam.d" --user "$user" --token-file "$work/token" \
			-- /bin/true > "$work/out.$i" 2>&1
		echo $? > "$work/rc.$i"
	) &
	pids="$pids $!"
	i=$((i + 1))
done
t0=$(ms)
for p in $pids; do wait "$p"; done
t1=$(ms)
pids=""
allowed=$(cat "$work"/rc.* | grep -c '^0$')
refused=$(grep -l "task_budget_exceeded: max_sessions $BUDGET ($BUDGET already)" "$work"/out.* | wc -l)
echo "$PROCS logins of one task at once, budget $BUDGET: $allowed allowed, $refused refused for the budget, in $((t1 - t0)) ms"
check "exactly the budget ($BUDGET) is allowed" test "$allowed" -eq "$BUDGET"
check "every other login is refused for the budget" test "$refused" -eq $((PROCS - BUDGET))
"$PAM_AGENT" tasks --config "$CONF" --json > "$work/tasks.json"
check "the ledger counts $BUDGET sessions, $((PROCS - BUDGET)) denied, none open, $((PROCS + 2 * BUDGET)) entries (each decision, open and close)" test \
	"$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))[0]; print(t["sessions"], t["denied"], t["open"], t["entries"])' "$work/tasks.json")" \
	= "$BUDGET $((PROCS - BUDGET)) 0 $((PROCS + 2 * BUDGET))"
check "the audit file has one task_budget_exceeded event per refused login" test \
	"$(grep -c '"event":"task_budget_exceeded"' "$work/audit.log")" -eq $((PROCS - BUDGET))
check "no session record is left" test -z "$(ls "$work/state/sessions" 2>/dev/null)"
pa_summary
