/*
 * x509.c - X.509-SVIDs (SPIFFE X509-SVID specification): presented chains
 * parsed from PEM or the compact form, verified with OpenSSL's
 * X509_verify_cert against the X.509 authorities of the trust domain the
 * leaf names, then the SPIFFE rules on the leaf and its signers
 * (docs/proof-of-possession.md, "Verifying X.509-SVIDs").
 */
#include "config.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "identity.h"
#include "key_int.h"
#include "util.h"
#include "x509_int.h"

/* Largest trust domain name (SPIFFE ID spec §2.1) plus NUL. */
#define TD_BUF 256
/* Largest SPIFFE ID (SPIFFE ID spec §2.3). */
#define SPIFFE_ID_MAX 2048

struct id_x509_chain {
	X509 *certs[ID_X509_MAX_CHAIN]; /* leaf first */
	size_t n;
};

/* Frees a chain and its certificates. NULL is fine. */
void id_x509_chain_free(struct id_x509_chain *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++)
		X509_free(c->certs[i]);
	free(c);
}

/* One certificate from exactly len bytes of DER (no trailing bytes), or NULL. */
static X509 *der_to_x509(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509 *cert;

	if (len == 0 || len > LONG_MAX)
		return NULL;
	cert = d2i_X509(NULL, &p, (long)len);
	if (cert != NULL && (p != der + len || i2d_X509(cert, NULL) != (int)len)) {
		X509_free(cert);
		cert = NULL;
	}
	ERR_clear_error();
	return cert;
}

/* Parses the CERTIFICATE blocks of a PEM text (see x509_int.h). */
int id_x509_pem_parse(const char *data, size_t len, size_t max, STACK_OF(X509) **out,
		      char *err, size_t errlen)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	long derlen = 0;
	BIO *bio = NULL;
	X509 *cert;
	int rc = -1;

	*out = NULL;
	ERR_clear_error();
	if (sk == NULL || len > INT_MAX ||
	    (bio = BIO_new_mem_buf(data, (int)len)) == NULL) {
		pa_err(err, errlen, "out of memory");
		goto out;
	}
	while (PEM_read_bio(bio, &name, &header, &der, &derlen) == 1) {
		if (strcmp(name, "CERTIFICATE") != 0 || header[0] != '\0') {
			pa_err(err, errlen, "PEM block %d is not a plain CERTIFICATE",
			       sk_X509_num(sk) + 1);
			goto out;
		}
		if ((size_t)sk_X509_num(sk) >= max) {
			pa_err(err, errlen, "more than %zu certificates", max);
			goto out;
		}
		cert = der_to_x509(der, (size_t)derlen);
		if (cert == NULL) {
			pa_err(err, errlen, "certificate %d is not a DER X.509 certificate",
			       sk_X509_num(sk) + 1);
			goto out;
		}
		if (sk_X509_push(sk, cert) <= 0) {
			X509_free(cert);
			pa_err(err, errlen, "out of memory");
			goto out;
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(der);
		name = header = NULL;
		der = NULL;
	}
	/* the loop ends at the end of the text, or at a block it cannot read */
	if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE) {
		pa_err(err, errlen, "PEM block %d is malformed", sk_X509_num(sk) + 1);
		goto out;
	}
	if (sk_X509_num(sk) == 0) {
		pa_err(err, errlen, "no PEM CERTIFICATE block");
		goto out;
	}
	*out = sk;
	sk = NULL;
	rc = 0;
out:
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(der);
	BIO_free(bio);
	sk_X509_pop_free(sk, X509_free);
	ERR_clear_error();
	return rc;
}

