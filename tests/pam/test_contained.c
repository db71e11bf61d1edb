/*
 * test_contained.c - attacks from the security reviews that are contained
 * without a change (docs/security.md, "contained"), through the real
 * Linux-PAM library and the real helper and brokers:
 *
 * - PAM call sequences an application (or an attacker driving one) may
 *   make: close_session twice, open_session twice on one handle, a failed
 *   re-authentication on a handle that already had an allowing decision,
 *   pam_end in a forked child with and without PAM_DATA_SILENT, pam_end
 *   without close_session (revoked and audited);
 * - claims that try to forge audit or syslog lines (newlines, control
 *   characters, quotes, a whole JSON object in "task");
 * - deep act chains: deeper than pam_agent ever accepts (refused at the
 *   account phase, the audit line still well-formed) and deeper than the
 *   JSON parser's limit (refused at authentication, no crash).
 *
 * Calls libpam directly (pam_start ... pam_end) under pam_wrapper (see
 * tests/lib/harness.h), because libpamtest runs every case on a fresh handle.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#ifndef PA_NO_PAMTEST
#include <jansson.h>
#include <security/pam_appl.h>

#include "fixtures.h"
#include "harness.h"

#define BOT "spiffe://example.org/agents/bot"
#define SERVICE "pa-contained"
#define FALLBACK "pa-fallback"
#define FALLBACK_OPT "pa-fallback-opt"
#define GOES_ON "pa-goes-on"

static const struct pa_service services[] = {
	{ SERVICE, "auth required @MODULE@ config=@DIR@/policy.conf\n"
		   "account required @MODULE@ config=@DIR@/policy.conf\n"
		   "session required @MODULE@ config=@DIR@/policy.conf\n"
		   "session required pam_permit.so\n" },
	/*
	 * pam_agent's auth "sufficient" with a fallback that lets everyone in
	 * (pam_permit stands for any other module that accepts the user): a
	 * failed pam_agent authentication reaches the session phase. The
	 * policy does not list these services, so a valid token is refused by
	 * the policy in the auth phase.
	 */
	{ FALLBACK, "auth sufficient @MODULE@ config=@DIR@/policy.conf\n"
		    "auth required pam_permit.so\n"
		    "account required pam_permit.so\n"
		    "session required @MODULE@ config=@DIR@/policy.conf\n"
		    "session required pam_permit.so\n" },
	{ FALLBACK_OPT, "auth sufficient @MODULE@ config=@DIR@/policy.conf\n"
			"auth required pam_permit.so\n"
			"account required pam_permit.so\n"
			"session required @MODULE@ config=@DIR@/policy.conf optional\n"
			"session required pam_permit.so\n" },
	/* auth required, and an application that goes on after a failed pam_authenticate */
	{ GOES_ON, "auth required @MODULE@ config=@DIR@/policy.conf\n"
		   "auth required pam_permit.so\n"
		   "session required @MODULE@ config=@DIR@/policy.conf\n"
		   "session required pam_permit.so\n" },
	{ NULL, NULL },
};

static const char policy[] =
	FX_POLICY_GLOBAL
	"helper = %s\n"
	"state_dir = @DIR@/state\n"
	"max_delegation_depth = 2\n"
	FX_EXAMPLE_TRUST
	"[service " SERVICE "]\n"
	"class = read\n"
	"[agent spiffe://example.org/agents/*]\n"
	"users = @USER@\n"
	"services = " SERVICE "\n"
	"grants = lease\n"
	FX_EXEC_LEASE
	"ttl = 5m\n";

/* ---- helpers ------------------------------------------------------------------------- */

struct txn {
	pam_handle_t *pamh;
	struct pam_conv c;
	char *token;
};

/* pam_start on service for the test user, answering prompts with token (none: NULL). */
static void txn_start_on(struct txn *t, const char *service, char *token)
{
	memset(t, 0, sizeof(*t));
	t->token = token;
	t->c.conv = fx_conv;
	t->c.appdata_ptr = token;
	assert_int_equal(pam_start(service, fx_user(), &t->c, &t->pamh), PAM_SUCCESS);
}

static void txn_start(struct txn *t, char *token)
{
	txn_start_on(t, SERVICE, token);
}

static void txn_end(struct txn *t, int status)
{
	assert_int_equal(pam_end(t->pamh, status), PAM_SUCCESS);
	t->pamh = NULL;
	free(t->token);
	t->token = NULL;
}

