/*
 * test_x509.c - X.509-SVIDs: parsing presented chains (PEM and compact),
 * the chain hash, the leaf key, and verification of the chains an
 * independent implementation made (Python cryptography, make_x509.py,
 * read from $PA_TEST_DATA/x509, default tests/data/x509): the bundle's
 * x509-svid authorities and a trust domain's x509_authorities file.
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
#include "identity.h"
#include "util.h"
#include "tfx.h"

static char data_dir[1024];

/* The path of fixture file name. */
static const char *fx(const char *name)
{
	static char path[2048];

	snprintf(path, sizeof(path), "%s/%s", data_dir, name);
	return path;
}

/* Reads fixture name into a heap string. */
static char *fx_read(const char *name, size_t *len)
{
	char *s = tfx_read(fx(name), len);

	assert_non_null(s);
	return s;
}

/* The fixtures' cases.json. */
static json_t *fx_cases(void)
{
	json_error_t jerr;
	json_t *doc = json_load_file(fx("cases.json"), JSON_REJECT_DUPLICATES, &jerr);

	if (doc == NULL)
		print_error("%s: %s\n", fx("cases.json"), jerr.text);
	assert_non_null(doc);
	return doc;
}

/* A verifier of example.org (bundle.json, or authorities when not NULL) and other.test. */
static void fx_verifier(struct id_verifier *v, int64_t leeway, const char *authorities)
{
	char err[512], *auth = authorities != NULL ? strdup(authorities) : NULL;

	memset(v, 0, sizeof(*v));
	v->audience = strdup("spiffe://example.org/host/test");
	v->leeway = leeway;
	v->max_token_age = 3600;
	v->n_domains = 2;
	v->domains = calloc(2, sizeof(*v->domains));
	assert_non_null(v->domains);
	v->domains[0].name = strdup("example.org");
	v->domains[0].bundle_path = strdup(fx("bundle.json"));
	v->domains[0].x509_authorities_path = auth; /* fx() reuses its buffer */
	v->domains[1].name = strdup("other.test");
	v->domains[1].bundle_path = strdup(fx("other.json"));
	if (id_verifier_load(v, err, sizeof(err)) != 0)
		print_error("%s\n", err);
	assert_int_equal(id_verifier_load(v, err, sizeof(err)), 0);
}

/* Parses and verifies one chain text at now; returns rc, fills err and *out. */
static int verify_text(const struct id_verifier *v, const char *text, size_t len, int64_t now,
		       struct id_identity **out, char *err, size_t errlen)
{
	struct id_x509_chain *c = NULL;
	int rc;

	*out = NULL;
	if (id_x509_chain_parse(text, len, &c, err, errlen) != 0)
		return -1;
	rc = id_x509_verify(v, c, now, out, err, errlen);
	id_x509_chain_free(c);
	return rc;
}

/* Every case of cases.json against v, as expected. */
static void run_cases(const struct id_verifier *v, const json_t *doc)
{
	const json_t *cases = json_object_get(doc, "cases"), *tc;
	int64_t now = json_integer_value(json_object_get(doc, "now"));
	size_t i, accepted = 0, refused = 0;

	assert_true(json_array_size(cases) >= 20);
	json_array_foreach(cases, i, tc) {
		const char *file = json_string_value(json_object_get(tc, "chain"));
		const char *want = json_string_value(json_object_get(tc, "error"));
		bool ok = json_is_true(json_object_get(tc, "ok"));
		struct id_identity *id = NULL;
		char err[512] = "", *text;
		size_t len = 0;
		int rc;

		text = fx_read(file, &len);
		rc = verify_text(v, text, len, now, &id, err, sizeof(err));
		free(text);
		if ((rc == 0) != ok || (!ok && strstr(err, want) == NULL))
			print_error("x509 case %s: expected %s, got rc %d (%s)\n", file,
				    ok ? "accept" : want, rc, err);
		assert_int_equal(rc == 0, ok);
		if (ok) {
			accepted++;
			assert_int_equal(id->kind, ID_KIND_SPIFFE);
			assert_string_equal(id->agent_id,
					    json_string_value(json_object_get(tc, "id")));
			assert_string_equal(id->subject, id->agent_id);
			assert_string_equal(id->trust_domain, "example.org");
			assert_true(id->exp > now - v->leeway && id->nbf <= now);
			assert_int_equal(strlen(id->fingerprint), ID_FINGERPRINT_LEN);
			assert_non_null(json_object_get(id->claims, "x5t#S256"));
			id_identity_free(id);
		} else {
			refused++;
			assert_null(id);
			assert_non_null(strstr(err, want));
		}
	}
	print_message("x509 fixtures: %zu accepted, %zu refused as expected\n", accepted,
		      refused);
}

