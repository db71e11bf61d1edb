/*
 * test_sign.c - unit tests of JWS signing (identity/sign.c): every
 * algorithm, the published JWK, keys saved and loaded again, claims the
 * signer refuses. The key file's own rules (RFC 7638/8037 kids of known
 * keys, what save and load refuse) are in test_sign_keyfile.c.
 *
 * Signatures are checked twice: with plain OpenSSL EVP_DigestVerify on a
 * public key the test builds itself from the published JWK (so a bug in
 * the verifier cannot hide a bug in the signer), and through the identity
 * engine's own id_jws_parse + id_jws_verify (so the two agree).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "identity.h"
#include "util.h"
#include "tfx.h"
#include "tfx_jose.h"

#define ERRLEN 512

/* What the test expects of each algorithm, independently of sign.c. */
static const struct alg_case {
	enum id_alg alg;
	const char *name;
	const char *md;	       /* digest name, NULL for EdDSA */
	int padding;	       /* RSA padding, 0 when not RSA */
	size_t coord_len;      /* EC coordinate length, 0 when not EC */
	const char *kty, *crv; /* JWK kty and crv (crv NULL for RSA) */
	size_t sig_len;	       /* JOSE signature length */
} cases[] = {
	{ ID_ALG_RS256, "RS256", "SHA256", RSA_PKCS1_PADDING, 0, "RSA", NULL, 384 },
	{ ID_ALG_RS384, "RS384", "SHA384", RSA_PKCS1_PADDING, 0, "RSA", NULL, 384 },
	{ ID_ALG_RS512, "RS512", "SHA512", RSA_PKCS1_PADDING, 0, "RSA", NULL, 384 },
	{ ID_ALG_PS256, "PS256", "SHA256", RSA_PKCS1_PSS_PADDING, 0, "RSA", NULL, 384 },
	{ ID_ALG_PS384, "PS384", "SHA384", RSA_PKCS1_PSS_PADDING, 0, "RSA", NULL, 384 },
	{ ID_ALG_PS512, "PS512", "SHA512", RSA_PKCS1_PSS_PADDING, 0, "RSA", NULL, 384 },
	{ ID_ALG_ES256, "ES256", "SHA256", 0, 32, "EC", "P-256", 64 },
	{ ID_ALG_ES384, "ES384", "SHA384", 0, 48, "EC", "P-384", 96 },
	{ ID_ALG_ES512, "ES512", "SHA512", 0, 66, "EC", "P-521", 132 },
	{ ID_ALG_EDDSA, "EdDSA", NULL, 0, 0, "OKP", "Ed25519", 64 },
};
#define N_CASES (sizeof(cases) / sizeof(cases[0]))

/* One generated signer per case, made once for the whole run. */
static struct id_signer *signers[N_CASES];

static int group_setup(void **state)
{
	char err[ERRLEN];
	size_t i;

	(void)state;
	for (i = 0; i < N_CASES; i++) {
		signers[i] = id_signer_generate(cases[i].alg, err, sizeof(err));
		if (signers[i] == NULL) {
			fprintf(stderr, "generate %s: %s\n", cases[i].name, err);
			return -1;
		}
	}
	return 0;
}

static int group_teardown(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < N_CASES; i++)
		id_signer_free(signers[i]);
	return 0;
}

/* Each test's directory, and DIR/key.pem in it. */
static int setup(void **state)
{
	*state = tfx_file_new("sign", "key.pem");
	return *state != NULL ? 0 : -1;
}

