#!/bin/sh
# test_check_explain.sh - `pam-agent check` and `pam-agent explain`:
#  (a) every scenario of tests/data/policy/scenarios.json through explain,
#      compared with the table (decision, class, grants, max_session, reason);
#  (b) check on the scenario configuration (with key sets made here) and on
#      broken configurations, each with its exact FILE:LINE message;
#  (c) the account phase's own checks in explain, and usage errors (exit 2).
# The scenarios name users (svc-support, agent, ops, …) that a host does
# not have; the module denies those with "target user unknown", and so does
# explain. With nss_wrapper (libnss-wrapper) the scenarios run against a
# passwd file that has them, end to end; without it, a scenario whose user
# is unknown here is checked for that deny and for the rules' own verdict,
# which explain prints as a note (a partial check, counted as such).
# Environment: PA_TEST_DATA (tests/data), top_builddir (the pam-agent binary),
# PA_NSS_WRAPPER_SO (optional: the library, or "none" to run without it).
set -u

data=${PA_TEST_DATA:-}
if [ -z "$data" ] || [ ! -f "$data/policy/scenarios.json" ]; then
	echo "FAIL: PA_TEST_DATA does not name the tests/data directory"
	echo "0 passed, 1 failed"
	exit 1
fi
PA=$(cd "${top_builddir:-.}" && pwd)/pam-agent
if [ ! -x "$PA" ]; then
	echo "FAIL: $PA not built"
	echo "0 passed, 1 failed"
	exit 1
fi
if ! command -v python3 >/dev/null 2>&1; then
	echo "FAIL: python3 is needed to read scenarios.json"
	echo "0 passed, 1 failed"
	exit 1
fi

umask 022
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pa_check_explain.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
passed=0
failed=0

ok() {
	passed=$((passed + 1))
	echo "PASS: $*"
}

bad() {
	failed=$((failed + 1))
	echo "FAIL: $*"
}

# run_expect NAME WANT-EXIT WANT-STDOUT CMD… : exact exit code and stdout.
run_expect() {
	re_name=$1 re_rc=$2 re_want=$3
	shift 3
	re_got=$("$@" 2>"$tmp/stderr")
	re_status=$?
	if [ "$re_status" = "$re_rc" ] && [ "$re_got" = "$re_want" ]; then
		ok "$re_name"
	else
		bad "$re_name: exit $re_status (want $re_rc)"
		{
			echo "stdout:"; printf '%s\n' "$re_got"
			echo "expected:"; printf '%s\n' "$re_want"
			echo "stderr:"; cat "$tmp/stderr"
		} | sed 's/^/    /'
	fi
}

# run_grep NAME WANT-EXIT TEXT CMD… : exit code, and TEXT in stdout or stderr.
run_grep() {
	rg_name=$1 rg_rc=$2 rg_text=$3
	shift 3
	"$@" >"$tmp/out" 2>&1
	rg_status=$?
	if [ "$rg_status" = "$rg_rc" ] && grep -F -q -e "$rg_text" "$tmp/out"; then
		ok "$rg_name"
	else
		bad "$rg_name: exit $rg_status (want $rg_rc), looking for \"$rg_text\" in:"
		sed 's/^/    /' "$tmp/out"
	fi
}

# The fixtures go through the same file checks as /etc (owner, no group or
# world write): work on a copy made here, whatever the checkout's modes.
cp -R "$data/policy" "$tmp/policy" && chmod -R u+w,go-w "$tmp/policy" || exit 1

# ---- (a) the scenario table through explain -------------------------------------------

