#!/bin/sh
# The end-to-end demo of pam_agent, in a throwaway directory; never touches
# /etc. Installs its Debian packages when missing and builds first. Run it
# as root (agent-run switches to the agent's user like runuser does).
#
# The story: a test trust domain issues an agent a JWT-SVID; agent-run
# logs it in through a real Linux-PAM stack (service files in the throwaway
# directory, through pam_wrapper); pam_agent verifies the token, decides
# the request, and places short-lived credentials in the kernel keyring of
# that one session; the agent reads them (keyctl, libagentcred), exits, and
# the keys are revoked. Then three refusals with their reasons, a task
# reaching its budget, `pam-agent revoke --task` ending a live session,
# an X.509-SVID logging in by proof of possession and the same certificate
# refused without its key, and the audit lines all of it left.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${PA_BUILD_DIR:-$top/_build}
"$top/scripts/build.sh" >/dev/null
module="$build/.libs/pam_agent.so"
pam_agent="$build/pam-agent"
wrapper=$(pkg-config --libs pam_wrapper)
nss_wrapper=$(pkg-config --libs nss_wrapper)
# the agents' own accounts come from libnss_agent (docs/nss.md); the demo
# never installs it nor touches /etc/nsswitch.conf: the test build of the
# module reads the demo's database, loaded by nss_wrapper
make -C "$build" tests/lib/libnss_agenttest.la >/dev/null
nss_module="$build/tests/lib/.libs/libnss_agenttest.so"
if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: run as root: agent-run starts the agent as another user" >&2
	exit 1
fi

demo=$(mktemp -d "${TMPDIR:-/tmp}/pam_agent-demo.XXXXXX")
chmod 0755 "$demo"
trap 'rm -rf "$demo"' EXIT
failed=0
agent=spiffe://demo.example/agents/support-bot
agent2=spiffe://demo.example/agents/report-bot
# an agent that logs in only by proof of possession (an X.509-SVID)
agent3=spiffe://demo.example/agents/svid-bot
audience=spiffe://demo.example/host/$(hostname -s 2>/dev/null || echo host)

say() { printf '\n== %s\n' "$*"; }
show() { printf '   $ %s\n' "$*"; }
check() { # check DESCRIPTION CONDITION...
	d=$1
	shift
	if "$@"; then echo "   -> as expected: $d"; else echo "   -> UNEXPECTED: $d"; failed=1; fi
}
# nss CMD...: CMD with the host's passwd and group (copies) and the agents' accounts
nss() {
	env LD_PRELOAD="$nss_wrapper" NSS_WRAPPER_PASSWD="$demo/passwd" \
		NSS_WRAPPER_GROUP="$demo/group" NSS_WRAPPER_MODULE_SO_PATH="$nss_module" \
		NSS_WRAPPER_MODULE_FN_PREFIX=agent PA_NSS_DB="$demo/nss.db" "$@"
}
# agent_run TOKEN-FILE SERVICE CMD...: the launcher, through the real libpam;
# no --user: the agent runs as its own account
agent_run() {
	tok=$1 svc=$2
	shift 2
	# a directory: spiffe-helper's X.509-SVID files, presented by proof of possession
	cred=--token-file
	[ -d "$tok" ] && cred=--svid-dir
	nss env LD_PRELOAD="$wrapper $nss_wrapper" PAM_WRAPPER=1 \
		PAM_WRAPPER_SERVICE_DIR="$demo/pam.d" PAM_WRAPPER_DEBUGLEVEL=2 \
		UID_WRAPPER_DISABLE_DEEPBIND=1 \
		keyctl session - "$build/agent-run" "$cred" "$tok" --service "$svc" \
		-- "$@" 2>"${pamlog:-$demo/pam.log}"
}
# module lines of the last agent_run, a denial's decisive reason first
module_log() {
	sed -n 's/.*SYSLOG([0-9]): \(auth\|account\|session\): /   pam_agent: \1: /p' "$demo/pam.log" |
		sed 's/ (all reasons: .*//' |
		awk -F'; ' 'NF > 2 { print $1 "; ...; " $NF; next } { print }' | cut -c1-230
}

