/*
 * test_pop_client.c - proof of possession's client side and the check of a
 * key-bound token's answer (identity/pop_client.c, identity/pop.c,
 * docs/proof-of-possession.md): the evidence in parts, each prompt answered
 * on its own (as by an askpass program run once per prompt), and put back
 * together the way the module does; prompts that are not pam_agent's, or
 * that ask past the end, refused; a challenge signed for the key's kind
 * ("X.509-SVID key": the signature, "token key": JWK.SIGNATURE), and not
 * signed for another audience; "JWK.SIGNATURE" answers refused for another
 * key, a broken JWK, a signature over another challenge.
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

#include "identity.h"
#include "tfx.h"

#define NOW 1796600000
#define AUD "spiffe://example.org/host/h"
#define EV "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* A presenter of evidence (no key), its evidence ev of n characters. */
static void client_of(struct id_pop_client *c, char *ev, size_t n)
{
	char err[256];
	size_t i;

	for (i = 0; i < n; i++)
		ev[i] = "abcdefghijklmnopqrstuvwxyz.-_0123456789"[i % 39];
	ev[n] = '\0';
	assert_int_equal(id_pop_client_load(c, ev, NULL, NULL, getuid(), err, sizeof(err)), 0);
}

/* The module's side: the prompts, the parts put back together, as pam_agent/token.c does. */
static char *collect(const struct id_pop_client *c, const char *first_prompt)
{
	char prompt[128], err[256], *all = calloc(1, 1), *part, *grown;
	size_t len = 0, n, parts = 0;
	int more = 1;

	snprintf(prompt, sizeof(prompt), "%s", first_prompt);
	while (more) {
		part = id_pop_client_respond(c, prompt, err, sizeof(err));
		assert_non_null(part);
		n = strlen(part);
		assert_true(n <= ID_PART_MAX + 1);
		more = n > 0 && part[n - 1] == '+';
		grown = realloc(all, len + n + 1);
		assert_non_null(grown);
		all = grown;
		memcpy(all + len, part, n - (more ? 1 : 0));
		len += n - (more ? 1 : 0);
		all[len] = '\0';
		free(part);
		assert_true(++parts < 100);
		snprintf(prompt, sizeof(prompt), "%s%zu): ", ID_MORE_PROMPT, len);
	}
	return all;
}

static void test_parts(void **state)
{
	struct id_pop_client c;
	char ev[1001], err[256], *all, *p;

	(void)state;
	client_of(&c, ev, 1000);
	all = collect(&c, ID_TOKEN_PROMPT);
	assert_string_equal(all, ev);
	free(all);
	/* ssh puts "(user@host) " before a keyboard-interactive prompt */
	all = collect(&c, "(agent@10.0.0.1) " ID_TOKEN_PROMPT);
	assert_string_equal(all, ev);
	free(all);
	/* each prompt on its own: the last part, without '+' */
	p = id_pop_client_respond(&c, ID_MORE_PROMPT "800): ", err, sizeof(err));
	assert_non_null(p);
	assert_string_equal(p, ev + 800);
	free(p);
	/* short evidence: one part, no '+' */
	id_pop_client_clear(&c);
	client_of(&c, ev, ID_PART_MAX);
	p = id_pop_client_respond(&c, ID_TOKEN_PROMPT, err, sizeof(err));
	assert_non_null(p);
	assert_string_equal(p, ev);
	free(p);
	id_pop_client_clear(&c);
}

static void test_prompts_refused(void **state)
{
	static const char *const bad[] = {
		"Password: ", "Are you sure you want to continue connecting (yes/no)? ",
		ID_MORE_PROMPT "1000): ", ID_MORE_PROMPT "5000): ", ID_MORE_PROMPT "0): ",
		ID_MORE_PROMPT "-3): ", ID_MORE_PROMPT "12): trailing", ID_MORE_PROMPT "x): ",
		ID_TOKEN_PROMPT "more", "",
	};
	struct id_pop_client c;
	char ev[1001], err[256];
	size_t i;

	(void)state;
	client_of(&c, ev, 1000);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_null(id_pop_client_respond(&c, bad[i], err, sizeof(err)));
		assert_true(err[0] != '\0');
	}
	/* a challenge, and no key to answer it */
	assert_null(id_pop_client_respond(&c, ID_POP_PROMPT "X.509-SVID key): " ID_POP_PREFIX "e30",
					  err, sizeof(err)));
	tfx_contains(err, "no key was given");
	id_pop_client_clear(&c);
}

/* A client whose key answers challenges: an EC P-256 key file written under dir. */
static struct id_key *keyed_client(struct id_pop_client *c, const char *dir, char jkt[ID_JKT_LEN + 1])
{
	struct id_signer *s;
	struct id_key *k;
	char err[256], path[256];
	json_t *jwk;

