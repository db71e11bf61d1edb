/*
 * tfx_jose.c - see tfx_jose.h: base64url, signatures, tokens, JWKs and key
 * sets by hand.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "tfx_jose.h"

/* ---- base64url and JWKs ------------------------------------------------------------------ */

char *tfx_b64u(const void *in, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);
	int n, i, o = 0;

	assert_non_null(out);
	n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	for (i = 0; i < n; i++) {
		if (out[i] == '=')
			break;
		out[o++] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	}
	out[o] = '\0';
	return out;
}

unsigned char *tfx_b64d(const char *s, size_t len, size_t *outlen)
{
	unsigned char *out = NULL;

	assert_int_equal(id_b64url_decode(s, len, &out, outlen), 0);
	return out;
}

BIGNUM *tfx_b64_bn(const char *s)
{
	size_t len;
	unsigned char *raw = tfx_b64d(s, strlen(s), &len);
	BIGNUM *bn = BN_bin2bn(raw, (int)len, NULL);

	assert_non_null(bn);
	free(raw);
	return bn;
}

const char *tfx_jwk_str(const json_t *jwk, const char *name)
{
	const char *s = json_string_value(json_object_get(jwk, name));

	assert_non_null(s);
	return s;
}

/* Sets jwk[name] to the base64url of bn (left-padded to len when len > 0). */
static void put_bn(json_t *jwk, const char *name, const BIGNUM *bn, int len)
{
	unsigned char buf[1024];
	char *s;
	int n = len > 0 ? BN_bn2binpad(bn, buf, len) : BN_bn2bin(bn, buf);

	assert_true(n > 0);
	s = tfx_b64u(buf, (size_t)n);
	assert_int_equal(json_object_set_new(jwk, name, json_string(s)), 0);
	free(s);
}

json_t *tfx_jwk_of(EVP_PKEY *pkey, const char *kid, const char *use, const char *alg)
{
	json_t *j = json_object();
	BIGNUM *a = NULL, *b = NULL;

	assert_non_null(j);
	if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA) {
		assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &a), 1);
		assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &b), 1);
		json_object_set_new(j, "kty", json_string("RSA"));
		put_bn(j, "n", a, 0);
		put_bn(j, "e", b, 0);
	} else if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC) {
		char grp[32];
		int clen;

		assert_int_equal(EVP_PKEY_get_group_name(pkey, grp, sizeof(grp), NULL), 1);
		clen = strcmp(grp, "prime256v1") == 0 ? 32 : strcmp(grp,
								    "secp384r1") == 0 ? 48 : 66;
		assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &a), 1);
		assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &b), 1);
		json_object_set_new(j, "kty", json_string("EC"));
		json_object_set_new(j, "crv", json_string(clen == 32 ? "P-256" :
							  clen == 48 ? "P-384" : "P-521"));
		put_bn(j, "x", a, clen);
		put_bn(j, "y", b, clen);
	} else {
		unsigned char raw[64];
		size_t rawlen = sizeof(raw);
		char *s;

		assert_int_equal(EVP_PKEY_get_raw_public_key(pkey, raw, &rawlen), 1);
		s = tfx_b64u(raw, rawlen);
		json_object_set_new(j, "kty", json_string("OKP"));
		json_object_set_new(j, "crv", json_string("Ed25519"));
		json_object_set_new(j, "x", json_string(s));
		free(s);
	}
	if (kid != NULL)
		json_object_set_new(j, "kid", json_string(kid));
	if (use != NULL)
		json_object_set_new(j, "use", json_string(use));
	if (alg != NULL)
		json_object_set_new(j, "alg", json_string(alg));
	BN_free(a);
	BN_free(b);
	return j;
}

/* ---- signatures and tokens --------------------------------------------------------------- */

/* The digest of a JOSE alg; NULL for EdDSA. */
static const EVP_MD *md_of(enum id_alg alg)
{
	switch (alg) {
	case ID_ALG_RS256: case ID_ALG_PS256: case ID_ALG_ES256: return EVP_sha256();
	case ID_ALG_RS384: case ID_ALG_PS384: case ID_ALG_ES384: return EVP_sha384();
	case ID_ALG_RS512: case ID_ALG_PS512: case ID_ALG_ES512: return EVP_sha512();
	default: return NULL;
	}
}

/* Bytes per coordinate (and per r, s) of the curve of an ES* alg. */
static size_t coord_of(enum id_alg alg)
{
	return alg == ID_ALG_ES256 ? 32 : alg == ID_ALG_ES384 ? 48 : 66;
}

