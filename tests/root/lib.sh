# shellcheck shell=sh
# lib.sh - what only the root-only tests (tests/root, tests/bench/bench_sshd.sh)
# share. Source it; it sources tests/lib/lib.sh (paths, PASS/FAIL, the work
# directory, pa_useradd and pa_userdel, ...).
#
# These tests change the real system, so each one: skips visibly unless
# root; names what it creates uniquely; removes it on every path (trap).
. "$(dirname "$0")/../lib/lib.sh"

# What a test created, one path a line: a file, because helpers such as
# pa_root_service run in $(...) subshells whose variables do not come back.
PA_ROOT_LIST=""

pa_root_require() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP: $1 needs root (CI runs it as root)"
		exit 77
	fi
	shift
	need "$@"
	PA_ROOT_LIST=$(mktemp /tmp/pam-agent-root-list.XXXXXX)
	pa_traps
	pa_at_exit pa_root_cleanup
}

# pa_root_work NAME: the test's directory $work (/tmp/pam-agent-NAME.XXXXXX,
# 0755: the test users reach what it holds), removed at exit; and a copy of
# the module there (PA_MODULE): the build tree may sit below a directory
# only root can enter (a CI clone in mktemp -d)
pa_root_work() {
	need_built "$PA_MODULE"
	pa_workdir "pam-agent-$1"
	chmod 0755 "$work"
	install -m 0755 "$PA_MODULE" "$work/pam_agent.so"
	PA_MODULE=$work/pam_agent.so
}

# Undoes everything registered with pa_root_track*, in an order that
# works: processes first (kill -9 by pid), then keys (revoked by serial),
# then files and directories, then users (userdel needs their processes
# gone, and removes their group too).
pa_root_cleanup() {
	[ -n "$PA_ROOT_LIST" ] || return 0
	# a signal now would end the cleanup half-way: finish it first
	trap '' INT TERM HUP
	for pa_pass in pid key path user; do
		while IFS= read -r entry; do
			case "$pa_pass:$entry" in
			pid:pid:*) kill -9 "${entry#pid:}" 2>/dev/null ;;
			key:key:*) keyctl revoke "${entry#key:}" >/dev/null 2>&1 ;;
			user:user:*) pa_userdel "${entry#user:}" ;;
			path:pid:* | path:key:* | path:user:* | *:) ;;
			path:*) rm -rf -- "$entry" ;;
			esac
		done < "$PA_ROOT_LIST"
	done
	rm -f -- "$PA_ROOT_LIST"
}

pa_root_track() {
	printf '%s\n' "$1" >> "$PA_ROOT_LIST"
}

pa_root_track_dir() {
	pa_root_track "$1"
}

# A process started by the test: killed (by pid) at cleanup.
pa_root_track_pid() {
	printf 'pid:%s\n' "$1" >> "$PA_ROOT_LIST"
}

# A kernel key seen by the test: revoked (by serial) at cleanup.
pa_root_track_key() {
	printf 'key:%s\n' "$1" >> "$PA_ROOT_LIST"
}

# pa_root_user [SHELL]: creates an unprivileged system user with a unique
# name (no home, SHELL or no login shell; pa_useradd), removed at cleanup,
# and prints its name.
pa_root_user() {
	name="pa-t$$-$(rnd 3)"
	printf 'user:%s\n' "$name" >> "$PA_ROOT_LIST"
	pa_useradd "$name" 58000 "${1:-}" || return 1
	printf '%s\n' "$name"
}

# pa_root_test_user [SHELL]: a test user (pa_root_user) in $tuser, its uid
# and gid in $tuid and $tgid; the test fails when it cannot be created
pa_root_test_user() {
	tuser=$(pa_root_user "${1:-}") || pa_die "cannot create a test user"
	# shellcheck disable=SC2034 # for the test
	tuid=$(id -u "$tuser") tgid=$(id -g "$tuser")
}

# pa_root_agent OUT SERVICE USER TOKEN CMD...: agent-run as root for USER in
# the background, its pid in $ar (killed at cleanup); OUT is a directory
# of USER's, OUT.stdout and OUT.stderr what agent-run printed
pa_root_agent() {
	o=$1 ra_svc=$2 ra_user=$3 ra_token=$4
	shift 4
	mkdir -p "$o"
	chown "$ra_user:" "$o"
	chmod 0700 "$o"
	"$AGENT_RUN" --service "$ra_svc" --user "$ra_user" --token-file "$ra_token" -- "$@" \
		> "$o.stdout" 2> "$o.stderr" &
	ar=$!
	pa_root_track_pid "$ar"
}

# pa_root_service CONTENT: writes a new /etc/pam.d service with a unique
# name (@MODULE@ = the module under test) and prints that name.
pa_root_service() {
	name="pam-agent-test-$$-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
	path="/etc/pam.d/$name"
	pa_root_track "$path"
	printf '%s\n' "$1" | sed "s|@MODULE@|$PA_MODULE|g" > "$path.tmp.$$"
	chmod 0644 "$path.tmp.$$"
	mv -f "$path.tmp.$$" "$path"
	printf '%s\n' "$name"
}

# pa_expect NAME EXPECTED-TEXT COMMAND...: runs COMMAND, passes when its
# combined output contains EXPECTED-TEXT.
pa_expect() {
	name=$1 want=$2
	shift 2
	out=$("$@" 2>&1)
	case "$out" in
	*"$want"*) pass "$name" ;;
	*)
		fail "$name: expected \"$want\", got:"
		printf '%s\n' "$out" | sed 's/^/    /'
		;;
	esac
}
# pa_secrets_and_issuer: $work/file.secret and $work/exec.secret (random,
# 0600), and $work/issue SECRET-FILE, an exec broker that answers with the
# secret of SECRET-FILE (never through an argv) and a lease handle; its
# caller makes it executable
pa_secrets_and_issuer() {
	(
		umask 077
		printf 'S3CR3T-file-%s\n' "$(rnd)" > "$work/file.secret"
		printf 'S3CR3T-exec-%s' "$(rnd)" > "$work/exec.secret"
	)
	cat > "$work/issue" <<'EOF'
#!/bin/sh
cat >/dev/null
printf '{"secret":"%s","expires_at":null,"revoke_handle":"lease-%s"}\n' "$(cat "$1")" "$$"
EOF
}
