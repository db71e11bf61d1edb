#!/bin/sh
# bench_fresh.sh - what pam_agent costs a process that runs one PAM
# transaction, as each of sshd's logins does (not part of make check; run
# from the build directory:
#   PA_MODULE=$PWD/.libs/pam_agent.so top_builddir=. \
#       PA_PAM_WRAPPER_SO=/usr/lib/x86_64-linux-gnu/libpam_wrapper.so \
#       keyctl session - sh ../tests/bench/bench_fresh.sh [N]
# ). N times (default 30) each, in a new pamtester under pam_wrapper:
# authenticate, acct_mgmt, open_session, close_session through pam_agent
# (one mint grant placed by the helper service, pam_agent_helperd), and
# through pam_permit; OpenSSL initialised as sshd has it before the
# module loads, and libsystemd and libkeyutils loaded, as Debian's sshd
# links them (tests/bench/sshd_like.c), each libpam call timed by
# tests/bench/pamtime.c. Prints each call's median, module against
# pam_permit, in µs. Quieter than bench_sshd.sh (no ssh, no key exchange):
# the per-process costs of the module alone. The module's state is on a
# tmpfs (/dev/shm), as /run/pam_agent is on a systemd host.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lib.sh"
need keyctl pamtester cc
need_pam_wrapper
need_built "$PA_MODULE" "$HELPERD"
N=${1:-30}
AUD=spiffe://example.org/host/bench-fresh
pa_workdir pa-bench-fresh
chmod 0755 "$work"
pa_testca
pa_tmpfs_state pa-bench-fresh
mkdir -m 0700 "$work/run"
CONF=$work/pam_agent.conf
{
	pa_policy_head state_dir="$state/state" replay_dir="$state/replay" helper="$HELPER" \
		broker_key="$work/ca/signing.key" helper_socket="$work/run/helperd.sock"
	pa_section "service agent" class=read
	pa_section "grant bench" class=read source=mint audience=https://bench.example.org ttl=10m
	pa_section "agent spiffe://example.org/agents/bench" users="$(id -un)" services=agent \
		grants=bench
} | pa_write "$CONF"
pa_check_conf "$CONF"
pa_helperd_start "$work/run/helperd.sock" "$CONF"
stop_helperd() { kill "$hd" 2>/dev/null; wait "$hd" 2>/dev/null; }
pa_at_exit stop_helperd
pa_pamd_other "$work/pam.d"
for p in auth account session; do
	printf '%s required %s config=%s\n' "$p" "$PA_MODULE" "$CONF"
done > "$work/pam.d/agent"
printf 'auth required pam_permit.so\naccount required pam_permit.so\nsession required pam_permit.so\n' \
	> "$work/pam.d/permit"
(umask 077 && pa_mint bench "$AUD" --ttl 30m > "$work/token")
cc -O2 -shared -fPIC -o "$work/pamtime.so" "$here/pamtime.c" -ldl &&
	cc -O2 -shared -fPIC -o "$work/sshd_like.so" "$here/sshd_like.c" \
		-Wl,--no-as-needed -lcrypto -lsystemd -lkeyutils ||
	pa_die "cannot build the shims of tests/bench"
# a configuration younger than 2 s is parsed again at every call (policy/cache.c)
sleep 3

# run SERVICE: N transactions, each in a new process; their calls in $work/SERVICE.t
run() {
	i=0
	while [ $i -lt "$N" ]; do
		env LD_PRELOAD="$work/pamtime.so $PA_PAM_WRAPPER_PRELOAD $work/sshd_like.so" \
			PA_PAMTIME_OUT="$work/$1.t" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$work/pam.d" \
			pamtester "$1" "$(id -un)" authenticate acct_mgmt open_session close_session \
			< "$work/token" > "$work/one.out" 2>&1 ||
			pa_die "$1: the transaction failed: $(tr '\n' ' ' < "$work/one.out")"
		i=$((i + 1))
	done
}
run agent
run permit
median() { awk -v c="$2" '$3 == c { print $4 }' "$1" | sort -n |
	awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "one transaction per process, N=$N, medians in µs (pam_agent / pam_permit), state in $state:"
for c in pam_start pam_authenticate pam_acct_mgmt pam_open_session pam_close_session pam_end; do
	printf '  %-18s %9s / %s\n' "$c" "$(median "$work/agent.t" "$c")" "$(median "$work/permit.t" "$c")"
done
