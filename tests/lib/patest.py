"""Shared pieces of the Python tests: keys and tokens made with Python's
`cryptography` (an implementation independent of pam_agent's own signer),
files, and the real module in a Linux-PAM stack without root (pamtester
under pam_wrapper and nss_wrapper)."""
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
except ImportError:
    print("SKIP: python3-cryptography is not installed")
    sys.exit(77)

MODULE = os.environ.get("PA_MODULE", "")
DATA = os.environ.get("PA_TEST_DATA", "tests/data")
PAM_AGENT = os.path.join(os.environ.get("top_builddir", "."), "pam-agent")
WRAPPER = os.environ.get("PA_PAM_WRAPPER_SO", "")
# pam_wrapper, then tests/lib/pwrap_serial.c: what LD_PRELOAD gets
PRELOAD = os.environ.get("PA_PAM_WRAPPER_PRELOAD", WRAPPER)
LIBDIR = os.path.dirname(WRAPPER) if WRAPPER else ""
NSS_WRAPPER = os.path.join(LIBDIR, "libnss_wrapper.so")
FAKETIME = os.path.join(LIBDIR, "faketime", "libfaketime.so.1")


def skip(why):
    print("SKIP: %s" % why)
    sys.exit(77)


def require_pam_stack(faketime=False):
    """Exits 77 (SKIP, with the reason) when a tool of the PAM stack is missing."""
    need = [(WRAPPER, "libpam-wrapper"), (NSS_WRAPPER, "libnss-wrapper"),
            (MODULE, "the built module")]
    if faketime:
        need.append((FAKETIME, "libfaketime"))
    for path, pkg in need:
        if not path or not os.path.exists(path):
            skip("%s not found (%s)" % (path or "pam_wrapper", pkg))
    if shutil.which("pamtester") is None:
        skip("pamtester is not installed")


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def self_signed(key, name):
    """A self-signed CA certificate of key, DER."""
    import datetime
    subject = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, name)])
    now = datetime.datetime(2025, 1, 1)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


class Key:
    """A signing key (ES256 on P-256, or RS256 on RSA-2048) and its public JWK."""

    def __init__(self, kid, alg="ES256"):
        self.kid, self.alg = kid, alg
        if alg == "ES256":
            self.priv = ec.generate_private_key(ec.SECP256R1())
        else:
            self.priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self, use=None, with_kid=True, x5c=False):
        pub = self.priv.public_key().public_numbers()
        if self.alg == "ES256":
            j = {"kty": "EC", "crv": "P-256", "x": b64(pub.x.to_bytes(32, "big")),
                 "y": b64(pub.y.to_bytes(32, "big"))}
        else:
            j = {"kty": "RSA", "n": b64(pub.n.to_bytes((pub.n.bit_length() + 7) // 8, "big")),
                 "e": b64(pub.e.to_bytes(3, "big"))}
        j["alg"] = self.alg
        if with_kid:
            j["kid"] = self.kid
        if use:
            j["use"] = use
        if x5c:  # what providers publish next to the key: its certificate and thumbprints
            der = self_signed(self.priv, self.kid)
            j["x5c"] = [base64.b64encode(der).decode()]
            j["x5t"] = self.x5t(der)
            j["x5t#S256"] = b64(hashlib.sha256(der).digest())
        return j

    @staticmethod
    def x5t(der):
        return b64(hashlib.sha1(der).digest())

    def sign(self, claims, header=None, typ="JWT"):
        """A compact JWS of claims; header adds to alg, kid and typ (None: no typ)."""
        h = {"alg": self.alg, "kid": self.kid}
        if typ is not None:
            h["typ"] = typ
        h.update(header or {})
        signing_input = ("%s.%s" % (b64(json.dumps(h).encode()),
                                    b64(json.dumps(claims).encode()))).encode()
        if self.alg == "ES256":
            r, s = decode_dss_signature(self.priv.sign(signing_input, ec.ECDSA(hashes.SHA256())))
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        else:
            sig = self.priv.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return "%s.%s" % (signing_input.decode(), b64(sig))


def pam_env(pamd, passwd, group, extra=None):
    """The environment that runs pamtester in a private Linux-PAM stack."""
    env = dict(os.environ)
    env.update({
        "LD_PRELOAD": "%s %s" % (PRELOAD, NSS_WRAPPER),
        "NSS_WRAPPER_PASSWD": passwd, "NSS_WRAPPER_GROUP": group,
        "PAM_WRAPPER": "1", "PAM_WRAPPER_SERVICE_DIR": pamd,
        "PAM_WRAPPER_DEBUGLEVEL": "2", "UID_WRAPPER_DISABLE_DEEPBIND": "1",
    })
    env.update(extra or {})
    return env


def pamtester(env, service, user, token, *ops, rhost=None):
    """Runs pamtester (PAM_RHOST set when rhost is given); returns (succeeded,
    the module's log lines, all output)."""
    ops = ops or ("authenticate",)
    items = ["-I", "rhost=%s" % rhost] if rhost else []
    p = subprocess.run(["pamtester", "-v"] + items + [service, user] + list(ops), input=token + "\n",
                       env=env, capture_output=True, text=True)
    out = p.stdout + p.stderr
    log = [line.split("): ", 1)[-1] for line in out.splitlines() if "SYSLOG" in line]
    return p.returncode == 0, log, out


counts = {"pass": 0, "fail": 0}


def check(name, ok, detail=""):
    """Prints PASS or FAIL for name (with the end of detail), and counts it."""
    if ok:
        counts["pass"] += 1
        print("PASS: %s" % name)
    else:
        counts["fail"] += 1
        print("FAIL: %s%s" % (name, (": " + detail[-600:]) if detail else ""))


def summary():
    """Prints the counts of check(); returns the exit status (1 when any failed)."""
    print("%d passed, %d failed" % (counts["pass"], counts["fail"]))
    return 0 if counts["fail"] == 0 else 1


def outcome(name, want_ok, reason, rc, out):
    """Prints PASS or FAIL for a command that exited rc with out: it must
    succeed (want_ok) or fail, and out must hold reason (when given).
    Returns whether it passed."""
    problems = []
    if (rc == 0) != want_ok:
        problems.append("exit %d" % rc)
    if reason and reason not in out:
        problems.append("no line with %r" % reason)
    if problems:
        print("FAIL: %s: %s\n    %s" % (name, "; ".join(problems), out.strip()[-600:]))
        return False
    print("PASS: %s" % name)
    return True


def pam_agent(*args, stdin=None):
    """Runs pam-agent with args; returns (exit status, stdout + stderr)."""
    p = subprocess.run([PAM_AGENT] + list(args), input=stdin, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr
