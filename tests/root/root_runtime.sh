#!/bin/sh
# Root-only: caller attestation through real applications
# (docs/attestation.md).
#  - agent-run: a rule with runtime.exe_sha256 of the test's agent (a
#    root-owned script) lets agent-run start it; a copy that differs in one
#    byte is refused, with the reason naming its hash; a symbolic link
#    swapped between the measurement (authentication) and the exec (a
#    pam_exec.so session line swaps it) cannot change what runs: fexecve
#    runs the descriptor that was measured.
#  - sudo: a rule with runtime.exe_sha256 of timeout(1) (a program every
#    user may run, which forks the command and waits) lets sudo through when
#    timeout started it, and refuses it (no command runs) when sh did, with
#    the reason in the audit file.
#  - su: the same for su.
#  - the same cases through `pam-agent explain` agree with the module.
. "$(dirname "$0")/lib.sh"
pa_root_require "root_runtime.sh" keyctl useradd userdel setpriv sudo visudo sha256sum su timeout unshare
. "$(dirname "$0")/apps.sh"

AUD=spiffe://example.org/host/root-runtime

pa_root_work root-runtime
pa_apps_user
CONF=$work/pam_agent.conf
mkdir -m 0755 "$work/tokens" "$work/bin" "$work/box"
chmod 1777 "$work/box"
pa_testca

# the agent: a root-owned script that leaves a marker; its evil twin
# differs in one byte of a comment; the link agent-run is given
printf '#!/bin/sh\n# agent a\n: > "$1/good"\nprintf "%%s %%s" "$0" "$AGENT_RUN_EXE" > "$1/name"\n' > "$work/bin/agent"
printf '#!/bin/sh\n# agent b\n: > "$1/evil"\n' > "$work/bin/evil"
chmod 0755 "$work/bin/agent" "$work/bin/evil"
ln -s agent "$work/bin/link"
agent_sha=$(sha256sum < "$work/bin/agent" | cut -d' ' -f1)
evil_sha=$(sha256sum < "$work/bin/evil" | cut -d' ' -f1)
# the parent the sudo and su rules name: timeout(1) forks its command and waits
t_exe=$(readlink -f "$(command -v timeout)")
t_sha=$(sha256sum < "$t_exe" | cut -d' ' -f1)
# the pam_exec.so session line: swaps the link after the measurement
printf '#!/bin/sh\nln -sfn evil %s/bin/link\n' "$work" > "$work/swap"
chmod 0755 "$work/swap"

