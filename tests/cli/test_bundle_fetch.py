#!/usr/bin/env python3
"""`pam-agent bundle fetch|show|check` (docs/bundles.md) against HTTPS
servers this test starts on 127.0.0.1 (Python's http.server with ssl,
certificates of a test CA made here with `cryptography`):

1. a SPIFFE bundle endpoint: the bundle installed (mode 0644, audited);
   the next fetch follows spiffe_refresh_hint, bounded; a fetch before it
   is due does nothing; a spiffe_sequence going backwards, the server
   down, HTTP 500, invalid JSON, an oversize answer, a certificate for
   another name and an untrusted CA each keep the installed bundle, with
   the error named;
2. an OpenID provider: discovery document -> jwks_uri -> JWKS; an
   "issuer" that is not the configured one and an empty JWKS refused;
3. a spiffe-helper directory (jwt_bundle.json, bundle.pem) and a
   `spire-server bundle show -format spiffe` file converted and installed,
   and a token of the converted key verified;
4. `bundle check`, `bundle show` and `pam-agent check` on the age of a
   file: fresh, past 3/4 of max_bundle_age, stale; plain http refused.

Prints PASS/FAIL per check; exits 77 (SKIP) when a tool is missing."""
import base64
import datetime
import http.server
import json
import os
import re
import shutil
import socket
import ssl
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import patest as T  # noqa: E402
from patest import check  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

TD = "example.org"
AUD = "spiffe://example.org/host/web01"
# ---- a test CA and HTTPS servers -----------------------------------------------------------

def cert(key, subject, issuer, issuer_key, ca, sans=()):
    now = datetime.datetime.utcnow() - datetime.timedelta(minutes=5)
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=2))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), True))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(list(sans)), False)
    return b.sign(issuer_key, hashes.SHA256())


def name(cn):
    return x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, cn)])


def pem(c):
    return c.public_bytes(serialization.Encoding.PEM).decode()


class TestCA:
    def __init__(self, work, label):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = cert(self.key, name(label), name(label), self.key, True)
        self.path = os.path.join(work, label + ".pem")
        T.write(self.path, pem(self.cert))

    def server_files(self, work, label, sans):
        key = ec.generate_private_key(ec.SECP256R1())
        c = cert(key, name(label), self.cert.subject, self.key, False, sans)
        cp, kp = os.path.join(work, label + ".crt"), os.path.join(work, label + ".key")
        T.write(cp, pem(c))
        T.write(kp, key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode(), 0o600)
        return cp, kp


class Server:
    """An HTTPS server on 127.0.0.1; routes maps a path to (status, body bytes)."""

    def __init__(self, certfile, keyfile):
        self.routes = {}
        routes = self.routes

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                status, body = routes.get(self.path, (404, b"not found"))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Quiet(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client that refused our certificate

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certfile, keyfile)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.base = "https://127.0.0.1:%d" % self.port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- helpers ------------------------------------------------------------------------------

def bundle(keys, seq=None, hint=None):
    d = {"keys": keys}
    if seq is not None:
        d["spiffe_sequence"] = seq
    if hint is not None:
        d["spiffe_refresh_hint"] = hint
    return json.dumps(d, indent=2).encode()


def conf(work, td_keys=None, issuers=()):
    """A policy with [trust_domain example.org] (bundle in work) and issuers."""
    text = "[global]\naudience = %s\naudit_log = %s/audit.log\n\n" % (AUD, work)
    text += "[trust_domain %s]\nbundle = %s/bundles/%s.json\n" % (TD, work, TD)
    for k, v in (td_keys or {}).items():
        text += "%s = %s\n" % (k, v)
    for url, keys in issuers:
        text += "\n[issuer %s]\njwks = %s/bundles/issuer.json\n" % (url, work)
        for k, v in keys.items():
            text += "%s = %s\n" % (k, v)
    path = os.path.join(work, "pam_agent.conf")
    T.write(path, text)
    return path


def fetch(cfg, *args):
    return T.pam_agent("bundle", "fetch", "--config", cfg, *args)


def state(path):
    """The bytes and mtime of path (None when absent)."""
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        return f.read(), os.stat(path).st_mtime_ns


def audit_lines(work):
    p = os.path.join(work, "audit.log")
    if not os.path.exists(p):
        return []
    with open(p) as f:
        return [json.loads(line) for line in f if line.strip()]