/* The compact form: base64url DER certificates joined by '.'. */
static int parse_compact(const char *data, size_t len, struct id_x509_chain *c,
			 char *err, size_t errlen)
{
	const char *p = data, *end = data + len, *dot;
	unsigned char *der = NULL;
	size_t derlen = 0;

	for (;;) {
		dot = memchr(p, '.', (size_t)(end - p));
		if (dot == NULL)
			dot = end;
		if (c->n == ID_X509_MAX_CHAIN)
			return pa_err(err, errlen, "chain has more than %d certificates",
				      ID_X509_MAX_CHAIN);
		if (dot == p)
			return pa_err(err, errlen, "certificate %zu of the chain is empty",
				      c->n + 1);
		if (id_b64url_decode(p, (size_t)(dot - p), &der, &derlen) != 0)
			return pa_err(err, errlen, "certificate %zu of the chain is not "
				      "base64url", c->n + 1);
		c->certs[c->n] = der_to_x509(der, derlen);
		free(der);
		if (c->certs[c->n] == NULL)
			return pa_err(err, errlen, "certificate %zu of the chain is not a DER "
				      "X.509 certificate", c->n + 1);
		c->n++;
		if (dot == end)
			return 0;
		p = dot + 1;
	}
}

/* Whether data (after leading white space) starts a PEM block. */
static bool looks_pem(const char *data, size_t len)
{
	static const char begin[] = "-----BEGIN ";
	size_t i = 0;

	while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' ||
			   data[i] == '\r'))
		i++;
	return len - i >= sizeof(begin) - 1 && memcmp(data + i, begin, sizeof(begin) - 1) == 0;
}

/* Parses a presented chain (see identity.h). */
int id_x509_chain_parse(const char *data, size_t len, struct id_x509_chain **out,
			char *err, size_t errlen)
{
	struct id_x509_chain *c = NULL;
	STACK_OF(X509) *sk = NULL;
	char why[256];

	*out = NULL;
	if (data == NULL || len == 0)
		return pa_err(err, errlen, "no certificate chain");
	if (len > ID_X509_CHAIN_MAX)
		return pa_err(err, errlen, "certificate chain of %zu bytes is larger than %d",
			      len, ID_X509_CHAIN_MAX);
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return pa_err(err, errlen, "out of memory");
	if (looks_pem(data, len)) {
		if (id_x509_pem_parse(data, len, ID_X509_MAX_CHAIN, &sk, why, sizeof(why)) != 0) {
			id_x509_chain_free(c);
			return pa_err(err, errlen, "certificate chain: %s", why);
		}
		while (sk_X509_num(sk) > 0)
			c->certs[c->n++] = sk_X509_shift(sk);
		sk_X509_free(sk);
	} else if (parse_compact(data, len, c, err, errlen) != 0) {
		id_x509_chain_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

/* Lowercase hex of n bytes into out (2n + 1). */
static void to_hex(const unsigned char *md, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[2 * n] = '\0';
}

/* SHA-256 over the DER of certs[0..n) into md (32 bytes). */
static int der_sha256(X509 *const *certs, size_t n, unsigned char md[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *der = NULL;
	unsigned int mdlen = 0;
	int len, ok;
	size_t i;

	ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
	for (i = 0; ok && i < n; i++) {
		der = NULL;
		len = i2d_X509(certs[i], &der);
		ok = len > 0 && EVP_DigestUpdate(ctx, der, (size_t)len) == 1;
		OPENSSL_free(der);
	}
	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok ? 0 : -1;
}

/* Hex SHA-256 over the DER of every certificate (see identity.h). */
int id_x509_chain_sha256(const struct id_x509_chain *c, char hex[ID_SHA256_HEX + 1],
			 char *err, size_t errlen)
{
	unsigned char md[32];

	if (c == NULL || c->n == 0)
		return pa_err(err, errlen, "no certificate chain");
	if (der_sha256(c->certs, c->n, md) != 0)
		return pa_err(err, errlen, "cannot hash the certificate chain");
	to_hex(md, sizeof(md), hex);
	return 0;
}

/*
 * The key of cert is one an X.509-SVID may have: RSA of 2048 to 16384
 * bits, EC P-256 or P-384, Ed25519. what names the certificate.
 */
static int check_cert_key(X509 *cert, const char *what, char *err, size_t errlen)
{
	EVP_PKEY *pkey = X509_get0_pubkey(cert);
	char curve[64] = "";
	size_t clen = 0;
	int bits;

	if (pkey == NULL) {
		ERR_clear_error();
		return pa_err(err, errlen, "%s: its public key cannot be read", what);
	}
	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_RSA:
		bits = EVP_PKEY_get_bits(pkey);
		if (bits < ID_RSA_MIN_BITS || bits > ID_RSA_MAX_BITS)
			return pa_err(err, errlen, "%s: RSA key of %d bits (%d to %d accepted)",
				      what, bits, ID_RSA_MIN_BITS, ID_RSA_MAX_BITS);
		return 0;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_group_name(pkey, curve, sizeof(curve), &clen) != 1)
			curve[0] = '\0';
		if (strcmp(curve, "prime256v1") == 0 || strcmp(curve, "P-256") == 0 ||
		    strcmp(curve, "secp384r1") == 0 || strcmp(curve, "P-384") == 0)
			return 0;
		ERR_clear_error();
		return pa_err(err, errlen, "%s: EC curve \"%s\" is not accepted (P-256, P-384)",
			      what, curve);
	case EVP_PKEY_ED25519:
		return 0;
	default:
		return pa_err(err, errlen, "%s: key type is not accepted (RSA, EC P-256/P-384, "
			      "Ed25519 only)", what);
	}
}

/*
 * The one URI SAN of the leaf as a SPIFFE ID into id (SPIFFE_ID_MAX + 1),
 * its trust domain into td (X509-SVID §2: exactly one URI SAN).
 */
static int leaf_spiffe_id(X509 *leaf, char *id, size_t idlen, char *td, size_t tdlen,
			  char *err, size_t errlen)
{
	GENERAL_NAMES *names;
	const ASN1_IA5STRING *uri = NULL;
	char why[256], esc[PA_ESCAPE_MAX];
	int crit = -1, i, n_uri = 0, len;

	names = X509_get_ext_d2i(leaf, NID_subject_alt_name, &crit, NULL);
	if (names == NULL) {
		ERR_clear_error();
		if (crit == -2)
			return pa_err(err, errlen, "leaf has more than one subjectAltName extension");
		return pa_err(err, errlen, "leaf has no subjectAltName (an X.509-SVID has one "
			      "URI SAN, its SPIFFE ID)");
	}
	for (i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);

		if (gn->type == GEN_URI) {
			n_uri++;
			uri = gn->d.uniformResourceIdentifier;
		}
	}
	len = uri != NULL ? ASN1_STRING_length(uri) : 0;
	if (n_uri != 1 || len <= 0 || (size_t)len >= idlen) {
		GENERAL_NAMES_free(names);
		if (n_uri != 1)
			return pa_err(err, errlen, "leaf has %d URI SANs (an X.509-SVID has exactly "
				      "one, its SPIFFE ID)", n_uri);
		return pa_err(err, errlen, "leaf's URI SAN is empty or too long");
	}
	memcpy(id, ASN1_STRING_get0_data(uri), (size_t)len);
	id[len] = '\0';
	GENERAL_NAMES_free(names);
	if (strlen(id) != (size_t)len)
		return pa_err(err, errlen, "leaf's URI SAN has a NUL byte");
	if (id_spiffe_id_parse(id, td, tdlen, why, sizeof(why)) != 0)
		return pa_err(err, errlen, "leaf's URI SAN \"%s\" is not a SPIFFE ID: %s",
			      pa_escape(id, strlen(id), esc, sizeof(esc)), why);
	return 0;
}