/* The independent chains against the bundle's x509-svid authorities. */
static void test_x509_cases_bundle(void **state)
{
	json_t *doc = fx_cases();
	struct id_verifier v;

	(void)state;
	fx_verifier(&v, json_integer_value(json_object_get(doc, "leeway")), NULL);
	/* the authority is parsed by the first verification that needs it */
	assert_int_equal(id_keyset_x509_pending(v.domains[0].keys), 1);
	run_cases(&v, doc);
	assert_int_equal(id_keyset_x509_pending(v.domains[0].keys), 0);
	assert_int_equal(id_keyset_x509_count(v.domains[0].keys), 1);
	id_verifier_clear(&v);
	json_decref(doc);
}

/* The same chains against the trust domain's x509_authorities PEM file. */
static void test_x509_cases_authorities_file(void **state)
{
	json_t *doc = fx_cases();
	struct id_verifier v;

	(void)state;
	fx_verifier(&v, json_integer_value(json_object_get(doc, "leeway")),
		    fx("authorities.pem"));
	run_cases(&v, doc);
	id_verifier_clear(&v);
	json_decref(doc);
}

/* Without leeway the chain that expired 10 s ago is refused. */
static void test_x509_no_leeway(void **state)
{
	json_t *doc = fx_cases();
	struct id_identity *id = NULL;
	struct id_verifier v;
	char err[512], *text;
	size_t len;

	(void)state;
	fx_verifier(&v, 0, NULL);
	text = fx_read("ok-expired-within-leeway.pem", &len);
	assert_int_equal(verify_text(&v, text, len,
				     json_integer_value(json_object_get(doc, "now")), &id, err,
				     sizeof(err)), -1);
	tfx_contains(err, "leaf expired at");
	free(text);
	id_verifier_clear(&v);
	json_decref(doc);
}

/* An authorities file that cannot be used refuses its trust domain only. */
static void test_x509_bad_authorities_file(void **state)
{
	json_t *doc = fx_cases();
	struct id_identity *id = NULL;
	struct id_verifier v;
	char dir[TFX_DIR_MAX], err[512], *text;
	const char *bad;
	size_t len;

	(void)state;
	assert_int_equal(tfx_dir_new(dir, "x509"), 0);
	bad = tfx_write_at(dir, "bad.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n"
			   "-----END CERTIFICATE-----\n", 0644);
	fx_verifier(&v, 30, bad);
	assert_null(v.domains[0].keys);
	tfx_contains(v.domains[0].load_error, "x509_authorities: ");
	assert_non_null(v.domains[1].keys);
	text = fx_read("ok-ec-p256.pem", &len);
	assert_int_equal(verify_text(&v, text, len,
				     json_integer_value(json_object_get(doc, "now")), &id, err,
				     sizeof(err)), -1);
	tfx_contains(err, "trust domain example.org cannot be used");
	free(text);
	id_verifier_clear(&v);
	json_decref(doc);
	assert_int_equal(tfx_dir_remove(dir), 0);
}

/* The compact form: the same chain as its PEM, the same hash. */
static void test_x509_compact(void **state)
{
	json_t *doc = fx_cases();
	const json_t *compact = json_object_get(doc, "compact");
	const char *text = json_string_value(json_object_get(compact, "chain"));
	struct id_x509_chain *a = NULL, *b = NULL;
	char ha[ID_SHA256_HEX + 1], hb[ID_SHA256_HEX + 1], err[512], *pem;
	struct id_identity *id = NULL;
	struct id_verifier v;
	size_t len;

	(void)state;
	assert_int_equal(id_x509_chain_parse(text, strlen(text), &a, err, sizeof(err)), 0);
	pem = fx_read("ok-ec-p256.pem", &len);
	assert_int_equal(id_x509_chain_parse(pem, len, &b, err, sizeof(err)), 0);
	assert_int_equal(id_x509_chain_sha256(a, ha, err, sizeof(err)), 0);
	assert_int_equal(id_x509_chain_sha256(b, hb, err, sizeof(err)), 0);
	assert_string_equal(ha, hb);
	fx_verifier(&v, 30, NULL);
	assert_int_equal(id_x509_verify(&v, a, json_integer_value(json_object_get(doc, "now")),
					&id, err, sizeof(err)), 0);
	assert_string_equal(id->agent_id, json_string_value(json_object_get(compact, "id")));
	id_identity_free(id);
	id_verifier_clear(&v);
	id_x509_chain_free(a);
	id_x509_chain_free(b);
	free(pem);
	json_decref(doc);
}

/* Malformed input is refused with a reason before anything is verified. */
static void test_x509_parse_refusals(void **state)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "", "no certificate chain" },
		{ "AAAA", "is not a DER X.509 certificate" },
		{ "AAAA.", "certificate 1 of the chain is not a DER" },
		{ "MII=", "is not base64url" },
		{ "a+b", "is not base64url" },
		{ ".", "certificate 1 of the chain is empty" },
		{ "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
		  "is not a DER X.509 certificate" },
		{ "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
		  "is not a plain CERTIFICATE" },
		{ "-----BEGIN nothing", "no PEM CERTIFICATE block" },
	};
	struct id_x509_chain *c = NULL;
	char err[512], *big;
	size_t i;

	(void)state;
	for (i = 0; i < PA_ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		assert_int_equal(id_x509_chain_parse(bad[i].text, strlen(bad[i].text), &c, err,
						     sizeof(err)), -1);
		assert_null(c);
		tfx_contains(err, bad[i].why);
	}
	big = malloc(ID_X509_CHAIN_MAX + 2);
	assert_non_null(big);
	memset(big, 'A', ID_X509_CHAIN_MAX + 1);
	big[ID_X509_CHAIN_MAX + 1] = '\0';
	assert_int_equal(id_x509_chain_parse(big, ID_X509_CHAIN_MAX + 1, &c, err, sizeof(err)),
			 -1);
	tfx_contains(err, "larger than");
	free(big);
}

