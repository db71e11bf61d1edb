#!/bin/sh
# Root-only: one uid is one principal (docs/sessions.md, "Who can read a
# session's keys"). With real users:
#  - the attack: a write session's CMD (tests/root/ptrace_peek.c, no gdb)
#    holds its write key in memory, in a file it keeps open (unlinked) and,
#    handed over by the shell that started it, in its environment. A second
#    process of the same uid, outside the session, reads the key through
#    /proc/PID/fd/N and /proc/PID/environ (PTRACE_MODE_READ, which Yama does
#    not restrict), and with ptrace where Yama allows it. With Yama the
#    attack runs under kernel.yama.ptrace_scope 1 (set for it when the
#    machine has 0, restored on every path): ptrace is refused, the /proc
#    reads are not. Without Yama that part is a visible SKIP.
#  - the rule: a read agent whose rule names another name of the same uid
#    (useradd -o -u) makes the module refuse the write session (CMD never
#    runs), naming the rule; `pam-agent check` reports the shared uid as an
#    error, naming both names. With the read agent on a user of its own uid
#    the write session opens.
. "$(dirname "$0")/lib.sh"
pa_root_require "root_ptrace.sh" keyctl useradd userdel setpriv

PEEK=$B/tests/root/ptrace_peek
need_built "$PA_MODULE" "$PEEK"
AUD=spiffe://example.org/host/root-ptrace
YAMA=/proc/sys/kernel/yama/ptrace_scope

# the machine's ptrace_scope, restored on every path when this test changes it
yama_saved=""
restore_yama() {
	if [ -n "$yama_saved" ]; then
		echo "$yama_saved" > "$YAMA" 2>/dev/null ||
			echo "WARNING: could not restore kernel.yama.ptrace_scope=$yama_saved" >&2
		yama_saved=""
	fi
}
pa_at_exit restore_yama

pa_workdir pam-agent-root-ptrace
chmod 0755 "$work"
pa_root_test_user
other=$(pa_root_user) || pa_die "cannot create a second test user"
# alias: a second passwd name of tuser's uid
alias="pa-t$$-a$(rnd 2)"
printf 'user:%s\n' "$alias" >> "$PA_ROOT_LIST"
useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
	--user-group --non-unique --uid "$tuid" "$alias" ||
	pa_die "cannot create a second name of uid $tuid"
tag=t$$
CONF=$work/pam_agent.conf

pa_testca
umask 077
printf 'S3CR3T-read-%s' "$(rnd)" > "$work/read.secret"
printf 'S3CR3T-write-%s' "$(rnd)" > "$work/write.secret"
umask 022
cp "$PEEK" "$work/ptrace_peek"
chmod 0755 "$work/ptrace_peek"

