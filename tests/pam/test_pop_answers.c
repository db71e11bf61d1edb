/*
 * test_pop_answers.c - answers to the module's challenge through the real
 * module (docs/proof-of-possession.md), for a key-bound JWT-SVID and for a
 * WIT-SVID:
 *  - the right key's answer ID_POP_TTL - 1 seconds after the challenge is
 *    taken; ID_POP_TTL + 1 seconds after, it is refused ("the answer came
 *    after the challenge expired"). This program defines time(), exported
 *    to the module loaded into it (the executable's definition comes first
 *    in the dynamic lookup), so the conversation moves the module's clock
 *    forward before it answers;
 *  - a signature by the right key over another challenge: one for another
 *    audience (another host's, relayed), or a fresh one of this host that
 *    is not the one asked - refused.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixtures.h"
#include "harness.h"

#define BOUND "spiffe://example.org/agents/bound"
#define OTHER_AUD "spiffe://example.org/host/elsewhere"

static const struct pa_service services[] = {
	{ "pa_pop", "auth required @MODULE@ config=@DIR@/policy.conf\n" },
	{ NULL, NULL },
};

/* Seconds the module's time() runs ahead of the real clock. */
static time_t ahead;

time_t time(time_t *t)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ahead;
	if (t != NULL)
		*t = ts.tv_sec;
	return ts.tv_sec;
}

/* The WIT-SVID signing key of example.org (its bundle's wit-svid element). */
static struct id_signer *wit_ca;

enum answer { RIGHT, OTHER_AUDIENCE, OTHER_CHALLENGE };

struct answerer {
	struct id_pop_client client;
	time_t delay;	/* how long the challenge's answer takes, in seconds */
	enum answer how;
	int challenges;
};

/* The challenge prompt with its challenge replaced by another one (heap). */
static char *swapped(const char *prompt, enum answer how)
{
	char err[256], *c, *out;
	const char *at = strstr(prompt, ID_POP_PREFIX);

	assert_non_null(at);
	c = id_pop_challenge(how == OTHER_AUDIENCE ? OTHER_AUD : FX_AUDIENCE, "pa_pop", "00",
			     (int64_t)time(NULL), err, sizeof(err));
	assert_non_null(c);
	out = malloc(strlen(prompt) + strlen(c) + 1);
	assert_non_null(out);
	memcpy(out, prompt, (size_t)(at - prompt));
	strcpy(out + (at - prompt), c);
	free(c);
	return out;
}

/* Answers pam_agent's prompts; the challenge after delay seconds, signed as how says. */
static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct answerer *a = data;
	struct pam_response *r = calloc((size_t)n, sizeof(*r));
	char err[256], *prompt;
	int i;

	if (r == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		if (msg[i]->msg_style != PAM_PROMPT_ECHO_OFF)
			continue;
		prompt = strdup(msg[i]->msg);
		if (strncmp(prompt, ID_POP_PROMPT, strlen(ID_POP_PROMPT)) == 0) {
			a->challenges++;
			ahead += a->delay;
			if (a->how != RIGHT) {
				char *other = swapped(prompt, a->how);

				free(prompt);
				prompt = other;
			}
		}
		r[i].resp = id_pop_client_respond(&a->client, prompt, err, sizeof(err));
		if (r[i].resp == NULL)
			fprintf(stderr, "test_pop_answers: no answer: %s\n", err);
		free(prompt);
	}
	*resp = r;
	return PAM_SUCCESS;
}

/* A key-bound JWT-SVID (cnf.jkt), or a WIT-SVID (cnf.jwk), of key. */
static char *evidence(const struct id_signer *key, bool wit)
{
	char err[256], jkt[ID_JKT_LEN + 1], extra[128], *tok;
	json_t *jwk = id_signer_public_jwk(key, NULL), *claims;

	if (!wit) {
		assert_int_equal(id_jwk_thumbprint(jwk, jkt, err, sizeof(err)), 0);
		json_decref(jwk);
		snprintf(extra, sizeof(extra), "{\"cnf\":{\"jkt\":\"%s\"}}", jkt);
		return fx_mint(&fx_example, BOUND, FX_AUDIENCE, fx_now, fx_now + 600, extra);
	}
	claims = json_pack("{s:s, s:I, s:I, s:s, s:{s:o}}", "sub", BOUND, "iat",
			   (json_int_t)fx_now, "exp", (json_int_t)fx_now + 600, "jti", "w-1",
			   "cnf", "jwk", jwk);
	assert_non_null(claims);
	tok = id_sign_jws(wit_ca, "wit+jwt", claims, err, sizeof(err));
	json_decref(claims);
	assert_non_null(tok);
	return tok;
}

