#!/bin/sh
# Faults, each must fail CLOSED: the PAM result is a refusal (agent-run exit
# 77, the command never runs), nothing is half-placed (no session record,
# no live key of this test, every credential a broker issued is revoked
# exactly once) and a log line names the cause (syslog is captured with an
# LD_PRELOAD shim, tests/stress/syslog_capture.c):
#  (a) a full state/replay/audit directory (ENOSPC: a 64 KiB tmpfs; root);
#  (b) an audit log that cannot be written (missing directory, a directory,
#      a read-only file system (root), or made unwritable between the
#      account and the session phase);
#  (c) a trust bundle replaced (rename over it, and rewritten in place)
#      while agents authenticate in a loop: every authentication succeeds
#      with a key of one of the two bundles or fails cleanly, never with a
#      third key, never a crash;
#  (d) the configuration changed during one PAM transaction (pam_exec runs
#      a change between the phases): tightened between account and session,
#      the session is refused (docs/configuration.md); changed before the
#      account phase, the new one decides; an unchanged rewrite still opens.
set -u
. "$(dirname "$0")/lib.sh"
need keyctl python3
SRC=$(cd "$(dirname "$0")" && pwd)
SHIM=$B/tests/stress/.libs/syslog_capture.so
PAM_EXEC=""
for d in /lib/x86_64-linux-gnu/security /usr/lib/x86_64-linux-gnu/security /lib/security \
	/usr/lib/security /lib64/security; do
	[ -f "$d/pam_exec.so" ] && PAM_EXEC=$d/pam_exec.so && break
done
need_built "$SHIM"
pa_workdir pa-stress-faults
trap 'exit 130' PIPE
chmod 0755 "$work"
mounts="" bgpids=""
cleanup() {
	for p in $bgpids; do kill -9 "$p" 2>/dev/null; done
	for m in $mounts; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
}
pa_at_exit cleanup
root=no
[ "$(id -u)" -eq 0 ] && root=yes
user=$(id -un)
tag=f$$
E=e_$tag F=f_$tag
AUD=spiffe://example.org/host/faults
cp "$SRC/broker.sh" "$work/broker"
chmod 0755 "$work/broker"
for ca in ca ca2 ca3; do
	pa_testca "$work/$ca"
done
umask 077
printf 'S3CR3T-file-%s\n' "$(rnd 8)" > "$work/file.secret"
umask 022
mkdir "$work/state" "$work/swap"
cp "$work/ca/bundle.json" "$work/swap/bundle.json"

# conf FILE [GLOBAL-LINES [AGENT-GRANTS]]: a configuration; $bundle, $state, $audit pick the paths
bundle=$work/ca/bundle.json state=$work/state audit=$work/audit.log
conf() {
	{
		pa_section global audience="$AUD" helper="$HELPER" state_dir="$state" audit_log="$audit"
		[ -n "${2:-}" ] && printf '%s\n' "$2"
		pa_section "trust_domain example.org" bundle="$bundle"
		for s in agent-run midsess midacct; do pa_section "service $s" class=read; done
		pa_section "grant $E" class=read source=exec command="$work/broker issue $work/broker.log" \
			revoke="$work/broker revoke $work/broker.log" ttl=10m
		pa_section "grant $F" class=read source=file path="$work/file.secret" ttl=10m
		pa_section "agent spiffe://example.org/agents/bot" users="$user" \
			services="agent-run midsess midacct" grants="${3-$E $F}"
		pa_section "agent spiffe://example.org/agents/plain" users="$user" services=agent-run
	} | pa_write "$1"
}
CONF=$work/pam_agent.conf
pa_pamd_other "$work/pam.d"
svc() { # svc NAME LINES...
	n=$1
	shift
	printf '%s\n' "$@" | sed "s|@M@|$PA_MODULE config=$CONF|" > "$work/pam.d/$n"
}
svc agent-run "auth required @M@" "account required @M@" "session required @M@"
# midway: a change between two phases, run by pam_exec; one shot
cat > "$work/midway" <<EOF
#!/bin/sh
[ -f "$work/midway.action" ] || exit 0
mv -f "$work/midway.action" "$work/midway.running"
sh "$work/midway.running"
EOF
chmod 0755 "$work/midway"
if [ -n "$PAM_EXEC" ]; then
	svc midsess "auth required @M@" "account required @M@" \
		"session required $PAM_EXEC quiet $work/midway" "session required @M@"
	svc midacct "auth required @M@" "account required $PAM_EXEC quiet $work/midway" \
		"account required @M@" "session required @M@"
fi
for a in bot plain; do
	pa_mint "$a" "$AUD" --ttl 30m > "$work/token.$a"
done
"$PAM_AGENT" testca mint "$work/ca2" --id spiffe://example.org/agents/plain --aud "$AUD" \
	--ttl 30m > "$work/token.plain2"
"$PAM_AGENT" testca mint "$work/ca3" --id spiffe://example.org/agents/plain --aud "$AUD" \
	--ttl 30m > "$work/token.plain3"

