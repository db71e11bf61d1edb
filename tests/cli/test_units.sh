#!/bin/sh
# The shipped systemd units and tmpfiles.d entry of pam-agent reap, and the
# units of pam-agent bundle fetch (docs/bundles.md): the services run the
# installed pam-agent, systemd accepts the units, the syscall filter keeps
# keyctl, and the directories tmpfiles.d makes are the ones the reaper
# trusts. Each check that needs a tool or root skips visibly.
set -u
. "$(dirname "$0")/../lib/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
pa_workdir pa-units
skips=0
skip() { echo "SKIP: $1"; skips=$((skips + 1)); }

IN=$SRC/etc/systemd/pam-agent-reap.service.in
TIMER=$SRC/etc/systemd/pam-agent-reap.timer
TMPFILES=$SRC/etc/tmpfiles.d/pam_agent.conf
UNIT=$B/etc/systemd/pam-agent-reap.service
if [ -f "$UNIT" ]; then
	check "the built unit runs an absolute pam-agent reap, nothing left unsubstituted" \
		sh -c 'grep -Eq "^ExecStart=/.*/pam-agent reap$" "$1" && ! grep -q "@[a-z]*@" "$1"' sh "$UNIT"
else
	skip "the built unit (configured --with-systemdsystemunitdir=no)"
fi
check "the service is a oneshot with the state directory writable, keyrings private" \
	sh -c 'grep -qx "Type=oneshot" "$1" && grep -qx "ReadWritePaths=/run/pam_agent" "$1" &&
		grep -qx "ProtectSystem=strict" "$1" && grep -qx "KeyringMode=private" "$1" &&
		! grep -q "^ProtectProc=invisible" "$1" && ! grep -q "^PrivateUsers=yes" "$1"' sh "$IN"
check "the timer starts it every minute" \
	sh -c 'grep -qx "OnBootSec=1min" "$1" && grep -qx "OnUnitActiveSec=1min" "$1" &&
		grep -qx "WantedBy=timers.target" "$1"' sh "$TIMER"

BIN=$SRC/etc/systemd/pam-agent-bundle.service.in
BTIMER=$SRC/etc/systemd/pam-agent-bundle.timer
BUNIT=$B/etc/systemd/pam-agent-bundle.service
if [ -f "$BUNIT" ]; then
	check "the built bundle unit runs an absolute pam-agent bundle fetch, nothing left unsubstituted" \
		sh -c 'grep -Eq "^ExecStart=/.*/pam-agent bundle fetch$" "$1" &&
			grep -Eq "^ConditionPathExists=/.*/security/pam_agent.conf$" "$1" &&
			! grep -q "@[a-z]*@" "$1"' sh "$BUNIT"
else
	skip "the built bundle unit (configured --with-systemdsystemunitdir=no)"
fi
check "the bundle service is a oneshot after the network, writing only the bundles and the audit file" \
	sh -c 'grep -qx "Type=oneshot" "$1" && grep -qx "After=network-online.target" "$1" &&
		grep -qx "ProtectSystem=strict" "$1" && grep -qx "ReadWritePaths=-/etc/pam_agent" "$1" &&
		test "$(grep -c "^ReadWritePaths=" "$1")" -eq 2' sh "$BIN"
check "the bundle timer wakes it every minute (the refresh hint says what is due)" \
	sh -c 'grep -qx "OnUnitActiveSec=1min" "$1" && grep -qx "WantedBy=timers.target" "$1"' \
	sh "$BTIMER"

HIN=$SRC/etc/systemd/pam-agent-helperd.service.in
HSOCK=$SRC/etc/systemd/pam-agent-helperd.socket
HUNIT=$B/etc/systemd/pam-agent-helperd.service
if [ -f "$HUNIT" ]; then
	check "the built helperd unit runs an absolute pam_agent_helperd, nothing left unsubstituted" \
		sh -c 'grep -Eq "^ExecStart=/.*/pam_agent_helperd$" "$1" && ! grep -q "@[a-z]*@" "$1"' \
		sh "$HUNIT"
else
	skip "the built helperd unit (configured --with-systemdsystemunitdir=no)"
fi
check "the helperd socket is root's alone, at the path the docs give" \
	sh -c 'grep -qx "ListenStream=/run/pam_agent/helperd.sock" "$1" &&
		grep -qx "SocketMode=0600" "$1" && grep -qx "SocketUser=root" "$1"' sh "$HSOCK"
check "the helperd service: socket-activated, a keyring of its own, SIGTERM to the parent only" \
	sh -c 'grep -qx "Requires=pam-agent-helperd.socket" "$1" &&
		grep -qx "KeyringMode=private" "$1" && grep -qx "KillMode=mixed" "$1" &&
		grep -qx "ProtectSystem=strict" "$1" && grep -qx "NoNewPrivileges=yes" "$1"' sh "$HIN"

if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir "$work/units"
	sed "s|@libexecdir@|$(cd "$B" && pwd)|" "$HIN" > "$work/units/pam-agent-helperd.service"
	cp "$HSOCK" "$work/units/"
	sed "s|@sbindir@|$(cd "$B" && pwd)|" "$IN" > "$work/units/pam-agent-reap.service"
	sed -e "s|@sbindir@|$(cd "$B" && pwd)|" -e "s|@sysconfdir@|/etc|" "$BIN" \
		> "$work/units/pam-agent-bundle.service"
	cp "$TIMER" "$BTIMER" "$work/units/"
	if out=$(systemd-analyze verify "$work/units/pam-agent-reap.service" \
		"$work/units/pam-agent-reap.timer" "$work/units/pam-agent-bundle.service" \
		"$work/units/pam-agent-bundle.timer" "$work/units/pam-agent-helperd.service" \
		"$work/units/pam-agent-helperd.socket" 2>&1); then
		pass "systemd-analyze verify accepts the services, the timers and the socket"
	else
		fail "systemd-analyze verify:"
		printf '%s\n' "$out" | sed 's/^/    /'
	fi
	check "@system-service keeps keyctl and add_key (the filter must not break revocation)" \
		sh -c 'systemd-analyze syscall-filter @system-service | grep -q "@keyring" &&
			systemd-analyze syscall-filter @keyring | grep -qw keyctl &&
			! systemd-analyze syscall-filter @privileged @resources | grep -qw keyctl'
else
	skip "systemd-analyze verify (systemd-analyze not installed)"
fi

if [ "$(id -u)" -ne 0 ]; then
	skip "tmpfiles.d entry (systemd-tmpfiles chowns to root: needs root)"
elif ! command -v systemd-tmpfiles >/dev/null 2>&1; then
	skip "tmpfiles.d entry (systemd-tmpfiles not installed)"
else
	mkdir "$work/root"
	systemd-tmpfiles --create --root="$work/root" "$TMPFILES"
	check "tmpfiles.d makes /run/pam_agent 0755 and sessions/ 0700, root-owned" test \
		"$(stat -c '%a %u' "$work/root/run/pam_agent" "$work/root/run/pam_agent/sessions" | tr '\n' ' ')" \
		= "755 0 700 0 "
	printf '[global]\naudience = x\nstate_dir = %s\n' "$work/root/run/pam_agent" > "$work/c.conf"
	check "pam-agent reap trusts that layout (nothing to reap, exit 0)" \
		sh -c '"$1" reap --config "$2" | grep -q "nothing to reap: no sessions"' \
		sh "$PAM_AGENT" "$work/c.conf"
fi

echo "$pa_passes passed, $pa_fails failed, $skips skipped"
[ "$pa_fails" -eq 0 ]