/* One authentication whose challenge is answered delay seconds later, as how says. */
static int login(bool wit, time_t delay, enum answer how)
{
	struct answerer a = { .delay = delay, .how = how };
	struct pam_conv c = { conv, &a };
	struct id_signer *key;
	pam_handle_t *pamh = NULL;
	char err[256], *tok;
	const char *path;
	int rc;

	key = id_signer_generate(ID_ALG_ES256, err, sizeof(err));
	assert_non_null(key);
	path = pa_harness_file("key.pem", "", 0600);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(id_signer_save(key, path, err, sizeof(err)), 0);
	tok = evidence(key, wit);
	id_signer_free(key);
	assert_int_equal(id_pop_client_load(&a.client, tok, NULL, path, getuid(), err, sizeof(err)),
			 0);
	free(tok);
	pa_harness_log_reset();
	assert_int_equal(pam_start("pa_pop", fx_user(), &c, &pamh), PAM_SUCCESS);
	rc = pam_authenticate(pamh, 0);
	pam_end(pamh, rc);
	ahead = 0;
	id_pop_client_clear(&a.client);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(a.challenges, 1);
	return rc;
}

static void answers(bool wit)
{
	FX_EXPECT(login(wit, ID_POP_TTL - 1, RIGHT), PAM_SUCCESS);
	fx_expect_log("proof of possession");
	FX_EXPECT(login(wit, ID_POP_TTL + 1, RIGHT), PAM_AUTH_ERR);
	fx_expect_log("the answer came after the challenge expired (60s)");
	FX_EXPECT(login(wit, 0, OTHER_AUDIENCE), PAM_AUTH_ERR);
	fx_expect_log("not a signature of this challenge by the evidence's key");
	FX_EXPECT(login(wit, 0, OTHER_CHALLENGE), PAM_AUTH_ERR);
	fx_expect_log("not a signature of this challenge by the evidence's key");
}

static void test_key_bound_jwt(void **state)
{
	(void)state;
	answers(false);
}

static void test_wit_svid(void **state)
{
	(void)state;
	answers(true);
}

static int setup(void **state)
{
	char err[256], *text;
	json_t *bundle;

	if (fx_setup(state) != 0)
		return -1;
	/* example.org's bundle with a wit-svid key next to its jwt-svid key */
	wit_ca = id_signer_generate(ID_ALG_ES256, err, sizeof(err));
	bundle = json_load_file(fx_example.bundle, 0, NULL);
	if (wit_ca == NULL || bundle == NULL ||
	    json_array_append_new(json_object_get(bundle, "keys"),
				  id_signer_public_jwk(wit_ca, "wit-svid")) != 0)
		return -1;
	text = json_dumps(bundle, JSON_COMPACT);
	json_decref(bundle);
	if (text == NULL)
		return -1;
	fx_file("example.org.bundle.json", text, 0644);
	free(text);
	fx_file("policy.conf",
		FX_POLICY_GLOBAL "single_use = no\n" FX_EXAMPLE_TRUST
		"[service pa_pop]\nclass = read\n"
		"[agent " BOUND "]\nusers = @USER@\nservices = pa_pop\nrequire_pop = yes\n",
		0600);
	return 0;
}

static int teardown(void **state)
{
	id_signer_free(wit_ca);
	return fx_teardown(state);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_bound_jwt),
		cmocka_unit_test(test_wit_svid),
	};

	return FX_MAIN(argc, argv, services, "pop_answers", tests, setup, teardown);
}
