/*
 * key.c - JOSE algorithms, verification keys (RSA, EC, Ed25519, each
 * checked before use) and the one signature check every token goes
 * through (RFC 7515, RFC 8725). Keys from JWKs are jwk.c.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "key_int.h"
#include "util.h"

static const struct {
	enum id_alg alg;
	const char *name;
} alg_names[] = {
	{ ID_ALG_RS256, "RS256" }, { ID_ALG_RS384, "RS384" },
	{ ID_ALG_RS512, "RS512" }, { ID_ALG_PS256, "PS256" },
	{ ID_ALG_PS384, "PS384" }, { ID_ALG_PS512, "PS512" },
	{ ID_ALG_ES256, "ES256" }, { ID_ALG_ES384, "ES384" },
	{ ID_ALG_ES512, "ES512" }, { ID_ALG_EDDSA, "EdDSA" },
};

const struct id_ec_curve id_ec_curves[ID_EC_CURVES] = {
	{ "P-256", "prime256v1", NID_X9_62_prime256v1, 32,
	  "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551" },
	{ "P-384", "secp384r1", NID_secp384r1, 48,
	  "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
	  "581A0DB248B0A77AECEC196ACCC52973" },
	{ "P-521", "secp521r1", NID_secp521r1, 66,
	  "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA"
	  "51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409" },
};

const char *id_alg_name(enum id_alg alg)
{
	size_t i;

	for (i = 0; i < PA_ARRAY_SIZE(alg_names); i++)
		if (alg_names[i].alg == alg)
			return alg_names[i].name;
	return NULL;
}

/* The allow-listed algorithm with exactly this (case-sensitive) name. */
enum id_alg id_alg_from_name(const char *name)
{
	size_t i;

	if (name == NULL)
		return ID_ALG_NONE;
	for (i = 0; i < PA_ARRAY_SIZE(alg_names); i++)
		if (strcmp(alg_names[i].name, name) == 0)
			return alg_names[i].alg;
	return ID_ALG_NONE;
}

/* The digest alg signs with; NULL for EdDSA (and for no algorithm). */
/*
 * SHA-256, -384 and -512, fetched once per process: EVP_sha256() and the
 * like make OpenSSL 3 look the implementation up again on every use
 * (docs/performance.md). A fetch that fails leaves that lookup.
 */
static EVP_MD *md_fetched[3];
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_fetch(void)
{
	md_fetched[0] = EVP_MD_fetch(NULL, "SHA2-256", NULL);
	md_fetched[1] = EVP_MD_fetch(NULL, "SHA2-384", NULL);
	md_fetched[2] = EVP_MD_fetch(NULL, "SHA2-512", NULL);
	ERR_clear_error();
}

/* SHA-2 of bits 256, 384 or 512. */
static const EVP_MD *sha2(int bits)
{
	int i = bits == 256 ? 0 : bits == 384 ? 1 : 2;

	pthread_once(&md_once, md_fetch);
	if (md_fetched[i] != NULL)
		return md_fetched[i];
	return bits == 256 ? EVP_sha256() : bits == 384 ? EVP_sha384() : EVP_sha512();
}

const EVP_MD *id_sha256(void)
{
	return sha2(256);
}

static const EVP_MD *alg_md(enum id_alg alg)
{
	switch (alg) {
	case ID_ALG_RS256: case ID_ALG_PS256: case ID_ALG_ES256:
		return sha2(256);
	case ID_ALG_RS384: case ID_ALG_PS384: case ID_ALG_ES384:
		return sha2(384);
	case ID_ALG_RS512: case ID_ALG_PS512: case ID_ALG_ES512:
		return sha2(512);
	default:
		return NULL;
	}
}

/* Frees a key and everything it owns. NULL is fine. */
void id_key_free(struct id_key *key)
{
	if (key == NULL)
		return;
	EVP_PKEY_free(key->pkey);
	BN_free(key->order);
	free(key->kid);
	free(key->alg);
	free(key->x5t);
	free(key->x5t256);
	free(key);
}

/* The key's kid, or NULL when it has none. */
const char *id_key_kid(const struct id_key *key)
{
	return key != NULL ? key->kid : NULL;
}

/* The key's "x5t" (sha256 false) or "x5t#S256" (true) member, or NULL. */
const char *id_key_x5t(const struct id_key *key, bool sha256)
{
	if (key == NULL)
		return NULL;
	return sha256 ? key->x5t256 : key->x5t;
}

