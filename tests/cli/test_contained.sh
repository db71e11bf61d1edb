#!/bin/sh
# Attacks from the security reviews that are contained without a change
# (docs/security.md, "contained"), end to end through the real Linux-PAM
# library (pam_wrapper), agent-run, pam_agent.so, the helper and an exec
# broker, and pam-agent reap:
# - broker answers with a huge, past, zero, negative, float or too large
#   "expires_at": the key's kernel timeout never exceeds the grant's ttl;
#   anything that is not a positive time is refused, nothing is left;
# - a secret with a newline is placed byte for byte; one with a NUL is
#   refused (strict JSON), nothing is left;
# - a hostile "revoke_handle" (shell syntax, newlines, quotes, a path) is
#   handed back to the revoke command verbatim, inside JSON on stdin, and
#   never interpreted; one longer than SES_HANDLE_MAX is refused;
# - session records that are hard links are refused by the reaper and
#   neither removed nor acted on.
# Runs as any user: keys and files are owned by the effective uid.
set -u
. "$(dirname "$0")/../lib/lib.sh"
need_pam_wrapper
need keyctl python3
pa_workdir pa-contained
pa_at_exit pa_revoke_serials
AUD=spiffe://example.org/host/test
me=$(id -un)
CONF=$work/pam_agent.conf
SESS=$work/state/sessions

pa_testca
# the broker answers what $work/answer holds (one JSON text), after
# keeping its stdin and argv
cat > "$work/issue" <<EOF
#!/bin/sh
cat > "$work/issue.stdin"
printf '%s\n' "\$*" > "$work/issue.argv"
cat "$work/answer"
EOF
# the revoke command appends its stdin (one JSON line) to revoked.log
cat > "$work/revoke" <<EOF
#!/bin/sh
{ cat; echo; } >> "$work/revoked.log"
EOF
chmod 0755 "$work/issue" "$work/revoke"
{
	pa_policy_head helper="$HELPER" state_dir="$work/state" audit_log="$work/audit.log"
	pa_section "service agent-run" class=read
	pa_section "grant vault" class=read source=exec command="$work/issue" revoke="$work/revoke" ttl=2m
	pa_section "agent spiffe://example.org/agents/bot" users="$me" services=agent-run grants=vault
} | pa_write "$CONF"
pa_pamd "$work/pam.d" "$CONF"

# CMD: the key's serial, its expiry column of /proc/keys, and its bytes in hex
cat > "$work/cmd" <<'EOF'
#!/bin/sh
s=$(keyctl search @s user pam_agent:vault) || exit 9
echo "$s" >> "$1/serials"
hex=$(printf '%08x' "$s")
echo "expiry $(awk -v id="$hex" '$1 == id { print $4 }' /proc/keys)"
echo "bytes $(keyctl pipe "$s" | od -An -tx1 | tr -d ' \n')"
EOF
chmod 0755 "$work/cmd"

run() { # run: agent-run with a fresh token, CMD above
	pa_mint bot "$AUD" > "$work/token"
	keyctl session - env LD_PRELOAD="$PA_PAM_WRAPPER_PRELOAD" PAM_WRAPPER=1 \
		PAM_WRAPPER_SERVICE_DIR="$work/pam.d" UID_WRAPPER_DISABLE_DEEPBIND=1 \
		"$AGENT_RUN" --token-file "$work/token" --user "$me" -- "$work/cmd" "$work"
}
answer() { printf '%s\n' "$1" > "$work/answer"; }
nothing_left() { # no session record, no key of ours left readable
	[ -z "$(ls -A "$SESS" 2>/dev/null)" ] || return 1
	[ ! -f "$work/serials" ] && return 0
	while read -r s; do keyctl print "$s" >/dev/null 2>&1 && return 1; done < "$work/serials"
	return 0
}

# ---- expires_at ---------------------------------------------------------------------------
# the timeout is min(grant ttl, session max, broker expiry): a far-future
# expiry does not lengthen it
for exp in 9223372036854775807 '"9999-12-31T23:59:59Z"' 4102444800; do
	answer "{\"secret\":\"s\",\"expires_at\":$exp}"
	out=$(run 2>&1)
	case "$out" in
	*"expiry 1m"* | *"expiry 2m"*) pass "expires_at $exp: the key times out within the grant ttl (2m)" ;;
	*) fail "expires_at $exp: $out" ;;
	esac
done
check "far-future expiry: no record or key left after the session" nothing_left
# not a positive time: refused, CMD never runs, nothing left
for exp in 1000 0 -5 12.5 1e300 99999999999999999999 '"1970-01-01T00:00:00Z"' '"0000-01-01T00:00:00Z"' true '[1]'; do
	answer "{\"secret\":\"s\",\"expires_at\":$exp}"
	out=$(run 2>&1)
	rc=$?
	case "$rc:$out" in
	*bytes*) fail "expires_at $exp: CMD ran: $out" ;;
	77:*"already expired"* | 77:*"neither epoch seconds"* | 77:*"no valid JSON"*)
		pass "expires_at $exp: session refused" ;;
	*) fail "expires_at $exp: exit $rc: $out" ;;
	esac
