#!/usr/bin/env python3
"""Proof of possession through the real module and agent-run, under
pam_wrapper (docs/proof-of-possession.md). Tokens and keys are made here
with Python's `cryptography` (independent of the project's signer):
 - a token whose cnf binds a key: agent-run --pop-key with that key logs in;
   without --pop-key, or with another key, it is refused with the reason;
 - require_pop = yes refuses a bearer token and accepts the key-bound one;
 - a bearer token for an agent without require_pop still logs in;
 - a cnf that is not {"jkt": ...} is refused;
 - require_pop = yes in a [trust_domain] and in an [issuer] refuses their
   bearer tokens (for agents whose rules do not ask for it) and accepts
   their key-bound ones;
 - an X.509-SVID (pam-agent testca x509, spiffe-helper's layout) presented
   by agent-run --svid-dir in parts logs in an agent that requires proof of
   possession; the same certificate with another key is refused.
Prints PASS/FAIL per case, exits 77 (SKIP) when a tool is missing."""
import base64
import hashlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import patest as T  # noqa: E402
from patest import MODULE, write  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

T.require_pam_stack()
AGENT_RUN = os.path.join(os.environ.get("top_builddir", "."), "agent-run")
PAM_AGENT = T.PAM_AGENT
AUD = "spiffe://example.org/host/pop"
USER = pwd.getpwuid(os.getuid()).pw_name
KEY = T.Key("pop-issuer")
ISS = "https://issuer.pop.test"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def client_key(work, name):
    """A P-256 key of the agent's: its PEM file (0600) and its RFC 7638 jkt."""
    priv = ec.generate_private_key(ec.SECP256R1())
    path = os.path.join(work, name + ".pem")
    write(path, priv.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()).decode(), 0o600)
    nums = priv.public_key().public_numbers()
    jwk = {"crv": "P-256", "kty": "EC", "x": b64(nums.x.to_bytes(32, "big")),
           "y": b64(nums.y.to_bytes(32, "big"))}
    canon = json.dumps(jwk, sort_keys=True, separators=(",", ":")).encode()
    return path, b64(hashlib.sha256(canon).digest())


def token(work, name, sub, cnf=None, iss=None):
    now = int(time.time())
    claims = {"sub": sub, "aud": AUD, "iat": now - 5, "exp": now + 300, "jti": name}
    if iss is not None:
        claims["iss"] = iss
    if cnf is not None:
        claims["cnf"] = cnf
    path = os.path.join(work, name + ".jwt")
    write(path, KEY.sign(claims), 0o600)
    return path


