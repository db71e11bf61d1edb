#!/bin/sh
# pam-agent sessions and reap, through the real Linux-PAM library (service
# files through pam_wrapper) and the real agent-run: a session with a file,
# a mint and an exec grant is listed alive; after kill -9 of agent-run it is
# listed with its owner gone, and reap revokes every key and the keyring
# (they read back revoked), runs the exec grant's broker revocation once and
# removes the record; a second reap finds nothing. Then hand-written records:
# pid reuse, a live owner, a serial that now names another key, a broker
# revocation that fails once, malformed and over-permissive records; stale
# identity hand-off records.
# Runs as any user: keys and files are owned by the effective uid.
set -u
. "$(dirname "$0")/../lib/lib.sh"
need_pam_wrapper
need keyctl python3
pa_workdir pa-sessions
ar_pid="" cmd_pid=""
cleanup() {
	# only what this test started, by pid
	[ -n "$ar_pid" ] && kill -9 "$ar_pid" 2>/dev/null
	[ -n "$cmd_pid" ] && kill -9 "$cmd_pid" 2>/dev/null
	# keys this test made or saw, by serial; the service files of the
	# agent-run we killed with -9
	pa_revoke_serials
	pa_pamwrap_leftovers
}
pa_at_exit cleanup
AUD=spiffe://example.org/host/test
me=$(id -un)
CONF=$work/pam_agent.conf
SESS=$work/state/sessions

starttime() { sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f20; }

# ---- a trust domain, brokers, a policy ---------------------------------------------------
pa_testca
printf 'S3CR3T-file-%s\n' "$(newsid)" > "$work/file.secret"
chmod 0600 "$work/file.secret"
exec_secret=S3CR3T-exec-$(newsid)
cat > "$work/issue" <<EOF
#!/bin/sh
cat >/dev/null
echo '{"secret":"$exec_secret","expires_at":null,"revoke_handle":"lease-42"}'
EOF
# a revoke command: appends its stdin (one JSON line) to the file named by $1
cat > "$work/revoke" <<'EOF'
#!/bin/sh
{ cat; echo; } >> "$1"
EOF
# fails the first time, then works like revoke
cat > "$work/flaky" <<'EOF'
#!/bin/sh
if [ ! -e "$1.failed-once" ]; then : > "$1.failed-once"; cat >/dev/null; exit 1; fi
{ cat; echo; } >> "$1"
EOF
chmod 0755 "$work/issue" "$work/revoke" "$work/flaky"
pa_policy_sessions broker_key="$work/ca/signing.key" helper="$HELPER" state_dir="$work/state" \
	audit_log="$work/audit.log" | pa_write "$CONF"
pa_pamd "$work/pam.d" "$CONF"
pa_mint bot "$AUD" --claim task=T-42 > "$work/token"

expect "no state directory yet: nothing to list" 0 "no sessions in $SESS" \
	"$PAM_AGENT" sessions --config "$CONF"
expect "no state directory yet: nothing to reap" 0 "nothing to reap" \
	"$PAM_AGENT" reap --config "$CONF"
expect "reap: usage error" 2 "usage: pam-agent reap" "$PAM_AGENT" reap --bogus
expect "sessions: configuration refused" 2 "configuration refused" \
	"$PAM_AGENT" sessions --config "$work/missing.conf"

# ---- a real session, killed ------------------------------------------------------------------
# agent-run gets a session keyring of its own; CMD, the agent, records its
# pid, waits for a trigger, then tries to read its file credential
cat > "$work/cmd" <<'EOF'
#!/bin/sh
echo $$ > "$1/cmd.pid"
n=0
# (up to 3 min: the steps before the trigger take over 30 s on a loaded machine)
while [ ! -e "$1/trigger" ] && [ $n -lt 1800 ]; do sleep 0.1; n=$((n + 1)); done
keyctl print %user:pam_agent:legacy-db > "$1/after" 2>&1
echo $? >> "$1/after"
exec sleep 30
EOF
chmod 0755 "$work/cmd"
keyctl session - env LD_PRELOAD="$PA_PAM_WRAPPER_PRELOAD" PAM_WRAPPER=1 \
	PAM_WRAPPER_SERVICE_DIR="$work/pam.d" UID_WRAPPER_DISABLE_DEEPBIND=1 \
	"$AGENT_RUN" --token-file "$work/token" --user "$me" -- "$work/cmd" "$work" \
	> "$work/agent-run.out" 2>&1 &
