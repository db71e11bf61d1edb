#!/bin/sh
# Root-only: libnss_agent.so.2 through the real glibc (docs/nss.md).
# The built module is copied into the system library directory (where
# glibc finds libnss_files.so.2), "agent" is added to the passwd and group
# lines of the real /etc/nsswitch.conf, and the database is written at the
# module's compiled path; each of the three is backed up first and
# restored (or removed) on every exit path. Then:
#  - getent passwd NAME / UID, getent group, id, ls -l and ps show the
#    agent accounts;
#  - agent-run without --user runs each agent as its own uid (a real
#    /etc/pam.d service), and a second agent can neither read the first
#    one's /proc/PID/environ nor attach to it with ptrace;
#  - an account whose name is a real user's is not served (getent gives
#    the real user) and pam-agent check says why.
# glibc loads NSS modules from its own directory only, and the installed
# module reads only its compiled database path: this test changes the
# host for its duration, which is why it is root-only and restores all.
. "$(dirname "$0")/lib.sh"
pa_root_require "root_nss.sh" getent id setpriv useradd userdel python3

[ -f "$PA_MODULE" ] || { echo "FAIL: module $PA_MODULE not built"; exit 1; }
[ -f "$PA_NSS_MODULE" ] || { echo "FAIL: $PA_NSS_MODULE not built"; exit 1; }
B=$(cd "${top_builddir:-.}" && pwd)
PAM_AGENT=$B/pam-agent
AGENT_RUN=$B/agent-run
AUD=spiffe://example.org/host/root-nss
db=$(sed -n 's/^#define PA_NSS_DB "\(.*\)"$/\1/p' "$B/config.h")
[ -n "$db" ] || { echo "FAIL: PA_NSS_DB not found in $B/config.h"; exit 1; }
libdir=""
for d in /usr/lib/*-linux-gnu /lib/*-linux-gnu /usr/lib64 /usr/lib; do
	[ -f "$d/libnss_files.so.2" ] && { libdir=$d; break; }
done
[ -n "$libdir" ] || { echo "SKIP: libnss_files.so.2 not found: where does glibc load NSS modules?"; exit 77; }
if command -v nscd >/dev/null 2>&1 && pgrep -x nscd >/dev/null 2>&1; then
	echo "SKIP: nscd is running: its cache would answer instead of the module"
	exit 77
fi

work=$(mktemp -d /tmp/pam-agent-root-nss.XXXXXX)
pa_root_track_dir "$work"
chmod 0755 "$work"
mkdir -m 0700 "$work/save"

# ---- the three host changes, each undone on every path ------------------------------
restore() {
	trap '' INT TERM HUP
	[ -f "$work/save/nsswitch.conf" ] && cp -p "$work/save/nsswitch.conf" /etc/nsswitch.conf
	if [ -f "$work/save/lib" ]; then
		cp -p "$work/save/lib" "$libdir/libnss_agent.so.2"
	elif [ -f "$work/save/lib.ours" ]; then
		rm -f "$libdir/libnss_agent.so.2"
	fi
	if [ -f "$work/save/db" ]; then
		cp -p "$work/save/db" "$db"
	elif [ -f "$work/save/db.ours" ]; then
		rm -f "$db"
		[ -f "$work/save/dbdir.ours" ] && rmdir "$(dirname "$db")" 2>/dev/null
	fi
	pa_root_cleanup
}
trap restore EXIT
cp -p /etc/nsswitch.conf "$work/save/nsswitch.conf"
if [ -e "$libdir/libnss_agent.so.2" ]; then cp -p "$libdir/libnss_agent.so.2" "$work/save/lib"; else : > "$work/save/lib.ours"; fi
if [ -e "$db" ]; then cp -p "$db" "$work/save/db"; else : > "$work/save/db.ours"; fi
[ -d "$(dirname "$db")" ] || { mkdir -p "$(dirname "$db")" && : > "$work/save/dbdir.ours"; }
install -m 0644 "$PA_NSS_MODULE" "$libdir/libnss_agent.so.2"

install -m 0755 "$PA_MODULE" "$work/pam_agent.so"
PA_MODULE=$work/pam_agent.so
# a real user whose name an agent rule claims
tuser=$(pa_root_user) || { echo "FAIL: cannot create a test user"; exit 1; }
tuid=$(id -u "$tuser")
"$PAM_AGENT" testca init "$work/ca" --trust-domain example.org >/dev/null
chmod 0755 "$work/ca"
svc=$(pa_root_service "auth required @MODULE@ config=$work/pam_agent.conf
account required @MODULE@ config=$work/pam_agent.conf
session required @MODULE@ config=$work/pam_agent.conf")
# the uids: explicit, in a range no user of this host has
lo=61000
while getent passwd $((lo + 1)) >/dev/null || getent passwd $((lo + 2)) >/dev/null ||
	getent group $lo >/dev/null || getent group $((lo + 1)) >/dev/null ||
	getent group $((lo + 2)) >/dev/null; do
	lo=$((lo + 1000))
	[ $lo -lt 70000 ] || { echo "SKIP: no free uid range"; exit 77; }
done
u1=$((lo + 1)) u2=$((lo + 2))
grp=pa-agents-$$
cat > "$work/pam_agent.conf" <<EOF
[global]
audience = $AUD
state_dir = $work/state
helper = $B/pam_agent_helper
uid_range = $lo-$((lo + 999))
agent_group = $grp
[trust_domain example.org]
bundle = $work/ca/bundle.json
[service $svc]
class = read
[agent spiffe://example.org/agents/nss-one-$$]
account = pa-one-$$
uid = $u1
users = self
services = $svc
[agent spiffe://example.org/agents/nss-two-$$]
account = pa-two-$$
uid = $u2
users = self
services = $svc
[agent spiffe://example.org/agents/clash]
account = $tuser
users = self
services = $svc
EOF
chmod 0644 "$work/pam_agent.conf"
a1=pa-one-$$ a2=pa-two-$$

pa_expect "pam-agent check: the account named like a real user is not served, and why" \
	"account $tuser (uid " "$PAM_AGENT" check --config "$work/pam_agent.conf" --write-nss-db
pa_expect "... the reason names /etc/passwd" \
	"is not served: the name $tuser is in /etc/passwd (uid $tuid)" \
	"$PAM_AGENT" check --config "$work/pam_agent.conf"
pa_expect "the database is written at the module's path" "$db" ls -l "$db"

# "agent" after the existing sources of passwd and group
sed -e '/^passwd:/s/$/ agent/' -e '/^group:/s/$/ agent/' "$work/save/nsswitch.conf" > "$work/nsswitch.conf"
cat "$work/nsswitch.conf" > /etc/nsswitch.conf
pa_expect "nsswitch.conf: passwd line" "agent" grep '^passwd:' /etc/nsswitch.conf

pa_expect "getent passwd NAME" "$a1:*:$u1:$lo:example.org/agents/nss-one-$$:/nonexistent:/usr/sbin/nologin" \
	getent passwd "$a1"
pa_expect "getent passwd UID" "$a2:*:$u2:$lo:" getent passwd "$u2"
pa_expect "getent group" "$grp:*:$lo:" getent group "$grp"
pa_expect "id NAME" "uid=$u1($a1) gid=$lo($grp) groups=$lo($grp)" id "$a1"
: > "$work/owned"
chown "$u1:$lo" "$work/owned"
pa_expect "ls -l shows the owner's name" "$a1 $grp" ls -l "$work/owned"
pa_expect "ls -ln shows the uid" " $u1 $lo " ls -ln "$work/owned"
setpriv --reuid="$u2" --regid="$lo" --clear-groups sleep 30 &
sp=$!
pa_root_track_pid "$sp"
sleep 0.3
pa_expect "ps shows the name" "$a2" ps -o user:32= -p "$sp"
kill "$sp" 2>/dev/null
pa_expect "the real user of the claimed name is what getent gives" "$tuser:x:$tuid:" \
	getent passwd "$tuser"

# ---- agent-run: each agent as its own uid, and neither reaches the other -----------------
mint() { "$PAM_AGENT" testca mint "$work/ca" --id "spiffe://example.org/agents/$1" --aud "$AUD"; }
cat > "$work/hold.sh" <<'EOF'
#!/bin/sh
i=0
while [ ! -e "$1/release" ] && [ "$i" -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
EOF
cat > "$work/probe.sh" <<'EOF'
#!/bin/sh
echo "me=$(id -u):$(id -un)"
if err=$(cat "/proc/$1/environ" 2>&1 >/dev/null); then echo "environ=read"; else echo "environ=${err##*: }"; fi
/usr/bin/python3 - "$1" <<'PY'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
r = libc.ptrace(16, int(sys.argv[1]), None, None)
print("ptrace=" + ("attached" if r == 0 else os.strerror(ctypes.get_errno())))
PY
EOF
chmod 0755 "$work/hold.sh" "$work/probe.sh"
mint "nss-one-$$" > "$work/t1"
"$AGENT_RUN" --service "$svc" --token-file "$work/t1" -- "$work/hold.sh" "$work" \
	< /dev/null > "$work/one.out" 2>&1 &
ar1=$!
pa_root_track_pid "$ar1"
pid1=""
i=0
while [ -z "$pid1" ] && [ $i -lt 100 ]; do
	pid1=$(pgrep -o -u "$u1" || true)
	[ -n "$pid1" ] || sleep 0.1
	i=$((i + 1))
done
pa_expect "agent-run without --user: agent one runs as its own uid" "$u1" \
	sh -c "ps -o uid= -p '${pid1:-1}'"
mint "nss-two-$$" > "$work/t2"
"$AGENT_RUN" --service "$svc" --token-file "$work/t2" -- "$work/probe.sh" "${pid1:-1}" \
	< /dev/null > "$work/two.out" 2>&1
pa_expect "agent two runs as its own uid, and its name resolves" "me=$u2:$a2" cat "$work/two.out"
pa_expect "agent two cannot read agent one's /proc/PID/environ" "environ=Permission denied" \
	cat "$work/two.out"
pa_expect "agent two cannot ptrace agent one" "ptrace=Operation not permitted" cat "$work/two.out"
: > "$work/release"
rc1=0
wait "$ar1" || rc1=$?
pa_expect "agent one's agent-run ended normally (exit 0)" "exit 0" echo "exit $rc1"
mint clash > "$work/t3"
pa_expect "the agent whose account is a real user's name does not become that user" \
	"refused" "$AGENT_RUN" --service "$svc" --token-file "$work/t3" -- id

pa_summary