# run NAME SERVICE TOKEN: agent-run with syslog captured; $rc, files NAME.{out,log}
run() {
	LD_PRELOAD=$SHIM PA_STRESS_SYSLOG=$work/$1.log "$AGENT_RUN" --config "$work/pam.d" \
		--service "$2" --user "$user" --token-file "$3" -- sh -c 'echo RAN-THE-COMMAND' \
		> "$work/$1.out" 2>&1
	rc=$?
	last=$1
	touch "$work/$1.log"
}
issues() { grep -c '^issue' "$work/broker.log" 2>/dev/null; }
revokes() { grep -c '^revoke' "$work/broker.log" 2>/dev/null; }
# closed NAME TEXT: the last run failed closed, and its log names TEXT
closed() {
	name=$1 text=$2
	why=""
	[ "$rc" = 77 ] || why="$why exit $rc, not 77;"
	grep -q RAN-THE-COMMAND "$work/$last.out" && why="$why the command ran;"
	[ -n "$(ls "$state/sessions" 2>/dev/null | grep -v '\.tmp$')" ] && why="$why a session record is left;"
	[ "$(issues)" = "$(revokes)" ] || why="$why broker: $(issues) issued, $(revokes) revoked;"
	awk -v t="_$tag:" '$9 ~ ("^pam_agent:.*" t "$") && $2 !~ /R/ && $2 !~ /i/' /proc/keys > "$work/live"
	[ -s "$work/live" ] && why="$why a key of this test is live;"
	grep -qF -- "$text" "$work/$last.log" || why="$why no log line says \"$text\";"
	if [ -z "$why" ]; then
		pass "$name: fails closed, logged: $(grep -F -- "$text" "$work/$last.log" | head -n1 | cut -c1-240)"
	else
		fail "$name:$why"
		sed 's/^/    out: /' "$work/$last.out" | head -5
		sed 's/^/    log: /' "$work/$last.log" | head -8
	fi
}
opened() {
	if [ "$rc" = 0 ] && grep -q RAN-THE-COMMAND "$work/$last.out"; then
		pass "$1: the session opens"
	else
		fail "$1: exit $rc"
		sed 's/^/    /' "$work/$last.out" "$work/$last.log" | head -8
	fi
}

conf "$CONF"
t0=$(ms)
run control agent-run "$work/token.bot"
opened "control (no fault)"
check "control: the broker issued and revoked once" test "$(issues):$(revokes)" = "1:1"

# ---- (a) ENOSPC ---------------------------------------------------------------------------
if [ "$root" = yes ]; then
	full=$work/full
	mkdir "$full"
	if mount -t tmpfs -o size=64k,mode=0755 "pa-stress-$tag" "$full"; then
		mounts="$full $mounts"
		mkdir -m 0755 "$full/state" && mkdir -m 0700 "$full/state/sessions" "$full/replay"
		dd if=/dev/zero of="$full/fill" bs=4k 2>/dev/null
		df -k "$full" | tail -n1 | awk '{ print "tmpfs " $2 " KiB, " $4 " KiB free" }'
		state=$full/state
		conf "$CONF"
		run enospc-state agent-run "$work/token.bot"
		closed "(a) state_dir on a full file system" "No space left on device"
		state=$work/state
		conf "$CONF" "single_use = yes
replay_dir = $full/replay"
		run enospc-replay agent-run "$work/token.bot"
		closed "(a) replay_dir on a full file system (single_use)" "No space left on device"
		audit=$full/audit.log
		conf "$CONF"
		run enospc-audit agent-run "$work/token.bot"
		closed "(a) audit_log on a full file system" "No space left on device"
		audit=$work/audit.log
		# (b) read-only: the audit log exists, the file system is remounted ro
		rm -f "$full/fill"
		: > "$full/ro-audit.log"
		chmod 0600 "$full/ro-audit.log"
		if mount -o remount,ro "$full"; then
			audit=$full/ro-audit.log
			conf "$CONF"
			run audit-ro agent-run "$work/token.bot"
			closed "(b) audit_log on a read-only file system" "Read-only file system"
			audit=$work/audit.log
		else
			fail "(b) cannot remount the test tmpfs read-only"
		fi
		umount "$full" && mounts=""
	else
		fail "(a) cannot mount a tmpfs"
	fi
else
	echo "SKIP: (a) ENOSPC and (b) read-only file system need root (a small tmpfs is mounted)"
fi

# ---- (b) unwritable audit log ----------------------------------------------------------------
audit=$work/no-such-dir/audit.log
conf "$CONF"
run audit-missing agent-run "$work/token.bot"
closed "(b) audit_log in a missing directory" "audit event not written, failing closed"
mkdir "$work/audit-dir"
audit=$work/audit-dir
conf "$CONF"
run audit-isdir agent-run "$work/token.bot"
closed "(b) audit_log is a directory" "audit event not written, failing closed"
audit=$work/audit.log
conf "$CONF"
if [ -n "$PAM_EXEC" ]; then
	# between account and session: the audit log becomes a directory
	printf 'mv -f %s %s.old && mkdir %s\n' "$audit" "$audit" "$audit" > "$work/midway.action"
	run audit-midway midsess "$work/token.bot"
	closed "(b) audit_log made unwritable between account and session" "audit event not written"
	rmdir "$audit" && mv -f "$audit.old" "$audit"
