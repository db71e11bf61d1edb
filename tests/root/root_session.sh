#!/bin/sh
# Root-only: credentials in the session keyring, end to end, with the real
# agent-run, a real /etc/pam.d service and a real unprivileged test user
# (docs/sessions.md):
#  - scoping: CMD, running as the user inside the session, reads its keys
#    but cannot change their timeout or permissions, link them elsewhere,
#    unlink them from the session ring, update or revoke them; a process of
#    the same uid outside the session can neither read nor describe them;
#  - after CMD exits every key and the keyring are revoked, the broker
#    revocation ran once, the record is gone;
#  - kill -9 of agent-run: a key with a 2 s ttl expires anyway, and
#    `pam-agent reap`, from a session keyring of its own, revokes the rest
#    by serial, runs the broker revocation once and removes the record;
#  - all or nothing: the second of three grants fails, agent-run exits 77,
#    CMD never runs, the first grant's key is revoked, its broker told once;
#  - the session keyring is a new root-owned one (0f000000) even without
#    grants: CMD cannot reach a key of the caller's session keyring, cannot
#    link @s into @u; a user whose key quota is full still gets a session;
#  - no test secret in any process's argv or environment, in the audit
#    file, in the helper's stderr or in agent-run's output.
. "$(dirname "$0")/lib.sh"
pa_root_require "root_session.sh" keyctl useradd userdel setpriv

need_built "$PA_MODULE"
AUD=spiffe://example.org/host/root-session

pa_workdir pam-agent-root-session
chmod 0755 "$work"
pa_root_test_user
tuser2=$(pa_root_user) || pa_die "cannot create a test user"
tag=t$$ # grant names unique to this run (they show in /proc/keys)
CONF=$work/pam_agent.conf
SESS=$work/state/sessions

# denied NAME FILE: FILE holds a keyctl's output then its exit status,
# which must be a refusal for lack of permission
denied() {
	if [ "$(tail -n1 "$2")" != 0 ] && grep -q "Permission denied" "$2"; then
		pass "$1"
	else
		fail "$1:"
		sed 's/^/    /' "$2"
	fi
}
# gone_now NAME SERIAL WORD: root's keyctl print SERIAL fails, saying WORD
gone_now() {
	out=$(keyctl print "$2" 2>&1)
	rc=$?
	case "$rc:$out" in
	0:*) fail "$1: key $2 is still readable" ;;
	*"$3"*) pass "$1" ;;
	*) fail "$1: key $2: $out" ;;
	esac
}
# no_secret NAME FILE...: none of the test secrets appears in the files
no_secret() {
	name=$1
	shift
	if grep -aqF -f "$work/secrets" "$@" 2>/dev/null; then
		fail "$name: a secret was found in $(grep -alF -f "$work/secrets" "$@" | tr '\n' ' ')"
	else
		pass "$name"
	fi
}
# revoked_in_proc_keys NAME GRANT: every key of GRANT that /proc/keys shows
# (root sees root-owned keys there until they are garbage-collected) is
# revoked, or invalidated, or there is none
revoked_in_proc_keys() {
	if [ ! -r /proc/keys ]; then
		echo "SKIP: $1 (no /proc/keys)"
		return
	fi
	bad=$(grep " pam_agent:$2: " /proc/keys | awk '$2 !~ /R/ && $2 !~ /i/')
	if [ -z "$bad" ]; then pass "$1"; else fail "$1: live in /proc/keys: $bad"; fi
}

# ---- trust domain, secrets, brokers, helper, policy, service -------------------------------
pa_testca
pa_secrets_and_issuer
cat > "$work/broken" <<'EOF'
#!/bin/sh
cat >/dev/null
echo "broker: backend unavailable" >&2
exit 1
EOF
# revoke LOG: appends its stdin, one JSON line, to LOG
cat > "$work/revoke" <<'EOF'
#!/bin/sh
{ cat; echo; } >> "$1"
EOF
# the helper, with its stderr kept for the secret scan
cat > "$work/helper" <<EOF
#!/bin/sh
exec $HELPER 2>>$work/helper.stderr
EOF
chmod 0755 "$work/issue" "$work/broken" "$work/revoke" "$work/helper"