/* A chain whose second PEM block cannot be read is refused, not cut short. */
static void test_x509_parse_bad_second_block(void **state)
{
	static const char *const tails[] = {
		"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
		"-----BEGIN CERTIFICATE-----\nMIIB\n",
	};
	struct id_x509_chain *c = NULL;
	char err[512], *one, *text;
	size_t len, i;

	(void)state;
	one = fx_read("ok-p384-no-intermediate.pem", &len);
	for (i = 0; i < PA_ARRAY_SIZE(tails); i++) {
		text = malloc(len + strlen(tails[i]) + 1);
		assert_non_null(text);
		memcpy(text, one, len);
		strcpy(text + len, tails[i]);
		assert_int_equal(id_x509_chain_parse(text, strlen(text), &c, err, sizeof(err)), -1);
		assert_null(c);
		tfx_contains(err, "PEM block 2 is malformed");
		free(text);
	}
	assert_int_equal(id_x509_chain_parse(one, len, &c, err, sizeof(err)), 0);
	id_x509_chain_free(c);
	free(one);
}

/* Six certificates are too many for a presented chain. */
static void test_x509_parse_too_many(void **state)
{
	struct id_x509_chain *c = NULL;
	char err[512], *one, *text;
	size_t len, i, off = 0;

	(void)state;
	one = fx_read("ok-p384-no-intermediate.pem", &len);
	text = malloc(len * (ID_X509_MAX_CHAIN + 1) + 1);
	assert_non_null(text);
	for (i = 0; i <= ID_X509_MAX_CHAIN; i++, off += len)
		memcpy(text + off, one, len);
	text[off] = '\0';
	assert_int_equal(id_x509_chain_parse(text, off, &c, err, sizeof(err)), -1);
	tfx_contains(err, "more than 5 certificates");
	off -= len;
	assert_int_equal(id_x509_chain_parse(text, off, &c, err, sizeof(err)), 0);
	id_x509_chain_free(c);
	free(text);
	free(one);
}

/* The leaf key carries the algorithm its signatures use. */
static void test_x509_leaf_key(void **state)
{
	static const struct {
		const char *file, *alg;
	} keys[] = {
		{ "ok-ec-p256.pem", "ES256" },
		{ "ok-p384-no-intermediate.pem", "ES384" },
		{ "ok-ed25519.pem", "EdDSA" },
		{ "ok-rsa2048.pem", "PS256" },
	};
	struct id_x509_chain *c = NULL;
	struct id_key *key;
	char err[512], *text;
	size_t i, len;

	(void)state;
	for (i = 0; i < PA_ARRAY_SIZE(keys); i++) {
		text = fx_read(keys[i].file, &len);
		assert_int_equal(id_x509_chain_parse(text, len, &c, err, sizeof(err)), 0);
		key = id_x509_leaf_key(c, err, sizeof(err));
		assert_non_null(key);
		assert_true(id_key_allows(key, id_alg_from_name(keys[i].alg)));
		assert_false(id_key_allows(key, keys[i].alg[0] == 'E' && keys[i].alg[1] == 'S' ?
					   ID_ALG_EDDSA : ID_ALG_ES256));
		id_key_free(key);
		id_x509_chain_free(c);
		free(text);
	}
	text = fx_read("rsa1024.pem", &len);
	assert_int_equal(id_x509_chain_parse(text, len, &c, err, sizeof(err)), 0);
	assert_null(id_x509_leaf_key(c, err, sizeof(err)));
	tfx_contains(err, "RSA key of 1024 bits");
	id_x509_chain_free(c);
	free(text);
}

int main(void)
{
	const char *base = getenv("PA_TEST_DATA");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_x509_cases_bundle),
		cmocka_unit_test(test_x509_cases_authorities_file),
		cmocka_unit_test(test_x509_no_leeway),
		cmocka_unit_test(test_x509_bad_authorities_file),
		cmocka_unit_test(test_x509_compact),
		cmocka_unit_test(test_x509_parse_refusals),
		cmocka_unit_test(test_x509_parse_bad_second_block),
		cmocka_unit_test(test_x509_parse_too_many),
		cmocka_unit_test(test_x509_leaf_key),
	};

	snprintf(data_dir, sizeof(data_dir), "%s/x509", base != NULL ? base : "tests/data");
	return cmocka_run_group_tests_name("x509", tests, NULL, NULL);
}