/*
 * Whether n carries the fingerprint of keys made by the Infineon RSA
 * library (ROCA, CVE-2017-15361): n mod p lies in the subgroup generated
 * by 65537 for every small prime p. Such a modulus can be factored.
 */
static bool rsa_roca_fingerprint(const BIGNUM *n)
{
	static const unsigned primes[] = {
		3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59,
		61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127,
		131, 137, 139, 149, 151, 157, 163, 167,
	};
	size_t i;

	for (i = 0; i < PA_ARRAY_SIZE(primes); i++) {
		unsigned p = primes[i], g = 65537 % p, x = 1;
		BN_ULONG r = BN_mod_word(n, p);
		bool in_subgroup = false;

		if (r == (BN_ULONG)-1)
			return false;
		do {
			if (x == r) {
				in_subgroup = true;
				break;
			}
			x = x * g % p;
		} while (x != 1);
		if (!in_subgroup)
			return false;
	}
	return true;
}

/* Checks an RSA public key: size, exponent, modulus sanity. Fills key. */
static int check_rsa(struct id_key *key, char *err, size_t errlen)
{
	BIGNUM *n = NULL, *e = NULL;
	int bits, rc = -1;

	if (EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
	    EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
		pa_err(err, errlen, "RSA key without modulus or exponent");
		goto out;
	}
	bits = BN_num_bits(n);
	if (bits < ID_RSA_MIN_BITS) {
		pa_err(err, errlen, "RSA key of %d bits is too small (minimum %d)",
		       bits, ID_RSA_MIN_BITS);
		goto out;
	}
	if (bits > ID_RSA_MAX_BITS) {
		pa_err(err, errlen, "RSA key of %d bits is too large (maximum %d)",
		       bits, ID_RSA_MAX_BITS);
		goto out;
	}
	if (!BN_is_odd(n)) {
		pa_err(err, errlen, "RSA modulus is even");
		goto out;
	}
	if (!BN_is_odd(e) || BN_is_one(e)) {
		pa_err(err, errlen, "RSA public exponent must be odd and greater than 1");
		goto out;
	}
	if (BN_cmp(e, n) >= 0) {
		pa_err(err, errlen, "RSA public exponent is not smaller than the modulus");
		goto out;
	}
	if (rsa_roca_fingerprint(n)) {
		pa_err(err, errlen, "RSA modulus has the ROCA weakness (CVE-2017-15361)");
		goto out;
	}
	key->kty = ID_KTY_RSA;
	key->rsa_len = (size_t)BN_num_bytes(n);
	rc = 0;
out:
	BN_free(n);
	BN_free(e);
	return rc;
}

/*
 * Checks an EC public key: named curve on the list, point valid. The
 * quick check (not the point at infinity, coordinates in range, on the
 * curve) is the whole check on these curves: P-256, P-384 and P-521 have
 * cofactor 1, so a point on the curve is in the prime-order group, and
 * the full check's multiplication by the order (60 % of loading a bundle
 * key) proves nothing more (SP 800-56A rev. 3, 5.6.2.3.4). point_checked:
 * the import did the same checks (id_key_wrap).
 */
static int check_ec(struct id_key *key, bool point_checked, char *err, size_t errlen)
{
	EVP_PKEY_CTX *ctx = NULL;
	char name[64];
	size_t namelen = 0, i;
	int nid, rc = -1;

	if (EVP_PKEY_get_group_name(key->pkey, name, sizeof(name), &namelen) != 1) {
		pa_err(err, errlen, "EC key without a named curve");
		goto out;
	}
	nid = OBJ_txt2nid(name);
	for (i = 0; i < PA_ARRAY_SIZE(id_ec_curves); i++)
		if (id_ec_curves[i].nid == nid)
			break;
	if (nid == NID_undef || i == PA_ARRAY_SIZE(id_ec_curves)) {
		char esc[PA_ESCAPE_MAX];

		pa_err(err, errlen, "EC curve \"%s\" is not accepted (P-256, P-384, P-521 only)",
		       pa_escape(name, strnlen(name, sizeof(name)), esc, sizeof(esc)));
		goto out;
	}
	if (!point_checked) {
		ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);
		if (ctx == NULL || EVP_PKEY_public_check_quick(ctx) != 1) {
			pa_err(err, errlen, "EC public key is not a valid point of %s",
			       id_ec_curves[i].jwk_crv);
			goto out;
		}
	}
	if (BN_hex2bn(&key->order, id_ec_curves[i].order_hex) == 0) {
		pa_err(err, errlen, "out of memory");
		goto out;
	}
	key->kty = ID_KTY_EC;
	key->curve_nid = nid;
	key->coord_len = id_ec_curves[i].coord_len;
	rc = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