	s = id_signer_generate(ID_ALG_ES256, err, sizeof(err));
	assert_non_null(s);
	snprintf(path, sizeof(path), "%s/key.pem", dir);
	assert_int_equal(id_signer_save(s, path, err, sizeof(err)), 0);
	jwk = id_signer_public_jwk(s, NULL);
	assert_int_equal(id_jwk_thumbprint(jwk, jkt, err, sizeof(err)), 0);
	k = id_key_from_jwk(jwk, err, sizeof(err));
	assert_non_null(k);
	json_decref(jwk);
	id_signer_free(s);
	assert_int_equal(id_pop_client_load(c, "a.b.c", NULL, path, getuid(), err, sizeof(err)), 0);
	return k;
}

static char *prompt_for(const char *what, const char *aud, char **chal)
{
	char err[256], *p;

	*chal = id_pop_challenge(aud, "sshd", EV, NOW, err, sizeof(err));
	assert_non_null(*chal);
	p = malloc(strlen(*chal) + 128);
	sprintf(p, "(agent@host) %s%s): %s\nSignature: ", ID_POP_PROMPT, what, *chal);
	return p;
}

static void test_challenge_answers(void **state)
{
	struct tfx_tmp *t = *state;
	struct id_pop_client c;
	struct id_key *k;
	char jkt[ID_JKT_LEN + 1], other[ID_JKT_LEN + 1], err[256], *chal, *chal2, *p, *a;

	k = keyed_client(&c, t->dir, jkt);
	/* an X.509-SVID's key: the signature alone */
	p = prompt_for("X.509-SVID key", AUD, &chal);
	a = id_pop_client_respond(&c, p, err, sizeof(err));
	assert_non_null(a);
	assert_null(strchr(a, '.'));
	assert_int_equal(id_pop_check(k, chal, a, err, sizeof(err)), 0);
	free(a);
	free(p);
	free(chal);
	/* a key-bound token: JWK.SIGNATURE, checked against the thumbprint */
	p = prompt_for(ID_POP_TOKEN_KEY, AUD, &chal);
	a = id_pop_client_respond(&c, p, err, sizeof(err));
	assert_non_null(a);
	assert_int_equal(id_pop_check_bound(jkt, chal, a, err, sizeof(err)), 0);
	/* refused: another token's thumbprint, another challenge, a broken JWK */
	memcpy(other, jkt, sizeof(other));
	other[0] = other[0] == 'A' ? 'B' : 'A';
	assert_int_equal(id_pop_check_bound(other, chal, a, err, sizeof(err)), -1);
	tfx_contains(err, "not the one the token's cnf binds");
	chal2 = id_pop_challenge(AUD, "sshd", EV, NOW, err, sizeof(err));
	assert_int_equal(id_pop_check_bound(jkt, chal2, a, err, sizeof(err)), -1);
	tfx_contains(err, "not a signature of this challenge");
	assert_int_equal(id_pop_check_bound(jkt, chal, strchr(a, '.'), err, sizeof(err)), -1);
	assert_int_equal(id_pop_check_bound(jkt, chal, "e30.AAAA", err, sizeof(err)), -1);
	tfx_contains(err, "the key is no EC, RSA or OKP JWK");
	assert_int_equal(id_pop_check_bound(jkt, chal, "W10.AAAA", err, sizeof(err)), -1);
	tfx_contains(err, "not a JSON object");
	assert_int_equal(id_pop_check_bound(jkt, chal, "noperiod", err, sizeof(err)), -1);
	tfx_contains(err, "not JWK.SIGNATURE");
	free(chal2);
	free(a);
	free(p);
	free(chal);
	/* the audience set: a challenge of another host is not signed */
	c.audience = strdup(AUD);
	p = prompt_for("X.509-SVID key", "spiffe://example.org/host/other", &chal);
	assert_null(id_pop_client_respond(&c, p, err, sizeof(err)));
	tfx_contains(err, "is for audience \"spiffe://example.org/host/other\"");
	free(p);
	free(chal);
	p = prompt_for("X.509-SVID key", AUD, &chal);
	a = id_pop_client_respond(&c, p, err, sizeof(err));
	assert_non_null(a);
	assert_int_equal(id_pop_check(k, chal, a, err, sizeof(err)), 0);
	free(a);
	free(p);
	free(chal);
	id_key_free(k);
	id_pop_client_clear(&c);
}

static int setup_tmp(void **state)
{
	*state = tfx_tmp_new(sizeof(struct tfx_tmp), "popc");
	return *state != NULL ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parts),
		cmocka_unit_test(test_prompts_refused),
		cmocka_unit_test_setup_teardown(test_challenge_answers, setup_tmp, tfx_tmp_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
