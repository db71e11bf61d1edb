/*
 * test_wycheproof.c - runs the Wycheproof vectors (C2SP/wycheproof) through
 * the verifier's own code path: id_key_from_jwk / id_key_from_pkey,
 * id_sig_verify, and for the JOSE files id_jws_parse + id_jws_verify.
 *
 * The vectors are in the source tree, tests/data/wycheproof/ (its README
 * names the upstream commit; Apache-2.0), and the directory comes from
 * $PA_WYCHEPROOF_DIR (set by Makefile.am). Without it, or with a file
 * missing, every test FAILS: the vectors ship with the source and the
 * tarball, so their absence is a broken tree, not an optional extra. Expectations are the upstream
 * "result" fields ("acceptable": either outcome passes), except where this
 * verifier rejects by design (noted per mode below) and for the tcIds in
 * the commented exception list, which states what this verifier does and
 * why. The verifier is never loosened to match a vector.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "identity.h"
#include "util.h"

enum wp_mode {
	WP_ECDSA_P1363, /* ES256/384/512: raw r||s, the JWS format */
	WP_ECDSA_DER,	/* DER signatures: a JWS verifier rejects every one */
	WP_RSA_PKCS1,	/* RS256/384/512 */
	WP_RSA_PSS,	/* PS256/384/512 when the parameters are JWA's, else reject */
	WP_EDDSA,	/* EdDSA with Ed25519; Ed448 keys are refused at load */
	WP_JOSE,	/* compact JWS with JWK / JWK set keys */
};

struct wp_file {
	const char *name;
	enum wp_mode mode;
};

static const struct wp_file wp_files[] = {
	{ "ecdsa_secp256r1_sha256_p1363_test.json", WP_ECDSA_P1363 },
	{ "ecdsa_secp384r1_sha384_p1363_test.json", WP_ECDSA_P1363 },
	{ "ecdsa_secp521r1_sha512_p1363_test.json", WP_ECDSA_P1363 },
	{ "ecdsa_secp256r1_sha256_test.json", WP_ECDSA_DER },
	{ "ecdsa_secp384r1_sha384_test.json", WP_ECDSA_DER },
	{ "ecdsa_secp521r1_sha512_test.json", WP_ECDSA_DER },
	{ "rsa_signature_2048_sha256_test.json", WP_RSA_PKCS1 },
	{ "rsa_signature_2048_sha384_test.json", WP_RSA_PKCS1 },
	{ "rsa_signature_2048_sha512_test.json", WP_RSA_PKCS1 },
	{ "rsa_signature_3072_sha256_test.json", WP_RSA_PKCS1 },
	{ "rsa_signature_3072_sha384_test.json", WP_RSA_PKCS1 },
	{ "rsa_signature_3072_sha512_test.json", WP_RSA_PKCS1 },
	{ "rsa_signature_4096_sha256_test.json", WP_RSA_PKCS1 },
	{ "rsa_signature_4096_sha384_test.json", WP_RSA_PKCS1 },
	{ "rsa_signature_4096_sha512_test.json", WP_RSA_PKCS1 },
	{ "rsa_pss_2048_sha256_mgf1_32_test.json", WP_RSA_PSS },
	{ "rsa_pss_2048_sha384_mgf1_48_test.json", WP_RSA_PSS },
	{ "rsa_pss_3072_sha256_mgf1_32_test.json", WP_RSA_PSS },
	{ "rsa_pss_4096_sha256_mgf1_32_test.json", WP_RSA_PSS },
	{ "rsa_pss_4096_sha384_mgf1_48_test.json", WP_RSA_PSS },
	{ "rsa_pss_4096_sha512_mgf1_64_test.json", WP_RSA_PSS },
	{ "rsa_pss_2048_sha256_mgf1_0_test.json", WP_RSA_PSS },
	{ "rsa_pss_misc_test.json", WP_RSA_PSS },
	{ "ed25519_test.json", WP_EDDSA },
	{ "ed448_test.json", WP_EDDSA },
	{ "json_web_signature_test.json", WP_JOSE },
	{ "json_web_key_test.json", WP_JOSE },
	{ "json_web_crypto_test.json", WP_JOSE },
};

/*
 * Vectors whose upstream expectation conflicts with a strict verifier
 * (see vectors/wycheproof/NOTES.md). `accept` is what THIS verifier does;
 * the harness checks that it keeps doing exactly that.
 */
