#!/bin/sh
# Root-only: the module under the distribution's sudo (docs/applications.md:
# sudo authenticates and checks the account with PAM_USER = the invoking
# user, then sets PAM_USER to the run-as user before pam_setcred and
# pam_open_session, and runs the command anyway when pam_open_session
# returns PAM_SESSION_ERR). A test user invokes sudo; its token reaches the
# module through token_file= (docs/deploying.md §7). The PAM service is the
# test's own, chosen with "Defaults:USER pam_service=..." in a sudoers
# drop-in, so /etc/pam.d/sudo is never touched.
#  - an escalate agent allowed to run as root: the command runs as root with
#    the agent's credentials in its session; revoked when sudo exits;
#  - an agent whose rule does not allow the target user: sudo exits
#    non-zero and the command does not run (it would leave a marker);
#  - a write-class agent: refused before the command, nothing runs.
# The run-as right is `run_as = SERVICE:root` in the first agent's rule
# (docs/configuration.md); the second agent may use the same service as the
# same user but has no run_as, so its session is refused with
# PAM_PERM_DENIED, which sudo treats as fatal (PAM_SESSION_ERR it would
# ignore). PA_SUDO_RUNAS_LINE overrides that line (@SERVICE@ is the
# test's PAM service).
. "$(dirname "$0")/lib.sh"
pa_root_require "root_sudo.sh" keyctl useradd userdel setpriv sudo visudo
. "$(dirname "$0")/apps.sh"
PA_SUDO_RUNAS_LINE=${PA_SUDO_RUNAS_LINE-run_as = @SERVICE@:root}
AUD=spiffe://example.org/host/root-sudo

pa_root_work root-sudo
pa_apps_user
tag=t$$
CONF=$work/pam_agent.conf
mkdir -m 0755 "$work/tokens" "$work/box"