def refused_kept(name, cfg, path, want):
    """A forced fetch fails with want in its line and leaves path as it was."""
    before = state(path)
    rc, out = fetch(cfg, "--force")
    check("%s: refused (exit 1), error named" % name,
          rc == 1 and want in out and "the installed file kept" in out, "exit %d: %s" % (rc, out))
    check("%s: the installed bundle is kept, untouched" % name, state(path) == before)


def in_seconds(out):
    m = re.search(r"\(in (\d+)s\)", out)
    return int(m.group(1)) if m else -1


# ---- 1. a SPIFFE bundle endpoint ------------------------------------------------------------

def endpoint(work, ca, srv, bad_srv):
    key = T.Key("k1")
    path = os.path.join(work, "bundles", TD + ".json")
    url = srv.base + "/bundle"
    cfg = conf(work, {"bundle_endpoint": url, "bundle_endpoint_ca": ca.path})
    good = bundle([key.jwk("jwt-svid")], seq=5, hint=300)
    srv.routes["/bundle"] = (200, good)
    rc, out = fetch(cfg)
    check("endpoint: a missing bundle is fetched and installed", rc == 0 and "installed" in out
          and state(path) is not None and state(path)[0] == good, out)
    check("endpoint: installed 0644", oct(os.stat(path).st_mode & 0o777) == "0o644")
    check("endpoint: one line saying what it did", len(out.strip().splitlines()) == 1 and
          "spiffe_sequence 5" in out and url in out, out)
    ev = [e for e in audit_lines(work) if e.get("event") == "bundle_fetch"]
    check("endpoint: an audit event bundle_fetch ok with the line",
          len(ev) == 1 and ev[0]["result"] == "ok" and "installed" in ev[0]["reasons"][0], str(ev))
    check("endpoint: the next fetch follows spiffe_refresh_hint (300s)", in_seconds(out) == 300, out)
    rc, out = fetch(cfg)
    n = in_seconds(out)
    check("endpoint: a fetch before the hint is due does nothing",
          rc == 0 and "not due" in out and 290 <= n <= 300, out)
    os.utime(path, (time.time() - 301, time.time() - 301))
    rc, out = fetch(cfg)
    check("endpoint: once the hint has passed (file 301s old) it fetches again",
          rc == 0 and "confirmed" in out and time.time() - os.stat(path).st_mtime < 60, out)
    for hint, want in ((5, 60), (10 ** 7, 86400)):
        srv.routes["/bundle"] = (200, bundle([key.jwk("jwt-svid")], seq=5, hint=hint))
        rc, out = fetch(cfg, "--force")
        check("endpoint: spiffe_refresh_hint %d is bounded to %ds" % (hint, want),
              rc == 0 and in_seconds(out) == want, out)
    srv.routes["/bundle"] = (200, good)
    fetch(cfg, "--force")

    srv.routes["/bundle"] = (200, bundle([key.jwk("jwt-svid")], seq=4, hint=300))
    refused_kept("sequence 5 -> 4", cfg, path, "spiffe_sequence goes backwards: 4 after the "
                 "installed 5")
    srv.routes["/bundle"] = (200, bundle([key.jwk("jwt-svid")], hint=300))
    refused_kept("sequence 5 -> none", cfg, path, "has no spiffe_sequence")
    srv.routes["/bundle"] = (500, b"oops")
    refused_kept("HTTP 500", cfg, path, "HTTP status 500")
    srv.routes["/bundle"] = (200, b"{\"keys\": [")
    refused_kept("invalid JSON", cfg, path, "not a usable SPIFFE bundle: not valid JSON")
    srv.routes["/bundle"] = (200, b" " * (1024 * 1024) + good)
    refused_kept("oversize answer", cfg, path, "larger than 1048576 bytes")
    srv.routes["/bundle"] = (200, bundle([{"kty": "EC", "use": "jwt-svid"}], seq=6))
    refused_kept("a bundle the module cannot use", cfg, path, "jwt-svid key without a \"kid\"")
    cfg = conf(work, {"bundle_endpoint": "https://127.0.0.1:%d/bundle" % closed_port(),
                      "bundle_endpoint_ca": ca.path})
    refused_kept("server down", cfg, path, "Couldn't connect to server")
    bad_srv.routes["/bundle"] = (200, good)
    cfg = conf(work, {"bundle_endpoint": bad_srv.base + "/bundle", "bundle_endpoint_ca": ca.path})
    refused_kept("TLS name mismatch", cfg, path, "no alternative certificate subject name matches")
    cfg = conf(work, {"bundle_endpoint": url})
    refused_kept("a server the system roots do not trust", cfg, path, "unable to get local issuer certificate")
    fails = [e for e in audit_lines(work) if e.get("event") == "bundle_fetch" and
             e["result"] == "failed"]
    check("endpoint: each refusal is audited as failed", len(fails) == 9, str(len(fails)))
    old = state(path)
    srv.routes["/bundle"] = (200, bundle([key.jwk("jwt-svid"), T.Key("k2").jwk("jwt-svid")],
                                         seq=7, hint=300))
    cfg = conf(work, {"bundle_endpoint": url, "bundle_endpoint_ca": ca.path})
    rc, out = fetch(cfg, "--force")
    check("endpoint: a newer sequence replaces the bundle", rc == 0 and "installed" in out and
          state(path) != old and b"\"k2\"" in state(path)[0], out)


