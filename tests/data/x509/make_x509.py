#!/usr/bin/env python3
"""Make X.509-SVID chain fixtures with an implementation independent of pam_agent.

Uses only the Python standard library and `cryptography` (python3-cryptography
on Debian). Writes, next to this script:

  bundle.json       SPIFFE bundle of trust domain example.org: one
                    x509-svid element, the root (x5c, base64 DER)
  other.json        SPIFFE bundle of trust domain other.test (its own root)
  authorities.pem   the example.org root as PEM, for x509_authorities
  *.pem             one presented chain per case: leaf first, then
                    intermediates (no root)
  cases.json        every chain with its expected outcome at the fixed time
                    "now" with "leeway" seconds of clock skew

Run it once and commit the output; the tests read the files, they do not
run this script. Running it again makes new keys (so new certificates).
"""

import base64
import datetime
import json
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
NOW = 1800000000
LEEWAY = 30
TD = "example.org"
ID = "spiffe://example.org/agents/x509"


def t(secs):
    return datetime.datetime.fromtimestamp(secs, datetime.timezone.utc)


def p256():
    return ec.generate_private_key(ec.SECP256R1())


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def ku(digital=False, cert_sign=False, crl_sign=False):
    return x509.KeyUsage(digital_signature=digital, content_commitment=False,
                         key_encipherment=False, data_encipherment=False,
                         key_agreement=False, key_cert_sign=cert_sign,
                         crl_sign=crl_sign, encipher_only=False, decipher_only=False)


def sign_with(key):
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    return hashes.SHA256()


def cert(subject, pub, issuer, issuer_key, ca, usage, sans=None,
         nbf=NOW - 3600, naf=NOW + 86400, path_len=None, bcons=True):
    b = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
         .public_key(pub).serial_number(x509.random_serial_number())
         .not_valid_before(t(nbf)).not_valid_after(t(naf)))
    if bcons:
        b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=path_len), critical=True)
    if usage is not None:
        b = b.add_extension(usage, critical=True)
    if sans is not None:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(issuer_key, sign_with(issuer_key))


def ca(subject, key, issuer, issuer_key, td=TD, ca_bit=True, cert_sign=True):
    return cert(subject, key.public_key(), issuer, issuer_key, ca_bit,
                ku(cert_sign=cert_sign, crl_sign=True),
                [x509.UniformResourceIdentifier("spiffe://" + td)],
                nbf=NOW - 86400 * 365, naf=NOW + 86400 * 365)


def uri(u):
    return x509.UniformResourceIdentifier(u)


def pem(certs):
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def bundle(root):
    der = root.public_bytes(serialization.Encoding.DER)
    return {"keys": [{"use": "x509-svid", "kty": "EC",
                      "x5c": [base64.b64encode(der).decode("ascii")]}],
            "spiffe_refresh_hint": 300, "spiffe_sequence": 1}


