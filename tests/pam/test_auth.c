/*
 * test_auth.c - the auth phase in the real Linux-PAM library: tokens by
 * conversation, use_first_pass and token_file=, and every way a token is
 * refused, each with its PAM result and log line.
 */
#include "config.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#ifndef PA_NO_PAMTEST
#include <libpamtest.h>

#include "fixtures.h"
#include "harness.h"

#define OPTS "config=@DIR@/policy.conf"
#define BOT "spiffe://example.org/agents/bot"
#define EVIL "spiffe://example.org/agents/team/evil"
#define OTHER_USER "pa-no-such-user"

static const struct pa_service services[] = {
	{ "pa_conv", "auth required @MODULE@ " OPTS "\naccount required @MODULE@ " OPTS "\n" },
	{ "pa_first", "auth required @PWMOD@/pam_set_items.so\n"
		      "auth required @MODULE@ use_first_pass " OPTS "\n" },
	{ "pa_try", "auth required @PWMOD@/pam_set_items.so\n"
		    "auth required @MODULE@ try_first_pass " OPTS "\n" },
	{ "pa_file", "auth required @MODULE@ token_file=@DIR@/%u.jwt " OPTS "\n" },
	{ "pa_once", "auth required @MODULE@ config=@DIR@/single.conf\n" },
	{ "pa_quota", "auth required @MODULE@ config=@DIR@/quota.conf\n" },
	/*
	 * Auth-only applications (screen lockers, vlock, VPN and web front
	 * ends): pam_authenticate and nothing else, so the auth phase alone
	 * must refuse what the policy does not allow.
	 */
	{ "pa_lock", "auth required @MODULE@ " OPTS "\n" },
	{ "pa_lock_other", "auth required @MODULE@ " OPTS "\n" },
	{ "pa_lock_norule", "auth required @MODULE@ " OPTS "\n" },
	{ NULL, NULL },
};

static const char policy[] =
	FX_POLICY_GLOBAL
	"clock_skew = 30s\n"
	"max_token_age = 10m\n"
	"%s"
	FX_EXAMPLE_TRUST
	"[trust_domain other.org]\n"
	"bundle = @DIR@/other.org.bundle.json\n"
	"[service pa_conv]\n"
	"class = read\n"
	"[service pa_first]\n"
	"class = read\n"
	"[service pa_try]\n"
	"class = read\n"
	"[service pa_file]\n"
	"class = read\n"
	"[service pa_once]\n"
	"class = read\n"
	"[service pa_lock]\n"
	"class = read\n"
	"[service pa_quota]\n"
	"class = read\n"
	"[service pa_lock_other]\n"
	"class = read\n"
	"[agent " BOT "]\n"
	"users = @USER@\n"
	"services = pa_conv pa_first pa_try pa_file pa_once pa_lock pa_quota\n"
	"[agent spiffe://example.org/agents/team/*]\n"
	"users = @USER@\n"
	"services = pa_lock pa_quota\n"
	"[deny " EVIL "]\n"
	"reason = compromised in the test\n";

static struct fx_domain other;
/* every token a test made, to prove none reaches a log or the audit file */
static char *tokens[64];
static size_t n_tokens;

static char *keep(char *token)
{
	assert_true(n_tokens < sizeof(tokens) / sizeof(tokens[0]));
	tokens[n_tokens++] = token;
	return token;
}

static char *good_token(void)
{
	return keep(fx_mint(&fx_example, BOT, FX_AUDIENCE, fx_now, fx_now + 300, NULL));
}

/* Runs ops on service with the token as the conversation's answer. */
static void run(const char *service, const char *answer, enum pamtest_ops op, int expected,
		enum pamtest_ops op2, int expected2)
{
	const char *answers[] = { answer, NULL };
	struct pamtest_conv_data conv = { .in_echo_off = answers };
	struct pam_testcase tests[] = { pam_test(op, expected), pam_test(op2, expected2) };
	struct pam_testcase one[] = { pam_test(op, expected) };
	enum pamtest_err perr;
	const struct pam_testcase *failed;

