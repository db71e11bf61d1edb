#!/usr/bin/env python3
"""Caller attestation (docs/attestation.md) through the real module, without
root: pamtester under pam_wrapper is the PAM application, so this Python
process is the requesting process the module attests. Each case is decided
by the module and by `pam-agent explain --runtime-pid` of this process;
both must agree with the case and name the same reason. Root-only cases
(agent-run's workload, sudo, su) are in tests/root/root_runtime.sh."""
import hashlib
import json
import os
import pwd
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import patest as T  # noqa: E402
from patest import MODULE, write  # noqa: E402

T.require_pam_stack()
AUD = "spiffe://example.org/host/runtime"
AGENT = "spiffe://example.org/agents/bot"
KEY = T.Key("runtime-key")


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


ME = os.path.realpath("/proc/self/exe")
MY_SHA = sha256_of("/proc/self/exe")
PARENT_SHA = sha256_of("/proc/%d/exe" % os.getppid())
OTHER = "0" * 64
# the real account of this process: explain looks it up without nss_wrapper
USER = pwd.getpwuid(os.getuid()).pw_name

# name, [agent] runtime lines, rhost, expected, reason in the module's log and in explain
CASES = [
    ("the caller's hash is listed", ["runtime.exe_sha256 = %s %s" % (OTHER, MY_SHA)], None,
     "allow", "the caller matches the runtime.* of [agent %s]" % AGENT),
    ("upper-case hex is the same hash", ["runtime.exe_sha256 = %s" % MY_SHA.upper()], None,
     "allow", "the caller matches"),
    ("another hash", ["runtime.exe_sha256 = %s" % OTHER], None, "deny",
     "the caller's executable %s has SHA-256 %s, not one of the runtime.exe_sha256 of [agent %s]"
     % (ME, MY_SHA, AGENT)),
    ("the caller's path", ["runtime.exe = %s" % ME], None, "allow", "the caller matches"),
    ("another path", ["runtime.exe = /usr/bin/false"], None, "deny",
     "the caller runs %s; [agent %s] requires runtime.exe /usr/bin/false" % (ME, AGENT)),
    ("the caller's uid", ["runtime.uid = %d" % os.getuid()], None, "allow", "the caller matches"),
    ("another uid", ["runtime.uid = %d" % (os.getuid() + 1)], None, "deny",
     "the caller runs as uid %d; [agent %s] requires runtime.uid %d"
     % (os.getuid(), AGENT, os.getuid() + 1)),
    ("the parent's hash", ["runtime.parent_exe_sha256 = %s" % PARENT_SHA], None, "allow",
     "the caller matches"),
    ("another parent", ["runtime.parent_exe_sha256 = %s" % OTHER], None, "deny",
     "the caller's parent executable has SHA-256 %s, not one of the runtime.parent_exe_sha256"
     % PARENT_SHA),
    ("all of them", ["runtime.exe_sha256 = %s" % MY_SHA, "runtime.uid = %d" % os.getuid(),
                     "runtime.parent_exe_sha256 = %s" % PARENT_SHA], None, "allow",
     "the caller matches"),
    ("one of them wrong", ["runtime.exe_sha256 = %s" % MY_SHA, "runtime.uid = %d" % (os.getuid() + 1)],
     None, "deny", "requires runtime.uid"),
    ("a remote login", ["runtime.uid = %d" % os.getuid()], "192.0.2.7", "deny",
     "[agent %s] requires runtime properties; a remote login from 192.0.2.7: "
     "there is no local caller to attest" % AGENT),
    ("no runtime rule: a remote login is fine", [], "192.0.2.7", "allow", None),
]


def config(work, lines):
    path = os.path.join(work, "pam_agent.conf")
    write(path, "\n".join([
        "[global]", "audience = %s" % AUD, "state_dir = %s/state" % work,
        "audit_log = %s/audit.log" % work,
        "[trust_domain example.org]", "bundle = %s/bundle.json" % work,
        "[service rt]", "class = read",
        "[agent %s]" % AGENT, "users = %s" % USER, "services = rt"] + lines) + "\n")
    return path


