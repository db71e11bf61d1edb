/*
 * test_pop.c - proof of possession's challenge and answer (identity/pop.c,
 * docs/proof-of-possession.md): the challenge's form and freshness; the
 * right key's answer passes for EC P-256, P-384, Ed25519 and RSA; refused:
 * an answer to another challenge, by another key, empty, not base64url,
 * truncated, a key that cannot answer; a client key file that others can
 * read, or that is no private key.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/pem.h>

#include "identity.h"
#include "tfx.h"

#define NOW 1796600000
#define EV "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* A new key of alg: its signer (the client) and its public id_key (the module). */
static void key_pair(enum id_alg alg, struct id_signer **s, struct id_key **k)
{
	char err[256];
	json_t *jwk;

	*s = id_signer_generate(alg, err, sizeof(err));
	assert_non_null(*s);
	jwk = id_signer_public_jwk(*s, NULL);
	assert_non_null(jwk);
	*k = id_key_from_jwk(jwk, err, sizeof(err));
	json_decref(jwk);
	assert_non_null(*k);
}

static void test_challenge_form(void **state)
{
	char err[256], *c, *c2;
	unsigned char *raw = NULL;
	size_t len = 0;
	json_t *o;
	json_error_t jerr;

	(void)state;
	c = id_pop_challenge("spiffe://example.org/host/h", "sshd", EV, NOW, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(strncmp(c, ID_POP_PREFIX, strlen(ID_POP_PREFIX)), 0);
	/* fits one PAM message (PAM_MAX_MSG_SIZE 512) with its prompt */
	assert_true(strlen(c) < 400);
	assert_int_equal(id_b64url_decode(c + strlen(ID_POP_PREFIX),
					  strlen(c) - strlen(ID_POP_PREFIX), &raw, &len), 0);
	o = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, &jerr);
	free(raw);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "aud")),
			    "spiffe://example.org/host/h");
	assert_string_equal(json_string_value(json_object_get(o, "svc")), "sshd");
	assert_string_equal(json_string_value(json_object_get(o, "ev")), EV);
	assert_int_equal(json_integer_value(json_object_get(o, "iat")), NOW);
	assert_int_equal(json_integer_value(json_object_get(o, "exp")), NOW + ID_POP_TTL);
	assert_int_equal(strlen(json_string_value(json_object_get(o, "nonce"))), 32);
	json_decref(o);
	/* a fresh nonce every time */
	c2 = id_pop_challenge("spiffe://example.org/host/h", "sshd", EV, NOW, err, sizeof(err));
	assert_non_null(c2);
	assert_string_not_equal(c, c2);
	free(c);
	free(c2);
	assert_null(id_pop_challenge(NULL, "sshd", EV, NOW, err, sizeof(err)));
	tfx_contains(err, "needs an audience");
}

/* The key's own answer passes; another challenge's, another key's and malformed ones do not. */
static void answer_cases(enum id_alg alg)
{
	struct id_signer *s, *other_s;
	struct id_key *k, *other_k;
	char err[256], *c, *c2, *a, *a2, *bad;

	key_pair(alg, &s, &k);
	key_pair(alg, &other_s, &other_k);
	c = id_pop_challenge("aud", "svc", EV, NOW, err, sizeof(err));
	c2 = id_pop_challenge("aud", "svc", EV, NOW, err, sizeof(err));
	assert_non_null(c);
	assert_non_null(c2);
	a = id_pop_answer(s, c, err, sizeof(err));
	assert_non_null(a);
	assert_int_equal(id_pop_check(k, c, a, err, sizeof(err)), 0);
	/* the answer to another challenge (a replayed answer) */
	a2 = id_pop_answer(s, c2, err, sizeof(err));
	assert_non_null(a2);
	assert_int_equal(id_pop_check(k, c, a2, err, sizeof(err)), -1);
	tfx_contains(err, "not a signature of this challenge by the evidence's key");
	/* the right challenge signed by another key */
	free(a2);
	a2 = id_pop_answer(other_s, c, err, sizeof(err));
	assert_non_null(a2);
	assert_int_equal(id_pop_check(k, c, a2, err, sizeof(err)), -1);
	assert_int_equal(id_pop_check(other_k, c, a2, err, sizeof(err)), 0);
	/* nothing, not base64url, truncated */
	assert_int_equal(id_pop_check(k, c, "", err, sizeof(err)), -1);
	tfx_contains(err, "no answer");
	assert_int_equal(id_pop_check(k, c, "a+b/", err, sizeof(err)), -1);
	tfx_contains(err, "not a base64url signature");
	bad = strdup(a);
	assert_non_null(bad);
	bad[strlen(bad) - 4] = '\0';
	assert_int_equal(id_pop_check(k, c, bad, err, sizeof(err)), -1);
	/* the client signs nothing but a pam_agent challenge */
	assert_null(id_pop_answer(s, "sign-me", err, sizeof(err)));
	tfx_contains(err, "not a pam_agent challenge");
	free(bad);
	free(a);
	free(a2);
	free(c);
	free(c2);
	id_key_free(k);
	id_key_free(other_k);
	id_signer_free(s);
	id_signer_free(other_s);
}

