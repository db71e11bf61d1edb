#!/usr/bin/env python3
"""WIT-SVIDs through `pam-agent verify` and the real module (agent-run
under pam_wrapper), with keys and tokens made here by Python's
`cryptography`, independent of the project's signer
(docs/token-verification.md, docs/proof-of-possession.md):
 - a WIT-SVID (typ wit+jwt, kid, no aud, cnf.jwk with alg) signed by a
   wit-svid key of its trust domain, presented with a proof of
   possession by its cnf key (agent-run --pop-key), logs in;
 - refused, each with its reason: without the proof, with a proof by
   another key, with an "aud", with typ JWT (a WIT-SVID presented as a
   JWT-SVID), signed by a jwt-svid key, expired, without cnf, with a cnf
   key whose alg is not the one its key proves with, from a trust domain
   whose bundle has no wit-svid key;
 - single_use does not refuse a second login with the same WIT-SVID (its
   jti is not for replay protection; the fresh challenge is);
 - a JWT-SVID of the same trust domain still logs in next to its WIT keys.
Prints PASS/FAIL per case, exits 77 (SKIP) when a tool is missing."""
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

T.require_pam_stack()
AGENT_RUN = os.path.join(os.environ.get("top_builddir", "."), "agent-run")
AUD = "spiffe://wit.test/host/h"
USER = pwd.getpwuid(os.getuid()).pw_name
AGENT = "spiffe://wit.test/agents/w"
WIT_KEY = T.Key("wit-1")       # the trust domain's wit-svid key
JWT_KEY = T.Key("jwt-1")       # its jwt-svid key
HOLDER = T.Key("holder")       # the workload's key, bound by cnf
OTHER = T.Key("other")         # a key that is not the holder's
fails = 0


def key_file(work, key, name):
    path = os.path.join(work, name + ".pem")
    write(path, key.priv.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()).decode(), 0o600)
    return path


def wit(work, name, signer=WIT_KEY, typ="wit+jwt", cnf="holder", sub=AGENT, **extra):
    now = int(time.time())
    claims = {"sub": sub, "iat": now - 5, "exp": now + 300, "jti": name}
    if cnf == "holder":
        claims["cnf"] = {"jwk": HOLDER.jwk(with_kid=False)}
    elif cnf is not None:
        claims["cnf"] = cnf
    claims.update(extra)
    path = os.path.join(work, name + ".jwt")
    write(path, signer.sign(claims, typ=typ), 0o600)
    return path