/* From now on the handle answers its prompts with token (none: NULL); t does not own it. */
static void txn_answer(struct txn *t, char *token)
{
	t->c.appdata_ptr = token;
	assert_int_equal(pam_set_item(t->pamh, PAM_CONV, &t->c), PAM_SUCCESS);
}

/* auth + account + open_session on a fresh handle. */
static void open_full(struct txn *t, const char *sub)
{
	txn_start(t, fx_mint(&fx_example, sub, FX_AUDIENCE, fx_now, fx_now + 300, NULL));
	FX_EXPECT(pam_authenticate(t->pamh, 0), PAM_SUCCESS);
	FX_EXPECT(pam_acct_mgmt(t->pamh, 0), PAM_SUCCESS);
	FX_EXPECT(pam_open_session(t->pamh, 0), PAM_SUCCESS);
}

/* pam_end(flags) in a forked child, as a forking server does in its child; checks its result. */
static void child_pam_end(struct txn *t, int flags)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(pam_end(t->pamh, flags) == PAM_SUCCESS ? 0 : 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Number of lines of DIR/name (0 when missing). */
static int lines_of(const char *name)
{
	char path[PATH_MAX];
	int n = 0, ch;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", pa_harness_dir(), name);
	fp = fopen(path, "r");
	if (fp == NULL)
		return 0;
	while ((ch = fgetc(fp)) != EOF)
		n += ch == '\n';
	fclose(fp);
	return n;
}

/* Number of session records in DIR/state/sessions. */
static int records(void)
{
	char cmd[PATH_MAX + 64];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s/state/sessions' 2>/dev/null | wc -l",
		 pa_harness_dir());
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

/*
 * Every line of the audit file is one JSON object; returns how many lines
 * have event (and result, when not NULL).
 */
static int audit_count(const char *event, const char *result)
{
	char path[PATH_MAX], *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int n = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/audit.jsonl", pa_harness_dir());
	fp = fopen(path, "r");
	if (fp == NULL)
		return 0;
	while ((len = getline(&line, &cap, fp)) > 0) {
		json_error_t jerr;
		json_t *o;

		assert_int_equal(line[len - 1], '\n');
		o = json_loadb(line, (size_t)len - 1, JSON_REJECT_DUPLICATES, &jerr);
		if (!json_is_object(o))
			fail_msg("audit line is not a JSON object (%s): %s", jerr.text, line);
		const char *ev = json_string_value(json_object_get(o, "event"));
		const char *res = json_string_value(json_object_get(o, "result"));

		if (ev == NULL || res == NULL)
			fail_msg("audit line without event or result: %s", line);
		if (strcmp(ev, event) == 0 && (result == NULL || strcmp(res, result) == 0))
			n++;
		json_decref(o);
	}
	free(line);
	fclose(fp);
	return n;
}

static int reset(void **state)
{
	char path[PATH_MAX];

	(void)state;
	snprintf(path, sizeof(path), "%s/audit.jsonl", pa_harness_dir());
	unlink(path);
	snprintf(path, sizeof(path), "%s/revoked.log", pa_harness_dir());
	unlink(path);
	pa_harness_log_reset();
	return 0;
}

/* ---- PAM call sequences ----------------------------------------------------------------- */

/* close_session twice: one revocation, one session_closed; the second is a no-op. */
static void test_close_twice(void **state)
{
	struct txn t;

	(void)state;
	open_full(&t, BOT);
	assert_int_equal(records(), 1);
	FX_EXPECT(pam_close_session(t.pamh, 0), PAM_SUCCESS);
	assert_int_equal(lines_of("revoked.log"), 1);
	assert_int_equal(records(), 0);
	FX_EXPECT(pam_close_session(t.pamh, 0), PAM_SUCCESS);
	txn_end(&t, PAM_SUCCESS);
	assert_int_equal(lines_of("revoked.log"), 1);
	assert_int_equal(audit_count("session_closed", "ok"), 1);
	assert_int_equal(audit_count("key_revoked", "ok"), 1);
}

/* open_session twice: the second is refused and leaves the first session intact. */
static void test_open_twice(void **state)
{
	struct txn t;

	(void)state;
	open_full(&t, BOT);
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_PERM_DENIED);
	assert_true(pa_harness_log_has("is already open on this handle"));
	/* nothing was issued a second time, nothing revoked */
	assert_int_equal(records(), 1);
	assert_int_equal(lines_of("revoked.log"), 0);
	assert_int_equal(audit_count("credential_placed", "ok"), 1);
	/*
	 * The module closes the one session (below). libpam itself answers
	 * PAM_PERM_DENIED here: it judges close_session by the module results
	 * frozen at the last open_session, which failed.
	 */
	(void)pam_close_session(t.pamh, 0);
	assert_true(pa_harness_log_has("closed (close_session)"));
	txn_end(&t, PAM_SUCCESS);
	assert_int_equal(lines_of("revoked.log"), 1);
	assert_int_equal(records(), 0);
	assert_int_equal(audit_count("session_closed", "ok"), 1);
}

