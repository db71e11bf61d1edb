#!/usr/bin/env python3
"""Stale bundles are refused (docs/bundles.md), by the real module in a
Linux-PAM stack (pamtester under pam_wrapper) and by `pam-agent verify`:
a token that passes with a fresh bundle is refused, with the reason in
the module's log and in the audit line, once the bundle file is older
than max_bundle_age (explicit, or the default of 24 refresh intervals
for a fetched bundle); a second trust domain with a fresh bundle is
unaffected; an issuer's JWKS the same way; a bundle nobody fetches and
without max_bundle_age has no age limit; an X.509-SVID of a stale trust
domain is refused by `pam-agent verify --x509`.

Prints PASS/FAIL per check; exits 77 (SKIP) when a tool is missing."""
import json
import os
import shutil
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import patest as T  # noqa: E402
from patest import check  # noqa: E402

AUD = "spiffe://example.org/host/web01"
ISS = "https://issuer.example.com"
def age(path, seconds):
    """Sets the mtime of path to seconds ago, as a fetch that long ago would have."""
    t = time.time() - seconds
    os.utime(path, (t, t))


def spiffe_token(key, td):
    now = int(time.time())
    return key.sign({"sub": "spiffe://%s/agents/bot" % td, "aud": AUD, "iat": now,
                     "exp": now + 300, "jti": str(uuid.uuid4())})


def oidc_token(key):
    now = int(time.time())
    return key.sign({"iss": ISS, "sub": "ci", "aud": AUD, "iat": now, "exp": now + 300,
                     "jti": str(uuid.uuid4())})


def setup(work):
    """Keys, bundles, the policy, pam.d and users of the test."""
    keys = {"example.org": T.Key("e1"), "partner.test": T.Key("p1"),
            "plain.test": T.Key("q1"), "oidc": T.Key("o1")}
    for td in ("example.org", "partner.test", "plain.test"):
        T.write(os.path.join(work, td + ".json"), json.dumps(
            {"keys": [keys[td].jwk("jwt-svid")], "spiffe_refresh_hint": 300,
             "spiffe_sequence": 1}))
    T.write(os.path.join(work, "oidc.json"), json.dumps({"keys": [keys["oidc"].jwk("sig")]}))
    T.write(os.path.join(work, "spire.json"), "{}")
    conf = os.path.join(work, "pam_agent.conf")
    T.write(conf, """[global]
audience = {aud}
audit_log = {w}/audit.log

[trust_domain example.org]
bundle = {w}/example.org.json
max_bundle_age = 1h

[trust_domain partner.test]
bundle = {w}/partner.test.json
bundle_source_file = {w}/spire.json

[trust_domain plain.test]
bundle = {w}/plain.test.json

[issuer {iss}]
jwks = {w}/oidc.json
max_bundle_age = 30m

[service agent-run]
class = read

[agent spiffe://example.org/agents/bot]
users = bot
services = agent-run

[agent spiffe://partner.test/agents/bot]
users = bot
services = agent-run

[agent spiffe://plain.test/agents/bot]
users = bot
services = agent-run

[agent {iss}#ci]
users = bot
services = agent-run
""".format(aud=AUD, w=work, iss=ISS))
    pamd = os.path.join(work, "pam.d")
    os.makedirs(pamd)
    T.write(os.path.join(pamd, "agent-run"), "auth required %s config=%s\n"
            "account required %s config=%s\n" % (T.MODULE, conf, T.MODULE, conf))
    T.write(os.path.join(pamd, "other"), "auth required pam_deny.so\n")
    T.write(os.path.join(work, "passwd"), "root:x:0:0:root:/root:/bin/sh\n"
            "bot:x:2001:2000::/nonexistent:/usr/sbin/nologin\n")
    T.write(os.path.join(work, "group"), "root:x:0:\nagents:x:2000:\n")
    env = T.pam_env(pamd, os.path.join(work, "passwd"), os.path.join(work, "group"))
    return keys, conf, env


def login(env, token):
    ok, log, _ = T.pamtester(env, "agent-run", "bot", token, "authenticate", "acct_mgmt")
    return ok, " | ".join(log)


def last_audit(work):
    with open(os.path.join(work, "audit.log")) as f:
        lines = [json.loads(x) for x in f if x.strip()]
    return lines[-1] if lines else {}


