#!/bin/sh
# Root-only: the module under the distribution's own OpenSSH sshd (UsePAM
# yes, privilege separation), logged into with the real ssh client, for
# keyboard-interactive and for password authentication (docs/applications.md
# says which sshd process runs which PAM phase):
#  - a private sshd on 127.0.0.1 (a free port, its own sshd_config and host
#    key, its own PAM service: sshd names its PAM service after its argv[0],
#    so it runs through a symlink named like the /etc/pam.d file);
#  - inside the session PAM_AGENT_SESSION is set, each key reads back with
#    `keyctl print`, and the same uid in another session keyring cannot
#    read it; after logout the keys are revoked and `pam-agent sessions`
#    lists nothing;
#  - expired, other-audience and replayed tokens are refused;
#  - keyboard-interactive authenticates in a forked child of sshd's monitor:
#    the identity reaches the monitor through the hand-off record
#    (docs/handoff.md), whose handle never
#    reaches the session's environment; a handle planted in the PAM
#    environment (pam_env.so reading a file of the test, standing for any
#    module or file that sets PAM environment variables) is refused for
#    keyboard-interactive and ignored for password logins: a forged one, a
#    replayed one (captured by pam_exec, taken by its own login), and a live
#    one leaked from another connection; and a handle removed on its way
#    to the monitor (pam_env unsetting it) refuses the login too.
. "$(dirname "$0")/lib.sh"
pa_root_require "root_sshd.sh" keyctl useradd userdel setpriv ssh ssh-keygen ss timeout
if [ ! -x /usr/sbin/sshd ]; then
	echo "SKIP: root_sshd.sh needs /usr/sbin/sshd (scripts/deps.sh installs openssh-server)"
	exit 77
fi
. "$(dirname "$0")/apps.sh"

AUD=spiffe://example.org/host/root-sshd

pa_root_work root-sshd
pa_apps_user
tag=t$$
CONF=$work/pam_agent.conf