say "1. A test trust domain (in production: SPIRE's bundle, kept fresh on disk)"
show "pam-agent testca init ca --trust-domain demo.example"
"$pam_agent" testca init "$demo/ca" --trust-domain demo.example | sed 's/^/   /'
# the host's broker key that signs the minted credentials (root-only file)
"$pam_agent" testca init "$demo/broker" --trust-domain broker.demo.example >/dev/null
printf 'legacy-db-password-%s\n' "$(od -An -N6 -tx1 /dev/urandom | tr -d ' ')" >"$demo/legacy-db.secret"
chmod 0600 "$demo/legacy-db.secret"

say "2. The host's policy: which agent may do what, by service class"
mkdir "$demo/pam.d" "$demo/state"
cat >"$demo/pam_agent.conf" <<CONF
[global]
audience      = $audience
clock_skew    = 30s
audit_log     = $demo/audit.jsonl
state_dir     = $demo/state
helper        = $build/pam_agent_helper
broker_key    = $demo/broker/signing.key
broker_issuer = https://broker.demo.example
broker_jwks   = $demo/broker-jwks.json
uid_range     = 61000-61999

[trust_domain demo.example]
bundle = $demo/ca/bundle.json

[service agent-read]
class = read
[service agent-write]
class = write
[service sudo]
class = escalate

[agent $agent]
users        = self
services     = agent-read agent-write sudo
max_class    = write
max_session  = 15m
require_task = yes
grants       = tickets-ro tickets-rw legacy-db
task.max_sessions = 2

[agent $agent2]
users        = self
services     = agent-read

[agent $agent3]
users        = self
services     = agent-read
require_pop  = yes

[grant tickets-ro]
class    = read
source   = mint
audience = https://tickets.demo.example
scope    = tickets:read
ttl      = 10m

[grant tickets-rw]
class    = write
source   = mint
audience = https://tickets.demo.example
scope    = tickets:write
ttl      = 5m

[grant legacy-db]
class  = read
source = file
path   = $demo/legacy-db.secret
ttl    = 10m
CONF
sed -n '/^uid_range/p; /^\[agent/,/^task/p' "$demo/pam_agent.conf" | sed 's/^/   /'
for svc in agent-read agent-write sudo; do
	for phase in auth account session; do
		printf '%-8s required %s config=%s\n' "$phase" "$module" "$demo/pam_agent.conf"
	done >"$demo/pam.d/$svc"
done
printf 'auth required pam_deny.so\naccount required pam_deny.so\nsession required pam_deny.so\n' \
	>"$demo/pam.d/other"
show "pam-agent check --config pam_agent.conf --nss-db nss.db --write-nss-db"
"$pam_agent" check --config "$demo/pam_agent.conf" --nss-db "$demo/nss.db" --write-nss-db 2>&1 |
	sed 's/^/   /' || failed=1
cp /etc/passwd "$demo/passwd"
cp /etc/group "$demo/group"
echo "   each agent has an account of its own (libnss_agent, 'passwd: files agent'):"
show "getent passwd agent-support-bot agent-report-bot"
nss getent passwd agent-support-bot agent-report-bot | sed 's/^/   /'
uid1=$(nss getent passwd agent-support-bot | cut -d: -f3)
uid2=$(nss getent passwd agent-report-bot | cut -d: -f3)
check "two agents, two uids in uid_range" [ -n "$uid1" ] && [ -n "$uid2" ] && [ "$uid1" != "$uid2" ]

say "3. The agent's workload identity: a 5-minute JWT-SVID for task T-1001"
"$pam_agent" testca mint "$demo/ca" --id "$agent" --aud "$audience" --ttl 5m \
	--claim task=T-1001 >"$demo/token"
show "pam-agent verify --config pam_agent.conf token --json"
"$pam_agent" verify --config "$demo/pam_agent.conf" --json "$demo/token" 2>&1 |
	cut -c1-150 | sed 's/^/   /'

