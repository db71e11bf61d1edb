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

# Removes everything registered with pa_root_track / pa_root_track_dir.
pa_root_cleanup() {
	[ -n "$PA_ROOT_LIST" ] || return 0
	while IFS= read -r path; do
		[ -n "$path" ] && rm -rf -- "$path"
	done < "$PA_ROOT_LIST"
	rm -f -- "$PA_ROOT_LIST"
}

pa_root_track() {
	printf '%s\n' "$1" >> "$PA_ROOT_LIST"
}

pa_root_track_dir() {
	pa_root_track "$1"
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