fi

# ---- (d) the configuration changed during the transaction ------------------------------------
if [ -n "$PAM_EXEC" ]; then
	cp "$CONF" "$work/same.conf"
	printf 'cp %s %s.tmp && mv -f %s.tmp %s\n' "$work/same.conf" "$CONF" "$CONF" "$CONF" \
		> "$work/midway.action"
	run conf-same midsess "$work/token.bot"
	opened "(d) rewritten unchanged between account and session"
	(conf "$work/next.conf" "" "$F")
	printf 'cp %s %s.tmp && mv -f %s.tmp %s\n' "$work/next.conf" "$CONF" "$CONF" "$CONF" \
		> "$work/midway.action"
	run conf-grant midsess "$work/token.bot"
	closed "(d) a grant removed between account and session" \
		"decision changed since the account phase"
	conf "$CONF"
	{ sed '/agents\/bot\]/,$d' "$CONF"; printf '[agent spiffe://example.org/agents/plain]\nusers = %s\nservices = agent-run\n' "$user"; } > "$work/next.conf"
	chmod 0644 "$work/next.conf"
	printf 'cp %s %s.tmp && mv -f %s.tmp %s\n' "$work/next.conf" "$CONF" "$CONF" "$CONF" \
		> "$work/midway.action"
	run conf-agent midsess "$work/token.bot"
	closed "(d) the agent removed between account and session" \
		"decision changed since the account phase (configuration or clock: it now denies"
	conf "$CONF"
	printf 'printf "[global\\n" >> %s\n' "$CONF" > "$work/midway.action"
	run conf-broken midsess "$work/token.bot"
	closed "(d) the configuration broken between account and session" "configuration refused"
	conf "$CONF"
	printf 'cp %s %s.tmp && mv -f %s.tmp %s\n' "$work/next.conf" "$CONF" "$CONF" "$CONF" \
		> "$work/midway.action"
	run conf-account midacct "$work/token.bot"
	closed "(d) the agent removed between auth and account" "rule matches agent spiffe://example.org/agents/bot (all reasons"
	conf "$CONF"
else
	echo "SKIP: (d) and the mid-transaction part of (b) need pam_exec.so (libpam-modules)"
fi

# ---- (c) a bundle replaced while agents authenticate ----------------------------------------------
bundle=$work/swap/bundle.json
conf "$CONF"
secs=$((S_SECONDS / 4))
[ "$secs" -ge 5 ] || secs=5
end=$(($(date +%s) + secs))
(
	n=0
	while [ "$(date +%s)" -lt "$end" ]; do
		for c in ca2 ca; do
			cp "$work/$c/bundle.json" "$work/swap/.next" && mv -f "$work/swap/.next" "$work/swap/bundle.json"
			n=$((n + 1))
			sleep 0.05
		done
		# now and then rewritten in place: readers may see it empty or cut
		cat "$work/ca2/bundle.json" > "$work/swap/bundle.json"
		cat "$work/ca/bundle.json" > "$work/swap/bundle.json"
		n=$((n + 2))
	done
	echo "$n" > "$work/swaps"
) &
bgpids="$!"
: > "$work/swap.results"
while [ "$(date +%s)" -lt "$end" ]; do
	for t in plain plain2 plain3; do
		"$AGENT_RUN" --config "$work/pam.d" --user "$user" --token-file "$work/token.$t" \
			-- true > "$work/swap.out" 2>&1
		r=$?
		reason=$(sed -n 's/.*pam_agent: //p' "$work/swap.out" | head -n1 | cut -c1-60)
		echo "$t $r $reason" >> "$work/swap.results"
	done
done
wait
bgpids=""
echo "bundle swaps: $(cat "$work/swaps" 2>/dev/null) while $(lines "$work/swap.results") authentications ran:"
awk '{ k = $1 " exit " $2; n[k]++ } END { for (k in n) print "  " k ": " n[k] }' "$work/swap.results" | sort
awk '$2 == 77 { $1 = ""; $2 = ""; print "  refused:" $0 }' "$work/swap.results" | sort | uniq -c | sort -rn | head -6
check "(c) every authentication either succeeded or was refused (no crash, no other status)" \
	test -z "$(awk '$2 != 0 && $2 != 77' "$work/swap.results")"
check "(c) a token signed by a key in neither bundle was never accepted" \
	test -z "$(awk '$1 == "plain3" && $2 == 0' "$work/swap.results")"
check "(c) tokens of both bundles were accepted while they were current" \
	sh -c 'grep -q "^plain 0" "$1" && grep -q "^plain2 0" "$1"' sh "$work/swap.results"
check "(c) every refusal says why" \
	test -z "$(awk '$2 == 77 && NF < 3' "$work/swap.results")"

check "every audit line of the test is well-formed" python3 "$SRC/check_audit.py" "$work/audit.log"
echo "faults wall time: $(($(ms) - t0)) ms"
pa_summary