def run(work, tok, *extra):
    env = dict(os.environ, LD_PRELOAD=T.WRAPPER, PAM_WRAPPER="1",
               PAM_WRAPPER_SERVICE_DIR=os.path.join(work, "pam.d"),
               PAM_WRAPPER_DEBUGLEVEL="2", UID_WRAPPER_DISABLE_DEEPBIND="1")
    p = subprocess.run([AGENT_RUN, "--service", "wit", "--user", USER, "--token-file", tok]
                       + list(extra) + ["--", "/bin/true"],
                       env=env, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def verify(work, tok):
    p = subprocess.run([T.PAM_AGENT, "verify", "--config", os.path.join(work, "pam_agent.conf"),
                        tok], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def case(name, want_ok, reason, rc_out):
    global fails
    fails += not T.outcome(name, want_ok, reason, *rc_out)


def setup(work):
    write(os.path.join(work, "wit.json"), json.dumps({"keys": [
        WIT_KEY.jwk(use="wit-svid"), JWT_KEY.jwk(use="jwt-svid")]}))
    write(os.path.join(work, "nowit.json"), json.dumps({"keys": [
        dict(WIT_KEY.jwk(use="jwt-svid"), kid="wit-1")]}))
    write(os.path.join(work, "pam_agent.conf"), "\n".join([
        "[global]", "audience = %s" % AUD, "state_dir = %s/state" % work,
        "audit_log = %s/audit.log" % work, "single_use = yes",
        "replay_dir = %s/replay" % work,
        "[trust_domain wit.test]", "bundle = %s/wit.json" % work,
        "[trust_domain nowit.test]", "bundle = %s/nowit.json" % work,
        "[service wit]", "class = read",
        "[agent spiffe://wit.test/agents/*]", "users = %s" % USER, "services = wit",
        "[agent spiffe://nowit.test/agents/*]", "users = %s" % USER, "services = wit",
    ]) + "\n")
    pamd = os.path.join(work, "pam.d")
    os.mkdir(pamd)
    write(os.path.join(pamd, "wit"), "".join(
        "%s required %s config=%s/pam_agent.conf\n" % (ph, MODULE, work)
        for ph in ("auth", "account", "session")))


def cases(work):
    setup(work)
    holder = key_file(work, HOLDER, "holder")
    other = key_file(work, OTHER, "other")
    ok = wit(work, "ok")
    case("pam-agent verify accepts the WIT-SVID and says it needs a proof", True,
         "accepts it only with a proof of possession", verify(work, ok))
    case("a WIT-SVID with a proof by its cnf key logs in", True, None,
         run(work, ok, "--pop-key", holder))
    case("the same WIT-SVID logs in again under single_use (its jti is not a replay "
         "token; the fresh challenge is)", True, None, run(work, ok, "--pop-key", holder))
    case("a WIT-SVID without a proof is refused", False,
         "proof of possession failed", run(work, wit(work, "noproof")))
    case("a WIT-SVID with a proof by another key is refused", False,
         "not a signature of this challenge", run(work, wit(work, "otherkey"), "--pop-key", other))
    refused = [
        ("a WIT-SVID with an aud", wit(work, "aud", aud=AUD),
         "a WIT-SVID has an \"aud\""),
        ("a WIT-SVID presented as a JWT-SVID (typ JWT)", wit(work, "typjwt", typ="JWT"),
         "unknown kid \"wit-1\" among the jwt-svid keys of trust domain wit.test"),
        ("a WIT-SVID signed by a jwt-svid key", wit(work, "jwtkey", signer=JWT_KEY),
         "unknown kid \"jwt-1\" among the wit-svid keys of trust domain wit.test"),
        ("an expired WIT-SVID", wit(work, "expired", exp=int(time.time()) - 600,
                                     iat=int(time.time()) - 900), "expired"),
        ("a WIT-SVID without cnf", wit(work, "nocnf", cnf=None),
         "no \"cnf\" with a \"jwk\""),
        ("a WIT-SVID whose cnf.jwk alg is not its key's",
         wit(work, "badalg", cnf={"jwk": dict(HOLDER.jwk(with_kid=False), alg="ES384")}),
         "cnf.jwk \"alg\" \"ES384\" is not the one its key proves with"),
        ("a WIT-SVID of a trust domain without wit-svid keys",
         wit(work, "nowit", sub="spiffe://nowit.test/agents/w"),
         "trust domain nowit.test publishes no wit-svid key"),
    ]
    for name, tok, reason in refused:
        case("verify: %s is refused" % name, False, reason, verify(work, tok))
        case("module: %s is refused" % name, False, reason, run(work, tok, "--pop-key", holder))
    now = int(time.time())
    jwt = os.path.join(work, "jwt.jwt")
    write(jwt, JWT_KEY.sign({"sub": AGENT, "aud": AUD, "iat": now - 5, "exp": now + 300,
                             "jti": "jwt-svid-1"}), 0o600)
    case("a JWT-SVID of the trust domain logs in next to its wit-svid keys", True, None,
         run(work, jwt))
    with open(os.path.join(work, "audit.log")) as f:
        lines = [json.loads(x) for x in f if '"event":"authenticate","result":"ok"' in x]
    with open(ok) as f:
        ok_sha = hashlib.sha256(f.read().strip().encode()).hexdigest()
    case("the audit has the two logins of the WIT-SVID (by its SHA-256) and no other", True,
         None, (0 if len([e for e in lines if e.get("token_sha256") == ok_sha]) == 2 and
                len([e for e in lines if e.get("agent") == AGENT]) == 3 else 1,
                json.dumps(lines)[-600:]))


def main():
    work = tempfile.mkdtemp(prefix="pa-wit.")
    os.chmod(work, 0o755)
    try:
        cases(work)
    finally:
        if "PA_KEEP_TEST_DIR" not in os.environ:
            shutil.rmtree(work, ignore_errors=True)
    print("%d failed" % fails)
    return 1 if fails else 0


sys.exit(main())
