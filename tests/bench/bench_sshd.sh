#!/bin/sh
# bench_sshd.sh - what pam_agent adds to one ssh login (not part of make
# check; run as root from the build directory:
#   PA_MODULE=$PWD/.libs/pam_agent.so top_builddir=. keyctl session - \
#       sh ../tests/bench/bench_sshd.sh [N]
# ). Two private sshds from the same binary and the same sshd_config, on two
# ports of 127.0.0.1, differ only in their PAM service (sshd names it after
# its argv[0]): one runs pam_agent in auth, account and session (one file
# grant placed in the session keyring), the other pam_permit. N logins
# (default 20) with password authentication (`ssh ... true`, the token as
# the password through SSH_ASKPASS) alternate between the two; the script
# prints the median wall time of each and the difference.
# Keyboard-interactive is not measured: it places nothing yet (issue 12).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../root/lib.sh"
pa_root_require "bench_sshd.sh" keyctl useradd userdel ssh ssh-keygen ss timeout
[ -x /usr/sbin/sshd ] || { echo "SKIP: bench_sshd.sh needs /usr/sbin/sshd"; exit 77; }
. "$here/../root/apps.sh"
N=${1:-20}

[ -f "$PA_MODULE" ] || { echo "FAIL: module $PA_MODULE not built"; exit 1; }
B=$(cd "${top_builddir:-.}" && pwd)
PAM_AGENT=$B/pam-agent
AUD=spiffe://example.org/host/bench-sshd
work=$(mktemp -d /tmp/pam-agent-bench-sshd.XXXXXX)
pa_root_track_dir "$work"
chmod 0755 "$work"
install -m 0755 "$PA_MODULE" "$work/pam_agent.so"
PA_MODULE=$work/pam_agent.so
tuser=$(pa_apps_user) || { echo "FAIL: cannot create a test user"; exit 1; }
CONF=$work/pam_agent.conf
if [ ! -d /run/sshd ]; then
	mkdir -m 0755 /run/sshd
	pa_root_track_dir /run/sshd
fi
"$PAM_AGENT" testca init "$work/ca" --trust-domain example.org >/dev/null
chmod 0755 "$work/ca"
(umask 077 && printf 'S3CR3T-bench-%s\n' "$(rnd)" > "$work/grant.secret")
agent=$(pa_root_service "auth required @MODULE@ config=$CONF
account required @MODULE@ config=$CONF
session optional pam_keyinit.so force revoke
session required @MODULE@ config=$CONF")
permit=$(pa_root_service "auth required pam_permit.so
account required pam_permit.so
session optional pam_keyinit.so force revoke
session required pam_permit.so")
cat > "$CONF" <<EOF
[global]
audience = $AUD
state_dir = $work/state
helper = $B/pam_agent_helper
[trust_domain example.org]
bundle = $work/ca/bundle.json
[service $agent]
class = read
[grant bench]
class = read
source = file
path = $work/grant.secret
ttl = 10m
[agent spiffe://example.org/agents/bench]
users = $tuser
services = $agent
grants = bench
EOF
chmod 0644 "$CONF"
"$PAM_AGENT" check --config "$CONF" >/dev/null || { echo "FAIL: configuration refused"; exit 1; }
(umask 077 && "$PAM_AGENT" testca mint "$work/ca" --id spiffe://example.org/agents/bench --aud "$AUD" \
	--ttl 30m > "$work/token")
printf '#!/bin/sh\nexec cat %s\n' "$work/token" > "$work/askpass"
chmod 0755 "$work/askpass"
mkdir -m 0755 "$work/bin"
ssh-keygen -q -t ed25519 -N '' -C bench -f "$work/hostkey"

# start_sshd SERVICE: prints the port of a private sshd running as SERVICE
start_sshd() {
	ln -s /usr/sbin/sshd "$work/bin/$1"
	for _ in 1 2 3 4 5; do
		p=$(free_port)
		cat > "$work/$1.config" <<EOF
Port $p
ListenAddress 127.0.0.1
HostKey $work/hostkey
PidFile $work/$1.pid
UsePAM yes
KbdInteractiveAuthentication no
PasswordAuthentication yes
PubkeyAuthentication no
AuthorizedKeysFile none
PermitRootLogin no
AllowUsers $tuser
UseDNS no
PrintMotd no
PrintLastLog no
MaxStartups 100
EOF
		# not on our stdout: this runs inside $(...), which would wait for it
		"$work/bin/$1" -D -f "$work/$1.config" -E "$work/$1.log" < /dev/null > /dev/null 2>&1 &
		dp=$!
		pa_apps_track_daemon "$dp"
		i=0
		while [ $i -lt 100 ] && kill -0 "$dp" 2>/dev/null && ! ss -Hltn "sport = :$p" | grep -q .; do
			sleep 0.1
			i=$((i + 1))
		done
		if kill -0 "$dp" 2>/dev/null && ss -Hltn "sport = :$p" | grep -q .; then
			echo "$p"
			return 0
		fi
		pa_apps_stop "$dp"
	done
	return 1
}
pa_port=$(start_sshd "$agent") || { echo "FAIL: the pam_agent sshd did not start"; exit 1; }
pe_port=$(start_sshd "$permit") || { echo "FAIL: the pam_permit sshd did not start"; exit 1; }
{
	printf '[127.0.0.1]:%s %s\n' "$pa_port" "$(cut -d' ' -f1,2 "$work/hostkey.pub")"
	printf '[127.0.0.1]:%s %s\n' "$pe_port" "$(cut -d' ' -f1,2 "$work/hostkey.pub")"
} > "$work/known_hosts"

# one PORT REMOTE-COMMAND: one login, its wall time in microseconds on stdout
one() {
	t0=$(date +%s%N)
	SSH_ASKPASS=$work/askpass SSH_ASKPASS_REQUIRE=force DISPLAY='' \
		timeout 60 ssh -F /dev/null -T -p "$1" -o UserKnownHostsFile="$work/known_hosts" \
		-o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes \
		-o PreferredAuthentications=password -o PubkeyAuthentication=no \
		-o NumberOfPasswordPrompts=1 -o LogLevel=ERROR "$tuser@127.0.0.1" \
		"$2" < /dev/null > "$work/one.out" 2>&1 ||
		{ echo "FAIL: login to port $1 failed: $(tr '\n' ' ' < "$work/one.out")" >&2; return 1; }
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000))
}
# warm-up (page cache, first helper start)
# the pam_agent login must have its session (the command fails without)
A='test -n "$PAM_AGENT_SESSION"' P=true
one "$pa_port" "$A" >/dev/null && one "$pe_port" "$P" >/dev/null || exit 1
: > "$work/agent.us"
: > "$work/permit.us"
i=0
while [ $i -lt "$N" ]; do
	one "$pa_port" "$A" >> "$work/agent.us" || exit 1
	one "$pe_port" "$P" >> "$work/permit.us" || exit 1
	i=$((i + 1))
done
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
ma=$(median "$work/agent.us")
mp=$(median "$work/permit.us")
echo "ssh logins (password, 'ssh HOST true'), $N each, alternating, on $(nproc) cores:"
printf '  pam_agent  (auth+account+session, 1 file grant): median %d.%03d ms\n' $((ma / 1000)) $((ma % 1000))
printf '  pam_permit (same sshd, same config):             median %d.%03d ms\n' $((mp / 1000)) $((mp % 1000))
d=$((ma - mp))
s=""
[ $d -lt 0 ] && s="-" && d=$((-d))
printf '  added by pam_agent: %s%d.%03d ms per login\n' "$s" $((d / 1000)) $((d % 1000))