say "4. agent-run starts the agent in a read session; the agent looks at what it got"
# the agent: what it sees in its session keyring, its credentials, then exit
cc -O1 -I"$build" -I"$top/agentcred" "$top/docs/examples/agent_cred_example.c" "$top/agentcred/agent_cred.c" \
	-lkeyutils -o "$demo/agent-cred"
cat >"$demo/agent.sh" <<'AGENT'
#!/bin/sh
echo "   [agent] running as uid $(id -u) (USER=$USER), PAM_AGENT_SESSION=$PAM_AGENT_SESSION"
echo "   [agent] keyctl show @s:"
keyctl show @s | sed 's/^/   [agent]   /'
printf '   [agent] keyctl print %%user:pam_agent:tickets-ro -> %.36s... (a JWT)\n' \
	"$(keyctl print %user:pam_agent:tickets-ro)"
# $1: the demo directory ($0 is /dev/fd/N: agent-run starts CMD with fexecve)
echo "   [agent] libagentcred: $("$1/agent-cred" legacy-db 2>&1)"
keyctl search @s user pam_agent:tickets-rw >/dev/null 2>&1 &&
	echo "   [agent] has tickets-rw (it should not)" ||
	echo "   [agent] no tickets-rw: a read session gets read grants only"
echo "   [agent] serials: $(keyctl search @s user pam_agent:tickets-ro) $(keyctl search @s user pam_agent:legacy-db)"
AGENT
chmod 0755 "$demo/agent.sh" "$demo/agent-cred"
show "agent-run --token-file token --service agent-read -- ./agent.sh   # no --user: its own account"
rc=0
agent_run "$demo/token" agent-read "$demo/agent.sh" "$demo" >"$demo/agent.out" || rc=$?
cat "$demo/agent.out"
module_log
check "the agent ran and exited 0" [ "$rc" -eq 0 ]
check "the agent ran as its own account (uid $uid1)" grep -q "running as uid $uid1 (USER=agent-support-bot)" "$demo/agent.out"
check "the agent read its credential with libagentcred" grep -q "libagentcred: got a credential" "$demo/agent.out"
sed -n 's/.*\[agent\] serials: //p' "$demo/agent.out" | tr ' ' '\n' | grep . >"$demo/serials" || true
echo "   after the session closed, the agent's keys as root sees them:"
gone=1
for serial in $(cat "$demo/serials"); do
	state=$(keyctl print "$serial" 2>&1 >/dev/null || true)
	echo "   key $serial: ${state:-STILL READABLE}"
	[ -n "$state" ] || gone=0
done
check "every key of the session is revoked" [ "$gone" -eq 1 ] && [ -s "$demo/serials" ]
check "no session record left" [ -z "$(ls "$demo/state/sessions" 2>/dev/null)" ]

say "5. The minted credential is a JWT relying services verify with the broker's JWKS"
head -c 300 "$demo/broker-jwks.json" | tr -d '\n ' | cut -c1-140 | sed 's/^/   /'
echo

