#!/bin/sh
# Key quota exhausted (docs/sessions.md: the session
# keyring, the per-session keyring and the keys are owned by the effective
# uid of the module and helper, root in production, and charged to its
# quota, never the user's):
#  (1) root: a test user fills its key quota (kernel.keys.maxkeys) with
#      keys of its own (as an agent's detached process could), then an
#      agent session for that user is opened: it opens all the same, the
#      user's key usage is untouched by it, and at close every key is
#      revoked and the broker told once;
#  (2) a helper running as a non-root uid (the test user under root, the
#      caller otherwise) places a first grant (an exec broker's) and then a
#      second one larger than that uid's byte quota (kernel.keys.maxbytes):
#      the session is refused naming the sysctl, the first key is revoked
#      and its broker told exactly once, no record is left.
set -u
. "$(dirname "$0")/lib.sh"
need keyctl setpriv
SRC=$(cd "$(dirname "$0")" && pwd)
SHIM=$B/tests/stress/.libs/syslog_capture.so
pa_workdir pa-stress-quota
trap 'exit 130' PIPE
chmod 0755 "$work"
tuser="" filler=""
cleanup() {
	[ -n "$filler" ] && kill -9 "$filler" 2>/dev/null
	[ -n "$tuser" ] && pa_userdel "$tuser"
}
pa_at_exit cleanup
tag=q$$
E=e_$tag BIG=big_$tag
AUD=spiffe://example.org/host/quota
cp "$SRC/broker.sh" "$work/broker"
chmod 0755 "$work/broker"
pa_testca
if [ "$(id -u)" -eq 0 ]; then
	need useradd userdel
	tuser="pa-sq$$-$(rnd 2)"
	test_user "$tuser" || { tuser=""; pa_die "cannot create a test user"; }
	user=$tuser
	asuser() { setpriv --reuid="$tuser" --regid="$tuser" --clear-groups "$@"; }
	# the build directory may be out of the test user's reach (a clone under
	# mktemp -d is 0700): it runs copies from the 0755 work directory
	mkdir "$work/bin"
	cp "$AGENT_RUN" "$HELPER" "$PA_MODULE" "$SHIM" "$work/bin/"
	AGENT_RUN=$work/bin/agent-run HELPER=$work/bin/pam_agent_helper
	PA_MODULE=$work/bin/$(basename "$PA_MODULE") SHIM=$work/bin/$(basename "$SHIM")
else
	user=$(id -un)
	asuser() { "$@"; }
fi
uid=$(id -u "$user")
maxkeys=$(cat /proc/sys/kernel/keys/maxkeys)
maxbytes=$(cat /proc/sys/kernel/keys/maxbytes)
usage() { awk -v u="$uid:" '$1 == u { k = $4 " keys, " $5 " bytes" } END { print k != "" ? k : "no keys" }' /proc/key-users; }
echo "test user $user (uid $uid): kernel.keys.maxkeys $maxkeys, kernel.keys.maxbytes $maxbytes"

# conf DIR OWNER: a configuration, service and state for a helper running as OWNER
conf() {
	d=$1
	mkdir -p "$d/state"
	{
		pa_policy_head helper="$HELPER" state_dir="$d/state" audit_log="$d/audit.log"
		pa_section "service agent-run" class=read
		pa_section "grant $E" class=read source=exec command="$work/broker issue $d/broker.log" \
			revoke="$work/broker revoke $d/broker.log" ttl=10m
		pa_section "grant $BIG" class=read source=file path="$d/big.secret" ttl=10m
		pa_section "agent spiffe://example.org/agents/bot" users="$user" services=agent-run \
			grants="$E $BIG"
	} | pa_write "$d/pam_agent.conf"
	pa_pamd "$d/pam.d" "$d/pam_agent.conf"
	: > "$d/broker.log"
	: > "$d/audit.log"
	chmod 0600 "$d/audit.log"
	chmod 0666 "$d/broker.log"
}
pa_mint bot "$AUD" --ttl 30m > "$work/token"
chmod 0644 "$work/token"
# nothing_placed NAME DIR OUT: no record, no live key of this test, broker balanced
nothing_placed() {
	why=""
	grep -q RAN-THE-COMMAND "$3" && why="$why the command ran;"
	[ -n "$(ls "$2/state/sessions" 2>/dev/null)" ] && why="$why a session record is left;"
	i=$(grep -c '^issue' "$2/broker.log") r=$(grep -c '^revoke' "$2/broker.log")
	[ "$i" = "$r" ] || why="$why broker: $i issued, $r revoked;"
	if awk -v t="_$tag:" '$9 ~ ("^pam_agent:.*" t "$") && $2 !~ /R/ && $2 !~ /i/' /proc/keys | grep -q .; then
		why="$why a key of this test is live;"
	fi
	if [ -z "$why" ]; then pass "$1: nothing half-placed (broker: $i issued, $r revoked)"; else fail "$1:$why"; fi
}