# ---- 2. an OpenID provider ------------------------------------------------------------------

def oidc(work, ca, srv):
    key = T.Key("o1", "RS256")
    path = os.path.join(work, "bundles", "issuer.json")
    iss = srv.base
    jwks = json.dumps({"keys": [key.jwk("sig")]}).encode()
    srv.routes["/.well-known/openid-configuration"] = (200, json.dumps(
        {"issuer": iss, "jwks_uri": iss + "/keys"}).encode())
    srv.routes["/keys"] = (200, jwks)
    cfg = conf(work, issuers=[(iss, {"jwks_discovery": "yes", "jwks_ca": ca.path,
                                     "audience": "api://pam"})])
    rc, out = fetch(cfg, "--name", iss)
    check("oidc: discovery -> jwks_uri -> JWKS installed", rc == 0 and state(path) is not None
          and state(path)[0] == jwks and "installed" in out, out)
    check("oidc: without a hint the next fetch is in %ds" % 300, in_seconds(out) == 300, out)
    claims = {"iss": iss, "sub": "repo:x", "aud": "api://pam", "iat": int(time.time()),
              "exp": int(time.time()) + 300}
    rc, out = T.pam_agent("verify", "--config", cfg, "-", stdin=key.sign(claims))
    check("oidc: a token of the fetched key verifies", rc == 0, out)
    srv.routes["/.well-known/openid-configuration"] = (200, json.dumps(
        {"issuer": iss + "/other", "jwks_uri": iss + "/keys"}).encode())
    refused_kept("oidc: another issuer in the discovery document", cfg, path,
                 "\"issuer\" is not %s" % iss)
    srv.routes["/.well-known/openid-configuration"] = (200, json.dumps(
        {"issuer": iss, "jwks_uri": iss + "/empty"}).encode())
    srv.routes["/empty"] = (200, b"{\"keys\": []}")
    refused_kept("oidc: an empty JWKS", cfg, path, "no usable signature key")


# ---- 3. spiffe-helper and spire-server files ------------------------------------------------

def local_sources(work, ca):
    key = T.Key("h1")
    path = os.path.join(work, "bundles", TD + ".json")
    os.unlink(path)
    helper = os.path.join(work, "helper")
    os.makedirs(helper)
    plain = json.dumps({"keys": [key.jwk()]}).encode()  # spiffe-helper's: no "use"
    T.write(os.path.join(helper, "jwt_bundle.json"),
            json.dumps({TD: base64.b64encode(plain).decode(), "other.test": "e30="}))
    T.write(os.path.join(helper, "bundle.pem"), pem(ca.cert))
    cfg = conf(work, {"bundle_source_dir": helper})
    rc, out = fetch(cfg)
    got = json.loads(state(path)[0]) if state(path) else {}
    uses = sorted(k.get("use") for k in got.get("keys", []))
    check("spiffe-helper: jwt_bundle.json + bundle.pem converted and installed",
          rc == 0 and uses == ["jwt-svid", "x509-svid"] and "1 jwt keys, 1 x509 authorities"
          in out, out + str(got))
    claims = {"sub": "spiffe://example.org/agents/a", "aud": AUD, "iat": int(time.time()),
              "exp": int(time.time()) + 300}
    rc, out = T.pam_agent("verify", "--config", cfg, "-", stdin=key.sign(claims))
    check("spiffe-helper: a JWT-SVID of its key verifies with the converted bundle", rc == 0, out)
    T.write(os.path.join(helper, "jwt_bundle.json"), json.dumps({"other.test": "e30="}))
    refused_kept("spiffe-helper: the trust domain missing from jwt_bundle.json", cfg, path,
                 "with a string for trust domain example.org")
    spire = os.path.join(work, "spire-bundle.json")
    doc = bundle([key.jwk("jwt-svid")], seq=9, hint=600)
    T.write(spire, doc.decode())
    cfg = conf(work, {"bundle_source_file": spire})
    rc, out = fetch(cfg, "--force")
    check("spire-server bundle show -format spiffe file installed as it is",
          rc == 0 and state(path)[0] == doc and in_seconds(out) == 600, out)


