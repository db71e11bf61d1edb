#!/bin/sh
# Root-only, run by .ci/run after scripts/deb.sh: the built .debs on this
# machine (docs/deploying.md, "Packages").
#   usage: tests/root/deb_install.sh DEBDIR
#  - dpkg -i of the five packages runs `pam-auth-update --package`: the
#    common-auth, -account, -session and -session-noninteractive files get
#    pam_agent, and in common-auth only behind the `pam_succeed_if ... user
#    ingroup agents` guard;
#  - a human account (password, not in agents) logs in through the common-*
#    files exactly as before the install (right password in, wrong one out;
#    su to it works), with no policy file at all;
#  - an agent account (in the group agents) logs in through them with its
#    token: pamtester through authenticate, account, open and close, and
#    agent-run, inside which tests/pkgconsumer's consumer, built against the
#    installed agentcred.pc, prints its credential;
#  - dpkg -r takes pam_agent out of every common-* file (prerm) while the
#    module is still there; dpkg --purge leaves /etc/pam.d byte for byte
#    as it was, and no timer link in /etc/systemd.
# Changes the real system: skips (77) unless root, when one of the packages
# is already installed, or when /etc/security/pam_agent.conf or the group
# agents exist (not ours to replace). A trap purges the packages, puts
# /etc/pam.d and /var/lib/pam back from the copies taken first, and removes
# what the test made, on every path.
. "$(dirname "$0")/lib.sh"
debdir=$(cd "${1:?usage: deb_install.sh DEBDIR}" && pwd)
pa_root_require "deb_install.sh" dpkg pam-auth-update pamtester useradd groupadd chpasswd su keyctl
PKGS="libpam-agent pam-agent-tools libagentcred0 libagentcred-dev libnss-agent"
for p in $PKGS; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		pa_skip "deb_install.sh: $p is already installed on this machine (not ours to remove)"
	fi
done
[ -e /etc/security/pam_agent.conf ] && pa_skip "deb_install.sh: /etc/security/pam_agent.conf exists (not ours)"
getent group agents >/dev/null && pa_skip "deb_install.sh: the group agents exists (not ours)"
debs=""
for p in $PKGS; do
	f=$(ls "$debdir/${p}_"*.deb 2>/dev/null | head -n 1)
	[ -n "$f" ] || pa_die "no $p .deb in $debdir"
	debs="$debs $f"
done

pa_workdir pam-agent-deb
chmod 0755 "$work"
# the state before: /etc/pam.d and pam-auth-update's own state, copied;
# /etc/pam.d and /etc/systemd/system described (every path, type, mode,
# link target and content hash). The services of root tests
# (pam-agent-test-*, tests/root/lib.sh), this one's and those of another
# test running at the same time, come and go: they are left out.
snap=$work/snap
mkdir -p "$snap"
cp -a /etc/pam.d "$snap/pam.d"
rm -f "$snap/pam.d"/pam-agent-test-*
cp -a /var/lib/pam "$snap/var-lib-pam"
describe() {
	(cd "$1" && find . ! -name 'pam-agent-test-*' -printf '%p %y %m %l\n' | LC_ALL=C sort &&
		find . -type f ! -name 'pam-agent-test-*' -exec sha256sum {} + | LC_ALL=C sort -k2)
}
describe /etc/pam.d > "$snap/pam.d.list"
grep -v " ./common-" "$snap/pam.d.list" > "$snap/pam.d.nocommon"
describe /etc/systemd/system > "$snap/systemd.list" 2>/dev/null
[ -e /run/pam_agent ] && run_existed=1 || run_existed=0
made_group=0

