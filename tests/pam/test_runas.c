/*
 * test_runas.c - run-as through the session phase in the real Linux-PAM
 * library, one handle driven step by step (pam_wrapper), the way sudo
 * drives it (docs/applications.md): authenticate and account for the
 * invoking user, then PAM_USER switched to the run-as user before
 * pam_open_session.
 *  - a refused open returns PAM_PERM_DENIED, never PAM_SESSION_ERR (sudo
 *    runs the command after PAM_SESSION_ERR);
 *  - the switched PAM_USER opens a session only when run_as of the agent's
 *    rule lists SERVICE:USER and PAM_RUSER, when set, is the user decided
 *    for; otherwise the open is refused with the run-as reason itself;
 *  - the decisive reason of a stale escalate token is its age, at auth and
 *    at account, not "escalate session: inherits nothing".
 * The agents here have no grants: the shared-uid boundary (test_session)
 * does not apply to sessions that place no credentials.
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
#include <security/pam_appl.h>

#include "fixtures.h"
#include "harness.h"

#define RUNNER "spiffe://example.org/agents/runner"
#define NORUN "spiffe://example.org/agents/norun"
#define ESC "spiffe://example.org/agents/esc"
#define OPTS "config=@DIR@/policy.conf"
#define STACK(name) { name, "auth required @MODULE@ " OPTS "\n" \
			    "account required @MODULE@ " OPTS "\n" \
			    "session required @MODULE@ " OPTS "\n" }

static const struct pa_service services[] = {
	STACK("agent-read"), STACK("agent-sudo"), STACK("agent-esc"),
	{ NULL, NULL },
};

/* %s: clock_skew, escalate_max_age, the run-as target user (twice) */
static const char policy[] =
	FX_POLICY_GLOBAL
	"clock_skew = %s\n"
	"escalate_max_age = %s\n"
	"state_dir = @DIR@/state\n"
	"helper = @DIR@/no-such-helper\n"
	FX_EXAMPLE_TRUST
	"[service agent-read]\n"
	"class = read\n"
	"[service agent-sudo]\n"
	"class = read\n"
	"[service agent-esc]\n"
	"class = escalate\n"
	"[agent " RUNNER "]\n"
	"users = @USER@\n"
	"services = agent-sudo agent-read\n"
	"run_as = agent-sudo:%s\n"
	"[agent " NORUN "]\n"
	"users = @USER@\n"
	"services = agent-sudo agent-read\n"
	"run_as = agent-read:%s\n"
	"[agent " ESC "]\n"
	"users = @USER@\n"
	"services = agent-esc\n"
	"max_class = escalate\n";

/* A user other than fx_user() that exists: the run-as target. */
static const char *other_user(void)
{
	return strcmp(fx_user(), "nobody") != 0 ? "nobody" : "root";
}

static void write_policy_esc(const char *skew, const char *esc_age)
{
	char text[4096];

	snprintf(text, sizeof(text), policy, skew, esc_age, other_user(), other_user());
	fx_file("policy.conf", text, 0644);
}

static void write_policy(const char *skew)
{
	write_policy_esc(skew, "60s");
}

static int reset(void **state)
{
	(void)state;
	write_policy("30");
	pa_harness_log_reset();
	return 0;
}

static char *mint(const char *sub)
{
	return fx_mint(&fx_example, sub, FX_AUDIENCE, fx_now - 60, fx_now + 300, NULL);
}

/* What sudo does before pam_open_session: PAM_USER := the run-as user. */
static void switch_user(pam_handle_t *pamh, const char *ruser, const char *user)
{
	if (ruser != NULL)
		assert_int_equal(pam_set_item(pamh, PAM_RUSER, ruser), PAM_SUCCESS);
	assert_int_equal(pam_set_item(pamh, PAM_USER, user), PAM_SUCCESS);
}

/* auth and account as fx_user(), the way sudo runs them for the invoking user */
static pam_handle_t *decided(const char *service, const char *tok)
{
	pam_handle_t *pamh = fx_start(service, tok);

	assert_int_equal(pam_authenticate(pamh, 0), PAM_SUCCESS);
	assert_int_equal(pam_acct_mgmt(pamh, 0), PAM_SUCCESS);
	pa_harness_log_reset();
	return pamh;
}