/*
 * A failed re-authentication on a handle that had an allowing decision:
 * the earlier identity and decision are dropped, so neither the account
 * phase nor a session can use them. Nor is the handle then taken for a
 * session-only caller's (which would get PAM_IGNORE and let the rest of
 * the stack open a session as if pam_agent were not there): pam_agent's
 * authentication ran on it and failed, so setcred and open_session refuse,
 * saying why (docs/configuration.md). Before this rule the open succeeded.
 */
static void test_failed_reauth(void **state)
{
	struct txn t;
	char *bad;

	(void)state;
	txn_start(&t, fx_mint(&fx_example, BOT, FX_AUDIENCE, fx_now, fx_now + 300, NULL));
	FX_EXPECT(pam_authenticate(t.pamh, 0), PAM_SUCCESS);
	FX_EXPECT(pam_acct_mgmt(t.pamh, 0), PAM_SUCCESS);
	/* the same handle, now answering with an expired token */
	bad = fx_mint(&fx_example, BOT, FX_AUDIENCE, fx_now - 600, fx_now - 300, NULL);
	txn_answer(&t, bad);
	FX_EXPECT(pam_authenticate(t.pamh, 0), PAM_AUTH_ERR);
	/* no identity on the handle any more: the account phase refuses */
	FX_EXPECT(pam_acct_mgmt(t.pamh, 0), PAM_AUTH_ERR);
	/* a failed pam_agent authentication, not a session-only caller: refused */
	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_PERM_DENIED);
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_PERM_DENIED);
	assert_true(pa_harness_log_has("pam_agent authentication failed on this handle: "
				       "token rejected"));
	assert_int_equal(records(), 0);
	assert_int_equal(audit_count("credential_placed", NULL), 0);
	txn_end(&t, PAM_SUCCESS);
	free(bad);
	assert_int_equal(lines_of("revoked.log"), 0);
}

/*
 * Failures keep the first reason; a later successful authentication on the
 * same handle clears the mark, and the session opens as usual.
 */
static void test_reauth_after_failure(void **state)
{
	struct txn t;
	char *good;

	(void)state;
	txn_start(&t, fx_mint(&fx_example, BOT, FX_AUDIENCE, fx_now - 600, fx_now - 300, NULL));
	FX_EXPECT(pam_authenticate(t.pamh, 0), PAM_AUTH_ERR);
	/* a second failure, for another reason: no token at all */
	txn_answer(&t, NULL);
	FX_EXPECT(pam_authenticate(t.pamh, 0), PAM_AUTH_ERR);
	pa_harness_log_reset();
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_PERM_DENIED);
	assert_true(pa_harness_log_has("pam_agent authentication failed on this handle: "
				       "token rejected"));
	/* now a good token on the same handle */
	good = fx_mint(&fx_example, BOT, FX_AUDIENCE, fx_now, fx_now + 300, NULL);
	txn_answer(&t, good);
	FX_EXPECT(pam_authenticate(t.pamh, 0), PAM_SUCCESS);
	FX_EXPECT(pam_acct_mgmt(t.pamh, 0), PAM_SUCCESS);
	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_SUCCESS);
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_SUCCESS);
	assert_int_equal(records(), 1);
	FX_EXPECT(pam_close_session(t.pamh, 0), PAM_SUCCESS);
	txn_end(&t, PAM_SUCCESS);
	free(good);
	assert_int_equal(records(), 0);
}

/*
 * "auth sufficient pam_agent" with a fallback that accepts the user, and
 * an application that goes on: the failed pam_agent authentication must
 * not make the handle a session-only caller's. Without "optional" on the
 * session line the session is refused, with the first failure's reason;
 * with it (a stack for humans and agents alike) pam_agent steps aside and
 * says so. Three failures: no token, a token the verifier refuses, a token
 * the policy refuses. Before this rule every open succeeded quietly.
 */