/* Builds an OpenSSL public key from a JWK, without the identity engine. */
static EVP_PKEY *pub_from_jwk(const json_t *jwk, const struct alg_case *c)
{
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	BIGNUM *n = NULL, *e = NULL;
	unsigned char *x = NULL, *y = NULL, *pt = NULL;
	size_t xl = 0, yl = 0;

	if (strcmp(c->kty, "OKP") == 0) {
		x = tfx_b64d(tfx_jwk_str(jwk, "x"), strlen(tfx_jwk_str(jwk, "x")), &xl);
		assert_int_equal(xl, 32);
		pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, xl);
		free(x);
		assert_non_null(pkey);
		return pkey;
	}
	bld = OSSL_PARAM_BLD_new();
	assert_non_null(bld);
	if (strcmp(c->kty, "RSA") == 0) {
		n = tfx_b64_bn(tfx_jwk_str(jwk, "n"));
		e = tfx_b64_bn(tfx_jwk_str(jwk, "e"));
		assert_true(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n));
		assert_true(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e));
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	} else {
		const char *group = c->coord_len == 32 ? "prime256v1" :
				    c->coord_len == 48 ? "secp384r1" : "secp521r1";

		x = tfx_b64d(tfx_jwk_str(jwk, "x"), strlen(tfx_jwk_str(jwk, "x")), &xl);
		y = tfx_b64d(tfx_jwk_str(jwk, "y"), strlen(tfx_jwk_str(jwk, "y")), &yl);
		assert_int_equal(xl, c->coord_len);
		assert_int_equal(yl, c->coord_len);
		pt = malloc(1 + xl + yl);
		assert_non_null(pt);
		pt[0] = 0x04;
		memcpy(pt + 1, x, xl);
		memcpy(pt + 1 + xl, y, yl);
		assert_true(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
							    group, 0));
		assert_true(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
							     pt, 1 + xl + yl));
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	assert_non_null(params);
	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params), 1);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	BN_free(n);
	BN_free(e);
	free(x);
	free(y);
	free(pt);
	return pkey;
}

/*
 * Verifies a JOSE signature with plain OpenSSL. padding overrides the
 * case's RSA padding (to show PS and RS are not interchangeable).
 * Returns 1 when valid, 0 otherwise.
 */
static int verify_raw(EVP_PKEY *pub, const struct alg_case *c, int padding,
		      const unsigned char *msg, size_t msglen,
		      const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md = c->md != NULL ? EVP_get_digestbyname(c->md) : NULL;
	unsigned char *der = NULL;
	int derlen, ok = 0;

	assert_non_null(mctx);
	if (c->coord_len > 0) {
		ECDSA_SIG *es = ECDSA_SIG_new();
		BIGNUM *r, *s;

		if (siglen != 2 * c->coord_len) {
			ECDSA_SIG_free(es);
			EVP_MD_CTX_free(mctx);
			return 0;
		}
		r = BN_bin2bn(sig, (int)c->coord_len, NULL);
		s = BN_bin2bn(sig + c->coord_len, (int)c->coord_len, NULL);
		assert_int_equal(ECDSA_SIG_set0(es, r, s), 1);
		derlen = i2d_ECDSA_SIG(es, &der);
		assert_true(derlen > 0);
		ECDSA_SIG_free(es);
		sig = der;
		siglen = (size_t)derlen;
	}
	assert_int_equal(EVP_DigestVerifyInit(mctx, &pctx, md, NULL, pub), 1);
	if (padding != 0) {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, padding), 1);
		if (padding == RSA_PKCS1_PSS_PADDING) {
			/* exactly the digest length, not "auto" */
			assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, EVP_MD_get_size(md)), 1);
			assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md), 1);
		}
	}
	ok = EVP_DigestVerify(mctx, sig, siglen, msg, msglen) == 1;
	ERR_clear_error();
	OPENSSL_free(der);
	EVP_MD_CTX_free(mctx);
	return ok;
}

static json_t *sample_claims(void)
{
	json_t *c = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s}",
			      "sub", "spiffe://example.org/agents/bot", "aud",
			      "spiffe://example.org/host/web01", "exp", (json_int_t)2000000000,
			      "iat", (json_int_t)1999999700, "jti", "j-1", "task", "t \xc3\xa9\"/");

	assert_non_null(c);
	return c;
}

/*
 * Checks a token signed by s for case c: three segments, the exact header
 * and payload bytes, and a signature plain OpenSSL accepts (and rejects
 * over altered input).
 */