	if ((int)op2 < 0) {
		perr = run_pamtest(service, fx_user(), &conv, one, NULL);
		failed = perr == PAMTEST_ERR_CASE ? pamtest_failed_case(one) : NULL;
	} else {
		perr = run_pamtest(service, fx_user(), &conv, tests, NULL);
		failed = perr == PAMTEST_ERR_CASE ? pamtest_failed_case(tests) : NULL;
	}
	if (perr != PAMTEST_ERR_OK)
		fail_msg("%s: %s (got %d)\nlog:\n%s", service, pamtest_strerror(perr),
			 failed != NULL ? failed->op_rv : -1, pa_harness_log());
}

#define AUTH(service, answer, expected) \
	run(service, answer, PAMTEST_AUTHENTICATE, expected, (enum pamtest_ops)-1, 0)

static int reset(void **state)
{
	(void)state;
	pa_harness_log_reset();
	unsetenv("PAM_AUTHTOK");
	return 0;
}

static void test_conversation(void **state)
{
	(void)state;
	run("pa_conv", good_token(), PAMTEST_AUTHENTICATE, PAM_SUCCESS, PAMTEST_ACCOUNT,
	    PAM_SUCCESS);
	fx_expect_log("auth: agent " BOT " authenticated (bearer token, ES256, kid ");
	fx_expect_log("account: allowed: class read");
}

static void test_use_first_pass(void **state)
{
	(void)state;
	setenv("PAM_AUTHTOK", good_token(), 1);
	AUTH("pa_first", NULL, PAM_SUCCESS);
	fx_expect_log("authenticated");
}

/*
 * A human password shaped like X.Y.Z reaches pam_agent with use_first_pass
 * (the pam-auth-update profile): "aGVsbG8.d29ybGQ.eA" decodes to "hello",
 * "world", "x". Nothing decoded from it may reach the log, the audit file
 * or the application.
 */
static void test_password_shaped_like_token_not_logged(void **state)
{
	(void)state;
	setenv("PAM_AUTHTOK", "aGVsbG8.d29ybGQ.eA", 1);
	AUTH("pa_first", NULL, PAM_AUTH_ERR);
	if (pa_harness_log_has("hello") || pa_harness_log_has("world"))
		fail_msg("a decoded part of the password reached the log:\n%s", pa_harness_log());
	assert_false(fx_file_has("audit.jsonl", "hello"));
	assert_false(fx_file_has("audit.jsonl", "world"));
	fx_expect_log("token rejected: token header is not valid JSON: a syntax error at byte");
	/* the same for the claims segment of a header that parses */
	setenv("PAM_AUTHTOK", "eyJhbGciOiJFUzI1NiJ9.d29ybGQ.eA", 1);
	AUTH("pa_first", NULL, PAM_AUTH_ERR);
	fx_expect_log("token rejected: token claims is not valid JSON: a syntax error at byte");
	assert_false(pa_harness_log_has("world"));
	assert_false(fx_file_has("audit.jsonl", "world"));
}

static void test_use_first_pass_without_authtok(void **state)
{
	(void)state;
	AUTH("pa_first", good_token(), PAM_AUTH_ERR);
	fx_expect_log("no token: use_first_pass is set and no earlier module or the application set PAM_AUTHTOK");
}

static void test_try_first_pass_falls_back_to_prompt(void **state)
{
	(void)state;
	AUTH("pa_try", good_token(), PAM_SUCCESS);
}

static void test_token_file(void **state)
{
	char name[256];

	(void)state;
	snprintf(name, sizeof(name), "%s.jwt", fx_user());
	fx_file(name, good_token(), 0600);
	AUTH("pa_file", NULL, PAM_SUCCESS);
	fx_expect_log("authenticated");
}

static void test_token_file_too_open(void **state)
{
	char name[256];

	(void)state;
	snprintf(name, sizeof(name), "%s.jwt", fx_user());
	fx_file(name, good_token(), 0640);
	AUTH("pa_file", NULL, PAM_AUTH_ERR);
	fx_expect_log(".jwt: mode 0640 is too open");
}

static void test_token_file_nul(void **state)
{
	char name[256];
	const char *path;
	int fd;

	(void)state;
	snprintf(name, sizeof(name), "%s.jwt", fx_user());
	path = fx_file(name, good_token(), 0600);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "", 1, 20), 1); /* a NUL inside the header */
	close(fd);
	AUTH("pa_file", NULL, PAM_AUTH_ERR);
	fx_expect_log("token_file: the file contains a NUL byte");
}

