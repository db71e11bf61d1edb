/*
 * test_identity_sets.c - unit tests of the identity engine's key sets
 * (SPIFFE bundles and OIDC JWKS: parsing, the file rules, their age), JWS parsing
 * called directly, attacker text in reasons, identities as JSON, the
 * verifier's load errors, and the tokens an independent implementation
 * made (Python cryptography, read from $PA_TEST_DATA/independent, default
 * tests/data/independent).
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

#define HDR(alg, kid, extra) "{\"alg\":\"" alg "\",\"kid\":\"" kid "\"" extra "}"

/* The x5c value of the X.509 authority of tests/data/x509/bundle.json. */
static const char *x509_authority_b64(void)
{
	static char b64[4096];
	const char *base = getenv("PA_TEST_DATA");
	char path[1024];
	json_t *doc;

	snprintf(path, sizeof(path), "%s/x509/bundle.json", base != NULL ? base : "tests/data");
	doc = json_load_file(path, 0, NULL);
	assert_non_null(doc);
	snprintf(b64, sizeof(b64), "%s", json_string_value(json_array_get(json_object_get(
		json_array_get(json_object_get(doc, "keys"), 0), "x5c"), 0)));
	json_decref(doc);
	assert_true(strlen(b64) > 100);
	return b64;
}

