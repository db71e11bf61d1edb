#!/usr/bin/env python3
"""Interoperability with real identity providers, through `pam-agent
verify --config`, `pam-agent check` and the real module in a Linux-PAM
stack (pamtester under pam_wrapper), with keys and tokens made here by
Python's `cryptography`:

1. SPIFFE bundle consumption: every case of tests/data/bundles/cases.json
   is the bundle of trust domain partner.test, next to a healthy
   example.org. A token of partner.test gets the case's result; a token
   of example.org must pass in every case (failure isolation).
2. Provider-shaped OIDC tokens (GitHub Actions, GitLab CI, Kubernetes,
   Google, Entra ID): headers, claims, lifetimes and subjects as those
   providers issue them, JWKS with x5c/x5t, verified with the settings
   docs/deploying.md documents (read from between its providers markers).
3. The x5t rules: a hint that must match the JWK's when it has one,
   never allowed in a JWT-SVID; a Kubernetes token refused without the
   issuer's own max_token_age.

Prints PASS/FAIL per check; exits 77 (SKIP) when a tool is missing."""
import json
import os
import re
import shutil
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import patest as T  # noqa: E402
from patest import check  # noqa: E402

AUD = "spiffe://example.org/host/web01"
DOCS = os.path.join(T.DATA, "..", "..", "docs", "deploying.md")
class Stack:
    """A private configuration, pam.d and users for one run."""

    def __init__(self, work, name, conf_text, users):
        self.base = os.path.join(work, name)
        self.pamd = os.path.join(self.base, "pam.d")
        os.makedirs(self.pamd)
        self.conf = os.path.join(self.base, "pam_agent.conf")
        T.write(self.conf, conf_text)
        passwd = os.path.join(self.base, "passwd")
        group = os.path.join(self.base, "group")
        T.write(passwd, "root:x:0:0:root:/root:/bin/sh\n" + "".join(
            "%s:x:%d:2000::/nonexistent:/usr/sbin/nologin\n" % (u, 2000 + i)
            for i, u in enumerate(users)))
        T.write(group, "root:x:0:\nagents:x:2000:\n")
        for svc in ("agent-run", "other"):
            mod = T.MODULE if svc != "other" else "pam_deny.so"
            T.write(os.path.join(self.pamd, svc), "auth required %s%s\n"
                    % (mod, " config=" + self.conf if svc != "other" else ""))
        self.env = T.pam_env(self.pamd, passwd, group)

    def verify(self, token):
        return T.pam_agent("verify", "--config", self.conf, "-", stdin=token)

    def module(self, user, token):
        ok, log, _ = T.pamtester(self.env, "agent-run", user, token)
        return ok, " | ".join(line for line in log if "audit:" not in line)

    def expect(self, name, user, token, want):
        """want: "accept", or a text the refusal must contain (verify and module)."""
        rc, out = self.verify(token)
        ok, log = self.module(user, token)
        if want == "accept":
            check(name + ": pam-agent verify accepts", rc == 0, "exit %d: %s" % (rc, out[-300:]))
            check(name + ": the module accepts", ok, log[-400:])
        else:
            check(name + ": pam-agent verify refuses (exit 1)", rc == 1 and want in out,
                  "exit %d: %s" % (rc, out[-300:]))
            check(name + ": the module refuses", not ok and want in log, log[-400:])


def spiffe_claims(sub, life=300):
    now = int(time.time())
    return {"sub": sub, "aud": AUD, "iat": now, "exp": now + life, "jti": str(uuid.uuid4())}


BASE_CONF = """[global]
audience      = %s
max_token_age = 1h

[service agent-run]
class = read
""" % AUD


def bundles(work):
    with open(os.path.join(T.DATA, "bundles", "cases.json")) as f:
        cases = json.load(f)["cases"]
    healthy, partner = T.Key("example-1"), T.Key("partner-1")
    healthy_bundle = os.path.join(work, "example.org.json")
    T.write(healthy_bundle, json.dumps({"keys": [healthy.jwk("jwt-svid")]}))
    for case in cases:
        with open(os.path.join(T.DATA, "bundles", case["file"])) as f:
            text = f.read().replace('"@KEY@"', json.dumps(partner.jwk("jwt-svid")))
        bundle = os.path.join(work, "partner-" + case["file"])
        T.write(bundle, text)
        conf = BASE_CONF + """
[trust_domain example.org]
bundle = %s

[trust_domain partner.test]
bundle = %s

[agent spiffe://example.org/agents/*]
users    = agent-a
services = agent-run

[agent spiffe://partner.test/agents/*]
users    = agent-b
services = agent-run
""" % (healthy_bundle, bundle)
        st = Stack(work, "b-" + case["file"].replace(".json", ""), conf, ["agent-a", "agent-b"])
        name = "bundle %s" % case["file"]
        st.expect(name + ", token of partner.test", "agent-b",
                  partner.sign(spiffe_claims("spiffe://partner.test/agents/x")), case["partner"])
        st.expect(name + ", token of the healthy example.org", "agent-a",
                  healthy.sign(spiffe_claims("spiffe://example.org/agents/y")), "accept")
        rc, out = T.pam_agent("check", "--config", st.conf)
        want_rc, want_line = case["check"]
        check(name + ": pam-agent check exits %d and says so" % want_rc,
              rc == want_rc and want_line in out, "exit %d: %s" % (rc, out[-400:]))