svc=$(pa_root_service "auth required @MODULE@ config=$CONF
account required @MODULE@ config=$CONF
session required @MODULE@ config=$CONF
session required pam_permit.so")

F=f_$tag M=m_$tag E=e_$tag I=i_$tag S=s_$tag C=c_$tag A1=a1_$tag A2=a2_$tag A3=a3_$tag
grant_file() {
	pa_section "grant $1" class=read source=file path="$work/file.secret" ttl="$2"
}
grant_exec() {
	pa_section "grant $1" class=read source=exec command="$2" ttl=10m
	[ -n "${3:-}" ] && printf 'revoke = %s/revoke %s\n' "$work" "$3"
	return 0
}
agent() { # agent NAME GRANTS [USER]
	pa_section "agent spiffe://example.org/agents/$1" users="${3:-$tuser}" services="$svc"
	[ -n "$2" ] && printf 'grants = %s\n' "$2"
	return 0
}
{
	pa_policy_head broker_key="$work/ca/signing.key" helper="$work/helper" state_dir="$work/state" \
		audit_log="$work/audit.log"
	pa_section "service $svc" class=read
	grant_file "$F" 10m
	grant_file "$I" 10m
	grant_file "$S" 2s
	grant_file "$A3" 10m
	pa_section "grant $M" class=read source=mint audience=https://tickets.example.org ttl=10m
	grant_exec "$E" "$work/issue $work/exec.secret" "$work/revoked.e"
	grant_exec "$C" "$work/issue $work/exec.secret" "$work/revoked.c"
	grant_exec "$A1" "$work/issue $work/exec.secret" "$work/revoked.a1"
	grant_exec "$A2" "$work/broken" "$work/revoked.a2"
	agent bot "$F $M $E $I"
	agent crash "$S $C"
	agent aon "$A1 $A2 $A3"
	agent nogrant "" "$tuser2" # a user of its own (one uid is one principal: root_ptrace.sh)
} | pa_write "$CONF"
umask 077
for a in bot crash aon nogrant; do
	pa_mint "$a" "$AUD" > "$work/token.$a"
done
umask 022
# every secret of this test, one a line: the scans read them from this file
# (never from an argv, where the scan itself would put them)
{ tr -d '\n' < "$work/file.secret"; echo; cat "$work/exec.secret"; echo; cat "$work/token.bot"
	cat "$work/token.crash"; cat "$work/token.aon"; cat "$work/token.nogrant"; } | sed '/^$/d' > "$work/secrets"
chmod 0600 "$work/secrets"

# run_agent OUT TOKEN CMD...: agent-run as root for the test user, in the background
run_agent() {
	o=$1
	shift
	pa_root_agent "$o" "$svc" "${ruser:-$tuser}" "$@"
}

# ---- 1. scoping, and revocation at close --------------------------------------------------
# CMD, as the test user inside the session: dumps its own environ and
# cmdline, finds its ring and keys, reads them, tries to tamper with one,
# says it is ready, waits for go, then invalidates one key (see below).
cat > "$work/cmd-scope" <<'EOF'
#!/bin/sh
out=$1 f=$2 m=$3 e=$4 i=$5
echo $$ > "$out/pid"
id -u > "$out/uid"
tr '\0' '\n' < /proc/$$/environ > "$out/environ"
tr '\0' ' ' < /proc/$$/cmdline > "$out/cmdline"
echo "$PAM_AGENT_SESSION" > "$out/sid"
keyctl search @s keyring "pam_agent:$PAM_AGENT_SESSION" > "$out/ring" 2>&1
for g in "$f" "$m" "$e" "$i"; do keyctl search @s user "pam_agent:$g" > "$out/serial.$g" 2>&1; done
s=$(cat "$out/serial.$f") ring=$(cat "$out/ring")
keyctl print "%user:pam_agent:$f" > "$out/read.f" 2>&1
keyctl print "%user:pam_agent:$m" > "$out/read.m" 2>&1
keyctl print "%user:pam_agent:$e" > "$out/read.e" 2>&1
try() { name=$1; shift; "$@" > "$out/try.$name" 2>&1; echo $? >> "$out/try.$name"; }
try timeout keyctl timeout "$s" 86400
try setperm keyctl setperm "$s" 0x3f3f3f3f
try link keyctl link "$s" @u
try unlink keyctl unlink "$s" "$ring"
try update keyctl update "$s" replaced
try revoke keyctl revoke "$s"
try chown keyctl chown "$s" "$(id -u)"
try clear keyctl clear "$ring"
try linkses keyctl link @s @u
keyctl rdescribe @s > "$out/describe.s" 2>&1
: > "$out/ready"
n=0
while [ ! -e "$out/go" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
keyctl invalidate "$(cat "$out/serial.$i")" > "$out/invalidate" 2>&1
echo $? >> "$out/invalidate"
EOF
chmod 0755 "$work/cmd-scope"
o=$work/out1
run_agent "$o" "$work/token.bot" /bin/sh "$work/cmd-scope" "$o" "$F" "$M" "$E" "$I"
ar1=$ar
if ! wait_for "$o/ready" "$ar1" 200; then
	fail "session 1: CMD never got ready; agent-run said:"
	sed 's/^/    /' "$o.stderr" "$o.stdout"
	pa_summary
	exit 1
fi
pa_root_track_pid "$(cat "$o/pid")"
sid=$(cat "$o/sid")
ring=$(cat "$o/ring")
sf=$(cat "$o/serial.$F") sm=$(cat "$o/serial.$M") se=$(cat "$o/serial.$E") si=$(cat "$o/serial.$I")
for k in "$ring" "$sf" "$sm" "$se" "$si"; do pa_root_track_key "$k"; done
# A witness keyring of this test links every key (root owns them, so it may):
# revoking the per-session ring empties it, and the kernel would otherwise
# garbage-collect the keys at once; a key that is gone (ENOKEY) does not
# show whether it was revoked first, one held here reads EKEYREVOKED.
witness=$(keyctl newring pa-witness @s)
pa_root_track_key "$witness"
for k in "$ring" "$sf" "$sm" "$se" "$si"; do keyctl link "$k" "$witness"; done
# the minted credential is a secret too (an empty line would match everything)
grep -E '^[A-Za-z0-9_.-]{20,}$' "$o/read.m" >> "$work/secrets"

check "CMD runs as the test user" test "$(cat "$o/uid")" = "$tuid"
check "CMD reads its file credential (keyctl print %user:pam_agent:NAME)" \
	test "$(cat "$o/read.f")" = "$(tr -d '\n' < "$work/file.secret")"
check "CMD reads its exec credential" test "$(cat "$o/read.e")" = "$(cat "$work/exec.secret")"
check "CMD reads its minted JWT" \
	sh -c 'printf "%s" "$(cat "$1")" | grep -Eq "^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"' sh "$o/read.m"
denied "CMD cannot change the key's timeout" "$o/try.timeout"
denied "CMD cannot change the key's permissions" "$o/try.setperm"
denied "CMD cannot link the key into its user keyring" "$o/try.link"
denied "CMD cannot unlink the key from the session ring" "$o/try.unlink"
denied "CMD cannot update the key" "$o/try.update"
denied "CMD cannot revoke the key" "$o/try.revoke"
denied "CMD cannot chown the key" "$o/try.chown"
denied "CMD cannot clear the session ring" "$o/try.clear"
denied "CMD cannot link its session keyring into its user keyring (keyctl link @s @u)" "$o/try.linkses"
check "the session keyring is root's, possessor view/read/write/search only (0f000000)" \
	grep -Eq "^keyring;0;0;0f000000;" "$o/describe.s" || sed 's/^/    /' "$o/describe.s"
check "keys and ring are owned by root with permissions 0b3f0000" \
	sh -c 'for s in "$@"; do keyctl rdescribe "$s" | grep -Eq "^(user|keyring);0;0;0b3f0000;pam_agent:" || exit 1; done' \
	sh "$ring" "$sf" "$sm" "$se" "$si"
setpriv --reuid="$tuid" --regid="$tgid" --clear-groups keyctl session - keyctl print "$sf" > "$work/outside.print" 2>&1
echo $? >> "$work/outside.print"
denied "same uid outside the session cannot read the key" "$work/outside.print"
setpriv --reuid="$tuid" --regid="$tgid" --clear-groups keyctl session - keyctl describe "$sf" > "$work/outside.describe" 2>&1
echo $? >> "$work/outside.describe"
denied "same uid outside the session cannot describe the key" "$work/outside.describe"
check "same uid outside the session cannot find it by name" \
	sh -c '! setpriv --reuid="$1" --regid="$2" --clear-groups keyctl session - keyctl print "%user:pam_agent:$3" >/dev/null 2>&1' \
	sh "$tuid" "$tgid" "$F"
check "pam-agent sessions lists the session alive with its 4 keys" \
	sh -c '"$1" sessions --config "$2" > "$4/sessions.txt" && grep -q "^session $3" "$4/sessions.txt" &&
		grep -q "owner:   alive" "$4/sessions.txt" && grep -q "keys:    4" "$4/sessions.txt"' \
	sh "$PAM_AGENT" "$CONF" "$sid" "$work"
check "the record is compact JSON, members sorted (as jansson's JSON_COMPACT | JSON_SORT_KEYS wrote it)" \
	python3 -c 'import json, sys
t = open(sys.argv[1], encoding="utf-8").read()
d = json.loads(t)
sys.exit(0 if json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False) == t and len(d["keys"]) == 4 else 1)' "$SESS/$sid"
check "pam-agent reap leaves the live session alone" \
	sh -c '"$1" reap --config "$2" --verbose | grep -q "^alive $3" && test -f "$4/$3"' sh "$PAM_AGENT" "$CONF" "$sid" "$SESS"
# every process's argv and environment, while the session runs
for p in /proc/[0-9]*; do cat "$p/cmdline" "$p/environ" 2>/dev/null; echo; done > "$work/proc-scan"
no_secret "no secret in any /proc/*/cmdline or environ during the session" "$work/proc-scan"
no_secret "no secret in CMD's own environ and cmdline" "$o/environ" "$o/cmdline"
check "CMD's environment carries PAM_AGENT_SESSION" grep -qx "PAM_AGENT_SESSION=$sid" "$o/environ"
rm -f "$work/proc-scan"

: > "$o/go"
wait "$ar1"
rc=$?
check "agent-run exits with CMD's status 0" test "$rc" = 0
# DESIGN §5 does not mention it: KEYCTL_INVALIDATE needs only "search",
# which the possessor has, so CMD can destroy (never keep or widen) a key
# of its own. Reported, not judged.
if [ "$(tail -n1 "$o/invalidate")" = 0 ]; then
	echo "NOTE: CMD could invalidate its own key (KEYCTL_INVALIDATE needs only the possessor's search permission)"
else
	echo "NOTE: CMD could not invalidate its own key: $(head -n1 "$o/invalidate")"
fi
for k in "$sf" "$sm" "$se"; do gone_now "after close: key $k is revoked" "$k" revoked; done
gone_now "after close: the per-session keyring is revoked" "$ring" revoked
out=$(keyctl print "$si" 2>&1) && fail "after close: key $si is still readable" ||
	case "$out" in *revoked* | *"not available"*) pass "after close: the invalidated key is gone" ;;
	*) fail "after close: key $si: $out" ;; esac
