#!/bin/sh
# Root-only: agent-run with a real unprivileged test user and the real
# Linux-PAM library (service files through --config; pam_permit stacks), against what the
# security review of 2026-12 found (docs/security.md, "### agent-run"):
#  - F1: the agent cannot type into the root shell that started agent-run.
#    An interactive root sh in a pty of its own runs agent-run; CMD pushes
#    "touch MARKER" into its controlling terminal with TIOCSTI; the shell
#    must not run it after agent-run returns. CMD's session and controlling
#    terminal are checked against the shell's as well (the structural part,
#    which stands alone when dev.tty.legacy_tiocsti=0). tests/root/tiocsti.py.
#  - F6: a module in the session stack that calls getpwnam("root") (the
#    probe module, tests/cli/pam_ar_probe.c) must not make CMD run as root.
#  - M2 as a real user: umask 022, / when the home is missing, no fd of root's;
#  - L2: a process CMD detaches (setsid, double fork) does not outlive
#    agent-run: no process of the test user remains.
#  - review 2026-12: a descendant's pid that changes hands between agent-run's
#    scan of /proc and its signal: the new owner is not signalled (pidfds).
. "$(dirname "$0")/lib.sh"
pa_root_require "root_agent_run.sh" keyctl useradd userdel python3

[ -f "${PA_PROBE_MODULE:-}" ] || { echo "FAIL: probe module ${PA_PROBE_MODULE:-(unset)} not built"; exit 1; }

pa_workdir pam-agent-root-agent-run
chmod 0755 "$work"
pa_root_test_user

# The stacks are pam_permit (and the probe module): what is tested is
# agent-run, and a stack without keys does not depend on the key quota of a
# test uid that an earlier test user may have filled.
# service DIR EXTRA-SESSION: the service agent-run (and other) in DIR
service() {
	pa_pamd_other "$1"
	{
		echo "auth     required pam_permit.so"
		echo "account  required pam_permit.so"
		[ -n "$2" ] && echo "session  required $PA_PROBE_MODULE $2"
		echo "session  required pam_permit.so"
	} > "$1/agent-run"
	chmod 0644 "$1/agent-run"
}
service "$work/pam.d" ""
service "$work/pw.d" "getpwnam_root"
mkdir -m 0700 "$work/out"
chown "$tuser:" "$work/out"
cp "$(dirname "$0")/tiocsti.py" "$work/tiocsti.py"
chmod 0755 "$work/tiocsti.py"

# ---- F1: the operator's terminal ----
python3 "$work/tiocsti.py" drive "$work" "$AGENT_RUN" "$work/pam.d" "$tuser" > "$work/f1.out" 2>&1
cat "$work/f1.out"
pa_passes=$((pa_passes + $(grep -c '^PASS:' "$work/f1.out")))
pa_fails=$((pa_fails + $(grep -c '^FAIL:' "$work/f1.out")))
grep -q '^PASS:' "$work/f1.out" || fail "F1: the driver ran no check"

# ---- F6: a module's getpwnam("root") ----
out=$("$AGENT_RUN" --config "$work/pw.d" --user "$tuser" -- id -u 2> "$work/f6.err")
rc=$?
if [ "$rc" -eq 0 ] && [ "$out" = "$tuid" ]; then
	pass "F6: a getpwnam(\"root\") in the session stack: CMD still runs as $tuser (uid $tuid)"
else
	fail "F6: CMD ran as uid '$out' (exit $rc), want $tuid"
	cat "$work/f6.err"
fi

# ---- M2 with a real switch of user: no descriptor of root's, umask, directory ----
printf 'root-only\n' > "$work/root-only"
chmod 0600 "$work/root-only"
# shellcheck disable=SC2016 # expanded by CMD
out=$(umask 000; exec 7< "$work/root-only"; "$AGENT_RUN" --config "$work/pam.d" --user "$tuser" -- \
	sh -c 'echo "umask=$(umask) cwd=$(pwd)"; exec ls /proc/self/fd' 2> "$work/m2.err" | tr '\n' ' ')
if [ "$out" = "umask=0022 cwd=/ 0 1 2 3 " ] && grep -q "starting in /" "$work/m2.err"; then
	pass "M2: as $tuser: umask 022, / (its home /nonexistent is missing, said so), no fd 7 of root's"
else
	fail "M2: as $tuser: got '$out'"
	cat "$work/m2.err"
fi

# ---- L2: nothing of the user outlives agent-run ----
"$AGENT_RUN" --config "$work/pam.d" --user "$tuser" -- sh -c '
	setsid sleep 1000 < /dev/null > /dev/null 2>&1 &
	( setsid sh -c "exec sleep 1001" < /dev/null > /dev/null 2>&1 & )
	exit 0' > "$work/l2.out" 2>&1
rc=$?
left=$(ps -o pid=,args= -u "$tuid" 2>/dev/null)
if [ "$rc" -eq 0 ] && [ -z "$left" ]; then
	pass "L2: no process of $tuser outlives agent-run (setsid child, double-forked daemon)"
else
	fail "L2: exit $rc; left: $left"
	cat "$work/l2.out"
fi