static void test_expired(void **state)
{
	(void)state;
	AUTH("pa_conv",
	     keep(fx_mint(&fx_example, BOT, FX_AUDIENCE, fx_now - 400, fx_now - 100, NULL)),
	     PAM_AUTH_ERR);
	fx_expect_log("auth: denied: service=pa_conv");
	fx_expect_log("token rejected: token expired at");
}

static void test_wrong_audience(void **state)
{
	(void)state;
	AUTH("pa_conv", keep(fx_mint(&fx_example, BOT, "spiffe://example.org/host/other", fx_now,
				     fx_now + 300, NULL)), PAM_AUTH_ERR);
	fx_expect_log("token rejected: audience mismatch: token aud does not contain \"" FX_AUDIENCE "\"");
}

static void test_unknown_kid(void **state)
{
	char *token;
	struct fx_domain stranger;

	(void)state;
	/* signed by a key no bundle holds */
	fx_domain_init(&stranger, "stranger", ID_ALG_ES256);
	token = keep(fx_mint(&stranger, BOT, FX_AUDIENCE, fx_now, fx_now + 300, NULL));
	fx_domain_free(&stranger);
	AUTH("pa_conv", token, PAM_AUTH_ERR);
	fx_expect_log("token rejected: unknown kid");
}

static void test_kid_of_other_trust_domain(void **state)
{
	(void)state;
	/* other.org's key is trusted, but only for other.org identities */
	AUTH("pa_conv", keep(fx_mint(&other, BOT, FX_AUDIENCE, fx_now, fx_now + 300, NULL)),
	     PAM_AUTH_ERR);
	fx_expect_log("token rejected: unknown kid");
	fx_expect_log("among the jwt-svid keys of trust domain example.org");
}

static void test_tampered_signature(void **state)
{
	char *token = good_token();
	char *bad = keep(strdup(token));
	char *sig = strrchr(bad, '.') + 5;

	(void)state;
	*sig = *sig == 'A' ? 'B' : 'A';
	AUTH("pa_conv", bad, PAM_AUTH_ERR);
	fx_expect_log("token rejected: signature");
}

static void test_tampered_claims(void **state)
{
	char *token = good_token();
	char *forged = keep(fx_mint(&fx_example, "spiffe://example.org/agents/root", FX_AUDIENCE,
				    fx_now, fx_now + 300, NULL));
	char *mixed = keep(calloc(1, strlen(token) + strlen(forged)));
	const char *dot1 = strchr(forged, '.'), *dot2 = strrchr(forged, '.');

	(void)state;
	/* forged claims with the good token's header and signature */
	memcpy(mixed, token, (size_t)(strchr(token, '.') - token));
	strncat(mixed, dot1, (size_t)(dot2 - dot1));
	strcat(mixed, strrchr(token, '.'));
	AUTH("pa_conv", mixed, PAM_AUTH_ERR);
	fx_expect_log("token rejected: signature");
}

static void test_alg_none(void **state)
{
	/* {"alg":"none"} . {"sub":BOT,...} . "" */
	char *claims = id_b64url_encode((const unsigned char *)"{\"sub\":\"" BOT "\",\"aud\":\"" FX_AUDIENCE "\",\"exp\":4102444800}", 93);
	char token[512];

	(void)state;
	assert_non_null(claims);
	snprintf(token, sizeof(token), "eyJhbGciOiJub25lIn0.%s.", claims);
	free(claims);
	AUTH("pa_conv", token, PAM_AUTH_ERR);
	fx_expect_log("token rejected:");
	fx_expect_log("none");
}

static void test_truncated_by_conversation(void **state)
{
	char pad[700];
	char extra[800];
	char *token;

	(void)state;
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	snprintf(extra, sizeof(extra), "{\"note\":\"%s\"}", pad);
	token = keep(fx_mint(&fx_example, BOT, FX_AUDIENCE, fx_now, fx_now + 300, extra));
	assert_true(strlen(token) > PAM_MAX_RESP_SIZE);
	token[PAM_MAX_RESP_SIZE - 1] = '\0'; /* what a 512-byte client passes on */
	AUTH("pa_conv", token, PAM_AUTH_ERR);
	fx_expect_log("token truncated by the PAM conversation (511 bytes, the limit of many PAM "
		      "clients): launch the agent with agent-run, which has no such limit");
}

