#!/bin/sh
# agent-run against what the security review of 2026-12 found (docs/security.md,
# "### agent-run"), through the real Linux-PAM library (pam_wrapper) and a
# probe module in the stack (tests/cli/pam_ar_probe.c):
#  - M2: CMD gets a minimal environment (no OPENAI_API_KEY, VAULT_TOKEN,
#    SSH_AUTH_SOCK, KRB5CCNAME of the supervisor; --env/--keep-env add),
#    no descriptor above 2 (fd 7 reading a secret, fd 8 appending to a log),
#    umask 022 (or --umask), the account's home as its directory;
#  - the token answers pam_agent's prompt only: a module asking a hidden
#    "Password: " first never receives it;
#  - F5: PAM_AGENT_EXPIRES (the session's end) ends CMD: SIGTERM, then
#    SIGKILL after the grace period; an unreadable value refuses the session;
#  - L2: processes CMD leaves behind (setsid, double fork, one ignoring
#    SIGTERM) are gone when agent-run returns; SIGTERM to agent-run ends a
#    CMD that ignores it;
#  - F6 (the part a non-root run can show): a module changing PAM_USER in
#    its session hook makes agent-run refuse;
#  - --config: a symbolic link to a directory, a world-writable service file
#    and a symbolic link to a service file are refused.
# Each would have run CMD, or leaked, or hung (bounded by `timeout`) before.
# shellcheck disable=SC2016 # CMD scripts in single quotes expand in CMD
set -u
. "$(dirname "$0")/../lib/lib.sh"
need_pam_wrapper
if [ -z "${PA_PROBE_MODULE:-}" ] || [ ! -f "$PA_PROBE_MODULE" ]; then
	echo "FAIL: the probe module ${PA_PROBE_MODULE:-(PA_PROBE_MODULE unset)} is not built"
	exit 1
fi
for tool in timeout pgrep; do
	command -v $tool >/dev/null 2>&1 || { echo "SKIP: needs $tool (coreutils, procps)"; exit 77; }
done
pa_workdir pa-agent-run-iso
pids="" # processes a CMD left: killed at exit whatever happened
cleanup() {
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
}
pa_at_exit cleanup
AUD=spiffe://example.org/host/test
me=$(id -un)
home=$(getent passwd "$me" | cut -d: -f6)

# absent NAME TEXT FILE: FILE does not contain TEXT
absent() {
	if grep -qF -- "$2" "$3"; then
		fail "$1: found \"$2\" in:"
		sed 's/^/    /' "$3"
	else
		pass "$1"
	fi
}
present() {
	if grep -qxF -- "$2" "$3"; then
		pass "$1"
	else
		fail "$1: no line \"$2\" in:"
		sed 's/^/    /' "$3"
	fi
}

pa_testca
pa_testca "$work/broker" broker.example.org
{
	pa_policy_head helper="$HELPER" state_dir="$work/state" broker_key="$work/broker/signing.key" \
		broker_issuer=https://broker.example.org broker_jwks="$work/broker-jwks.json"
	pa_section "service agent-run" class=read
	pa_section "agent spiffe://example.org/agents/bot" users="$me" services=agent-run grants=tickets
	pa_section "grant tickets" class=read source=mint audience=https://tickets.example.org \
		scope=tickets:read ttl=5m
} | pa_write "$work/pam_agent.conf"
# service DIR EXTRA-AUTH EXTRA-SESSION: the service agent-run in DIR, with a
# probe line before pam_agent's auth and one after its session
service() {
	pa_pamd_other "$1"
	{
		[ -n "$2" ] && echo "auth     optional $PA_PROBE_MODULE $2 log=$work/probe.log"
		echo "auth     required $PA_MODULE config=$work/pam_agent.conf"
		echo "account  required $PA_MODULE config=$work/pam_agent.conf"
		echo "session  required $PA_MODULE config=$work/pam_agent.conf"
		[ -n "$3" ] && echo "session  required $PA_PROBE_MODULE $3 log=$work/probe.log"
		echo "session  required pam_permit.so"
	} > "$1/agent-run"
	chmod 0644 "$1/agent-run"
}
service "$work/pam.d" "" ""
service "$work/ask.d" "ask" ""
service "$work/exp.d" "" "expires=2"
service "$work/badexp.d" "" "expires_raw=soon"
service "$work/farexp.d" "" "expires_raw=99999999999999999"
service "$work/setuser.d" "" "setuser=nobody"

