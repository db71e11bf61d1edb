#!/usr/bin/env python3
"""Make JWT fixtures with an implementation independent of pam_agent.

Uses only the Python standard library and `cryptography` (python3-cryptography
on Debian). Writes, next to this script:

  bundle.json     SPIFFE bundle of trust domain example.org (use jwt-svid keys,
                  plus one x509-svid entry that a verifier must skip)
  oidc_jwks.json  JWKS of issuer https://idp.example.test (Ed25519, plus an
                  encryption key that a verifier must skip)
  cases.json      the verifier configuration and every token with its
                  expected outcome at a fixed time "now"

Run it once and commit the output; the unit tests read the files, they do
not run this script. Running it again makes new keys (so new tokens).
"""

import base64
import datetime
import json
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
TRUST_DOMAIN = "example.org"
ISSUER = "https://idp.example.test"
AUDIENCE = "spiffe://example.org/host/test"
SUB = "spiffe://example.org/agents/test"
IAT = 1700000000
EXP = 1700000300
NOW = 1700000100
LEEWAY = 30
MAX_AGE = 600


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def uint(n: int, length: int = 0) -> str:
    """Base64urlUInt (RFC 7518 section 2); fixed length for EC coordinates."""
    if length == 0:
        length = max(1, (n.bit_length() + 7) // 8)
    return b64u(n.to_bytes(length, "big"))


def jcompact(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
CURVES = {"ES256": (ec.SECP256R1, "P-256", 32),
          "ES384": (ec.SECP384R1, "P-384", 48),
          "ES512": (ec.SECP521R1, "P-521", 66)}


class Key:
    def __init__(self, alg: str, kid: str):
        self.alg, self.kid = alg, kid
        if alg.startswith(("RS", "PS")):
            self.priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif alg in CURVES:
            self.priv = ec.generate_private_key(CURVES[alg][0]())
        elif alg == "EdDSA":
            self.priv = ed25519.Ed25519PrivateKey.generate()
        else:
            raise ValueError(alg)

    def jwk(self, use: str) -> dict:
        pub = self.priv.public_key()
        if self.alg.startswith(("RS", "PS")):
            nums = pub.public_numbers()
            j = {"kty": "RSA", "n": uint(nums.n), "e": uint(nums.e)}
        elif self.alg in CURVES:
            _, crv, size = CURVES[self.alg]
            nums = pub.public_numbers()
            j = {"kty": "EC", "crv": crv, "x": uint(nums.x, size), "y": uint(nums.y, size)}
        else:
            raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            j = {"kty": "OKP", "crv": "Ed25519", "x": b64u(raw)}
        j.update({"kid": self.kid, "use": use, "alg": self.alg})
        return j

    def sign(self, data: bytes, der: bool = False, salt=None) -> bytes:
        a = self.alg
        if a.startswith("RS"):
            return self.priv.sign(data, padding.PKCS1v15(), HASHES[a[2:]]())
        if a.startswith("PS"):
            h = HASHES[a[2:]]()
            salt_len = h.digest_size if salt is None else salt
            return self.priv.sign(data, padding.PSS(mgf=padding.MGF1(h), salt_length=salt_len), h)
        if a in CURVES:
            sig = self.priv.sign(data, ec.ECDSA(HASHES[a[2:]]()))
            if der:
                return sig
            r, s = decode_dss_signature(sig)
            size = CURVES[a][2]
            return r.to_bytes(size, "big") + s.to_bytes(size, "big")
        return self.priv.sign(data)


def token(key: Key, claims: dict, header=None, raw_claims: bytes = None, **kw) -> str:
    hdr = {"alg": key.alg, "kid": key.kid, "typ": "JWT"} if header is None else header
    body = raw_claims if raw_claims is not None else jcompact(claims)
    signing_input = b64u(jcompact(hdr)) + "." + b64u(body)
    return signing_input + "." + b64u(key.sign(signing_input.encode(), **kw))


def svid(**extra) -> dict:
    c = {"sub": SUB, "aud": AUDIENCE, "iat": IAT, "exp": EXP, "jti": "jti-1"}
    c.update(extra)
    return {k: v for k, v in c.items() if v is not None}


def self_signed_cert(key: Key) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x509 authority")])
    now = datetime.datetime(2023, 11, 1, tzinfo=datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.priv.public_key()).serial_number(1)
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key.priv, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


def main() -> int:
    keys = {a: Key(a, a.lower() + "-key") for a in ("RS256", "PS256", "ES256", "ES384", "ES512")}
    ed = Key("EdDSA", "ed25519-key")
    x509_key = Key("ES256", "x509-authority")
    enc_key = Key("RS256", "oidc-enc")
    stranger = Key("ES256", "es256-key")  # same kid as a bundle key, other key

    x509_jwk = x509_key.jwk("x509-svid")
    del x509_jwk["kid"], x509_jwk["alg"]
    x509_jwk["x5c"] = [base64.b64encode(self_signed_cert(x509_key)).decode()]
    bundle = {"keys": [k.jwk("jwt-svid") for k in keys.values()] + [x509_jwk],
              "spiffe_refresh_hint": 300, "spiffe_sequence": 1}
    enc_jwk = enc_key.jwk("enc")
    enc_jwk["alg"] = "RSA-OAEP"
    jwks = {"keys": [ed.jwk("sig"), enc_jwk]}

    cases = []

    def add(name, tok, expect, now=NOW, agent_id=None):
        c = {"name": name, "token": tok, "expect": expect, "now": now}
        if agent_id is not None:
            c["agent_id"] = agent_id
        cases.append(c)

    for alg, k in keys.items():
        add("valid " + alg, token(k, svid()), "accept", agent_id=SUB)
    oidc = {"iss": ISSUER, "sub": "agent-42", "aud": AUDIENCE, "iat": IAT, "exp": EXP}
    add("valid EdDSA (OIDC)", token(ed, oidc), "accept", agent_id=ISSUER + "#agent-42")
    add("valid RS256 at the leeway edge", token(keys["RS256"], svid()), "accept", now=EXP + LEEWAY - 1)
    add("valid ES256 with aud array",
        token(keys["ES256"], svid(aud=["https://other.example", AUDIENCE])), "accept", agent_id=SUB)

    add("expired", token(keys["RS256"], svid()), "reject", now=EXP + LEEWAY)
    add("not yet valid (nbf)", token(keys["ES256"], svid(nbf=NOW + 120)), "reject")
    add("issued in the future", token(keys["ES384"], svid(iat=NOW + 120, exp=NOW + 400)), "reject")
    add("lifetime over the maximum", token(keys["ES512"], svid(exp=IAT + MAX_AGE + 1)), "reject")
    add("wrong audience", token(keys["PS256"], svid(aud="spiffe://example.org/host/other")), "reject")
    add("missing exp", token(keys["RS256"], svid(exp=None)), "reject")
    add("sub in another trust domain",
        token(keys["RS256"], svid(sub="spiffe://other.example/agents/test")), "reject")
    add("sub not a SPIFFE ID", token(keys["RS256"], svid(sub="spiffe://example.org/a/../b")), "reject")
    add("EdDSA on the SPIFFE path", token(ed, svid()), "reject")
    add("ES256 DER signature", token(keys["ES256"], svid(), der=True), "reject")
    add("PS256 salt length 0", token(keys["PS256"], svid(), salt=0), "reject")
    add("PS256 maximum salt length",
        token(keys["PS256"], svid(), salt=padding.PSS.MAX_LENGTH), "reject")
    add("key of a stranger under a bundle kid", token(stranger, svid()), "reject")
    add("RS256 header on an ES256 kid",
        token(keys["RS256"], svid(), header={"alg": "RS256", "kid": "es256-key"}), "reject")
    good = token(keys["ES256"], svid())
    h, p, s = good.split(".")
    add("modified payload", h + "." + b64u(jcompact(svid(sub=SUB + "x"))) + "." + s, "reject")
    add("alg none", b64u(jcompact({"alg": "none", "kid": "rs256-key"})) + "." + p + ".", "reject")
    pem = keys["RS256"].priv.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    hs_input = b64u(jcompact({"alg": "HS256", "kid": "rs256-key", "typ": "JWT"})) + "." + p
    mac = hmac.HMAC(pem, hashes.SHA256())
    mac.update(hs_input.encode())
    add("HS256 keyed with the RSA public key", hs_input + "." + b64u(mac.finalize()), "reject")
    add("padding in the signature", good + "==", "reject")
    add("4 segments", good + ".e30", "reject")
    add("JWE-shaped 5 segments", good + ".e30.e30", "reject")
    add("duplicate claim names",
        token(keys["RS256"], None, raw_claims=jcompact(svid())[:-1] + b',"sub":"' + SUB.encode() + b'"}'),
        "reject")
    add("jwk header", token(keys["ES256"], svid(), header={
        "alg": "ES256", "kid": "es256-key", "jwk": keys["ES256"].jwk("sig")}), "reject")
    add("typ at+jwt", token(keys["ES256"], svid(), header={
        "alg": "ES256", "kid": "es256-key", "typ": "at+jwt"}), "reject")
    add("EdDSA OIDC token with a wrong issuer",
        token(ed, dict(oidc, iss=ISSUER + "/")), "reject")

    with open(os.path.join(HERE, "bundle.json"), "w") as f:
        json.dump(bundle, f, indent=1)
        f.write("\n")
    with open(os.path.join(HERE, "oidc_jwks.json"), "w") as f:
        json.dump(jwks, f, indent=1)
        f.write("\n")
    doc = {
        "generator": "make_fixtures.py (Python cryptography %s)" % __import__("cryptography").__version__,
        "config": {"audience": AUDIENCE, "leeway": LEEWAY, "max_token_age": MAX_AGE,
                   "trust_domain": TRUST_DOMAIN, "bundle": "bundle.json",
                   "issuer": ISSUER, "jwks": "oidc_jwks.json", "allow_eddsa": True},
        "cases": cases,
    }
    with open(os.path.join(HERE, "cases.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print("wrote %d cases" % len(cases))
    return 0


if __name__ == "__main__":
    sys.exit(main())