/* A conversation function that fails every prompt, as sudo's does for an
 * answer of PAM_MAX_RESP_SIZE bytes or more (docs/applications.md). */
static int failing_conv(int n, const struct pam_message **msg, struct pam_response **resp,
			void *data)
{
	(void)n;
	(void)msg;
	(void)data;
	*resp = NULL;
	return *(const int *)data;
}

/*
 * The conversation fails instead of answering: the reason names the
 * failure and its likely cause (the application's answer limit), not only
 * "no token".
 */
static void test_conversation_fails(void **state)
{
	int code = PAM_CONV_ERR;
	struct pam_conv c = { failing_conv, &code };
	pam_handle_t *pamh = NULL;

	(void)state;
	assert_int_equal(pam_start("pa_conv", fx_user(), &c, &pamh), PAM_SUCCESS);
	assert_int_equal(pam_authenticate(pamh, 0), PAM_AUTH_ERR);
	fx_expect_log("no token: the PAM conversation failed at the token prompt (PAM_CONV_ERR): "
		      "the application returned no answer; likely its answer limit (sudo discards "
		      "answers of 512 bytes or more, PAM_MAX_RESP_SIZE)");
	pam_end(pamh, PAM_SUCCESS);

	/* another failure code is named as a conversation failure too */
	pa_harness_log_reset();
	code = PAM_BUF_ERR;
	assert_int_equal(pam_start("pa_conv", fx_user(), &c, &pamh), PAM_SUCCESS);
	assert_int_equal(pam_authenticate(pamh, 0), PAM_AUTH_ERR);
	fx_expect_log("no token: the PAM conversation failed at the token prompt: ");
	pam_end(pamh, PAM_SUCCESS);
}

static void test_replay_rejected_also_from_other_process(void **state)
{
	char *token = good_token();
	pid_t pid;
	int status;

	(void)state;
	AUTH("pa_once", token, PAM_SUCCESS);
	AUTH("pa_once", token, PAM_AUTH_ERR);
	fx_expect_log("token replayed: jti \"");
	/* a second process on the host sees the same cache */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		const char *answers[] = { token, NULL };
		struct pamtest_conv_data conv = { .in_echo_off = answers };
		struct pam_testcase t[] = { pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR) };

		_exit(run_pamtest("pa_once", fx_user(), &conv, t, NULL) == PAMTEST_ERR_OK ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* a fresh token of the same agent is fine */
	AUTH("pa_once", good_token(), PAM_SUCCESS);
}

/* Runs only pam_authenticate on service as user with answer as the token. */
static void auth_only(const char *service, const char *user, const char *answer, int expected);

/*
 * F4: a token the policy refuses takes no place in the replay cache: the
 * same token, refused for a user no rule allows, still works for the right
 * user afterwards.
 */
static void test_denied_token_not_recorded(void **state)
{
	char *token = good_token();

	(void)state;
	auth_only("pa_once", OTHER_USER, token, PAM_AUTH_ERR);
	fx_expect_log("user " OTHER_USER " is not in the users of [agent " BOT "]");
	pa_harness_log_reset();
	auth_only("pa_once", fx_user(), token, PAM_SUCCESS);
	assert_false(pa_harness_log_has("token replayed"));
	auth_only("pa_once", fx_user(), token, PAM_AUTH_ERR);
	fx_expect_log("token replayed: jti \"");
}

/*
 * F4: one agent filling its replay cache quota is refused, while another
 * agent is still accepted.
 */