/* SPIFFE bundles: x509-svid and jwt-svid entries, use, kid, the refresh hint. */
static void test_keyset_parse_spiffe(void **state)
{
	struct id_keyset *set;
	char err[512] = "";
	json_t *x509;

	(void)state;
	/* x509-svid entries are skipped, not loaded */
	x509 = tfx_key_jwk(TFX_K_EC384, "x", "x509-svid", NULL);
	json_object_set_new(x509, "x5c", json_pack("[s]", "MIIB"));
	set = tfx_keyset_parse(json_pack("{s:[o,o],s:i}", "keys", tfx_key_jwk(TFX_K_EC256, "a", "jwt-svid", NULL),
					 x509, "spiffe_sequence", 2), ID_KEYSET_SPIFFE, err, sizeof(err));
	assert_non_null(set);
	assert_int_equal(id_keyset_count(set), 1);
	assert_non_null(id_keyset_find(set, "a"));
	assert_null(id_keyset_find(set, "x"));
	assert_null(id_keyset_find(set, "A"));
	assert_null(id_keyset_find(set, NULL));
	id_keyset_free(set);
	/* a bundle of x509-svid entries only has no usable key: loaded, empty */
	set = tfx_keyset_parse(json_pack("{s:[o]}", "keys", tfx_key_jwk(TFX_K_EC256, NULL, "x509-svid", NULL)),
			       ID_KEYSET_SPIFFE, err, sizeof(err));
	assert_non_null(set);
	assert_int_equal(id_keyset_count(set), 0);
	assert_int_equal(id_keyset_x509_count(set), 0);
	id_keyset_free(set);
	tfx_jwk_ignored_as(tfx_key_jwk(TFX_K_EC256, NULL, "x509-svid", NULL), ID_KEYSET_SPIFFE,
			   "x509-svid element without an \"x5c\" certificate");
	/* x509-svid: only the first x5c value counts (X509-SVID §6.2) */
	x509 = tfx_key_jwk(TFX_K_EC384, NULL, "x509-svid", NULL);
	json_object_set_new(x509, "x5c", json_pack("[s,s]", x509_authority_b64(), "MIIC"));
	set = tfx_keyset_parse(json_pack("{s:[o,o]}", "keys", x509,
					 tfx_key_jwk(TFX_K_EC256, "a", "jwt-svid", NULL)),
			       ID_KEYSET_SPIFFE, err, sizeof(err));
	assert_non_null(set);
	assert_int_equal(id_keyset_count(set), 1);
	assert_int_equal(id_keyset_x509_count(set), 1);
	assert_int_equal(id_keyset_ignored(set), 0);
	id_keyset_free(set);
	/* a first x5c value that is not a base64 DER certificate: ignored */
	x509 = tfx_key_jwk(TFX_K_EC384, NULL, "x509-svid", NULL);
	json_object_set_new(x509, "x5c", json_pack("[s,s]", "MIIB", x509_authority_b64()));
	tfx_jwk_ignored_as(x509, ID_KEYSET_SPIFFE,
			   "x509-svid element whose \"x5c\" is not a DER certificate");
	x509 = tfx_key_jwk(TFX_K_EC384, NULL, "x509-svid", NULL);
	json_object_set_new(x509, "x5c", json_pack("[s]", "MII_"));
	tfx_jwk_ignored_as(x509, ID_KEYSET_SPIFFE, "x509-svid element whose \"x5c\" is not base64");
	/* SPIFFE bundles: a missing or unknown use is ignored (Trust Domain and Bundle §4.2.2) */
	tfx_jwk_ignored_as(tfx_key_jwk(TFX_K_EC256, "a", NULL, NULL), ID_KEYSET_SPIFFE,
			   "no \"use\" string");
	tfx_jwk_ignored_as(tfx_key_jwk(TFX_K_EC256, "a", "sig", NULL), ID_KEYSET_SPIFFE,
			   "\"use\" \"sig\" is not one this verifier uses");
	set = tfx_keyset_parse(json_pack("{s:[o,o]}", "keys", tfx_key_jwk(TFX_K_EC256, "w", "wit-svid", NULL),
					 tfx_key_jwk(TFX_K_EC256, "a", "jwt-svid", NULL)),
			       ID_KEYSET_SPIFFE, err, sizeof(err));
	assert_non_null(set);
	/* wit-svid keys are kept apart (WIT-SVID §6.2): never a JWT-SVID's key */
	assert_int_equal(id_keyset_count(set), 1);
	assert_int_equal(id_keyset_wit_count(set), 1);
	assert_int_equal(id_keyset_ignored(set), 0);
	assert_null(id_keyset_find(set, "w"));
	assert_non_null(id_keyset_find_wit(set, "w"));
	assert_null(id_keyset_find_wit(set, "a"));
	id_keyset_free(set);
	/* a wit-svid key without a kid is ignored; two with one kid refuse the bundle */
	set = tfx_keyset_parse(json_pack("{s:[o,o]}", "keys", tfx_key_jwk(TFX_K_EC256, NULL, "wit-svid", NULL),
					 tfx_key_jwk(TFX_K_EC256, "a", "jwt-svid", NULL)),
			       ID_KEYSET_SPIFFE, err, sizeof(err));
	assert_non_null(set);
	assert_int_equal(id_keyset_wit_count(set), 0);
	assert_non_null(strstr(id_keyset_notice(set, 0), "key 0 ignored: no \"kid\""));
	id_keyset_free(set);
	assert_null(tfx_keyset_parse(json_pack("{s:[o,o]}", "keys", tfx_key_jwk(TFX_K_EC256, "w", "wit-svid", NULL),
					       tfx_key_jwk(TFX_K_EC384, "w", "wit-svid", NULL)),
				     ID_KEYSET_SPIFFE, err, sizeof(err)));
	assert_non_null(strstr(err, "duplicate kid \"w\" (wit-svid)"));
	assert_null(tfx_keyset_parse(json_pack("{s:[o],s:s}", "keys", tfx_key_jwk(TFX_K_EC256, "a", "jwt-svid", NULL),
					       "spiffe_refresh_hint", "300"), ID_KEYSET_SPIFFE, err, sizeof(err)));
	assert_non_null(strstr(err, "spiffe_refresh_hint"));
	/* a jwt-svid key without kid refuses the bundle (JWT-SVID §6) */
	assert_null(tfx_keyset_parse(json_pack("{s:[o]}", "keys", tfx_key_jwk(TFX_K_EC256, NULL, "jwt-svid", NULL)),
				     ID_KEYSET_SPIFFE, err, sizeof(err)));
	assert_non_null(strstr(err, "key 0: jwt-svid key without a \"kid\" string"));
}

