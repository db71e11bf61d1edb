#!/usr/bin/env python3
"""The policy scenario table (tests/data/policy/scenarios.json) through the
real module and through `pam-agent explain`: both must agree with each other
and with the table, on allow/deny, and for an allow on class and grants.

The module runs in the real Linux-PAM library (pamtester under pam_wrapper),
with the scenario's clock (libfaketime), its users (nss_wrapper) and tokens
signed here with Python's `cryptography` - an implementation independent of
the project's own signer. Prints PASS/FAIL per scenario, exits 77 (SKIP)
when a tool is missing."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import patest as T  # noqa: E402
from patest import DATA, FAKETIME, MODULE, PAM_AGENT, NSS_WRAPPER, write  # noqa: E402

T.require_pam_stack(faketime=True)
KEY = T.Key("scenario-key")
JWK = KEY.jwk()


def mint(claims):
    return KEY.sign(claims)


def prepare_config(work, name, dropins, bundle, jwks):
    """Copies a scenario configuration, pointing its key files at ours."""
    base = os.path.join(work, name.replace(".conf", ""))
    os.makedirs(os.path.join(base, "pam.d"))
    os.chmod(base, 0o755)
    conf = os.path.join(base, "pam_agent.conf")

    def fix(text):
        text = re.sub(r"(?m)^(bundle\s*=).*$", r"\1 " + bundle, text)
        # the task ledgers of this run (docs/tasks.md), not the host's
        text = re.sub(r"(?m)^\[global\]\s*$", "[global]\nstate_dir = %s/state" % base, text)
        return re.sub(r"(?m)^(jwks\s*=).*$", r"\1 " + jwks, text)

    with open(os.path.join(DATA, "policy", name)) as f:
        write(conf, fix(f.read()))
    if dropins:
        ddir = os.path.join(base, "pam_agent.d")
        os.makedirs(ddir)
        os.chmod(ddir, 0o755)
        src = os.path.join(DATA, "policy", dropins)
        for entry in sorted(os.listdir(src)):
            with open(os.path.join(src, entry)) as f:
                write(os.path.join(ddir, entry), fix(f.read()))
    return base, conf


def ledger_path(base, agent, task):
    """The task's ledger file (docs/tasks.md: SHA-256 of "AGENT\\nTASK")."""
    name = hashlib.sha256(("%s\n%s" % (agent, task)).encode()).hexdigest()
    return os.path.join(base, "state", "tasks", name + ".ledger")


def set_ledger(base, agent, task, state):
    """Removes the task's ledger; writes one with the summary state when given."""
    path = ledger_path(base, agent, task)
    if os.path.exists(path):
        os.unlink(path)
    if state is None:
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.chmod(os.path.join(base, "state"), 0o755)
    os.chmod(os.path.dirname(path), 0o700)
    text = json.dumps(dict(state, v=1, agent=agent, task=task), separators=(",", ":"),
                      sort_keys=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, (text.ljust(4095) + "\n").encode())
    os.close(fd)


def ledger_sessions(base, agent, task):
    try:
        with open(ledger_path(base, agent, task), "rb") as f:
            return json.loads(f.read(4096).decode()).get("sessions")
    except OSError:
        return None


def global_value(conf, key):
    with open(conf) as f:
        m = re.search(r"(?m)^%s\s*=\s*(\S+)" % key, f.read())
    return m.group(1) if m else None


def issuer_audience(conf, iss):
    with open(conf) as f:
        text = f.read()
    m = re.search(r"(?ms)^\[issuer %s\]\s*$(.*?)(^\[|\Z)" % re.escape(iss), text)
    if not m:
        return None
    a = re.search(r"(?m)^audience\s*=\s*(\S+)", m.group(1))
    return a.group(1) if a else None


def main():
    with open(os.path.join(DATA, "policy", "scenarios.json")) as f:
        scenarios = json.load(f)["scenarios"]
    work = tempfile.mkdtemp(prefix="pa-scenarios.")
    os.chmod(work, 0o755)
    try:
        return run(work, scenarios)
    finally:
        if "PA_KEEP_TEST_DIR" not in os.environ:
            shutil.rmtree(work, ignore_errors=True)


