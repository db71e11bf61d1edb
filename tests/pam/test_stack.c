/*
 * test_stack.c - pam_agent.so inside the real Linux-PAM library, driven by
 * libpamtest over service files this test writes (see tests/lib/harness.h).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#ifndef PA_NO_PAMTEST
#include <libpamtest.h>

#include "fixtures.h"

static const struct pa_service services[] = {
	{ "pa_auth", "auth required @MODULE@ config=@DIR@/missing.conf\n" },
	{ "pa_suff", "auth sufficient @MODULE@ config=@DIR@/missing.conf\n" "auth required pam_deny.so\n" },
	{ "pa_acct", "account required @MODULE@\n" },
	{ "pa_acct_opt", "account required @MODULE@ optional debug\n"
			 "account required pam_permit.so\n" },
	{ "pa_unknown", "auth required @MODULE@ debug frobnicate=1\n" },
	{ "pa_unknown2", "account required @MODULE@ use_frist_pass\n" },
	{ "pa_flagval", "auth required @MODULE@ debug=yes\n" },
	{ "pa_conflict", "auth required @MODULE@ use_first_pass try_first_pass\n" },
	{ "pa_escape", "auth required @MODULE@ config=@DIR@/missing.conf\n" },
	{ "pa_session", "session required @MODULE@ debug\n" "session required pam_permit.so\n" },
	/* what cron's stack is: session lines only, no pam_agent authentication */
	{ "pa_cron", "session required @MODULE@\n" "session required pam_permit.so\n" },
	/* cron with pam_agent in its auth stack: cron calls setcred, never authenticate */
	{ "pa_cron_cred", "auth required @MODULE@\n" "auth required pam_permit.so\n"
			  "session required @MODULE@\n" "session required pam_permit.so\n" },
	{ "pa_session_opt", "session required @MODULE@ optional debug\n" "session required pam_permit.so\n" },
	{ NULL, NULL },
};

/* What the application was told (PAM_ERROR_MSG), one buffer per message. */
static char app_error_buf[4][PAM_MAX_MSG_SIZE];
static char *app_errors[] = { app_error_buf[0], app_error_buf[1], app_error_buf[2],
			      app_error_buf[3], NULL };

/* Runs one operation on service as user and checks the PAM result. */
static void expect_op(const char *service, const char *user,
		      enum pamtest_ops op, int expected)
{
	struct pam_testcase tests[] = { pam_test(op, expected) };
	struct pamtest_conv_data conv = { .out_err = app_errors };
	enum pamtest_err perr;

	memset(app_error_buf, 0, sizeof(app_error_buf));
	perr = run_pamtest(service, user, &conv, tests, NULL);
	if (perr != PAMTEST_ERR_OK) {
		const struct pam_testcase *failed = pamtest_failed_case(tests);

		fail_msg("%s/%s: %s (op returned %d, expected %d)\nlog:\n%s",
			 service, user, pamtest_strerror(perr),
			 failed != NULL ? failed->op_rv : -1, expected,
			 pa_harness_log());
	}
}

static int reset(void **state)
{
	(void)state;
	pa_harness_log_reset();
	return 0;
}

/* Without a readable configuration nobody authenticates; the log says why. */
static void test_auth_denies(void **state)
{
	(void)state;
	expect_op("pa_auth", "agent1", PAMTEST_AUTHENTICATE, PAM_AUTH_ERR);
	fx_expect_log("auth: configuration refused, denying everything");
	fx_expect_log("missing.conf: cannot open: No such file or directory");
	fx_expect_log("auth: denied: service=pa_auth user=agent1 rhost=- agent=-: configuration refused");
	/* the application is told too, in one line, without detail */
	assert_string_equal(app_error_buf[0], "pam_agent: configuration refused");
}

/* auth sufficient + pam_deny: our denial must not turn into success. */
static void test_auth_sufficient_still_denies(void **state)
{
	(void)state;
	expect_op("pa_suff", "agent1", PAMTEST_AUTHENTICATE, PAM_AUTH_ERR);
}

static void test_account_denies(void **state)
{
	(void)state;
	expect_op("pa_acct", "agent1", PAMTEST_ACCOUNT, PAM_AUTH_ERR);
	fx_expect_log("account: denied: service=pa_acct user=agent1 rhost=- agent=-: no verified "
		      "agent identity on this PAM handle");
}

/* "optional": a handle without an agent identity is none of our business. */
static void test_account_optional_ignores(void **state)
{
	(void)state;
	expect_op("pa_acct_opt", "agent1", PAMTEST_ACCOUNT, PAM_SUCCESS);
	fx_expect_log("no agent identity on this handle; ignoring (optional)");
}