say "6. Two agents, two accounts: the second can neither read the first's environment nor ptrace it"
cat >"$demo/hold.sh" <<'HOLD'
#!/bin/sh
# the first agent: holds its session (its environment has PAM_AGENT_SESSION) until released
i=0
while [ ! -e "$1/release" ] && [ "$i" -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
HOLD
cat >"$demo/probe.sh" <<'PROBE'
#!/bin/sh
# the second agent, as its own account, against the first agent's process
pid=$1
echo "   [agent 2] running as uid $(id -u) (USER=$USER); agent 1 is pid $pid"
if err=$(cat "/proc/$pid/environ" 2>&1 >/dev/null); then
	echo "   [agent 2] read /proc/$pid/environ (it should not)"
else
	echo "   [agent 2] cat /proc/$pid/environ: ${err##*: }"
fi
/usr/bin/python3 - "$pid" <<'PY'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
r = libc.ptrace(16, int(sys.argv[1]), None, None)  # PTRACE_ATTACH
print("   [agent 2] ptrace(PTRACE_ATTACH, %s): %s" % (sys.argv[1],
      "attached (it should not)" if r == 0 else os.strerror(ctypes.get_errno())))
PY
PROBE
chmod 0755 "$demo/hold.sh" "$demo/probe.sh"
"$pam_agent" testca mint "$demo/ca" --id "$agent2" --aud "$audience" --ttl 5m >"$demo/token2"
show "agent-run --token-file token --service agent-read -- ./hold.sh &     # agent 1"
pamlog=$demo/pam1.log agent_run "$demo/token" agent-read "$demo/hold.sh" "$demo" &
holder=$!
pid1=""
i=0
while [ -z "$pid1" ] && [ "$i" -lt 100 ]; do
	pid1=$(pgrep -o -u "$uid1" || true)
	[ -n "$pid1" ] || sleep 0.1
	i=$((i + 1))
done
show "agent-run --token-file token2 --service agent-read -- ./probe.sh PID   # agent 2"
rc=0
agent_run "$demo/token2" agent-read "$demo/probe.sh" "${pid1:-0}" >"$demo/probe.out" || rc=$?
cat "$demo/probe.out"
touch "$demo/release"
wait "$holder" || true
check "agent 1 was running as its own uid ($uid1)" [ -n "$pid1" ]
check "agent 2 ran as its own uid ($uid2)" grep -q "running as uid $uid2 " "$demo/probe.out"
check "agent 2 cannot read agent 1's /proc/PID/environ" grep -q "environ: Permission denied" "$demo/probe.out"
check "agent 2 cannot ptrace agent 1" grep -q "PTRACE_ATTACH, [0-9]*): Operation not permitted" "$demo/probe.out"

say "7. Refused: a token that expired (issued 10 minutes ago for 5 minutes)"
"$pam_agent" testca mint "$demo/ca" --id "$agent" --aud "$audience" --ttl 5m \
	--now $(( $(date +%s) - 600 )) --claim task=T-1001 >"$demo/old"
show "agent-run --token-file old --service agent-read -- ./agent.sh"
rc=0
agent_run "$demo/old" agent-read "$demo/agent.sh" || rc=$?
grep '^agent-run:' "$demo/pam.log" | sed 's/^/   /'
check "exit 77, the agent never ran" [ "$rc" -eq 77 ]

say "8. Refused: a token minted for another host (audience)"
"$pam_agent" testca mint "$demo/ca" --id "$agent" --aud spiffe://demo.example/host/elsewhere \
	--claim task=T-1001 >"$demo/other"
rc=0
agent_run "$demo/other" agent-read "$demo/agent.sh" || rc=$?
grep '^agent-run:' "$demo/pam.log" | sed 's/^/   /'
check "exit 77" [ "$rc" -eq 77 ]

say "9. Refused: the same agent, same token, asks for an escalate service (sudo)"
rc=0
agent_run "$demo/token" sudo "$demo/agent.sh" || rc=$?
grep '^agent-run:' "$demo/pam.log" | sed 's/^/   /'
check "exit 77" [ "$rc" -eq 77 ]

say "10. A task's budget: task.max_sessions = 2 per task; task T-2002 asks for a third session"
"$pam_agent" testca mint "$demo/ca" --id "$agent" --aud "$audience" --ttl 5m \
	--claim task=T-2002 >"$demo/token2"
for n in 1 2 3; do
	show "agent-run --token-file token2 --service agent-read -- /bin/true   # session $n of T-2002"
	rc=0
	agent_run "$demo/token2" agent-read /bin/true || rc=$?
	grep '^agent-run:' "$demo/pam.log" | cut -c1-200 | sed 's/^/   /'
	[ "$n" -lt 3 ] && check "session $n of the task is allowed" [ "$rc" -eq 0 ]
done
check "the third is refused with task_budget_exceeded" \
	sh -c '[ "$1" -eq 77 ] && grep -q "task_budget_exceeded: max_sessions 2" "$2"' sh "$rc" "$demo/pam.log"

say "11. Incident response: pam-agent revoke --task ends a live session of task T-3003, now"
"$pam_agent" testca mint "$demo/ca" --id "$agent" --aud "$audience" --ttl 5m \
	--claim task=T-3003 >"$demo/token3"
mkdir "$demo/live"
chmod 1777 "$demo/live"
cat >"$demo/long-agent.sh" <<'AGENT'
#!/bin/sh
printf '   [agent] T-3003, session %s: legacy-db -> %.20s...\n' "$PAM_AGENT_SESSION" \
	"$(keyctl print %user:pam_agent:legacy-db)"
: >"$1/ready"
n=0
while keyctl print %user:pam_agent:legacy-db >/dev/null 2>&1 && [ $n -lt 300 ]; do
	sleep 0.1
	n=$((n + 1))
done
echo "   [agent] legacy-db now: $(keyctl print %user:pam_agent:legacy-db 2>&1)"
AGENT
chmod 0755 "$demo/long-agent.sh"
show "agent-run --token-file token3 --service agent-read -- ./long-agent.sh &"
pamlog=$demo/long.log agent_run "$demo/token3" agent-read "$demo/long-agent.sh" "$demo/live" &
long=$!
n=0
while [ ! -e "$demo/live/ready" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
show "pam-agent revoke --task T-3003 --reason 'demo incident'"
"$pam_agent" revoke --config "$demo/pam_agent.conf" --task T-3003 --reason 'demo incident' |
	sed 's/^/   /'
rc=0
wait "$long" || rc=$?
check "the live session's credential is revoked under the running agent" [ "$rc" -eq 0 ]
show "agent-run --token-file token3 --service agent-read -- /bin/true   # a new login of T-3003"
rc=0
agent_run "$demo/token3" agent-read /bin/true || rc=$?
grep '^agent-run:' "$demo/pam.log" | cut -c1-200 | sed 's/^/   /'
check "a new login of the ended task is refused" [ "$rc" -eq 77 ]
show "pam-agent tasks"
"$pam_agent" tasks --config "$demo/pam_agent.conf" | sed 's/^/   /'

say "12. Proof of possession: an X.509-SVID whose key never leaves the agent"
"$pam_agent" testca x509 "$demo/ca" --id "$agent3" --out "$demo/svid" >/dev/null
"$pam_agent" testca x509 "$demo/ca" --id "$agent3" --out "$demo/svid2" >/dev/null
show "agent-run --svid-dir svid --service agent-read -- /bin/true   # svid.pem, svid_key.pem"
rc=0
agent_run "$demo/svid" agent-read /bin/true || rc=$?
module_log
check "the X.509-SVID logs in: agent-run signed the module's challenge with its key" [ "$rc" -eq 0 ]
# what a thief has: the certificate (public) without its key
mkdir "$demo/copied"
cp "$demo/svid/svid.pem" "$demo/copied/svid.pem"
cp "$demo/svid2/svid_key.pem" "$demo/copied/svid_key.pem"
show "agent-run --svid-dir copied --service agent-read -- /bin/true   # the certificate, another key"
rc=0
agent_run "$demo/copied" agent-read /bin/true || rc=$?
grep '^agent-run:' "$demo/pam.log" | cut -c1-200 | sed 's/^/   /'
check "the copied certificate is refused: its key is not there to answer" \
	sh -c '[ "$1" -eq 77 ] && grep -q "not a signature of this challenge" "$2"' sh "$rc" "$demo/pam.log"

say "13. The audit trail (one JSON object per event; never a token or secret)"
if [ -f "$demo/audit.jsonl" ]; then
	sed 's/"time":"[^"]*",//; s/"host":"[^"]*",//; s/"token_sha256":"[^"]*",//' "$demo/audit.jsonl" |
		cut -c1-170 | sed 's/^/   /'
	sig=$(cut -d. -f3 "$demo/token")
	check "no token and no secret in the audit file" \
		sh -c '! grep -qF -e "$1" -e "$2" "$3"' sh "$sig" "$(cat "$demo/legacy-db.secret")" \
		"$demo/audit.jsonl"
else
	echo "   -> UNEXPECTED: no audit file"; failed=1
fi

if [ "$failed" -ne 0 ]; then
	say "demo FAILED: a step did not behave as shown"
	exit 1
fi
say "demo finished: every step behaved as shown"