ar_pid=$!
i=0
while [ ! -s "$work/cmd.pid" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
cmd_pid=$(cat "$work/cmd.pid" 2>/dev/null)
if [ -z "$cmd_pid" ]; then
	fail "agent-run did not start CMD; its output:"
	sed 's/^/    /' "$work/agent-run.out"
	pa_summary
	exit 1
fi

"$PAM_AGENT" sessions --config "$CONF" --json > "$work/live.json"
sid=$(json "$work/live.json" 'j["sessions"][0]["sid"]')
json "$work/live.json" '"\n".join(str(k["serial"]) for k in j["sessions"][0]["keys"])' > "$work/serials"
ring=$(json "$work/live.json" 'j["sessions"][0]["ring"]')
echo "$ring" >> "$work/serials"
# A witness keyring of this test holds a link to each key (their owner may
# link them): once the per-session ring is revoked (which empties it) the
# kernel would otherwise garbage-collect them, and a key that is gone
# (ENOKEY) does not show whether it was revoked first.
witness=$(keyctl newring pa-witness @s)
while read -r s; do keyctl link "$s" "$witness"; done < "$work/serials"
echo "$witness" >> "$work/serials"
check "sessions --json: one session, owner alive, pid of agent-run" test \
	"$(json "$work/live.json" '(len(j["sessions"]), j["sessions"][0]["owner"], j["sessions"][0]["pid"])')" \
	= "(1, 'alive', $ar_pid)"
check "sessions --json: agent, user, task, the 3 keys live, one with a broker revoke" test \
	"$(json "$work/live.json" '(lambda s: (s["agent"], s["user"], s["task"], [(k["grant"], k["state"], k["broker_revoke"]) for k in s["keys"]], s["ring_state"]))(j["sessions"][0])')" \
	= "('spiffe://example.org/agents/bot', '$me', 'T-42', [('legacy-db', 'live', False), ('tickets-ro', 'live', False), ('vault-ro', 'live', True)], 'live')"
expect "sessions: text lists the session alive" 0 "owner:   alive: process $ar_pid" \
	"$PAM_AGENT" sessions --config "$CONF"
expect "sessions: text lists each key" 0 "tickets-ro" "$PAM_AGENT" sessions --config "$CONF"
check "the keys are readable by serial before the reap (owned by this uid)" \
	sh -c 'while read -r s; do keyctl print "$s" >/dev/null 2>&1 || exit 1; done < "$1"' sh "$work/serials"
expect "reap: a live session is left alone (quietly)" 0 "nothing to reap: 1 session(s), none orphaned" \
	"$PAM_AGENT" reap --config "$CONF"
expect "reap --verbose names the live session" 0 "alive $sid" "$PAM_AGENT" reap --config "$CONF" --verbose
check "reap of a live session: record kept, no broker revocation" \
	sh -c 'test -f "$1" && test ! -e "$2"' sh "$SESS/$sid" "$work/revoked.log"

# the launcher dies; the agent runs on in the session
kill -9 "$ar_pid"
wait "$ar_pid" 2>/dev/null
ar_pid=""
check "kill -9: the record is still there (close never ran)" test -f "$SESS/$sid"
"$PAM_AGENT" sessions --config "$CONF" --json > "$work/dead.json"
check "sessions --json: owner gone, keys still live" test \
	"$(json "$work/dead.json" '(lambda s: (s["owner"], [k["state"] for k in s["keys"]]))(j["sessions"][0])')" \
	= "('gone', ['live', 'live', 'live'])"
expect "reap --dry-run says what it would do" 0 "would reap $sid" \
	"$PAM_AGENT" reap --config "$CONF" --dry-run
check "reap --dry-run: record kept, keys live, no broker revocation" \
	sh -c 'test -f "$1" && test ! -e "$2" && keyctl print "$(head -n1 "$3")" >/dev/null 2>&1' \
	sh "$SESS/$sid" "$work/revoked.log" "$work/serials"
expect "reap revokes the orphaned session" 0 "reaped $sid" "$PAM_AGENT" reap --config "$CONF"
check "after reap: every key and the keyring read back revoked" \
	sh -c 'while read -r s; do [ "$s" = "$2" ] && continue; out=$(keyctl print "$s" 2>&1) && exit 1
		case "$out" in *revoked*) ;; *) echo "    $s: $out"; exit 1 ;; esac; done < "$1"' \
	sh "$work/serials" "$witness"
