/*
 * test_pop_time.c - the challenge's lifetime through the real module
 * (docs/proof-of-possession.md): a key-bound token is answered with its key
 * while the clock moves on between the challenge and its answer. This
 * program defines time(), exported to the module loaded into it (the
 * executable's definition comes first in the dynamic lookup), so the
 * conversation can move the module's clock forward by a set number of
 * seconds before it answers: ID_POP_TTL - 1 seconds later the answer is
 * taken, ID_POP_TTL + 1 seconds later it is refused with "the answer came
 * after the challenge expired".
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

struct answerer {
	struct id_pop_client client;
	time_t delay; /* how long the challenge's answer takes, in seconds */
	int challenges;
};

/* Answers pam_agent's prompts; before answering a challenge the clock moves on by delay. */
static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct answerer *a = data;
	struct pam_response *r = calloc((size_t)n, sizeof(*r));
	char err[256];
	int i;

	if (r == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		if (msg[i]->msg_style != PAM_PROMPT_ECHO_OFF)
			continue;
		if (strncmp(msg[i]->msg, ID_POP_PROMPT, strlen(ID_POP_PROMPT)) == 0) {
			a->challenges++;
			ahead += a->delay;
		}
		r[i].resp = id_pop_client_respond(&a->client, msg[i]->msg, err, sizeof(err));
		if (r[i].resp == NULL)
			fprintf(stderr, "test_pop_time: no answer: %s\n", err);
	}
	*resp = r;
	return PAM_SUCCESS;
}

/* One authentication of a key-bound token whose challenge is answered delay seconds later. */
static int login(time_t delay)
{
	struct answerer a = { .delay = delay };
	struct pam_conv c = { conv, &a };
	struct id_signer *key;
	pam_handle_t *pamh = NULL;
	char err[256], jkt[ID_JKT_LEN + 1], extra[128], *tok;
	const char *path;
	json_t *jwk;
	int rc;

	key = id_signer_generate(ID_ALG_ES256, err, sizeof(err));
	assert_non_null(key);
	jwk = id_signer_public_jwk(key, NULL);
	assert_int_equal(id_jwk_thumbprint(jwk, jkt, err, sizeof(err)), 0);
	json_decref(jwk);
	path = pa_harness_file("key.pem", "", 0600);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(id_signer_save(key, path, err, sizeof(err)), 0);
	id_signer_free(key);
	snprintf(extra, sizeof(extra), "{\"cnf\":{\"jkt\":\"%s\"}}", jkt);
	tok = fx_mint(&fx_example, BOUND, FX_AUDIENCE, fx_now, fx_now + 600, extra);
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

static void test_answer_in_time(void **state)
{
	(void)state;
	FX_EXPECT(login(ID_POP_TTL - 1), PAM_SUCCESS);
	fx_expect_log("proof of possession");
}

static void test_answer_after_expiry(void **state)
{
	(void)state;
	FX_EXPECT(login(ID_POP_TTL + 1), PAM_AUTH_ERR);
	fx_expect_log("the answer came after the challenge expired (60s)");
}

static int setup(void **state)
{
	if (fx_setup(state) != 0)
		return -1;
	fx_file("policy.conf",
		FX_POLICY_GLOBAL "single_use = no\n" FX_EXAMPLE_TRUST
		"[service pa_pop]\nclass = read\n"
		"[agent " BOUND "]\nusers = @USER@\nservices = pa_pop\nrequire_pop = yes\n",
		0600);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer_in_time),
		cmocka_unit_test(test_answer_after_expiry),
	};

	return FX_MAIN(argc, argv, services, "pop_time", tests, setup, fx_teardown);
}