# ---- 4. age: bundle check / show, pam-agent check; configuration -----------------------------

def ages(work):
    path = os.path.join(work, "bundles", TD + ".json")
    spire = os.path.join(work, "spire-bundle.json")
    cfg = conf(work, {"bundle_source_file": spire, "max_bundle_age": "1h"})
    now = int(os.stat(path).st_mtime)
    for age, rc_want, text in ((600, 0, None), (2800, 1, "past 3/4"), (3700, 1, "STALE")):
        rc, out = T.pam_agent("bundle", "check", "--config", cfg, "--now", str(now + age))
        check("bundle check at age %ds of 1h: exit %d%s" % (age, rc_want, ", " + text if text
                                                              else ""),
              rc == rc_want and (text is None or text in out), "exit %d: %s" % (rc, out))
    rc, out = T.pam_agent("bundle", "show", "--config", cfg, "--now", str(now + 10))
    check("bundle show: sequence, hint, age and the next fetch",
          rc == 0 and "spiffe_sequence 9" in out and "spiffe_refresh_hint 600s" in out and
          "age 10s of max_bundle_age 3600s" in out and "next fetch at" in out, out)
    os.utime(path, (time.time() - 2800, time.time() - 2800))
    rc, out = T.pam_agent("check", "--config", cfg)
    check("pam-agent check warns past 3/4 of max_bundle_age (exit 0)",
          rc == 0 and "warning" in out and "max_bundle_age" in out, out)
    os.utime(path, (time.time() - 3700, time.time() - 3700))
    rc, out = T.pam_agent("check", "--config", cfg)
    check("pam-agent check: a stale bundle is an error (exit 1)",
          rc == 1 and "stale" in out, out)
    cfg = conf(work, {"bundle_source_file": spire})
    rc, out = T.pam_agent("bundle", "show", "--config", cfg, "--now", str(int(time.time())))
    check("without max_bundle_age a fetched bundle gets 24 refresh intervals (4h for 600s)",
          "max_bundle_age 14400s" in out, out)
    cfg = conf(work)
    rc, out = fetch(cfg)
    check("fetch without any source says so (exit 0)",
          rc == 0 and out.startswith("nothing to fetch: no trust domain or issuer has a source"),
          out)
    cfg = conf(work, {"bundle_source_file": spire})
    os.rename(os.path.join(work, "bundles"), os.path.join(work, "bundles.away"))
    rc, out = fetch(cfg)
    check("fetch into a directory that does not exist: failed, named, audited",
          rc == 1 and "cannot lock the directory of %s/bundles/%s.json: No such file" % (work, TD)
          in out and "cannot lock" in audit_lines(work)[-1]["reasons"][0], out)
    os.rename(os.path.join(work, "bundles.away"), os.path.join(work, "bundles"))
    for keys, want in (({"bundle_endpoint": "http://127.0.0.1/b"}, "an https:// URL"),
                       ({"bundle_endpoint": "https://x/b", "bundle_source_file": spire},
                        "are alternatives"),
                       ({"bundle_endpoint_ca": spire}, "without bundle_endpoint"),
                       ({"max_bundle_age": "10s"}, "max_bundle_age")):
        cfg = conf(work, keys)
        rc, out = T.pam_agent("check", "--config", cfg)
        check("configuration refused: %s" % want, rc == 1 and want in out, out)


def main():
    if not os.path.exists(T.PAM_AGENT):
        T.skip("pam-agent is not built")
    work = tempfile.mkdtemp(prefix="pa-bundle.")
    os.chmod(work, 0o755)
    os.makedirs(os.path.join(work, "bundles"))
    servers = []
    try:
        ca = TestCA(work, "test-ca")
        srv = Server(*ca.server_files(work, "good", [x509.IPAddress(
            __import__("ipaddress").ip_address("127.0.0.1")), x509.DNSName("localhost")]))
        bad = Server(*ca.server_files(work, "other-name", [x509.DNSName("wrong.test")]))
        servers = [srv, bad]
        endpoint(work, ca, srv, bad)
        oidc(work, ca, srv)
        local_sources(work, ca)
        ages(work)
    finally:
        for s in servers:
            s.stop()
        if "PA_KEEP_TEST_DIR" not in os.environ:
            shutil.rmtree(work, ignore_errors=True)
    return T.summary()


sys.exit(main())
