/*
 * test_session.c - the session phase in the real Linux-PAM library, on one
 * handle driven step by step (pam_start .. pam_end under pam_wrapper):
 *  - an allowing decision is good for one open: after open and close, a
 *    second open without a new account phase is refused, and so is an
 *    open after an account phase that refused (the token expired);
 *  - open refuses a token that expired since authentication (clock_skew);
 *  - the shared-uid boundary: a uid that a read agent may log in as gets
 *    no write credentials, whether the read agent's rule names the same
 *    user or another name of the same uid (passwd_file=, a passwd file of
 *    the test's); a service above max_class does not raise a rule's
 *    ceiling; another uid, or a name that is no user, does not refuse; a
 *    lookup that fails refuses.
 * The clock is never waited for: the token's exp is in the past from the
 * start, and the configuration's clock_skew decides whether it is valid.
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

#define READER "spiffe://example.org/agents/reader"
#define WRITER "spiffe://example.org/agents/writer"
#define LONER "spiffe://example.org/agents/loner"
#define MIXED "spiffe://example.org/agents/mixed"
#define OPTS "config=@DIR@/policy.conf passwd_file=@DIR@/passwd"
/* in the test's passwd file: another name of the test user's uid, a
 * user of another uid; NOUSER is in no passwd file */
#define ALIAS "pa-alias"
#define STRANGER "pa-stranger"
#define NOUSER "pa-no-such-user"
#define STACK(name) { name, "auth required @MODULE@ " OPTS "\n" \
			    "account required @MODULE@ " OPTS "\n" \
			    "session required @MODULE@ " OPTS "\n" }

static const struct pa_service services[] = {
	STACK("agent-read"), STACK("agent-write"),
	{ NULL, NULL },
};

/* %s: clock_skew, the users of READER, the users of MIXED */
static const char policy[] =
	FX_POLICY_GLOBAL
	"clock_skew = %s\n"
	"state_dir = @DIR@/state\n"
	"helper = @DIR@/no-such-helper\n"
	FX_EXAMPLE_TRUST
	"[service agent-read]\n"
	"class = read\n"
	"[service agent-write]\n"
	"class = write\n"
	"[service agent-escalate]\n"
	"class = escalate\n"
	"[agent " LONER "]\n"
	"users = @USER@\n"
	"services = agent-read agent-write\n"
	"max_class = write\n"
	"[agent " READER "]\n"
	"users = %s\n"
	"services = agent-read\n"
	"grants = tickets-ro\n"
	"[agent " MIXED "]\n"
	"users = %s\n"
	"services = agent-read agent-escalate\n"
	"max_class = write\n"
	"[agent " WRITER "]\n"
	"users = @USER@\n"
	"services = agent-read agent-write\n"
	"max_class = write\n"
	"grants = tickets-ro tickets-rw\n"
	"[grant tickets-ro]\n"
	"class = read\n"
	"source = mint\n"
	"audience = https://tickets.example.org\n"
	"ttl = 10m\n"
	"[grant tickets-rw]\n"
	"class = write\n"
	"source = mint\n"
	"audience = https://tickets.example.org\n"
	"ttl = 5m\n";

static char *token;

static void write_policy3(const char *skew, const char *reader, const char *mixed)
{
	char text[4096];

	snprintf(text, sizeof(text), policy, skew, reader, mixed);
	fx_file("policy.conf", text, 0644);
}

static void write_policy(const char *skew)
{
	write_policy3(skew, "@USER@", NOUSER);
}

/* the test user, ALIAS with the same uid, STRANGER with another uid */
static void write_passwd(mode_t mode)
{
	unsigned long uid = (unsigned long)geteuid(), other = uid == 4242 ? 4243 : 4242;
	char text[1024];

	snprintf(text, sizeof(text),
		 "@USER@:x:%lu:%lu::/nonexistent:/bin/sh\n"
		 ALIAS ":x:%lu:%lu::/nonexistent:/bin/sh\n"
		 STRANGER ":x:%lu:%lu::/nonexistent:/bin/sh\n",
		 uid, uid, uid, uid, other, other);
	fx_file("passwd", text, mode);
}