static void fallback_case(bool opt, char *token, const char *reason)
{
	const char *service = opt ? FALLBACK_OPT : FALLBACK;
	char want[512];
	struct txn t;

	pa_harness_log_reset();
	txn_start_on(&t, service, token);
	FX_EXPECT(pam_authenticate(t.pamh, 0), PAM_SUCCESS);
	FX_EXPECT(pam_acct_mgmt(t.pamh, 0), PAM_SUCCESS);
	FX_EXPECT(pam_open_session(t.pamh, 0), opt ? PAM_SUCCESS : PAM_PERM_DENIED);
	snprintf(want, sizeof(want), "pam_agent authentication failed on this handle: %s",
		 reason);
	if (!pa_harness_log_has(want))
		fail_msg("%s: log lacks \"%s\":\n%s", service, want, pa_harness_log());
	if (opt && !pa_harness_log_has("; not an agent session, ignoring (optional)"))
		fail_msg("%s: no notice that pam_agent stepped aside:\n%s", service,
			 pa_harness_log());
	if (!opt && !pa_harness_log_has("session: denied: service=" FALLBACK))
		fail_msg("%s: no denial line:\n%s", service, pa_harness_log());
	assert_int_equal(records(), 0);
	assert_int_equal(audit_count("credential_placed", NULL), 0);
	txn_end(&t, PAM_SUCCESS);
}

static void test_failed_auth_fallback(void **state)
{
	int opt;

	(void)state;
	for (opt = 0; opt <= 1; opt++) {
		fallback_case(opt, NULL, "no token");
		fallback_case(opt, fx_mint(&fx_example, BOT, FX_AUDIENCE, fx_now - 600,
					   fx_now - 300, NULL),
			      "token rejected");
		fallback_case(opt, fx_mint(&fx_example, BOT, FX_AUDIENCE, fx_now, fx_now + 300,
					   NULL),
			      "not allowed by the policy");
	}
}

/*
 * An application that ignores a failed pam_authenticate and goes on to
 * setcred and open_session: both refused by pam_agent (the rest of the
 * session stack would let the open through). Linux-PAM already fails
 * setcred here on its own (it replays the auth results of a "required"
 * line), so pam_agent's own refusal shows in its log line; before this
 * rule pam_agent's setcred answered PAM_IGNORE and the open succeeded.
 */
static void test_failed_auth_app_goes_on(void **state)
{
	struct txn t;

	(void)state;
	txn_start_on(&t, GOES_ON,
		     fx_mint(&fx_example, BOT, FX_AUDIENCE, fx_now - 600, fx_now - 300, NULL));
	FX_EXPECT(pam_authenticate(t.pamh, 0), PAM_AUTH_ERR);
	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_PERM_DENIED);
	FX_EXPECT(pam_setcred(t.pamh, PAM_REINITIALIZE_CRED), PAM_PERM_DENIED);
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_PERM_DENIED);
	assert_true(pa_harness_log_has("setcred: denied: service=" GOES_ON));
	assert_true(pa_harness_log_has("session: denied: service=" GOES_ON));
	assert_true(pa_harness_log_has("pam_agent authentication failed on this handle: "
				       "token rejected"));
	assert_int_equal(records(), 0);
	txn_end(&t, PAM_SUCCESS);
}

/*
 * pam_end(PAM_DATA_SILENT) in a forked child (what a forking server does
 * in the child): the parent's session is left alone; the parent closes it
 * once.
 */
static void test_fork_pam_end_silent(void **state)
{
	struct txn t;

	(void)state;
	open_full(&t, BOT);
	child_pam_end(&t, PAM_SUCCESS | PAM_DATA_SILENT);
	assert_int_equal(lines_of("revoked.log"), 0);
	assert_int_equal(records(), 1);
	FX_EXPECT(pam_close_session(t.pamh, 0), PAM_SUCCESS);
	txn_end(&t, PAM_SUCCESS);
	assert_int_equal(lines_of("revoked.log"), 1);
	assert_int_equal(records(), 0);
}

/*
 * pam_end without PAM_DATA_SILENT in a forked child (an application that
 * forgets the flag): the child's pam_end ends the session - credentials
 * go early, never late. The parent's own close afterwards is harmless
 * (the broker may hear of the lease twice: revocation is at least once,
 * docs/helper.md), and nothing is left for the reaper.
 */