pa_testca
umask 077
printf 'S3CR3T-sudo-%s\n' "$(rnd)" > "$work/grant.secret"
umask 022
svc=$(pa_root_service "auth required @MODULE@ config=$CONF token_file=$work/tokens/%u
account required @MODULE@ config=$CONF
session optional pam_keyinit.so force revoke
session required @MODULE@ config=$CONF")
G=g_$tag
# conf RUNAS-LINE: the policy
conf() {
	pa_policy_head state_dir="$work/state" audit_log="$work/audit.log" helper="$HELPER"
	pa_section "service $svc" class=escalate
	pa_section "grant $G" class=read source=file path="$work/grant.secret" ttl=10m
	pa_section "agent spiffe://example.org/agents/esc" users="$tuser" services="$svc" \
		max_class=escalate grants="$G"
	[ -n "$1" ] && printf '%s\n' "$1" | sed "s/@SERVICE@/$svc/g"
	pa_section "agent spiffe://example.org/agents/norunas" users="$tuser" services="$svc" \
		max_class=escalate grants="$G"
	pa_section "agent spiffe://example.org/agents/writer" users="$tuser" services="$svc" \
		max_class=write grants="$G"
	# one session per task (docs/tasks.md)
	pa_section "agent spiffe://example.org/agents/budget" users="$tuser" services="$svc" \
		max_class=escalate run_as="$svc:root" task.max_sessions=1
}
conf "$PA_SUDO_RUNAS_LINE" | pa_write "$CONF"
pa_check_conf "$CONF"

# the sudoers drop-in: no dot in the name (sudo skips such files), 0440,
# checked with visudo before it is put in place
drop=/etc/sudoers.d/pam-agent-test-$$-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
cat > "$work/sudoers" <<EOF
Defaults:$tuser pam_service=$svc, timestamp_timeout=0, passwd_tries=1, !lecture
$tuser ALL=(root) $work/cmd
EOF
chmod 0440 "$work/sudoers"
visudo -cq -f "$work/sudoers" || { echo "FAIL: visudo refuses the test drop-in"; exit 1; }
pa_root_track "$drop"
cp -p "$work/sudoers" "$drop.tmp.$$"
pa_root_track "$drop.tmp.$$"
mv -f "$drop.tmp.$$" "$drop"
check "visudo -c accepts the sudoers files with the test drop-in" visudo -cq

# the command sudo runs as root: leaves a marker, reports its session
cat > "$work/cmd" <<'EOF'
#!/bin/sh
out=$1 g=$2 witness=$3
: > "$out/ran"
id -u > "$out/uid"
echo "$PAM_AGENT_SESSION" > "$out/sid"
keyctl print "%user:pam_agent:$g" > "$out/read" 2>&1
keyctl search @s user "pam_agent:$g" > "$out/serial" 2>&1
# the test's witness keyring holds the key, so that it reads back as revoked
# (not garbage-collected) once sudo has closed the session
keyctl link "$(cat "$out/serial")" "$witness" > "$out/link" 2>&1
exit 0
EOF
chmod 0755 "$work/cmd"

# as_agent AGENT OUT: the test user runs `sudo CMD` with a fresh token of AGENT
as_agent() {
	a=$1 o=$2
	shift 2
	mkdir -m 0700 "$o"
	(umask 077 && pa_mint "$a" "$AUD" "$@" > "$work/tokens/$tuser")
	chown "$tuser:" "$work/tokens/$tuser"
	setpriv --reuid="$tuid" --regid="$tgid" --init-groups \
		sudo -u root -- "$work/cmd" "$o" "$G" "$witness" < /dev/null > "$o.out" 2>&1
	rc=$?
	echo "    sudo exited $rc: $(tr '\n' ' ' < "$o.out")"
	return 0
}

# the command (root, not a possessor) links its key here: write for uid 0
witness=$(keyctl newring pa-witness @s)
pa_root_track_key "$witness"
keyctl setperm "$witness" 0x3f3f0000

# ---- an escalate agent allowed to run as root ---------------------------------------
o=$work/box/esc
as_agent esc "$o"
check "escalate agent: sudo exits 0" test "$rc" = 0
check "escalate agent: the command ran, as root" test "$(cat "$o/uid" 2>/dev/null)" = 0
check "escalate agent: PAM_AGENT_SESSION is set in the command's environment" \
	grep -Eqs '^[A-Za-z0-9_-]{8,}$' "$o/sid"
check "escalate agent: the command reads its escalate credential (keyctl print)" \
	test "$(cat "$o/read" 2>/dev/null)" = "$(tr -d '\n' < "$work/grant.secret")"
serial=$(grep -Es '^[0-9]+$' "$o/serial")
[ -n "$serial" ] && pa_root_track_key "$serial"
check "escalate agent: the key is revoked when sudo exits" \
	revoked "${serial:-0}"
check "escalate agent: the session was opened as root for the invoking user (run_as)" \
	grep -q "\"event\":\"credential_placed\",\"result\":\"ok\".*agents/esc\".*\"user\":\"root\".*run as root for $tuser (run_as)" "$work/audit.log"
check "escalate agent: pam-agent sessions lists nothing after sudo" no_sessions "$PAM_AGENT" "$CONF"

# ---- an agent whose rule does not allow the target user ---------------------------
o=$work/box/norunas
as_agent norunas "$o"
check "agent not allowed to run as root: sudo exits non-zero" \
	test "$rc" != 0
check "agent not allowed to run as root: the command did not run" \
	test ! -e "$o/ran"
check "agent not allowed to run as root: no credential reached the command" \
	sh -c '! grep -qs S3CR3T "$1"' sh "$o/read"
check "agent not allowed to run as root: sudo stopped at pam_open_session (Permission denied)" \
	grep -q "pam_open_session: Permission denied" "$o.out"
check "agent not allowed to run as root: the audit file says why" \
	grep -q "\"event\":\"credential_placed\",\"result\":\"failed\".*agents/norunas\".*may not run as root through $svc: no run_as for it in \[agent spiffe://example.org/agents/norunas\]" "$work/audit.log"

# ---- a write-class agent on an escalate service: refused by the policy -------------------
# The auth phase makes the account phase's decision too (docs/configuration.md,
# "Changed during a transaction"), so the refusal comes at authentication
# ("1 incorrect password attempt" from sudo), before sudo asks the account.
o=$work/box/writer
as_agent writer "$o"
check "write-class agent: sudo exits non-zero" test "$rc" != 0
check "write-class agent: the command did not run" test ! -e "$o/ran"
check "write-class agent: refused by the policy, max_class write (audit file)" \
	grep -q "\"event\":\"authenticate\",\"result\":\"failed\".*agents/writer\".*service $svc needs class escalate, above max_class write" "$work/audit.log"
check "write-class agent: no session was opened" \
	sh -c '! grep -q "\"event\":\"credential_placed\".*agents/writer\"" "$1"' sh "$work/audit.log"

# ---- a task's budget through sudo: task.max_sessions = 1 ---------------------------------
as_agent budget "$work/box/budget1" --claim task=T-sudo
check "task budget: the first sudo of task T-sudo runs the command" \
	test "$rc" = 0 -a -e "$work/box/budget1/ran"
as_agent budget "$work/box/budget2" --claim task=T-sudo
check "task budget: the second sudo of the task is refused, nothing runs" \
	test "$rc" != 0 -a ! -e "$work/box/budget2/ran"
check "task budget: the refusal is task_budget_exceeded (audit file)" \
	grep -q "agents/budget\".*task_budget_exceeded: max_sessions 1" "$work/audit.log"
as_agent budget "$work/box/budget3" --claim task=T-other
check "task budget: another task of the same agent still runs" \
	test "$rc" = 0 -a -e "$work/box/budget3/ran"

# what sudo does with PAM, as the module saw it (docs/applications.md)
check "sudo: authenticate sees PAM_USER = the invoking user" \
	grep -q "\"event\":\"authenticate\",.*\"agent\":\"spiffe://example.org/agents/esc\".*\"user\":\"$tuser\"" "$work/audit.log"
check "sudo: the session phase sees PAM_USER = the run-as user (root), in the same process" \
	sh -c 'a=$(grep "\"event\":\"authenticate\",.*agents/esc\"" "$1" | sed "s/.*\"pid\":\([0-9]*\).*/\1/")
		grep "\"pid\":$a,.*agents/esc\"" "$1" | grep -v "\"event\":\"authenticate\"\|\"event\":\"decision\"" |
		grep -q "\"user\":\"root\""' sh "$work/audit.log"
check "no session of the test is left" no_sessions "$PAM_AGENT" "$CONF"
pa_summary
