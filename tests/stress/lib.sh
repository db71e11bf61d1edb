# shellcheck shell=sh
# shellcheck disable=SC2034 # the settings are for the test that sources this
# lib.sh - what only the stress tests (tests/stress) share. Source it; it
# sources tests/lib/lib.sh (paths, PASS/FAIL, need, pa_useradd, ...).
. "$(dirname "$0")/../lib/lib.sh"
S_SECONDS=${PA_STRESS_SECONDS:-60}
S_SESSIONS=${PA_STRESS_SESSIONS:-64}
S_KILL_MS=${PA_STRESS_KILL_MS:-150}
ms() { date +%s%3N; }

# test_user NAME: creates a user NAME (and its group) whose uid holds no
# keys and names no user or group (pa_useradd)
test_user() {
	pa_useradd "$1" 56000
}
