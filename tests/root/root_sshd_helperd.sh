#!/bin/sh
# Root-only: sshd logins whose credentials are placed by pam_agent_helperd
# (helper_socket; docs/helper.md, "The helper service") instead of a
# spawned helper. The service is started by the test with --listen in a
# root-only directory of its own; a private sshd (pa_apps_sshd) runs the
# module. For keyboard-interactive and for password: the session reads its
# file and mint keys, the helper (a counting wrapper named by helper =)
# never runs, the keys are revoked after logout; the login's request was
# served by one of the two spares that waited before it, gone after it.
# With the service stopped (no child of it left) the login gets no
# session (fail closed) and sshd's log names the socket.
. "$(dirname "$0")/lib.sh"
pa_root_require "root_sshd_helperd.sh" keyctl useradd userdel ssh ssh-keygen ss timeout
if [ ! -x /usr/sbin/sshd ]; then
	echo "SKIP: root_sshd_helperd.sh needs /usr/sbin/sshd (scripts/deps.sh installs openssh-server)"
	exit 77
fi
need_built "$HELPERD"
. "$(dirname "$0")/apps.sh"

AUD=spiffe://example.org/host/root-sshd-helperd
pa_root_work root-sshd-helperd
pa_apps_user
tag=h$$
CONF=$work/pam_agent.conf
sock=$work/run/helperd.sock

pa_testca
umask 077
printf 'S3CR3T-hd-%s\n' "$(rnd)" > "$work/one.secret"
umask 022
cat > "$work/helper" <<EOF
#!/bin/sh
echo run >> "$work/helper.runs"
exec "$HELPER"
EOF
chmod 0755 "$work/helper"
svc=$(pa_root_service "auth required @MODULE@ config=$CONF
account required @MODULE@ config=$CONF
session required @MODULE@ config=$CONF")
G1=file_$tag G2=mint_$tag
{
	pa_policy_head state_dir="$work/state" audit_log="$work/audit.log" \
		helper="$work/helper" helper_socket="$sock" broker_key="$work/ca/signing.key"
	pa_section "service $svc" class=read
	pa_section "grant $G1" class=read source=file path="$work/one.secret" ttl=10m
	pa_section "grant $G2" class=read source=mint audience=https://tickets.example.org ttl=10m
	pa_section "agent spiffe://example.org/agents/sshbot" users="$tuser" services="$svc" \
		grants="$G1 $G2"
} | pa_write "$CONF"
pa_check_conf "$CONF"

mkdir -m 0700 "$work/run"
pa_helperd_start "$sock" "$CONF"
pa_apps_track_daemon "$hd"
# alive PID...: how many of PID are alive
alive() {
	a_n=0
	for a_pid in "$@"; do kill -0 "$a_pid" 2>/dev/null && a_n=$((a_n + 1)); done
	echo "$a_n"
}

ssh-keygen -q -t ed25519 -N '' -C pam-agent-test -f "$work/hostkey"
pa_apps_session_files
pa_apps_sshd_up "$svc" "MaxAuthTries 3" "LoginGraceTime 60"

mint() {
	(umask 077 && "$PAM_AGENT" testca mint "$work/ca" --id spiffe://example.org/agents/sshbot \
		--aud "$AUD" > "$1")
}
witness=$(keyctl newring pa-hd-witness @s)
pa_root_track_key "$witness"

for m in keyboard-interactive password; do
	o=$work/out.$m
	mkdir -m 0700 "$o"
	chown "$tuser:" "$o"
	mint "$work/tok.$m"
	wait_children 2
	children > "$work/spares.$m"
	pa_apps_login "$m" "$work/tok.$m" "$work/in-session" "$o" "$G1" "$G2" > "$o.ssh" 2>&1 &
	sp=$!
	pa_root_track_pid "$sp"
	if wait_for "$o/ready" "$sp"; then
		for g in "$G1" "$G2"; do
			s=$(cat "$o/serial.$g")
			pa_root_track_key "$s"
			keyctl link "$s" "$witness" 2>/dev/null
		done
	fi
	check "$m: the session reads the file key" \
		test "$(cat "$o/read.$G1" 2>/dev/null)" = "$(tr -d '\n' < "$work/one.secret")"
	check "$m: the session reads the minted token" grep -q "^eyJ" "$o/read.$G2"
	: > "$o/go"
	wait "$sp"
	rc=$?
	check "$m: the ssh login exits 0" test "$rc" = 0
	[ "$rc" = 0 ] || echo "    ssh exited $rc: $(tr '\n' ' ' < "$o.ssh")"
	check "$m: after logout pam-agent sessions lists nothing" no_sessions "$PAM_AGENT" "$CONF"
	check "$m: after logout the file key is revoked" revoked "$(cat "$o/serial.$G1" 2>/dev/null || echo 0)"
	check "$m: after logout the minted key is revoked" revoked "$(cat "$o/serial.$G2" 2>/dev/null || echo 0)"
	check "$m: the helper never ran (the service placed the keys)" \
		test "$(lines "$work/helper.runs")" -eq 0
	# one request per login (file and mint grants tell no broker at the close)
	check "$m: a spare that waited before the login served it and is gone" \
		sh -c 'test "$(wc -l < "$1")" -eq 2 && test "$2" -eq 1' sh "$work/spares.$m" \
		"$(alive $(cat "$work/spares.$m"))"
	check "$m: two spares wait again" wait_children 2
done

# ---- the service stopped: no session -------------------------------------------------------
children > "$work/children.stop"
kill -TERM "$hd"
wait "$hd" 2>/dev/null
check "down: the spares are gone with the service" \
	sh -c 'test "$(wc -l < "$1")" -eq 2 && test "$2" -eq 0' sh "$work/children.stop" \
	"$(alive $(cat "$work/children.stop"))"
o=$work/out.down
mkdir -m 0700 "$o"
chown "$tuser:" "$o"
mint "$work/tok.down"
pa_apps_login password "$work/tok.down" "touch $o/ran" > "$o.ssh" 2>&1
rc=$?
check "down: the login gets no session (ssh exited $rc)" sh -c '[ "$1" != 0 ] && [ ! -e "$2/ran" ]' \
	sh "$rc" "$o"
check "down: the audit trail names the socket" \
	grep -q "\"event\":\"credential_placed\".*helper service ${sock}: cannot connect" "$work/audit.log"
check "down: no session is left" no_sessions "$PAM_AGENT" "$CONF"
check "down: the helper was not spawned instead" test "$(lines "$work/helper.runs")" -eq 0

pa_summary