static int reset(void **state)
{
	(void)state;
	write_policy("30");
	write_passwd(0644);
	pa_harness_log_reset();
	return 0;
}

/* The open of a session without grants: its own new session keyring. */
static void expect_grantless_open(pam_handle_t *pamh)
{
	int rv = pam_open_session(pamh, 0);

	if (rv != PAM_SUCCESS)
		fail_msg("open: %d; log:\n%s", rv, pa_harness_log());
	assert_int_equal(pam_close_session(pamh, 0), PAM_SUCCESS);
}

/* open, close, open again: the second open has no decision. */
static void test_decision_good_for_one_open(void **state)
{
	pam_handle_t *pamh = fx_start("agent-read", token);

	(void)state;
	assert_int_equal(pam_authenticate(pamh, 0), PAM_SUCCESS);
	assert_int_equal(pam_acct_mgmt(pamh, 0), PAM_SUCCESS);
	expect_grantless_open(pamh);
	pa_harness_log_reset();
	assert_int_equal(pam_open_session(pamh, 0), PAM_PERM_DENIED);
	fx_expect_log("no allowing policy decision on this handle");
	pam_end(pamh, PAM_SUCCESS);
}

/* an account phase that refuses drops the earlier allowing decision */
static void test_refused_account_drops_decision(void **state)
{
	pam_handle_t *pamh = fx_start("agent-read", token);

	(void)state;
	assert_int_equal(pam_authenticate(pamh, 0), PAM_SUCCESS);
	assert_int_equal(pam_acct_mgmt(pamh, 0), PAM_SUCCESS);
	write_policy("0"); /* the token (exp 10 s ago) has expired now */
	assert_int_equal(pam_acct_mgmt(pamh, 0), PAM_PERM_DENIED);
	fx_expect_log("token expired since authentication");
	pa_harness_log_reset();
	assert_int_equal(pam_open_session(pamh, 0), PAM_PERM_DENIED);
	fx_expect_log("no allowing policy decision on this handle");
	pam_end(pamh, PAM_SUCCESS);
}

/* the token expires between account and open: open refuses */
static void test_open_refuses_expired_token(void **state)
{
	pam_handle_t *pamh = fx_start("agent-read", token);

	(void)state;
	assert_int_equal(pam_authenticate(pamh, 0), PAM_SUCCESS);
	assert_int_equal(pam_acct_mgmt(pamh, 0), PAM_SUCCESS);
	write_policy("0");
	pa_harness_log_reset();
	assert_int_equal(pam_open_session(pamh, 0), PAM_PERM_DENIED);
	fx_expect_log("token expired since authentication: session refused");
	pam_end(pamh, PAM_SUCCESS);
}

static char *mint(const char *sub)
{
	return fx_mint(&fx_example, sub, FX_AUDIENCE, fx_now - 60, fx_now + 300, NULL);
}

/* auth, account and open of tok on service: the open's result */
static int open_with(const char *service, const char *tok)
{
	pam_handle_t *pamh = fx_start(service, tok);
	int rv;

	assert_int_equal(pam_authenticate(pamh, 0), PAM_SUCCESS);
	assert_int_equal(pam_acct_mgmt(pamh, 0), PAM_SUCCESS);
	rv = pam_open_session(pamh, 0);
	pam_end(pamh, PAM_SUCCESS);
	return rv;
}

/* past the boundary: refused only further on (this test has no helper) */
static void expect_past_boundary(const char *service, const char *tok)
{
	pa_harness_log_reset();
	assert_int_equal(open_with(service, tok), PAM_PERM_DENIED);
	fx_expect_no_log("is shared with");
	fx_expect_no_log("cannot tell whether");
	fx_expect_log("credentials not placed");
}

/* a write session on a uid a read agent may log in as: refused, whatever
 * kernel.yama.ptrace_scope is (it is not read), by the same name or by
 * another name of the same uid */