def documented_providers():
    with open(DOCS) as f:
        m = re.search(r"<!-- providers:begin -->\n```ini\n(.*?)```\n<!-- providers:end -->",
                      f.read(), re.S)
    if not m:
        check("docs/deploying.md has the providers block", False)
        return None
    return m.group(1)


def provider_tokens(keys):
    """Tokens shaped like each provider's, keyed by issuer."""
    now = int(time.time())
    gh, gl, k8s, goog, entra = keys
    return {
        "https://token.actions.githubusercontent.com": (gh, "ci", {
            "jti": str(uuid.uuid4()), "sub": "repo:acme/tickets:ref:refs/heads/main",
            "aud": "https://web01.example.org", "ref": "refs/heads/main",
            "sha": "a" * 40, "repository": "acme/tickets", "repository_owner": "acme",
            "repository_owner_id": "65", "run_id": "9182736450", "run_number": "42",
            "run_attempt": "1", "actor": "octocat", "workflow": "deploy",
            "event_name": "push", "ref_type": "branch", "runner_environment": "github-hosted",
            "job_workflow_ref": "acme/tickets/.github/workflows/deploy.yml@refs/heads/main",
            "iss": "https://token.actions.githubusercontent.com",
            "nbf": now - 600, "iat": now, "exp": now + 300},
            {"x5t": gh.x5t_header}),
        "https://gitlab.com": (gl, "ci", {
            "namespace_id": "72", "namespace_path": "acme", "project_id": "20",
            "project_path": "acme/tickets", "user_id": "5", "user_login": "alice",
            "pipeline_id": "574", "pipeline_source": "push", "job_id": "302",
            "ref": "main", "ref_type": "branch", "ref_protected": "true",
            "runner_id": 1, "runner_environment": "gitlab-hosted",
            "jti": str(uuid.uuid4()), "iss": "https://gitlab.com", "iat": now, "nbf": now - 5,
            "exp": now + 3900,
            "sub": "project_path:acme/tickets:ref_type:branch:ref:main",
            "aud": "https://web01.example.org"}, {}),
        "https://kubernetes.default.svc.cluster.local": (k8s, "planner", {
            "aud": ["https://web01.example.org"], "exp": now + 3607, "iat": now,
            "iss": "https://kubernetes.default.svc.cluster.local",
            "jti": str(uuid.uuid4()),
            "kubernetes.io": {"namespace": "agents",
                              "node": {"name": "node-1", "uid": str(uuid.uuid4())},
                              "pod": {"name": "planner-7d9f", "uid": str(uuid.uuid4())},
                              "serviceaccount": {"name": "planner", "uid": str(uuid.uuid4())}},
            "nbf": now, "sub": "system:serviceaccount:agents:planner"}, {"typ": None}),
        "https://accounts.google.com": (goog, "gcp-agent", {
            "aud": "https://web01.example.org", "azp": "110169484474386276334",
            "email": "agent@acme-prod.iam.gserviceaccount.com", "email_verified": True,
            "exp": now + 3600, "iat": now, "iss": "https://accounts.google.com",
            "sub": "110169484474386276334"}, {}),
        "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0":
        (entra, "entra-agent", {
            "aud": "api://web01.example.org",
            "iss": "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
            "iat": now, "nbf": now, "exp": now + 4980, "aio": "E2ZgYJg=",
            "azp": "0c1d2e3f-aaaa-bbbb-cccc-111122223333", "azpacr": "1",
            "oid": "9f8e7d6c-5b4a-4321-8fed-cba987654321", "rh": "0.AAAA.",
            "sub": "9f8e7d6c-5b4a-4321-8fed-cba987654321",
            "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47", "uti": "Tq6n3JZ8dEmqyVxCv8cWAA",
            "ver": "2.0"}, {"x5t": entra.x5t_header, "kid": entra.x5t_header}),
    }