def run(work, pamd, tok, *extra):
    env = dict(os.environ, LD_PRELOAD=T.WRAPPER, PAM_WRAPPER="1", PAM_WRAPPER_SERVICE_DIR=pamd,
               PAM_WRAPPER_DEBUGLEVEL="2", UID_WRAPPER_DISABLE_DEEPBIND="1")
    tokarg = ["--token-file", tok] if tok is not None else []
    p = subprocess.run([AGENT_RUN, "--service", "pop", "--user", USER] + tokarg
                       + list(extra) + ["--", "/bin/true"],
                       env=env, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def main():
    work = tempfile.mkdtemp(prefix="pa-pop.")
    os.chmod(work, 0o755)
    try:
        return cases(work)
    finally:
        if "PA_KEEP_TEST_DIR" not in os.environ:
            shutil.rmtree(work, ignore_errors=True)


def cases(work):
    write(os.path.join(work, "bundle.json"),
          json.dumps({"keys": [dict(KEY.jwk(), use="jwt-svid")]}))
    write(os.path.join(work, "jwks.json"), json.dumps({"keys": [dict(KEY.jwk(), use="sig")]}))
    subprocess.run([PAM_AGENT, "testca", "init", os.path.join(work, "ca"), "--trust-domain",
                    "x509.test"], check=True, capture_output=True)
    os.chmod(os.path.join(work, "ca"), 0o755)
    subprocess.run([PAM_AGENT, "testca", "x509", os.path.join(work, "ca"), "--id",
                    "spiffe://x509.test/agents/svid", "--out", os.path.join(work, "svid")],
                   check=True, capture_output=True)
    conf = os.path.join(work, "pam_agent.conf")
    write(conf, "\n".join([
        "[global]", "audience = %s" % AUD, "state_dir = %s/state" % work,
        "audit_log = %s/audit.log" % work, "single_use = no",
        "[trust_domain example.org]", "bundle = %s/bundle.json" % work,
        "[trust_domain x509.test]", "bundle = %s/ca/bundle.json" % work,
        "[agent spiffe://x509.test/agents/svid]", "users = %s" % USER, "services = pop",
        "require_pop = yes",
        "[service pop]", "class = read",
        "[agent spiffe://example.org/agents/bound]", "users = %s" % USER, "services = pop",
        "require_pop = yes",
        "[agent spiffe://example.org/agents/bearer]", "users = %s" % USER, "services = pop",
        "[trust_domain strict.test]", "bundle = %s/bundle.json" % work, "require_pop = yes",
        "[agent spiffe://strict.test/agents/a]", "users = %s" % USER, "services = pop",
        "[issuer %s]" % ISS, "jwks = %s/jwks.json" % work, "require_pop = yes",
        "[agent %s#ci]" % ISS, "users = %s" % USER, "services = pop",
    ]) + "\n")
    pamd = os.path.join(work, "pam.d")
    os.mkdir(pamd)
    write(os.path.join(pamd, "pop"), "".join(
        "%s required %s config=%s\n" % (ph, MODULE, conf) for ph in ("auth", "account", "session")))
    key, jkt = client_key(work, "agent")
    other, _ = client_key(work, "other")
    bound = "spiffe://example.org/agents/bound"
    fails = 0

    def case(name, want_ok, reason, tok, *extra):
        nonlocal fails
        fails += not T.outcome(name, want_ok, reason, *run(work, pamd, tok, *extra))

    case("a key-bound token answered with its key logs in", True,
         None,
         token(work, "t1", bound, {"jkt": jkt}), "--pop-key", key)
    case("the key-bound token without its key is refused", False,
         "proof of possession failed: the PAM conversation gave no answer",
         token(work, "t2", bound, {"jkt": jkt}))
    case("the key-bound token answered by another key is refused", False,
         "is not the one the token's cnf binds", token(work, "t3", bound, {"jkt": jkt}),
         "--pop-key", other)
    case("require_pop refuses a bearer token", False,
         "requires proof of possession; the identity was presented as a bearer token",
         token(work, "t4", bound))
    case("a bearer token of an agent without require_pop logs in", True, None,
         token(work, "t5", "spiffe://example.org/agents/bearer"))
    case("a cnf that is no {jkt} is refused", False, "only RFC 9449 key thumbprints",
         token(work, "t6", bound, {"x5t#S256": "abc"}), "--pop-key", key)
    case("[trust_domain] require_pop refuses its bearer token", False,
         "[trust_domain strict.test] requires proof of possession; the identity was presented "
         "as a bearer token", token(work, "t7", "spiffe://strict.test/agents/a"))
    case("[trust_domain] require_pop: its key-bound token answered with its key logs in", True,
         None, token(work, "t8", "spiffe://strict.test/agents/a", {"jkt": jkt}), "--pop-key", key)
    case("[issuer] require_pop refuses its bearer token", False,
         "[issuer %s] requires proof of possession" % ISS, token(work, "t9", "ci", iss=ISS))
    case("[issuer] require_pop: its key-bound token answered with its key logs in", True,
         None, token(work, "t10", "ci", {"jkt": jkt}, iss=ISS), "--pop-key", key)
    svid = os.path.join(work, "svid")
    case("an X.509-SVID answered with its key logs in (require_pop)", True, None, None,
         "--svid-dir", svid)
    case("the same X.509-SVID answered with another key is refused", False,
         "not a signature of this challenge by the evidence's key", None,
         "--svid", os.path.join(svid, "svid.pem"), "--svid-key", other)
    with open(os.path.join(work, "audit.log")) as f:
        ok = [json.loads(line) for line in f if '"event":"authenticate","result":"ok"' in line]
    if len([e for e in ok if e.get("agent") == bound]) == 1 and \
            len([e for e in ok if e.get("agent") == "spiffe://x509.test/agents/svid"]) == 1:
        print("PASS: exactly the proven logins of the require_pop agents authenticated")
    else:
        fails += 1
        print("FAIL: authenticated logins of %s: %d" % (bound, len(ok)))
    print("%d failed" % fails)
    return 1 if fails else 0


sys.exit(main())