# run DIR ARGS...: agent-run with the service files of DIR through pam_wrapper
run() {
	d=$1
	shift
	pa_wrapped "$d" timeout -s KILL 60 "$AGENT_RUN" "$@"
}
# tok NAME: a fresh token (tokens are single-use) in a file; prints its path
tok() {
	pa_mint bot "$AUD" > "$work/token.$1"
	printf '%s' "$work/token.$1"
}

# ---- M2: environment, descriptors, umask, directory ----
printf 'root-only-secret\n' > "$work/secret"
chmod 0600 "$work/secret"
: > "$work/root.log"
cd "$work" || exit 1
(
	umask 000
	exec 7< "$work/secret" 8>> "$work/root.log"
	OPENAI_API_KEY=sk-test-openai VAULT_TOKEN=hvs.test-vault SSH_AUTH_SOCK=/tmp/agent.sock \
		KRB5CCNAME=FILE:/tmp/krb5cc_test SUPERVISOR_ONLY=1 TERM=xterm-test \
		run "$work/pam.d" --token-file "$(tok env)" --user "$me" -- sh -c '
			echo "umask=$(umask)"
			echo "cwd=$(pwd)"
			if read -r l <&7; then echo "LEAK7=$l"; fi
			if echo appended >&8; then echo LEAK8; fi
			env' > "$work/m2.out" 2> "$work/m2.err"
	echo "rc=$?" >> "$work/m2.out"
	# every descriptor ls has open while it reads the directory: 0, 1, 2
	# and its own for /proc/self/fd (the lowest free one)
	run "$work/pam.d" --token-file "$(tok fds)" --user "$me" -- ls /proc/self/fd \
		> "$work/fds.out" 2>&1
)
present "M2: CMD ran, status 0" "rc=0" "$work/m2.out"
for v in OPENAI_API_KEY SSH_AUTH_SOCK KRB5CCNAME SUPERVISOR_ONLY LD_PRELOAD PAM_WRAPPER; do
	absent "M2: the supervisor's $v is not in CMD's environment" "$v=" "$work/m2.out"
done
absent "M2: the supervisor's VAULT_TOKEN is not in CMD's environment" "VAULT_TOKEN=" "$work/m2.out"
present "M2: PATH is the default" "PATH=/usr/local/bin:/usr/bin:/bin" "$work/m2.out"
present "M2: TERM is kept" "TERM=xterm-test" "$work/m2.out"
present "M2: USER is the account's" "USER=$me" "$work/m2.out"
present "M2: LOGNAME is the account's" "LOGNAME=$me" "$work/m2.out"
if grep -q '^PAM_AGENT_SESSION=.' "$work/m2.out"; then pass "M2: the PAM environment is there"
else fail "M2: no PAM_AGENT_SESSION in CMD's environment"; fi
absent "M2: fd 7 (a root-only file) is not inherited" "LEAK7" "$work/m2.out"
absent "M2: fd 8 (root's log) is not inherited" "LEAK8" "$work/m2.out"
if [ -s "$work/root.log" ]; then fail "M2: CMD wrote to root's log through fd 8"
else pass "M2: root's log untouched"; fi
fds=$(tr '\n' ' ' < "$work/fds.out")
if [ "$fds" = "0 1 2 3 " ]; then pass "M2: no descriptor above 2 (CMD ls sees 0 1 2 and its own 3)"
else fail "M2: CMD has descriptors $fds(want 0 1 2 and ls's own 3)"; fi
present "M2: umask 022 even under umask 000" "umask=0022" "$work/m2.out"
if [ -d "$home" ]; then
	present "M2: CMD starts in the account's home" "cwd=$home" "$work/m2.out"
else
	present "M2: CMD starts in / (the home $home does not exist)" "cwd=/" "$work/m2.out"
fi
VAULT_TOKEN=hvs.test-vault run "$work/pam.d" --token-file "$(tok keep)" --user "$me" \
	--env EXTRA=given --keep-env VAULT_TOKEN -- env > "$work/keep.out" 2>&1
present "M2: --keep-env VAULT_TOKEN passes it" "VAULT_TOKEN=hvs.test-vault" "$work/keep.out"
present "M2: --env EXTRA=given is set" "EXTRA=given" "$work/keep.out"
run "$work/pam.d" --token-fd 0 --user "$me" -- sh -c 'echo "stdin=$(readlink /proc/$$/fd/0)"' \
	< "$(tok fd0)" > "$work/fd0.out" 2>&1
present "M2: after --token-fd 0, CMD's stdin is /dev/null (not closed, no descriptor of agent-run)" \
	"stdin=/dev/null" "$work/fd0.out"