/* X509-SVID §4: the leaf is no CA, signs (digitalSignature), signs no certificates or CRLs. */
static int check_leaf_usage(X509 *leaf, char *err, size_t errlen)
{
	uint32_t flags = X509_get_extension_flags(leaf), ku;

	if (flags & EXFLAG_INVALID)
		return pa_err(err, errlen, "leaf has an invalid or duplicate extension");
	if (flags & EXFLAG_CA)
		return pa_err(err, errlen, "leaf is a CA certificate (basicConstraints CA:TRUE)");
	if (!(flags & EXFLAG_KUSAGE))
		return pa_err(err, errlen, "leaf has no keyUsage extension");
	ku = X509_get_key_usage(leaf);
	if (!(ku & KU_DIGITAL_SIGNATURE))
		return pa_err(err, errlen, "leaf's keyUsage lacks digitalSignature");
	if (ku & KU_KEY_CERT_SIGN)
		return pa_err(err, errlen, "leaf's keyUsage has keyCertSign");
	if (ku & KU_CRL_SIGN)
		return pa_err(err, errlen, "leaf's keyUsage has cRLSign");
	return 0;
}

/* X509-SVID §3.2, §4.3: a signing certificate is a CA with keyCertSign. */
static int check_signer(X509 *cert, const char *what, char *err, size_t errlen)
{
	uint32_t flags = X509_get_extension_flags(cert);

	if (flags & EXFLAG_INVALID)
		return pa_err(err, errlen, "%s has an invalid or duplicate extension", what);
	if (!(flags & EXFLAG_BCONS) || !(flags & EXFLAG_CA))
		return pa_err(err, errlen, "%s is not a CA (basicConstraints CA:TRUE)", what);
	if (!(flags & EXFLAG_KUSAGE) || !(X509_get_key_usage(cert) & KU_KEY_CERT_SIGN))
		return pa_err(err, errlen, "%s has no keyUsage keyCertSign", what);
	return 0;
}