# ---- review 2026-12: a pid reused between the scan of /proc and the signal ----
# In a pid namespace of its own (nothing else forks there), a hook preloaded
# into agent-run (compiled here) holds it right after its first scan of
# /proc, which saw D, a grandchild of CMD's. D is then killed and reaped by
# its parent, and its pid is given to a root process that has nothing to do
# with the session (ns_last_pid). agent-run then goes on: that process must
# not get the SIGTERM meant for D (before: kill(D's pid) as root hit it).
if ! command -v unshare > /dev/null 2>&1 || ! command -v "${CC:-cc}" > /dev/null 2>&1; then
	echo "SKIP: pid reuse: needs unshare and a C compiler (${CC:-cc})"
else
	cat > "$work/hook.c" <<'EOFHOOK'
/* test hook: pauses agent-run after its first scan of /proc (closedir) */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static DIR *proc_dir;
static int done;

DIR *opendir(const char *name)
{
	DIR *(*real)(const char *) = (DIR *(*)(const char *))dlsym(RTLD_NEXT, "opendir");
	DIR *d = real(name);

	if (d != NULL && strcmp(name, "/proc") == 0)
		proc_dir = d;
	return d;
}

int closedir(DIR *d)
{
	int (*real)(DIR *) = (int (*)(DIR *))dlsym(RTLD_NEXT, "closedir");
	int ret, was = d == proc_dir, fd;
	const char *out = getenv("AR_HOOK_OUT"), *in = getenv("AR_HOOK_IN");
	char c;

	ret = real(d);
	if (!was || done || out == NULL || in == NULL)
		return ret;
	done = 1;
	proc_dir = NULL;
	fd = open(out, O_WRONLY);
	if (fd >= 0) {
		(void)!write(fd, "scanned\n", 8);
		close(fd);
	}
	fd = open(in, O_RDONLY);
	if (fd >= 0) {
		(void)!read(fd, &c, 1);
		close(fd);
	}
	return ret;
}
EOFHOOK
	mkdir -m 0700 "$work/pr"
	chown "$tuser:" "$work/pr"
	cat > "$work/pr-cmd.sh" <<'EOFCMD'
#!/bin/sh
# P ignores SIGTERM, starts D, reaps it when it ends, then forks no more
setsid sh -c 'trap "" TERM; sleep 1000 & echo $! > "$1/d.pid"; wait $!; exec sleep 1001' \
	sh "$1" < /dev/null > /dev/null 2>&1 &
i=0
while [ ! -s "$1/d.pid" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
exit 0
EOFCMD
	cat > "$work/pr-driver.sh" <<'EOFDRV'
#!/bin/sh
# pid 1 of a pid namespace of its own: $1 work, $2 agent-run, $3 user
w=$1
mkfifo "$w/h.out" "$w/h.in"
LD_PRELOAD=$w/hook.so AR_HOOK_OUT=$w/h.out AR_HOOK_IN=$w/h.in \
	"$2" --config "$w/pam.d" --user "$3" -- "$w/pr-cmd.sh" "$w/pr" > "$w/pr.out" 2>&1 &
ar=$!
read -r _ < "$w/h.out"  # agent-run has scanned /proc and waits
d=$(cat "$w/pr/d.pid")
dstart=$(sed 's/^.*) //' "/proc/$d/stat" | cut -d' ' -f20)
kill -KILL "$d"
i=0
while [ -e "/proc/$d" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
echo $((d - 1)) > /proc/sys/kernel/ns_last_pid
sleep 1002 &
victim=$!
vstart=$(sed 's/^.*) //' "/proc/$victim/stat" | cut -d' ' -f20)
echo go > "$w/h.in"
wait "$ar"
echo "agent-run: exit $?" >> "$w/pr.out"
if [ "$victim" != "$d" ] || [ "$vstart" = "$dstart" ]; then
	echo "SKIP: pid reuse not reproduced (D $d started $dstart, the other process $victim at $vstart)"
elif grep -q '^[0-9]* (sleep) [RS]' "/proc/$victim/stat"; then
	echo "PASS: pid reuse: the process that got D's pid ($d) after agent-run's scan is untouched"
else
	echo "FAIL: pid reuse: agent-run's signal for D hit the process that got its pid $d (ended: $(cat "/proc/$victim/stat" 2> /dev/null || echo reaped))"
	cat "$w/pr.out"
fi
kill -KILL "$victim"
EOFDRV
	chmod 0755 "$work/pr-cmd.sh" "$work/pr-driver.sh"
	if ! "${CC:-cc}" -shared -fPIC -o "$work/hook.so" "$work/hook.c" -ldl 2> "$work/hook.err"; then
		fail "pid reuse: cannot compile the test hook"
		cat "$work/hook.err"
	else
		timeout -s KILL 120 unshare --pid --fork --mount-proc \
			"$work/pr-driver.sh" "$work" "$AGENT_RUN" "$tuser" > "$work/pr.res" 2>&1
		cat "$work/pr.res"
		pa_passes=$((pa_passes + $(grep -c '^PASS:' "$work/pr.res")))
		pa_fails=$((pa_fails + $(grep -c '^FAIL:' "$work/pr.res")))
		grep -q '^\(PASS\|FAIL\|SKIP\):' "$work/pr.res" || fail "pid reuse: the driver ran no check"
	fi
fi

pa_summary