check "keyctl show finds nothing pam_agent in root's view" \
	sh -c '! keyctl show @s 2>/dev/null | grep -q pam_agent'
for g in "$F" "$M" "$E" "$I"; do revoked_in_proc_keys "/proc/keys: no live key of grant $g" "$g"; done
check "the broker revocation ran once, for the exec grant" test "$(lines "$work/revoked.e")" = 1
check "the session record is removed at close" test ! -e "$SESS/$sid"

# ---- 2. kill -9 of agent-run: expiry, then reap ------------------------------------------------
cat > "$work/cmd-crash" <<'EOF'
#!/bin/sh
out=$1 s=$2 c=$3
echo "$PAM_AGENT_SESSION" > "$out/sid"
keyctl search @s keyring "pam_agent:$PAM_AGENT_SESSION" > "$out/ring" 2>&1
keyctl search @s user "pam_agent:$s" > "$out/serial.s" 2>&1
keyctl search @s user "pam_agent:$c" > "$out/serial.c" 2>&1
echo $$ > "$out/pid"
: > "$out/ready"
exec sleep 120
EOF
chmod 0755 "$work/cmd-crash"
o=$work/out2
run_agent "$o" "$work/token.crash" /bin/sh "$work/cmd-crash" "$o" "$S" "$C"
ar2=$ar
if ! wait_for "$o/ready" "$ar2" 200; then
	fail "session 2: CMD never got ready; agent-run said:"
	sed 's/^/    /' "$o.stderr" "$o.stdout"
	pa_summary
	exit 1