/*
 * Several EC keys of one curve in a set (the second and later start as a
 * copy of the first, their point replaced): each key verifies its own
 * signatures and no other's, and a later key off the curve or with a
 * coordinate out of range still refuses the set.
 */
static void test_keyset_same_curve_keys(void **state)
{
	static const char msg[] = "header.payload";
	static const char *const kids[] = { "e1", "e2", "e3", "p384" };
	EVP_PKEY *pk[4];
	struct id_keyset *set;
	json_t *keys = json_array(), *bad;
	char err[256];
	size_t i, j;

	(void)state;
	for (i = 0; i < 3; i++)
		assert_non_null(pk[i] = EVP_EC_gen("P-256"));
	pk[3] = tfx_key(TFX_K_EC384);
	for (i = 0; i < 4; i++)
		json_array_append_new(keys, tfx_jwk_of(pk[i], kids[i], "jwt-svid", NULL));
	set = tfx_keyset_parse(json_pack("{s:O}", "keys", keys), ID_KEYSET_SPIFFE, err,
			       sizeof(err));
	assert_non_null(set);
	for (i = 0; i < 4; i++) {
		enum id_alg alg = i < 3 ? ID_ALG_ES256 : ID_ALG_ES384;
		size_t siglen = 0;
		unsigned char *sig = tfx_sign_msg(alg, pk[i], msg, 0, &siglen);

		assert_non_null(sig);
		for (j = 0; j < 4; j++) {
			const struct id_key *key = id_keyset_find(set, kids[j]);
			int rc = id_sig_verify(key, alg, (const unsigned char *)msg, sizeof(msg) - 1,
					       sig, siglen, err, sizeof(err));

			assert_non_null(key);
			if (rc != (i == j ? 0 : -1))
				fail_msg("key %s, signature of %s: %d (%s)", kids[j], kids[i], rc, err);
		}
		free(sig);
	}
	id_keyset_free(set);
	/* the third P-256 key off the curve, then with x = y = 2^256 - 1 (>= p) */
	for (i = 0; i < 2; i++) {
		char *y = strdup(tfx_jwk_str(json_array_get(keys, 2), "y"));

		assert_non_null(y);
		y[strlen(y) - 2] = y[strlen(y) - 2] == 'A' ? 'B' : 'A';
		bad = json_deep_copy(keys);
		json_object_set_new(json_array_get(bad, 2), "y", json_string(y));
		if (i == 1) {
			static const char ff[] = "__________________________________________8";

			json_object_set_new(json_array_get(bad, 2), "x", json_string(ff));
			json_object_set_new(json_array_get(bad, 2), "y", json_string(ff));
		}
		free(y);
		assert_null(tfx_keyset_parse(json_pack("{s:o}", "keys", bad), ID_KEYSET_SPIFFE, err,
					     sizeof(err)));
		if (strstr(err, "not a valid point of P-256") == NULL)
			fail_msg("case %zu: %s", i, err);
	}
	json_decref(keys);
	for (i = 0; i < 3; i++)
		EVP_PKEY_free(pk[i]);
}

