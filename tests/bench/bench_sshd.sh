#!/bin/sh
# bench_sshd.sh - what pam_agent adds to one ssh login, with password and
# with keyboard-interactive authentication (not part of make check; run as
# root from the build directory:
#   PA_MODULE=$PWD/.libs/pam_agent.so top_builddir=. keyctl session - \
#       sh ../tests/bench/bench_sshd.sh [N]
# ). Private sshds from the same binary and the same sshd_config (both
# methods enabled), on ports of 127.0.0.1, differ only in their PAM service
# (sshd names it after its argv[0]):
#  - pam_agent: pam_agent in auth, account and session (one mint grant
#    placed in the session keyring: the helper signs it at open; the close
#    spawns nothing, docs/helper.md); keyboard-interactive authenticates in
#    a child of sshd's monitor and reaches the session through the identity
#    hand-off (docs/handoff.md);
#  - pam_agent with the helper service: the same, but the grant is placed
#    by pam_agent_helperd (helper_socket, started here with --listen);
#  - pam_permit: pam_permit in auth, account and session;
#  - prompt: the same, but auth is pam_stress, which asks one password
#    question through the conversation and accepts any answer.
# The token is the answer, through SSH_ASKPASS. With password the client
# sends it to every sshd, so pam_agent is compared with pam_permit. With
# keyboard-interactive, sshd over pam_permit asks nothing (the client gets
# a request with no prompt and never runs SSH_ASKPASS), so pam_agent is
# compared with "prompt", which asks once like pam_agent does; pam_permit's
# keyboard-interactive figure is printed too, as a note. The script checks
# who ran SSH_ASKPASS during the warm-up.
# The module's state (state_dir, replay_dir) is on a tmpfs, a directory
# under /dev/shm, as /run/pam_agent is on a systemd host.
# N rounds (default 20) alternate one login of each kind; each runs the same
# remote command, which reports whether `keyctl print
# %user:pam_agent:bench` reads the grant in the session and
# PAM_AGENT_SESSION is set. Every measured pam_agent login must have its
# credential (the figure is the cost of a working login) and no baseline
# login may have one, else the script fails. It prints, per method, the
# median wall time of each side and the difference, in ms, and N; and the
# median of the N differences within a round (each login against the
# baseline login of its own round, which cancels the machine's drift).
# The wall time of a login moves by several ms from run to run, more than
# the module costs; so the sshds also run with tests/bench/pamtime.c
# preloaded, which times libpam's calls inside sshd (pam_start, with the
# modules' loading, to pam_end, in every process of the login): the script
# prints their sum per login too, the module's own cost in the application.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../root/lib.sh"
pa_root_require "bench_sshd.sh" keyctl useradd userdel ssh ssh-keygen ss timeout
need_built "$HELPERD"
[ -x /usr/sbin/sshd ] || { echo "SKIP: bench_sshd.sh needs /usr/sbin/sshd"; exit 77; }
. "$here/../root/apps.sh"
N=${1:-20}