ar_svc=$(pa_root_service "auth required @MODULE@ config=$CONF agent_run=$AGENT_RUN
account required @MODULE@ config=$CONF agent_run=$AGENT_RUN
session required @MODULE@ config=$CONF agent_run=$AGENT_RUN")
sudo_svc=$(pa_root_service "auth required @MODULE@ config=$CONF token_file=$work/tokens/%u
account required @MODULE@ config=$CONF
session required @MODULE@ config=$CONF")
cat > "$CONF" <<EOF
[global]
audience = $AUD
state_dir = $work/state
audit_log = $work/audit.log
helper = $B/pam_agent_helper
[trust_domain example.org]
bundle = $work/ca/bundle.json
[service $ar_svc]
class = read
[service $sudo_svc]
class = escalate
[agent spiffe://example.org/agents/runner]
users = $tuser
services = $ar_svc
runtime.exe_sha256 = $agent_sha
[agent spiffe://example.org/agents/esc]
users = $tuser
services = $sudo_svc
max_class = escalate
run_as = $sudo_svc:root
runtime.exe_sha256 = $t_sha
EOF
chmod 0644 "$CONF"
"$PAM_AGENT" check --config "$CONF" > "$work/check.out" 2>&1 ||
	{ echo "FAIL: pam-agent check refused the test configuration:"; sed 's/^/    /' "$work/check.out"; exit 1; }

mint() { # mint AGENT: a fresh token on stdout
	pa_mint "$1" "$AUD"
}

# ---- agent-run: the workload it measured is what runs ----------------------------------
# run_ar NAME CMD: agent-run as root for the test user, the token on fd 3
run_ar() {
	o=$work/box/$1
	mkdir -m 0777 "$o"
	mint runner > "$work/token.$1"
	"$AGENT_RUN" --service "$ar_svc" --user "$tuser" --token-fd 3 -- "$2" "$o" \
		3< "$work/token.$1" < /dev/null > "$o.out" 2>&1
	rc=$?
	echo "    agent-run $1 exited $rc: $(tr '\n' ' ' < "$o.out")"
}

cp -p "$work/bin/agent" "$work/bin/plain"
run_ar allowed "$work/bin/plain"
check "agent-run: the agent whose SHA-256 the rule names runs" test "$rc" = 0 -a -e "$o/good"
check "agent-run: the script runs as /dev/fd/3 and finds its path in AGENT_RUN_EXE" \
	test "$(cat "$o/name" 2>/dev/null)" = "/dev/fd/3 $work/bin/plain"
check "agent-run: the audit event names the workload and its hash" \
	grep -q "\"event\":\"decision\",\"result\":\"allow\".*\"runtime\":{\"subject\":\"workload\",\"exe\":\"$work/bin/plain\",\"exe_sha256\":\"$agent_sha\"" "$work/audit.log"

run_ar twin "$work/bin/evil"
check "agent-run: a copy that differs in one byte is refused (exit 77), nothing runs" \
	test "$rc" = 77 -a ! -e "$o/evil"
check "agent-run: the refusal names the copy's hash" \
	grep -q "the workload's executable $work/bin/evil has SHA-256 $evil_sha, not one of the runtime.exe_sha256" "$work/audit.log"

chown "$tuser:" "$work/bin/plain"
run_ar notroot "$work/bin/plain"
check "agent-run: an agent the user could rewrite before the exec is refused" \
	test "$rc" = 77 -a ! -e "$o/good"
check "agent-run: ... with the reason" \
	grep -q "the workload's executable $work/bin/plain can change before it runs (owner uid $tuid" "$work/audit.log"

printf 'session optional pam_exec.so quiet %s/swap\n' "$work" >> "/etc/pam.d/$ar_svc"
run_ar swapped "$work/bin/link"
check "agent-run: the link was swapped during the transaction (pam_exec)" \
	test "$(readlink "$work/bin/link")" = evil
check "agent-run: what was measured ran, not what the link names at exec time" \
	test "$rc" = 0 -a -e "$o/good" -a ! -e "$o/evil"

# ---- sudo: started by timeout (allowed) or by sh (refused) --------------------------------
drop=/etc/sudoers.d/pam-agent-test-$$-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
cat > "$work/sudoers" <<EOF
Defaults:$tuser pam_service=$sudo_svc, timestamp_timeout=0, passwd_tries=1, !lecture
$tuser ALL=(root) $work/cmd
EOF
chmod 0440 "$work/sudoers"
visudo -cq -f "$work/sudoers" || { echo "FAIL: visudo refuses the test drop-in"; exit 1; }
pa_root_track "$drop"
cp -p "$work/sudoers" "$drop"
printf '#!/bin/sh\n: > "$1/ran"\n' > "$work/cmd"
chmod 0755 "$work/cmd"

# sudo_from PARENT NAME: PARENT (timeout or sh) runs sudo as the test user
sudo_from() {
	o=$work/box/$2
	mkdir -m 0777 "$o"
	(umask 077 && mint esc > "$work/tokens/$tuser")
	chown "$tuser:" "$work/tokens/$tuser"
	if [ "$1" = timeout ]; then
		setpriv --reuid="$tuid" --regid="$tgid" --init-groups timeout 60 \
			sudo -u root -- "$work/cmd" "$o" < /dev/null > "$o.out" 2>&1
	else
		setpriv --reuid="$tuid" --regid="$tgid" --init-groups sh -c \
			'sudo -u root -- "$@"; exit $?' sh "$work/cmd" "$o" < /dev/null > "$o.out" 2>&1
	fi
	rc=$?
	echo "    sudo from $1 exited $rc: $(tr '\n' ' ' < "$o.out")"
}
sudo_from timeout t
check "sudo started by the timeout the rule names: the command ran" test "$rc" = 0 -a -e "$o/ran"
check "sudo: the audit event carries the caller's uid and hash" \
	grep -q "\"event\":\"authenticate\",\"result\":\"ok\".*\"runtime\":{\"subject\":\"caller\",\"exe\":\"$t_exe\",\"exe_sha256\":\"$t_sha\",\"uid\":$tuid" "$work/audit.log"
sudo_from sh sh
check "sudo started by sh: refused, the command did not run" test "$rc" != 0 -a ! -e "$o/ran"
sh_exe=$(readlink -f /bin/sh)
check "sudo started by sh: the reason names sh's executable and hash" \
	grep -q "\"event\":\"authenticate\",\"result\":\"failed\".*the caller's executable $sh_exe has SHA-256 $(sha256sum < "$sh_exe" | cut -d' ' -f1), not one of the runtime.exe_sha256" "$work/audit.log"

# ---- su: started by sh (refused) or by timeout (allowed) ------------------------------------
# su's service name is fixed (su-l for `su -`): the test's su-l (its lines
# for the test user only, then the original) is bind-mounted in a private
# mount namespace, as tests/root/root_su.sh does; nothing under /etc changes
cat >> "$CONF" <<EOF
[service su-l]
class = write
[agent spiffe://example.org/agents/su-agent]
users = $tuser
services = su-l
max_class = write
runtime.exe_sha256 = $t_sha
EOF
{
	printf 'auth [success=ignore default=1] pam_succeed_if.so quiet user = %s\n' "$tuser"
	printf 'auth [success=done default=die] %s config=%s token_file=%s/tokens/%%u\n' "$PA_MODULE" "$CONF" "$work"
	printf 'account [success=ignore default=1] pam_succeed_if.so quiet user = %s\n' "$tuser"
	printf 'account [success=done default=die] %s config=%s\n' "$PA_MODULE" "$CONF"
	printf 'session [success=ignore default=1] pam_succeed_if.so quiet user = %s\n' "$tuser"
	printf 'session [success=done default=die] %s config=%s\n' "$PA_MODULE" "$CONF"
	cat /etc/pam.d/su-l
} > "$work/su-l"
chmod 0644 "$work/su-l"
# su_from PARENT NAME: PARENT (timeout or sh) runs `su - USER -c CMD` as root
su_from() {
	o=$work/box/$2
	mkdir -m 0777 "$o"
	(umask 077 && mint su-agent > "$work/tokens/$tuser")
	chown "$tuser:" "$work/tokens/$tuser"
	if [ "$1" = timeout ]; then
		set -- timeout 60
	else
		set -- sh -c '"$@"; exit $?' sh
	fi
	unshare -m --propagation private sh -c 'mount --bind "$1" /etc/pam.d/su-l && shift && exec "$@"' \
		sh "$work/su-l" "$@" su - "$tuser" -c ": > $o/ran" < /dev/null > "$o.out" 2>&1
	rc=$?
	echo "    su exited $rc: $(tr '\n' ' ' < "$o.out")"
}
if [ -f /etc/pam.d/su-l ] && unshare -m --propagation private true 2>/dev/null; then
	su_from sh su-sh
	check "su started by sh: refused, nothing ran" test "$rc" != 0 -a ! -e "$o/ran"
	check "su started by sh: the reason names sh's hash" \
		grep -q "\"event\":\"authenticate\",\"result\":\"failed\".*su-agent.*the caller's executable $sh_exe has SHA-256" "$work/audit.log"
	su_from timeout su-t
	check "su started by the timeout the rule names: the command ran" test "$rc" = 0 -a -e "$o/ran"
else
	echo "SKIP: su part: no /etc/pam.d/su-l or no private mount namespace here (tests/root/root_su.sh covers su itself)"
fi

# ---- explain agrees ------------------------------------------------------------------------------
ex() { "$PAM_AGENT" explain --config "$CONF" --user "$tuser" "$@" > "$work/ex.out" 2>&1; echo $?; }
check "explain: the agent file measured as agent-run does: allow" \
	test "$(ex --id spiffe://example.org/agents/runner --service "$ar_svc" --runtime-workload "$work/bin/agent" --runtime-pid $$)" = 0
check "explain: the one-byte copy: deny, with the module's reason" \
	sh -c 'test "$('"$PAM_AGENT"' explain --config "$1" --user "$2" --id spiffe://example.org/agents/runner --service "$3" --runtime-workload "$4" --runtime-pid $$ > "$5"; echo $?)" = 1 &&
		grep -q "has SHA-256 $6, not one of" "$5"' sh "$CONF" "$tuser" "$ar_svc" "$work/bin/evil" "$work/ex.out" "$evil_sha"
timeout 60 sleep 60 &
tpid=$!
pa_root_track_pid "$tpid"
# the forked shell becomes timeout at its exec: wait for that
n=0
while [ "$(readlink "/proc/$tpid/exe")" != "$t_exe" ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
check "explain: a timeout process as the caller: allow" \
	"$PAM_AGENT" explain --config "$CONF" --user "$tuser" --id spiffe://example.org/agents/esc \
	--service "$sudo_svc" --runtime-pid "$tpid"
kill "$tpid" 2>/dev/null
check "explain: sh as caller: deny" \
	sh -c '"$@" --runtime-pid $$ > /dev/null; test $? = 1' sh \
	"$PAM_AGENT" explain --config "$CONF" --user "$tuser" --id spiffe://example.org/agents/esc --service "$sudo_svc"
check "explain: a remote login: deny, no local caller" \
	sh -c '"$@" > "$0"; test $? = 1 && grep -q "no local caller to attest" "$0"' "$work/ex.out" \
	"$PAM_AGENT" explain --config "$CONF" --user "$tuser" --id spiffe://example.org/agents/esc --service "$sudo_svc" --rhost 192.0.2.7
check "no session of the test is left" no_sessions "$PAM_AGENT" "$CONF"
pa_summary