done
check "refused expiries: no record or key left" nothing_left

# ---- secrets with a newline or a NUL -----------------------------------------------------------
answer '{"secret":"line1\nline2\r\n","expires_at":null}'
out=$(run 2>&1)
case "$out" in
*"bytes 6c696e65310a6c696e65320d0a"*) pass "a secret with newlines is placed byte for byte" ;;
*) fail "secret with newlines: $out" ;;
esac
answer '{"secret":"a\u0000b","expires_at":null}'
expect "a secret with a NUL is refused (strict JSON), CMD never runs" 77 "printed no valid JSON" run
check "secrets: no record or key left" nothing_left

# ---- hostile revoke handles ---------------------------------------------------------------------
rm -f "$work/revoked.log"
handle="\$(touch $work/PWNED-1); \`touch $work/PWNED-2\` | ../../../etc/shadow \"quoted\" 'single'
second line	tab"
python3 -c 'import json,sys; print(json.dumps({"secret":"s","revoke_handle":sys.argv[1]}))' "$handle" \
	> "$work/answer"
out=$(run 2>&1)
case "$out" in
*bytes*) pass "hostile revoke_handle: the session opens" ;;
*) fail "hostile revoke_handle: $out" ;;
esac
printf '%s' "$handle" > "$work/handle.want"
check "hostile revoke_handle: given back verbatim on the revoke command's stdin" \
	python3 -c 'import json,sys; j=json.loads(open(sys.argv[1]).readline()); sys.exit(j["handle"] != open(sys.argv[2]).read())' \
	"$work/revoked.log" "$work/handle.want"
check "hostile revoke_handle: nothing in it was run" \
	sh -c 'test ! -e "$1/PWNED-1" && test ! -e "$1/PWNED-2"' sh "$work"
python3 -c 'import json; print(json.dumps({"secret":"s","revoke_handle":"h"*4097}))' > "$work/answer"
expect "a revoke_handle over 4096 bytes is refused" 77 '"revoke_handle" is not a string of 1 to 4096 bytes' run
answer '{"secret":"s","revoke_handle":42}'
expect "a revoke_handle that is not a string is refused" 77 '"revoke_handle" is not a string' run
check "handles: no record or key left" nothing_left
check "no broker secret in the audit file" sh -c '! grep -q "line1" "$1"' sh "$work/audit.log"

# ---- reaper records that are hard links ------------------------------------------------------------
record() { # record FILE SID KEYS-JSON: a record of a dead owner, as session.c writes it
	umask 077
	printf '{"agent":"spiffe://example.org/agents/bot","expires":%s,"keys":%s,"opened":%s,"pid":%s,"ring":0,"sid":"%s","start_time":1,"task":null,"uid":%s,"user":"%s"}' \
		"$(($(date +%s) + 600))" "$3" "$(date +%s)" "$dead" "$2" "$(id -u)" "$me" > "$1"
	chmod 0600 "$1"
}
sh -c 'exit 0' & dead=$!
wait $dead
mkdir -p "$SESS"
chmod 0700 "$work/state" "$SESS"
s1=$(newsid) s2=$(newsid) s3=$(newsid)
k1=$(keyctl add user pam_agent:g1 value-1 @s)
echo "$k1" >> "$work/serials"
record "$SESS/$s1" "$s1" "[{\"grant\":\"g1\",\"serial\":$k1,\"expires_at\":1,\"handle\":\"h1\",\"revoke\":\"$work/revoke\"}]"
ln "$SESS/$s1" "$SESS/$s2"
# a hard link to a file of this user outside the state directory
record "$work/victim" "$s3" "[]"
cp "$work/victim" "$work/victim.orig"
ln "$work/victim" "$SESS/$s3"
rm -f "$work/revoked.log"
expect "reap: a record with two hard links is refused" 1 "$s1: has 2 hard links" \
	"$PAM_AGENT" reap --config "$CONF"
expect "reap: its other name too" 1 "$s2: has 2 hard links" "$PAM_AGENT" reap --config "$CONF"
expect "reap: a hard link to a file outside is refused" 1 "$s3: has 2 hard links" \
	"$PAM_AGENT" reap --config "$CONF"
check "hard links: key untouched, no broker revocation, every name kept, the outside file unchanged" \
	sh -c 'keyctl print "$1" >/dev/null && test ! -e "$2" && test -f "$3" && test -f "$4" &&
		test -f "$5" && cmp -s "$6" "$6.orig"' \
	sh "$k1" "$work/revoked.log" "$SESS/$s1" "$SESS/$s2" "$SESS/$s3" "$work/victim"
rm -f "$SESS/$s1" "$SESS/$s2" "$SESS/$s3"

pa_summary
