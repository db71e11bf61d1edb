# lib.sh - shared pieces of the stress tests (tests/stress). Source it.
B=$(cd "${top_builddir:-.}" && pwd)
PAM_AGENT=$B/pam-agent
AGENT_RUN=$B/agent-run
HELPER=$B/pam_agent_helper
S_SECONDS=${PA_STRESS_SECONDS:-60}
S_SESSIONS=${PA_STRESS_SESSIONS:-64}
S_KILL_MS=${PA_STRESS_KILL_MS:-150}
s_passes=0 s_fails=0
pass() { echo "PASS: $1"; s_passes=$((s_passes + 1)); }
fail() { echo "FAIL: $1"; s_fails=$((s_fails + 1)); }
check() { # check NAME COMMAND...: passes when COMMAND succeeds
	name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; return 1; fi
}
summary() {
	echo "$s_passes passed, $s_fails failed"
	[ "$s_fails" -eq 0 ]
}
lines() { if [ -f "$1" ]; then wc -l < "$1" | tr -d ' '; else echo 0; fi; }
rnd() { od -An -N8 -tx1 /dev/urandom | tr -d ' \n'; }
ms() { date +%s%3N; }
need() {
	for tool in "$@"; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			echo "SKIP: $(basename "$0") needs $tool (scripts/deps.sh installs it)"
			exit 77
		fi
	done
}

# test_user NAME: creates a user NAME (and its group) whose uid holds no
# keys and names no user or group. Keys are charged per uid
# (kernel.keys.maxkeys) and a user's keyrings outlive the user: a uid that
# useradd --system hands out again may carry keys an earlier user left,
# enough to make the test's own keyrings fail with EDQUOT.
test_user() {
	tn=0
	while :; do
		tu=$((56000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 2000))
		getent passwd "$tu" >/dev/null || getent group "$tu" >/dev/null ||
			grep -q "^ *$tu:" /proc/key-users 2>/dev/null || break
		tn=$((tn + 1))
		[ $tn -lt 100 ] || return 1
	done
	groupadd --gid "$tu" "$1" || return 1
	useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
		--uid "$tu" --gid "$tu" "$1" || { groupdel "$1"; return 1; }
}

# drop_user_keys NAME: empties NAME's user and user-session keyrings (keys
# a test process of NAME may have left there outlive NAME otherwise).
drop_user_keys() {
	setpriv --reuid="$1" --regid="$1" --clear-groups sh -c \
		'keyctl clear @u; keyctl clear @us' >/dev/null 2>&1 || :
}