/* run_as lists SERVICE:USER: the session opens as USER, with or without PAM_RUSER */
static void test_run_as_allowed(void **state)
{
	char *t = mint(RUNNER);
	char want[256];
	pam_handle_t *pamh;
	int rv;

	(void)state;
	pamh = decided("agent-sudo", t);
	switch_user(pamh, fx_user(), other_user());
	rv = pam_open_session(pamh, 0);
	if (rv != PAM_SUCCESS)
		fail_msg("open as %s: %d; log:\n%s", other_user(), rv, pa_harness_log());
	snprintf(want, sizeof(want), "opened, run as %s for %s (run_as)", other_user(), fx_user());
	fx_expect_log(want);
	assert_non_null(pam_getenv(pamh, "PAM_AGENT_SESSION"));
	assert_int_equal(pam_close_session(pamh, 0), PAM_SUCCESS);
	pam_end(pamh, PAM_SUCCESS);

	/* an application that does not set PAM_RUSER (sudo with !pam_ruser) */
	pamh = decided("agent-sudo", t);
	switch_user(pamh, NULL, other_user());
	assert_int_equal(pam_open_session(pamh, 0), PAM_SUCCESS);
	assert_int_equal(pam_close_session(pamh, 0), PAM_SUCCESS);
	pam_end(pamh, PAM_SUCCESS);
	free(t);
}

/*
 * No run_as for this service and user: the open is refused with that
 * reason (not "decision changed"), with a code sudo treats as fatal.
 */
static void test_run_as_refused(void **state)
{
	char *t = mint(NORUN);
	char want[512];
	pam_handle_t *pamh;

	(void)state;
	pamh = decided("agent-sudo", t);
	switch_user(pamh, fx_user(), other_user());
	assert_int_equal(pam_open_session(pamh, 0), PAM_PERM_DENIED);
	snprintf(want, sizeof(want), "session refused: agent " NORUN " may not run as %s through "
		 "agent-sudo: no run_as for it in [agent " NORUN "]", other_user());
	fx_expect_log(want);
	fx_expect_no_log("decision changed");
	fx_expect_no_log("opened");
	assert_null(pam_getenv(pamh, "PAM_AGENT_SESSION"));
	pam_end(pamh, PAM_SUCCESS);

	/* the run_as of one service does not reach another: RUNNER on agent-read */
	free(t);
	t = mint(RUNNER);
	pamh = decided("agent-read", t);
	switch_user(pamh, fx_user(), other_user());
	assert_int_equal(pam_open_session(pamh, 0), PAM_PERM_DENIED);
	snprintf(want, sizeof(want), "may not run as %s through agent-read", other_user());
	fx_expect_log(want);
	pam_end(pamh, PAM_SUCCESS);
	free(t);
}

/* PAM_RUSER names someone else than the user decided for: refused */
static void test_run_as_other_ruser(void **state)
{
	char *t = mint(RUNNER);
	pam_handle_t *pamh;

	(void)state;
	pamh = decided("agent-sudo", t);
	switch_user(pamh, "pa-someone-else", other_user());
	assert_int_equal(pam_open_session(pamh, 0), PAM_PERM_DENIED);
	fx_expect_log("but PAM_RUSER pa-someone-else is not");
	fx_expect_log("the user the account phase decided for");
	fx_expect_no_log("opened");
	pam_end(pamh, PAM_SUCCESS);
	free(t);
}

/*
 * A stale escalate token: the main reason is its age, at auth (the auth
 * phase decides too) and at account, not "escalate session: inherits
 * nothing", which only follows it in the list of all reasons.
 */
static void test_stale_escalate_reason(void **state)
{
	char *t = fx_mint(&fx_example, ESC, FX_AUDIENCE, fx_now - 90, fx_now + 300, NULL);
	pam_handle_t *pamh;

	(void)state;
	pamh = fx_start("agent-esc", t);
	assert_int_equal(pam_authenticate(pamh, 0), PAM_AUTH_ERR);
	fx_expect_log("agent=" ESC ": not allowed by the policy: escalate needs a token issued at "
		      "most 60s ago; this one is ");
	fx_expect_no_log(": not allowed by the policy: escalate session: inherits nothing");
	pam_end(pamh, PAM_SUCCESS);

	/* fresh enough at auth; stale by the rules of the account phase */
	write_policy_esc("30", "1h");
	pa_harness_log_reset();
	pamh = fx_start("agent-esc", t);
	assert_int_equal(pam_authenticate(pamh, 0), PAM_SUCCESS);
	write_policy_esc("30", "60s");
	assert_int_equal(pam_acct_mgmt(pamh, 0), PAM_PERM_DENIED);
	fx_expect_log("agent=" ESC ": escalate needs a token issued at most 60s ago; this one is ");
	fx_expect_no_log("agent=" ESC ": escalate session: inherits nothing");
	pam_end(pamh, PAM_SUCCESS);
	free(t);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_run_as_allowed, reset),
		cmocka_unit_test_setup(test_run_as_refused, reset),
		cmocka_unit_test_setup(test_run_as_other_ruser, reset),
		cmocka_unit_test_setup(test_stale_escalate_reason, reset),
	};

	return FX_MAIN(argc, argv, services, "pam-runas", tests, fx_setup, fx_teardown);
}

#endif /* PA_NO_PAMTEST */