/* t as seconds since the epoch. Returns 0 or -1. */
static int asn1_time_secs(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;
	time_t s;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
		ERR_clear_error();
		return -1;
	}
	s = timegm(&tm);
	if (s == (time_t)-1 && !(tm.tm_year == 69 && tm.tm_yday == 364))
		return -1;
	*out = (int64_t)s;
	return 0;
}

/* Validity of cert at now with leeway: notBefore <= now + leeway, notAfter >= now - leeway. */
static int check_validity(X509 *cert, const char *what, int64_t now, int64_t leeway,
			  int64_t *nbf, int64_t *exp, char *err, size_t errlen)
{
	if (asn1_time_secs(X509_get0_notBefore(cert), nbf) != 0 ||
	    asn1_time_secs(X509_get0_notAfter(cert), exp) != 0)
		return pa_err(err, errlen, "%s has an unreadable validity period", what);
	if (*nbf > now + leeway)
		return pa_err(err, errlen, "%s is not valid before %" PRId64 " (now %" PRId64
			      ", leeway %" PRId64 "s)", what, *nbf, now, leeway);
	if (*exp < now - leeway)
		return pa_err(err, errlen, "%s expired at %" PRId64 " (now %" PRId64
			      ", leeway %" PRId64 "s)", what, *exp, now, leeway);
	return 0;
}

/* "leaf", "intermediate N" or "authority", the name of position i of n. */
static void cert_name(size_t i, size_t n, char *buf, size_t len)
{
	if (i == 0)
		snprintf(buf, len, "leaf");
	else if (i + 1 == n)
		snprintf(buf, len, "authority");
	else
		snprintf(buf, len, "intermediate %zu", i);
}

/* The configured trust domain named td, or NULL. */
static const struct id_trust_domain *x509_domain(const struct id_verifier *v, const char *td)
{
	size_t i;

	for (i = 0; i < v->n_domains; i++)
		if (v->domains[i].name != NULL && strcmp(v->domains[i].name, td) == 0)
			return &v->domains[i];
	return NULL;
}

/* The X.509 authorities of trust domain td, or NULL with the reason. */
static X509_STORE *authorities(const struct id_verifier *v, const char *td, int64_t now,
			       char *err, size_t errlen)
{
	const struct id_trust_domain *dom = x509_domain(v, td);
	char esc[PA_ESCAPE_MAX], why[512];
	X509_STORE *store;

	if (dom == NULL) {
		pa_err(err, errlen, "trust domain %s is not configured",
		       pa_escape(td, strlen(td), esc, sizeof(esc)));
		return NULL;
	}
	if (dom->keys == NULL) {
		pa_err(err, errlen, "trust domain %s cannot be used, so none of its SVIDs is "
		       "accepted: %s", dom->name,
		       dom->load_error != NULL ? dom->load_error : "not loaded");
		return NULL;
	}
	if (id_bundle_check_age(dom->keys, dom->max_bundle_age, now, why, sizeof(why)) != 0) {
		pa_err(err, errlen, "trust domain %s cannot be used, so none of its SVIDs is "
		       "accepted: %s", dom->name, why);
		return NULL;
	}
	store = id_keyset_x509_store(dom->keys);
	if (store == NULL)
		pa_err(err, errlen, "trust domain %s has no X.509 authority, so none of its "
		       "X.509-SVIDs is accepted", dom->name);
	return store;
}

