#!/bin/sh
# pam_agent_helperd, the helper as a service (docs/helper.md, "The helper
# service"), started by the test with --listen in its work directory, and
# the module with helper_socket = that socket, through the real Linux-PAM
# library and agent-run. `helper =` names a wrapper that counts its runs:
# - file + mint grants: the session opens through the service and the
#   helper never runs; the keys are readable in the session and read back
#   revoked after the close;
# - an exec grant with a revoke command: open and close both through the
#   service, still no helper run, the broker revocation ran once;
# - spares: two children wait before any request; two requests in a row
#   are served by two of them (the exec broker's parent), each forked
#   before its request and gone after it; a killed spare is replaced and
#   the service answers; after SIGHUP, and after the configuration and then
#   the key file changed, the spares forked before are replaced and the
#   next request signs with the new key (the token's kid);
# - the service stopped (SIGSTOP, the parent and its spares: connected,
#   no reply): the open fails closed after helper_timeout, naming the
#   socket; nothing is left;
# - the service gone: no process of it is left; the open fails closed,
#   naming the socket, with no fall back to spawning the helper; nothing
#   is left;
# - a peer of another uid (root only: setpriv) gets no reply where root
#   gets one, over the same socket;
# - socket activation: the socket passed as systemd passes it
#   (systemd-socket-activate) is served; without one it does not start.
# Runs as any user: the service run by a user serves that user only.
set -u
. "$(dirname "$0")/../lib/lib.sh"
need_pam_wrapper
need keyctl python3
need_built "$HELPERD"
pa_workdir pa-helperd
witness="" hd=""
# gone PID...: until none of PID is alive (5 s at most)
gone() {
	for g_pid in "$@"; do
		g_i=0
		while kill -0 "$g_pid" 2>/dev/null && [ $g_i -lt 50 ]; do
			sleep 0.1
			g_i=$((g_i + 1))
		done
		kill -0 "$g_pid" 2>/dev/null && return 1
	done
	return 0
}
stop_helperd() {
	if [ -n "$hd" ]; then
		for c in $(children); do kill -CONT "$c" 2>/dev/null; done
		kill -CONT "$hd" 2>/dev/null
		kill -TERM "$hd" 2>/dev/null
		wait "$hd" 2>/dev/null
		hd=""
	fi
}
pa_at_exit pa_witness_cleanup
pa_at_exit stop_helperd # runs first
AUD=spiffe://example.org/host/test
me=$(id -un)
sock=$work/run/helperd.sock

pa_testca
printf 'S3CR3T-file-%s\n' "$(newsid)" > "$work/file.secret"
chmod 0600 "$work/file.secret"
# the exec broker: its parent is the process that serves the request
cat > "$work/issue" <<EOF
#!/bin/sh
cat >/dev/null
echo \$PPID >> "$work/issue.ppid"
echo '{"secret":"S3CR3T-exec","expires_at":null,"revoke_handle":"lease-9"}'
EOF
cat > "$work/revoke" <<'EOF'
#!/bin/sh
{ cat; echo; } >> "$1"
echo $PPID >> "$1.ppid"
EOF
# the helper, counted: it must not run at all
cat > "$work/helper" <<EOF
#!/bin/sh
echo run >> "$work/helper.runs"
exec "$HELPER"
EOF
# CMD: reads its keys, writes their serials, waits until the test linked them
pa_witness_cmd
# CMD2: writes the minted token to $1/token
cat > "$work/cmd2" <<'EOF'
#!/bin/sh
keyctl print %user:pam_agent:tickets-ro > "$1/token"
EOF
chmod 0755 "$work/issue" "$work/revoke" "$work/helper" "$work/cmd" "$work/cmd2"
mkdir -m 0700 "$work/run"