fi
cmd2=$(cat "$o/pid")
pa_root_track_pid "$cmd2"
sid2=$(cat "$o/sid") ring2=$(cat "$o/ring") ss=$(cat "$o/serial.s") sc=$(cat "$o/serial.c")
for k in "$ring2" "$ss" "$sc"; do pa_root_track_key "$k"; keyctl link "$k" "$witness"; done
# only the launcher dies: CMD (the agent) runs on in the session
kill -9 "$ar2"
wait "$ar2" 2>/dev/null
check "kill -9: the record stays (close never ran)" test -f "$SESS/$sid2"
sleep 3
gone_now "kill -9: the 2 s key expired without any close" "$ss" expired
check "kill -9: the other key is still live (root reads it by serial)" \
	sh -c 'keyctl print "$1" >/dev/null 2>&1' sh "$sc"
check "pam-agent sessions: the owner is gone" \
	sh -c '"$1" sessions --config "$2" | grep -q "owner:   gone: process $3 is gone"' sh "$PAM_AGENT" "$CONF" "$ar2"
# the reaper runs like the systemd unit: a session keyring of its own
keyctl session - "$PAM_AGENT" reap --config "$CONF" > "$work/reap.out" 2>&1
rc=$?
check "reap from another session keyring: exit 0, session reaped" \
	sh -c 'test "$1" = 0 && grep -q "^reaped $2" "$3"' sh "$rc" "$sid2" "$work/reap.out" ||
	sed 's/^/    /' "$work/reap.out"
