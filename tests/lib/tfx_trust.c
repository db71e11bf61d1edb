/*
 * tfx_trust.c - see tfx_jose.h: the keys, bundle and JWKS files and the
 * verifier the identity tests share.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tfx_id.h"
#include "tfx_jose.h"

struct tfx_trust tfx_trust;

EVP_PKEY *tfx_key(enum tfx_key k)
{
	assert_true(k < TFX_K_COUNT);
	assert_non_null(tfx_trust.keys[k]);
	return tfx_trust.keys[k];
}

json_t *tfx_key_jwk(enum tfx_key k, const char *kid, const char *use, const char *alg)
{
	return tfx_jwk_of(tfx_key(k), kid, use, alg);
}

char *tfx_trust_doc(const char *name, json_t *doc, mode_t mode)
{
	char *path = NULL;

	assert_true(asprintf(&path, "%s/%s", tfx_trust.dir, name) > 0);
	tfx_write_json(path, doc, mode);
	return path;
}

json_t *tfx_default_claims(void)
{
	json_t *c = json_pack("{s:s, s:s, s:I, s:I, s:s}", "sub", TFX_SUB, "aud", TFX_AUD, "iat",
			      (json_int_t)(TFX_NOW - 10), "exp", (json_int_t)(TFX_NOW + 290), "jti",
			      "jti-1");

	assert_non_null(c);
	return c;
}

/* The keys: RSA (two), P-256/384/521, Ed25519, and one more P-256 for other.org. */
static int make_keys(void)
{
	static const char *const curves[] = { "P-256", "P-384", "P-521" };
	EVP_PKEY **k = tfx_trust.keys;
	size_t i;

	k[TFX_K_RSA] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	k[TFX_K_RSA_B] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	for (i = 0; i < 3; i++)
		k[TFX_K_EC256 + i] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curves[i]);
	k[TFX_K_ED] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	k[TFX_K_OTHER] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	for (i = 0; i < TFX_K_COUNT; i++)
		if (k[i] == NULL)
			return -1;
	return 0;
}

int tfx_trust_setup(void **state)
{
	EVP_PKEY **k = tfx_trust.keys;
	struct id_verifier *v = &tfx_trust.v;
	json_t *td, *td2, *idp, *idp2, *x509;
	char err[256] = "";

	(void)state;
	if (make_keys() != 0 || tfx_dir_new(tfx_trust.dir, "identity") != 0)
		return -1;
	x509 = tfx_jwk_of(k[TFX_K_OTHER], NULL, "x509-svid", NULL);
	json_object_set_new(x509, "x5c", json_pack("[s]", "MIIBfakeCertificateNotParsed"));
	td = json_pack("{s:[o,o,o,o,o,o,o], s:i, s:i}", "keys",
		       tfx_jwk_of(k[TFX_K_RSA], "rsa1", "jwt-svid", NULL),
		       tfx_jwk_of(k[TFX_K_RSA_B], "rsa-rs256", "jwt-svid", "RS256"),
		       tfx_jwk_of(k[TFX_K_EC256], "ec256", "jwt-svid", NULL),
		       tfx_jwk_of(k[TFX_K_EC384], "ec384", "jwt-svid", NULL),
		       tfx_jwk_of(k[TFX_K_EC521], "ec521", "jwt-svid", NULL),
		       tfx_jwk_of(k[TFX_K_ED], "ed-td", "jwt-svid", NULL), x509,
		       "spiffe_refresh_hint", 300, "spiffe_sequence", 7);
	td2 = json_pack("{s:[o]}", "keys",
			tfx_jwk_of(k[TFX_K_OTHER], "other-ec", "jwt-svid", NULL));
	idp = json_pack("{s:[o,o]}", "keys", tfx_jwk_of(k[TFX_K_ED], "ed1", "sig", NULL),
			tfx_jwk_of(k[TFX_K_RSA], "rsa-oidc", NULL, NULL));
	idp2 = json_pack("{s:[o,o]}", "keys", tfx_jwk_of(k[TFX_K_ED], "ed2", "sig", "EdDSA"),
			 tfx_jwk_of(k[TFX_K_RSA_B], "rsa2", NULL, NULL));
	if (td == NULL || td2 == NULL || idp == NULL || idp2 == NULL)
		return -1;

	v->audience = strdup(TFX_AUD);
	v->leeway = TFX_LEEWAY;
	v->max_token_age = TFX_MAX_AGE;
	v->n_domains = 2;
	v->domains = calloc(2, sizeof(*v->domains));
	v->domains[0].name = strdup("example.org");
	v->domains[0].bundle_path = tfx_trust_doc("example.org.json", td, 0644);
	v->domains[1].name = strdup("other.org");
	v->domains[1].bundle_path = tfx_trust_doc("other.org.json", td2, 0644);
	v->n_issuers = 2;
	v->issuers = calloc(2, sizeof(*v->issuers));
	v->issuers[0].url = strdup(TFX_IDP);
	v->issuers[0].jwks_path = tfx_trust_doc("idp.json", idp, 0644);
	v->issuers[0].audience = strdup(TFX_IDP_AUD);
	v->issuers[0].allow_eddsa = true;
	v->issuers[1].url = strdup(TFX_IDP2);
	v->issuers[1].jwks_path = tfx_trust_doc("idp2.json", idp2, 0644);
	if (id_verifier_load(v, err, sizeof(err)) != 0) {
		print_error("id_verifier_load: %s\n", err);
		return -1;
	}
	return 0;
}

int tfx_trust_teardown(void **state)
{
	size_t i;

	(void)state;
	id_verifier_clear(&tfx_trust.v);
	for (i = 0; i < TFX_K_COUNT; i++)
		EVP_PKEY_free(tfx_trust.keys[i]);
	return tfx_dir_remove(tfx_trust.dir);
}