static void check_token(const char *token, const struct id_signer *s,
			const struct alg_case *c, const json_t *claims)
{
	const char *d1 = strchr(token, '.'), *d2;
	unsigned char *hdr, *payload, *sig;
	size_t hlen, plen, slen;
	char want_hdr[160];
	char *want_payload;
	json_t *jwk;
	EVP_PKEY *pub;
	unsigned char *msg;

	assert_non_null(d1);
	d2 = strchr(d1 + 1, '.');
	assert_non_null(d2);
	assert_null(strchr(d2 + 1, '.'));
	assert_true(strlen(token) <= ID_TOKEN_MAX);

	hdr = tfx_b64d(token, (size_t)(d1 - token), &hlen);
	snprintf(want_hdr, sizeof(want_hdr), "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}",
		 c->name, id_signer_kid(s));
	assert_int_equal(hlen, strlen(want_hdr));
	assert_memory_equal(hdr, want_hdr, hlen);

	payload = tfx_b64d(d1 + 1, (size_t)(d2 - d1 - 1), &plen);
	want_payload = json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS);
	assert_non_null(want_payload);
	assert_int_equal(plen, strlen(want_payload));
	assert_memory_equal(payload, want_payload, plen);

	sig = tfx_b64d(d2 + 1, strlen(d2 + 1), &slen);
	assert_int_equal(slen, c->sig_len);

	jwk = id_signer_public_jwk(s, NULL);
	assert_non_null(jwk);
	pub = pub_from_jwk(jwk, c);
	msg = (unsigned char *)strndup(token, (size_t)(d2 - token));
	assert_non_null(msg);
	assert_true(verify_raw(pub, c, c->padding, msg, (size_t)(d2 - token), sig, slen));
	/* one changed byte of the signing input breaks it */
	msg[d1 - token + 1] ^= 0x01;
	assert_false(verify_raw(pub, c, c->padding, msg, (size_t)(d2 - token), sig, slen));
	msg[d1 - token + 1] ^= 0x01;
	/* RS and PS are not interchangeable */
	if (c->padding == RSA_PKCS1_PADDING)
		assert_false(verify_raw(pub, c, RSA_PKCS1_PSS_PADDING, msg,
					(size_t)(d2 - token), sig, slen));
	if (c->padding == RSA_PKCS1_PSS_PADDING)
		assert_false(verify_raw(pub, c, RSA_PKCS1_PADDING, msg,
					(size_t)(d2 - token), sig, slen));

	free(msg);
	EVP_PKEY_free(pub);
	json_decref(jwk);
	free(hdr);
	free(payload);
	free(want_payload);
	free(sig);
}

static void test_generate_refuses_none(void **state)
{
	char err[ERRLEN] = "";

	(void)state;
	assert_null(id_signer_generate(ID_ALG_NONE, err, sizeof(err)));
	assert_non_null(strstr(err, "none"));
	err[0] = '\0';
	assert_null(id_signer_generate((enum id_alg)99, err, sizeof(err)));
	assert_true(err[0] != '\0');
}

static void test_sign_verify_every_alg(void **state)
{
	char err[ERRLEN];
	json_t *claims = sample_claims();
	size_t i;

	(void)state;
	for (i = 0; i < N_CASES; i++) {
		char *token = id_sign_jwt(signers[i], claims, err, sizeof(err));

		if (token == NULL)
			fail_msg("%s: %s", cases[i].name, err);
		check_token(token, signers[i], &cases[i], claims);
		pa_free_secret(token);
	}
	json_decref(claims);
}

/* Two signatures of the same claims: ECDSA and PSS are randomized, the
 * others deterministic; all verify. */
static void test_sign_twice(void **state)
{
	char err[ERRLEN];
	json_t *claims = sample_claims();
	size_t i;

	(void)state;
	for (i = 0; i < N_CASES; i++) {
		char *t1 = id_sign_jwt(signers[i], claims, err, sizeof(err));
		char *t2 = id_sign_jwt(signers[i], claims, err, sizeof(err));
		bool randomized = cases[i].coord_len > 0 ||
				  cases[i].padding == RSA_PKCS1_PSS_PADDING;

		assert_non_null(t1);
		assert_non_null(t2);
		if (randomized)
			assert_string_not_equal(t1, t2);
		else
			assert_string_equal(t1, t2);
		check_token(t2, signers[i], &cases[i], claims);
		pa_free_secret(t1);
		pa_free_secret(t2);
	}
	json_decref(claims);
}

/* The public JWK: exactly the expected members, a kid that is the RFC 7638
 * thumbprint of those members (recomputed here), and "use" only when asked. */