static void test_answer_es256(void **state)
{
	(void)state;
	answer_cases(ID_ALG_ES256);
}

static void test_answer_es384(void **state)
{
	(void)state;
	answer_cases(ID_ALG_ES384);
}

static void test_answer_eddsa(void **state)
{
	(void)state;
	answer_cases(ID_ALG_EDDSA);
}

static void test_answer_rsa(void **state)
{
	(void)state;
	answer_cases(ID_ALG_PS256);
}

/* A P-521 key has no answer algorithm: its evidence cannot be proven. */
static void test_key_that_cannot_answer(void **state)
{
	struct id_signer *s;
	struct id_key *k;
	char err[256];

	(void)state;
	key_pair(ID_ALG_ES512, &s, &k);
	assert_int_equal(id_pop_alg(k), ID_ALG_NONE);
	assert_int_equal(id_pop_check(k, "pa-pop1.x", "AAAA", err, sizeof(err)), -1);
	tfx_contains(err, "cannot answer a challenge");
	id_key_free(k);
	id_signer_free(s);
}

/* The client's key file: its own or root's, no group/other bits, a private key. */
static void test_key_load(void **state)
{
	struct tfx_tmp *t = *state;
	struct id_signer *s, *loaded;
	struct id_key *k;
	char err[256], path[128], *pem = NULL, *c, *a;
	EVP_PKEY *pkey;
	BIO *bio;
	long n;

	/* a P-256 key in PEM, as spiffe-helper writes svid_key.pem */
	pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "prime256v1");
	assert_non_null(pkey);
	bio = BIO_new(BIO_s_mem());
	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), 1);
	n = BIO_get_mem_data(bio, &pem);
	assert_true(n > 0);
	pem = strndup(pem, (size_t)n);
	BIO_free(bio);
	assert_non_null(pem);
	snprintf(path, sizeof(path), "%s/svid_key.pem", t->dir);
	tfx_write(path, pem, 0600);
	loaded = id_pop_key_load(path, getuid(), err, sizeof(err));
	assert_non_null(loaded);
	/* its answers check against its public key */
	s = id_signer_from_pkey(pkey, ID_ALG_ES256, err, sizeof(err));
	assert_non_null(s);
	{
		json_t *jwk = id_signer_public_jwk(s, NULL);

		k = id_key_from_jwk(jwk, err, sizeof(err));
		json_decref(jwk);
	}
	assert_non_null(k);
	c = id_pop_challenge("aud", "svc", EV, NOW, err, sizeof(err));
	a = id_pop_answer(loaded, c, err, sizeof(err));
	assert_non_null(a);
	assert_int_equal(id_pop_check(k, c, a, err, sizeof(err)), 0);
	free(a);
	free(c);
	id_key_free(k);
	id_signer_free(s);
	id_signer_free(loaded);
	/* readable by the group: refused */
	tfx_write(path, pem, 0640);
	assert_null(id_pop_key_load(path, getuid(), err, sizeof(err)));
	/* not a private key */
	tfx_write(path, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 0600);
	assert_null(id_pop_key_load(path, getuid(), err, sizeof(err)));
	tfx_contains(err, "not an unencrypted PEM private key");
	free(pem);
}

static int setup_tmp(void **state)
{
	*state = tfx_tmp_new(sizeof(struct tfx_tmp), "pop");
	return *state != NULL ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_challenge_form),
		cmocka_unit_test(test_answer_es256),
		cmocka_unit_test(test_answer_es384),
		cmocka_unit_test(test_answer_eddsa),
		cmocka_unit_test(test_answer_rsa),
		cmocka_unit_test(test_key_that_cannot_answer),
		cmocka_unit_test_setup_teardown(test_key_load, setup_tmp, tfx_tmp_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
