/*
 * test_accounts.c - agent accounts in the policy engine (policy/agent_accounts.c,
 * docs/nss.md): the [global] and [agent] keys and their errors, derived
 * names and uids (deterministic, in the range), collisions between rules
 * and with passwd and group files, users = self.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy.h"

#define HEAD                                                                       \
	"[global]\naudience = a\nuid_range = 61000-61999\n"                        \
	"[trust_domain example.org]\nbundle = /nonexistent/b.json\n"               \
	"[service agent-run]\nclass = read\n"

static struct pol_config *parse(const char *text, struct pol_errors *e)
{
	struct pol_config *cfg = NULL;

	memset(e, 0, sizeof(*e));
	pol_config_parse_text("t.conf", text, strlen(text), &cfg, e);
	return cfg;
}

static bool has_error(const struct pol_errors *e, const char *needle)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		if (strstr(e->msgs[i], needle) != NULL)
			return true;
	return false;
}

static void test_derived(void **state)
{
	struct pol_errors e;
	struct pol_config *cfg = parse(HEAD "[agent spiffe://example.org/agents/CI.bot]\n"
					    "users = self\nservices = agent-run\n"
					    "[agent spiffe://example.org/agents/*]\n"
					    "users = self\nservices = agent-run\n"
					    "[agent spiffe://example.org/x]\naccount = x-acct\nuid = 61234\n"
					    "users = self\nservices = agent-run\n", &e);
	struct pol_accounts acc, acc2;
	char err[256];

	(void)state;
	assert_non_null(cfg);
	assert_int_equal(pol_accounts_compute(cfg, false, NULL, NULL, &acc, err, sizeof(err)), 0);
	assert_int_equal(acc.n, 2); /* the prefix rule names no account: none */
	assert_string_equal(acc.v[0].name, "agent-ci-bot");
	assert_true(acc.v[0].derived_name && acc.v[0].derived_uid);
	assert_true(acc.v[0].uid > 61000 && acc.v[0].uid <= 61999);
	assert_int_equal(acc.v[0].gid, 61000);
	assert_string_equal(acc.v[0].home, "/nonexistent");
	assert_string_equal(acc.v[0].shell, "/usr/sbin/nologin");
	assert_null(acc.v[0].problem);
	assert_string_equal(acc.v[1].name, "x-acct");
	assert_int_equal(acc.v[1].uid, 61234);
	assert_string_equal(acc.group, "agents");
	/* deterministic */
	assert_int_equal(pol_accounts_compute(cfg, false, NULL, NULL, &acc2, err, sizeof(err)), 0);
	assert_int_equal(acc2.v[0].uid, acc.v[0].uid);
	pol_accounts_clear(&acc2);
	pol_accounts_clear(&acc);
	pol_config_unref(cfg);
	pol_errors_clear(&e);
}

