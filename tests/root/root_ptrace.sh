#!/bin/sh
# Root-only: the ptrace boundary of an account shared by two agents
# (docs/sessions.md, "Who can read a session's keys"). A read agent and a
# write agent both log in as one test user:
#  - the module: with kernel.yama.ptrace_scope 0 (a file of this test,
#    ptrace_scope_file=) the write session is refused, naming the sysctl,
#    and CMD never runs; with 1 it opens and CMD reads its write key; with
#    the machine's real /proc/sys/kernel/yama/ptrace_scope it decides as
#    that value says (absent: no Yama, refused);
#  - the attack itself, with a small C program (tests/root/ptrace_peek.c,
#    no gdb): a second process of the same uid, outside the session, reads
#    the session process's copy of its key with process_vm_readv and with
#    PTRACE_ATTACH + PTRACE_PEEKDATA. With ptrace_scope >= 1 both are
#    refused. When the machine's ptrace_scope is 0 the test sets it to 1
#    for the attack and restores it on every path (trap); without Yama
#    that part is a visible SKIP, and the test shows instead that the
#    attack does read the key (which is why the module refuses).
. "$(dirname "$0")/lib.sh"
pa_root_require "root_ptrace.sh" keyctl useradd userdel setpriv

[ -f "$PA_MODULE" ] || { echo "FAIL: module $PA_MODULE not built"; exit 1; }
B=$(cd "${top_builddir:-.}" && pwd)
PAM_AGENT=$B/pam-agent
AGENT_RUN=$B/agent-run
PEEK=$B/tests/root/ptrace_peek
[ -x "$PEEK" ] || { echo "FAIL: $PEEK not built"; exit 1; }
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
trap 'restore_yama; pa_root_cleanup' EXIT

work=$(mktemp -d /tmp/pam-agent-root-ptrace.XXXXXX)
pa_root_track_dir "$work"
chmod 0755 "$work"
tuser=$(pa_root_user) || { echo "FAIL: cannot create a test user"; exit 1; }
tuid=$(id -u "$tuser")
tgid=$(id -g "$tuser")
tag=t$$
CONF=$work/pam_agent.conf
pa_fails=0 pa_passes=0
pass() { echo "PASS: $1"; pa_passes=$((pa_passes + 1)); }
fail() { echo "FAIL: $1"; pa_fails=$((pa_fails + 1)); }
check() {
	name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; return 1; fi
}
rnd() { od -An -N12 -tx1 /dev/urandom | tr -d ' \n'; }
wait_for() {
	i=0
	while [ ! -e "$1" ] && [ $i -lt 200 ] && kill -0 "$2" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -e "$1" ]
}

"$PAM_AGENT" testca init "$work/ca" --trust-domain example.org >/dev/null
chmod 0755 "$work/ca"
umask 077
printf 'S3CR3T-read-%s' "$(rnd)" > "$work/read.secret"
printf 'S3CR3T-write-%s' "$(rnd)" > "$work/write.secret"
umask 022
cp "$PEEK" "$work/ptrace_peek"
chmod 0755 "$work/ptrace_peek"
printf '0\n' > "$work/scope"
chmod 0644 "$work/scope"