# write_conf BROKER_KEY
write_conf() {
	pa_policy_split broker_key="$1" broker_jwks="$work/jwks.json" \
		helper="$work/helper" helper_socket="$sock" helper_timeout=3s \
		state_dir="$work/state" audit_log="$work/audit.log" | pa_write "$work/pam_agent.conf"
}
write_conf "$work/ca/signing.key"
pa_check_conf "$work/pam_agent.conf"
pa_pamd "$work/pam.d" "$work/pam_agent.conf"

pa_helperd_start "$sock" "$work/pam_agent.conf"
check "the socket is mode 0600" test "$(stat -c %a "$sock")" = 600
check "the service published the broker JWKS when it loaded the key" test -s "$work/jwks.json"
check "--listen in a directory others may write is refused" \
	sh -c 'mkdir -m 0777 "$1/open" && ! "$2" --listen "$1/open/s" --config "$3" 2>/dev/null' \
	sh "$work" "$HELPERD" "$work/pam_agent.conf"

# ---- file + mint grants through the service ------------------------------------------------
pa_witnessed_session pa-helperd-witness
check "file + mint: agent-run ran CMD (status $st)" test "$st" -eq 0 -a -s "$work/during"
check "file + mint: CMD read the file key" grep -q "S3CR3T-file" "$work/during"
check "file + mint: CMD read the minted token" grep -q "^eyJ" "$work/during"
check "file + mint: the helper never ran" test "$(lines "$work/helper.runs")" -eq 0
check "file + mint: both keys read back revoked after the close" \
	sh -c 'test "$(wc -l < "$1")" -eq 2 && while read -r s; do
		keyctl print "$s" 2>&1 | grep -q "revoked" || exit 1; done < "$1"' sh "$work/serials"
check "file + mint: the record is gone" sh -c '! ls "$1"/* 2>/dev/null | grep -q .' sh \
	"$work/state/sessions"
check "file + mint: credential_placed ok in the audit trail" \
	grep -q '"event":"credential_placed".*"result":"ok"' "$work/audit.log"

# ---- an exec grant: open and close through the service -------------------------------------
pa_mint broker "$AUD" > "$work/token.broker"
pa_wrapped "$work/pam.d" "$AGENT_RUN" --token-file "$work/token.broker" --user "$me" \
	-- /bin/true > "$work/agent-run2.out" 2>&1
st=$?
check "exec: agent-run ran CMD (status $st)" test "$st" -eq 0
check "exec: the helper never ran" test "$(lines "$work/helper.runs")" -eq 0
check "exec: the broker revocation ran once" test "$(lines "$work/revoked.log")" -eq 1
check "exec: it got the lease's handle" grep -q '"handle":"lease-9"' "$work/revoked.log"

# ---- a peer of another uid: refused ---------------------------------------------------------
# Over the filesystem only root reaches the socket (0600 in a 0700
# directory); the socket is opened up here to reach the second barrier,
# the service's SO_PEERCRED check. The same close request (nothing to
# revoke) gets a reply for root and none for nobody.
cat > "$work/client.py" <<'EOF'
# prints the reply; nothing when the service closed the connection (a
# refusal); a failed connect (the filesystem's refusal) is an error
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
data = b""
try:
    s.sendall(b'{"op":"close","sid":"00112233445566778899aabbccddeeff","ring":0,'
              b'"agent":null,"timeout":5,"keys":[]}')
    s.shutdown(socket.SHUT_WR)
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
except (BrokenPipeError, ConnectionResetError):
    pass