static void test_public_jwk(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < N_CASES; i++) {
		const struct alg_case *c = &cases[i];
		json_t *jwk = id_signer_public_jwk(signers[i], "jwt-svid");
		json_t *bare = id_signer_public_jwk(signers[i], NULL);
		char canon[2048];
		unsigned char md[32];
		unsigned int mdlen;
		char *kid;

		assert_non_null(jwk);
		assert_non_null(bare);
		assert_string_equal(tfx_jwk_str(jwk, "kty"), c->kty);
		assert_string_equal(tfx_jwk_str(jwk, "alg"), c->name);
		assert_string_equal(tfx_jwk_str(jwk, "use"), "jwt-svid");
		assert_null(json_object_get(bare, "use"));
		assert_string_equal(tfx_jwk_str(jwk, "kid"), id_signer_kid(signers[i]));
		assert_null(json_object_get(jwk, "d"));
		assert_null(json_object_get(jwk, "p"));
		if (strcmp(c->kty, "RSA") == 0) {
			assert_int_equal(json_object_size(jwk), 6); /* kty n e kid alg use */
			assert_string_equal(tfx_jwk_str(jwk, "e"), "AQAB");
			assert_int_equal(strlen(tfx_jwk_str(jwk, "n")), 512); /* 384 bytes */
			snprintf(canon, sizeof(canon), "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}",
				 tfx_jwk_str(jwk, "e"), tfx_jwk_str(jwk, "n"));
		} else if (strcmp(c->kty, "EC") == 0) {
			assert_int_equal(json_object_size(jwk), 7);
			assert_string_equal(tfx_jwk_str(jwk, "crv"), c->crv);
			snprintf(canon, sizeof(canon),
				 "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
				 c->crv, tfx_jwk_str(jwk, "x"), tfx_jwk_str(jwk, "y"));
		} else {
			assert_int_equal(json_object_size(jwk), 6);
			assert_string_equal(tfx_jwk_str(jwk, "crv"), "Ed25519");
			snprintf(canon, sizeof(canon), "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}",
				 tfx_jwk_str(jwk, "x"));
		}
		assert_int_equal(EVP_Digest(canon, strlen(canon), md, &mdlen, EVP_sha256(), NULL), 1);
		kid = id_b64url_encode(md, sizeof(md));
		assert_non_null(kid);
		assert_string_equal(kid, id_signer_kid(signers[i]));
		free(kid);
		json_decref(jwk);
		json_decref(bare);
	}
}

static void test_save_load_roundtrip(void **state)
{
	struct tfx_file *f = *state;
	json_t *claims = sample_claims();
	size_t i;

	for (i = 0; i < N_CASES; i++) {
		char path[160];
		struct stat st;
		struct id_signer *s;
		char *token;

		snprintf(path, sizeof(path), "%s/%s.pem", f->tmp.dir, cases[i].name);
		assert_int_equal(id_signer_save(signers[i], path, f->err, sizeof(f->err)), 0);
		assert_int_equal(lstat(path, &st), 0);
		assert_true(S_ISREG(st.st_mode));
		assert_int_equal(st.st_mode & 07777, 0600);
		s = id_signer_load(path, cases[i].alg, f->err, sizeof(f->err));
		if (s == NULL)
			fail_msg("%s: %s", cases[i].name, f->err);
		assert_string_equal(id_signer_kid(s), id_signer_kid(signers[i]));
		/* the loaded key signs what the original's public key verifies */
		token = id_sign_jwt(s, claims, f->err, sizeof(f->err));
		assert_non_null(token);
		check_token(token, signers[i], &cases[i], claims);
		pa_free_secret(token);
		id_signer_free(s);
	}
	/* a key of the wrong type or curve is refused */
	{
		char p256[160], p384[160], ed[160];

		snprintf(p256, sizeof(p256), "%s/ES256.pem", f->tmp.dir);
		snprintf(p384, sizeof(p384), "%s/ES384.pem", f->tmp.dir);
		snprintf(ed, sizeof(ed), "%s/EdDSA.pem", f->tmp.dir);
		assert_null(id_signer_load(p256, ID_ALG_ES384, f->err, sizeof(f->err)));
		assert_non_null(strstr(f->err, "P-384"));
		assert_null(id_signer_load(p384, ID_ALG_ES512, f->err, sizeof(f->err)));
		assert_non_null(strstr(f->err, "P-521"));
		assert_null(id_signer_load(p256, ID_ALG_RS256, f->err, sizeof(f->err)));
		assert_non_null(strstr(f->err, "RSA"));
		assert_null(id_signer_load(ed, ID_ALG_ES256, f->err, sizeof(f->err)));
		assert_null(id_signer_load(p256, ID_ALG_NONE, f->err, sizeof(f->err)));
	}
	json_decref(claims);
}