expect "M2: --umask 077" 0 "0077" run "$work/pam.d" --token-file "$(tok umask)" --user "$me" \
	--umask 077 -- sh -c umask
expect "M2: --env refuses a bad name" 125 "--env wants NAME=VALUE" \
	"$AGENT_RUN" --env "1X=y" -- true

# ---- the token goes to pam_agent's prompt only ----
rm -f "$work/probe.log"
expect "prompt: a stack asking \"Password: \" first still works" 0 "ran" \
	run "$work/ask.d" --token-file "$(tok ask)" --user "$me" -- echo ran
if [ -f "$work/probe.log" ] && grep -qx 'password-prompt=conversation-failed' "$work/probe.log"; then
	pass "prompt: the other module's hidden prompt was not answered"
else
	fail "prompt: the other module's hidden prompt got an answer:"
	sed 's/^/    /' "$work/probe.log" 2>/dev/null
fi
absent "prompt: the token never reached the other module" "$(cut -c1-40 "$work/token.ask")" \
	"$work/probe.log"

# ---- F5: max_session ends CMD ----
cat > "$work/forever" <<'EOF2'
#!/bin/sh
echo $$ > "$1"
sleep 1000
echo "not reached"
EOF2
chmod 0755 "$work/forever"
rm -f "$work/probe.log"
expect "F5: CMD sleeping forever is ended at max_session (2 s): SIGTERM, status 143" 143 \
	"reached its max_session" \
	run "$work/exp.d" --token-file "$(tok exp)" --user "$me" -- "$work/forever" "$work/f5.pid"
p=$(cat "$work/f5.pid" 2>/dev/null)
pids="$pids $p $(pgrep -f "$work/forever")"
# CMD (the shell running the script, with its path in its command line)
left=$(pgrep -f "$work/forever")
if [ -z "$left" ]; then pass "F5: CMD is gone"
else fail "F5: CMD ($left) still runs"; fi
if grep -qx 'close=' "$work/probe.log" 2>/dev/null; then pass "F5: the session was closed after"
else fail "F5: no close_session after max_session"; fi
# the same through pam_agent alone: its session sets PAM_AGENT_EXPIRES from
# the rule's max_session
sed 's/^grants = tickets$/grants = tickets\nmax_session = 2s/' "$work/pam_agent.conf" \
	> "$work/short.conf"
chmod 0644 "$work/short.conf"
mkdir -p "$work/short.d" && chmod 0755 "$work/short.d"
sed "s|config=$work/pam_agent.conf|config=$work/short.conf|" "$work/pam.d/agent-run" \
	> "$work/short.d/agent-run"
cp "$work/pam.d/other" "$work/short.d/other"
chmod 0644 "$work/short.d/agent-run" "$work/short.d/other"
expect "F5: a rule's max_session = 2s ends CMD through pam_agent's PAM_AGENT_EXPIRES" 143 \
	"reached its max_session" \
	run "$work/short.d" --token-file "$(tok short)" --user "$me" -- "$work/forever" "$work/f5b.pid"
pids="$pids $(cat "$work/f5b.pid" 2>/dev/null)"
left=$(pgrep -f "$work/forever")
if [ -z "$left" ]; then pass "F5: CMD ended by pam_agent's max_session is gone"
else fail "F5: CMD ($left) still runs after pam_agent's max_session"; fi
expect "F5: an unreadable PAM_AGENT_EXPIRES refuses the session, CMD never runs" 77 \
	"PAM_AGENT_EXPIRES=soon is not a time" \
	run "$work/badexp.d" --token-file "$(tok badexp)" --user "$me" -- echo SHOULD-NOT-RUN
# review 2026-12: an end so far away that its milliseconds overflowed
# int64 used to read as "no limit"; it is refused, CMD never runs
expect "agent-run: a PAM_AGENT_EXPIRES past 100 years refuses the session, CMD never runs" 77 \
	"PAM_AGENT_EXPIRES=99999999999999999 is more than 100 years away" \
	run "$work/farexp.d" --token-file "$(tok farexp)" --user "$me" -- echo SHOULD-NOT-RUN

# ---- L2: what CMD leaves behind is ended ----
cat > "$work/leave" <<'EOF2'
#!/bin/sh
# a setsid child, a double-forked daemon, a setsid one that ignores SIGTERM
w=$1
setsid sleep 1001 < /dev/null > /dev/null 2>&1 &
echo $! > "$w/l2.a"
( setsid sh -c 'echo $$ > "$1/l2.b"; exec sleep 1002' sh "$w" < /dev/null > /dev/null 2>&1 & )
setsid sh -c 'trap "" TERM; echo $$ > "$1/l2.c"; while :; do sleep 1; done' sh "$w" \
	< /dev/null > /dev/null 2>&1 &