opts="config=$CONF"
svc_write=$(pa_root_service "auth required @MODULE@ $opts
account required @MODULE@ $opts
session required @MODULE@ $opts
session required pam_permit.so")
svc_read=$(pa_root_service "auth required @MODULE@ $opts
account required @MODULE@ $opts
session required @MODULE@ $opts
session required pam_permit.so")
R=r_$tag W=w_$tag
# write_conf READER-USERS: the reader's rule logs in as READER-USERS, the writer as tuser
write_conf() {
	{
		pa_policy_head broker_key="$work/ca/signing.key" helper="$HELPER" state_dir="$work/state"
		pa_section "service $svc_write" class=write
		pa_section "service $svc_read" class=read
		pa_section "grant $R" class=read source=file path="$work/read.secret" ttl=10m
		pa_section "grant $W" class=write source=file path="$work/write.secret" ttl=10m
		pa_section "agent spiffe://example.org/agents/reader" users="$1" services="$svc_read" grants="$R"
		pa_section "agent spiffe://example.org/agents/writer" users="$tuser" \
			services="$svc_read $svc_write" max_class=write grants="$R $W"
	} | pa_write "$CONF"
}
umask 077
for a in reader writer; do
	pa_mint "$a" "$AUD" \
		> "$work/token.$a"
done
umask 022

# run_agent OUT SERVICE TOKEN CMD...: agent-run for the test user, in the background
run_agent() {
	o=$1 s=$2
	shift 2
	pa_root_agent "$o" "$s" "$tuser" "$@"
}

# ---- 1. the rule: the reader logs in as another name of the writer's uid --------------------
write_conf "$alias"
o=$work/out1
run_agent "$o" "$svc_write" "$work/token.writer" /bin/sh -c ': > "$1/ran"' sh "$o"
wait "$ar"
rc=$?
check "a read agent on another name of the uid: the write session is refused (agent-run exits 77)" \
	test "$rc" = 77
check "the refusal names the reader's rule and its user" \
	grep -q "uid $tuid (user $tuser) is shared with \[agent spiffe://example.org/agents/reader\] ($CONF:[0-9]*) as user $alias, at most read" \
	"$o.stderr" || sed 's/^/    /' "$o.stderr"
check "the write session's CMD never ran" test ! -e "$o/ran"

"$PAM_AGENT" check --config "$CONF" > "$work/check.out" 2>&1
rc=$?
check "pam-agent check: the shared uid is an error (exit 1) naming both names and the refused grant" \
	sh -c 'test "$1" = 1 && grep -qF "uid $2 (user $3 $4) is shared by 2 agent rules" "$5" &&
		grep -qF "[agent spiffe://example.org/agents/writer] gets no session that would receive $6 (write)" "$5"' \
	sh "$rc" "$tuid" "$alias" "$tuser" "$work/check.out" "$W" || sed 's/^/    /' "$work/check.out"

# the reader on a user of its own uid: nothing shared, the write session opens
write_conf "$other"
o=$work/out2
run_agent "$o" "$svc_write" "$work/token.writer" /bin/sh -c 'keyctl print "%user:pam_agent:$2" > "$1/read"' sh "$o" "$W"
wait "$ar"
rc=$?
check "the reader on its own uid: the write session opens (agent-run exits 0)" test "$rc" = 0 ||
	sed 's/^/    /' "$o.stderr"
check "the reader on its own uid: CMD reads its write credential" \
	test "$(cat "$o/read" 2>/dev/null)" = "$(cat "$work/write.secret")"
"$PAM_AGENT" check --config "$CONF" > "$work/check2.out" 2>&1
check "pam-agent check: no uid shared, configuration OK" \
	grep -q "^configuration OK" "$work/check2.out" || sed 's/^/    /' "$work/check2.out"

# ---- 2. the attack the rule answers: any process of the uid reads the session's key ---------
if [ -r "$YAMA" ]; then machine=$(cat "$YAMA"); else machine=absent; fi
if [ "$machine" = 0 ]; then
	yama_saved=0
	echo 1 > "$YAMA" || { fail "cannot set kernel.yama.ptrace_scope=1"; pa_summary; exit 1; }
	echo "NOTE: kernel.yama.ptrace_scope set to 1 for the attack (restored to 0 at exit)"
fi
scope=$(cat "$YAMA" 2>/dev/null || echo absent)
o=$work/out3
# the shell that starts the tool hands it the key in its environment as well
run_agent "$o" "$svc_write" "$work/token.writer" /bin/sh -c \
	'PA_TOKEN=$(keyctl pipe "%user:pam_agent:$2") exec "$3" hold "$2" "$1"' sh "$o" "$W" "$work/ptrace_peek"
if ! wait_for "$o/victim" "$ar" 200; then
	fail "the victim session did not start; agent-run said:"
	sed 's/^/    /' "$o.stderr"
else
	read -r vpid vaddr vlen vfd < "$o/victim"
	pa_root_track_pid "$vpid"
	secret=$(cat "$work/write.secret")
	# the same uid, outside the session: its own session keyring, not a
	# descendant of the victim, no capability
	as_uid() { setpriv --reuid="$tuid" --regid="$tgid" --clear-groups keyctl session - "$@"; }
	as_uid cat "/proc/$vpid/fd/$vfd" > "$work/attack.fd" 2>&1
	check "ptrace_scope $scope: a process of the same uid reads the write key through /proc/PID/fd/$vfd" \
		grep -qF "$secret" "$work/attack.fd" || sed 's/^/    /' "$work/attack.fd"
	as_uid sh -c 'tr "\0" "\n" < "/proc/$1/environ"' sh "$vpid" > "$work/attack.env" 2>&1
	check "ptrace_scope $scope: a process of the same uid reads the write key in /proc/PID/environ" \
		grep -qF "PA_TOKEN=$secret" "$work/attack.env" || sed 's/^/    /' "$work/attack.env"
	as_uid "$work/ptrace_peek" peek "$vpid" "$vaddr" "$vlen" > "$work/attack.ptrace" 2>&1
	echo $? >> "$work/attack.ptrace"
	case "$scope" in
	absent)
		check "no Yama: a process of the same uid reads the write key from memory too (ptrace)" \
			grep -qF "$secret" "$work/attack.ptrace" || sed 's/^/    /' "$work/attack.ptrace"
		echo "SKIP: the /proc reads under kernel.yama.ptrace_scope 1: this kernel has no Yama ($YAMA absent)" ;;
	*)
		check "ptrace_scope $scope: ptrace and process_vm_readv are refused (what Yama does, and all it does)" \
			sh -c 'test "$(tail -n1 "$1")" = 3 && ! grep -qF "$2" "$1"' \
			sh "$work/attack.ptrace" "$secret" || sed 's/^/    /' "$work/attack.ptrace" ;;
	esac
fi
: > "$o/go"
wait "$ar"
restore_yama

pa_summary
