# apps.sh - shared pieces of the real-application tests (root_sshd.sh,
# root_sudo.sh, root_su.sh and tests/bench/bench_sshd.sh). Source it after
# lib.sh and after pa_root_require: it takes over the EXIT trap so that
# files changed under /etc are restored and daemons stopped before lib.sh's
# pa_root_cleanup runs (docs/applications.md says what each application does
# with PAM; docs/deploying.md how to set it up).

# "original<TAB>backup" a line: files this test changed in place
PA_APPS_RESTORE=$(mktemp /tmp/pam-agent-apps-restore.XXXXXX)
# daemon pids: stopped with their children (sshd's per-connection
# processes) before lib.sh kills what is left by pid
PA_APPS_DAEMONS=$(mktemp /tmp/pam-agent-apps-daemons.XXXXXX)
trap pa_apps_cleanup EXIT
trap 'exit 141' PIPE

pa_apps_cleanup() {
	# a signal now would end the cleanup half-way (lib.sh's handler exits)
	trap '' INT TERM HUP PIPE
	if [ -s "$PA_APPS_DAEMONS" ]; then
		while IFS= read -r pid; do pa_apps_stop "$pid"; done < "$PA_APPS_DAEMONS"
	fi
	if [ -s "$PA_APPS_RESTORE" ]; then
		while IFS='	' read -r orig backup; do
			if cp -p -- "$backup" "$orig.pa-restore.$$" && mv -f -- "$orig.pa-restore.$$" "$orig" &&
				cmp -s -- "$backup" "$orig"; then
				rm -f -- "$backup"
			else
				echo "WARNING: could not restore $orig; its original is in $backup" >&2
			fi
		done < "$PA_APPS_RESTORE"
	fi
	rm -f -- "$PA_APPS_RESTORE" "$PA_APPS_DAEMONS"
	pa_root_cleanup
}

# pa_apps_stop PID: SIGTERM to PID and each of its children (by pid), then
# SIGKILL to whatever is left after 2 s
pa_apps_stop() {
	kids=$(ps -o pid= --ppid "$1" 2>/dev/null)
	# shellcheck disable=SC2086 # one pid a word
	kill -TERM "$1" $kids 2>/dev/null
	n=0
	while kill -0 "$1" 2>/dev/null && [ $n -lt 20 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	# shellcheck disable=SC2086
	kill -KILL "$1" $kids 2>/dev/null
	return 0
}

pa_apps_track_daemon() {
	printf '%s\n' "$1" >> "$PA_APPS_DAEMONS"
	pa_root_track_pid "$1"
}

# pa_apps_backup FILE: keeps a copy of FILE (in a root-only file next to
# the restore list) and restores it on every exit path
pa_apps_backup() {
	b=$(mktemp /tmp/pam-agent-apps-backup.XXXXXX) || return 1
	cp -p -- "$1" "$b" || return 1
	printf '%s\t%s\n' "$1" "$b" >> "$PA_APPS_RESTORE"
}

# pa_apps_user: pa_root_user with a login shell (/bin/sh): ssh, su and
# sudo run the command through it. Prints the name.
pa_apps_user() {
	pa_root_user /bin/sh
}

pa_fails=0 pa_passes=0
pass() { echo "PASS: $1"; pa_passes=$((pa_passes + 1)); }
fail() { echo "FAIL: $1"; pa_fails=$((pa_fails + 1)); }
check() { # check NAME COMMAND...: passes when COMMAND succeeds
	name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; return 1; fi
}
pa_apps_summary() {
	echo "$pa_passes passed, $pa_fails failed"
	[ "$pa_fails" -eq 0 ]
}
rnd() { od -An -N12 -tx1 /dev/urandom | tr -d ' \n'; }
# wait_for FILE PID: until FILE exists (30 s) or PID is gone
wait_for() {
	i=0
	while [ ! -e "$1" ] && [ $i -lt 300 ] && kill -0 "$2" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -e "$1" ]
}
# revoked SERIAL: root reads SERIAL back as revoked (the key is held by a
# witness keyring of the test, so it is not garbage-collected first)
revoked() {
	rv_out=$(keyctl print "$1" 2>&1) && { echo "    key $1 still reads back"; return 1; }
	case "$rv_out" in *revoked*) return 0 ;; esac
	echo "    key $1: $rv_out"
	return 1
}
# no_sessions PAM-AGENT CONF: `pam-agent sessions` lists none (waits up
# to 15 s: the application closes the session after its client is gone)
no_sessions() {
	i=0
	while [ $i -lt 150 ]; do
		ns_out=$("$1" sessions --config "$2" 2>&1) && ! printf '%s\n' "$ns_out" | grep -q '^session ' && return 0
		sleep 0.1
		i=$((i + 1))
	done
	printf '%s\n' "$ns_out" | sed 's/^/    /'
	return 1
}
# a free TCP port on 127.0.0.1 (the daemon's bind is the real test)
free_port() {
	while :; do
		p=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000))
		ss -Hltn "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return; }
	done
}