def main():
    root_key = p256()
    root = ca("example.org root", root_key, "example.org root", root_key)
    int_key = p256()
    inter = ca("example.org intermediate", int_key, "example.org root", root_key)
    other_key = p256()
    other = ca("other.test root", other_key, "other.test root", other_key, td="other.test")
    rogue_key = p256()
    INT = "example.org intermediate"
    good = ku(digital=True)
    cases = []

    def leaf(fname, ok, error, key=None, sans=(uri(ID),), usage=good, ca_bit=False,
             chain_extra=(), issuer=INT, issuer_key=int_key, signers=None, **kw):
        key = key if key is not None else p256()
        leaf_cert = cert("leaf " + fname, key.public_key(), issuer, issuer_key, ca_bit, usage,
                         list(sans) if sans is not None else None, **kw)
        chain = [leaf_cert] + list(signers if signers is not None else [inter])
        with open(os.path.join(HERE, fname + ".pem"), "wb") as f:
            f.write(pem(chain))
        case = {"chain": fname + ".pem", "ok": ok}
        if ok:
            case["id"] = sans[0].value
        else:
            case["error"] = error
        cases.append(case)
        return leaf_cert, chain

    _, ec_chain = leaf("ok-ec-p256", True, None)
    leaf("ok-rsa2048", True, None, key=rsa.generate_private_key(65537, 2048))
    leaf("ok-ed25519", True, None, key=ed25519.Ed25519PrivateKey.generate())
    leaf("ok-p384-no-intermediate", True, None, key=ec.generate_private_key(ec.SECP384R1()),
         issuer="example.org root", issuer_key=root_key, signers=[])
    leaf("ok-expired-within-leeway", True, None, naf=NOW - 10)
    leaf("two-uri-sans", False, "2 URI SANs",
         sans=(uri(ID), uri("spiffe://example.org/agents/other")))
    leaf("no-uri-san", False, "0 URI SANs", sans=(x509.DNSName("agent.example.org"),))
    leaf("no-san", False, "no subjectAltName", sans=None)
    leaf("non-spiffe-uri", False, "is not a SPIFFE ID",
         sans=(uri("https://example.org/agents/x509"),))
    leaf("other-trust-domain", False, "unable to get local issuer certificate",
         sans=(uri("spiffe://other.test/agents/x509"),))
    leaf("unconfigured-trust-domain", False, "trust domain elsewhere.test is not configured",
         sans=(uri("spiffe://elsewhere.test/agents/x509"),))
    leaf("leaf-is-ca", False, "leaf is a CA", ca_bit=True)
    leaf("leaf-keycertsign", False, "keyCertSign", usage=ku(digital=True, cert_sign=True))
    leaf("leaf-crlsign", False, "cRLSign", usage=ku(digital=True, crl_sign=True))
    leaf("leaf-no-digitalsignature", False, "lacks digitalSignature",
         usage=x509.KeyUsage(False, False, True, False, False, False, False, False, False))
    leaf("leaf-no-keyusage", False, "no keyUsage", usage=None)
    leaf("expired", False, "leaf expired", naf=NOW - 100)
    leaf("not-yet-valid", False, "leaf is not valid before", nbf=NOW + 100)
    # chain to an authority the trust domain does not have (same names, other keys)
    rk = p256()
    rint = ca(INT, rk, "example.org root", rogue_key)
    leaf("unknown-authority", False, "certificate signature failure", issuer_key=rk, signers=[rint])
    # an intermediate without the CA bit (keyCertSign set)
    nk = p256()
    nca = ca(INT, nk, "example.org root", root_key, ca_bit=False)
    leaf("signer-not-ca", False, "invalid CA certificate", issuer_key=nk, signers=[nca])
    # an intermediate that is a CA without keyCertSign
    sk = p256()
    sca = ca(INT, sk, "example.org root", root_key, cert_sign=False)
    leaf("signer-no-keycertsign", False, "invalid CA certificate", issuer_key=sk, signers=[sca])
    # four intermediates: a path of six certificates
    ints, parent, parent_key = [], "example.org root", root_key
    for i in range(4):
        k = p256()
        c = ca("example.org intermediate %d" % i, k, parent, parent_key)
        ints.insert(0, c)
        parent, parent_key = "example.org intermediate %d" % i, k
    leaf("over-long", False, "certificate chain too long", issuer=parent, issuer_key=parent_key,
         signers=ints)
    leaf("rsa1024", False, "RSA key of 1024 bits", key=rsa.generate_private_key(65537, 1024))
    leaf("p521", False, "is not accepted (P-256, P-384)",
         key=ec.generate_private_key(ec.SECP521R1()))
    # signed by a key that is not the intermediate's: the signature does not verify
    leaf("tampered", False, "certificate signature failure (at depth 0)", issuer_key=p256())

    with open(os.path.join(HERE, "bundle.json"), "w") as f:
        json.dump(bundle(root), f, indent=1)
        f.write("\n")
    with open(os.path.join(HERE, "other.json"), "w") as f:
        json.dump(bundle(other), f, indent=1)
        f.write("\n")
    with open(os.path.join(HERE, "authorities.pem"), "wb") as f:
        f.write(pem([root]))
    compact = ".".join(base64.urlsafe_b64encode(c.public_bytes(serialization.Encoding.DER))
                       .rstrip(b"=").decode("ascii") for c in ec_chain)
    doc = {"about": "X.509-SVID chains made by tests/data/x509/make_x509.py (Python "
                    "cryptography); verified at now with leeway against bundle.json "
                    "(example.org) and other.json (other.test)",
           "now": NOW, "leeway": LEEWAY, "trust_domain": TD,
           "compact": {"chain": compact, "id": ID},
           "cases": cases}
    with open(os.path.join(HERE, "cases.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