gone_now "reap: the live key is revoked, under the still-running agent" "$sc" revoked
gone_now "reap: the per-session keyring is revoked" "$ring2" revoked
out=$(keyctl print "$ss" 2>&1) && fail "reap: the expired key reads back" ||
	case "$out" in *expired* | *revoked*) pass "reap: the expired key stays unreadable" ;;
	*) fail "reap: the expired key: $out" ;; esac
check "reap: the broker revocation ran exactly once" test "$(lines "$work/revoked.c")" = 1
check "reap: the record is removed" test ! -e "$SESS/$sid2"
check "a second reap does nothing" \
	sh -c '"$1" reap --config "$2" | grep -q "nothing to reap" && test "$(wc -l < "$3")" -eq 1' \
	sh "$PAM_AGENT" "$CONF" "$work/revoked.c"
kill -9 "$cmd2"

# ---- 3. all or nothing --------------------------------------------------------------------------------
o=$work/out3
run_agent "$o" "$work/token.aon" /bin/sh -c ': > "$1/ran"' sh "$o"
wait "$ar"
rc=$?
check "second of three grants fails: agent-run exits 77" test "$rc" = 77
check "the refusal names the failing grant" grep -q "grant $A2" "$o.stderr" ||
	sed 's/^/    /' "$o.stderr"
check "CMD never ran" test ! -e "$o/ran"
revoked_in_proc_keys "the first grant's key is revoked (or was never placed)" "$A1"
revoked_in_proc_keys "no key of the third grant is live" "$A3"
check "the first grant's broker revocation ran exactly once" test "$(lines "$work/revoked.a1")" = 1
check "no session record is left behind" sh -c '[ -z "$(ls -A "$1")" ]' sh "$SESS"