i=0
while { [ ! -s "$w/l2.b" ] || [ ! -s "$w/l2.c" ]; } && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
exit 0
EOF2
chmod 0755 "$work/leave"
expect "L2: CMD leaves three processes and exits 0" 0 "" \
	run "$work/pam.d" --token-file "$(tok l2)" --user "$me" -- "$work/leave" "$work"
for f in a b c; do
	p=$(cat "$work/l2.$f" 2>/dev/null)
	pids="$pids $p"
	if [ -z "$p" ]; then
		fail "L2: process $f never started"
	elif kill -0 "$p" 2>/dev/null; then
		fail "L2: process $f (pid $p: $(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null)) outlived agent-run"
	else
		pass "L2: process $f (pid $p) is gone once agent-run returned"
	fi
done
# SIGTERM to agent-run; CMD ignores it: SIGKILL after the grace period
cat > "$work/stubborn" <<'EOF2'
#!/bin/sh
trap "" TERM
echo $$ > "$1"
while :; do sleep 1; done
EOF2
chmod 0755 "$work/stubborn"
rm -f "$work/stub.pid"
# (no `timeout` here: the signal must reach agent-run itself)
t=$(tok stub)
env LD_PRELOAD="$PA_PAM_WRAPPER_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$work/pam.d" \
	UID_WRAPPER_DISABLE_DEEPBIND=1 "$AGENT_RUN" --token-file "$t" --user "$me" -- \
	"$work/stubborn" "$work/stub.pid" > /dev/null 2>&1 &
ar=$!
pids="$pids $ar"
i=0
while [ ! -s "$work/stub.pid" ] && [ $i -lt 300 ] && kill -0 $ar 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
p=$(cat "$work/stub.pid" 2>/dev/null)
pids="$pids $p"
kill -TERM $ar
# at most 60 s (the grace period is 5 s): agent-run must end CMD itself
i=0
while kill -0 $ar 2>/dev/null && [ "$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' /proc/$ar/status 2>/dev/null)" != Z ] &&
	[ $i -lt 600 ]; do
	sleep 0.1
	i=$((i + 1))
done
kill -9 $ar 2>/dev/null
wait $ar
rc=$?
if [ "$rc" -eq 137 ] && [ -n "$p" ] && ! kill -0 "$p" 2>/dev/null; then
	pass "L2: SIGTERM to agent-run ends a CMD that ignores it (SIGKILL, status 137)"
else
	fail "L2: SIGTERM to agent-run: status $rc (want 137), CMD ${p:-?} $(kill -0 "$p" 2>/dev/null && echo still runs)"
fi

# ---- F6 (as far as any user can show it): PAM_USER changed by a module ----
expect "F6: a module changing PAM_USER in its session hook: refused, CMD never runs" 77 \
	"changed PAM_USER from $me to nobody" \
	run "$work/setuser.d" --token-file "$(tok setuser)" --user "$me" -- echo SHOULD-NOT-RUN

# ---- --config: no symbolic links, no writable service files ----
ln -s "$work/pam.d" "$work/link.d"
expect "--config refuses a symbolic link to a directory" 125 "not a symbolic link" \
	"$AGENT_RUN" --config "$work/link.d" --token-file "$(tok link)" --user "$me" -- echo SHOULD-NOT-RUN
service "$work/ww.d" "" ""
chmod 0666 "$work/ww.d/agent-run"
expect "--config refuses a world-writable service file" 125 \
	"agent-run must be a regular file (not a symbolic link) owned by root or you, not group/world-writable" \
	"$AGENT_RUN" --config "$work/ww.d" --token-file "$(tok ww)" --user "$me" -- echo SHOULD-NOT-RUN
mkdir -m 0755 "$work/sl.d"
ln -s "$work/pam.d/agent-run" "$work/sl.d/agent-run"
cp "$work/pam.d/other" "$work/sl.d/other"
expect "--config refuses a symbolic link to a service file" 125 "agent-run must be a regular file" \
	"$AGENT_RUN" --config "$work/sl.d" --token-file "$(tok sl)" --user "$me" -- echo SHOULD-NOT-RUN
expect "--config: a good directory still works" 0 "via confdir" \
	"$AGENT_RUN" --config "$work/pam.d" --token-file "$(tok good)" --user "$me" -- echo via confdir

pa_summary