unsigned char *tfx_sign_msg(enum id_alg alg, EVP_PKEY *pkey, const char *msg, int flags,
			    size_t *siglen)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *sig = NULL, *raw;
	size_t len = 0;

	assert_non_null(mctx);
	assert_int_equal(EVP_DigestSignInit(mctx, &pctx, md_of(alg), NULL, pkey), 1);
	if (alg >= ID_ALG_PS256 && alg <= ID_ALG_PS512) {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md_of(alg)), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
			(flags & TFX_SIGN_SALT0) ? 0 : RSA_PSS_SALTLEN_DIGEST), 1);
	}
	assert_int_equal(EVP_DigestSign(mctx, NULL, &len, (const unsigned char *)msg,
					strlen(msg)), 1);
	sig = malloc(len + 1); /* one spare byte for TFX_SIG_RSA_PAD0 */
	assert_non_null(sig);
	assert_int_equal(EVP_DigestSign(mctx, sig, &len, (const unsigned char *)msg,
					strlen(msg)), 1);
	EVP_MD_CTX_free(mctx);
	if (flags & TFX_SIG_RSA_PAD0) {
		memmove(sig + 1, sig, len);
		sig[0] = 0;
		len++;
	}
	if (alg >= ID_ALG_ES256 && alg <= ID_ALG_ES512 && !(flags & TFX_SIGN_DER)) {
		const unsigned char *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
		const BIGNUM *r, *s;
		size_t c = coord_of(alg);

		assert_non_null(es);
		ECDSA_SIG_get0(es, &r, &s);
		raw = malloc(2 * c);
		assert_non_null(raw);
		assert_int_equal(BN_bn2binpad(r, raw, (int)c), (int)c);
		assert_int_equal(BN_bn2binpad(s, raw + c, (int)c), (int)c);
		ECDSA_SIG_free(es);
		free(sig);
		sig = raw;
		len = 2 * c;
		if (flags & TFX_SIG_ZERO)
			memset(sig, 0, len);
		if (flags & TFX_SIG_R_IS_N) {
			EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);

			assert_non_null(g);
			assert_int_equal(BN_bn2binpad(EC_GROUP_get0_order(g), sig, 32), 32);
			EC_GROUP_free(g);
		}
	}
	if (flags & TFX_SIG_FLIP)
		sig[len / 2] ^= 0x01;
	*siglen = len;
	return sig;
}

/* HMAC-SHA256 of msg keyed with the PEM encoding of an RSA public key. */
static unsigned char *hmac_with_pubkey(EVP_PKEY *rsa, const char *msg, size_t *siglen)
{
	BIO *bio = BIO_new(BIO_s_mem());
	unsigned char *sig = malloc(EVP_MAX_MD_SIZE);
	char *pem = NULL;
	long pemlen;

	assert_non_null(bio);
	assert_non_null(sig);
	assert_int_equal(PEM_write_bio_PUBKEY(bio, rsa), 1);
	pemlen = BIO_get_mem_data(bio, &pem);
	assert_true(pemlen > 0);
	assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, pem, (size_t)pemlen,
				  (const unsigned char *)msg, strlen(msg), sig,
				  EVP_MAX_MD_SIZE, siglen));
	BIO_free(bio);
	return sig;
}

char *tfx_token(enum id_alg alg, EVP_PKEY *pkey, const char *header, const char *claims,
		int flags)
{
	char *h = tfx_b64u(header, strlen(header)), *p = tfx_b64u(claims, strlen(claims));
	char *input = NULL, *sig64 = NULL, *tok = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0;

	assert_true(asprintf(&input, "%s.%s", h, p) > 0);
	if (flags & TFX_SIGN_HS_PUB)
		sig = hmac_with_pubkey(pkey, input, &siglen);
	else if (!(flags & TFX_SIG_EMPTY))
		sig = tfx_sign_msg(alg, pkey, input, flags, &siglen);
	sig64 = sig != NULL ? tfx_b64u(sig, siglen) : strdup("");
	assert_true(asprintf(&tok, "%s.%s", input, sig64) > 0);
	free(h);
	free(p);
	free(input);
	free(sig);
	free(sig64);
	return tok;
}

/* ---- key sets ---------------------------------------------------------------------------- */

struct id_keyset *tfx_keyset_parse(json_t *doc, enum id_keyset_kind kind, char *err,
				   size_t errlen)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	struct id_keyset *set;

	assert_non_null(text);
	set = id_keyset_parse(text, strlen(text), kind, err, errlen);
	free(text);
	json_decref(doc);
	return set;
}

void tfx_jwk_refused(json_t *jwk, const char *reason)
{
	char err[512] = "";
	struct id_keyset *set = tfx_keyset_parse(json_pack("{s:[o]}", "keys", jwk),
						 ID_KEYSET_OIDC, err, sizeof(err));

	if (set != NULL || strstr(err, reason) == NULL)
		print_error("expected \"%s\", got \"%s\"\n", reason, err);
	assert_null(set);
	assert_non_null(strstr(err, reason));
}

void tfx_jwk_ignored_as(json_t *jwk, enum id_keyset_kind kind, const char *reason)
{
	char err[512] = "";
	struct id_keyset *set = tfx_keyset_parse(json_pack("{s:[o]}", "keys", jwk), kind, err,
						 sizeof(err));
	const char *notice = id_keyset_notice(set, 0);

	if (set == NULL || notice == NULL || strstr(notice, reason) == NULL)
		print_error("expected \"%s\", got \"%s\" / \"%s\"\n", reason, err,
			    notice != NULL ? notice : "(no notice)");
	assert_non_null(set);
	assert_int_equal(id_keyset_count(set), 0);
	assert_int_equal(id_keyset_ignored(set), 1);
	assert_non_null(notice);
	assert_non_null(strstr(notice, "key 0 ignored: "));
	assert_non_null(strstr(notice, reason));
	id_keyset_free(set);
}

void tfx_jwk_ignored(json_t *jwk, const char *reason)
{
	tfx_jwk_ignored_as(jwk, ID_KEYSET_OIDC, reason);
}