sys.stdout.write(data.decode())
EOF
# ---- spares: each request in a child forked ahead, that serves it alone ---------------------
# kid FILE: the kid in the header of the token in FILE; jwks_kid: the
# published JWKS's
kid() {
	python3 -c 'import base64,json,sys; h=open(sys.argv[1]).read().strip().split(".")[0]
print(json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))["kid"])' "$1"
}
jwks_kid() { json "$work/jwks.json" 'j["keys"][0]["kid"]'; }
# mint_run N: a session of the kernel agent; its minted token in $work/mint.N/token
mint_run() {
	mkdir -p "$work/mint.$1"
	pa_mint kernel "$AUD" > "$work/token.kernel"
	pa_wrapped "$work/pam.d" "$AGENT_RUN" --token-file "$work/token.kernel" --user "$me" \
		-- "$work/cmd2" "$work/mint.$1" > "$work/mint.$1.out" 2>&1
}
# settled: the processes of the requests before are gone, two spares wait
settled() { gone $(cat "$work/issue.ppid" "$work/revoked.log.ppid") && wait_children 2; }
check "spares: two children wait for a connection" settled
for n in 1 2; do
	settled
	children > "$work/spares.$n"
	pa_wrapped "$work/pam.d" "$AGENT_RUN" --token-file "$work/token.broker" --user "$me" \
		-- /bin/true > "$work/agent-run.s$n.out" 2>&1
	st=$?
	served=$(tail -n 1 "$work/issue.ppid")
	echo "$served" >> "$work/served"
	check "spares: request $n opened (status $st)" test "$st" -eq 0
	check "spares: request $n was served by a spare forked before it (pid $served)" \
		grep -qx "$served" "$work/spares.$n"
	check "spares: the process of request $n is gone after it" gone "$served"
	check "spares: two spares wait again after request $n" settled
done
check "spares: two requests in a row, two processes" test "$(sort -u "$work/served" | wc -l)" -eq 2
victim=$(children | head -n 1)
kill -KILL "$victim"
check "spares: a killed spare is gone" gone "$victim"
check "spares: the killed spare is replaced" \
	sh -c 'n=0; while [ $n -lt 50 ]; do ps -o pid= --ppid "$1" | tr -d " " > "$2.now"
		[ "$(wc -l < "$2.now")" -eq 2 ] && ! grep -qx "$3" "$2.now" && exit 0
		sleep 0.1; n=$((n + 1)); done; exit 1' sh "$hd" "$work/spares" "$victim"
check "spares: after a spare was killed the service answers" \
	sh -c 'python3 "$1" "$2" | grep -q "\"ok\":true"' sh "$work/client.py" "$sock"
wait_children 2
children > "$work/spares.hup"
kill -HUP "$hd"
check "SIGHUP: the spares forked before it are gone" gone $(cat "$work/spares.hup")
check "SIGHUP: two new spares wait" wait_children 2
check "SIGHUP: the service answers" \
	sh -c 'python3 "$1" "$2" | grep -q "\"ok\":true"' sh "$work/client.py" "$sock"
# a change of the configuration, then of the key file, each after the
# spares were forked: the next request signs with the key now named (a
# spare with the key it was forked with would sign with that one)
pa_testca "$work/ca2"
pa_testca "$work/ca3"
(umask 077 && cp "$work/ca2/signing.key" "$work/broker.key")
wait_children 2
children > "$work/spares.conf"
write_conf "$work/broker.key"
mint_run 1
st=$?
check "config change: the session opened (status $st)" test "$st" -eq 0
check "config change: the token is signed with the key named now" \
	test "$(kid "$work/mint.1/token")" = "$(jwks_kid)"
check "config change: the spares forked before it are gone" gone $(cat "$work/spares.conf")
wait_children 2
children > "$work/spares.key"
(umask 077 && cp "$work/ca3/signing.key" "$work/broker.key.new" &&
	mv -f "$work/broker.key.new" "$work/broker.key")
mint_run 2
st=$?
check "key change: the session opened (status $st)" test "$st" -eq 0
check "key change: the token is signed with the new key, not the one the spares had" \
	sh -c 'test "$1" != "$2" && test "$2" = "$3"' sh "$(kid "$work/mint.1/token")" \
	"$(kid "$work/mint.2/token")" "$(jwks_kid)"