def run(work, scenarios):
    bundle = os.path.join(work, "bundle.json")
    jwks = os.path.join(work, "jwks.json")
    write(bundle, json.dumps({"keys": [dict(JWK, use="jwt-svid")]}))
    write(jwks, json.dumps({"keys": [JWK]}))
    users = sorted({s["user"] for s in scenarios} - {"root"})
    passwd = os.path.join(work, "passwd")
    group = os.path.join(work, "group")
    write(passwd, "root:x:0:0:root:/root:/bin/sh\n" + "".join(
        "%s:x:%d:%d::/nonexistent:/usr/sbin/nologin\n" % (u, 2000 + i, 2000)
        for i, u in enumerate(users)))
    write(group, "root:x:0:\nagents:x:2000:\n")
    configs = {}
    passes = fails = 0
    for sc in scenarios:
        key = (sc["config"], sc.get("dropins"))
        if key not in configs:
            configs[key] = prepare_config(work, sc["config"], sc.get("dropins"), bundle, jwks)
        base, conf = configs[key]
        service = sc["service"]
        svc_file = os.path.join(base, "pam.d", service)
        write(svc_file, "auth required %s config=%s\naccount required %s config=%s\n"
              % (MODULE, conf, MODULE, conf))
        write(os.path.join(base, "pam.d", "other"), "auth required pam_deny.so\naccount required pam_deny.so\n")

        ident = sc["identity"]
        claims = {k: v for k, v in ident.items()}
        iss = ident.get("iss")
        aud = issuer_audience(conf, iss) if iss else None
        claims["aud"] = aud or global_value(conf, "audience")
        claims["jti"] = "scenario-%d" % (passes + fails)
        agent = "%s#%s" % (iss, ident["sub"]) if iss else ident["sub"]
        token = mint(claims)
        task = ident.get("task")
        if task:
            set_ledger(base, agent, task, sc.get("ledger"))

        env = T.pam_env(os.path.join(base, "pam.d"), passwd, group, {
            "LD_PRELOAD": "%s %s %s" % (FAKETIME, T.PRELOAD, NSS_WRAPPER),
            "FAKETIME": time.strftime("@%Y-%m-%d %H:%M:%S", time.gmtime(sc["now"])),
            "TZ": "UTC"})
        args = ["pamtester", "-v"]
        if sc.get("rhost"):
            args += ["-I", "rhost=%s" % sc["rhost"]]
        args += [service, sc["user"], "authenticate", "acct_mgmt"]
        p = subprocess.run(args, input=token + "\n", env=env, capture_output=True, text=True)
        out = p.stdout + p.stderr
        module_allow = "account management done" in out
        m = re.search(r"account: allowed: class (\w+), (\d+) grant\(s\), max session (\d+)s", out)
        module_class, module_ngrants, module_max = \
            (m.group(1), int(m.group(2)), int(m.group(3))) if m else (None, 0, None)
        g = re.findall(r'"event":"decision","result":"allow".*?"grants":\[([^\]]*)\]', out)
        module_grants = json.loads("[%s]" % g[-1]) if g else []

        explain_env = {k: env[k] for k in ("NSS_WRAPPER_PASSWD", "NSS_WRAPPER_GROUP")}
        explain_env.update(PATH=os.environ.get("PATH", "/usr/bin:/bin"),
                           LD_PRELOAD=NSS_WRAPPER)
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                explain_env[k] = os.environ[k]
        eargs = [PAM_AGENT, "explain", "--id", agent, "--service", service, "--user", sc["user"],
                 "--config", conf, "--now", str(sc["now"]), "--claims", json.dumps(ident)]
        if sc.get("rhost"):
            eargs += ["--rhost", sc["rhost"]]
        if task:
            eargs += ["--task-state", json.dumps(sc.get("ledger", {}))]
        e = subprocess.run(eargs, env=explain_env, capture_output=True, text=True)
        explain_allow = e.returncode == 0
        em = re.search(r"(?m)^class:\s*(\w+)", e.stdout)
        explain_class = em.group(1) if em else None
        em = re.search(r"(?m)^max_session:\s*(\d+)s", e.stdout)
        explain_max = int(em.group(1)) if em else None

        want = sc["expect"]
        problems = []
        if e.returncode not in (0, 1) or not re.search(r"(?m)^decision:", e.stdout):
            problems.append("explain exit %d without a decision: %s"
                            % (e.returncode, (e.stderr or e.stdout).strip()[:300]))
        if module_allow != (want["decision"] == "allow"):
            problems.append("module says %s, table says %s"
                            % ("allow" if module_allow else "deny", want["decision"]))
        if explain_allow != module_allow:
            problems.append("explain says %s, module says %s"
                            % ("allow" if explain_allow else "deny",
                               "allow" if module_allow else "deny"))
        if module_allow and want["decision"] == "allow":
            if module_class != want.get("class"):
                problems.append("module class %s, table %s" % (module_class, want.get("class")))
            if module_grants != want.get("grants", []) or module_ngrants != len(module_grants):
                problems.append("module grants %s, table %s" % (module_grants, want.get("grants")))
            if explain_class is not None and explain_class != module_class:
                problems.append("explain class %s, module %s" % (explain_class, module_class))
            if "max_session" in want and (module_max, explain_max) != (want["max_session"],) * 2:
                problems.append("max_session: module %s, explain %s, table %s"
                                % (module_max, explain_max, want["max_session"]))
        if "ledger_sessions" in want and \
                ledger_sessions(base, agent, task) != want["ledger_sessions"]:
            problems.append("the task ledger counts %s session(s), table %s"
                            % (ledger_sessions(base, agent, task), want["ledger_sessions"]))
        reason = want.get("reason")
        if reason is not None:
            if want.get("module_reason", reason) not in out:
                problems.append("the module logged no line with %r"
                                % want.get("module_reason", reason))
            if reason not in e.stdout:
                problems.append("explain printed no line with %r" % reason)
        if problems:
            fails += 1
            print("FAIL: %s: %s" % (sc["name"], "; ".join(problems)))
            for line in out.splitlines():
                if "SYSLOG" in line and "audit:" not in line:
                    print("    module: " + line.split("): ", 1)[-1][:300])
        else:
            passes += 1
            print("PASS: %s (%s%s)" % (sc["name"], want["decision"],
                                       ", class %s, grants %s" % (module_class, ",".join(module_grants) or "-")
                                       if module_allow else ""))
    print("%d passed, %d failed" % (passes, fails))
    return 0 if fails == 0 else 1


sys.exit(main())
