# lib.sh - shared pieces of the root-only test layer. Source it.
#
# These tests change the real system, so each one: skips visibly unless
# root; names what it creates uniquely; removes it on every path (trap).

# What a test created, one path a line: a file, because helpers such as
# pa_root_service run in $(...) subshells whose variables do not come back.
PA_ROOT_LIST=""

pa_root_require() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP: $1 needs root (CI runs it as root)"
		exit 77
	fi
	for tool in "$@"; do
		[ "$tool" = "$1" ] && continue
		if ! command -v "$tool" >/dev/null 2>&1; then
			echo "SKIP: $1 needs $tool (scripts/deps.sh installs it)"
			exit 77
		fi
	done
	PA_ROOT_LIST=$(mktemp /tmp/pam-agent-root-list.XXXXXX)
	trap pa_root_cleanup EXIT
	trap 'exit 130' INT TERM HUP
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
			user:user:*) pa_root_userdel "${entry#user:}" ;;
			path:pid:* | path:key:* | path:user:* | *:) ;;
			path:*) rm -rf -- "$entry" ;;
			esac
		done < "$PA_ROOT_LIST"
	done
	rm -f -- "$PA_ROOT_LIST"
}

# Removes a user this test created: first every process still running
# under its uid (all started by the test: CMDs that outlived a killed
# launcher), by pid; then the user and its group.
pa_root_userdel() {
	pa_uid=$(id -u "$1" 2>/dev/null) || return 0
	pa_try=0
	while [ $pa_try -lt 25 ]; do
		pa_pids=$(ps -o pid= -u "$pa_uid" 2>/dev/null; ps -o pid= -U "$pa_uid" 2>/dev/null)
		[ -z "$pa_pids" ] && break
		# shellcheck disable=SC2086 # one pid a word
		kill -9 $pa_pids 2>/dev/null
		sleep 0.2 # killed orphans (and zombies) wait for init to reap them
		pa_try=$((pa_try + 1))
	done
	userdel "$1" 2>/dev/null || echo "WARNING: could not remove test user $1" >&2
	if getent group "$1" >/dev/null 2>&1; then
		groupdel "$1" 2>/dev/null || echo "WARNING: could not remove test group $1" >&2
	fi
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

# pa_root_user: creates an unprivileged system user with a unique name (no
# home, no login shell), removed at cleanup, and prints its name.
#
# Its uid is one that holds no keys and names no user or group: keys are
# charged per uid (kernel.keys.maxkeys) and a user's keyrings outlive the
# user, so a uid that useradd hands out again may still carry keys an
# earlier user left behind, enough to make keyring creation fail with
# EDQUOT. pa_root_user SHELL gives the user a login shell.
pa_root_user() {
	name="pa-t$$-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
	n=0
	while :; do
		u=$((58000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 2000))
		getent passwd "$u" >/dev/null || getent group "$u" >/dev/null ||
			grep -q "^ *$u:" /proc/key-users 2>/dev/null || break
		n=$((n + 1))
		[ $n -lt 100 ] || return 1
	done
	printf 'user:%s\n' "$name" >> "$PA_ROOT_LIST"
	groupadd --gid "$u" "$name" || return 1
	useradd --no-create-home --home-dir /nonexistent --uid "$u" --gid "$u" \
		--shell "${1:-/usr/sbin/nologin}" "$name" || return 1
	printf '%s\n' "$name"
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

pa_fails=0
pa_passes=0

# pa_expect NAME EXPECTED-TEXT COMMAND...: runs COMMAND, passes when its
# combined output contains EXPECTED-TEXT.
pa_expect() {
	name=$1 want=$2
	shift 2
	out=$("$@" 2>&1)
	case "$out" in
	*"$want"*)
		echo "PASS: $name"
		pa_passes=$((pa_passes + 1))
		;;
	*)
		echo "FAIL: $name: expected \"$want\", got:"
		printf '%s\n' "$out" | sed 's/^/    /'
		pa_fails=$((pa_fails + 1))
		;;
	esac
}

pa_root_summary() {
	echo "$pa_passes passed, $pa_fails failed"
	[ "$pa_fails" -eq 0 ]
}