check "key change: the spares forked before it are gone" gone $(cat "$work/spares.key")
write_conf "$work/ca/signing.key"
rm -f "$work/state/sessions"/* 2>/dev/null

if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1 && [ -x /usr/bin/python3 ]; then
	chmod 0711 "$work" "$work/run"
	chmod 0666 "$sock"
	check "peer: root gets a reply" sh -c 'python3 "$1" "$2" | grep -q "\"ok\""' sh \
		"$work/client.py" "$sock"
	# /usr/bin/python3: a python3 found in root's PATH may live where nobody cannot go
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 "$work/client.py" \
		"$sock" 2>&1)
	check "peer: uid 65534 connects but gets no reply (got: $out)" test -z "$out"
	chmod 0600 "$sock"
	chmod 0700 "$work/run" "$work"
else
	echo "SKIP: peer check: needs root and setpriv to connect as another uid"
fi

# ---- socket activation (sd_listen_fds): the socket passed as systemd passes it --------------
check "without --listen and without a socket from systemd it refuses to start" \
	sh -c '! "$1" --config "$2" 2> "$3" && grep -q "no socket from systemd" "$3"' \
	sh "$HELPERD" "$work/pam_agent.conf" "$work/nosock.err"
if command -v systemd-socket-activate >/dev/null 2>&1; then
	systemd-socket-activate -l "$work/run/activated.sock" \
		"$HELPERD" --config "$work/pam_agent.conf" > /dev/null 2>&1 &
	sa=$!
	i=0
	while [ ! -S "$work/run/activated.sock" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	check "socket-activated: it answers on the socket it was given" \
		sh -c 'python3 "$1" "$2" | grep -q "\"ok\":true"' sh "$work/client.py" \
		"$work/run/activated.sock"
	kill -TERM "$sa" 2>/dev/null
	wait "$sa" 2>/dev/null
else
	echo "SKIP: socket activation: systemd-socket-activate is not installed (package systemd)"
fi

# ---- the service stopped: connected, no reply -----------------------------------------------
rm -f "$work/state/sessions"/* 2>/dev/null
wait_children 2
kill -STOP "$hd"
for c in $(children); do kill -STOP "$c"; done
pa_mint kernel "$AUD" > "$work/token.kernel"
pa_wrapped "$work/pam.d" "$AGENT_RUN" --token-file "$work/token.kernel" --user "$me" \
	-- /bin/true > "$work/agent-run3.out" 2>&1
st=$?
check "stopped: the session is refused (status $st)" test "$st" -ne 0
check "stopped: the audit trail names the socket and the timeout" \
	grep -q "\"event\":\"credential_placed\".*helper service ${sock}: no reply within 3s" \
	"$work/audit.log"
check "stopped: no record remains" sh -c '! ls "$1"/* 2>/dev/null | grep -q .' sh \
	"$work/state/sessions"
check "stopped: the helper never ran" test "$(lines "$work/helper.runs")" -eq 0
children > "$work/children.stop"
stop_helperd

# ---- the service gone: fail closed, no spawn ------------------------------------------------
check "gone: the service removed its socket at SIGTERM" test ! -e "$sock"
check "gone: no child of the service is left" \
	sh -c 'test -s "$1" && for p in $(cat "$1"); do kill -0 "$p" 2>/dev/null && exit 1; done; exit 0' \
	sh "$work/children.stop"
pa_wrapped "$work/pam.d" "$AGENT_RUN" --token-file "$work/token.kernel" --user "$me" \
	-- /bin/true > "$work/agent-run4.out" 2>&1
st=$?
check "gone: the session is refused (status $st)" test "$st" -ne 0
check "gone: the audit trail names the socket" \
	grep -q "\"event\":\"credential_placed\".*helper service ${sock}: cannot connect" \
	"$work/audit.log"
check "gone: no record remains" sh -c '! ls "$1"/* 2>/dev/null | grep -q .' sh \
	"$work/state/sessions"
check "gone: the helper was not spawned instead" test "$(lines "$work/helper.runs")" -eq 0

pa_summary