static const struct wp_exception {
	const char *file;
	int tc_id;
	bool accept;
	const char *why;
} wp_exceptions[] = {
	/* RFC 7520 Figure 20: header alg PS384 but the key says "alg":"PS256".
	 * The key's own alg binds it (RFC 8725 §3.1), so PS384 is refused. */
	{ "json_web_signature_test.json", 346, false, "key alg PS256, token alg PS384" },
	{ "json_web_signature_test.json", 350, false, "key alg PS256, token alg PS384 (key_ops)" },
	/* RFC 7520 Figure 27: the key says "alg":"ES521", not a JWA name, so
	 * it can verify nothing (ES512 is the JWA name for P-521/SHA-512). */
	{ "json_web_signature_test.json", 347, false, "key alg ES521 is not a JWA algorithm" },
	{ "json_web_signature_test.json", 351, false, "key alg ES521 is not a JWA algorithm (key_ops)" },
	/* Upstream "invalid" for this file's parameters (salt length 0), but
	 * "s_len changed to 32" makes it a genuine JWA PS256 signature (SHA-256,
	 * MGF1-SHA-256, salt 32), which PS256 must accept. */
	{ "rsa_pss_2048_sha256_mgf1_0_test.json", 69, true, "a valid PS256 signature (salt 32)" },
};

/*
 * The "base64" group of json_web_signature_test.json is HS256 (always
 * refused), so the strict base64url decoder is also checked on its
 * segments directly. Upstream conflicts for that check: `decodes` is
 * what this decoder does.
 */
static const struct wp_b64_exception {
	int tc_id;
	bool decodes;
	const char *why;
} wp_b64_exceptions[] = {
	{ 367, true, "marked invalid (padding) but byte-identical to valid tcId 357" },
	{ 370, true, "marked invalid (padding in payload) but byte-identical to valid tcId 357" },
	{ 372, false, "marked valid but has '?' inside the header segment" },
	{ 373, false, "marked valid but has '?' inside the payload segment" },
};

struct wp_count {
	size_t valid, valid_ok;	    /* upstream valid, and accepted */
	size_t invalid, invalid_ok; /* upstream invalid, and rejected */
	size_t acceptable;	    /* either outcome passes */
	size_t by_design;	    /* upstream valid, rejected by design of this verifier */
	size_t exceptions;	    /* listed in wp_exceptions */
	size_t failures;
};

