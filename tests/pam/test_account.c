/*
 * test_account.c - the account phase in the real Linux-PAM library: the
 * request-time decision for the same identity on different services,
 * deny rules, a refused configuration, a configuration that changes
 * between two transactions, and the audit lines they leave.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#ifndef PA_NO_PAMTEST
#include <libpamtest.h>

#include "fixtures.h"
#include "harness.h"

#define BOT "spiffe://example.org/agents/bot"
#define EVIL "spiffe://example.org/agents/evil"
#define STACK(name) { name, "auth required @MODULE@ config=@DIR@/policy.conf\n" \
			    "account required @MODULE@ config=@DIR@/policy.conf\n" }

static const struct pa_service services[] = {
	STACK("agent-read"), STACK("agent-write"), STACK("sudo"),
	{ NULL, NULL },
};

static const char policy[] =
	FX_POLICY_GLOBAL
	FX_EXAMPLE_TRUST
	"[service agent-read]\n"
	"class = read\n"
	"[service agent-write]\n"
	"class = write\n"
	"[service sudo]\n"
	"class = escalate\n"
	"[agent " BOT "]\n"
	"users = @USER@\n"
	"services = agent-read %s sudo\n"
	"max_class = write\n"
	"grants = tickets-ro tickets-rw\n"
	"[agent spiffe://example.org/agents/*]\n"
	"users = @USER@\n"
	"services = agent-read\n"
	"[deny " EVIL "]\n"
	"reason = this agent is quarantined\n"
	"[grant tickets-ro]\n"
	"class = read\n"
	"source = mint\n"
	"audience = https://tickets.example.org\n"
	"scope = tickets:read\n"
	"ttl = 10m\n"
	"[grant tickets-rw]\n"
	"class = write\n"
	"source = mint\n"
	"audience = https://tickets.example.org\n"
	"scope = tickets:write\n"
	"ttl = 5m\n";

static char *tokens[32];
static size_t n_tokens;

static char *token_for(const char *sub, const char *extra)
{
	assert_true(n_tokens < sizeof(tokens) / sizeof(tokens[0]));
	tokens[n_tokens] = fx_mint(&fx_example, sub, FX_AUDIENCE, fx_now, fx_now + 300, extra);
	return tokens[n_tokens++];
}

static void write_policy(const char *write_service, mode_t mode)
{
	char text[4096];

	snprintf(text, sizeof(text), policy, write_service);
	fx_file("policy.conf", text, mode);
}

/* auth then account on service with token; checks both results. */
static void transaction(const char *service, const char *token, int auth_rv, int acct_rv)
{
	const char *answers[] = { token, NULL };
	struct pamtest_conv_data conv = { .in_echo_off = answers };
	struct pam_testcase both[] = {
		pam_test(PAMTEST_AUTHENTICATE, auth_rv),
		pam_test(PAMTEST_ACCOUNT, acct_rv),
	};
	struct pam_testcase auth_only[] = { pam_test(PAMTEST_AUTHENTICATE, auth_rv) };
	enum pamtest_err perr;
	const struct pam_testcase *failed = NULL;

	if (auth_rv == PAM_SUCCESS) {
		perr = run_pamtest(service, fx_user(), &conv, both, NULL);
		if (perr == PAMTEST_ERR_CASE)
			failed = pamtest_failed_case(both);
	} else {
		perr = run_pamtest(service, fx_user(), &conv, auth_only, NULL);
		if (perr == PAMTEST_ERR_CASE)
			failed = pamtest_failed_case(auth_only);
	}
	if (perr != PAMTEST_ERR_OK)
		fail_msg("%s: %s (op %d returned %d)\nlog:\n%s", service, pamtest_strerror(perr),
			 failed != NULL ? (int)failed->pam_operation : -1,
			 failed != NULL ? failed->op_rv : -1, pa_harness_log());
}

static int reset(void **state)
{
	(void)state;
	write_policy("agent-write", 0644);
	pa_harness_log_reset();
	return 0;
}

