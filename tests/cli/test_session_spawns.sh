#!/bin/sh
# How many times a session runs pam_agent_helper (docs/helper.md, "Close
# without the helper"), counted by a wrapper named by `helper =` that keeps
# each request and then runs the built helper with it, through the real
# Linux-PAM library and agent-run:
# - file and mint grants only: one run (the open); the close spawns nothing,
#   yet the keys read back revoked (kept from the garbage collector by a
#   keyring of the test), the record is gone and the audit trail has
#   key_revoked and session_closed, both ok;
# - an exec grant with a revoke command: two runs (open, close), and its
#   broker revocation ran once, with the lease's handle.
# Runs as any user: keys and files are owned by the effective uid.
set -u
. "$(dirname "$0")/../lib/lib.sh"
need_pam_wrapper
need keyctl python3
pa_workdir pa-spawns
witness=""
pa_at_exit pa_witness_cleanup
AUD=spiffe://example.org/host/test
me=$(id -un)

pa_testca
printf 'S3CR3T-file-%s\n' "$(newsid)" > "$work/file.secret"
chmod 0600 "$work/file.secret"
cat > "$work/issue" <<'EOF'
#!/bin/sh
cat >/dev/null
echo '{"secret":"S3CR3T-exec","expires_at":null,"revoke_handle":"lease-7"}'
EOF
cat > "$work/revoke" <<'EOF'
#!/bin/sh
{ cat; echo; } >> "$1"
EOF
# the helper, counted: each request kept as requests/N, then the real helper on it
mkdir "$work/requests"
cat > "$work/helper" <<EOF
#!/bin/sh
n=\$(ls "$work/requests" | wc -l)
cat > "$work/requests/\$n"
exec "$HELPER" < "$work/requests/\$n"
EOF
# CMD of the first session: reads its keys, writes their serials, and waits
# until the test has linked them into its witness keyring
pa_witness_cmd
chmod 0755 "$work/issue" "$work/revoke" "$work/helper" "$work/cmd"

pa_policy_split broker_key="$work/ca/signing.key" helper="$work/helper" \
	state_dir="$work/state" audit_log="$work/audit.log" | pa_write "$work/pam_agent.conf"
pa_check_conf "$work/pam_agent.conf"
pa_pamd "$work/pam.d" "$work/pam_agent.conf"

# ops: the "op" of each kept request, in order, on one line
ops() {
	for f in $(ls "$work/requests" | sort -n); do
		json "$work/requests/$f" 'j["op"]'
	done | tr '\n' ' '
}

# ---- file and mint grants: the close spawns nothing ------------------------------------
# The keys, linked into a witness keyring of the test (their owner may),
# outlive the session's keyring and read back "revoked" only if close
# revoked them.
pa_witnessed_session pa-spawns-witness
check "file + mint: agent-run ran CMD (status $st)" test "$st" -eq 0 -a -s "$work/during"
check "file + mint: CMD read its keys" grep -q "S3CR3T-file" "$work/during"
check "file + mint: the helper ran once, for the open" test "$(ops)" = "open "
check "file + mint: both keys read back revoked after the close" \
	sh -c 'test "$(wc -l < "$1")" -eq 2 && while read -r s; do
		keyctl print "$s" 2>&1 | grep -q "revoked" || exit 1; done < "$1"' sh "$work/serials"
check "file + mint: the record is gone" sh -c '! ls "$1"/* 2>/dev/null | grep -q .' sh \
	"$work/state/sessions"
check "file + mint: key_revoked ok in the audit trail" \
	grep -q '"event":"key_revoked".*"result":"ok"' "$work/audit.log"
check "file + mint: session_closed ok in the audit trail" \
	grep -q '"event":"session_closed".*"result":"ok"' "$work/audit.log"

# ---- an exec grant with a broker revocation: the helper closes -------------------------
rm -f "$work/requests"/*
pa_mint broker "$AUD" > "$work/token.broker"
pa_wrapped "$work/pam.d" "$AGENT_RUN" --token-file "$work/token.broker" --user "$me" \
	-- /bin/true > "$work/agent-run2.out" 2>&1
st=$?
check "exec: agent-run ran CMD (status $st)" test "$st" -eq 0
check "exec: the helper ran twice, open then close" test "$(ops)" = "open close "
check "exec: the broker revocation ran once" test "$(lines "$work/revoked.log")" -eq 1
check "exec: it got the lease's handle" grep -q '"handle":"lease-7"' "$work/revoked.log"

pa_summary