static void test_unknown_option(void **state)
{
	(void)state;
	expect_op("pa_unknown", "agent1", PAMTEST_AUTHENTICATE, PAM_SERVICE_ERR);
	fx_expect_log("auth: bad module configuration: unknown option \"frobnicate=1\"");
}

static void test_unknown_option_account(void **state)
{
	(void)state;
	expect_op("pa_unknown2", "agent1", PAMTEST_ACCOUNT, PAM_SERVICE_ERR);
	fx_expect_log("unknown option \"use_frist_pass\"");
}

static void test_flag_with_value(void **state)
{
	(void)state;
	expect_op("pa_flagval", "agent1", PAMTEST_AUTHENTICATE, PAM_SERVICE_ERR);
	fx_expect_log("option \"debug=yes\" takes no value");
}

static void test_conflicting_options(void **state)
{
	(void)state;
	expect_op("pa_conflict", "agent1", PAMTEST_AUTHENTICATE, PAM_SERVICE_ERR);
	fx_expect_log("use_first_pass and try_first_pass conflict");
}

/* Control characters from the application reach the log escaped. */
static void test_log_escapes_user(void **state)
{
	(void)state;
	expect_op("pa_escape", "evil\nuser=root", PAMTEST_AUTHENTICATE, PAM_AUTH_ERR);
	fx_expect_log("user=evil\\x0auser=root ");
}

/*
 * A session-only caller (cron, or any stack whose authentication was not
 * pam_agent's): no agent identity on the handle, so no agent session.
 * pam_agent answers PAM_IGNORE, with or without "optional", says nothing
 * to the application, and logs at debug level only: the rest of the stack
 * decides, as if pam_agent were not there.
 */
static void test_session_only_caller(void **state)
{
	(void)state;
	expect_op("pa_cron", "agent1", PAMTEST_OPEN_SESSION, PAM_SUCCESS);
	assert_string_equal(app_error_buf[0], "");
	/* quiet: not one line without "debug" */
	if (pa_harness_log_has("pam_agent"))
		fail_msg("a session-only caller left log lines:\n%s", pa_harness_log());
	expect_op("pa_cron", "agent1", PAMTEST_CLOSE_SESSION, PAM_SUCCESS);
	/*
	 * setcred and open on a stack whose auth lists pam_agent but that never
	 * authenticated (cron): still PAM_IGNORE, quiet. Only a handle where
	 * pam_agent's authentication ran and failed is refused
	 * (test_contained.c: test_failed_reauth, test_failed_auth_fallback).
	 */
	expect_op("pa_cron_cred", "agent1", PAMTEST_SETCRED, PAM_SUCCESS);
	expect_op("pa_cron_cred", "agent1", PAMTEST_OPEN_SESSION, PAM_SUCCESS);
	assert_string_equal(app_error_buf[0], "");
	if (pa_harness_log_has("pam_agent"))
		fail_msg("a session-only caller left log lines:\n%s", pa_harness_log());
	/* with "debug", one debug line says why */
	pa_harness_log_reset();
	expect_op("pa_session", "agent1", PAMTEST_OPEN_SESSION, PAM_SUCCESS);
	fx_expect_log("session: no agent identity on this handle (no pam_agent authentication): "
		      "not an agent session; ignoring");
	if (pa_harness_log_has("denied"))
		fail_msg("a session-only caller was denied:\n%s", pa_harness_log());
	/* closing what never opened is not an error */
	expect_op("pa_session", "agent1", PAMTEST_CLOSE_SESSION, PAM_SUCCESS);
}

/* "optional": a session of a user who did not log in as an agent is ignored. */
static void test_session_optional(void **state)
{
	(void)state;
	expect_op("pa_session_opt", "agent1", PAMTEST_OPEN_SESSION, PAM_SUCCESS);
	fx_expect_log("session: no agent identity on this handle (no pam_agent authentication): "
		      "not an agent session; ignoring");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_auth_denies, reset),
		cmocka_unit_test_setup(test_auth_sufficient_still_denies, reset),
		cmocka_unit_test_setup(test_account_denies, reset),
		cmocka_unit_test_setup(test_account_optional_ignores, reset),
		cmocka_unit_test_setup(test_unknown_option, reset),
		cmocka_unit_test_setup(test_unknown_option_account, reset),
		cmocka_unit_test_setup(test_flag_with_value, reset),
		cmocka_unit_test_setup(test_conflicting_options, reset),
		cmocka_unit_test_setup(test_log_escapes_user, reset),
		cmocka_unit_test_setup(test_session_only_caller, reset),
		cmocka_unit_test_setup(test_session_optional, reset),
	};

	return FX_MAIN(argc, argv, services, "pam-stack", tests, NULL, NULL);
}

#endif /* PA_NO_PAMTEST */
