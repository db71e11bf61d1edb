# shellcheck shell=sh
# shellcheck disable=SC2034 # the paths and counters are for the test that sources this
# lib.sh - what the shell tests share (POSIX sh). Source it, relative to
# the test itself (every test lives one folder below tests/):
#   . "$(dirname "$0")/../lib/lib.sh"
# The build tree is $top_builddir (make check sets it), PA_MODULE and
# PA_PAM_WRAPPER_SO come from the test environment (Makefile.am's
# AM_TESTS_ENVIRONMENT), and so does PA_PAM_WRAPPER_PRELOAD, what a test
# puts in LD_PRELOAD for a PAM stack: pam_wrapper, then its start-up under
# a lock (tests/lib/pwrap_serial.c). What only the root-only or the stress tests share
# is in tests/root/lib.sh and tests/stress/lib.sh, which source this file.

# ---- the programs under test, by absolute path -------------------------------------------------
B=$(cd "${top_builddir:-.}" && pwd)
PAM_AGENT=$B/pam-agent
AGENT_RUN=$B/agent-run
HELPER=$B/pam_agent_helper
HELPERD=$B/pam_agent_helperd
ASKPASS=$B/pam-agent-askpass
: "${PA_PAM_WRAPPER_PRELOAD:=${PA_PAM_WRAPPER_SO:-}}"

# ---- PASS / FAIL / SKIP ----------------------------------------------------------------------------
pa_passes=0 pa_fails=0
pass() { echo "PASS: $1"; pa_passes=$((pa_passes + 1)); }
fail() { echo "FAIL: $1"; pa_fails=$((pa_fails + 1)); }
# check NAME COMMAND...: passes when COMMAND succeeds (returns its verdict)
check() {
	name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; return 1; fi
}
# expect NAME STATUS TEXT COMMAND...: COMMAND exits STATUS and its combined
# output contains TEXT (any output when TEXT is empty)
expect() {
	name=$1 want=$2 text=$3
	shift 3
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$want" ] && { [ -z "$text" ] || printf "%s" "$out" | grep -qF -- "$text"; }; then
		pass "$name"
	else
		fail "$name: exit $rc (want $want), output:"
		printf '%s\n' "$out" | sed 's/^/    /'
		echo "    wanted: $text"
	fi
}
# pa_summary: the counts; the test's exit status (last command of a test)
pa_summary() {
	echo "$pa_passes passed, $pa_fails failed"
	[ "$pa_fails" -eq 0 ]
}
# pa_skip WHY: the whole test is skipped, visibly (exit 77)
pa_skip() {
	echo "SKIP: $1"
	exit 77
}
# pa_die WHY: the test cannot go on (exit 1)
pa_die() {
	echo "FAIL: $1"
	exit 1
}
# need TOOL...: skips the test unless every TOOL is installed
need() {
	for tool in "$@"; do
		command -v "$tool" >/dev/null 2>&1 ||
			pa_skip "$(basename "$0") needs $tool (scripts/deps.sh installs it)"
	done
}
need_pam_wrapper() {
	if [ -z "${PA_PAM_WRAPPER_SO:-}" ] || [ ! -f "$PA_PAM_WRAPPER_SO" ]; then
		pa_skip "pam_wrapper is not available (install libpam-wrapper)"
	fi
}
# need_built FILE...: fails the test unless each FILE (a program, the module) was built
need_built() {
	for nb in "$@"; do
		[ -f "$nb" ] || pa_die "$nb not built"
	done
}

