#!/bin/sh
# Agent accounts end to end (docs/nss.md), never touching /etc: `pam-agent
# check` (collisions with a passwd and a group file, --write-nss-db, a
# missing, corrupt or stale database), the database through the NSS
# module (the test build, tests/lib/libnss_agenttest.so, loaded by
# nss_wrapper: getent, id), and, as root, agent-run without --user
# running the agent as its own uid (pam_wrapper), users = self, and the
# module's refusal when the agent has no account.
# Environment: top_builddir, PA_MODULE, PA_PAM_WRAPPER_SO, PA_NSS_TEST_MODULE.
set -u
. "$(dirname "$0")/../lib/lib.sh"
NSSW=/usr/lib/x86_64-linux-gnu/libnss_wrapper.so
for l in $(pkg-config --variable=libdir nss_wrapper 2>/dev/null)/libnss_wrapper.so; do
	[ -f "$l" ] && NSSW=$l
done
if [ ! -f "$NSSW" ] || [ ! -f "${PA_NSS_TEST_MODULE:-}" ]; then
	pa_skip "nss_wrapper (libnss-wrapper) or the test NSS module is not available"
fi
umask 022
pa_workdir pa-nss
chmod 0755 "$work"
AUD=spiffe://example.org/host/test

# nss CMD...: CMD with the test passwd/group files and the agent module
nss() {
	env LD_PRELOAD="$NSSW" NSS_WRAPPER_PASSWD="$work/passwd" NSS_WRAPPER_GROUP="$work/group" \
		NSS_WRAPPER_MODULE_SO_PATH="$PA_NSS_TEST_MODULE" NSS_WRAPPER_MODULE_FN_PREFIX=agent \
		PA_NSS_DB="$work/nss.db" "$@"
}

me=$(id -un)
myuid=$(id -u)
printf 'root:x:0:0:root:/root:/bin/sh\n%s:x:%s:%s::/:/bin/sh\ntaken:x:1500:1500::/:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n' \
	"$me" "$myuid" "$(id -g)" > "$work/passwd"