static void test_shared_uid_refuses_write(void **state)
{
	char *w = mint(WRITER);

	(void)state;
	/* the same user name */
	assert_int_equal(open_with("agent-write", w), PAM_PERM_DENIED);
	fx_expect_log("is shared with [agent " READER "] (");
	fx_expect_log("as user ");
	fx_expect_log(", at most read; one uid is one principal");
	fx_expect_log("write credentials (grant tickets-rw) are not placed on it; give each agent "
		      "an account of its own");
	fx_expect_no_log("credentials not placed");

	/* another name of the same uid: compared by uid, not by name */
	write_policy3("30", ALIAS, NOUSER);
	pa_harness_log_reset();
	assert_int_equal(open_with("agent-write", w), PAM_PERM_DENIED);
	fx_expect_log("is shared with [agent " READER "] (");
	fx_expect_log("as user " ALIAS ", at most read");
	fx_expect_no_log("credentials not placed");
	free(w);
}

/* a service above max_class does not count: MIXED (read and escalate
 * services, max_class write) can only be given read sessions */
static void test_ceiling_ignores_services_above_max_class(void **state)
{
	char *w = mint(WRITER);

	(void)state;
	write_policy3("30", STRANGER, ALIAS);
	assert_int_equal(open_with("agent-write", w), PAM_PERM_DENIED);
	fx_expect_log("is shared with [agent " MIXED "] (");
	fx_expect_log("as user " ALIAS ", at most read");
	fx_expect_no_log("credentials not placed");
	free(w);
}

/* another uid, or a name that is no user, shares nothing; a read session
 * passes on a shared uid (every rule there may be given read) */
static void test_own_uid_allows_write(void **state)
{
	char *w = mint(WRITER), *r = mint(READER);

	(void)state;
	write_policy3("30", STRANGER " " NOUSER, NOUSER);
	expect_past_boundary("agent-write", w);

	write_policy("30");
	expect_past_boundary("agent-read", r);
	free(w);
	free(r);
}

/* a lookup that fails (here: the passwd file is unusable) refuses */
static void test_failed_lookup_refuses(void **state)
{
	char *w = mint(WRITER);

	(void)state;
	write_policy3("30", STRANGER, NOUSER);
	write_passwd(0666);
	assert_int_equal(open_with("agent-write", w), PAM_PERM_DENIED);
	fx_expect_log("cannot tell whether user " STRANGER " of [agent " READER "] (");
	fx_expect_log("not group/world-writable): write credentials (grant tickets-rw) not placed");
	fx_expect_no_log("credentials not placed");

	assert_int_equal(unlink(fx_file("passwd", "", 0644)), 0);
	pa_harness_log_reset();
	assert_int_equal(open_with("agent-write", w), PAM_PERM_DENIED);
	fx_expect_log("cannot tell whether user " STRANGER " of [agent " READER "] (");
	fx_expect_log("cannot open: No such file or directory");
	free(w);
}

static int setup(void **state)
{
	fx_setup(state);
	/* valid only within the default clock_skew of 30 s: exp 10 s ago */
	token = fx_mint(&fx_example, LONER, FX_AUDIENCE, fx_now - 60, fx_now - 10, NULL);
	return 0;
}

static int teardown(void **state)
{
	free(token);
	return fx_teardown(state);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_decision_good_for_one_open, reset),
		cmocka_unit_test_setup(test_refused_account_drops_decision, reset),
		cmocka_unit_test_setup(test_open_refuses_expired_token, reset),
		cmocka_unit_test_setup(test_shared_uid_refuses_write, reset),
		cmocka_unit_test_setup(test_ceiling_ignores_services_above_max_class, reset),
		cmocka_unit_test_setup(test_own_uid_allows_write, reset),
		cmocka_unit_test_setup(test_failed_lookup_refuses, reset),
	};

	return FX_MAIN(argc, argv, services, "pam-session", tests, setup, teardown);
}

#endif /* PA_NO_PAMTEST */