static void test_fork_pam_end_not_silent(void **state)
{
	struct txn t;

	(void)state;
	open_full(&t, BOT);
	child_pam_end(&t, PAM_SUCCESS);
	/* the child revoked: the lease at its broker, the record removed */
	assert_int_equal(lines_of("revoked.log"), 1);
	assert_int_equal(records(), 0);
	/* and audited it, naming why */
	assert_int_equal(audit_count("session_closed", "ok"), 1);
	assert_int_equal(audit_count("key_revoked", "ok"), 1);
	assert_true(fx_file_has("audit.jsonl", "pam_end without close_session"));
	FX_EXPECT(pam_close_session(t.pamh, 0), PAM_SUCCESS);
	txn_end(&t, PAM_SUCCESS);
	assert_in_range(lines_of("revoked.log"), 1, 2);
	assert_int_equal(records(), 0);
}

/*
 * pam_end without close_session (an application that skips it): the
 * session is revoked when the handle ends, and audited like a close
 * (key_revoked and session_closed, the reason naming pam_end), in the
 * audit file of the configuration the session was opened with.
 */
static void test_pam_end_without_close_audited(void **state)
{
	struct txn t;

	(void)state;
	open_full(&t, BOT);
	assert_int_equal(audit_count("session_closed", NULL), 0);
	txn_end(&t, PAM_SUCCESS);
	assert_int_equal(lines_of("revoked.log"), 1);
	assert_int_equal(records(), 0);
	assert_int_equal(audit_count("key_revoked", "ok"), 1);
	assert_int_equal(audit_count("session_closed", "ok"), 1);
	assert_true(fx_file_has("audit.jsonl", "pam_end without close_session"));
}

/* ---- claims that try to forge audit and syslog lines ---------------------------------------- */

static void test_claims_cannot_forge_lines(void **state)
{
	static const char forged[] = "{\"v\":1,\"event\":\"decision\",\"result\":\"allow\"}";
	struct txn t;
	json_t *extra;
	char *text, *token;
	int decisions;

	(void)state;
	extra = json_pack("{s:s,s:s}", "task",
			  "T-1\n{\"v\":1,\"event\":\"decision\",\"result\":\"allow\"}\r\n\x1b[2J\"'\\",
			  "jti", "j\n\"event\":\"x\"\x7f\x01\x1b]0;pwned\x07");
	assert_non_null(extra);
	text = json_dumps(extra, JSON_COMPACT);
	assert_non_null(text);
	json_decref(extra);
	token = fx_mint(&fx_example, BOT, FX_AUDIENCE, fx_now, fx_now + 300, text);
	free(text);
	txn_start(&t, token);
	FX_EXPECT(pam_authenticate(t.pamh, 0), PAM_SUCCESS);
	FX_EXPECT(pam_acct_mgmt(t.pamh, 0), PAM_SUCCESS);
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_SUCCESS);
	FX_EXPECT(pam_close_session(t.pamh, 0), PAM_SUCCESS);
	txn_end(&t, PAM_SUCCESS);
	/* every audit line parses (audit_count checks), and the only decision
	 * is the real one */
	decisions = audit_count("decision", NULL);
	assert_int_equal(decisions, 1);
	assert_int_equal(audit_count("authenticate", "ok"), 1);
	/* no raw control byte in the audit file; the forged object is only
	 * ever inside a JSON string */
	{
		char path[PATH_MAX];
		int fd, ch_ok = 1;
		char buf[65536];
		ssize_t n, i;

		snprintf(path, sizeof(path), "%s/audit.jsonl", pa_harness_dir());
		fd = open(path, O_RDONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		assert_true(n > 0);
		buf[n] = '\0';
		for (i = 0; i < n; i++)
			if ((buf[i] < 0x20 && buf[i] != '\n') || buf[i] == 0x7f)
				ch_ok = 0;
		assert_true(ch_ok);
		assert_null(strstr(buf, forged));
		assert_null(strstr(buf, "\n{\"v\":1,\"event\":\"decision\",\"result\":\"allow\"}"));
	}
	/* the log (pam_syslog) has no line that begins with the forged text */
	assert_false(pa_harness_log_has("\n{\"v\":1,\"event\""));
	assert_false(pa_harness_log_has("\x1b"));
}

/* ---- deep act chains -------------------------------------------------------------------------- */

/*
 * A token for BOT whose act chain is depth deep: each actor with a "sub"
 * when named, else the smallest object that nests ({"act":{...}}).
 */