/* Validates key->pkey as a verification key of an accepted type. */
static int check_pkey(struct id_key *key, bool point_checked, char *err, size_t errlen)
{
	int rc;

	switch (EVP_PKEY_get_base_id(key->pkey)) {
	case EVP_PKEY_RSA:
		rc = check_rsa(key, err, errlen);
		break;
	case EVP_PKEY_EC:
		rc = check_ec(key, point_checked, err, errlen);
		break;
	case EVP_PKEY_ED25519:
		key->kty = ID_KTY_OKP;
		rc = 0;
		break;
	case EVP_PKEY_ED448:
		rc = pa_err(err, errlen, "Ed448 keys are not accepted (Ed25519 only)");
		break;
	default:
		rc = pa_err(err, errlen, "key type is not accepted (RSA, EC, Ed25519 only)");
		break;
	}
	ERR_clear_error();
	return rc;
}

/* Wraps pkey (taking one reference) after the same checks as a JWK. */
struct id_key *id_key_from_pkey(EVP_PKEY *pkey, const char *kid,
				char *err, size_t errlen)
{
	return id_key_wrap(pkey, kid, false, err, errlen);
}

struct id_key *id_key_wrap(EVP_PKEY *pkey, const char *kid, bool point_checked, char *err,
			   size_t errlen)
{
	struct id_key *key = NULL;

	if (pkey == NULL) {
		pa_err(err, errlen, "no key");
		return NULL;
	}
	key = calloc(1, sizeof(*key));
	if (key == NULL || (kid != NULL && (key->kid = strdup(kid)) == NULL) ||
	    EVP_PKEY_up_ref(pkey) != 1) {
		pa_err(err, errlen, "out of memory");
		goto fail;
	}
	key->pkey = pkey;
	if (check_pkey(key, point_checked, err, errlen) != 0)
		goto fail;
	return key;
fail:
	id_key_free(key);
	return NULL;
}

/* Whether key may verify alg: kty/crv must fit, and the JWK's own alg. */
bool id_key_allows(const struct id_key *key, enum id_alg alg)
{
	bool fits;

	if (key == NULL)
		return false;
	switch (alg) {
	case ID_ALG_RS256: case ID_ALG_RS384: case ID_ALG_RS512:
	case ID_ALG_PS256: case ID_ALG_PS384: case ID_ALG_PS512:
		fits = key->kty == ID_KTY_RSA;
		break;
	case ID_ALG_ES256:
		fits = key->kty == ID_KTY_EC && key->curve_nid == NID_X9_62_prime256v1;
		break;
	case ID_ALG_ES384:
		fits = key->kty == ID_KTY_EC && key->curve_nid == NID_secp384r1;
		break;
	case ID_ALG_ES512:
		fits = key->kty == ID_KTY_EC && key->curve_nid == NID_secp521r1;
		break;
	case ID_ALG_EDDSA:
		fits = key->kty == ID_KTY_OKP;
		break;
	default:
		fits = false;
		break;
	}
	if (fits && key->alg != NULL) {
		const char *name = id_alg_name(alg);

		fits = name != NULL && strcmp(key->alg, name) == 0;
	}
	return fits;
}

/*
 * Converts a raw JWS ECDSA signature (r||s, each exactly coord_len bytes)
 * into DER, refusing r or s outside [1, n-1]. *der is OPENSSL_malloc'd.
 */