AUD=spiffe://example.org/host/bench-sshd
pa_root_work bench-sshd
pa_apps_user
CONF=$work/pam_agent.conf
SCONF=$work/pam_agent-service.conf
sock=$work/run/helperd.sock
pa_testca
agent=$(pa_root_service "auth required @MODULE@ config=$CONF
account required @MODULE@ config=$CONF
session optional pam_keyinit.so force revoke
session required @MODULE@ config=$CONF")
svc=$(pa_root_service "auth required @MODULE@ config=$SCONF
account required @MODULE@ config=$SCONF
session optional pam_keyinit.so force revoke
session required @MODULE@ config=$SCONF")
permit=$(pa_root_service "auth required pam_permit.so
account required pam_permit.so
session optional pam_keyinit.so force revoke
session required pam_permit.so")
# pam_stress asks "STRESS Password: " (echo off) and accepts any answer
prompt=$(pa_root_service "auth required pam_stress.so
account required pam_permit.so
session optional pam_keyinit.so force revoke
session required pam_permit.so")
# the module's state on a tmpfs, as bench_pam has it (a login creates four files)
pa_tmpfs_state pa-bench-sshd
echo "the module's state in $state ($(stat -f -c %T "$state"))"
# policy SERVICE [helper_socket=SOCKET]
policy() {
	pa_policy_head state_dir="$state/state" replay_dir="$state/replay" helper="$HELPER" broker_key="$work/ca/signing.key" ${2:+"$2"}
	pa_section "service $1" class=read
	pa_section "grant bench" class=read source=mint audience=https://bench.example.org ttl=10m
	pa_section "agent spiffe://example.org/agents/bench" users="$tuser" services="$1" grants=bench
}
policy "$agent" | pa_write "$CONF"
policy "$svc" helper_socket="$sock" | pa_write "$SCONF"
pa_check_conf "$CONF"
pa_check_conf "$SCONF"
mkdir -m 0700 "$work/run"
pa_helperd_start "$sock" "$SCONF"
pa_apps_track_daemon "$hd"
(umask 077 && pa_mint bench "$AUD" --ttl 30m > "$work/token")
# the askpass program notes each run in $work/asked (0644: ssh runs as root)
printf '#!/bin/sh\necho x >> %s\nexec cat %s\n' "$work/asked" "$work/token" > "$work/askpass"
chmod 0755 "$work/askpass"
ssh-keygen -q -t ed25519 -N '' -C bench -f "$work/hostkey"

cc -O2 -shared -fPIC -o "$work/pamtime.so" "$here/pamtime.c" -ldl ||
	pa_die "cannot build tests/bench/pamtime.c"
# start_sshd SERVICE: a private sshd running as SERVICE, its PAM calls
# timed into $work/SERVICE.pamtime; $port its port
start_sshd() {
	export LD_PRELOAD="$work/pamtime.so" PA_PAMTIME_OUT="$work/$1.pamtime"
	pa_apps_sshd "$1" "$1" "PrintLastLog no" "MaxStartups 100"
	rc=$?
	unset LD_PRELOAD PA_PAMTIME_OUT
	return $rc
}
start_sshd "$agent" || pa_die "the pam_agent sshd did not start"
pa_port=$port
start_sshd "$svc" || pa_die "the pam_agent (helper service) sshd did not start"
sv_port=$port
start_sshd "$permit" || pa_die "the pam_permit sshd did not start"
pe_port=$port
start_sshd "$prompt" || pa_die "the pam_stress sshd did not start"
pr_port=$port
for p in "$pa_port" "$sv_port" "$pe_port" "$pr_port"; do
	printf '[127.0.0.1]:%s %s\n' "$p" "$(cut -d' ' -f1,2 "$work/hostkey.pub")"
done > "$work/known_hosts"

# the remote command of every login: what the session holds
R='if test -n "$PAM_AGENT_SESSION" && keyctl print %user:pam_agent:bench >/dev/null 2>&1; then echo placed; else echo none; fi'
# one PORT METHOD NAME: one login; appends its wall time in microseconds to
# $work/NAME.us and what the session found (placed or none) to
# $work/NAME.found
one() {
	t0=$(date +%s%N)
	SSH_ASKPASS=$work/askpass SSH_ASKPASS_REQUIRE=force DISPLAY='' \
		timeout 60 ssh -F /dev/null -T -p "$1" -o UserKnownHostsFile="$work/known_hosts" \
		-o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes \
		-o PreferredAuthentications="$2" -o PubkeyAuthentication=no \
		-o NumberOfPasswordPrompts=1 -o LogLevel=ERROR "$tuser@127.0.0.1" \
		"$R" < /dev/null > "$work/one.out" 2>&1 ||
		{ echo "FAIL: $3: login to port $1 failed: $(tr '\n' ' ' < "$work/one.out")" >&2; return 1; }
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000)) >> "$work/$3.us"
	grep -Ex 'placed|none' "$work/one.out" >> "$work/$3.found" ||
		{ echo "FAIL: $3: unexpected output: $(tr '\n' ' ' < "$work/one.out")" >&2; return 1; }
}
# NAME PORT METHOD, one login of each per round
logins="agent-pw $pa_port password
service-pw $sv_port password
permit-pw $pe_port password
agent-kbd $pa_port keyboard-interactive
service-kbd $sv_port keyboard-interactive
prompt-kbd $pr_port keyboard-interactive
permit-kbd $pe_port keyboard-interactive"
# round SUFFIX: one login of each kind, results under NAME-SUFFIX (the
# askpass runs of each login counted in $work/NAME-SUFFIX.asked)
round() {
	echo "$logins" | while read -r name port method; do
		: > "$work/asked"
		one "$port" "$method" "$name$1" || exit 1
		wc -l < "$work/asked" >> "$work/$name$1.asked"
	done
}
# warm-up (page cache, first helper start), and who asks for the token
round -warm || exit 1
asked() { tr -d ' ' < "$work/$1-warm.asked"; }
for name in agent-pw service-pw permit-pw agent-kbd service-kbd prompt-kbd; do
	[ "$(asked "$name")" = 1 ] ||
		{ echo "FAIL: $name: SSH_ASKPASS ran $(asked "$name") times in the warm-up login, not once"; exit 1; }
done
case $(asked permit-kbd) in
0) permit_kbd_note="asks nothing: the client answers an empty request, SSH_ASKPASS never runs" ;;
1) permit_kbd_note="asks for the token like the others" ;;
*) echo "FAIL: permit-kbd: SSH_ASKPASS ran $(asked permit-kbd) times in the warm-up login"; exit 1 ;;
esac
i=0
while [ $i -lt "$N" ]; do
	round "" || exit 1
	i=$((i + 1))