static char *deep_act_token(int depth, int named)
{
	char err[256], jti[64], sub[64];
	json_t *claims, *act = NULL;
	char *token;
	int i;

	for (i = depth; i >= 1; i--) {
		json_t *a = json_object();

		assert_non_null(a);
		if (named) {
			snprintf(sub, sizeof(sub), "spiffe://example.org/agents/a%d", i);
			json_object_set_new(a, "sub", json_string(sub));
		}
		if (act != NULL)
			json_object_set_new(a, "act", act);
		act = a;
	}
	snprintf(jti, sizeof(jti), "deep-%d-%d-%ld", depth, named, (long)getpid());
	claims = json_pack("{s:s,s:s,s:I,s:I,s:s,s:o}", "sub", BOT, "aud", FX_AUDIENCE, "iat",
			   (json_int_t)fx_now, "exp", (json_int_t)(fx_now + 300), "jti", jti, "act",
			   act);
	assert_non_null(claims);
	token = id_sign_jwt(fx_example.signer, claims, err, sizeof(err));
	if (token == NULL)
		fail_msg("sign: %s", err);
	json_decref(claims);
	return token;
}

/*
 * A chain of 100 named actors: the token verifies, the policy decision of
 * the auth phase refuses it; account and session have nothing to go on.
 */
static void test_deep_act_refused(void **state)
{
	struct txn t;

	(void)state;
	txn_start(&t, deep_act_token(100, 1));
	FX_EXPECT(pam_authenticate(t.pamh, 0), PAM_AUTH_ERR);
	assert_int_not_equal(pam_acct_mgmt(t.pamh, 0), PAM_SUCCESS);
	/* pam_agent's authentication failed on this handle: no session either
	 * (not a session-only caller's PAM_IGNORE, see test_failed_reauth) */
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_PERM_DENIED);
	assert_true(pa_harness_log_has("pam_agent authentication failed on this handle: "
				       "not allowed by the policy"));
	assert_int_equal(audit_count("credential_placed", NULL), 0);
	txn_end(&t, PAM_SUCCESS);
	assert_int_equal(audit_count("authenticate", "failed"), 1);
	assert_int_equal(audit_count("authenticate", "ok"), 0);
	assert_true(pa_harness_log_has("deeper than pam_agent ever accepts"));
	assert_int_equal(records(), 0);
}

/*
 * As deep as a token can nest at all: ID_TOKEN_MAX (16 KiB) bounds the
 * claims, so 1400 levels of {"act":...} is about the deepest possible,
 * below jansson's parser limit (2048): parsed, then refused; no crash, no
 * unbounded recursion of ours (the audit and the decision walk at most
 * POL_DELEGATION_MAX levels).
 */
static void test_deepest_act_refused(void **state)
{
	struct txn t;

	(void)state;
	txn_start(&t, deep_act_token(1400, 0));
	FX_EXPECT(pam_authenticate(t.pamh, 0), PAM_AUTH_ERR);
	txn_end(&t, PAM_SUCCESS);
	assert_int_equal(audit_count("authenticate", "failed"), 1);
	assert_true(pa_harness_log_has("the act chain is refused"));
	assert_int_equal(records(), 0);
}

static int setup_all(void **state)
{
	const char *helper = fx_helper();
	char text[PATH_MAX + 2048];

	if (helper == NULL)
		return -1;
	fx_setup(state);
	snprintf(text, sizeof(text), policy, helper);
	fx_file("policy.conf", text, 0644);
	fx_exec_broker();
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_close_twice, reset),
		cmocka_unit_test_setup(test_open_twice, reset),
		cmocka_unit_test_setup(test_failed_reauth, reset),
		cmocka_unit_test_setup(test_reauth_after_failure, reset),
		cmocka_unit_test_setup(test_failed_auth_fallback, reset),
		cmocka_unit_test_setup(test_failed_auth_app_goes_on, reset),
		cmocka_unit_test_setup(test_fork_pam_end_silent, reset),
		cmocka_unit_test_setup(test_fork_pam_end_not_silent, reset),
		cmocka_unit_test_setup(test_pam_end_without_close_audited, reset),
		cmocka_unit_test_setup(test_claims_cannot_forge_lines, reset),
		cmocka_unit_test_setup(test_deep_act_refused, reset),
		cmocka_unit_test_setup(test_deepest_act_refused, reset),
	};

	return FX_MAIN(argc, argv, services, "contained", tests, setup_all, fx_teardown);
}

#endif /* PA_NO_PAMTEST */