static void test_replay_quota_per_agent(void **state)
{
	char *first = good_token();

	(void)state;
	auth_only("pa_quota", fx_user(), first, PAM_SUCCESS);
	auth_only("pa_quota", fx_user(), good_token(), PAM_SUCCESS);
	auth_only("pa_quota", fx_user(), good_token(), PAM_AUTH_ERR);
	fx_expect_log("agent " BOT " holds 2 live entries, its quota (replay_agent_quota) of 2");
	/* another agent is not locked out */
	auth_only("pa_quota", fx_user(),
		  keep(fx_mint(&fx_example, "spiffe://example.org/agents/team/b", FX_AUDIENCE,
			       fx_now, fx_now + 300, NULL)),
		  PAM_SUCCESS);
	/* and the agent at its quota still meets its replays as replays */
	pa_harness_log_reset();
	auth_only("pa_quota", fx_user(), first, PAM_AUTH_ERR);
	fx_expect_log("token replayed: jti \"");
}

static void auth_only(const char *service, const char *user, const char *answer, int expected)
{
	const char *answers[] = { answer, NULL };
	struct pamtest_conv_data conv = { .in_echo_off = answers };
	struct pam_testcase t[] = { pam_test(PAMTEST_AUTHENTICATE, expected) };
	enum pamtest_err perr = run_pamtest(service, user, &conv, t, NULL);

	if (perr != PAMTEST_ERR_OK)
		fail_msg("%s as %s: %s (got %d)\nlog:\n%s", service, user, pamtest_strerror(perr),
			 perr == PAMTEST_ERR_CASE ? pamtest_failed_case(t)->op_rv : -1,
			 pa_harness_log());
}

/* F2: an auth-only application lets an allowed agent in, as its user. */
static void test_auth_only_allowed(void **state)
{
	(void)state;
	auth_only("pa_lock", fx_user(), good_token(), PAM_SUCCESS);
	auth_only("pa_lock", fx_user(),
		  keep(fx_mint(&fx_example, "spiffe://example.org/agents/team/a", FX_AUDIENCE,
			       fx_now, fx_now + 300, NULL)),
		  PAM_SUCCESS);
	fx_expect_log("authenticated");
}

/* F2: a valid token does not authenticate as a user no rule allows (root). */
static void test_auth_only_other_user(void **state)
{
	(void)state;
	auth_only("pa_lock", OTHER_USER, good_token(), PAM_AUTH_ERR);
	fx_expect_log("auth: denied: service=pa_lock user=" OTHER_USER);
	fx_expect_log("not allowed by the policy: user " OTHER_USER " is not in the users of "
		      "[agent " BOT "]");
	assert_false(pa_harness_log_has("authenticated"));
	assert_true(fx_file_has("audit.jsonl", "\"user\":\"" OTHER_USER "\""));
}

/* F2: a [deny]-ed identity does not authenticate, though a prefix rule allows it. */
static void test_auth_only_denied_identity(void **state)
{
	(void)state;
	auth_only("pa_lock", fx_user(),
		  keep(fx_mint(&fx_example, EVIL, FX_AUDIENCE, fx_now, fx_now + 300, NULL)),
		  PAM_AUTH_ERR);
	fx_expect_log("not allowed by the policy: agent " EVIL " matches [deny " EVIL "]");
	assert_false(pa_harness_log_has("authenticated"));
}

/* F2: not on a service the rule does not list, nor on one without [service]. */
static void test_auth_only_wrong_service(void **state)
{
	(void)state;
	auth_only("pa_lock_other", fx_user(), good_token(), PAM_AUTH_ERR);
	fx_expect_log("service pa_lock_other is not in the services of [agent " BOT "]");
	auth_only("pa_lock_norule", fx_user(), good_token(), PAM_AUTH_ERR);
	fx_expect_log("service pa_lock_norule has no [service] section");
	assert_false(pa_harness_log_has("authenticated"));
}

/* F2: an identity no [agent] rule names does not authenticate. */
static void test_auth_only_no_rule(void **state)
{
	(void)state;
	auth_only("pa_lock", fx_user(),
		  keep(fx_mint(&fx_example, "spiffe://example.org/agents/stranger", FX_AUDIENCE,
			       fx_now, fx_now + 300, NULL)),
		  PAM_AUTH_ERR);
	fx_expect_log("no [agent] rule matches agent spiffe://example.org/agents/stranger");
	assert_false(pa_harness_log_has("authenticated"));
}

static void test_bad_config_denies(void **state)
{
	(void)state;
	fx_file("policy.conf", "[global]\naudience = x\nbogus = 1\n", 0644);
	AUTH("pa_conv", good_token(), PAM_AUTH_ERR);
	fx_expect_log("configuration refused, denying everything");
	fx_expect_log("policy.conf:3: ");
}