def expect(work, env, conf, name, token, want):
    """want None: accepted by verify and the module; else the refusal text of both."""
    ok, log = login(env, token)
    rc, out = T.pam_agent("verify", "--config", conf, "-", stdin=token)
    if want is None:
        check(name + ": the module accepts", ok, log)
        check(name + ": pam-agent verify accepts", rc == 0, out)
        return
    ev = last_audit(work)
    check(name + ": the module refuses, saying why", not ok and want in log, log)
    check(name + ": the audit line has the reason",
          ev.get("result") in ("failed", "deny") and any(want in r for r in ev.get("reasons", [])),
          json.dumps(ev))
    check(name + ": pam-agent verify refuses the same way", rc == 1 and want in out, out)


def x509_svid(work):
    """An X.509-SVID (tests/data/x509) through pam-agent verify: its trust
    domain's bundle file over max_bundle_age refuses it too."""
    src = os.path.join(T.DATA, "x509")
    with open(os.path.join(src, "cases.json")) as f:
        now = json.load(f)["now"]
    d = os.path.join(work, "x509")
    os.makedirs(d)
    with open(os.path.join(src, "bundle.json")) as f:
        T.write(os.path.join(d, "bundle.json"), f.read())
    conf = os.path.join(d, "pam_agent.conf")
    T.write(conf, "[global]\naudience = %s\n\n[trust_domain example.org]\nbundle = %s\n"
            "max_bundle_age = 1h\n" % (AUD, os.path.join(d, "bundle.json")))
    chain = os.path.join(src, "ok-ec-p256.pem")
    for age_s, ok in ((3500, True), (3700, False)):
        t = now - age_s
        os.utime(os.path.join(d, "bundle.json"), (t, t))
        rc, out = T.pam_agent("verify", "--config", conf, "--now", str(now), "--x509", chain)
        if ok:
            check("X.509-SVID, bundle %ds old of 1h: accepted" % age_s, rc == 0, out)
        else:
            check("X.509-SVID, bundle %ds old of 1h: refused as stale" % age_s, rc == 1 and
                  "none of its SVIDs is accepted: its key set file is stale" in out, out)


def main():
    T.require_pam_stack()
    work = tempfile.mkdtemp(prefix="pa-bundle-age.")
    os.chmod(work, 0o755)
    try:
        keys, conf, env = setup(work)
        ex, pt = os.path.join(work, "example.org.json"), os.path.join(work, "partner.test.json")
        stale = "trust domain example.org cannot be used, so none of its tokens is accepted: " \
                "its key set file is stale"
        age(ex, 3500)
        expect(work, env, conf, "example.org, bundle 3500s old of max_bundle_age 1h",
               spiffe_token(keys["example.org"], "example.org"), None)
        age(ex, 3700)
        expect(work, env, conf, "example.org, bundle 3700s old of max_bundle_age 1h",
               spiffe_token(keys["example.org"], "example.org"), stale)
        expect(work, env, conf, "partner.test (fresh) while example.org is stale",
               spiffe_token(keys["partner.test"], "partner.test"), None)
        age(pt, 24 * 300 + 100)
        expect(work, env, conf, "partner.test fetched, no max_bundle_age: 24 x 300s is the "
               "default", spiffe_token(keys["partner.test"], "partner.test"),
               "over max_bundle_age 7200s (the default: 24 refresh intervals)")
        age(os.path.join(work, "plain.test.json"), 400 * 86400)
        expect(work, env, conf, "plain.test: not fetched, no max_bundle_age, 400 days old",
               spiffe_token(keys["plain.test"], "plain.test"), None)
        age(os.path.join(work, "oidc.json"), 1700)
        expect(work, env, conf, "issuer JWKS 1700s old of 30m", oidc_token(keys["oidc"]), None)
        age(os.path.join(work, "oidc.json"), 1900)
        expect(work, env, conf, "issuer JWKS 1900s old of 30m", oidc_token(keys["oidc"]),
               "issuer %s cannot be used, so none of its tokens is accepted: its key set "
               "file is stale" % ISS)
        age(ex, 10)
        expect(work, env, conf, "example.org after a fetch (file rewritten)",
               spiffe_token(keys["example.org"], "example.org"), None)
        x509_svid(work)
    finally:
        if "PA_KEEP_TEST_DIR" not in os.environ:
            shutil.rmtree(work, ignore_errors=True)
    return T.summary()


sys.exit(main())
