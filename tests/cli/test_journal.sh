#!/bin/sh
# The journal sink (docs/audit.md, "The journal") as any user: in a user and
# mount namespace of its own (unshare -Urm) a tmpfs hides /run/systemd and
# tests/lib/journal.py listens at /run/systemd/journal/socket in journald's
# place; nothing outside the namespace changes. journal_emit writes, through
# the real aud_emit, one event of each kind (a reason with a newline: a
# binary field of the native protocol) and one long decision (~100 KiB of
# fields, a token quoted in a reason):
#  - each arrives with its MESSAGE_ID (as docs/audit.md lists it), MESSAGE
#    one line, a PAM_AGENT_* field per key of its audit line, one per list
#    entry in order, and the whole line in PAM_AGENT_JSON equal to the line
#    of the audit file; the long one whole; no token or token segment in
#    any field;
#  - with a socket nobody listens on, and without one, every event goes to
#    syslog instead (journal_emit's syslog function), LOG_AUTHPRIV|LOG_INFO.
# tests/root/root_journal.sh drives the real PAM transactions. Runs in the
# sanitizer build too. Skips (77) where user namespaces are not allowed.
set -u
if [ -z "${PA_JOURNAL_NS:-}" ]; then
	if ! command -v unshare >/dev/null 2>&1; then
		echo "SKIP: test_journal.sh needs unshare (util-linux)"
		exit 77
	fi
	for ns in "-Urm" "-m"; do
		if unshare $ns --propagation private sh -c 'mount -t tmpfs pa-journal-test /run 2>/dev/null' \
			2>/dev/null; then
			PA_JOURNAL_NS=1 exec unshare $ns --propagation private sh "$0" "$@"
		fi
	done
	echo "SKIP: test_journal.sh: no private mount namespace here (unshare -Urm: user namespaces not allowed)"
	exit 77
fi
. "$(dirname "$0")/../lib/lib.sh"
need python3
EMIT=$B/tests/cli/journal_emit
need_built "$EMIT" "$PAM_AGENT"
jdir=/run/systemd
[ -d "$jdir" ] || jdir=/run
mount -t tmpfs -o mode=0755 pa-journal-test "$jdir" || pa_die "mount a tmpfs over $jdir"
mkdir -p /run/systemd/journal
SOCK=/run/systemd/journal/socket
JPY=$(dirname "$0")/../lib/journal.py

pa_workdir pa-journal
listener=""
stop_listener() { [ -n "$listener" ] && kill -9 "$listener" 2>/dev/null; return 0; }
pa_at_exit stop_listener
python3 "$JPY" listen "$SOCK" "$work/entries" "$work/ready" 2> "$work/listener.err" &
listener=$!
wait_for "$work/ready" "$listener" 100 || pa_die "the test listener did not start: $(cat "$work/listener.err")"

pa_testca
"$PAM_AGENT" testca mint "$work/ca" --id spiffe://example.org/agents/journal \
	--aud spiffe://example.org/host/journal > "$work/token"
cp "$work/token" "$work/secrets"

"$EMIT" "$work/audit.log" "$(cat "$work/token")" > "$work/emit.out" 2> "$work/emit.err"
rc=$?
check "journal_emit wrote 9 events to the audit file (exit $rc)" \
	sh -c 'test "$1" = 0 && test "$(wc -l < "$2")" = 9' sh "$rc" "$work/audit.log"
check "with journald listening nothing went to syslog" test ! -s "$work/emit.out"
long=$(tail -n 1 "$work/audit.log" | wc -c)
check "the long event's audit line is over 64 KiB ($long bytes)" test "$long" -gt 65536
n=0
while [ "$(lines "$work/entries")" -lt 9 ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
python3 "$JPY" check "$work/entries" "$work/audit.log" "$(dirname "$0")/../../docs/audit.md" \
	"$work/secrets" authenticate decision credential_placed key_revoked revoke_failed \
	session_closed task_budget_exceeded bundle_fetch > "$work/check.out" 2>&1
cat "$work/check.out"
pa_passes=$((pa_passes + $(grep -c '^PASS' "$work/check.out")))
pa_fails=$((pa_fails + $(grep -c '^FAIL' "$work/check.out")))
size=$(python3 -c 'import json,sys; print(max(json.loads(l).get("size", 0) for l in open(sys.argv[1])))' \
	"$work/entries")
check "the long entry arrived whole ($size bytes with its fields, over 96 KiB)" test "$size" -gt 98304
check "a reason with a newline arrived as one field, newline and all" \
	grep -q '"PAM_AGENT_REASON", "first line\\nsecond line of the same reason"' "$work/entries"

# ---- without journald: syslog ---------------------------------------------------------------
kill "$listener"
wait "$listener" 2>/dev/null
listener=""
check "a dead socket is left where journald's was" test -S "$SOCK"
before=$(lines "$work/entries")
"$EMIT" "$work/audit.log" x > "$work/emit.dead" 2>&1
check "journald not listening: all 9 events go to syslog (LOG_AUTHPRIV|LOG_INFO)" \
	test "$(grep -c '^SYSLOG 86 {"v":1' "$work/emit.dead")" = 9
rm -f "$SOCK"
"$EMIT" "$work/audit.log" x > "$work/emit.none" 2>&1
check "no journal socket: all 9 events go to syslog" \
	test "$(grep -c '^SYSLOG 86 {"v":1' "$work/emit.none")" = 9
check "nothing more arrived at the listener" test "$(lines "$work/entries")" = "$before"
pa_summary