nssw=${PA_NSS_WRAPPER_SO:-}
if [ -z "$nssw" ]; then
	libdir=$(pkg-config --variable=libdir nss_wrapper 2>/dev/null || true)
	for f in "$libdir/libnss_wrapper.so" /usr/lib/*/libnss_wrapper.so /usr/lib64/libnss_wrapper.so \
		/usr/lib/libnss_wrapper.so; do
		if [ -f "$f" ]; then
			nssw=$f
			break
		fi
	done
fi
[ "$nssw" = none ] && nssw=
if [ -n "$nssw" ]; then
	echo "# scenarios: end to end, users from a passwd file through nss_wrapper ($nssw)"
else
	echo "# scenarios: no nss_wrapper (install libnss-wrapper): scenarios whose user is unknown here are checked partially"
fi

PA="$PA" DIR="$tmp/policy" NSSW="$nssw" WORK="$tmp" python3 - "$data/policy/scenarios.json" <<'EOF'
import json, os, pwd, subprocess, sys

pa, cfgdir, nssw, work = os.environ["PA"], os.environ["DIR"], os.environ["NSSW"], os.environ["WORK"]
with open(sys.argv[1]) as f:
    table = json.load(f)
scenarios = table["scenarios"]
env = dict(os.environ)
if nssw:
    # every user the table names, plus root: nothing else exists for explain
    users = ["root"] + sorted({s["user"] for s in scenarios} - {"root"})
    with open(os.path.join(work, "passwd"), "w") as f:
        for i, u in enumerate(users):
            uid = 0 if u == "root" else 20000 + i
            f.write("%s:x:%d:%d:%s:/nonexistent:/bin/sh\n" % (u, uid, uid, u))
    with open(os.path.join(work, "group"), "w") as f:
        for i, u in enumerate(users):
            f.write("%s:x:%d:\n" % (u, 0 if u == "root" else 20000 + i))
    env["LD_PRELOAD"] = nssw + (" " + env["LD_PRELOAD"] if env.get("LD_PRELOAD") else "")
    env["NSS_WRAPPER_PASSWD"] = os.path.join(work, "passwd")
    env["NSS_WRAPPER_GROUP"] = os.path.join(work, "group")
    # a sanitizer build must not insist on coming first in the preload list
    env["ASAN_OPTIONS"] = (env["ASAN_OPTIONS"] + ":" if env.get("ASAN_OPTIONS") else "") + \
        "verify_asan_link_order=0"

def user_known(u):
    if nssw:
        return True
    try:
        pwd.getpwnam(u)
        return True
    except KeyError:
        return False

def parse(out):
    """decision, class, grants, max_session, reasons, notes of explain's text"""
    r = {"reasons": [], "notes": [], "grants": None, "max_session": None}
    for line in out.splitlines():
        if line.startswith("  - "):
            r["reasons"].append(line[4:])
        elif line.startswith("note: "):
            r["notes"].append(line[6:])
        elif ":" in line and not line.startswith(" "):
            k, v = line.split(":", 1)
            v = v.strip()
            if k == "grants":
                r["grants"] = [] if v == "(none)" else v.split()
            elif k == "max_session":
                r["max_session"] = int(v.rstrip("s"))
            elif k in ("decision", "class"):
                r[k] = v
    return r

def compare(exp, got_decision, got_class, got_grants):
    if exp["decision"] != got_decision:
        return "got %s, want %s" % (got_decision, exp["decision"])
    if got_decision == "allow":
        if "class" in exp and exp["class"] != got_class:
            return "class %s, want %s" % (got_class, exp["class"])
        if "grants" in exp and exp["grants"] != got_grants:
            return "grants %s, want %s" % (got_grants, exp["grants"])
    return None

passed = failed = partial = 0
for i, s in enumerate(scenarios):
    name = "scenario %d \"%s\"" % (i, s["name"])
    ident, exp = s["identity"], s["expect"]
    conf = s["config"]
    stem = conf[:-5] if conf.endswith(".conf") else conf
    problem = None
    # explain reads the drop-ins the module would: CONFIG without .conf, plus .d
    if s.get("dropins") not in (None, stem + ".d") or \
       (s.get("dropins") is None and os.path.exists(os.path.join(cfgdir, stem + ".d"))):
        problem = "drop-ins %r cannot be expressed with --config %s" % (s.get("dropins"), conf)
    if ident["sub"].startswith("spiffe://"):
        agent = ident["sub"]
    else:
        agent = "%s#%s" % (ident["iss"], ident["sub"])
    cmd = [pa, "explain", "--config", os.path.join(cfgdir, conf), "--id", agent,
           "--service", s["service"], "--user", s["user"], "--now", str(s["now"]),
           "--claims", json.dumps(ident)]
    if s.get("rhost") is not None:
        cmd += ["--rhost", s["rhost"]]
    if ident.get("task"):
        # the task's ledger before the request (docs/tasks.md), never the host's
        cmd += ["--task-state", json.dumps(s.get("ledger", {}))]
    out = ""
    if problem is None:
        p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True)
        out = p.stdout
        r = parse(out)
        want_rc = {"allow": 0, "deny": 1}.get(r.get("decision"), -1)
        if p.returncode != want_rc:
            problem = "exit %d with decision %s" % (p.returncode, r.get("decision"))
        elif user_known(s["user"]):
            problem = compare(exp, r.get("decision"), r.get("class"), r["grants"])
            if problem is None and r.get("decision") == "allow" and "max_session" in exp \
               and exp["max_session"] != r["max_session"]:
                problem = "max_session %s, want %s" % (r["max_session"], exp["max_session"])
            if problem is None and "reason" in exp and \
               not any(exp["reason"] in x for x in r["reasons"]):
                problem = "no reason contains \"%s\"" % exp["reason"]
        else:
            # the module stops at the unknown user; the rules' verdict is a note
            rules = [n for n in r["notes"] if "the rules alone would decide: " in n]
            if r.get("decision") != "deny" or r["reasons"] != ["target user unknown"]:
                problem = "user %s is unknown here, but explain did not deny with " \
                          "\"target user unknown\"" % s["user"]
            elif len(rules) != 1:
                problem = "no note with the rules' own decision"
            else:
                verdict = rules[0].split("the rules alone would decide: ", 1)[1]
                words = verdict.replace(",", "").split()
                got_dec = words[0]
                got_cls = words[2] if got_dec == "allow" else None
                got_gr = words[4:] if got_dec == "allow" else None
                if got_gr == ["(none)"]:
                    got_gr = []
                problem = compare(exp, got_dec, got_cls, got_gr)
                if problem is None:
                    partial += 1
                    name += " (partial: user %s is unknown here, so the module and explain " \
                            "deny; the rules alone agree with the table)" % s["user"]
    if problem is None:
        passed += 1
        print("PASS: " + name)
    else:
        failed += 1
        print("FAIL: %s: %s" % (name, problem))
        for line in out.splitlines():
            print("    " + line)
with open(os.path.join(work, "scenario-counts"), "w") as f:
    f.write("%d %d %d\n" % (passed, failed, partial))
EOF
if [ -f "$tmp/scenario-counts" ]; then
	read -r sp sf spartial <"$tmp/scenario-counts"
	passed=$((passed + sp))
	failed=$((failed + sf))
	if [ "$spartial" -gt 0 ]; then
		echo "# $spartial scenario(s) checked partially: their users do not exist on this host"
	fi
else
	bad "the scenario runner did not finish"
fi

# ---- (b) check ------------------------------------------------------------------------------

keys=$tmp/keys
mkdir "$keys" || exit 1
# the scenario configuration names key sets under /etc/pam_agent: point it here
sed -e "s|/etc/pam_agent/bundles/example.org.json|$keys/example.org.json|" \
	-e "s|/etc/pam_agent/issuers/login.example.org.json|$keys/login.example.org.json|" \
	"$tmp/policy/base.conf" >"$tmp/policy/base-local.conf" || exit 1
cp -R "$tmp/policy/base.d" "$tmp/policy/base-local.d" || exit 1
base=$tmp/policy/base-local.conf

# where the fixture has its sections, and how many, so the expectations stay exact
td_line=$(grep -n '^\[trust_domain example.org\]' "$base" | cut -d: -f1)
iss_line=$(grep -n '^\[issuer https://login.example.org\]' "$base" | cut -d: -f1)
n_agents=$(cat "$base" "$tmp/policy/base-local.d"/*.conf | grep -c '^\[agent ')
n_grants=$(cat "$base" "$tmp/policy/base-local.d"/*.conf | grep -c '^\[grant ')
n_files=$((1 + $(ls "$tmp/policy/base-local.d" | grep -c '\.conf$')))

# the scenario configuration lets several agent rules be one local account
# (svc-support, agent, no users on a test machine): check warns about each
# (security review H2), naming the rules, their ceilings and the sessions the
# module would refuse where the account exists; the warnings follow any problems
line_of() { grep -n "^\[agent $2\]" "$1" | cut -d: -f1; }
shared_warnings() { # shared_warnings FILE: the two warnings for FILE
	sw_sup=$(line_of "$1" spiffe://example.org/agents/support-bot)
	sw_all=$(line_of "$1" 'spiffe://example.org/agents/\*')
	sw_orch=$(line_of "$1" spiffe://example.org/orchestrator)
	sw_one="one uid is one principal: its processes read each other's credentials (/proc/PID/fd and environ, files planted in the shared home, ptrace); where it is a user, the module refuses:"
	sw_rw="gets no session that would receive tickets-rw (write), above the at most read of [agent spiffe://example.org/agents/*]"
	sw_end="give each agent an account of its own"
	printf '%s\n%s' \
		"$1:$sw_sup: warning: user svc-support (no such user here) is named by 3 agent rules: [agent spiffe://example.org/agents/support-bot] ($1:$sw_sup) as svc-support, at most write, [agent spiffe://example.org/agents/*] ($1:$sw_all) as svc-support, at most read, [agent spiffe://example.org/orchestrator] ($1:$sw_orch) as svc-support, at most write; $sw_one [agent spiffe://example.org/agents/support-bot] $sw_rw; [agent spiffe://example.org/orchestrator] $sw_rw; $sw_end" \
		"$1:$sw_all: warning: user agent (no such user here) is named by 2 agent rules: [agent spiffe://example.org/agents/*] ($1:$sw_all) as agent, at most read, [agent spiffe://example.org/orchestrator] ($1:$sw_orch) as agent, at most write; $sw_one [agent spiffe://example.org/orchestrator] $sw_rw; $sw_end"
}

run_expect "check lists every key set that does not load" 1 \
"$base:$td_line: [trust_domain example.org] bundle: $keys/example.org.json: cannot open: No such file or directory
$base:$iss_line: [issuer https://login.example.org] jwks: $keys/login.example.org.json: cannot open: No such file or directory
$(shared_warnings "$base")" \
	"$PA" check --config "$base"

"$PA" testca init "$tmp/ca" --trust-domain example.org >/dev/null || bad "testca init"
cp "$tmp/ca/bundle.json" "$keys/example.org.json" || exit 1
cp "$data/independent/oidc_jwks.json" "$keys/login.example.org.json" || exit 1
chmod 644 "$keys"/*.json

run_expect "check accepts the scenario configuration, warning about shared accounts" 0 \
	"$(shared_warnings "$base")
configuration OK: $n_files files, 1 trust domains (1 keys), 1 issuers, $n_agents agent rules, $n_grants grants (with warnings above)" \
	"$PA" check --config "$base"

printf '{"keys": [}\n' >"$keys/broken.json"
sed -e "s|$keys/login.example.org.json|$keys/broken.json|" "$base" >"$tmp/policy/badjwks.conf"
run_expect "check names a key set that is not JSON" 1 \
	"$tmp/policy/badjwks.conf:$iss_line: [issuer https://login.example.org] jwks: $keys/broken.json: not valid JSON at line 1 column 11: unexpected token near '}'
$(shared_warnings "$tmp/policy/badjwks.conf")" \
	"$PA" check --config "$tmp/policy/badjwks.conf"

# broken configurations, each written here (owned by us, 0644 unless said)
b=$tmp/broken
mkdir "$b" || exit 1

printf '[global]\naudience = spiffe://example.org/host/h1\n[service sshd]\nclass = read\n' \
	>"$b/no-keys.conf"
run_expect "check without any trust domain or issuer" 1 \
	"$b/no-keys.conf: no trust domain and no issuer configured" \
	"$PA" check --config "$b/no-keys.conf"
good_head="[global]
audience = spiffe://example.org/host/h1"
good_tail="[trust_domain example.org]
bundle = $keys/example.org.json
[service sshd]
class = write
[agent spiffe://example.org/bot]
users = root
services = sshd"

printf '%s\n%s\n' "$good_head" "$good_tail" >"$b/good.conf"
run_expect "check accepts a small configuration" 0 \
	"configuration OK: 1 files, 1 trust domains (1 keys), 0 issuers, 1 agent rules, 0 grants" \
	"$PA" check --config "$b/good.conf"

# H2: two agent rules that can log in as one uid (root, uid 0 everywhere),
# both of class write at most: one principal, a warning naming both, exit 0
printf '%s\n%s\nmax_class = write\n[agent spiffe://example.org/other]\nusers = nobody root\nservices = sshd\nmax_class = write\n' \
	"$good_head" "$good_tail" >"$b/shared.conf"
run_expect "check warns when two agent rules of one class share a uid" 0 \
	"$b/shared.conf:7: warning: uid 0 (user root) is shared by 2 agent rules: [agent spiffe://example.org/bot] ($b/shared.conf:7) as root, at most write, [agent spiffe://example.org/other] ($b/shared.conf:11) as root, at most write; one uid is one principal: its processes read each other's credentials (/proc/PID/fd and environ, files planted in the shared home, ptrace), and the module refuses: nothing, the rules may hold the same classes; give each agent an account of its own
configuration OK: 1 files, 1 trust domains (1 keys), 0 issuers, 2 agent rules, 0 grants (with warnings above)" \
	"$PA" check --config "$b/shared.conf"

# H2: a read rule on the uid of a rule with write grants: the module refuses
# those sessions, so check reports an error (exit 1) naming the grant; a rule
# whose services are all above its max_class opens no session and is left out
printf '%s\n%s\nmax_class = write\ngrants = rw ro\n[service reads]\nclass = read\n[agent spiffe://example.org/reader]\nusers = root\nservices = reads\n[agent spiffe://example.org/none]\nusers = root\nservices = sshd\n[grant rw]\nclass = write\nsource = file\npath = /etc/hostname\nttl = 5m\n[grant ro]\nclass = read\nsource = file\npath = /etc/hostname\nttl = 5m\n' \
	"$good_head" "$good_tail" >"$b/shared-refused.conf"
run_expect "check: a shared uid that makes the module refuse sessions is an error" 1 \
	"$b/shared-refused.conf:7: uid 0 (user root) is shared by 2 agent rules: [agent spiffe://example.org/bot] ($b/shared-refused.conf:7) as root, at most write, [agent spiffe://example.org/reader] ($b/shared-refused.conf:14) as root, at most read; one uid is one principal: its processes read each other's credentials (/proc/PID/fd and environ, files planted in the shared home, ptrace), and the module refuses: [agent spiffe://example.org/bot] gets no session that would receive rw (write), above the at most read of [agent spiffe://example.org/reader]; give each agent an account of its own" \
	"$PA" check --config "$b/shared-refused.conf"

# M1: exec brokers run as root in "/"; arguments that look like relative file
# names (python -m NAME, ./x, x.py) are warned about; URLs and other words not
printf '%s\n%s\ngrants = py sh ok\n[grant py]\nclass = read\nsource = exec\ncommand = /usr/bin/python3 -m somebroker\nrevoke = /usr/bin/python3 broker.py --conf=./b.conf\nttl = 5m\n[grant sh]\nclass = read\nsource = exec\ncommand = /bin/sh ./issue\nttl = 5m\n[grant ok]\nclass = read\nsource = exec\ncommand = /usr/libexec/vault-broker issue kv/tickets https://vault.example.org --conf=/etc/b.conf\nrevoke = /usr/bin/python3 /usr/libexec/broker.py revoke\nttl = 5m\n' \
	"$good_head" "$good_tail" >"$b/relative.conf"
rel_tail='brokers run as root in "/", so it resolves against "/"; name files by absolute paths'
run_expect "check warns about relative-looking broker arguments" 0 \
	"$b/relative.conf:11: warning: [grant py] command: argument 'somebroker' is a python module name (-m), looked up in the working directory first: $rel_tail
$b/relative.conf:11: warning: [grant py] revoke: argument 'broker.py' is a relative script file name: $rel_tail
$b/relative.conf:11: warning: [grant py] revoke: argument '--conf=./b.conf' is a relative path: $rel_tail
$b/relative.conf:17: warning: [grant sh] command: argument './issue' is a relative path: $rel_tail
configuration OK: 1 files, 1 trust domains (1 keys), 0 issuers, 1 agent rules, 3 grants (with warnings above)" \
	"$PA" check --config "$b/relative.conf"

printf '%s\ncolour = blue\n%s\n' "$good_head" "$good_tail" >"$b/unknown-key.conf"
run_expect "check: unknown key" 1 \
	"$b/unknown-key.conf:3: unknown key 'colour' in [global]" \
	"$PA" check --config "$b/unknown-key.conf"

printf '%s\n%s\ngrants = ro nope\n[grant ro]\nclass = read\nsource = file\npath = /etc/x\nttl = 5m\n' \
	"$good_head" "$good_tail" >"$b/undefined-grant.conf"
run_expect "check: undefined grant" 1 \
	"$b/undefined-grant.conf:10: [agent spiffe://example.org/bot] references grant 'nope', which is not defined" \
	"$PA" check --config "$b/undefined-grant.conf"

cp "$b/good.conf" "$b/group-writable.conf" && chmod 664 "$b/group-writable.conf"
run_expect "check: group-writable file" 1 \
	"$b/group-writable.conf: mode 0664 is too open (must not have any of 0022)" \
	"$PA" check --config "$b/group-writable.conf"

ln -s good.conf "$b/symlink.conf"
run_expect "check: symbolic link" 1 \
	"$b/symlink.conf: is a symbolic link" \
	"$PA" check --config "$b/symlink.conf"

mkdir "$b/dropin.d" && cp "$b/good.conf" "$b/dropin.conf" &&
	printf '[deny spiffe://example.org/x]\nreason = no\n' >"$b/dropin.d/10-deny.conf" &&
	chmod 666 "$b/dropin.d/10-deny.conf"
run_expect "check: world-writable drop-in" 1 \
	"$b/dropin.d/10-deny.conf: mode 0666 is too open (must not have any of 0022)" \
	"$PA" check --config "$b/dropin.conf"

printf '%s\nsingle_use = yes\nreplay_dir = %s/no/such/replay\naudit_log = %s/no/such/audit.jsonl\n%s\n' \
	"$good_head" "$b" "$b" "$good_tail" >"$b/dirs.conf"
run_expect "check: replay and audit directories missing, both listed" 1 \
"$b/dirs.conf:1: [global] replay_dir $b/no/such/replay does not exist and its parent directory $b/no/such does not exist either
$b/dirs.conf:1: [global] audit_log $b/no/such/audit.jsonl: directory $b/no/such does not exist" \
	"$PA" check --config "$b/dirs.conf"

mkdir "$b/replay" && chmod 0775 "$b/replay"
printf '%s\nsingle_use = yes\nreplay_dir = %s/replay\naudit_log = %s/audit.jsonl\n%s\n' \
	"$good_head" "$b" "$b" "$good_tail" >"$b/replay.conf"
run_expect "check: group-writable replay directory" 1 \
	"$b/replay.conf:1: [global] replay_dir $b/replay: mode 0775 is writable by group or others" \
	"$PA" check --config "$b/replay.conf"
chmod 0700 "$b/replay"
run_expect "check: usable replay directory and audit log directory" 0 \
	"configuration OK: 1 files, 1 trust domains (1 keys), 0 issuers, 1 agent rules, 0 grants" \
	"$PA" check --config "$b/replay.conf"
if [ -e "$b/audit.jsonl" ]; then
	bad "check created the audit log"
else
	ok "check creates nothing"
fi

run_expect "check: a missing file" 1 \
	"$b/missing.conf: cannot open: No such file or directory" \
	"$PA" check --config "$b/missing.conf"

# ---- (c) explain: the account phase's own checks, and what it shows ---------------------------

now=1718013600 # Mon 2024-06-10 10:00 UTC
ops=spiffe://example.org/agents/ops/alice
run_grep "explain allows with exit 0" 0 "decision:    allow" \
	"$PA" explain --config "$base" --id "$ops" --service sshd --user root --now $now
run_grep "explain: a fresh token by default (escalate allowed)" 0 "escalate session: inherits nothing" \
	"$PA" explain --config "$base" --id "$ops" --service sudo --user root --now $now
# clock_skew is 30s: expired since authentication from exp + 30 on
run_grep "explain: token expired since authentication" 1 "  - token expired since authentication" \
	"$PA" explain --config "$base" --id "$ops" --service sshd --user root --now $now \
	--claims "{\"iat\": $((now - 300)), \"exp\": $((now - 30))}"
run_grep "explain: within the clock skew" 0 "decision:    allow" \
	"$PA" explain --config "$base" --id "$ops" --service sshd --user root --now $now \
	--claims "{\"iat\": $((now - 300)), \"exp\": $((now - 29))}"
unknown=pa-no-such-user-$$
if getent passwd "$unknown" >/dev/null 2>&1; then
	bad "user $unknown exists"
else
	run_grep "explain: target user unknown" 1 "  - target user unknown" \
		"$PA" explain --config "$base" --id "$ops" --service sshd --user "$unknown" --now $now
fi
run_grep "explain: OIDC identity, issuer split from the subject" 1 \
	"user root is not in the users of [agent https://login.example.org#*]" \
	"$PA" explain --config "$base" --id "https://login.example.org#ci#7" --service agent-read \
	--user root --now $now
# an issuer never contains '#': the subject is everything after the first one
"$PA" explain --config "$base" --id "https://login.example.org#ci#7" --service agent-read \
	--user root --now $now >"$tmp/out" 2>&1
if grep -q "is not configured" "$tmp/out"; then
	bad "explain: OIDC --id split at the first '#' (issuer https://login.example.org)"
	sed 's/^/    /' "$tmp/out"
else
	ok "explain: OIDC --id split at the first '#' (issuer https://login.example.org)"
fi
run_grep "explain notes an unconfigured issuer" 1 \
	"note: issuer https://evil.example.com is not configured" \
	"$PA" explain --config "$base" --id "https://evil.example.com#x" --service agent-read \
	--user root --now $now
run_grep "explain notes an unconfigured trust domain" 1 \
	"note: trust domain other.org is not configured" \
	"$PA" explain --config "$base" --id spiffe://other.org/x --service sshd --user root --now $now
# Linux-PAM lower-cases the service name in pam_start: the module never sees
# "SSHD", so explain decides for "sshd" as the module would, and check refuses
# a [service] section that could never match
run_grep "explain: an upper-case --service is decided lower-cased, as Linux-PAM does" 0 \
	"service:     sshd" \
	"$PA" explain --config "$base" --id "$ops" --service SSHD --user root --now $now
run_grep "explain: says that it lower-cased the service" 0 \
	"Linux-PAM lower-cases service names: deciding for service sshd" \
	"$PA" explain --config "$base" --id "$ops" --service SSHD --user root --now $now
printf '%s\n[trust_domain example.org]\nbundle = %s\n[service Sudo]\nclass = read\n' \
	"[global]
audience = spiffe://example.org/host/h1" "$(sed -n 's/^bundle = //p' "$base" | head -n 1)" \
	>"$tmp/policy/upper-service.conf"
run_grep "check: an upper-case [service] name is refused" 1 \
	"upper-service.conf:5: [service Sudo]: a service name has no upper-case letters: Linux-PAM lower-cases the service name" \
	"$PA" check --config "$tmp/policy/upper-service.conf"
# run_as: sudo authenticates and decides for the invoking user, then opens the
# session as the run-as user; explain --run-as shows the session's decision
cat >"$tmp/policy/runas.conf" <<EOF
[global]
audience = spiffe://example.org/host/h1
[trust_domain example.org]
bundle = $(sed -n 's/^bundle = //p' "$base" | head -n 1)
[service sudo]
class = escalate
[agent spiffe://example.org/agents/runner]
users = nobody
services = sudo
max_class = escalate
run_as = sudo:root
[agent spiffe://example.org/agents/norun]
users = nobody
services = sudo
max_class = escalate
EOF
runner=spiffe://example.org/agents/runner
norun=spiffe://example.org/agents/norun
run_grep "check: run_as accepted" 0 "configuration OK" "$PA" check --config "$tmp/policy/runas.conf"
run_grep "explain --run-as: allowed by run_as" 0 \
	"agent $runner may run as root through sudo (run_as of [agent $runner])" \
	"$PA" explain --config "$tmp/policy/runas.conf" --id "$runner" \
	--service sudo --user nobody --run-as root --now $now
run_grep "explain --run-as: shows the target" 0 "run as:      root" \
	"$PA" explain --config "$tmp/policy/runas.conf" --id "$runner" \
	--service sudo --user nobody --run-as root --now $now
run_grep "explain --run-as: no run_as, denied with the run-as reason" 1 \
	"agent $norun may not run as root through sudo: no run_as for it in [agent $norun]" \
	"$PA" explain --config "$tmp/policy/runas.conf" --id "$norun" \
	--service sudo --user nobody --run-as root --now $now
run_grep "explain without --run-as: the account phase allows the invoking user" 0 \
	"decision:    allow" \
	"$PA" explain --config "$tmp/policy/runas.conf" --id "$norun" \
	--service sudo --user nobody --now $now
run_grep "explain: run_as never makes the target a login user" 1 \
	"user root is not in the users of [agent $runner]" \
	"$PA" explain --config "$tmp/policy/runas.conf" --id "$runner" \
	--service sudo --user root --now $now
{
	cat "$tmp/policy/runas.conf"
	printf '[agent spiffe://example.org/agents/typo]\nusers = nobody\nservices = sudo\nrun_as = su:root\n'
} >"$tmp/policy/runas-typo.conf"
run_grep "check: run_as on a service the rule does not list is refused" 1 \
	"runas-typo.conf:19: [agent spiffe://example.org/agents/typo]: run_as \"su:root\" names service 'su', which is not in its services" \
	"$PA" check --config "$tmp/policy/runas-typo.conf"
run_grep "explain: a refused configuration exits 2 with the problems" 2 \
	"$b/unknown-key.conf:3: unknown key 'colour' in [global]" \
	"$PA" explain --config "$b/unknown-key.conf" --id "$ops" --service sshd --user root

# ---- usage errors --------------------------------------------------------------------------------

run_grep "check: extra argument" 2 "usage: pam-agent check" "$PA" check --config "$base" extra
run_grep "check: unknown option" 2 "usage: pam-agent check" "$PA" check --bogus
run_grep "check --help" 0 "usage: pam-agent check" "$PA" check --help
run_grep "explain: nothing given" 2 "--id, --service and --user are required" "$PA" explain
run_grep "explain: no --user" 2 "--id, --service and --user are required" \
	"$PA" explain --config "$base" --id "$ops" --service sshd
run_grep "explain: bad --now" 2 "--now soon: not an epoch time" \
	"$PA" explain --config "$base" --id "$ops" --service sshd --user root --now soon
run_grep "explain: --claims not JSON" 2 "--claims: not valid JSON" \
	"$PA" explain --config "$base" --id "$ops" --service sshd --user root --claims '{"task":'
run_grep "explain: --claims not an object" 2 "--claims must be a JSON object" \
	"$PA" explain --config "$base" --id "$ops" --service sshd --user root --claims '["x"]'
run_grep "explain: --claims with a task that is not a string" 2 '"task" is not a string' \
	"$PA" explain --config "$base" --id "$ops" --service sshd --user root --claims '{"task": 7}'
run_grep "explain: --claims sub differs from --id" 2 '"sub" differs from --id' \
	"$PA" explain --config "$base" --id "$ops" --service sshd --user root \
	--claims '{"sub": "spiffe://example.org/agents/other"}'
run_grep "explain: --id neither SPIFFE nor ISSUER#SUBJECT" 2 "neither a SPIFFE ID nor ISSUER#SUBJECT" \
	"$PA" explain --config "$base" --id bot --service sshd --user root
run_grep "explain: invalid SPIFFE ID" 2 "--id spiffe://Example.org/x:" \
	"$PA" explain --config "$base" --id spiffe://Example.org/x --service sshd --user root
run_grep "explain: extra argument" 2 "usage: pam-agent explain" \
	"$PA" explain --config "$base" --id "$ops" --service sshd --user root extra

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