/* OIDC key sets: use, kid, duplicates, ignored elements; the document and its text. */
static void test_keyset_parse_oidc(void **state)
{
	struct id_keyset *set;
	char err[512] = "", *text;
	json_t *jwk;

	(void)state;
	/* OIDC: enc keys skipped, sig and no-use keys loaded */
	set = tfx_keyset_parse(json_pack("{s:[o,o,o]}", "keys", tfx_key_jwk(TFX_K_RSA, "enc1", "enc", "RSA-OAEP"),
					 tfx_key_jwk(TFX_K_EC256, "s1", "sig", NULL),
					 tfx_key_jwk(TFX_K_EC384, "s2", NULL, NULL)), ID_KEYSET_OIDC, err, sizeof(err));
	assert_non_null(set);
	assert_int_equal(id_keyset_count(set), 2);
	assert_null(id_keyset_find(set, "enc1"));
	assert_non_null(id_keyset_find(set, "s2"));
	id_keyset_free(set);
	set = tfx_keyset_parse(json_pack("{s:[o]}", "keys", tfx_key_jwk(TFX_K_RSA, "enc1", "enc",
									NULL)),
			       ID_KEYSET_OIDC, err, sizeof(err));
	assert_non_null(set);
	assert_int_equal(id_keyset_count(set), 0);
	assert_int_equal(id_keyset_ignored(set), 0);
	id_keyset_free(set);
	/* an OIDC key without kid is ignored; duplicate kids refuse the set */
	tfx_jwk_ignored(tfx_key_jwk(TFX_K_EC256, NULL, "sig", NULL), "no \"kid\"");
	assert_null(tfx_keyset_parse(json_pack("{s:[o,o]}", "keys", tfx_key_jwk(TFX_K_EC256, "a", "sig", NULL),
					       tfx_key_jwk(TFX_K_EC384, "a", "sig", NULL)),
				     ID_KEYSET_OIDC, err, sizeof(err)));
	assert_non_null(strstr(err, "duplicate kid \"a\""));
	/* more than 16 ignored elements: 16 described, all counted */
	{
		json_t *many = json_array();

		for (int k = 0; k < 20; k++)
			json_array_append_new(many, json_pack("{s:s}", "kty", "oct"));
		json_array_append_new(many, tfx_key_jwk(TFX_K_EC256, "a", "sig", NULL));
		set = tfx_keyset_parse(json_pack("{s:o}", "keys", many), ID_KEYSET_OIDC, err,
				       sizeof(err));
		assert_non_null(set);
		assert_int_equal(id_keyset_count(set), 1);
		assert_int_equal(id_keyset_ignored(set), 20);
		assert_non_null(id_keyset_notice(set, 15));
		assert_null(id_keyset_notice(set, 16));
		id_keyset_free(set);
	}
	/* document shape; an empty "keys" is a set with no key (§4.1.3) */
	set = tfx_keyset_parse(json_pack("{s:[]}", "keys"), ID_KEYSET_SPIFFE, err, sizeof(err));
	assert_non_null(set);
	assert_int_equal(id_keyset_count(set), 0);
	id_keyset_free(set);
	assert_null(tfx_keyset_parse(json_pack("{s:{}}", "keys"), ID_KEYSET_OIDC, err,
				     sizeof(err)));
	assert_non_null(strstr(err, "no \"keys\" array"));
	assert_null(tfx_keyset_parse(json_pack("[]"), ID_KEYSET_OIDC, err, sizeof(err)));
	assert_null(tfx_keyset_parse(json_pack("{s:[i]}", "keys", 1), ID_KEYSET_OIDC, err,
				     sizeof(err)));
	assert_non_null(strstr(err, "key 0 is not a JSON object"));
	/* raw text: duplicates, trailing bytes, NUL */
	jwk = tfx_key_jwk(TFX_K_EC256, "a", "sig", NULL);
	text = json_dumps(jwk, JSON_COMPACT);
	json_decref(jwk);
	{
		char *doc = NULL;

		assert_true(asprintf(&doc, "{\"keys\":[%s]}", text) > 0);
		set = id_keyset_parse(doc, strlen(doc), ID_KEYSET_OIDC, err, sizeof(err));
		assert_non_null(set);
		id_keyset_free(set);
		free(doc);
		assert_true(asprintf(&doc, "{\"keys\":[%s],\"keys\":[]}", text) > 0);
		assert_null(id_keyset_parse(doc, strlen(doc), ID_KEYSET_OIDC, err, sizeof(err)));
		assert_non_null(strstr(err, "duplicate"));
		free(doc);
		assert_true(asprintf(&doc, "{\"keys\":[%s]}x", text) > 0);
		assert_null(id_keyset_parse(doc, strlen(doc), ID_KEYSET_OIDC, err, sizeof(err)));
		free(doc);
		assert_true(asprintf(&doc, "{\"keys\":[%s]}", text) > 0);
		assert_null(id_keyset_parse(doc, strlen(doc) + 1, ID_KEYSET_OIDC, err, sizeof(err)));
		free(doc);
		assert_true(asprintf(&doc, "{\"x\":\"a\\u0000\",\"keys\":[%s]}", text) > 0);
		assert_null(id_keyset_parse(doc, strlen(doc), ID_KEYSET_OIDC, err, sizeof(err)));
		free(doc);
	}
	free(text);
}

