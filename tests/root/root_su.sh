#!/bin/sh
# Root-only: the module under util-linux su (docs/applications.md: su runs
# pam_authenticate, pam_acct_mgmt, pam_setcred and pam_open_session in one
# process with PAM_USER = the target user and PAM_RUSER = the invoking
# one, forks the command after the session is open and closes it when the
# command ends). `su - USER -c CMD` with the token answered through su's
# conversation (misc_conv, from stdin); the command reads its key, which is
# revoked when su exits.
#
# su's PAM service name is fixed ("su-l" for `su -`), so the test's lines go
# into /etc/pam.d/su-l, scoped to the test user (everyone else meets the
# unchanged stack): in a private mount namespace over a bind mount when the
# kernel allows one (nothing under /etc changes), else in place, restored on
# every exit path.
. "$(dirname "$0")/lib.sh"
pa_root_require "root_su.sh" keyctl useradd userdel su
. "$(dirname "$0")/apps.sh"

AUD=spiffe://example.org/host/root-su
SVC=su-l

pa_root_work root-su
pa_apps_user
tag=t$$
CONF=$work/pam_agent.conf
G=g_$tag

pa_testca
umask 077
printf 'S3CR3T-su-%s\n' "$(rnd)" > "$work/grant.secret"
umask 022
{
	pa_policy_head state_dir="$work/state" audit_log="$work/audit.log" helper="$HELPER"
	pa_section "service $SVC" class=read
	pa_section "grant $G" class=read source=file path="$work/grant.secret" ttl=10m
	pa_section "agent spiffe://example.org/agents/subot" users="$tuser" services="$SVC" grants="$G"
} | pa_write "$CONF"
pa_check_conf "$CONF"

# the test's su-l: its lines for the test user only, then the original file
[ -f /etc/pam.d/$SVC ] || { echo "SKIP: root_su.sh: no /etc/pam.d/$SVC"; exit 77; }
{
	printf 'auth [success=ignore default=1] pam_succeed_if.so quiet user = %s\n' "$tuser"
	printf 'auth [success=done default=die] %s config=%s\n' "$PA_MODULE" "$CONF"
	printf 'account [success=ignore default=1] pam_succeed_if.so quiet user = %s\n' "$tuser"
	printf 'account [success=done default=die] %s config=%s\n' "$PA_MODULE" "$CONF"
	printf 'session [success=ignore default=2] pam_succeed_if.so quiet user = %s\n' "$tuser"
	printf 'session optional pam_keyinit.so force revoke\n'
	printf 'session [success=done default=die] %s config=%s\n' "$PA_MODULE" "$CONF"
	cat /etc/pam.d/$SVC
} > "$work/su-l"
chmod 0644 "$work/su-l"
# run_su CMD...: su with the test's su-l, as root, stdin the token
if [ "${PA_SU_IN_PLACE:-0}" != 1 ] && unshare -m --propagation private true 2>/dev/null; then
	echo "NOTE: /etc/pam.d/$SVC replaced in a private mount namespace only"
	ns=1
	run_su() {
		unshare -m --propagation private sh -c 'mount --bind "$1" /etc/pam.d/su-l && shift && exec "$@"' \
			sh "$work/su-l" "$@"
	}
else
	echo "NOTE: no private mount namespace; /etc/pam.d/$SVC changed in place and restored at exit"
	ns=0
	pa_apps_backup /etc/pam.d/$SVC || { echo "FAIL: cannot back up /etc/pam.d/$SVC"; exit 1; }
	cp "$work/su-l" /etc/pam.d/$SVC.pa-test.$$ && mv -f /etc/pam.d/$SVC.pa-test.$$ /etc/pam.d/$SVC
	run_su() { "$@"; }
fi

cat > "$work/in-session" <<'EOF'
#!/bin/sh
out=$1 g=$2
id -u > "$out/uid"
echo "$PAM_AGENT_SESSION" > "$out/sid"
keyctl print "%user:pam_agent:$g" > "$out/read" 2>&1
keyctl search @s user "pam_agent:$g" > "$out/serial" 2>&1
: > "$out/ready"
n=0
while [ ! -e "$out/go" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
EOF
chmod 0755 "$work/in-session"
o=$work/out
mkdir -m 0700 "$o"
chown "$tuser:" "$o"
(umask 077 && pa_mint subot "$AUD" > "$work/token")

witness=$(keyctl newring pa-witness @s)
pa_root_track_key "$witness"
run_su su - "$tuser" -c "$work/in-session $o $G" < "$work/token" > "$work/su.out" 2>&1 &
sp=$!
pa_root_track_pid "$sp"
if wait_for "$o/ready" "$sp"; then
	serial=$(grep -Es '^[0-9]+$' "$o/serial")
	if [ -n "$serial" ]; then
		pa_root_track_key "$serial"
		keyctl link "$serial" "$witness"
	fi
fi
check "su: the command runs as the test user" test "$(cat "$o/uid" 2>/dev/null)" = "$(id -u "$tuser")"
check "su: PAM_AGENT_SESSION is set in the session" grep -Eqs '^[A-Za-z0-9_-]{8,}$' "$o/sid"
check "su: the session reads its key (keyctl print)" \
	test "$(cat "$o/read" 2>/dev/null)" = "$(tr -d '\n' < "$work/grant.secret")"
: > "$o/go"
wait "$sp"
rc=$?
check "su exits 0" test "$rc" = 0 || sed 's/^/    /' "$work/su.out"
check "su: pam-agent sessions lists nothing after su exits" no_sessions "$PAM_AGENT" "$CONF"
check "su: the key is revoked at exit" revoked "${serial:-0}"
check "su: authenticate and the session ran in one process, PAM_USER the target user" \
	sh -c 'p=$(grep -c "\"event\":\"authenticate\",\"result\":\"ok\".*\"user\":\"$2\"" "$1") && [ "$p" = 1 ] &&
		[ "$(grep "\"user\":\"$2\"" "$1" | sed "s/.*\"pid\":\([0-9]*\).*/\1/" | sort -u | wc -l)" = 1 ]' \
	sh "$work/audit.log" "$tuser"
[ "$ns" = 1 ] && check "the real /etc/pam.d/$SVC has no line of the test" \
	sh -c '! grep -q "$1" /etc/pam.d/su-l' sh "$work/pam_agent"
pa_summary