static void test_sign_refuses_bad_claims(void **state)
{
	char err[ERRLEN];
	json_t *arr = json_array();
	json_t *big = json_object();
	char *longstr = malloc(ID_TOKEN_MAX);

	(void)state;
	assert_non_null(arr);
	assert_non_null(longstr);
	assert_null(id_sign_jwt(signers[6], arr, err, sizeof(err)));
	assert_non_null(strstr(err, "JSON object"));
	assert_null(id_sign_jwt(signers[6], NULL, err, sizeof(err)));
	assert_null(id_sign_jwt(NULL, big, err, sizeof(err)));
	/* claims that cannot fit in a token the verifier would accept */
	memset(longstr, 'a', ID_TOKEN_MAX - 1);
	longstr[ID_TOKEN_MAX - 1] = '\0';
	assert_int_equal(json_object_set_new(big, "x", json_string(longstr)), 0);
	assert_null(id_sign_jwt(signers[6], big, err, sizeof(err)));
	assert_non_null(strstr(err, "too large"));
	json_decref(arr);
	json_decref(big);
	free(longstr);
}

/* The engine's own parser and verifier accept what the signer makes. */
static void test_roundtrip_through_jws_verify(void **state)
{
	char err[ERRLEN];
	json_t *claims = sample_claims();
	size_t i;

	(void)state;
	for (i = 0; i < N_CASES; i++) {
		struct id_jws jws;
		json_t *jwk = id_signer_public_jwk(signers[i], "jwt-svid");
		struct id_key *key = id_key_from_jwk(jwk, err, sizeof(err));
		struct id_key *other_key;
		json_t *other_jwk;
		char *token = id_sign_jwt(signers[i], claims, err, sizeof(err));
		size_t len;

		if (key == NULL)
			fail_msg("%s: id_key_from_jwk: %s", cases[i].name, err);
		assert_non_null(token);
		len = strlen(token);
		if (id_jws_parse(token, len, true, &jws, err, sizeof(err)) != 0)
			fail_msg("%s: id_jws_parse: %s", cases[i].name, err);
		assert_int_equal(jws.alg, cases[i].alg);
		assert_true(json_equal(jws.claims, claims));
		assert_string_equal(json_string_value(json_object_get(jws.header, "kid")),
				    id_signer_kid(signers[i]));
		assert_string_equal(id_key_kid(key), id_signer_kid(signers[i]));
		if (id_jws_verify(&jws, key, err, sizeof(err)) != 0)
			fail_msg("%s: id_jws_verify: %s", cases[i].name, err);
		id_jws_clear(&jws);

		/* a changed claims byte is caught by the verifier */
		token[strchr(token, '.') - token + 2] ^= 0x01;
		if (id_jws_parse(token, len, false, &jws, err, sizeof(err)) == 0) {
			assert_int_not_equal(id_jws_verify(&jws, key, err, sizeof(err)), 0);
			id_jws_clear(&jws);
		}
		token[strchr(token, '.') - token + 2] ^= 0x01;

		/* the key of another signer does not verify it */
		other_jwk = id_signer_public_jwk(signers[(i + 1) % N_CASES], NULL);
		other_key = id_key_from_jwk(other_jwk, err, sizeof(err));
		assert_non_null(other_key);
		assert_int_equal(id_jws_parse(token, len, true, &jws, err, sizeof(err)), 0);
		assert_int_not_equal(id_jws_verify(&jws, other_key, err, sizeof(err)), 0);
		id_jws_clear(&jws);

		id_key_free(other_key);
		json_decref(other_jwk);
		id_key_free(key);
		json_decref(jwk);
		pa_free_secret(token);
	}
	json_decref(claims);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_refuses_none),
		cmocka_unit_test(test_sign_verify_every_alg),
		cmocka_unit_test(test_sign_twice),
		cmocka_unit_test(test_public_jwk),
		cmocka_unit_test_setup_teardown(test_save_load_roundtrip, setup, tfx_tmp_teardown),
		cmocka_unit_test(test_sign_refuses_bad_claims),
		cmocka_unit_test(test_roundtrip_through_jws_verify),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