def main():
    work = tempfile.mkdtemp(prefix="pa-runtime.")
    os.chmod(work, 0o755)
    try:
        return run(work)
    finally:
        if "PA_KEEP_TEST_DIR" not in os.environ:
            shutil.rmtree(work, ignore_errors=True)


def run(work):
    write(os.path.join(work, "bundle.json"),
          json.dumps({"keys": [dict(KEY.jwk(), use="jwt-svid")]}))
    passwd, group = os.path.join(work, "passwd"), os.path.join(work, "group")
    write(passwd, "%s:x:%d:%d::/nonexistent:/usr/sbin/nologin\n" % (USER, os.getuid(), os.getgid()))
    write(group, "%s:x:%d:\n" % (USER, os.getgid()))
    pamd = os.path.join(work, "pam.d")
    os.mkdir(pamd)
    fails = 0
    for n, (name, lines, rhost, want, reason) in enumerate(CASES):
        conf = config(work, lines)
        write(os.path.join(pamd, "rt"), "auth required %s config=%s\naccount required %s config=%s\n"
              % (MODULE, conf, MODULE, conf))
        token = KEY.sign({"sub": AGENT, "aud": AUD, "iat": int(time.time()) - 5,
                          "exp": int(time.time()) + 300, "jti": "rt-%d" % n})
        env = T.pam_env(pamd, passwd, group)
        ok, log, out = T.pamtester(env, "rt", USER, token, "authenticate", "acct_mgmt",
                                   rhost=rhost)
        args = ["explain", "--config", conf, "--id", AGENT, "--service", "rt", "--user", USER,
                "--runtime-pid", str(os.getpid())]
        if rhost:
            args += ["--rhost", rhost]
        ecode, eout = T.pam_agent(*args)
        problems = []
        if ok != (want == "allow"):
            problems.append("module says %s" % ("allow" if ok else "deny"))
        if ecode != (0 if want == "allow" else 1):
            problems.append("explain exits %d: %s" % (ecode, eout.strip()[-300:]))
        if reason is not None and reason not in out:
            problems.append("the module logged no line with %r" % reason)
        if reason is not None and reason not in eout:
            problems.append("explain printed no line with %r" % reason)
        if problems:
            fails += 1
            print("FAIL: %s: %s" % (name, "; ".join(problems)))
            for line in log:
                print("    module: " + line[:300])
        else:
            print("PASS: %s (%s)" % (name, want))
    # the audit events carry what was attested
    with open(os.path.join(work, "audit.log")) as f:
        events = [json.loads(line) for line in f]
    local = [e for e in events if e.get("runtime", {}).get("subject") == "caller"]
    # the first case's: a runtime.exe_sha256 rule, none on the parent, which
    # is then not attested; a case with runtime.parent_exe_sha256 has it
    want_rt = {"subject": "caller", "exe": ME, "exe_sha256": MY_SHA, "uid": os.getuid(),
               "parent_exe_sha256": None}
    if local and all(local[0]["runtime"].get(k) == v for k, v in want_rt.items()):
        print("PASS: audit events carry the attested caller (%d of %d events)"
              % (len(local), len(events)))
    else:
        fails += 1
        print("FAIL: no audit event carries %s: %s" % (want_rt, [e.get("runtime") for e in events][:3]))
    if any(e["runtime"].get("parent_exe_sha256") == PARENT_SHA for e in local):
        print("PASS: with a runtime.parent_exe_sha256 rule, audit events carry the parent's hash")
    else:
        fails += 1
        print("FAIL: no audit event carries parent_exe_sha256 %s" % PARENT_SHA)
    remote = [e for e in events if "absent" in e.get("runtime", {})]
    if remote and "no local caller" in remote[0]["runtime"]["absent"]:
        print("PASS: a remote login's events say why nothing was attested")
    else:
        fails += 1
        print("FAIL: no audit event of a remote login has runtime.absent")
    print("%d cases, %d failed" % (len(CASES) + 3, fails))
    return 1 if fails else 0


sys.exit(main())
