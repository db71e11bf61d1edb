/*
 * test_identity_keys.c - unit tests of the identity engine's pieces:
 * base64url, algorithm names, the SPIFFE ID parser, JWKs (sizes, ROCA,
 * points off the curve, private members, the rules of each member), which
 * key allows which algorithm, and signature verification called directly.
 * Keys and JWKs are made with plain OpenSSL (tests/lib/tfx_jose.c).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "identity.h"
#include "util.h"
#include "tfx.h"
#include "tfx_jose.h"

/* Strict base64url decoding table, and encoding of the accepted inputs. */
static void test_b64url(void **state)
{
	static const struct {
		const char *in;
		const char *out; /* NULL: must be refused */
	} t[] = {
		{ "", "" }, { "Zg", "f" }, { "Zm8", "fo" }, { "Zm9v", "foo" },
		{ "Zm9vYg", "foob" }, { "-_8", "\xfb\xff" },
		{ "Zg==", NULL }, { "Zg=", NULL }, { "Z", NULL }, { "Zm9vY", NULL },
		{ "Zh", NULL },	  /* trailing bits */ { "Zm9", NULL }, /* trailing bits */
		{ "Zm+v", NULL }, { "Zm/v", NULL }, { "Zm 9", NULL }, { "Zm9v\n", NULL },
	};
	unsigned char *out = NULL;
	size_t outlen = 0, i;
	char *enc;

	(void)state;
	for (i = 0; i < PA_ARRAY_SIZE(t); i++) {
		int rc = id_b64url_decode(t[i].in, strlen(t[i].in), &out, &outlen);

		if (t[i].out == NULL) {
			assert_int_equal(rc, -1);
			assert_null(out);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(outlen, strlen(t[i].out));
		assert_memory_equal(out, t[i].out, outlen);
		assert_int_equal(out[outlen], 0);
		enc = id_b64url_encode(out, outlen);
		assert_string_equal(enc, t[i].in);
		free(enc);
		free(out);
	}
	/* a NUL byte inside the counted length is not part of the alphabet */
	assert_int_equal(id_b64url_decode("Zm\0v", 4, &out, &outlen), -1);
}

/* Every length 0..256 encodes like OpenSSL and decodes back. */
static void test_b64url_roundtrip(void **state)
{
	unsigned char buf[256], *out = NULL;
	size_t n, outlen;
	char *enc;

	(void)state;
	for (n = 0; n < sizeof(buf); n++)
		buf[n] = (unsigned char)(n * 37 + 11);
	for (n = 0; n <= sizeof(buf); n++) {
		char *ref = tfx_b64u(buf, n);

		enc = id_b64url_encode(buf, n);
		assert_string_equal(enc, ref);
		assert_int_equal(id_b64url_decode(enc, strlen(enc), &out, &outlen), 0);
		assert_int_equal(outlen, n);
		assert_memory_equal(out, buf, n);
		free(out);
		free(enc);
		free(ref);
	}
}

/* The allow-list is exact and case-sensitive. */
static void test_alg_names(void **state)
{
	static const char *const names[] = { "RS256", "RS384", "RS512", "PS256", "PS384",
					     "PS512", "ES256", "ES384", "ES512", "EdDSA" };
	size_t i;

	(void)state;
	for (i = 0; i < PA_ARRAY_SIZE(names); i++)
		assert_string_equal(id_alg_name(id_alg_from_name(names[i])), names[i]);
	assert_int_equal(id_alg_from_name("none"), ID_ALG_NONE);
	assert_int_equal(id_alg_from_name("HS256"), ID_ALG_NONE);
	assert_int_equal(id_alg_from_name("rs256"), ID_ALG_NONE);
	assert_int_equal(id_alg_from_name("EdDSA "), ID_ALG_NONE);
	assert_int_equal(id_alg_from_name(NULL), ID_ALG_NONE);
	assert_null(id_alg_name(ID_ALG_NONE));
}

/* SPIFFE ID parser: valid and invalid IDs (go-spiffe behaviour), limits. */
static void test_spiffe_id_table(void **state)
{
	static const struct {
		const char *id;
		const char *td; /* NULL: invalid */
	} t[] = {
		{ "spiffe://example.org", "example.org" },
		{ "spiffe://example.org/workload", "example.org" },
		{ "spiffe://example.org/ns/prod/sa/Agent_1.v-2", "example.org" },
		{ "spiffe://a-b.c_d.0", "a-b.c_d.0" },
		{ "spiffe://example.org/...", "example.org" },
		{ "spiffe://example.org/.a/..b", "example.org" },
		{ "", NULL },
		{ "example.org/x", NULL },
		{ "http://example.org/x", NULL },
		{ "SPIFFE://example.org/x", NULL },
		{ "spiffe:/example.org/x", NULL },
		{ "spiffe://", NULL },
		{ "spiffe:///x", NULL },
		{ "spiffe://Example.org/x", NULL },
		{ "spiffe://example.org:8080/x", NULL },
		{ "spiffe://user@example.org/x", NULL },
		{ "spiffe://exa mple.org/x", NULL },
		{ "spiffe://example%2Eorg/x", NULL },
		{ "spiffe://example.org/", NULL },
		{ "spiffe://example.org//x", NULL },
		{ "spiffe://example.org/x/", NULL },
		{ "spiffe://example.org/./x", NULL },
		{ "spiffe://example.org/x/..", NULL },
		{ "spiffe://example.org/x?y=1", NULL },
		{ "spiffe://example.org/x#frag", NULL },
		{ "spiffe://example.org?y=1", NULL },
		{ "spiffe://example.org/%41", NULL },
		{ "spiffe://example.org/a b", NULL },
		{ "spiffe://example.org/\xc3\xa9", NULL },
	};
	char td[256], err[256], big[2100];
	size_t i;

	(void)state;
	for (i = 0; i < PA_ARRAY_SIZE(t); i++) {
		int rc = id_spiffe_id_parse(t[i].id, td, sizeof(td), err, sizeof(err));

		if (t[i].td != NULL) {
			if (rc != 0)
				print_error("valid \"%s\" refused: %s\n", t[i].id, err);
			assert_int_equal(rc, 0);
			assert_string_equal(td, t[i].td);
		} else {
			if (rc == 0)
				print_error("invalid \"%s\" accepted\n", t[i].id);
			assert_int_equal(rc, -1);
		}
	}
	/* 2048 bytes is the limit of a SPIFFE ID */
	memcpy(big, "spiffe://example.org/", 21);
	memset(big + 21, 'a', 2048 - 21);
	big[2048] = '\0';
	assert_int_equal(id_spiffe_id_parse(big, td, sizeof(td), err, sizeof(err)), 0);
	big[2048] = 'a';
	big[2049] = '\0';
	assert_int_equal(id_spiffe_id_parse(big, td, sizeof(td), err, sizeof(err)), -1);
	/* 255 bytes is the limit of a trust domain name */
	memcpy(big, "spiffe://", 9);
	memset(big + 9, 'a', 255);
	big[9 + 255] = '\0';
	assert_int_equal(id_spiffe_id_parse(big, td, sizeof(td), err, sizeof(err)), 0);
	assert_int_equal(strlen(td), 255);
	assert_int_equal(id_spiffe_id_parse(big, td, 255, err, sizeof(err)), -1);
	big[9 + 255] = 'a';
	big[9 + 256] = '\0';
	assert_int_equal(id_spiffe_id_parse(big, td, sizeof(td), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "longer than 255"));
	/* no buffer for the trust domain is fine */
	assert_int_equal(id_spiffe_id_parse("spiffe://example.org/x", NULL, 0, NULL, 0), 0);
}

/* An RSA key under 2048 bits is refused in a key set and as an EVP_PKEY. */
static void test_jwk_rsa_1024_refused(void **state)
{
	EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	char err[256] = "";

	(void)state;
	assert_non_null(small);
	tfx_jwk_ignored(tfx_jwk_of(small, "small", "sig", NULL),
			"RSA key of 1024 bits (accepted: 2048 to 16384)");
	assert_null(id_key_from_pkey(small, "small", err, sizeof(err)));
	assert_non_null(strstr(err, "too small"));
	EVP_PKEY_free(small);
}

/*
 * A modulus with the ROCA fingerprint (n = 1 mod every small prime of the
 * test, 1 being in every subgroup) is refused; n + 2 is loaded, so the
 * fingerprint is what refuses the first one.
 */
static void test_jwk_roca_refused(void **state)
{
	static const unsigned primes[] = { 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53,
		59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149,
		151, 157, 163, 167 };
	BIGNUM *m = BN_new(), *t = BN_new(), *n = BN_new();
	BN_CTX *ctx = BN_CTX_new();
	unsigned char buf[256];
	char *n64, err[256] = "";
	struct id_key *key;
	json_t *jwk;
	size_t i;

	(void)state;
	assert_non_null(ctx);
	assert_int_equal(BN_one(m), 1);
	for (i = 0; i < PA_ARRAY_SIZE(primes); i++)
		assert_int_equal(BN_mul_word(m, primes[i]), 1);
	do { /* M odd, t even: n = M t + 1 is odd; retry until n has 2048 bits */
		assert_int_equal(BN_rand(t, 2049 - BN_num_bits(m), BN_RAND_TOP_ONE,
					 BN_RAND_BOTTOM_ANY), 1);
		assert_int_equal(BN_clear_bit(t, 0), 1);
		assert_int_equal(BN_mul(n, m, t, ctx), 1);
		assert_int_equal(BN_add_word(n, 1), 1);
	} while (BN_num_bits(n) != 2048);
	assert_int_equal(BN_bn2bin(n, buf), 256);
	n64 = tfx_b64u(buf, 256);
	jwk = json_pack("{s:s,s:s,s:s,s:s}", "kty", "RSA", "kid", "roca", "e", "AQAB", "n", n64);
	key = id_key_from_jwk(jwk, err, sizeof(err));
	assert_null(key);
	assert_non_null(strstr(err, "ROCA"));
	free(n64);
	json_decref(jwk);
	assert_int_equal(BN_add_word(n, 2), 1);
	assert_int_equal(BN_bn2bin(n, buf), 256);
	n64 = tfx_b64u(buf, 256);
	jwk = json_pack("{s:s,s:s,s:s,s:s}", "kty", "RSA", "kid", "roca", "e", "AQAB", "n", n64);
	key = id_key_from_jwk(jwk, err, sizeof(err));
	assert_non_null(key);
	id_key_free(key);
	free(n64);
	json_decref(jwk);
	BN_free(m);
	BN_free(t);
	BN_free(n);
	BN_CTX_free(ctx);
}

/* An EC JWK whose point is off the curve is refused. */
static void test_jwk_ec_point_not_on_curve(void **state)
{
	json_t *jwk = tfx_key_jwk(TFX_K_EC256, "bad", "sig", NULL);
	unsigned char *y = NULL;
	size_t ylen = 0;
	char *s;

	(void)state;
	assert_int_equal(id_b64url_decode(json_string_value(json_object_get(jwk, "y")),
					  json_string_length(json_object_get(jwk, "y")), &y, &ylen), 0);
	y[ylen - 1] ^= 0x01;
	s = tfx_b64u(y, ylen);
	json_object_set_new(jwk, "y", json_string(s));
	free(s);
	free(y);
	tfx_jwk_refused(jwk, "not a valid point of P-256");
}

/*
 * The group order a key from a JWK checks r and s against is the curve's
 * own (identity/key.c keeps the published constants): for each curve,
 * r = n is out of range, r = n - 1 goes on to the signature check.
 */
static void test_jwk_ec_order(void **state)
{
	static const struct {
		enum tfx_key k;
		int nid;
		enum id_alg alg;
	} t[] = {
		{ TFX_K_EC256, NID_X9_62_prime256v1, ID_ALG_ES256 },
		{ TFX_K_EC384, NID_secp384r1, ID_ALG_ES384 },
		{ TFX_K_EC521, NID_secp521r1, ID_ALG_ES512 },
	};
	static const unsigned char msg[] = "header.payload";
	size_t i;

	(void)state;
	for (i = 0; i < PA_ARRAY_SIZE(t); i++) {
		json_t *jwk = tfx_key_jwk(t[i].k, "k", "sig", NULL);
		EC_GROUP *g = EC_GROUP_new_by_curve_name(t[i].nid);
		BIGNUM *r = BN_new();
		unsigned char sig[2 * 66];
		struct id_key *key;
		int clen = (EC_GROUP_get_degree(g) + 7) / 8;
		char err[256];

		assert_non_null(g);
		assert_non_null(r);
		key = id_key_from_jwk(jwk, err, sizeof(err));
		assert_non_null(key);
		memset(sig, 0, sizeof(sig));
		sig[2 * clen - 1] = 1; /* s = 1 */
		assert_non_null(BN_copy(r, EC_GROUP_get0_order(g)));
		assert_int_equal(BN_bn2binpad(r, sig, clen), clen);
		assert_int_equal(id_sig_verify(key, t[i].alg, msg, sizeof(msg) - 1, sig,
					       (size_t)(2 * clen), err, sizeof(err)), -1);
		assert_non_null(strstr(err, "out of range"));
		assert_int_equal(BN_sub_word(r, 1), 1);
		assert_int_equal(BN_bn2binpad(r, sig, clen), clen);
		assert_int_equal(id_sig_verify(key, t[i].alg, msg, sizeof(msg) - 1, sig,
					       (size_t)(2 * clen), err, sizeof(err)), -1);
		assert_non_null(strstr(err, "does not verify"));
		id_key_free(key);
		BN_free(r);
		EC_GROUP_free(g);
		json_decref(jwk);
	}
}

/* A JWK with any private member is refused. */
static void test_jwk_private_member_refused(void **state)
{
	static const char *const members[] = { "d", "p", "q", "dp", "dq", "qi", "k", "oth" };
	size_t i;

	(void)state;
	for (i = 0; i < PA_ARRAY_SIZE(members); i++) {
		json_t *jwk = tfx_key_jwk(i % 2 ? TFX_K_RSA : TFX_K_EC256, "k1", "sig", NULL);
		char reason[64];

		json_object_set_new(jwk, members[i], json_string("AQAB"));
		snprintf(reason, sizeof(reason), "private member \"%s\"", members[i]);
		tfx_jwk_refused(jwk, reason);
	}
}

/* use/key_ops, member types, curves, key types, RSA exponent, JWK alg binding. */
static void test_jwk_rules(void **state)
{
	json_t *jwk;
	EVP_PKEY *ed448 = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
	unsigned char raw[57];
	size_t rawlen = sizeof(raw);
	char *s;

	(void)state;
	/* use and key_ops */
	tfx_jwk_ignored(tfx_key_jwk(TFX_K_EC256, "k", "x509", NULL),
			"\"use\" \"x509\" is not one this verifier uses");
	jwk = tfx_key_jwk(TFX_K_EC256, "k", NULL, NULL);
	json_object_set_new(jwk, "key_ops", json_pack("[s]", "sign"));
	tfx_jwk_refused(jwk, "\"key_ops\" does not include \"verify\"");
	jwk = tfx_key_jwk(TFX_K_EC256, "k", NULL, NULL);
	json_object_set_new(jwk, "key_ops", json_pack("[s]", "sign, verify"));
	tfx_jwk_refused(jwk, "\"key_ops\" does not include \"verify\"");
	jwk = tfx_key_jwk(TFX_K_EC256, "k", NULL, NULL);
	json_object_set_new(jwk, "key_ops", json_string("verify"));
	tfx_jwk_refused(jwk, "\"key_ops\" is not an array");
	/* kid and alg types */
	jwk = tfx_key_jwk(TFX_K_EC256, NULL, "sig", NULL);
	json_object_set_new(jwk, "kid", json_integer(3));
	tfx_jwk_ignored(jwk, "no \"kid\", so no token can name it");
	jwk = tfx_key_jwk(TFX_K_EC256, "k", "sig", NULL);
	json_object_set_new(jwk, "alg", json_integer(3));
	tfx_jwk_refused(jwk, "\"alg\" is not a string");
	/* EC coordinates of the wrong length, unknown curves */
	jwk = tfx_key_jwk(TFX_K_EC256, "k", "sig", NULL);
	json_object_set_new(jwk, "crv", json_string("P-384"));
	tfx_jwk_refused(jwk, "\"x\" must be 48 bytes");
	jwk = tfx_key_jwk(TFX_K_EC256, "k", "sig", NULL);
	json_object_set_new(jwk, "crv", json_string("secp256k1"));
	tfx_jwk_ignored(jwk, "EC curve \"secp256k1\" is not accepted");
	/* Ed448 and unknown kty */
	assert_non_null(ed448);
	assert_int_equal(EVP_PKEY_get_raw_public_key(ed448, raw, &rawlen), 1);
	s = tfx_b64u(raw, rawlen);
	tfx_jwk_ignored(json_pack("{s:s,s:s,s:s,s:s}", "kty", "OKP", "crv", "Ed448", "x", s,
				  "kid", "k"), "OKP curve \"Ed448\" is not accepted");
	free(s);
	assert_null(id_key_from_pkey(ed448, "k", NULL, 0));
	EVP_PKEY_free(ed448);
	tfx_jwk_ignored(json_pack("{s:s,s:s,s:s}", "kty", "oct", "kid", "k", "alg", "HS256"),
			"\"kty\" \"oct\" is not RSA, EC or OKP");
	/* RSA exponent rules and the minimal encoding */
	tfx_jwk_refused(json_pack("{s:s,s:s,s:s,s:s}", "kty", "RSA", "kid", "k", "e", "AQ",
				  "n", json_string_value(json_object_get(
					     jwk = tfx_key_jwk(TFX_K_RSA, "k", NULL, NULL), "n"))),
			   "must be odd and greater than 1");
	tfx_jwk_refused(json_pack("{s:s,s:s,s:s,s:O}", "kty", "RSA", "kid", "k", "e", "AQAA",
				  "n", json_object_get(jwk, "n")),
			"must be odd and greater than 1");
	tfx_jwk_refused(json_pack("{s:s,s:s,s:s,s:O}", "kty", "RSA", "kid", "k", "e", "AAEAAQ",
				  "n", json_object_get(jwk, "n")),
			"\"e\" is not a minimal unsigned integer");
	tfx_jwk_refused(json_pack("{s:s,s:s,s:s,s:O}", "kty", "RSA", "kid", "k", "e", "AQA=B",
				  "n", json_object_get(jwk, "n")), "\"e\" is not strict base64url");
	json_decref(jwk);
	/* JWK "alg" binds the key to exactly that algorithm */
	{
		json_t *j = tfx_key_jwk(TFX_K_EC256, "k", "sig", "ES256");
		struct id_key *key = id_key_from_jwk(j, NULL, 0);

		assert_non_null(key);
		assert_true(id_key_allows(key, ID_ALG_ES256));
		assert_false(id_key_allows(key, ID_ALG_ES384));
		id_key_free(key);
		json_object_set_new(j, "alg", json_string("ES521"));
		key = id_key_from_jwk(j, NULL, 0);
		assert_non_null(key);
		assert_false(id_key_allows(key, ID_ALG_ES256));
		assert_false(id_key_allows(key, ID_ALG_ES512));
		id_key_free(key);
		json_decref(j);
	}
}

/* Which algorithm each key type and curve may verify. */
static void test_key_allows_matrix(void **state)
{
	static const enum id_alg algs[] = { ID_ALG_RS256, ID_ALG_RS384, ID_ALG_RS512, ID_ALG_PS256,
		ID_ALG_PS384, ID_ALG_PS512, ID_ALG_ES256, ID_ALG_ES384, ID_ALG_ES512, ID_ALG_EDDSA };
	static const struct {
		enum tfx_key k;
		unsigned allowed; /* bit i: algs[i] */
	} t[] = {
		{ TFX_K_RSA, 0x3f }, { TFX_K_EC256, 1u << 6 }, { TFX_K_EC384, 1u << 7 },
		{ TFX_K_EC521, 1u << 8 }, { TFX_K_ED, 1u << 9 },
	};
	size_t i, j;

	(void)state;
	for (i = 0; i < PA_ARRAY_SIZE(t); i++) {
		struct id_key *key = id_key_from_pkey(tfx_key(t[i].k), "k", NULL, 0);

		assert_non_null(key);
		assert_string_equal(id_key_kid(key), "k");
		for (j = 0; j < PA_ARRAY_SIZE(algs); j++)
			assert_int_equal(id_key_allows(key, algs[j]), (t[i].allowed >> j) & 1);
		assert_false(id_key_allows(key, ID_ALG_NONE));
		id_key_free(key);
	}
}

/* id_sig_verify on its own: message, length and key/alg binding. */
static void test_sig_verify_direct(void **state)
{
	struct id_key *key = id_key_from_pkey(tfx_key(TFX_K_EC256), "k", NULL, 0);
	const char *msg = "header.payload";
	unsigned char *sig;
	size_t siglen;
	char err[256];

	(void)state;
	assert_non_null(key);
	sig = tfx_sign_msg(ID_ALG_ES256, tfx_key(TFX_K_EC256), msg, 0, &siglen);
	assert_int_equal(id_sig_verify(key, ID_ALG_ES256, (const unsigned char *)msg, strlen(msg),
				       sig, siglen, err, sizeof(err)), 0);
	/* one bit off in the message */
	assert_int_equal(id_sig_verify(key, ID_ALG_ES256, (const unsigned char *)"header.paylOad",
				       strlen(msg), sig, siglen, err, sizeof(err)), -1);
	/* one byte short of raw r||s */
	assert_int_equal(id_sig_verify(key, ID_ALG_ES256, (const unsigned char *)msg, strlen(msg),
				       sig, siglen - 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "63 bytes, expected 64"));
	assert_int_equal(id_sig_verify(key, ID_ALG_ES384, (const unsigned char *)msg, strlen(msg),
				       sig, siglen, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot verify ES384"));
	assert_int_equal(id_sig_verify(key, ID_ALG_ES256, (const unsigned char *)msg, strlen(msg),
				       NULL, 0, err, sizeof(err)), -1);
	free(sig);
	id_key_free(key);
}

/* SPIFFE bundles and OIDC JWKS: what is loaded, skipped and refused. */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64url),
		cmocka_unit_test(test_b64url_roundtrip),
		cmocka_unit_test(test_alg_names),
		cmocka_unit_test(test_jwk_ec_order),
		cmocka_unit_test(test_spiffe_id_table),
		cmocka_unit_test(test_jwk_rsa_1024_refused),
		cmocka_unit_test(test_jwk_roca_refused),
		cmocka_unit_test(test_jwk_ec_point_not_on_curve),
		cmocka_unit_test(test_jwk_private_member_refused),
		cmocka_unit_test(test_jwk_rules),
		cmocka_unit_test(test_key_allows_matrix),
		cmocka_unit_test(test_sig_verify_direct),
	};

	return cmocka_run_group_tests_name("identity keys", tests, tfx_trust_setup,
					   tfx_trust_teardown);
}
