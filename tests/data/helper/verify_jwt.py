#!/usr/bin/env python3
"""Independent check of a token minted by pam_agent_helper.

Usage: verify_jwt.py JWKS_FILE < TOKEN

Verifies the compact JWS (ES256 only) against the key of the JWKS whose
kid the header names, using nothing but the `cryptography` package (no JOSE
library, no code shared with pam_agent), and checks exp > now >= iat - 5.
Prints the claims as JSON on success (exit 0); exits 1 with a reason on
any failure, and 77 when `cryptography` is not installed (a skip).
"""
import base64
import json
import sys
import time

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
except ImportError:
    print("python3 cryptography is not installed", file=sys.stderr)
    sys.exit(77)


def b64url(seg):
    if "=" in seg:
        raise ValueError("padding in base64url")
    return base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4))


def fail(why):
    print("verify_jwt.py: " + why, file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 2:
        fail("usage: verify_jwt.py JWKS_FILE < TOKEN")
    with open(sys.argv[1], encoding="utf-8") as f:
        jwks = json.load(f)
    token = sys.stdin.read().strip()
    parts = token.split(".")
    if len(parts) != 3:
        fail("not a compact JWS")
    header = json.loads(b64url(parts[0]))
    claims = json.loads(b64url(parts[1]))
    sig = b64url(parts[2])
    if header.get("alg") != "ES256" or header.get("typ") != "JWT":
        fail("unexpected header %r" % header)
    keys = [k for k in jwks.get("keys", []) if k.get("kid") == header.get("kid")]
    if len(keys) != 1:
        fail("no unique key with kid %r" % header.get("kid"))
    jwk = keys[0]
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256" or "d" in jwk:
        fail("not a public P-256 key")
    x = int.from_bytes(b64url(jwk["x"]), "big")
    y = int.from_bytes(b64url(jwk["y"]), "big")
    pub = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    if len(sig) != 64:
        fail("ES256 signature of %d bytes" % len(sig))
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    try:
        pub.verify(der, (parts[0] + "." + parts[1]).encode("ascii"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        fail("bad signature")
    now = int(time.time())
    if not claims.get("exp", 0) > now or claims.get("iat", now + 100) > now + 5:
        fail("token not valid now")
    print(json.dumps(claims, sort_keys=True))


main()