# restore: on every path, before pa_root_cleanup removes the test users
restore() {
	trap '' INT TERM HUP
	# shellcheck disable=SC2086
	dpkg --purge $PKGS > "$work/restore.purge" 2>&1
	if ! describe /etc/pam.d | cmp -s - "$snap/pam.d.list"; then
		echo "deb_install.sh: restoring /etc/pam.d from the copy taken at the start"
		# file by file, each by rename: /etc/pam.d is never missing a file
		for f in "$snap/pam.d"/* "$snap/pam.d"/.[!.]*; do
			[ -e "$f" ] || [ -L "$f" ] || continue
			n=${f##*/}
			cmp -s "$f" "/etc/pam.d/$n" && continue
			cp -a "$f" "/etc/pam.d/.$n.pa-restore" && mv -f "/etc/pam.d/.$n.pa-restore" "/etc/pam.d/$n"
		done
		# (files that were not there: the test services, this test's
		# removed by pa_root_cleanup, another test's not ours to touch)
	fi
	rm -rf /var/lib/pam && cp -a "$snap/var-lib-pam" /var/lib/pam
	rm -f /etc/security/pam_agent.conf
	[ "$made_group" = 1 ] && groupdel agents 2>/dev/null
	if [ "$run_existed" = 0 ]; then
		rmdir /run/pam_agent/* /run/pam_agent 2>/dev/null
	fi
	return 0
}
pa_at_exit restore

svc=$(pa_root_service "@include common-auth
@include common-account
@include common-session")
pa_root_test_user /bin/sh
human=$tuser
hpw=pw-$(rnd 8)
printf '%s:%s\n' "$human" "$hpw" | chpasswd || pa_die "chpasswd $human"

# human_login PASSWORD: pamtester through the four phases of the service
human_login() {
	printf '%s\n' "$1" | pamtester -v "$svc" "$human" authenticate acct_mgmt open_session close_session
}
# human_logins WHEN: the human's logins through the common-* files
human_logins() {
	expect "$1: the human logs in with the right password" 0 "successfully" human_login "$hpw"
	expect "$1: the human is refused with a wrong password" 1 "Authentication failure" human_login wrong
	expect "$1: su to the human runs its command" 0 "$human" su -s /bin/sh -c 'id -un' "$human"
}
human_logins "before the install"

# ---- install -------------------------------------------------------------------------------
# shellcheck disable=SC2086
if ! dpkg -i $debs > "$work/install.log" 2>&1; then
	cat "$work/install.log"
	pa_die "dpkg -i failed"
fi
pass "dpkg -i of the five packages"
for f in common-auth common-account common-session common-session-noninteractive; do
	check "/etc/pam.d/$f has pam_agent" grep -q "pam_agent\.so" "/etc/pam.d/$f"
done
check "common-auth: every pam_agent line right behind the guard 'pam_succeed_if.so quiet user ingroup agents'" \
	awk '/pam_agent\.so/ { n++; if (prev !~ /pam_succeed_if\.so quiet user ingroup agents/) bad = 1 }
		{ prev = $0 } END { exit (n >= 1 && !bad) ? 0 : 1 }' /etc/pam.d/common-auth
check "account and session lines are 'required pam_agent.so optional'" \
	sh -c '! grep -h "pam_agent\.so" /etc/pam.d/common-account /etc/pam.d/common-session \
		/etc/pam.d/common-session-noninteractive | grep -v "required[[:space:]]*pam_agent\.so optional"'
# only the common-* files differ from the snapshot
only_common_changed() {
	describe /etc/pam.d | grep -v " ./common-" | cmp -s - "$snap/pam.d.nocommon"
}
check "no other file of /etc/pam.d changed" only_common_changed
check "the module, helper and tools are where the packages put them" \
	test -f "/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/security/pam_agent.so" -a \
	-x /usr/libexec/pam_agent_helper -a -x /usr/bin/agent-run -a -x /usr/sbin/pam-agent
human_logins "with the packages and no policy"

# ---- an agent logs in through common-* --------------------------------------------------------
groupadd --system agents || pa_die "groupadd agents"
made_group=1
agent=$(pa_root_user /bin/sh) || pa_die "cannot create the agent account"
usermod -aG agents "$agent"
PAM_AGENT=/usr/sbin/pam-agent
AUD=spiffe://example.org/host/deb
# agent-run's service: the packaged example, as docs/deploying.md installs it
arsvc=$(pa_root_service "$(cat /usr/share/doc/pam_agent/examples/pam.d/agent-run)")
pa_testca
printf 'S3CR3T-deb-%s' "$(rnd)" > "$work/secret"
chmod 0600 "$work/secret"
{
	pa_policy_head state_dir="$work/state" audit_log="$work/audit.log"
	pa_section "service $svc" class=read
	pa_section "service $arsvc" class=read
	pa_section "grant legacy-db" class=read source=file path="$work/secret" ttl=10m
	pa_section "agent spiffe://example.org/agents/deb" users="$agent" services="$svc $arsvc" \
		grants=legacy-db
} | pa_write /etc/security/pam_agent.conf
pa_check_conf /etc/security/pam_agent.conf
pa_mint deb "$AUD" > "$work/token"
chmod 0644 "$work/token"
# agent_login TOKEN-FILE: pamtester through the four phases, the token as the password
agent_login() {
	keyctl session - pamtester -v "$svc" "$agent" authenticate acct_mgmt open_session close_session < "$1"
}
expect "the agent logs in with its token through common-auth, -account, -session" 0 "successfully" \
	agent_login "$work/token"
check "audit: the agent's decision allow and its session closed" \
	sh -c 'grep -q "\"event\":\"decision\",\"result\":\"allow\".*agents/deb" "$1" &&
		grep -q "\"event\":\"session_closed\",\"result\":\"ok\"" "$1"' sh "$work/audit.log"
"$PAM_AGENT" testca mint "$work/ca" --id spiffe://example.org/agents/other --aud "$AUD" > "$work/token.other"
expect "the agent with another agent's token is refused" 1 "Authentication failure" \
	agent_login "$work/token.other"
human_logins "with the packages and a policy"
# the pkg-config consumer against the installed libagentcred-dev, inside
# /usr/bin/agent-run with the packaged example service of agent-run
mkdir -p "$work/consumer" && cp "$work/token" "$work/secret" "$work/consumer/"
chmod 0755 "$work/consumer"
keyctl session - sh "$(dirname "$0")/../pkgconsumer/test_consumer.sh" --system "$arsvc" "$agent" \
	"$work/consumer" > "$work/consumer.out" 2>&1
sed 's/^/  consumer: /' "$work/consumer.out"
check "the pkg-config consumer built against the .deb prints the credential inside agent-run" \
	grep -q "^3 passed, 0 failed$" "$work/consumer.out"

# ---- remove, purge -----------------------------------------------------------------------------
dpkg -r libpam-agent > "$work/remove.log" 2>&1 || { cat "$work/remove.log"; fail "dpkg -r libpam-agent"; }
check "after dpkg -r libpam-agent no common-* file names pam_agent" \
	sh -c '! grep -l "pam_agent\.so" /etc/pam.d/common-*'
human_logins "after the removal"
# shellcheck disable=SC2086
dpkg --purge $PKGS > "$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "dpkg --purge"; }
if describe /etc/pam.d | cmp -s - "$snap/pam.d.list"; then
	pass "after dpkg --purge /etc/pam.d is byte for byte what it was"
else
	fail "after dpkg --purge /etc/pam.d differs:"
	describe /etc/pam.d | diff "$snap/pam.d.list" - | sed 's/^/    /'
fi
check "after dpkg --purge /etc/systemd/system is what it was (no timer link left)" \
	sh -c 'cd /etc/systemd/system && { find . -printf "%p %y %m %l\n" | LC_ALL=C sort &&
		find . -type f -exec sha256sum {} + | LC_ALL=C sort -k2; } | cmp -s - "$1"' sh "$snap/systemd.list"
pa_summary