done
# every measured pam_agent login placed its grant, no baseline login had one
bad=0
for name in agent-pw agent-kbd service-pw service-kbd permit-pw prompt-kbd permit-kbd; do
	case $name in agent-* | service-*) want=placed ;; *) want=none ;; esac
	got=$(grep -cx "$want" "$work/$name.found")
	if [ "$got" != "$N" ]; then
		echo "FAIL: $name: $got of $N logins found '$want' in the session"
		bad=1
	fi
done
[ $bad = 0 ] || exit 1
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
ms() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }
# signed MICROSECONDS: in ms with its sign
signed() { if [ "$1" -lt 0 ]; then echo "-$(ms $((-$1)))"; else ms "$1"; fi; }
# line METHOD AGENT-NAME BASE-NAME BASE-LABEL
line() {
	ma=$(median "$work/$2.us")
	mb=$(median "$work/$3.us")
	paste -d' ' "$work/$2.us" "$work/$3.us" | awk '{ print $1 - $2 }' > "$work/$2-$3.diff"
	printf '  %-34s %s ms, %s %s ms: added %s ms (median of the %d in-round differences: %s ms)\n' \
		"$1:" "$(ms "$ma")" "$4" "$(ms "$mb")" "$(signed $((ma - mb)))" "$N" \
		"$(signed "$(median "$work/$2-$3.diff")")"
}
echo "ssh logins (medians, N=$N per kind, alternating, on $(nproc) cores; pam_agent: auth+account+session,"
echo "1 mint grant, placed in all $((4 * N)) measured pam_agent logins):"
line "password, helper spawned" agent-pw permit-pw pam_permit
line "password, helper service" service-pw permit-pw pam_permit
line "keyboard-interactive, helper spawned" agent-kbd prompt-kbd "prompt (pam_stress, asks once)"
line "keyboard-interactive, helper service" service-kbd prompt-kbd "prompt (pam_stress, asks once)"
echo "  note: keyboard-interactive over pam_permit $permit_kbd_note: $(ms "$(median "$work/permit-kbd.us")") ms"
# pam SERVICE METHOD: the sum of the PAM calls of each login of SERVICE
# by METHOD (pw: pam_authenticate in the process that called pam_start, as
# sshd does for password; kbd: in a child of it), one per line, in µs
pam() {
	awk -v want="$2" '{ t[$1] += $4 } $3 == "pam_authenticate" { m[$1] = ($2 == $1) ? "pw" : "kbd" }
		END { for (l in t) if (m[l] == want) printf "%d\n", t[l] }' "$work/$1.pamtime" > "$work/$1-$2.pam"
	[ "$(wc -l < "$work/$1-$2.pam")" -ge "$N" ] ||
		{ echo "FAIL: $1 $2: $(wc -l < "$work/$1-$2.pam") logins timed, not $N or more" >&2; exit 1; }
	median "$work/$1-$2.pam"
}
# pamline LABEL SERVICE METHOD BASE-SERVICE BASE-METHOD BASE-LABEL
pamline() {
	a=$(pam "$2" "$3") && b=$(pam "$4" "$5") || exit 1
	printf '  %-34s %s ms, %s %s ms: added %s ms\n' "$1:" "$(ms "$a")" "$6" "$(ms "$b")" \
		"$(signed $((a - b)))"
}
# calls SERVICE METHOD: each call's median over the logins, in µs
calls() {
	for c in pam_start pam_authenticate pam_acct_mgmt pam_setcred pam_open_session \
		pam_close_session pam_end; do
		awk -v want="$2" -v c="$c" '$3 == "pam_authenticate" { m[$1] = ($2 == $1) ? "pw" : "kbd" }
			$3 == c { t[$1] += $4 } END { for (l in t) if (m[l] == want) printf "%d\n", t[l] }' \
			"$work/$1.pamtime" > "$work/call.us"
		printf ' %s %s' "${c#pam_}" "$(median "$work/call.us")"
	done
}
echo "the PAM calls inside sshd, pam_start to pam_end, summed per login (medians; tests/bench/pamtime.c):"
pamline "password, helper spawned" "$agent" pw "$permit" pw pam_permit
pamline "password, helper service" "$svc" pw "$permit" pw pam_permit
pamline "keyboard-interactive, helper spawned" "$agent" kbd "$prompt" kbd "prompt (pam_stress)"
pamline "keyboard-interactive, helper service" "$svc" kbd "$prompt" kbd "prompt (pam_stress)"
echo "  per call, µs, password: helper service$(calls "$svc" pw)"
echo "  per call, µs, password: pam_permit$(calls "$permit" pw)"