/*
 * Path validation (X509-SVID §5.1) by OpenSSL against store, without
 * OpenSSL's time check (check_built does it with the leeway). On success
 * *built is the path from the leaf to the authority.
 */
static int openssl_verify(const struct id_x509_chain *c, X509_STORE *store,
			  STACK_OF(X509) **built, char *err, size_t errlen)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509_VERIFY_PARAM *param;
	int rc = -1, e;
	size_t i;

	*built = NULL;
	for (i = 1; untrusted != NULL && i < c->n; i++)
		if (sk_X509_push(untrusted, c->certs[i]) <= 0)
			break;
	if (ctx == NULL || untrusted == NULL || i < c->n ||
	    X509_STORE_CTX_init(ctx, store, c->certs[0], untrusted) != 1) {
		pa_err(err, errlen, "out of memory");
		goto out;
	}
	param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_NO_CHECK_TIME | X509_V_FLAG_PARTIAL_CHAIN);
	/* intermediates between the leaf and the authority */
	X509_VERIFY_PARAM_set_depth(param, ID_X509_MAX_CHAIN - 2);
	if (X509_verify_cert(ctx) != 1) {
		e = X509_STORE_CTX_get_error(ctx);
		pa_err(err, errlen, "certificate chain does not verify: %s (at depth %d)",
		       X509_verify_cert_error_string(e), X509_STORE_CTX_get_error_depth(ctx));
		goto out;
	}
	*built = X509_STORE_CTX_get1_chain(ctx);
	if (*built == NULL)
		pa_err(err, errlen, "out of memory");
	else
		rc = 0;
out:
	sk_X509_free(untrusted);
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

/*
 * The SPIFFE rules on the path OpenSSL built: its length, every key, the
 * signers' CA bit and keyCertSign, every certificate's validity at now.
 * The leaf's notBefore and notAfter go to *nbf and *exp.
 */
static int check_built(STACK_OF(X509) *built, int64_t now, int64_t leeway, int64_t *nbf,
		       int64_t *exp, char *err, size_t errlen)
{
	size_t i, n = (size_t)sk_X509_num(built);
	int64_t b, a;
	char what[32];

	if (n == 0 || n > ID_X509_MAX_CHAIN)
		return pa_err(err, errlen, "verified path has %zu certificates (at most %d)",
			      n, ID_X509_MAX_CHAIN);
	for (i = 0; i < n; i++) {
		X509 *cert = sk_X509_value(built, (int)i);

		cert_name(i, n > 1 ? n : 2, what, sizeof(what));
		if (check_cert_key(cert, what, err, errlen) != 0 ||
		    (i > 0 && check_signer(cert, what, err, errlen) != 0) ||
		    check_validity(cert, what, now, leeway, &b, &a, err, errlen) != 0)
			return -1;
		if (i == 0) {
			*nbf = b;
			*exp = a;
		}
	}
	return 0;
}

/* The identity of a verified X.509-SVID (see identity.h). */
static int x509_identity(const struct id_x509_chain *c, const char *spiffe_id, const char *td,
			 int64_t nbf, int64_t exp, struct id_identity **out, char *err,
			 size_t errlen)
{
	struct id_identity *id = calloc(1, sizeof(*id));
	unsigned char md[32];
	char *x5t = NULL, why[128];
	struct id_key *key;

	if (id == NULL)
		return pa_err(err, errlen, "out of memory");
	id->kind = ID_KIND_SPIFFE;
	id->nbf = id->iat = nbf;
	id->exp = exp;
	key = id_x509_leaf_key(c, why, sizeof(why));
	if (key != NULL)
		id->alg = id_alg_from_name(key->alg);
	id_key_free(key);
	if (der_sha256(c->certs, 1, md) != 0 || (x5t = id_b64url_encode(md, sizeof(md))) == NULL) {
		id_identity_free(id);
		return pa_err(err, errlen, "cannot hash the leaf certificate");
	}
	to_hex(md, sizeof(md), id->fingerprint);
	id->agent_id = strdup(spiffe_id);
	id->subject = strdup(spiffe_id);
	id->trust_domain = strdup(td);
	id->claims = json_pack("{s:s, s:s}", "sub", spiffe_id, "x5t#S256", x5t);
	free(x5t);
	if (id->agent_id == NULL || id->subject == NULL || id->trust_domain == NULL ||
	    id->claims == NULL) {
		id_identity_free(id);
		return pa_err(err, errlen, "out of memory");
	}
	*out = id;
	return 0;
}

