# shellcheck shell=sh
# shellcheck disable=SC2154 # $work and $tuser: the test sets them (pa_root_work, pa_apps_user)
# apps.sh - shared pieces of the real-application tests (root_sshd.sh,
# root_sudo.sh, root_su.sh and tests/bench/bench_sshd.sh). Source it after
# lib.sh and after pa_root_require: its cleanup runs at exit before lib.sh's
# pa_root_cleanup, so that files changed under /etc are restored and daemons
# stopped first (docs/applications.md says what each application does
# with PAM; docs/deploying.md how to set it up).

# "original<TAB>backup" a line: files this test changed in place
PA_APPS_RESTORE=$(mktemp /tmp/pam-agent-apps-restore.XXXXXX)
# daemon pids: stopped with their children (sshd's per-connection
# processes) before lib.sh kills what is left by pid
PA_APPS_DAEMONS=$(mktemp /tmp/pam-agent-apps-daemons.XXXXXX)
pa_at_exit pa_apps_cleanup
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

# pa_apps_user: pa_root_test_user with a login shell (/bin/sh): ssh, su
# and sudo run the command through it
pa_apps_user() {
	pa_root_test_user /bin/sh
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

# pa_apps_sshd NAME SERVICE [LINE...]: starts a private sshd on a free port
# of 127.0.0.1 for the test user, with the host key $work/hostkey and the
# sshd_config $work/NAME.config (password and keyboard-interactive through
# PAM, and each LINE), logging to $work/NAME.log. Its PAM service is
# SERVICE: sshd uses basename(argv[0]) as its PAM service (auth-pam.c:
# SSHD_PAM_SERVICE is __progname unless built --with-pam-service; Debian
# does not), so it runs as $work/bin/SERVICE, a symbolic link. Sets $port
# and $sshd_pid (stopped at exit); fails when it did not start on 5 ports.
pa_apps_sshd() {
	as_name=$1 as_svc=$2
	shift 2
	# sshd refuses connections without its privilege separation directory;
	# made as openssh-server's tmpfiles.d makes it at boot, and left in
	# place: a test removing it at its exit would break the sshd of another
	# test still running (make check runs them in parallel)
	[ -d /run/sshd ] || mkdir -m 0755 /run/sshd
	[ -d "$work/bin" ] || mkdir -m 0755 "$work/bin"
	[ -e "$work/bin/$as_svc" ] || ln -s /usr/sbin/sshd "$work/bin/$as_svc"
	for _ in 1 2 3 4 5; do
		port=$(free_port)
		{
			cat <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $work/hostkey
PidFile $work/$as_name.pid
UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication yes
PubkeyAuthentication no
AuthorizedKeysFile none
PermitRootLogin no
AllowUsers $tuser
UseDNS no
PrintMotd no
EOF
			printf '%s\n' "$@"
		} > "$work/$as_name.config"
		"$work/bin/$as_svc" -D -f "$work/$as_name.config" -E "$work/$as_name.log" \
			< /dev/null > /dev/null 2>&1 &
		sshd_pid=$!
		pa_apps_track_daemon "$sshd_pid"
		i=0
		while [ $i -lt 100 ] && kill -0 "$sshd_pid" 2>/dev/null &&
			! ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; do
			sleep 0.1
			i=$((i + 1))
		done
		if kill -0 "$sshd_pid" 2>/dev/null && ss -Hltn "sport = :$port" | grep -q .; then
			return 0
		fi
		pa_apps_stop "$sshd_pid"
	done
	port=
	return 1
}
# pa_apps_sshd_up SERVICE LINE...: pa_apps_sshd sshd SERVICE LINE...; fails
# the test with the end of its log when it did not start; writes
# $work/known_hosts for it
pa_apps_sshd_up() {
	pa_apps_sshd sshd "$@"
	if [ -z "$port" ]; then
		echo "FAIL: the private sshd did not start; its log:"
		tail -n 20 "$work/sshd.log" | sed 's/^/    /'
		exit 1
	fi
	printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$work/hostkey.pub")" \
		> "$work/known_hosts"
}
# pa_apps_ssh METHOD ASKPASS COMMAND...: a stock ssh as $tuser to the
# private sshd by METHOD, its prompts answered by the program ASKPASS
# (which gets the caller's environment)
pa_apps_ssh() {
	as_m=$1 as_ap=$2
	shift 2
	SSH_ASKPASS=$as_ap SSH_ASKPASS_REQUIRE=force DISPLAY='' \
		timeout 90 ssh -F /dev/null -T -p "$port" -o UserKnownHostsFile="$work/known_hosts" \
		-o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes \
		-o PreferredAuthentications="$as_m" -o PubkeyAuthentication=no \
		-o NumberOfPasswordPrompts=1 -o ConnectTimeout=20 -o LogLevel=ERROR \
		"$tuser@127.0.0.1" "$@" < /dev/null
}
# pa_apps_login METHOD TOKEN-FILE COMMAND...: pa_apps_ssh with the askpass
# of pa_apps_session_files answering the prompt from TOKEN-FILE
pa_apps_login() {
	PA_TOKEN_FILE=$2
	export PA_TOKEN_FILE
	al_m=$1
	shift 2
	pa_apps_ssh "$al_m" "$work/askpass" "$@"
}
# pa_apps_session_files: $work/in-session OUT GRANT..., the session
# command of the ssh tests (it writes the session's id, its hand-off
# variables and, for each GRANT, what its key reads and its serial into
# OUT, then waits for OUT/go, 60 s at most), and $work/askpass, which
# answers every prompt with the file $PA_TOKEN_FILE
pa_apps_session_files() {
	cat > "$work/in-session" <<'END'
#!/bin/sh
out=$1
shift
echo "$PAM_AGENT_SESSION" > "$out/sid"
env | grep '^PAM_AGENT_HANDOFF' > "$out/handoff"
for g in "$@"; do
	keyctl print "%user:pam_agent:$g" > "$out/read.$g" 2>&1
	keyctl search @s user "pam_agent:$g" > "$out/serial.$g" 2>&1
done
: > "$out/ready"
n=0
while [ ! -e "$out/go" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
END
	cat > "$work/askpass" <<'END'
#!/bin/sh
exec cat "$PA_TOKEN_FILE"
END
	chmod 0755 "$work/in-session" "$work/askpass"
}