static void test_same_token_read_allowed_escalate_denied(void **state)
{
	char *token = token_for(BOT, NULL);

	(void)state;
	transaction("agent-read", token, PAM_SUCCESS, PAM_SUCCESS);
	fx_expect_log("account: allowed: class read, 1 grant(s)");
	/* the auth phase decides with the same engine and refuses already */
	transaction("sudo", token, PAM_AUTH_ERR, 0);
	fx_expect_log("auth: denied: service=sudo");
	fx_expect_log("service sudo needs class escalate, above max_class write");
	assert_true(fx_file_has("audit.jsonl", "\"event\":\"decision\",\"result\":\"allow\""));
	assert_true(fx_file_has("audit.jsonl", "\"event\":\"authenticate\",\"result\":\"failed\""));
}

static void test_write_gets_both_grants(void **state)
{
	(void)state;
	transaction("agent-write", token_for(BOT, NULL), PAM_SUCCESS, PAM_SUCCESS);
	fx_expect_log("account: allowed: class write, 2 grant(s)");
	assert_true(fx_file_has("audit.jsonl", "\"grants\":[\"tickets-ro\",\"tickets-rw\"]"));
}

static void test_deny_rule_beats_allow(void **state)
{
	(void)state;
	/* a prefix rule would allow agents/evil on agent-read; the deny wins */
	transaction("agent-read", token_for("spiffe://example.org/agents/helper", NULL),
		    PAM_SUCCESS, PAM_SUCCESS);
	transaction("agent-read", token_for(EVIL, NULL), PAM_AUTH_ERR, 0);
	fx_expect_log("auth: denied: service=agent-read");
	fx_expect_log("this agent is quarantined");
}

static void test_scope_narrows_class(void **state)
{
	(void)state;
	transaction("agent-write", token_for(BOT, "{\"scope\":\"read\"}"), PAM_AUTH_ERR, 0);
	fx_expect_log("the token scope allows up to read");
}

static void test_handoff_beyond_depth_denied(void **state)
{
	(void)state;
	/* max_delegation_depth defaults to 0: no act chain at all */
	transaction("agent-read",
		    token_for(BOT, "{\"act\":{\"sub\":\"spiffe://example.org/agents/planner\"}}"),
		    PAM_AUTH_ERR, 0);
	fx_expect_log("act chain of depth 1 exceeds max_delegation_depth 0");
}

static void test_world_writable_config_denies_everything(void **state)
{
	(void)state;
	write_policy("agent-write", 0644);
	{
		char path[4096];

		snprintf(path, sizeof(path), "%s/policy.conf", pa_harness_dir());
		assert_int_equal(chmod(path, 0666), 0);
	}
	transaction("agent-read", token_for(BOT, NULL), PAM_AUTH_ERR, 0);
	fx_expect_log("configuration refused, denying everything");
	fx_expect_log("policy.conf: mode 0666 is too open");
}

static void test_config_change_takes_effect_next_transaction(void **state)
{
	(void)state;
	transaction("agent-write", token_for(BOT, NULL), PAM_SUCCESS, PAM_SUCCESS);
	/* the administrator takes agent-write away; no restart of anything */
	write_policy("", 0644);
	transaction("agent-write", token_for(BOT, NULL), PAM_AUTH_ERR, 0);
	fx_expect_log("service agent-write is not in the services of [agent " BOT "]");
}

static void test_no_token_in_audit_or_log(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < n_tokens; i++) {
		char *sig = strrchr(tokens[i], '.') + 1;

		if (fx_file_has("audit.jsonl", tokens[i]) || fx_file_has("audit.jsonl", sig) ||
		    fx_file_has("log", sig))
			fail_msg("token %zu leaked into the audit file or the log", i);
	}
}

static int teardown(void **state)
{
	size_t i;

	for (i = 0; i < n_tokens; i++)
		free(tokens[i]);
	return fx_teardown(state);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_same_token_read_allowed_escalate_denied, reset),
		cmocka_unit_test_setup(test_write_gets_both_grants, reset),
		cmocka_unit_test_setup(test_deny_rule_beats_allow, reset),
		cmocka_unit_test_setup(test_scope_narrows_class, reset),
		cmocka_unit_test_setup(test_handoff_beyond_depth_denied, reset),
		cmocka_unit_test_setup(test_world_writable_config_denies_everything, reset),
		cmocka_unit_test_setup(test_config_change_takes_effect_next_transaction, reset),
		cmocka_unit_test_setup(test_no_token_in_audit_or_log, reset),
	};

	return FX_MAIN(argc, argv, services, "pam-account", tests, fx_setup, teardown);
}

#endif /* PA_NO_PAMTEST */