# ---- (1) root: the user's own quota is full when its session is opened --------------------------
t0=$(ms)
if [ -n "$tuser" ]; then
	d=$work/q1
	conf "$d"
	head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$d/big.secret"
	chmod 0600 "$d/big.secret"
	mkdir -m 0777 "$work/fill"
	# the test user adds keys of its own until the kernel refuses (EDQUOT), then holds them
	asuser keyctl session - sh -c '
		i=0
		while keyctl add user "fill$i" x @s > /dev/null 2> "$1/last-error"; do i=$((i + 1)); done
		echo "$i" > "$1/count"
		exec sleep 300' sh "$work/fill" > /dev/null 2>&1 &
	filler=$!
	n=0
	while [ ! -s "$work/fill/count" ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
	echo "the test user added $(cat "$work/fill/count" 2>/dev/null) keys, then: $(cat "$work/fill/last-error" 2>/dev/null); usage now $(usage)"
	check "(1) the test user's key quota is full (EDQUOT)" grep -q "quota exceeded" "$work/fill/last-error"
	full=$(usage)
	LD_PRELOAD=$SHIM PA_STRESS_SYSLOG=$d/syslog "$AGENT_RUN" --config "$d/pam.d" --user "$user" \
		--token-file "$work/token" -- echo RAN-THE-COMMAND > "$d/out" 2>&1
	rc=$?
	echo "agent-run: exit $rc: $(head -n1 "$d/out")"
	check "(1) quota full: the session opens all the same (exit 0, the command ran)" \
		sh -c 'test "$1" = 0 && grep -q RAN-THE-COMMAND "$2"' sh "$rc" "$d/out" ||
		sed 's/^/    /' "$d/out"
	check "(1) nothing of the session was charged to the user's quota ($full)" \
		test "$(usage)" = "$full"
	check "(1) at close: the broker was told once, no record is left" \
		sh -c 'test "$(grep -c "^issue" "$1/broker.log"):$(grep -c "^revoke" "$1/broker.log")" = 1:1 &&
			test -z "$(ls "$1/state/sessions" 2>/dev/null)"' sh "$d"
	# the filler runs as the test user (all of whose processes are this test's)
	for p in $(ps -o pid= -u "$uid" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	kill -9 "$filler" 2>/dev/null
	wait "$filler" 2>/dev/null
	filler=""
	pa_drop_user_keys "$tuser"
	# its keys go with its session keyring, once the garbage collector ran
	n=0
	while [ "$(awk -v u="$uid:" '$1 == u { split($4, q, "/"); print q[1] }' /proc/key-users)" -gt 20 ] 2>/dev/null &&
		[ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
	echo "after the filler ended: usage $(usage)"
else
	echo "SKIP: (1) needs root (a test user whose quota is filled)"
fi

# ---- (2) the helper's own uid runs out of byte quota at the second grant ------------------------
if [ "$maxbytes" -ge 32000 ]; then
	echo "SKIP: (2) kernel.keys.maxbytes is $maxbytes: a user key (at most 32767 bytes) cannot exceed it"
else
	d=$work/q2
	conf "$d"
	# one byte more than the whole byte quota of the uid
	head -c "$((maxbytes + 1))" /dev/zero | tr '\0' 'q' > "$d/big.secret"
	chmod 0600 "$d/big.secret"
	if [ -n "$tuser" ]; then
		chown -R "$tuser:" "$d/state" "$d/big.secret" "$d/audit.log"
	fi
	asuser keyctl session - env LD_PRELOAD="$SHIM" PA_STRESS_SYSLOG="$d/syslog" "$AGENT_RUN" \
		--config "$d/pam.d" --user "$user" --token-file "$work/token" -- echo RAN-THE-COMMAND \
		> "$d/out" 2>&1
	rc=$?
	echo "agent-run (as $user): exit $rc: $(grep -v "^Joined session keyring" "$d/out" | head -n1 | cut -c1-300)"
	check "(2) byte quota exceeded at the second grant: the session is refused (exit 77)" test "$rc" = 77
	check "(2) the refusal names the grant, the quota and the sysctl" \
		grep -q "grant $BIG: .*EDQUOT.*kernel.keys.maxbytes" "$d/out"
	check "(2) the first grant's credential was issued, then revoked at the broker once" \
		test "$(grep -c "^issue .* $E " "$d/broker.log"):$(grep -c "^revoke .* $E " "$d/broker.log")" = 1:1
	nothing_placed "(2) byte quota exceeded" "$d" "$d/out"
fi
echo "quota wall time: $(($(ms) - t0)) ms"
pa_summary