def providers(work):
    block = documented_providers()
    if block is None:
        return
    keys = [T.Key(k, "RS256") for k in ("gh-key", "gl-key", "k8s-key", "goog-key", "entra-key")]
    issuers = re.findall(r"^\[issuer (\S+)\]", block, re.M)
    jwks = {}
    for iss, key in zip(issuers, keys):
        path = os.path.join(work, "jwks-%d.json" % len(jwks))
        jwk = key.jwk("sig", x5c=iss.startswith("https://token.actions") or "microsoft" in iss)
        key.x5t_header = jwk.get("x5t", "")
        # Entra names the key by its thumbprint: kid = x5t
        if "microsoft" in iss:
            jwk["kid"] = key.kid = key.x5t_header
        # a provider JWKS carries the next key too (rotation)
        T.write(path, json.dumps({"keys": [T.Key("other-" + key.kid[:8], "RS256").jwk("sig"), jwk]}))
        jwks[iss] = path
    text = block
    for iss, path in jwks.items():
        text = re.sub(r"(\[issuer %s\]\njwks\s*=)[^\n]*" % re.escape(iss), r"\1 " + path, text)
    conf = BASE_CONF.replace("max_token_age = 1h", "max_token_age = 1h\nsingle_use    = yes\nreplay_dir    = " + os.path.join(work, "replay")) + "\n" + text
    users = ["ci", "planner", "gcp-agent", "entra-agent"]
    st = Stack(work, "providers", conf, users)
    rc, out = T.pam_agent("check", "--config", st.conf)
    check("providers: pam-agent check accepts the documented settings", rc == 0, out[-400:])
    for iss, (key, user, claims, header) in provider_tokens(keys).items():
        name = "provider %s" % iss.split("/")[2]
        token = key.sign(claims, {k: v for k, v in header.items() if v is not None},
                         typ=header.get("typ", "JWT"))
        st.expect(name, user, token, "accept")
        if iss.startswith("https://token.actions"):
            bad = key.sign(dict(claims, jti=str(uuid.uuid4())), {"x5t": T.b64(b"\x01" * 20)})
            st.expect(name + ", x5t of another certificate", user, bad,
                      "token header \"x5t\" does not match the one of key")
            bad = key.sign(dict(claims, jti=str(uuid.uuid4())), {"x5c": ["MIIB"]})
            st.expect(name + ", a certificate in the header", user, bad,
                      "token header parameter \"x5c\" is not allowed")
        if "kubernetes" in iss:
            strict = os.path.join(work, "k8s-global-limit.conf")
            T.write(strict, re.sub(r"max_token_age = 3607s\n", "", conf))
            rc, out = T.pam_agent("verify", "--config", strict, "-", stdin=token)
            check(name + ": without its own max_token_age, refused by the global 1h",
                  rc == 1 and "token lifetime of 3607s is longer than the maximum of 3600s" in out,
                  "exit %d: %s" % (rc, out[-300:]))
            rc, out = st.verify(token)
            check(name + ": reused (single_use = no for this issuer)", rc == 0, out[-300:])
        if iss.startswith("https://token.actions"):
            ok, log = st.module(user, token)
            check(name + ": the second use is a replay ([global] single_use = yes)",
                  not ok and "replay" in log, log[-300:])


def jwt_svid_x5t(work):
    key = T.Key("td-1")
    bundle = os.path.join(work, "x5t-bundle.json")
    T.write(bundle, json.dumps({"keys": [key.jwk("jwt-svid")]}))
    conf = BASE_CONF + """
[trust_domain example.org]
bundle = %s

[agent spiffe://example.org/agents/*]
users    = agent-a
services = agent-run
""" % bundle
    st = Stack(work, "x5t", conf, ["agent-a"])
    tok = key.sign(spiffe_claims("spiffe://example.org/agents/z"), {"x5t": T.b64(b"\x02" * 20)})
    st.expect("JWT-SVID with an x5t header", "agent-a", tok,
              "token header parameter \"x5t\" is not allowed in a JWT-SVID")


def main():
    T.require_pam_stack()
    work = tempfile.mkdtemp(prefix="pa-interop.")
    os.chmod(work, 0o755)
    try:
        bundles(work)
        providers(work)
        jwt_svid_x5t(work)
    finally:
        if "PA_KEEP_TEST_DIR" not in os.environ:
            shutil.rmtree(work, ignore_errors=True)
    return T.summary()


sys.exit(main())
