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