# ---- trust domain, secrets, policy, PAM service ------------------------------------------
pa_testca
umask 077
printf 'S3CR3T-one-%s\n' "$(rnd)" > "$work/one.secret"
printf 'S3CR3T-two-%s\n' "$(rnd)" > "$work/two.secret"
umask 022
# pam_env first: its setcred puts whatever $work/planted.env holds into the
# PAM environment before pam_agent's setcred (empty but for the abuse case)
: > "$work/planted.env"
: > "$work/empty.conf"
chmod 0644 "$work/planted.env" "$work/empty.conf"
# pam_exec after the account line: writes down each hand-off handle the
# account phase made (in sshd's authentication child for
# keyboard-interactive), the way a leak would reveal one
cat > "$work/capture" <<EOF
#!/bin/sh
[ -n "\${PAM_AGENT_HANDOFF:-}" ] && echo "\$PAM_AGENT_HANDOFF" >> "$work/captured"
exit 0
EOF
chmod 0755 "$work/capture"
svc=$(pa_root_service "auth optional pam_env.so conffile=$work/empty.conf envfile=$work/planted.env
auth required @MODULE@ config=$CONF
account required @MODULE@ config=$CONF
account optional pam_exec.so quiet $work/capture
session optional pam_keyinit.so force revoke
session required @MODULE@ config=$CONF")
G1=one_$tag G2=two_$tag
{
	pa_policy_head single_use=yes replay_dir="$work/replay" state_dir="$work/state" \
		audit_log="$work/audit.log" helper="$HELPER"
	pa_section "service $svc" class=read
	pa_section "grant $G1" class=read source=file path="$work/one.secret" ttl=10m
	pa_section "grant $G2" class=read source=file path="$work/two.secret" ttl=10m
	pa_section "agent spiffe://example.org/agents/sshbot" users="$tuser" services="$svc" \
		grants="$G1 $G2"
	# caller attestation binds local callers only: a remote login has none
	pa_section "agent spiffe://example.org/agents/sshrt" users="$tuser" services="$svc" \
		runtime.uid=0
	# one session per task (docs/tasks.md)
	pa_section "agent spiffe://example.org/agents/sshtask" users="$tuser" services="$svc" \
		task.max_sessions=1
} | pa_write "$CONF"
pa_check_conf "$CONF"
# mint FILE [ARGS...]: a token of the agent, root-only, in FILE
mint() {
	f=$1
	shift
	(umask 077 && "$PAM_AGENT" testca mint "$work/ca" --id spiffe://example.org/agents/sshbot "$@" > "$f")
}

# ---- the private sshd --------------------------------------------------------------------------------
ssh-keygen -q -t ed25519 -N '' -C pam-agent-test -f "$work/hostkey"
pa_apps_session_files

pa_apps_sshd_up "$svc" "MaxAuthTries 3" "LoginGraceTime 60" "LogLevel DEBUG3"


witness=$(keyctl newring pa-witness @s)
pa_root_track_key "$witness"

# ---- a login with credentials, per method ------------------------------------------------------------
# session_case METHOD [NAME]
session_case() {
	m=$1
	o=$work/out.$m${2:+.$2}
	mkdir -m 0700 "$o"
	chown "$tuser:" "$o"
	mint "$work/tok.$m" --aud "$AUD"
	pa_apps_login "$m" "$work/tok.$m" "$work/in-session" "$o" "$G1" "$G2" > "$o.ssh" 2>&1 &
	sp=$!
	pa_root_track_pid "$sp"
	if wait_for "$o/ready" "$sp"; then
		for g in "$G1" "$G2"; do
			s=$(cat "$o/serial.$g")
			pa_root_track_key "$s"
			keyctl link "$s" "$witness" 2>/dev/null
			# the same uid, while the session runs, in another session
			# keyring (made by root: a keyring of the test user's own
			# would count against its uid's key quota)
			keyctl session - setpriv --reuid="$tuid" --regid="$tgid" --clear-groups \
				keyctl print "$s" > "$o/other.$g" 2>&1
			echo $? >> "$o/other.$g"
		done
	fi
	check "$m: PAM_AGENT_SESSION is set in the ssh session" \
		grep -Eqs '^[A-Za-z0-9_-]{8,}$' "$o/sid"
	check "$m: no PAM_AGENT_HANDOFF in the session's environment" \
		sh -c '[ -e "$1" ] && [ ! -s "$1" ]' sh "$o/handoff"
	check "$m: the session reads key $G1 (keyctl print)" \
		test "$(cat "$o/read.$G1" 2>/dev/null)" = "$(tr -d '\n' < "$work/one.secret")"
	check "$m: the session reads key $G2 (keyctl print)" \
		test "$(cat "$o/read.$G2" 2>/dev/null)" = "$(tr -d '\n' < "$work/two.secret")"
	# today and after issue 12 alike: a command that runs has its keys
	check "$m: no command runs in a session without its credentials" \
		sh -c '[ ! -e "$1/ready" ] || [ "$(cat "$1/read.$2" 2>/dev/null)" = "$(tr -d "\n" < "$3")" ]' \
		sh "$o" "$G1" "$work/one.secret"
	for g in "$G1" "$G2"; do
		check "$m: the same user in another session keyring cannot read key $g" \
			sh -c '[ -s "$1" ] && [ "$(tail -n1 "$1")" != 0 ] && grep -q "Permission denied" "$1"' sh "$o/other.$g"
	done
	: > "$o/go"
	wait "$sp"
	rc=$?
	check "$m: the ssh login exits 0" test "$rc" = 0
	if [ "$rc" != 0 ]; then
		echo "    ssh exited $rc: $(tr '\n' ' ' < "$o.ssh")"
		grep -E "pam_agent|PAM:" "$work/sshd.log" | tail -n 4 | sed 's/^/    sshd: /'
	fi
	# sshd's monitor closes the PAM session once the connection is gone
	check "$m: after logout pam-agent sessions lists nothing" no_sessions "$PAM_AGENT" "$CONF"
	check "$m: after logout key $G1 is revoked" revoked "$(cat "$o/serial.$G1" 2>/dev/null || echo 0)"
	check "$m: after logout key $G2 is revoked" revoked "$(cat "$o/serial.$G2" 2>/dev/null || echo 0)"
}

# refused NAME METHOD TOKEN-FILE: the login fails at authentication and
# runs nothing
refused() {
	name=$1 m=$2 t=$3
	rm -f "$work/box/ran"
	pa_apps_login "$m" "$t" "touch $work/box/ran" > "$work/refused.out" 2>&1
	rc=$?
	if [ "$rc" = 255 ] && grep -q "Permission denied" "$work/refused.out" && [ ! -e "$work/box/ran" ]; then
		pass "$name"
	else
		fail "$name: ssh exited $rc: $(tr '\n' ' ' < "$work/refused.out")"
	fi
}

session_case password
session_case keyboard-interactive
kbd_handle=$(tail -n 1 "$work/captured" 2>/dev/null)
check "keyboard-interactive: the identity came from sshd's authentication child" \
	grep -q "identity handed over from the account phase of process" "$work/audit.log"
check "no hand-off record is left after the logins" \
	sh -c '[ -z "$(ls -A "$1" | grep -v "\.used$")" ]' sh "$work/state/handoff"
# a refused login's command would leave a mark here
mkdir -m 0700 "$work/box"
chown "$tuser:" "$work/box"

for m in keyboard-interactive password; do
	mint "$work/expired.$m" --aud "$AUD" --now $(($(date +%s) - 7200)) --ttl 5m
	refused "$m: an expired token is refused" "$m" "$work/expired.$m"
	mint "$work/other.$m" --aud spiffe://example.org/host/other
	refused "$m: a token for another audience is refused" "$m" "$work/other.$m"
	# the token of the session case above: authentication accepted it once
	refused "$m: a replayed token is refused" "$m" "$work/tok.$m"
	(umask 077 && "$PAM_AGENT" testca mint "$work/ca" --id spiffe://example.org/agents/sshrt \
		--aud "$AUD" > "$work/rt.$m")
	refused "$m: a runtime.* rule refuses a remote login" "$m" "$work/rt.$m"
done
# a task's budget: the first login of a task runs, the second is refused
for m in keyboard-interactive password; do
	(umask 077 && "$PAM_AGENT" testca mint "$work/ca" --id spiffe://example.org/agents/sshtask \
		--aud "$AUD" --claim task="T-$m" > "$work/task1.$m")
	(umask 077 && "$PAM_AGENT" testca mint "$work/ca" --id spiffe://example.org/agents/sshtask \
		--aud "$AUD" --claim task="T-$m" > "$work/task2.$m")
	check "$m: the first login of a task with task.max_sessions = 1 runs" \
		pa_apps_login "$m" "$work/task1.$m" true
	# refused at the account phase: keyboard-interactive runs it in sshd's
	# authentication child ("Permission denied"), password in the monitor,
	# which then disconnects without that line; either way nothing runs
	rm -f "$work/box/ran"
	pa_apps_login "$m" "$work/task2.$m" "touch $work/box/ran" > "$work/task2.$m.out" 2>&1
	rc=$?
	check "$m: the task's second login is refused (ssh exits $rc), nothing runs" \
		test "$rc" = 255 -a ! -e "$work/box/ran"
done
check "the task refusals are task_budget_exceeded, for both methods" \
	test "$(grep -c 'agents/sshtask".*task_budget_exceeded: max_sessions 1' "$work/audit.log")" -ge 2
check "the runtime.* refusals say why (no local caller to attest), for both methods" \
	test "$(grep -c '"result":"failed".*agents/sshrt".*a remote login from 127.0.0.1: there is no local caller to attest' "$work/audit.log")" -ge 2

# ---- hand-off abuse: a handle planted in the PAM environment -----------------------------------------
# planted NAME HANDLE AUDIT-TEXT: a keyboard-interactive login with HANDLE
# planted over its own (into the monitor's PAM environment by pam_env's
# setcred) is refused, nothing runs, the audit says why
planted() {
	printf 'PAM_AGENT_HANDOFF=%s\n' "$2" > "$work/planted.env"
	mint "$work/tok.planted" --aud "$AUD"
	rm -f "$work/box/ran"
	pa_apps_login keyboard-interactive "$work/tok.planted" "touch $work/box/ran" > "$work/planted.out" 2>&1
	rc=$?
	check "keyboard-interactive: $1 refuses the login, nothing runs" \
		sh -c '[ "$1" != 0 ] && [ ! -e "$2" ]' sh "$rc" "$work/box/ran"
	check "keyboard-interactive: $1 is refused in the audit file: $3" \
		grep -q "identity hand-off $(printf '%.8s' "$2")[^ ]* refused: $3" "$work/audit.log"
}
# a well-formed handle that names no record
planted "a planted (forged) handle" "$(rnd 16)" "no such hand-off record"
# that login's own handle, never taken (the planted one replaced it): live
# for a minute, and now known to whoever read it
leaked=$(tail -n 1 "$work/captured" 2>/dev/null)
check "the account phases' handles were captured" \
	sh -c '[ ${#1} = 32 ] && [ ${#2} = 32 ] && [ "$1" != "$2" ]' sh "$kbd_handle" "$leaked"
planted "the handle of an earlier login (taken then)" "$kbd_handle" "it was already used (a replay)"
planted "a live handle of another connection" "$leaked" \
	"presented by process [0-9]*, which is not the parent"
# a password login has its identity in the monitor: the planted handle is
# ignored and never reaches the session
session_case password planted
printf '' > "$work/planted.env"

# ---- the handle removed on its way to the monitor (docs/handoff.md) -----------------------------------
# a ~/.pam_environment read by pam_env user_readenv=1 can unset
# PAM_AGENT_HANDOFF in the monitor's setcred; pam_env's conffile here does
# the same. The monitor then has neither identity nor handle: before the
# marker it opened the agent's login as a non-agent session (no keys, no
# max_session, no audit); now the record's marker names it, and it refuses
echo 'PAM_AGENT_HANDOFF DEFAULT= OVERRIDE=' > "$work/empty.conf"
mint "$work/tok.unset" --aud "$AUD"
rm -f "$work/box/ran"
pa_apps_login keyboard-interactive "$work/tok.unset" "touch $work/box/ran" > "$work/unset.out" 2>&1
rc=$?
check "keyboard-interactive: the handle removed from the monitor's PAM environment refuses the login, nothing runs" \
	sh -c '[ "$1" != 0 ] && [ ! -e "$2" ]' sh "$rc" "$work/box/ran"
check "the missing handle is refused with its reason in the audit file" \
	grep -q "hand-off handle is missing from the PAM environment" "$work/audit.log"
: > "$work/empty.conf"

check "the audit file names the service sshd ran as (its argv[0])" \
	grep -q "\"service\":\"$svc\"" "$work/audit.log"
check "the audit file records the replay refusals" grep -qi "replay" "$work/audit.log"
pa_apps_stop "$sshd_pid"
check "the private sshd is stopped" sh -c '! kill -0 "$1" 2>/dev/null' sh "$sshd_pid"
pa_summary