: > "$work/trigger"
i=0
while [ ! -s "$work/after" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
# (only its own secret counts: this agent runs as the test's uid, which owns
# every key the helper places, and keyutils' %user: look-up falls back to
# scanning /proc/keys, so it may find a key of another test running
# meanwhile as the same uid; in production the keys are root's)
check "the agent, still running, can no longer read its credential" \
	sh -c '[ -s "$1" ] && ! grep -qF -- "$(tr -d "\n" < "$2")" "$1"' \
	sh "$work/after" "$work/file.secret" || sed 's/^/    /' "$work/after"
kill -9 "$cmd_pid" 2>/dev/null
cmd_pid=""
check "after reap: the broker revocation ran exactly once, with its handle" test \
	"$(lines "$work/revoked.log"):$(json "$work/revoked.log" '(j["grant"], j["handle"], j["sid"])')" \
	= "1:('vault-ro', 'lease-42', '$sid')"
check "after reap: the record is removed" test ! -e "$SESS/$sid"
check "audit: key_revoked and session_closed for the session, ok" \
	sh -c 'grep "\"sid\":\"$2\"" "$1" | grep -q "\"event\":\"key_revoked\",\"result\":\"ok\"" &&
		grep "\"sid\":\"$2\"" "$1" | grep "\"event\":\"session_closed\",\"result\":\"ok\"" | grep -q "reaped by pam-agent reap"' \
	sh "$work/audit.log" "$sid"
expect "a second reap does nothing" 0 "nothing to reap: no sessions" \
	"$PAM_AGENT" reap --config "$CONF"
check "a second reap runs no broker revocation" test "$(lines "$work/revoked.log")" = 1
printf '%s\n%s\n' "$(tr -d '\n' < "$work/file.secret")" "$exec_secret" > "$work/secrets"
check "no secret in the audit file or in agent-run's output" \
	sh -c '! grep -qF -f "$1" "$2" "$3"' sh "$work/secrets" "$work/audit.log" "$work/agent-run.out"

# ---- hand-written records ------------------------------------------------------------------------
# record FILE SID PID START RING KEYS-JSON: a record as session.c writes it
# (EXPIRES: its expiry, default in 10 minutes; TASK: its task JSON, default null)
record() {
	umask 077
	printf '{"agent":"spiffe://example.org/agents/bot","expires":%s,"keys":%s,"opened":%s,"pid":%s,"ring":%s,"sid":"%s","start_time":%s,"task":%s,"uid":%s,"user":"%s"}' \
		"${EXPIRES:-$(($(date +%s) + 600))}" "$6" "$(date +%s)" "$3" "$5" "$2" "$4" "${TASK:-null}" "$(id -u)" "$me" > "$1"
	chmod 0600 "$1"
}
# ring SID: the session's keyring "pam_agent:SID" as the module makes it
# (permissions 0x0b3f0000), linked in this shell's session keyring
ring() {
	r=$(keyctl newring "pam_agent:$1" @s) && keyctl setperm "$r" 0x0b3f0000 &&
		echo "$r" >> "$work/serials" && echo "$r"
}
# key NAME RING: a key as the helper places it (permissions 0x0b3f0000: the
# helper, in a session keyring of its own, revokes it as its owner), linked
# in RING (close revokes only keys linked in the session's keyring) and in
# this shell's session keyring
key() {
	k=$(keyctl add user "pam_agent:$1" "value-of-$1" @s) && keyctl setperm "$k" 0x0b3f0000 &&
		keyctl link "$k" "$2" && echo "$k" >> "$work/serials" && echo "$k"
}

# pid reuse: the pid lives (this shell), the start time is another one
s1=$(newsid)
r1=$(ring "$s1")
k1=$(key g1 "$r1")
record "$SESS/$s1" "$s1" $$ 1 "$r1" "[{\"grant\":\"g1\",\"serial\":$k1,\"expires_at\":1,\"handle\":\"h1\",\"revoke\":\"$work/revoke $work/r1.log\"}]"
expect "sessions: a reused pid counts as gone" 0 "pid reused" "$PAM_AGENT" sessions --config "$CONF"
expect "reap: a session whose pid was reused is reaped" 0 "reaped $s1" "$PAM_AGENT" reap --config "$CONF"
check "pid reuse: key revoked, broker told once, record removed" \
	sh -c '! keyctl print "$1" >/dev/null 2>&1 && test "$(wc -l < "$2")" -eq 1 && test ! -e "$3"' \
	sh "$k1" "$work/r1.log" "$SESS/$s1"

# a live owner with the right start time is left alone
s2=$(newsid)
r2=$(ring "$s2")
k2=$(key g2 "$r2")
record "$SESS/$s2" "$s2" $$ "$(starttime $$)" "$r2" "[{\"grant\":\"g2\",\"serial\":$k2,\"expires_at\":1,\"handle\":null,\"revoke\":null}]"
expect "reap: same pid and start time: alive, left alone" 0 "alive $s2" \
	"$PAM_AGENT" reap --config "$CONF" --verbose
check "live owner: key still readable, record kept" \
	sh -c 'keyctl print "$1" >/dev/null 2>&1 && test -f "$2"' sh "$k2" "$SESS/$s2"
rm -f "$SESS/$s2"

# F5: a session past its expiry (max_session) is reaped although its owner
# lives on (this shell, same start time): key revoked, broker told, audited
s2e=$(newsid)
r2e=$(ring "$s2e")
k2e=$(key g2e "$r2e")
EXPIRES=$(($(date +%s) - 5)) record "$SESS/$s2e" "$s2e" $$ "$(starttime $$)" "$r2e" "[{\"grant\":\"g2e\",\"serial\":$k2e,\"expires_at\":1,\"handle\":\"h2e\",\"revoke\":\"$work/revoke $work/r2e.log\"}]"
s2f=$(newsid)
r2f=$(ring "$s2f")
k2f=$(key g2f "$r2f")
record "$SESS/$s2f" "$s2f" $$ "$(starttime $$)" "$r2f" "[{\"grant\":\"g2f\",\"serial\":$k2f,\"expires_at\":1,\"handle\":\"h2f\",\"revoke\":\"$work/revoke $work/r2f.log\"}]"
expect "reap --dry-run: an expired session with a live owner would be reaped" 0 \
	"would reap $s2e: expired: its max_session ended at" "$PAM_AGENT" reap --config "$CONF" --dry-run
expect "reap: an expired session with a live owner is reaped" 0 "reaped $s2e: expired" \
	"$PAM_AGENT" reap --config "$CONF"
check "expired, owner alive: key revoked, broker told once, record removed" \
	sh -c '! keyctl print "$1" >/dev/null 2>&1 && test "$(wc -l < "$2")" -eq 1 && test ! -e "$3"' \
	sh "$k2e" "$work/r2e.log" "$SESS/$s2e"
check "audit: the expired session is closed with reason expired" \
	sh -c 'grep "\"sid\":\"$2\"" "$1" | grep "\"event\":\"session_closed\",\"result\":\"ok\"" | grep -q "expired"' \
	sh "$work/audit.log" "$s2e"
check "not yet expired, owner alive: key readable, no broker revocation, record kept" \
	sh -c 'keyctl print "$1" >/dev/null 2>&1 && test ! -e "$2" && test -f "$3"' \
	sh "$k2f" "$work/r2f.log" "$SESS/$s2f"
rm -f "$SESS/$s2f"

# a record with "task":"" (tokens with an empty task, before verification
# refused them) is still reaped, not left unreadable forever
s2t=$(newsid)
r2t=$(ring "$s2t")
k2t=$(key g2t "$r2t")
sh -c 'exit 0' & dead=$!
wait $dead
TASK='""' record "$SESS/$s2t" "$s2t" "$dead" 1 "$r2t" "[{\"grant\":\"g2t\",\"serial\":$k2t,\"expires_at\":1,\"handle\":null,\"revoke\":\"$work/revoke $work/r2t.log\"}]"
expect "reap: a record with an empty task is reaped" 0 "reaped $s2t" "$PAM_AGENT" reap --config "$CONF"
check "empty task: key revoked, broker told, record removed" \
	sh -c '! keyctl print "$1" >/dev/null 2>&1 && test "$(wc -l < "$2")" -eq 1 && test ! -e "$3"' \
	sh "$k2t" "$work/r2t.log" "$SESS/$s2t"

# serials that now name other keys: neither the key nor the keyring is touched,
# the broker revocation still runs
sh -c 'exit 0' & dead=$!
wait $dead
s3=$(newsid)
other=$(keyctl add user unrelated-key keep-me @s)
decoy=$(keyctl newring decoy-ring @s)
echo "$other" >> "$work/serials"
record "$SESS/$s3" "$s3" "$dead" 1 "$decoy" "[{\"grant\":\"g3\",\"serial\":$other,\"expires_at\":1,\"handle\":\"h3\",\"revoke\":\"$work/revoke $work/r3.log\"}]"
expect "sessions: a reused serial shows as reused" 0 "reused" "$PAM_AGENT" sessions --config "$CONF"
expect "reap: reused serials are left alone, the session is reaped" 0 "reaped $s3" \
	"$PAM_AGENT" reap --config "$CONF"
check "reused serials: the other key and keyring live on, broker told once" \
	sh -c 'test "$(keyctl print "$1")" = keep-me && keyctl describe "$2" >/dev/null &&
		test "$(wc -l < "$3")" -eq 1 && test ! -e "$4"' \
	sh "$other" "$decoy" "$work/r3.log" "$SESS/$s3"

# a broker revocation that fails: exit 1, the record keeps only what is left
s4=$(newsid)
r4=$(ring "$s4")
k4a=$(key g4a "$r4")
k4b=$(key g4b "$r4")
record "$SESS/$s4" "$s4" "$dead" 1 "$r4" "[{\"grant\":\"g4a\",\"serial\":$k4a,\"expires_at\":1,\"handle\":\"a\",\"revoke\":\"$work/revoke $work/r4a.log\"},{\"grant\":\"g4b\",\"serial\":$k4b,\"expires_at\":1,\"handle\":\"b\",\"revoke\":\"$work/flaky $work/r4b.log\"}]"
expect "reap: a failing broker revocation: exit 1, record kept" 1 "FAILED $s4" \
	"$PAM_AGENT" reap --config "$CONF"
check "failing broker: both keys revoked, the record keeps only g4b" test \
	"$(keyctl print "$k4a" >/dev/null 2>&1 || echo a-revoked)$(keyctl print "$k4b" >/dev/null 2>&1 || echo b-revoked):$(json "$SESS/$s4" '[k["grant"] for k in j["keys"]]')" \
	= "a-revokedb-revoked:['g4b']"
check "audit: revoke_failed for that session" \
	sh -c 'grep "\"sid\":\"$2\"" "$1" | grep -q "\"event\":\"revoke_failed\",\"result\":\"failed\""' \
	sh "$work/audit.log" "$s4"
expect "reap again: the broker works now" 0 "reaped $s4" "$PAM_AGENT" reap --config "$CONF"
check "each broker revocation succeeded exactly once overall" test \
	"$(lines "$work/r4a.log"):$(lines "$work/r4b.log"):$(test -e "$SESS/$s4" && echo kept)" = "1:1:"

# records that cannot be trusted are reported and never removed
s5=$(newsid)
printf '{"sid":"%s", not json' "$s5" > "$SESS/$s5"
chmod 0600 "$SESS/$s5"
s6=$(newsid)
r6=$(ring "$s6")
k6=$(key g6 "$r6")
record "$SESS/$s6" "$s6" "$dead" 1 "$r6" "[{\"grant\":\"g6\",\"serial\":$k6,\"expires_at\":1,\"handle\":null,\"revoke\":null}]"
chmod 0644 "$SESS/$s6"
s7=$(newsid)
ln -s "$SESS/$s6" "$SESS/$s7"
fresh_tmp="$SESS/$(newsid).tmp" stale_tmp="$SESS/$(newsid).reap.tmp"
: > "$fresh_tmp"
: > "$stale_tmp"
touch -d '2 minutes ago' "$stale_tmp"
: > "$SESS/notes.txt"
expect "sessions: a malformed record is reported, exit 1" 1 "$s5: not a JSON object" \
	"$PAM_AGENT" sessions --config "$CONF"
expect "sessions --json: problems listed" 1 "\"record\": \"$s6\"" \
	"$PAM_AGENT" sessions --config "$CONF" --json
expect "reap: a record readable by others is refused" 1 "$s6: mode 0644" \
	"$PAM_AGENT" reap --config "$CONF"
expect "reap: a symbolic link is refused" 1 "$s7: cannot open" "$PAM_AGENT" reap --config "$CONF"
expect "reap: other names are only noted" 1 "notes.txt is not a session record" \
	"$PAM_AGENT" reap --config "$CONF"
check "audit: an unreadable record is reported with its path (revoke_failed)" \
	sh -c 'grep "\"sid\":\"$2\"" "$1" | grep "\"event\":\"revoke_failed\",\"result\":\"failed\"" | grep -qF "record $3/$2 cannot be read"' \
	sh "$work/audit.log" "$s5" "$SESS"
check "reap: a temporary record file older than a minute is removed, a fresh one kept" \
	sh -c 'test ! -e "$1" && test -f "$2"' sh "$stale_tmp" "$fresh_tmp"
check "untrusted records are left in place, their key untouched" \
	sh -c 'test -f "$1" && test -f "$2" && test -L "$3" && keyctl print "$4" >/dev/null' \
	sh "$SESS/$s5" "$SESS/$s6" "$SESS/$s7" "$k6"
rm -f "$SESS/$s5" "$SESS/$s6" "$SESS/$s7" "$SESS"/*.tmp "$SESS/notes.txt"

# identity hand-off records (docs/handoff.md): one never taken and older than its 60 s is removed, and so is
# an old tombstone; fresh ones stay, other names are left alone
HO=$work/state/handoff
mkdir -m 0700 "$HO"
ho_old=$HO/$(newsid)$(newsid) ho_used=$HO/$(newsid)$(newsid).used ho_new=$HO/$(newsid)$(newsid)
: > "$ho_old"
: > "$ho_used"
: > "$ho_new"
: > "$HO/notes.txt"
chmod 0600 "$HO"/*
touch -d '2 minutes ago' "$ho_old" "$ho_used" "$HO/notes.txt"
expect "reap removes stale hand-off records" 0 "removed 2 stale identity hand-off record(s)" \
	"$PAM_AGENT" reap --config "$CONF"
check "reap: stale hand-off record and tombstone removed, a fresh record and other names kept" \
	sh -c 'test ! -e "$1" && test ! -e "$2" && test -f "$3" && test -f "$4"' \
	sh "$ho_old" "$ho_used" "$ho_new" "$HO/notes.txt"
chmod 0755 "$HO"
expect "reap: a hand-off directory others may read is left alone, exit 1" 1 \
	"hand-off records: $HO: must be a directory owned by uid" "$PAM_AGENT" reap --config "$CONF"
rm -rf "$HO"

# a sessions directory others may write to is not trusted at all
chmod 0777 "$SESS"
expect "reap: a group/world-writable sessions directory is refused" 2 "not group- or world-writable" \
	"$PAM_AGENT" reap --config "$CONF"
chmod 0700 "$SESS"

pa_summary