/* Verifies a presented X.509-SVID chain at now (see identity.h). */
int id_x509_verify(const struct id_verifier *v, const struct id_x509_chain *c, int64_t now,
		   struct id_identity **out, char *err, size_t errlen)
{
	char spiffe_id[SPIFFE_ID_MAX + 1], td[TD_BUF], what[32];
	STACK_OF(X509) *built = NULL;
	int64_t leeway, nbf = 0, exp = 0;
	X509_STORE *store;
	size_t i;
	int rc = -1;

	*out = NULL;
	if (v == NULL)
		return pa_err(err, errlen, "no verifier");
	if (c == NULL || c->n == 0)
		return pa_err(err, errlen, "no certificate chain");
	leeway = v->leeway > 0 ? v->leeway : 0;
	/* the trust domain is picked by the leaf's SAN; only its authorities are used */
	if (leaf_spiffe_id(c->certs[0], spiffe_id, sizeof(spiffe_id), td, sizeof(td), err,
			   errlen) != 0 ||
	    check_leaf_usage(c->certs[0], err, errlen) != 0)
		return -1;
	for (i = 0; i < c->n; i++) {
		cert_name(i, c->n + 1, what, sizeof(what));
		if (check_cert_key(c->certs[i], what, err, errlen) != 0)
			return -1;
	}
	store = authorities(v, td, now, err, errlen);
	if (store == NULL || openssl_verify(c, store, &built, err, errlen) != 0)
		return -1;
	if (check_built(built, now, leeway, &nbf, &exp, err, errlen) == 0 &&
	    x509_identity(c, spiffe_id, td, nbf, exp, out, err, errlen) == 0)
		rc = 0;
	sk_X509_pop_free(built, X509_free);
	return rc;
}

/* The leaf's public key with the algorithm its signatures use (see identity.h). */
struct id_key *id_x509_leaf_key(const struct id_x509_chain *c, char *err, size_t errlen)
{
	const char *alg = NULL;
	struct id_key *key;
	EVP_PKEY *pkey;

	if (c == NULL || c->n == 0) {
		pa_err(err, errlen, "no certificate chain");
		return NULL;
	}
	if (check_cert_key(c->certs[0], "leaf", err, errlen) != 0)
		return NULL;
	pkey = X509_get0_pubkey(c->certs[0]);
	key = id_key_from_pkey(pkey, NULL, err, errlen);
	if (key == NULL)
		return NULL;
	switch (key->kty) {
	case ID_KTY_RSA:
		alg = "PS256";
		break;
	case ID_KTY_EC:
		alg = key->curve_nid == NID_secp384r1 ? "ES384" : "ES256";
		break;
	case ID_KTY_OKP:
	default:
		alg = "EdDSA";
		break;
	}
	key->alg = strdup(alg);
	if (key->alg == NULL) {
		id_key_free(key);
		pa_err(err, errlen, "out of memory");
		return NULL;
	}
	return key;
}

/* Replaces the X.509 authorities of set with those of a PEM file (see x509_int.h). */
int id_keyset_x509_load_pem(struct id_keyset *set, const char *path, char *err,
			    size_t errlen)
{
	STACK_OF(X509) *sk = NULL;
	char *buf = NULL, why[256];
	size_t len = 0;
	int rc = 0;

	if (id_bundle_read(path, &buf, &len, NULL, err, errlen) != 0)
		return -1;
	if (id_x509_pem_parse(buf, len, ID_X509_MAX_AUTHORITIES, &sk, why, sizeof(why)) != 0) {
		free(buf);
		return pa_err(err, errlen, "%s: %s", path, why);
	}
	free(buf);
	id_keyset_x509_reset(set);
	while (rc == 0 && sk_X509_num(sk) > 0) {
		rc = id_keyset_x509_add(set, sk_X509_shift(sk), why, sizeof(why));
		if (rc != 0)
			pa_err(err, errlen, "%s: %s", path, why);
	}
	sk_X509_pop_free(sk, X509_free);
	return rc;
}