static void test_config_errors(void **state)
{
	struct pol_errors e;
	struct pol_config *cfg;

	(void)state;
	cfg = parse("[global]\naudience = a\nuid_range = 62000-61000\n", &e);
	assert_null(cfg);
	assert_true(has_error(&e, "uid_range \"62000-61000\" is not LOW-HIGH"));
	pol_errors_clear(&e);
	cfg = parse(HEAD "[agent spiffe://example.org/a]\nuid = 70000\nusers = self\n"
			 "services = agent-run\n", &e);
	assert_null(cfg);
	assert_true(has_error(&e, "uid 70000 is outside uid_range 61000-61999"));
	pol_errors_clear(&e);
	cfg = parse(HEAD "[agent spiffe://example.org/a]\naccount = Bad.Name\nusers = self\n"
			 "services = agent-run\n", &e);
	assert_null(cfg);
	assert_true(has_error(&e, "account \"Bad.Name\" is not an account name"));
	pol_errors_clear(&e);
	cfg = parse("[global]\naudience = a\n[service agent-run]\nclass = read\n"
		    "[agent spiffe://example.org/a]\naccount = a\nusers = self\n"
		    "services = agent-run\n", &e);
	assert_null(cfg);
	assert_true(has_error(&e, "account and uid need uid_range"));
	pol_errors_clear(&e);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_collisions(void **state)
{
	struct pol_errors e;
	struct pol_config *cfg = parse(HEAD "[agent spiffe://example.org/a]\naccount = same\n"
					    "users = self\nservices = agent-run\n"
					    "[agent spiffe://example.org/b]\naccount = same\n"
					    "users = self\nservices = agent-run\n"
					    "[agent spiffe://example.org/c]\nuid = 61500\n"
					    "users = self\nservices = agent-run\n"
					    "[agent spiffe://example.org/d]\nuid = 61500\n"
					    "users = self\nservices = agent-run\n"
					    "[agent spiffe://example.org/root]\naccount = root\n"
					    "users = self\nservices = agent-run\n"
					    "[agent spiffe://example.org/u]\nuid = 61777\n"
					    "users = self\nservices = agent-run\n"
					    "[agent spiffe://example.org/g]\naccount = staff\n"
					    "users = self\nservices = agent-run\n"
					    "[agent spiffe://example.org/ok]\n"
					    "users = self\nservices = agent-run\n", &e);
	char pw[] = "/tmp/test_accounts.pw.XXXXXX", gr[] = "/tmp/test_accounts.gr.XXXXXX";
	struct pol_accounts acc;
	char err[256], name[POL_ACCOUNT_NAME_MAX + 1];
	uid_t uid;
	size_t i;

	(void)state;
	assert_non_null(cfg);
	close(mkstemp(pw));
	close(mkstemp(gr));
	write_file(pw, "root:x:0:0:root:/root:/bin/sh\nsomeone:x:61777:100::/:/bin/sh\n");
	write_file(gr, "root:x:0:\nstaff:x:50:\n");
	assert_int_equal(pol_accounts_compute(cfg, true, pw, gr, &acc, err, sizeof(err)), 0);
	assert_int_equal(acc.n, 8);
	for (i = 0; i < acc.n; i++) {
		const char *id = acc.v[i].rule->pattern;

		if (strcmp(id, "spiffe://example.org/ok") == 0) {
			assert_null(acc.v[i].problem);
			continue;
		}
		assert_non_null(acc.v[i].problem);
		if (strstr(id, "/a") || strstr(id, "/b"))
			assert_non_null(strstr(acc.v[i].problem, "its name is also the account"));
		if (strstr(id, "/c") || strstr(id, "/d"))
			assert_non_null(strstr(acc.v[i].problem, "its uid is also the uid"));
	}
	for (i = 0; i < acc.n; i++)
		if (strcmp(acc.v[i].name, "root") == 0)
			assert_string_equal(acc.v[i].problem,
					    "the name root is in /etc/passwd (uid 0)");
	/* pol_agent_account: only config collisions count; a or b has none */
	assert_int_equal(pol_agent_account(cfg, &cfg->agents[0], name, &uid), 1);
	assert_int_equal(pol_agent_account(cfg, &cfg->agents[7], name, &uid), 0);
	assert_string_equal(name, "agent-ok");
	/* "self" is never a user called self */
	assert_false(pol_user_allowed(cfg, &cfg->agents[7], "self"));
	assert_false(pol_user_allowed(cfg, &cfg->agents[7], "root"));
	pol_accounts_clear(&acc);
	/* an unreadable passwd file is an error, not "no collision" */
	assert_int_equal(pol_accounts_compute(cfg, true, "/nonexistent/pw", gr, &acc, err,
					      sizeof(err)), -1);
	unlink(pw);
	unlink(gr);
	pol_config_unref(cfg);
	pol_errors_clear(&e);
}

static void test_no_range(void **state)
{
	struct pol_errors e;
	struct pol_config *cfg = parse("[global]\naudience = a\n[service agent-run]\nclass = read\n"
				       "[agent spiffe://example.org/a]\nusers = self\n"
				       "services = agent-run\n", &e);
	struct pol_accounts acc;
	char err[256], name[POL_ACCOUNT_NAME_MAX + 1];
	uid_t uid;

	(void)state;
	assert_non_null(cfg);
	assert_int_equal(pol_accounts_compute(cfg, true, NULL, NULL, &acc, err, sizeof(err)), 0);
	assert_int_equal(acc.n, 0);
	assert_int_equal(pol_agent_account(cfg, &cfg->agents[0], name, &uid), 1);
	assert_false(pol_user_allowed(cfg, &cfg->agents[0], "agent-a"));
	pol_config_unref(cfg);
	pol_errors_clear(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_derived),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_collisions),
		cmocka_unit_test(test_no_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