/* The vectors directory, or NULL when unset or not a directory. */
static const char *wp_dir(void)
{
	const char *dir = getenv("PA_WYCHEPROOF_DIR");
	struct stat st;

	if (dir == NULL || dir[0] == '\0' || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return NULL;
	return dir;
}

/* The exception entry for (file, tcId), or NULL. */
static const struct wp_exception *find_exception(const char *file, int tc_id)
{
	size_t i;

	for (i = 0; i < PA_ARRAY_SIZE(wp_exceptions); i++)
		if (wp_exceptions[i].tc_id == tc_id && strcmp(wp_exceptions[i].file, file) == 0)
			return &wp_exceptions[i];
	return NULL;
}

/*
 * Checks one outcome. by_design: this verifier must reject the vector
 * whatever its upstream result (DER ECDSA, non-JWA PSS, HMAC, Ed448).
 */
static void record(struct wp_count *c, const char *file, const json_t *t, bool by_design,
		   bool accepted)
{
	const char *result = json_string_value(json_object_get(t, "result"));
	int tc_id = (int)json_integer_value(json_object_get(t, "tcId"));
	const struct wp_exception *ex = find_exception(file, tc_id);
	bool valid = strcmp(result, "valid") == 0, ok;

	if (strcmp(result, "acceptable") == 0 && ex == NULL && !by_design) {
		c->acceptable++;
		return;
	}
	if (valid)
		c->valid++;
	else
		c->invalid++;
	if (ex != NULL) {
		c->exceptions++;
		ok = accepted == ex->accept;
		print_message("%s tcId %d: upstream %s, here %s: %s\n", file, tc_id,
			      valid ? "valid" : "invalid", ex->accept ? "accepted" : "refused",
			      ex->why);
	} else if (by_design) {
		ok = !accepted;
		if (valid && ok)
			c->by_design++;
	} else {
		ok = accepted == valid;
	}
	if (valid && accepted)
		c->valid_ok++;
	if (!valid && !accepted)
		c->invalid_ok++;
	if (!ok) {
		c->failures++;
		print_error("%s tcId %d (%s, \"%s\"): %s\n", file, tc_id, result,
			    json_string_value(json_object_get(t, "comment")),
			    accepted ? "accepted" : "rejected");
	}
}

/* Decodes a hex string of the vectors into a new buffer. */
static unsigned char *unhex(const char *hex, size_t *len)
{
	size_t n = strlen(hex), i;
	unsigned char *out = malloc(n / 2 + 1);

	assert_non_null(out);
	assert_int_equal(n % 2, 0);
	for (i = 0; i < n / 2; i++) {
		unsigned v;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (unsigned char)v;
	}
	*len = n / 2;
	return out;
}

/* The group's key: its JWK when it has one (jwk_field), else its DER SPKI. */
static struct id_key *group_key(const json_t *g, const char *jwk_field)
{
	const json_t *jwk = jwk_field != NULL ? json_object_get(g, jwk_field) : NULL;
	const char *der_hex = json_string_value(json_object_get(g, "publicKeyDer"));
	struct id_key *key = NULL;
	EVP_PKEY *pkey;
	unsigned char *der;
	const unsigned char *p;
	size_t len;

	if (jwk != NULL)
		return id_key_from_jwk(jwk, NULL, 0);
	assert_non_null(der_hex);
	der = unhex(der_hex, &len);
	p = der;
	pkey = d2i_PUBKEY(NULL, &p, (long)len);
	if (pkey != NULL)
		key = id_key_from_pkey(pkey, NULL, NULL, 0);
	EVP_PKEY_free(pkey);
	free(der);
	ERR_clear_error();
	return key;
}

/* The RSnnn, PSnnn or ESnnn alg (family 'R', 'P', 'E') for a Wycheproof "sha". */
static enum id_alg alg_for(const char *sha, char family)
{
	static const struct {
		const char *sha;
		enum id_alg rs, ps, es;
	} t[] = {
		{ "SHA-256", ID_ALG_RS256, ID_ALG_PS256, ID_ALG_ES256 },
		{ "SHA-384", ID_ALG_RS384, ID_ALG_PS384, ID_ALG_ES384 },
		{ "SHA-512", ID_ALG_RS512, ID_ALG_PS512, ID_ALG_ES512 },
	};
	size_t i;

	for (i = 0; sha != NULL && i < PA_ARRAY_SIZE(t); i++)
		if (strcmp(sha, t[i].sha) == 0)
			return family == 'R' ? t[i].rs : family == 'P' ? t[i].ps : t[i].es;
	return ID_ALG_NONE;
}

/* Verifies one msg/sig vector under alg with key; NULL key rejects. */
static bool sig_accepts(const struct id_key *key, enum id_alg alg, const json_t *t)
{
	unsigned char *msg, *sig;
	size_t msglen, siglen;
	bool ok;

	if (key == NULL || alg == ID_ALG_NONE)
		return false;
	msg = unhex(json_string_value(json_object_get(t, "msg")), &msglen);
	sig = unhex(json_string_value(json_object_get(t, "sig")), &siglen);
	ok = id_sig_verify(key, alg, msg, msglen, sig, siglen, NULL, 0) == 0;
	free(msg);
	free(sig);
	return ok;
}

/* One group of a signature file (every mode but JOSE). */
static void run_sig_group(const struct wp_file *f, const json_t *g, struct wp_count *c)
{
	const char *sha = json_string_value(json_object_get(g, "sha"));
	enum id_alg alg = ID_ALG_NONE;
	struct id_key *key = NULL;
	bool by_design = false, pss_jwa = true;
	const json_t *t;
	size_t i;

	switch (f->mode) {
	case WP_ECDSA_P1363:
		alg = alg_for(sha, 'E');
		key = group_key(g, "publicKeyJwk");
		break;
	case WP_ECDSA_DER:
		alg = alg_for(sha, 'E');
		key = group_key(g, NULL);
		by_design = true;
		assert_non_null(key); /* the key loads; the signatures must not verify */
		break;
	case WP_RSA_PKCS1:
		alg = alg_for(sha, 'R');
		key = group_key(g, "keyJwk");
		break;
	case WP_RSA_PSS: {
		const char *mgf_sha = json_string_value(json_object_get(g, "mgfSha"));
		json_int_t slen = json_integer_value(json_object_get(g, "sLen"));

		alg = alg_for(sha, 'P');
		key = group_key(g, "publicKeyJwk");
		/* JWA PS*: MGF1 with the same hash and salt = hash length */
		pss_jwa = alg != ID_ALG_NONE && mgf_sha != NULL && strcmp(mgf_sha, sha) == 0 &&
			  slen == EVP_MD_get_size(EVP_get_digestbyname(sha));
		by_design = !pss_jwa;
		assert_non_null(key);
		break;
	}
	case WP_EDDSA:
		alg = ID_ALG_EDDSA;
		key = group_key(g, "publicKeyJwk");
		if (strcmp(json_string_value(json_object_get(json_object_get(g, "publicKey"), "curve")),
			   "edwards25519") != 0) {
			assert_null(key); /* Ed448 is refused at key load */
			by_design = true;
		}
		break;
	case WP_JOSE:
		fail();
	}
	json_array_foreach(json_object_get(g, "tests"), i, t) {
		bool accepted;

		if (f->mode == WP_RSA_PSS && !pss_jwa) {
			/* none of PS256/384/512 may accept these parameters */
			accepted = sig_accepts(key, ID_ALG_PS256, t) ||
				   sig_accepts(key, ID_ALG_PS384, t) ||
				   sig_accepts(key, ID_ALG_PS512, t);
		} else {
			accepted = sig_accepts(key, alg, t);
		}
		record(c, f->name, t, by_design, accepted);
	}
	id_key_free(key);
}

/* Whether a JWK (or any JWK of a set) is a symmetric/HMAC key. */
static bool jose_is_hmac(const json_t *k)
{
	const json_t *keys = json_object_get(k, "keys"), *one;
	const char *kty, *alg;
	size_t i;

	if (keys != NULL) {
		json_array_foreach(keys, i, one)
			if (jose_is_hmac(one))
				return true;
		return false;
	}
	kty = json_string_value(json_object_get(k, "kty"));
	alg = json_string_value(json_object_get(k, "alg"));
	return (kty != NULL && strcmp(kty, "oct") == 0) || (alg != NULL && strncmp(alg, "HS", 2) == 0);
}

/* Whether set loaded one of the symmetric keys of the JWK set k. */
static bool set_has_hmac_key(const struct id_keyset *set, const json_t *k)
{
	const json_t *one;
	size_t i;

	json_array_foreach(json_object_get(k, "keys"), i, one)
		if (jose_is_hmac(one) &&
		    id_keyset_find(set, json_string_value(json_object_get(one, "kid"))) != NULL)
			return true;
	return false;
}

/* One compact JWS through id_jws_parse + key lookup + id_jws_verify. */
static bool jose_accepts(const json_t *jws_json, const struct id_key *key,
			 const struct id_keyset *set)
{
	struct id_jws jws;
	const char *tok = json_string_value(jws_json), *kid, *keykid;
	bool ok = false;

	if (tok == NULL)
		return false; /* JSON serialization: only the compact form is accepted */
	if (id_jws_parse(tok, strlen(tok), false, &jws, NULL, 0) != 0)
		return false;
	kid = json_string_value(json_object_get(jws.header, "kid"));
	if (set != NULL) {
		key = kid != NULL ? id_keyset_find(set, kid) : NULL;
	} else if (key != NULL) {
		keykid = id_key_kid(key);
		if (kid != NULL && keykid != NULL && strcmp(kid, keykid) != 0)
			key = NULL;
	}
	ok = key != NULL && id_jws_verify(&jws, key, NULL, 0) == 0;
	id_jws_clear(&jws);
	return ok;
}

/* One group of a JOSE file: JWK or JWK set, compact tokens. */
static void run_jose_group(const struct wp_file *f, const json_t *g, struct wp_count *c)
{
	const json_t *k = json_object_get(g, "public"), *t;
	struct id_key *key = NULL;
	struct id_keyset *set = NULL;
	bool hmac;
	size_t i;

	if (k == NULL)
		k = json_object_get(g, "private");
	assert_non_null(k);
	hmac = jose_is_hmac(k);
	if (json_object_get(k, "keys") != NULL) {
		char *text = json_dumps(k, JSON_COMPACT);

		assert_non_null(text);
		set = id_keyset_parse(text, strlen(text), ID_KEYSET_OIDC, NULL, 0);
		free(text);
	} else {
		key = id_key_from_jwk(k, NULL, 0);
	}
	if (hmac) /* no symmetric key is ever loaded: refused alone, ignored in a set */
		assert_true(key == NULL && !set_has_hmac_key(set, k));
	json_array_foreach(json_object_get(g, "tests"), i, t)
		record(c, f->name, t, hmac, jose_accepts(json_object_get(t, "jws"), key, set));
	id_key_free(key);
	id_keyset_free(set);
}

/* Loads one vectors file of wp_dir(). */
static json_t *load_vectors(const char *name)
{
	char path[1024];
	json_error_t jerr;
	json_t *doc;

	snprintf(path, sizeof(path), "%s/%s", wp_dir(), name);
	doc = json_load_file(path, 0, &jerr);
	if (doc == NULL)
		print_error("%s: %s\n", path, jerr.text);
	assert_non_null(doc);
	return doc;
}

/* Fails the current test, saying why, when the vectors directory is missing. */
static void require_vectors(void)
{
	const char *dir = getenv("PA_WYCHEPROOF_DIR");

	if (wp_dir() != NULL)
		return;
	fail_msg("PA_WYCHEPROOF_DIR is %s%s; the vectors belong in tests/data/wycheproof of "
		 "the source tree (see the README there)", dir == NULL ? "unset" : dir,
		 dir == NULL ? "" : ", not a directory");
}

/* Runs every group of one vectors file and prints its figures. */
static void test_wycheproof_file(void **state)
{
	const struct wp_file *f = *state;
	struct wp_count c;
	json_t *doc, *g;
	size_t i, groups = 0;

	require_vectors();
	memset(&c, 0, sizeof(c));
	doc = load_vectors(f->name);
	json_array_foreach(json_object_get(doc, "testGroups"), i, g) {
		if (f->mode == WP_JOSE) {
			const json_t *first = json_array_get(json_object_get(g, "tests"), 0);

			if (json_object_get(first, "jws") == NULL)
				continue; /* JWE groups of json_web_crypto_test.json */
			run_jose_group(f, g, &c);
		} else {
			run_sig_group(f, g, &c);
		}
		groups++;
	}
	json_decref(doc);
	print_message("%-40s valid accepted %zu/%zu, invalid rejected %zu/%zu, "
		      "acceptable %zu, valid rejected by design %zu, exceptions %zu, failures %zu\n",
		      f->name, c.valid_ok, c.valid, c.invalid_ok, c.invalid, c.acceptable,
		      c.by_design, c.exceptions, c.failures);
	assert_true(groups > 0);
	assert_true(c.valid + c.invalid + c.acceptable > 0);
	assert_int_equal(c.failures, 0);
}

/* The strict decoder on the segments of the HS256 "base64" group. */
static void test_wycheproof_base64_segments(void **state)
{
	json_t *doc, *g, *t;
	size_t i, j, n = 0, exceptions = 0;

	(void)state;
	require_vectors();
	doc = load_vectors("json_web_signature_test.json");
	json_array_foreach(json_object_get(doc, "testGroups"), i, g) {
		const char *name = json_string_value(json_object_get(g, "comment"));

		if (name == NULL || strcmp(name, "base64") != 0)
			continue;
		json_array_foreach(json_object_get(g, "tests"), j, t) {
			const char *tok = json_string_value(json_object_get(t, "jws")), *seg, *dot;
			int tc_id = (int)json_integer_value(json_object_get(t, "tcId"));
			bool decodes = true, expect;
			size_t k;

			assert_non_null(tok);
			for (seg = tok;; seg = dot + 1) {
				unsigned char *out = NULL;
				size_t outlen;

				dot = strchr(seg, '.');
				if (id_b64url_decode(seg, dot != NULL ? (size_t)(dot - seg) : strlen(seg),
						     &out, &outlen) != 0)
					decodes = false;
				free(out);
				if (dot == NULL)
					break;
			}
			expect = strcmp(json_string_value(json_object_get(t, "result")), "valid") == 0;
			for (k = 0; k < PA_ARRAY_SIZE(wp_b64_exceptions); k++) {
				if (wp_b64_exceptions[k].tc_id == tc_id) {
					expect = wp_b64_exceptions[k].decodes;
					exceptions++;
					print_message("base64 tcId %d: %s\n", tc_id,
						      wp_b64_exceptions[k].why);
				}
			}
			if (decodes != expect)
				print_error("base64 tcId %d: %s\n", tc_id, decodes ? "decodes" : "refused");
			assert_int_equal(decodes, expect);
			n++;
		}
	}
	json_decref(doc);
	print_message("json_web_signature base64 group: %zu tokens, strict decoder as expected "
		      "(%zu exceptions)\n", n, exceptions);
	assert_int_equal(n, 21);
	assert_int_equal(exceptions, PA_ARRAY_SIZE(wp_b64_exceptions));
}

/* One test per vectors file, plus the base64 segment check. */
int main(void)
{
	size_t n = PA_ARRAY_SIZE(wp_files) + 1, i;
	struct CMUnitTest *tests = calloc(n, sizeof(*tests));
	int rc;

	if (tests == NULL)
		return 1;
	for (i = 0; i < PA_ARRAY_SIZE(wp_files); i++) {
		tests[i].name = wp_files[i].name;
		tests[i].test_func = test_wycheproof_file;
		tests[i].initial_state = (void *)&wp_files[i];
	}
	tests[i].name = "json_web_signature base64 segments";
	tests[i].test_func = test_wycheproof_base64_segments;
	rc = _cmocka_run_group_tests("wycheproof", tests, n, NULL, NULL);
	free(tests);
	return rc;
}