/* id_keyset_load refuses writable files, symlinks, directories. */
static void test_keyset_load_file_rules(void **state)
{
	char err[512] = "", *path, *link = NULL;
	struct id_keyset *set;

	(void)state;
	path = tfx_trust_doc("load.json", json_pack("{s:[o]}", "keys", tfx_key_jwk(TFX_K_EC256, "a", "sig", NULL)),
			     0644);
	set = id_keyset_load(path, ID_KEYSET_OIDC, err, sizeof(err));
	assert_non_null(set);
	id_keyset_free(set);
	assert_int_equal(chmod(path, 0664), 0);
	assert_null(id_keyset_load(path, ID_KEYSET_OIDC, err, sizeof(err)));
	assert_non_null(strstr(err, "too open"));
	assert_int_equal(chmod(path, 0646), 0);
	assert_null(id_keyset_load(path, ID_KEYSET_OIDC, err, sizeof(err)));
	assert_int_equal(chmod(path, 0644), 0);
	assert_true(asprintf(&link, "%s/link.json", tfx_trust.dir) > 0);
	assert_int_equal(symlink(path, link), 0);
	assert_null(id_keyset_load(link, ID_KEYSET_OIDC, err, sizeof(err)));
	assert_non_null(strstr(err, "symbolic link"));
	/* a parse error names the file */
	unlink(path);
	free(path);
	path = tfx_trust_doc("load.json", json_pack("{s:{}}", "keys"), 0644);
	assert_null(id_keyset_load(path, ID_KEYSET_OIDC, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	assert_null(id_keyset_load(tfx_trust.dir, ID_KEYSET_OIDC, err, sizeof(err)));
	unlink(link);
	unlink(path);
	free(link);
	free(path);
}

/* id_jws_parse/id_jws_verify/id_jws_clear used directly. */
static void test_jws_parse_api(void **state)
{
	struct id_jws jws;
	char err[256], *tok, *big;

	(void)state;
	/* a payload that is not JSON parses when no claims are wanted */
	tok = tfx_token(ID_ALG_ES256, tfx_key(TFX_K_EC256), HDR("ES256", "ec256", ""), "not json",
			0);
	assert_int_equal(id_jws_parse(tok, strlen(tok), false, &jws, err, sizeof(err)), 0);
	assert_null(jws.claims);
	assert_int_equal(jws.payload_len, 8);
	assert_memory_equal(jws.payload, "not json", 8);
	assert_int_equal(jws.alg, ID_ALG_ES256);
	assert_int_equal(jws.sig_len, 64);
	assert_int_equal(jws.signing_input_len, (size_t)(strrchr(tok, '.') - tok));
	assert_ptr_equal(jws.signing_input, tok);
	{
		struct id_key *key = id_key_from_pkey(tfx_key(TFX_K_EC256), "ec256", NULL, 0);
		struct id_key *k384 = id_key_from_pkey(tfx_key(TFX_K_EC384), "ec384", NULL, 0);

		assert_int_equal(id_jws_verify(&jws, key, err, sizeof(err)), 0);
		assert_int_equal(id_jws_verify(&jws, k384, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "may not verify ES256"));
		id_key_free(key);
		id_key_free(k384);
	}
	id_jws_clear(&jws);
	assert_int_equal(id_jws_parse(tok, strlen(tok), true, &jws, err, sizeof(err)), -1);
	assert_null(jws.header);
	assert_null(jws.payload);
	id_jws_clear(&jws);
	free(tok);
	/* the size cap comes before any decoding: bytes beyond it are never looked at */
	big = malloc(ID_TOKEN_MAX + 2);
	assert_non_null(big);
	memset(big, '!', ID_TOKEN_MAX + 1);
	big[ID_TOKEN_MAX + 1] = '\0';
	assert_int_equal(id_jws_parse(big, ID_TOKEN_MAX + 1, false, &jws, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "16385 bytes, larger than the limit"));
	free(big);
	assert_int_equal(id_jws_parse("", 0, false, &jws, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "empty token"));
	assert_int_equal(id_jws_parse("..", 2, false, &jws, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "header segment is empty"));
}

/* Attacker-controlled text in reasons is escaped and capped. */
static void test_attacker_text_escaped(void **state)
{
	char err[512] = "", *tok;
	struct id_identity *id = NULL;

	(void)state;
	tok = tfx_token(ID_ALG_ES256, tfx_key(TFX_K_EC256),
			"{\"alg\":\"ES256\",\"kid\":\"a\\nb\\u001b[31m\\\"x\"}",
			"{\"sub\":\"" TFX_SUB "\",\"aud\":\"" TFX_AUD "\",\"exp\":1700000100}", 0);
	assert_int_equal(id_verify_token(&tfx_trust.v, tok, strlen(tok), TFX_NOW, &id, err,
					 sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown kid \"a\\x0ab\\x1b[31m\\x22x\""));
	assert_null(strchr(err, '\n'));
	free(tok);
	/* long attacker text is capped */
	{
		char hdr[1024];

		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%0600d\",\"kid\":\"k\"}", 7);
		tok = tfx_token(ID_ALG_ES256, tfx_key(TFX_K_EC256), hdr, "{}", 0);
		assert_int_equal(id_verify_token(&tfx_trust.v, tok, strlen(tok), TFX_NOW, &id, err, sizeof(err)), -1);
		assert_true(strlen(err) < PA_ESCAPE_MAX + 64);
		assert_non_null(strstr(err, "..."));
		free(tok);
	}
}

/* Configuration errors id_verifier_load reports. */
static void test_verifier_load_errors(void **state)
{
	struct id_verifier v;
	struct id_trust_domain d[2];
	char err[256] = "", bad_td[] = "Example.org", good_td[] = "example.org", aud[] = "aud";
	char nopath[] = "/nonexistent/bundle.json";

	(void)state;
	memset(&v, 0, sizeof(v));
	assert_int_equal(id_verifier_load(&v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no trust domain and no issuer"));
	memset(d, 0, sizeof(d));
	d[0].name = bad_td;
	d[0].bundle_path = tfx_trust.v.domains[0].bundle_path;
	v.domains = d;
	v.n_domains = 1;
	v.audience = aud;
	assert_int_equal(id_verifier_load(&v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a valid trust domain name"));
	d[0].name = good_td;
	d[1] = d[0];
	v.n_domains = 2;
	assert_int_equal(id_verifier_load(&v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "configured twice"));
	id_keyset_free(d[0].keys);
	d[0].keys = NULL;
	v.n_domains = 1;
	v.audience = NULL;
	assert_int_equal(id_verifier_load(&v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no audience"));
	v.audience = aud;
	/* a bundle that cannot be read is that trust domain's problem only */
	d[0].bundle_path = nopath;
	assert_int_equal(id_verifier_load(&v, err, sizeof(err)), 0);
	assert_null(d[0].keys);
	assert_non_null(d[0].load_error);
	assert_non_null(strstr(d[0].load_error, "/nonexistent/bundle.json"));
	free(d[0].load_error);
}

/* ---- fixtures from the independent implementation ---------------------- */

/* Every case made by make_fixtures.py (Python cryptography) as expected. */
static void test_independent_fixtures(void **state)
{
	const char *base = getenv("PA_TEST_DATA");
	char dir[1024], path[1100], err[512];
	json_t *doc, *cfg, *cases, *tc;
	json_error_t jerr;
	struct id_verifier v;
	size_t i, accepted = 0, rejected = 0;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/independent", base != NULL ? base : "tests/data");
	snprintf(path, sizeof(path), "%s/cases.json", dir);
	doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL)
		print_error("%s: %s\n", path, jerr.text);
	assert_non_null(doc);
	cfg = json_object_get(doc, "config");
	cases = json_object_get(doc, "cases");
	assert_true(json_array_size(cases) >= 20);

	memset(&v, 0, sizeof(v));
	v.audience = strdup(json_string_value(json_object_get(cfg, "audience")));
	v.leeway = json_integer_value(json_object_get(cfg, "leeway"));
	v.max_token_age = json_integer_value(json_object_get(cfg, "max_token_age"));
	v.n_domains = 1;
	v.domains = calloc(1, sizeof(*v.domains));
	v.domains[0].name = strdup(json_string_value(json_object_get(cfg, "trust_domain")));
	assert_true(asprintf(&v.domains[0].bundle_path, "%s/%s", dir,
			     json_string_value(json_object_get(cfg, "bundle"))) > 0);
	v.n_issuers = 1;
	v.issuers = calloc(1, sizeof(*v.issuers));
	v.issuers[0].url = strdup(json_string_value(json_object_get(cfg, "issuer")));
	assert_true(asprintf(&v.issuers[0].jwks_path, "%s/%s", dir,
			     json_string_value(json_object_get(cfg, "jwks"))) > 0);
	v.issuers[0].allow_eddsa = json_is_true(json_object_get(cfg, "allow_eddsa"));
	if (id_verifier_load(&v, err, sizeof(err)) != 0)
		print_error("%s\n", err);
	assert_int_equal(id_verifier_load(&v, err, sizeof(err)), 0);
	/* the bundle has 5 jwt-svid keys and one x509-svid entry to skip */
	assert_int_equal(id_keyset_count(v.domains[0].keys), 5);
	assert_int_equal(id_keyset_count(v.issuers[0].keys), 1);

	json_array_foreach(cases, i, tc) {
		const char *name = json_string_value(json_object_get(tc, "name"));
		const char *tok = json_string_value(json_object_get(tc, "token"));
		const char *expect = json_string_value(json_object_get(tc, "expect"));
		const char *agent = json_string_value(json_object_get(tc, "agent_id"));
		int64_t now = json_integer_value(json_object_get(tc, "now"));
		struct id_identity *id = NULL;
		int rc;

		assert_non_null(tok);
		assert_non_null(expect);
		err[0] = '\0';
		rc = id_verify_token(&v, tok, strlen(tok), now, &id, err, sizeof(err));
		if ((rc == 0) != (strcmp(expect, "accept") == 0))
			print_error("independent case \"%s\": expected %s, got rc %d (%s)\n",
				    name, expect, rc, err);
		assert_int_equal(rc == 0, strcmp(expect, "accept") == 0);
		if (rc == 0) {
			accepted++;
			if (agent != NULL)
				assert_string_equal(id->agent_id, agent);
			id_identity_free(id);
		} else {
			rejected++;
			assert_null(id);
			assert_true(err[0] != '\0');
		}
	}
	print_message("independent fixtures: %zu accepted, %zu rejected as expected\n",
		      accepted, rejected);
	id_verifier_clear(&v);
	json_decref(doc);
}

/* A bundle's sequence and refresh hint, its file's mtime, the interval and the age limit. */
static void test_bundle_age(void **state)
{
	char err[512] = "", *path;
	struct id_keyset *set;
	struct timespec t[2];

	(void)state;
	set = tfx_keyset_parse(json_pack("{s:[],s:i,s:i}", "keys", "spiffe_sequence", 7,
					 "spiffe_refresh_hint", 5), ID_KEYSET_SPIFFE, err, sizeof(err));
	assert_non_null(set);
	assert_int_equal(id_keyset_sequence(set), 7);
	assert_int_equal(id_keyset_refresh_hint(set), 5);
	assert_int_equal(id_keyset_mtime(set), 0);
	assert_int_equal(id_bundle_refresh_interval(set), ID_REFRESH_MIN);
	assert_int_equal(id_bundle_age_limit(set, ID_BUNDLE_AGE_AUTO), 24 * ID_REFRESH_MIN);
	assert_int_equal(id_bundle_age_limit(set, 0), 0);
	assert_int_equal(id_bundle_age_limit(set, 3600), 3600);
	/* parsed, not read from a file: no age */
	assert_int_equal(id_bundle_check_age(set, 60, INT64_MAX / 2, err, sizeof(err)), 0);
	id_keyset_free(set);
	set = tfx_keyset_parse(json_pack("{s:[],s:i}", "keys", "spiffe_refresh_hint", 10000000),
			       ID_KEYSET_SPIFFE, err, sizeof(err));
	assert_int_equal(id_keyset_sequence(set), -1);
	assert_int_equal(id_bundle_refresh_interval(set), ID_REFRESH_MAX);
	id_keyset_free(set);
	/* an OIDC JWKS has no SPIFFE members: the default interval */
	set = tfx_keyset_parse(json_pack("{s:[],s:i}", "keys", "spiffe_refresh_hint", 60),
			       ID_KEYSET_OIDC, err, sizeof(err));
	assert_int_equal(id_keyset_refresh_hint(set), -1);
	assert_int_equal(id_bundle_refresh_interval(set), ID_REFRESH_DEFAULT);
	id_keyset_free(set);

	path = tfx_trust_doc("age.json", json_pack("{s:[],s:i}", "keys", "spiffe_refresh_hint", 300),
			     0644);
	t[0].tv_sec = t[1].tv_sec = 1000000;
	t[0].tv_nsec = t[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
	set = id_keyset_load(path, ID_KEYSET_SPIFFE, err, sizeof(err));
	assert_non_null(set);
	assert_int_equal(id_keyset_mtime(set), 1000000);
	/* exactly the limit is fine, a second more is stale */
	assert_int_equal(id_bundle_check_age(set, 3600, 1000000 + 3600, err, sizeof(err)), 0);
	assert_int_equal(id_bundle_check_age(set, 3600, 1000000 + 3601, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "its key set file is stale: written 3601s ago "
			       "(1970-01-12T13:46:40Z), over max_bundle_age 3600s"));
	assert_int_equal(id_bundle_check_age(set, ID_BUNDLE_AGE_AUTO, 1000000 + 7200, err,
					     sizeof(err)), 0);
	assert_int_equal(id_bundle_check_age(set, ID_BUNDLE_AGE_AUTO, 1000000 + 7201, err,
					     sizeof(err)), -1);
	assert_non_null(strstr(err, "(the default: 24 refresh intervals)"));
	assert_int_equal(id_bundle_check_age(set, 0, INT64_MAX / 2, err, sizeof(err)), 0);
	/* a file from the future is not stale (its age is 0) */
	assert_int_equal(id_bundle_check_age(set, 60, 1, err, sizeof(err)), 0);
	id_keyset_free(set);
	unlink(path);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyset_parse_spiffe),
		cmocka_unit_test(test_keyset_parse_oidc),
		cmocka_unit_test(test_keyset_same_curve_keys),
		cmocka_unit_test(test_keyset_load_file_rules),
		cmocka_unit_test(test_bundle_age),
		cmocka_unit_test(test_jws_parse_api),
		cmocka_unit_test(test_attacker_text_escaped),
		cmocka_unit_test(test_verifier_load_errors),
		cmocka_unit_test(test_independent_fixtures),
	};

	return cmocka_run_group_tests_name("identity sets", tests, tfx_trust_setup,
					   tfx_trust_teardown);
}