static int ecdsa_raw_to_der(const struct id_key *key, const unsigned char *sig,
			    size_t siglen, unsigned char **der, int *derlen,
			    char *err, size_t errlen)
{
	ECDSA_SIG *esig = NULL;
	BIGNUM *r = NULL, *s = NULL;
	int rc = -1;

	*der = NULL;
	*derlen = 0;
	if (siglen != 2 * key->coord_len) {
		pa_err(err, errlen, "ECDSA signature is %zu bytes, expected %zu (raw r||s)",
		       siglen, 2 * key->coord_len);
		goto out;
	}
	r = BN_bin2bn(sig, (int)key->coord_len, NULL);
	s = BN_bin2bn(sig + key->coord_len, (int)key->coord_len, NULL);
	if (r == NULL || s == NULL) {
		pa_err(err, errlen, "out of memory");
		goto out;
	}
	if (BN_is_zero(r) || BN_is_zero(s) ||
	    BN_cmp(r, key->order) >= 0 || BN_cmp(s, key->order) >= 0) {
		pa_err(err, errlen, "ECDSA signature r or s is out of range");
		goto out;
	}
	esig = ECDSA_SIG_new();
	if (esig == NULL || ECDSA_SIG_set0(esig, r, s) != 1) {
		pa_err(err, errlen, "out of memory");
		goto out;
	}
	r = s = NULL; /* owned by esig now */
	*derlen = i2d_ECDSA_SIG(esig, der);
	if (*derlen <= 0) {
		*der = NULL;
		pa_err(err, errlen, "ECDSA signature cannot be encoded");
		goto out;
	}
	rc = 0;
out:
	ECDSA_SIG_free(esig);
	BN_clear_free(r); /* the token's signature: wiped like the token */
	BN_clear_free(s);
	return rc;
}

/* Verifies sig over msg with key under alg (see identity.h). */
int id_sig_verify(const struct id_key *key, enum id_alg alg,
		  const unsigned char *msg, size_t msglen,
		  const unsigned char *sig, size_t siglen,
		  char *err, size_t errlen)
{
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *der = NULL;
	const unsigned char *vsig = sig;
	size_t vsiglen = siglen;
	const EVP_MD *md = alg_md(alg);
	int derlen = 0, rc = -1;

	if (!id_key_allows(key, alg)) {
		const char *name = id_alg_name(alg);

		pa_err(err, errlen, "key cannot verify %s signatures",
		       name != NULL ? name : "these");
		goto out;
	}
	if (sig == NULL || siglen == 0) {
		pa_err(err, errlen, "empty signature");
		goto out;
	}
	switch (alg) {
	case ID_ALG_RS256: case ID_ALG_RS384: case ID_ALG_RS512:
	case ID_ALG_PS256: case ID_ALG_PS384: case ID_ALG_PS512:
		if (siglen != key->rsa_len) {
			pa_err(err, errlen, "RSA signature is %zu bytes, expected %zu",
			       siglen, key->rsa_len);
			goto out;
		}
		break;
	case ID_ALG_ES256: case ID_ALG_ES384: case ID_ALG_ES512:
		if (ecdsa_raw_to_der(key, sig, siglen, &der, &derlen, err, errlen) != 0)
			goto out;
		vsig = der;
		vsiglen = (size_t)derlen;
		break;
	case ID_ALG_EDDSA:
		if (siglen != 64) {
			pa_err(err, errlen, "Ed25519 signature is %zu bytes, expected 64", siglen);
			goto out;
		}
		break;
	default:
		pa_err(err, errlen, "algorithm not allowed");
		goto out;
	}
	mctx = EVP_MD_CTX_new();
	/*
	 * one verification per context: without FINALISE, OpenSSL 3.0's final
	 * step copies the whole context first so that it could go on
	 */
	if (mctx != NULL)
		EVP_MD_CTX_set_flags(mctx, EVP_MD_CTX_FLAG_FINALISE);
	if (mctx == NULL ||
	    EVP_DigestVerifyInit(mctx, &pctx, md, NULL, key->pkey) != 1) {
		pa_err(err, errlen, "cannot set up signature verification");
		goto out;
	}
	switch (alg) {
	case ID_ALG_PS256: case ID_ALG_PS384: case ID_ALG_PS512:
		/* RFC 7518 §3.5: MGF1 with the same hash, salt = hash length */
		if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, EVP_MD_get_size(md)) != 1) {
			pa_err(err, errlen, "cannot set up RSA-PSS verification");
			goto out;
		}
		break;
	case ID_ALG_RS256: case ID_ALG_RS384: case ID_ALG_RS512:
		if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
			pa_err(err, errlen, "cannot set up RSA verification");
			goto out;
		}
		break;
	default:
		break;
	}
	if (EVP_DigestVerify(mctx, vsig, vsiglen, msg, msglen) != 1) {
		pa_err(err, errlen, "signature does not verify");
		goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(mctx);
	/* the token's signature in DER: with the claims, enough to rebuild the token */
	if (der != NULL)
		OPENSSL_clear_free(der, (size_t)derlen);
	ERR_clear_error();
	return rc;
}