# ---- the test's directory, and what is undone at exit ----------------------------------------------
# pa_workdir PREFIX: makes $work (/tmp/PREFIX.XXXXXX), removed at exit.
# pa_at_exit FUNCTION: FUNCTION runs at exit before $work is removed (the
# last one given runs first). INT, TERM and HUP exit 130 through the same
# path; a signal during it does not cut it short.
PA_AT_EXIT=""
pa_at_exit() { PA_AT_EXIT="$1${PA_AT_EXIT:+ $PA_AT_EXIT}"; }
pa_exit() {
	trap '' INT TERM HUP
	for pa_fn in $PA_AT_EXIT; do "$pa_fn"; done
	if [ -n "${work:-}" ]; then rm -rf "$work"; fi
}
pa_traps() {
	trap pa_exit EXIT
	trap 'exit 130' INT TERM HUP
}
# pa_helperd_start SOCKET CONFIG: starts pam_agent_helperd with --listen
# SOCKET (its errors in $work/helperd.err) and waits (30 s at most) until it
# listens; $hd is its pid. Fails the test when it does not listen.
pa_helperd_start() {
	"$HELPERD" --listen "$1" --config "$2" 2> "$work/helperd.err" &
	hd=$!
	hs_i=0
	while [ ! -S "$1" ] && [ $hs_i -lt 300 ] && kill -0 "$hd" 2>/dev/null; do
		sleep 0.1
		hs_i=$((hs_i + 1))
	done
	[ -S "$1" ] && return 0
	kill "$hd" 2>/dev/null
	pa_die "pam_agent_helperd did not listen: $(cat "$work/helperd.err")"
}
# children: the children of the pam_agent_helperd whose pid is $hd (its
# spares and the requests in progress), sorted; wait_children N: until it
# has N (5 s at most). For test_helperd.sh and root_sshd_helperd.sh.
children() { ps -o pid= --ppid "$hd" 2>/dev/null | tr -d ' ' | sort; }
wait_children() {
	wc_i=0
	while [ "$(children | wc -l)" -ne "$1" ] && [ $wc_i -lt 50 ]; do
		sleep 0.1
		wc_i=$((wc_i + 1))
	done
	[ "$(children | wc -l)" -eq "$1" ]
}
# pa_witness_cmd: writes $work/cmd, the CMD of a witnessed session: it
# reads the keys legacy-db and tickets-ro into $1/during, writes their
# serials to $1/serials and waits (60 s at most) for $1/linked
pa_witness_cmd() {
	cat > "$work/cmd" <<'EOF'
#!/bin/sh
keyctl print %user:pam_agent:legacy-db > "$1/during" 2>&1 || exit 1
keyctl print %user:pam_agent:tickets-ro >> "$1/during" 2>&1 || exit 1
{ keyctl search @s user pam_agent:legacy-db &&
	keyctl search @s user pam_agent:tickets-ro; } > "$1/serials.tmp" || exit 1
mv "$1/serials.tmp" "$1/serials"
n=0
while [ ! -e "$1/linked" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
EOF
	chmod 0755 "$work/cmd"
}
# pa_witness_cleanup: at exit, for the tests of pa_witnessed_session: the
# witness keyring, the keys in $work/serials, pam_wrapper's leftovers
pa_witness_cleanup() {
	[ -n "${witness:-}" ] && keyctl revoke "$witness" >/dev/null 2>&1
	pa_revoke_serials
	pa_pamwrap_leftovers
}
# pa_witnessed_session NAME: agent-run (the services of $work/pam.d) logs
# the agent kernel in as $me with a new token and runs $work/cmd; while it
# runs, the session's keys are linked into a new keyring NAME of the test
# ($witness), which outlives the session's keyring, so that they read back
# "revoked" afterwards only if the close revoked them; $st is agent-run's
# status
pa_witnessed_session() {
	pa_mint kernel "$AUD" > "$work/token.kernel"
	witness=$(keyctl newring "$1" @s)
	pa_wrapped "$work/pam.d" "$AGENT_RUN" --token-file "$work/token.kernel" --user "$me" \
		-- "$work/cmd" "$work" > "$work/agent-run.out" 2>&1 &
	ar=$!
	wait_for "$work/serials" "$ar" 600
	if [ -f "$work/serials" ]; then
		while read -r s; do keyctl link "$s" "$witness"; done < "$work/serials"
	fi
	: > "$work/linked"
	wait "$ar"
	st=$?
}
pa_workdir() {
	work=$(mktemp -d "/tmp/$1.XXXXXX") || pa_die "mktemp -d /tmp/$1.XXXXXX"
	pa_traps
}
# pa_tmpfs_state PREFIX: $state, a directory (0755) for the module's
# state_dir and replay_dir on a tmpfs, where /run/pam_agent is on a systemd
# host: /dev/shm/PREFIX.XXXXXX, removed at exit; $work when /dev/shm is no
# tmpfs. For the benchmarks (a file created on a disk can cost 30 times
# what it costs on a tmpfs: docs/performance.md).
pa_tmpfs_state() {
	if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
		state=$(mktemp -d "/dev/shm/$1.XXXXXX") || pa_die "cannot make a directory in /dev/shm"
		pa_at_exit pa_tmpfs_state_rm
	else
		state=$work
	fi
	chmod 0755 "$state"
}
pa_tmpfs_state_rm() { rm -rf "$state"; }
# pa_revoke_serials: revokes every key whose serial the test wrote to
# $work/serials (already revoked ones just fail)
pa_revoke_serials() {
	if [ -f "$work/serials" ]; then
		while read -r s; do keyctl revoke "$s" >/dev/null 2>&1; done < "$work/serials"
	fi
	return 0
}
# pa_pamwrap_leftovers: pam_wrapper's copies of this test's service files
# (/tmp/pam.X), left by an agent-run killed with -9 (no destructor ran):
# only those naming $work
pa_pamwrap_leftovers() {
	for d in /tmp/pam.?; do
		[ -d "$d" ] && grep -qs -- "$work" "$d"/* && rm -rf -- "$d"
	done
	return 0
}

# ---- small tools -----------------------------------------------------------------------------------
# lines FILE: its number of lines (0 when it does not exist)
lines() { if [ -f "$1" ]; then wc -l < "$1" | tr -d ' '; else echo 0; fi; }
# rnd [BYTES]: BYTES (12) random bytes in hex; newsid: a session id
rnd() { od -An -N"${1:-12}" -tx1 /dev/urandom | tr -d ' \n'; }
newsid() { rnd 16; }
# json FILE EXPR: prints a Python expression over the JSON document j
json() {
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
# wait_for FILE PID [TENTHS]: until FILE exists (TENTHS tenths of a
# second, 300) or PID is gone; succeeds when FILE exists
wait_for() {
	i=0
	while [ ! -e "$1" ] && [ $i -lt "${3:-300}" ] && kill -0 "$2" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -e "$1" ]
}

# ---- a test CA and its tokens (pam-agent testca) ----------------------------------------------------
# pa_testca [DIR [TRUST-DOMAIN]]: a CA of TRUST-DOMAIN (example.org) in DIR
# ($work/ca); DIR is 0755 (any user reads its bundle; signing.key stays 0600)
pa_testca() {
	"$PAM_AGENT" testca init "${1:-$work/ca}" --trust-domain "${2:-example.org}" >/dev/null &&
		chmod 0755 "${1:-$work/ca}"
}
# pa_mint AGENT AUDIENCE [ARG...]: prints a token of
# spiffe://example.org/agents/AGENT from $work/ca
pa_mint() {
	pm_agent=$1 pm_aud=$2
	shift 2
	"$PAM_AGENT" testca mint "$work/ca" --id "spiffe://example.org/agents/$pm_agent" \
		--aud "$pm_aud" "$@"
}

# ---- policy files ----------------------------------------------------------------------------------
# pa_section HEADER [KEY=VALUE...]: prints one section: "[HEADER]", then
# "KEY = VALUE" for each argument
pa_section() {
	printf '[%s]\n' "$1"
	shift
	for kv in "$@"; do printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"; done
}
# pa_policy_head [KEY=VALUE...]: [global] with audience $AUD and the
# settings given, then [trust_domain example.org] with $work/ca's bundle
pa_policy_head() {
	pa_section global audience="$AUD" "$@"
	pa_section "trust_domain example.org" bundle="$work/ca/bundle.json"
}
# pa_policy_sessions [KEY=VALUE...]: the policy of the session tests: the
# head (pa_policy_head with the settings given), the service agent-run, a
# file grant legacy-db ($work/file.secret), a mint grant tickets-ro and an
# exec grant vault-ro ($work/issue, revoked by "$work/revoke
# $work/revoked.log"), all of class read for 10m, and the agent bot that
# logs in as the caller with the three
pa_policy_sessions() {
	pa_policy_grants "$@"
	pa_section "agent spiffe://example.org/agents/bot" users="$(id -un)" services=agent-run \
		grants="legacy-db tickets-ro vault-ro"
}
# pa_policy_grants [KEY=VALUE...]: pa_policy_sessions without its agent
pa_policy_grants() {
	pa_policy_head "$@"
	pa_section "service agent-run" class=read
	pa_section "grant legacy-db" class=read source=file path="$work/file.secret" ttl=10m
	pa_section "grant tickets-ro" class=read source=mint audience=https://tickets.example.org ttl=10m
	pa_section "grant vault-ro" class=read source=exec command="$work/issue" \
		revoke="$work/revoke $work/revoked.log" ttl=10m
}
# pa_policy_split [KEY=VALUE...]: the grants of pa_policy_sessions, split
# between the agent kernel (legacy-db and tickets-ro: kernel-held only)
# and the agent broker (vault-ro, whose close must tell a broker), both
# logging in as $me
pa_policy_split() {
	pa_policy_grants "$@"
	pa_section "agent spiffe://example.org/agents/kernel" users="$me" services=agent-run \
		grants="legacy-db tickets-ro"
	pa_section "agent spiffe://example.org/agents/broker" users="$me" services=agent-run \
		grants="vault-ro"
}
# pa_write FILE [MODE]: writes stdin to FILE, mode MODE (0644), replacing
# FILE in one rename (a reader sees the old file or the new one)
pa_write() {
	cat > "$1.tmp.$$" && chmod "${2:-0644}" "$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"
}
# pa_check_conf CONF: pam-agent check accepts the test's policy, or the test fails
pa_check_conf() {
	"$PAM_AGENT" check --config "$1" > "$1.check" 2>&1 || {
		echo "FAIL: pam-agent check refused the test configuration:"
		sed 's/^/    /' "$1.check"
		exit 1
	}
}

# ---- PAM services for pam_wrapper (or agent-run --config DIR) ---------------------------------------
# pa_pamd DIR CONF [SERVICE...]: DIR (0755) with each SERVICE (agent-run):
# pam_agent with config=CONF for auth, account and session, then
# pam_permit; and the service other. Needs PA_MODULE.
pa_pamd() {
	pd_dir=$1 pd_conf=$2
	shift 2
	[ $# -gt 0 ] || set -- agent-run
	pa_pamd_other "$pd_dir" || return 1
	for pd_svc in "$@"; do
		cat > "$pd_dir/$pd_svc" <<SVC
auth     required $PA_MODULE config=$pd_conf
account  required $PA_MODULE config=$pd_conf
session  required $PA_MODULE config=$pd_conf
session  required pam_permit.so
SVC
		chmod 0644 "$pd_dir/$pd_svc"
	done
}
# pa_pamd_other DIR: makes DIR (0755) with the service other, which denies everything
pa_pamd_other() {
	mkdir -p "$1" && chmod 0755 "$1" || return 1
	printf 'auth required pam_deny.so\naccount required pam_deny.so\nsession required pam_deny.so\n' \
		> "$1/other"
	chmod 0644 "$1/other"
}
# pa_wrapped DIR COMMAND...: COMMAND (agent-run) under pam_wrapper, with
# the services of DIR
pa_wrapped() {
	pw_dir=$1
	shift
	env LD_PRELOAD="$PA_PAM_WRAPPER_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$pw_dir" \
		UID_WRAPPER_DISABLE_DEEPBIND=1 "$@"
}

# ---- test users (root only: the root-only and the stress tests) --------------------------------------
# pa_useradd NAME BASE [SHELL]: a system user NAME and its group, no home,
# SHELL (nologin), whose uid (BASE to BASE+1999) names no user or group and
# holds no keys. Keys are charged per uid (kernel.keys.maxkeys) and a user's
# keyrings outlive the user: a uid that useradd hands out again may carry
# keys an earlier user left, enough to make keyring creation fail with EDQUOT.
pa_useradd() {
	ua_n=0
	while :; do
		ua_uid=$(($2 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 2000))
		getent passwd "$ua_uid" >/dev/null || getent group "$ua_uid" >/dev/null ||
			grep -q "^ *$ua_uid:" /proc/key-users 2>/dev/null || break
		ua_n=$((ua_n + 1))
		[ $ua_n -lt 100 ] || return 1
	done
	groupadd --gid "$ua_uid" "$1" || return 1
	useradd --no-create-home --home-dir /nonexistent --uid "$ua_uid" --gid "$ua_uid" \
		--shell "${3:-/usr/sbin/nologin}" "$1" || { groupdel "$1"; return 1; }
}
# pa_userdel NAME: removes a user the test created: first every process
# still running under its uid (all started by the test), by pid; then the
# keys left in its user keyrings (they outlive the user), the user and its group
pa_userdel() {
	ud_uid=$(id -u "$1" 2>/dev/null) || return 0
	ud_try=0
	while [ $ud_try -lt 25 ]; do
		ud_pids=$(ps -o pid= -u "$ud_uid" 2>/dev/null; ps -o pid= -U "$ud_uid" 2>/dev/null)
		[ -z "$ud_pids" ] && break
		# shellcheck disable=SC2086 # one pid a word
		kill -9 $ud_pids 2>/dev/null
		sleep 0.2 # killed orphans (and zombies) wait for init to reap them
		ud_try=$((ud_try + 1))
	done
	pa_drop_user_keys "$1"
	userdel "$1" 2>/dev/null || echo "WARNING: could not remove test user $1" >&2
	if getent group "$1" >/dev/null 2>&1; then
		groupdel "$1" 2>/dev/null || echo "WARNING: could not remove test group $1" >&2
	fi
}
# pa_drop_user_keys NAME: empties NAME's user and user-session keyrings
# (keys a process of NAME left there outlive NAME otherwise)
pa_drop_user_keys() {
	setpriv --reuid="$1" --regid="$1" --clear-groups sh -c \
		'keyctl clear @u; keyctl clear @us' >/dev/null 2>&1 || :
}