# ---- 4. a session without grants gets a keyring of its own too ----------------------------------
# a key in the caller's (the test's, as a root login's) session keyring
planted=$(printf 'S3CR3T-planted-%s' "$(rnd)" | keyctl padd user "pam_agent:planted_$tag" @s)
pa_root_track_key "$planted"
cat > "$work/cmd-nogrant" <<'EOF'
#!/bin/sh
out=$1 name=$2
keyctl print "%user:pam_agent:$name" > "$out/read.planted" 2>&1
echo $? >> "$out/read.planted"
keyctl search @s user "pam_agent:$name" > "$out/search.planted" 2>&1
echo $? >> "$out/search.planted"
keyctl rdescribe @s > "$out/describe.s" 2>&1
EOF
chmod 0755 "$work/cmd-nogrant"
o=$work/out4
ruser=$tuser2
run_agent "$o" "$work/token.nogrant" /bin/sh "$work/cmd-nogrant" "$o" "planted_$tag"
ruser=
wait "$ar"
rc=$?
check "a session without grants opens: agent-run exits 0" test "$rc" = 0 ||
	sed 's/^/    /' "$o.stderr"
check "no grants: CMD cannot read the key of the caller's session keyring" \
	sh -c '[ "$(tail -n1 "$1")" != 0 ] && ! grep -q S3CR3T "$1"' sh "$o/read.planted"
check "no grants: CMD cannot find the key of the caller's session keyring" \
	sh -c '[ "$(tail -n1 "$1")" != 0 ]' sh "$o/search.planted"
check "no grants: CMD's session keyring is a new root-owned one (0f000000)" \
	grep -Eq "^keyring;0;0;0f000000;" "$o/describe.s" || sed 's/^/    /' "$o/describe.s"

# ---- 5. the user's key quota full: a session still opens -----------------------------------------
# the agent (any process of the account) fills its user keyring to the
# quota; cleared at exit (clear_fill), and each key expires by itself
# should even that not run (@u linked in @s: possessed, so the filler may
# set their timeouts)
cat > "$work/fill" <<'EOF'
#!/bin/sh
keyctl link @u @s || exit 1
i=0
while id=$(keyctl add user "pa-fill-$i" x @u 2>/dev/null); do
	keyctl timeout "$id" 300 || exit 1
	i=$((i + 1))
done
keyctl add user pa-fill-more x @u 2>&1 | grep -q "quota" || exit 1
echo "$i"
EOF
chmod 0755 "$work/fill"
clear_fill() {
	setpriv --reuid="$tuid" --regid="$tgid" --clear-groups keyctl session - keyctl clear @u \
		>/dev/null 2>&1
}
pa_at_exit clear_fill # before pa_root_cleanup removes the user; pa_exit then removes $work
n=$(setpriv --reuid="$tuid" --regid="$tgid" --clear-groups keyctl session - "$work/fill")
check "the test user's key quota is full (EDQUOT after $n keys)" test -n "$n"
o=$work/out5
run_agent "$o" "$work/token.bot" /bin/sh -c 'keyctl print "%user:pam_agent:$2" > "$1/read.f"' sh "$o" "$F"
wait "$ar"
rc=$?
check "user's key quota full: a session with grants still opens (agent-run exits 0)" test "$rc" = 0 ||
	sed 's/^/    /' "$o.stderr"
check "user's key quota full: CMD reads its credential" \
	test "$(cat "$o/read.f" 2>/dev/null)" = "$(tr -d '\n' < "$work/file.secret")"
clear_fill

# ---- no secret anywhere it could leak ---------------------------------------------------------------
check "the audit file has the session events" \
	sh -c 'grep -q "\"event\":\"credential_placed\",\"result\":\"ok\"" "$1" && grep -q "\"event\":\"key_revoked\"" "$1"' \
	sh "$work/audit.log"
no_secret "no secret in the audit file" "$work/audit.log"
touch "$work/helper.stderr"
no_secret "no secret in the helper's stderr" "$work/helper.stderr"
no_secret "no secret in agent-run's or reap's output" "$work"/out?.stdout "$work"/out?.stderr "$work/reap.out"

pa_summary