printf 'root:x:0:\ntaken:x:1500:\nnogroup:x:65534:\n' > "$work/group"
"$PAM_AGENT" testca init "$work/ca" --trust-domain example.org >/dev/null
conf() { # conf FILE EXTRA-AGENT-LINES
	cat > "$1" <<CONF
[global]
audience = $AUD
state_dir = $work/state
audit_log = $work/audit.log
helper = $B/pam_agent_helper
uid_range = 61000-61999
agent_home = /nonexistent/%n
[trust_domain example.org]
bundle = $work/ca/bundle.json
[service agent-run]
class = read
[agent spiffe://example.org/agents/bot]
users = self
services = agent-run
[agent spiffe://example.org/agents/other]
uid = 61500
users = self
services = agent-run
[agent spiffe://example.org/pool/*]
users = nobody
services = agent-run
$2
CONF
	chmod 0644 "$1"
}
conf "$work/ok.conf" ""
conf "$work/clash.conf" "[agent spiffe://example.org/agents/taken]
account = taken
users = self
services = agent-run
[agent spiffe://example.org/agents/twin]
uid = 61500
users = self
services = agent-run"
check() { "$PAM_AGENT" check --nss-db "$work/nss.db" --passwd-file "$work/passwd" \
	--group-file "$work/group" "$@"; }

expect "check: no database is an error that says how to write it" 1 \
	"agent accounts are not served: no database (run pam-agent check --write-nss-db)" \
	check --config "$work/ok.conf"
expect "check --write-nss-db writes it" 0 "2 agent accounts written" \
	check --config "$work/ok.conf" --write-nss-db
expect "check: the database written is current" 0 "3 agent rules, 0 grants, 2 agent accounts" \
	check --config "$work/ok.conf"
perms=$(stat -c '%a %U' "$work/nss.db")
[ "$perms" = "644 $me" ] && pass "the database is 0644, owned by its writer" || fail "database: $perms"

expect "getent passwd NAME: the derived account" 0 \
	"agent-bot:*:" nss getent passwd agent-bot
expect "getent passwd UID: the explicit uid" 0 \
	"agent-other:*:61500:61000:example.org/agents/other:/nonexistent/agent-other:/usr/sbin/nologin" \
	nss getent passwd 61500
expect "getent group agents" 0 "agents:*:61000:" nss getent group agents
expect "id agent-other" 0 "uid=61500(agent-other) gid=61000(agents) groups=61000(agents)" \
	nss id agent-other
n=$(nss getent passwd | grep -c '^agent-')
[ "$n" = 2 ] && pass "getent passwd enumerates each agent account once" || fail "enumeration: $n"
expect "an unknown name is not found" 2 "" nss getent passwd agent-nobody

expect "check: collisions are errors that name the reason" 1 \
	"account taken (uid " check --config "$work/clash.conf" --write-nss-db
expect "check: a uid shared by two rules is an error" 1 \
	"its uid is also the uid of [agent spiffe://example.org/agents/other]" \
	check --config "$work/clash.conf"
expect "the colliding accounts are not served (the real one is)" 0 "taken:x:1500:1500" \
	nss getent passwd taken
expect "neither account of a shared uid is served" 2 "" nss getent passwd 61500
expect "the other accounts still are" 0 "agent-bot:*:" nss getent passwd agent-bot

"$PAM_AGENT" check --config "$work/ok.conf" --nss-db "$work/nss.db" --passwd-file \
	"$work/passwd" --group-file "$work/group" --write-nss-db >/dev/null
expect "check: a stale database is an error" 1 "the database is not what the configuration gives" \
	check --config "$work/clash.conf"
printf '\377' | dd of="$work/nss.db" bs=1 seek=100 conv=notrunc 2>/dev/null
expect "check: a corrupt database is an error" 1 "checksum mismatch" check --config "$work/ok.conf"
expect "a corrupt database serves nothing" 2 "" nss getent passwd agent-bot
head -c 40 "$work/ok.conf" > "$work/nss.db"
expect "a truncated database serves nothing" 2 "" nss getent passwd agent-bot

# ---- agent-run without --user: the agent's own account ----------------------
if [ "$myuid" -ne 0 ] || [ -z "${PA_PAM_WRAPPER_SO:-}" ] || [ ! -f "${PA_PAM_WRAPPER_SO:-}" ]; then
	echo "SKIP: agent-run as the agent's own account needs root and pam_wrapper"
else
	check --config "$work/ok.conf" --write-nss-db >/dev/null
	mkdir "$work/pam.d"
	cat > "$work/pam.d/agent-run" <<SVC
auth     required $PA_MODULE config=$work/ok.conf
account  required $PA_MODULE config=$work/ok.conf
session  required $PA_MODULE config=$work/ok.conf
SVC
	printf 'auth required pam_deny.so\naccount required pam_deny.so\nsession required pam_deny.so\n' \
		> "$work/pam.d/other"
	run() {
		nss env LD_PRELOAD="$PA_PAM_WRAPPER_PRELOAD $NSSW" PAM_WRAPPER=1 \
			PAM_WRAPPER_SERVICE_DIR="$work/pam.d" UID_WRAPPER_DISABLE_DEEPBIND=1 \
			"$AGENT_RUN" "$@"
	}
	mint() { "$PAM_AGENT" testca mint "$work/ca" --id "spiffe://example.org/agents/$1" --aud "$AUD"; }
	mint other > "$work/t.other"
	expect "agent-run without --user runs the agent as its own uid" 0 "uid=61500 gid=61000" \
		run --token-file "$work/t.other" -- sh -c 'echo "uid=$(id -u) gid=$(id -g)"'
	if grep -q '"event":"decision","result":"allow".*"user":"agent-other"' "$work/audit.log"; then
		pass "the decision's audit event names the account"
	else
		fail "no allowing decision event naming agent-other in the audit log:"
		sed 's/^/    /' "$work/audit.log"
	fi
	# a session that stays open while pam-agent sessions looks at it
	mint other > "$work/t.other3"
	run --token-file "$work/t.other3" -- sh -c 'while [ ! -e "$1/release" ]; do sleep 0.1; done' \
		sh "$work" > "$work/hold.out" 2>&1 &
	holder=$!
	i=0
	while [ -z "$(ls "$work/state/sessions" 2>/dev/null)" ] && [ "$i" -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	expect "pam-agent sessions shows the account as the session's user" 0 \
		"user:    agent-other (uid 61500)" "$PAM_AGENT" sessions --config "$work/ok.conf"
	: > "$work/release"
	wait "$holder"
	mint other > "$work/t.other2"
	expect "--user of another account: users = self refuses it" 77 "not in the users" \
		run --token-file "$work/t.other2" --user agent-bot -- true
	"$PAM_AGENT" testca mint "$work/ca" --id spiffe://example.org/pool/x --aud "$AUD" \
		> "$work/t.nobody"
	expect "an agent without an account of its own: refused" 77 "has no account of its own" \
		run --token-file "$work/t.nobody" -- true
fi

pa_summary