/* Last: the audit file holds the events, and no token anywhere. */
static void test_audit_and_no_token_leak(void **state)
{
	size_t i;

	(void)state;
	assert_true(fx_file_has("audit.jsonl", "\"event\":\"authenticate\",\"result\":\"ok\""));
	assert_true(fx_file_has("audit.jsonl", "\"event\":\"authenticate\",\"result\":\"failed\""));
	assert_true(fx_file_has("audit.jsonl", "\"agent\":\"" BOT "\""));
	for (i = 0; i < n_tokens; i++) {
		char *sig = strrchr(tokens[i], '.');

		if (fx_file_has("audit.jsonl", tokens[i]) || fx_file_has("log", tokens[i]))
			fail_msg("token %zu found in the audit file or the log", i);
		if (sig != NULL && strlen(sig) > 20 &&
		    (fx_file_has("audit.jsonl", sig + 1) || fx_file_has("log", sig + 1)))
			fail_msg("signature of token %zu found in the audit file or the log", i);
	}
}

static int setup(void **state)
{
	char text[4096];

	fx_setup(state);
	fx_domain_init(&other, "other.org", ID_ALG_ES256);
	snprintf(text, sizeof(text), policy, "");
	fx_file("policy.conf", text, 0644);
	snprintf(text, sizeof(text), policy, "single_use = yes\nreplay_dir = @DIR@/replay\n");
	fx_file("single.conf", text, 0644);
	/* 10 entries, 20 % each: an agent holds at most 2 */
	snprintf(text, sizeof(text), policy,
		 "single_use = yes\nreplay_dir = @DIR@/replay-quota\n"
		 "replay_max_entries = 10\nreplay_agent_quota = 20\n");
	fx_file("quota.conf", text, 0644);
	return 0;
}

static int teardown(void **state)
{
	size_t i;

	for (i = 0; i < n_tokens; i++)
		free(tokens[i]);
	fx_domain_free(&other);
	return fx_teardown(state);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_conversation, reset),
		cmocka_unit_test_setup(test_use_first_pass, reset),
		cmocka_unit_test_setup(test_use_first_pass_without_authtok, reset),
		cmocka_unit_test_setup(test_password_shaped_like_token_not_logged, reset),
		cmocka_unit_test_setup(test_try_first_pass_falls_back_to_prompt, reset),
		cmocka_unit_test_setup(test_token_file, reset),
		cmocka_unit_test_setup(test_token_file_too_open, reset),
		cmocka_unit_test_setup(test_token_file_nul, reset),
		cmocka_unit_test_setup(test_expired, reset),
		cmocka_unit_test_setup(test_wrong_audience, reset),
		cmocka_unit_test_setup(test_unknown_kid, reset),
		cmocka_unit_test_setup(test_kid_of_other_trust_domain, reset),
		cmocka_unit_test_setup(test_tampered_signature, reset),
		cmocka_unit_test_setup(test_tampered_claims, reset),
		cmocka_unit_test_setup(test_alg_none, reset),
		cmocka_unit_test_setup(test_truncated_by_conversation, reset),
		cmocka_unit_test_setup(test_conversation_fails, reset),
		cmocka_unit_test_setup(test_replay_rejected_also_from_other_process, reset),
		cmocka_unit_test_setup(test_auth_only_allowed, reset),
		cmocka_unit_test_setup(test_auth_only_other_user, reset),
		cmocka_unit_test_setup(test_auth_only_denied_identity, reset),
		cmocka_unit_test_setup(test_auth_only_wrong_service, reset),
		cmocka_unit_test_setup(test_auth_only_no_rule, reset),
		cmocka_unit_test_setup(test_denied_token_not_recorded, reset),
		cmocka_unit_test_setup(test_replay_quota_per_agent, reset),
		cmocka_unit_test_setup(test_audit_and_no_token_leak, reset),
		cmocka_unit_test_setup(test_bad_config_denies, reset),
	};

	return FX_MAIN(argc, argv, services, "pam-auth", tests, setup, teardown);
}

#endif /* PA_NO_PAMTEST */