opts="config=$CONF"
svc_fake=$(pa_root_service "auth required @MODULE@ $opts
account required @MODULE@ $opts
session required @MODULE@ $opts ptrace_scope_file=$work/scope
session required pam_permit.so")
svc_real=$(pa_root_service "auth required @MODULE@ $opts
account required @MODULE@ $opts
session required @MODULE@ $opts
session required pam_permit.so")
svc_read=$(pa_root_service "auth required @MODULE@ $opts
account required @MODULE@ $opts
session required @MODULE@ $opts
session required pam_permit.so")
R=r_$tag W=w_$tag
{
	printf '[global]\naudience = %s\nbroker_key = %s\nhelper = %s\nstate_dir = %s\n' \
		"$AUD" "$work/ca/signing.key" "$B/pam_agent_helper" "$work/state"
	printf '[trust_domain example.org]\nbundle = %s\n' "$work/ca/bundle.json"
	printf '[service %s]\nclass = write\n' "$svc_fake" "$svc_real"
	printf '[service %s]\nclass = read\n' "$svc_read"
	printf '[grant %s]\nclass = read\nsource = file\npath = %s\nttl = 10m\n' "$R" "$work/read.secret"
	printf '[grant %s]\nclass = write\nsource = file\npath = %s\nttl = 10m\n' "$W" "$work/write.secret"
	printf '[agent spiffe://example.org/agents/reader]\nusers = %s\nservices = %s\ngrants = %s\n' \
		"$tuser" "$svc_read" "$R"
	printf '[agent spiffe://example.org/agents/writer]\nusers = %s\nservices = %s %s\nmax_class = write\ngrants = %s %s\n' \
		"$tuser" "$svc_fake" "$svc_real" "$R" "$W"
} > "$CONF"
chmod 0644 "$CONF"
umask 077
for a in reader writer; do
	"$PAM_AGENT" testca mint "$work/ca" --id "spiffe://example.org/agents/$a" --aud "$AUD" \
		> "$work/token.$a"
done
umask 022

# run_agent OUT SERVICE TOKEN CMD...: agent-run for the test user, in the background
run_agent() {
	o=$1 s=$2 t=$3
	shift 3
	mkdir -p "$o"
	chown "$tuser:" "$o"
	chmod 0700 "$o"
	"$AGENT_RUN" --service "$s" --user "$tuser" --token-file "$t" -- "$@" \
		> "$o.stdout" 2> "$o.stderr" &
	ar=$!
	pa_root_track_pid "$ar"
}

# ---- 1. the module's refusal ---------------------------------------------------------------
o=$work/out1
run_agent "$o" "$svc_fake" "$work/token.writer" /bin/sh -c ': > "$1/ran"' sh "$o"
wait "$ar"
rc=$?
check "ptrace_scope 0: the write session is refused (agent-run exits 77)" test "$rc" = 77
check "ptrace_scope 0: the refusal names kernel.yama.ptrace_scope" \
	grep -q "kernel.yama.ptrace_scope must be >= 1" "$o.stderr" || sed 's/^/    /' "$o.stderr"
check "ptrace_scope 0: CMD never ran" test ! -e "$o/ran"

printf '1\n' > "$work/scope"
o=$work/out2
run_agent "$o" "$svc_fake" "$work/token.writer" /bin/sh -c 'keyctl print "%user:pam_agent:$2" > "$1/read"' sh "$o" "$W"
wait "$ar"
rc=$?
check "ptrace_scope 1: the write session opens (agent-run exits 0)" test "$rc" = 0 ||
	sed 's/^/    /' "$o.stderr"
check "ptrace_scope 1: CMD reads its write credential" \
	test "$(cat "$o/read" 2>/dev/null)" = "$(cat "$work/write.secret")"

if [ -r "$YAMA" ]; then machine=$(cat "$YAMA"); else machine=absent; fi
o=$work/out3
run_agent "$o" "$svc_real" "$work/token.writer" /bin/sh -c ': > "$1/ran"' sh "$o"
wait "$ar"
rc=$?
case "$machine" in
0 | absent)
	check "this machine's ptrace_scope ($machine): the write session is refused, naming the sysctl" \
		sh -c 'test "$1" = 77 && grep -q "kernel.yama.ptrace_scope must be >= 1" "$2" && test ! -e "$3/ran"' \
		sh "$rc" "$o.stderr" "$o" || sed 's/^/    /' "$o.stderr" ;;
*)
	check "this machine's ptrace_scope ($machine): the write session opens" \
		sh -c 'test "$1" = 0 && test -e "$2/ran"' sh "$rc" "$o" || sed 's/^/    /' "$o.stderr" ;;
esac

# ---- 2. the attack ---------------------------------------------------------------------------------
# victim VICTIM-OUT SERVICE TOKEN GRANT: a session whose CMD holds its key in memory
victim() {
	run_agent "$1" "$2" "$3" "$work/ptrace_peek" hold "$4" "$1"
	if ! wait_for "$1/victim" "$ar"; then
		fail "the victim session did not start; agent-run said:"
		sed 's/^/    /' "$1.stderr"
		return 1
	fi
	read -r vpid vaddr vlen < "$1/victim"
	pa_root_track_pid "$vpid"
}
# attack OUT: the same uid, outside the session (its own session keyring,
# not a descendant of the victim), reads the victim's memory
attack() {
	setpriv --reuid="$tuid" --regid="$tgid" --clear-groups keyctl session - \
		"$work/ptrace_peek" peek "$vpid" "$vaddr" "$vlen" > "$1" 2>&1
	echo $? >> "$1"
}

# the control: the program does read a process it may trace
self=$(setpriv --reuid="$tuid" --regid="$tgid" --clear-groups "$work/ptrace_peek" self 2>&1)
case "$machine" in
absent | 0 | 1) check "control: ptrace_peek reads a child of its own ($self)" \
	sh -c 'case "$1" in *"process_vm_readv read, ptrace read"*) ;; *) exit 1 ;; esac' sh "$self" ;;
*) echo "NOTE: control skipped: ptrace_scope $machine refuses even a child ($self)" ;;
esac

if [ "$machine" = absent ]; then
	# the read session is allowed without Yama (the writer may hold read
	# credentials anyway); the attack on it shows what the module prevents
	o=$work/out4
	if victim "$o" "$svc_read" "$work/token.reader" "$R"; then
		attack "$work/attack0"
		check "no Yama: a process of the same uid reads the session's key from its memory (hence the refusal)" \
			grep -qF "$(cat "$work/read.secret")" "$work/attack0" || sed 's/^/    /' "$work/attack0"
		: > "$o/go"
		wait "$ar"
	fi
	echo "SKIP: the attack under ptrace_scope >= 1: this kernel has no Yama ($YAMA absent)"
else
	if [ "$machine" = 0 ]; then
		yama_saved=0
		echo 1 > "$YAMA" || { fail "cannot set kernel.yama.ptrace_scope=1"; pa_root_summary; exit 1; }
		echo "NOTE: kernel.yama.ptrace_scope set to 1 for the attack (restored to 0 at exit)"
	fi
	o=$work/out5
	if victim "$o" "$svc_real" "$work/token.writer" "$W"; then
		attack "$work/attack1"
		check "ptrace_scope $(cat "$YAMA"): the same uid outside the session cannot read the write key (process_vm_readv and PTRACE_ATTACH refused)" \
			sh -c 'test "$(tail -n1 "$1")" = 3 && ! grep -qF "$(cat "$2")" "$1" &&
				grep -q "process_vm_readv refused" "$1" && grep -q "PTRACE_ATTACH refused" "$1"' \
			sh "$work/attack1" "$work/write.secret" || sed 's/^/    /' "$work/attack1"
		: > "$o/go"
		wait "$ar"
	fi
	restore_yama
fi

pa_root_summary
