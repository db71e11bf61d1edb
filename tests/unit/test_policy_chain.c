/*
 * test_policy_chain.c - the decision engine (policy/decision.c) over act
 * chains (depth 0/1/2, an actor not allowed, widening attempts, malformed
 * and non-canonical actors), explain and its escaping, and the scenario
 * table tests/data/policy/scenarios.json run through pol_decide. The
 * rules one by one are in test_policy.c.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "policy.h"
#include "tfx_id.h"
#include "tfx_policy.h"

/* 2024-06-10 10:00:00 UTC, a Monday */
#define MON10 TFX_MON10

/* ---- act chains ----------------------------------------------------------------------------- */

static void test_delegation_depth0(void **state)
{
	struct pol_errors e = { 0 };
	struct pol_config *cfg = NULL;
	struct id_identity *id = tfx_policy_id("spiffe://td/orch");
	/* the same configuration with the default max_delegation_depth 0 */
	char *text = strdup(tfx_policy_base);
	char *p = strstr(text, "max_delegation_depth = 2");

	(void)state;
	p[strlen("max_delegation_depth = ")] = '0';
	assert_int_equal(pol_config_parse_text("c", text, strlen(text), &cfg, &e), 0);
	tfx_expect(cfg, id, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "ro", NULL);
	tfx_id_set_act(id, "{\"sub\":\"spiffe://td/a/bot\"}");
	tfx_expect(cfg, id, "agent-read", "u1", NULL, MON10, false, 0, NULL,
		   "act chain of depth 1 exceeds max_delegation_depth 0");
	/* a JSON null act is no act */
	tfx_id_set_act(id, "null");
	tfx_expect(cfg, id, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "ro", NULL);
	pol_config_unref(cfg);
	free(text);
	id_identity_free(id);
}

static void test_delegation_depth1(void **state)
{
	struct id_identity *id = tfx_policy_id("spiffe://td/orch");
	struct pol_decision d;

	tfx_id_set_act(id, "{\"sub\":\"spiffe://td/a/bot\"}");
	assert_true(tfx_decide(*state, id, "sshd", "u1", NULL, MON10, NULL, &d));
	assert_int_equal(d.depth, 1);
	assert_int_equal(d.cls, POL_CLASS_WRITE);
	/* grants: orch {ro rw} ∩ bot {ro rw esc}; session: min(2h, 15m) */
	assert_string_equal(tfx_grant_names(&d), "ro rw");
	assert_int_equal(d.max_session, 900);
	assert_true(tfx_has_reason(&d,
				   "actor 1 spiffe://td/a/bot matches [agent spiffe://td/a/bot]"));
	pol_decision_clear(&d);
	id_identity_free(id);
}

static void test_delegation_depth2(void **state)
{
	struct id_identity *id = tfx_policy_id("spiffe://td/orch");
	struct pol_decision d;

	tfx_id_set_act(id,
		       "{\"sub\":\"spiffe://td/a/bot\",\"act\":{\"sub\":\"spiffe://td/narrow\"}}");
	assert_true(tfx_decide(*state, id, "sshd", "u1", NULL, MON10, NULL, &d));
	assert_int_equal(d.depth, 2);
	/* orch {ro rw} ∩ bot {ro rw esc} ∩ narrow {rw}; session min(2h, 15m, 5m) */
	assert_string_equal(tfx_grant_names(&d), "rw");
	assert_int_equal(d.max_session, 300);
	assert_true(tfx_has_reason(&d, "grant ro not issued: [agent spiffe://td/narrow] of actor 2 "
				   "does not grant it"));
	pol_decision_clear(&d);
	/* depth 3 is over the configured 2 */
	tfx_id_set_act(id, "{\"sub\":\"spiffe://td/a/bot\",\"act\":{\"sub\":\"spiffe://td/narrow\","
		       "\"act\":{\"sub\":\"spiffe://td/ops\"}}}");
	tfx_expect(*state, id, "sshd", "u1", NULL, MON10, false, 0, NULL,
		   "act chain of depth 3 exceeds max_delegation_depth 2");
	id_identity_free(id);
}

static void test_delegation_actor_not_allowed(void **state)
{
	struct id_identity *id = tfx_policy_id("spiffe://td/orch");

	/* no rule for the actor */
	tfx_id_set_act(id, "{\"sub\":\"spiffe://td/nobody\"}");
	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10, false, 0, NULL,
		   "no [agent] rule matches actor 1 spiffe://td/nobody");
	/* a denied actor, deeper in the chain */
	tfx_id_set_act(id,
		       "{\"sub\":\"spiffe://td/a/bot\",\"act\":{\"sub\":\"spiffe://td/a/bad/z\"}}");
	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10, false, 0, NULL,
		   "actor 2 spiffe://td/a/bad/z matches [deny spiffe://td/a/bad/*]");
	/* an actor whose rule does not allow the user */
	tfx_id_set_act(id, "{\"sub\":\"spiffe://td/ops\"}");
	tfx_expect(*state, id, "sshd", "u2", NULL, MON10, false, 0, NULL,
		   "user u2 is not in the users of [agent spiffe://td/orch]");
	id_identity_free(id);
}

static void test_delegation_widening(void **state)
{
	/* a read-only subject handing off to a write/escalate actor */
	struct id_identity *id = tfx_policy_id("spiffe://td/reader");

	tfx_id_set_act(id, "{\"sub\":\"spiffe://td/ops\"}");
	tfx_expect(*state, id, "sshd", "root", NULL, MON10, false, 0, NULL,
		   "service sshd needs class write, above max_class read of [agent "
		   "spiffe://td/reader]");
	/* allowed where both are, with the subject's narrower grants */
	tfx_expect(*state, id, "agent-read", "root", NULL, MON10, true, POL_CLASS_READ, "ro", NULL);
	id_identity_free(id);

	/* a write subject handing off to a read-only actor: narrowed to read */
	id = tfx_policy_id("spiffe://td/orch");
	tfx_id_set_act(id, "{\"sub\":\"spiffe://td/reader\"}");
	tfx_expect(*state, id, "sshd", "u1", NULL, MON10, false, 0, NULL,
		   "service sshd needs class write, above max_class read of [agent "
		   "spiffe://td/reader]");
	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "ro",
		   "grant rw not issued: [agent spiffe://td/reader] of actor 1 does not grant it");
	id_identity_free(id);
}

static void test_delegation_malformed(void **state)
{
	static const char *const bad[] = {
		"\"spiffe://td/a/bot\"", "{}", "{\"sub\":42}", "{\"sub\":\"\"}",
		"{\"sub\":\"spiffe://td/a/bot\",\"act\":[1]}", "{\"sub\":\"x\\u0000y\"}",
		"{\"sub\":\"no-issuer-subject\"}",
	};
	struct id_identity *id = tfx_policy_id("spiffe://td/orch");
	size_t i;

	for (i = 0; i < PA_ARRAY_SIZE(bad); i++) {
		tfx_id_set_act(id, bad[i]);
		tfx_expect(*state, id, "agent-read", "u1", NULL, MON10, false, 0, NULL,
			   "the act chain is refused");
	}
	/* deeper than any configuration allows: refused before the rules */
	tfx_id_set_act(id,
		       "{\"sub\":\"spiffe://td/a/1\",\"act\":{\"sub\":\"spiffe://td/a/2\",\"act\":"
		       "{\"sub\":\"spiffe://td/a/3\",\"act\":{\"sub\":\"spiffe://td/a/4\",\"act\":"
		       "{\"sub\":\"spiffe://td/a/5\",\"act\":{\"sub\":\"spiffe://td/a/6\",\"act\":"
		       "{\"sub\":\"spiffe://td/a/7\",\"act\":{\"sub\":\"spiffe://td/a/8\",\"act\":"
		       "{\"sub\":\"spiffe://td/a/9\"}}}}}}}}}");
	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10, false, 0, NULL,
		   "deeper than pam_agent ever accepts");
	id_identity_free(id);
}

static void test_delegation_oidc_actor(void **state)
{
	struct id_identity *id = tfx_policy_id("spiffe://td/orch");

	/* a non-SPIFFE actor is named ISSUER#SUB with its own iss */
	tfx_id_set_act(id, "{\"sub\":\"runner-1\",\"iss\":\"https://login.example.org\"}");
	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "",
		   "actor 1 https://login.example.org#runner-1 matches [agent "
		   "https://login.example.org#*]");
	id_identity_free(id);
}

/*
 * F8: rules compare ids byte for byte, so an actor written in a
 * non-canonical form would escape an exact [deny] and still match a prefix
 * rule. Every SPIFFE actor must parse as a SPIFFE ID.
 */
static void test_delegation_actor_not_canonical(void **state)
{
	static const char *const forms[] = {
		"spiffe://td/a//bot2", "spiffe://td/a/./bot2", "spiffe://td/a/bot2/.",
		"spiffe://td/a/x/../bot2", "spiffe://td/a/bot2/", "spiffe://TD/a/bot2",
		"spiffe://td/a/bot2?x", "spiffe://td/a/b%6ft2",
	};
	struct id_identity *id = tfx_policy_id("spiffe://td/orch");
	size_t i;

	/* the canonical form is denied by [deny spiffe://td/a/bot2] */
	tfx_id_set_act(id, "{\"sub\":\"spiffe://td/a/bot2\"}");
	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10, false, 0, NULL,
		   "actor 1 spiffe://td/a/bot2 matches [deny spiffe://td/a/bot2]");
	/* and a canonical sibling is allowed by [agent spiffe://td/a/ *] */
	tfx_id_set_act(id, "{\"sub\":\"spiffe://td/a/bot3\"}");
	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "ro", NULL);
	for (i = 0; i < PA_ARRAY_SIZE(forms); i++) {
		char act[256];

		snprintf(act, sizeof(act), "{\"sub\":\"%s\"}", forms[i]);
		tfx_id_set_act(id, act);
		print_message("actor %s\n", forms[i]);
		tfx_expect(*state, id, "agent-read", "u1", NULL, MON10, false, 0, NULL,
			   "is not a canonical SPIFFE ID");
	}
	/* deeper in the chain too */
	tfx_id_set_act(id,
		       "{\"sub\":\"spiffe://td/a/bot3\",\"act\":{\"sub\":\"spiffe://td/a//bot2\"}}");
	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10, false, 0, NULL,
		   "actor 2 spiffe://td/a//bot2 is not a canonical SPIFFE ID");
	/* an OIDC actor whose issuer holds '#' could be read two ways */
	tfx_id_set_act(id, "{\"sub\":\"x\",\"iss\":\"https://login.example.org#admin\"}");
	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10, false, 0, NULL,
		   "an OIDC actor in the act chain has an issuer with '#'");
	id_identity_free(id);
}

/* ---- explain, escaping -------------------------------------------------------------------------- */

static void test_explain(void **state)
{
	struct id_identity *id = tfx_policy_id("spiffe://td/ops");
	struct pol_request r = { id, "sshd", "root", "10.0.0.1", "pts/0", MON10, NULL, NULL };
	struct pol_decision d;
	char *text;

	tfx_id_set(&id->task, "T-9");
	assert_int_equal(pol_decide(*state, &r, &d), 0);
	text = pol_explain(&r, &d);
	assert_non_null(text);
	assert_non_null(strstr(text, "decision:    allow\n"));
	assert_non_null(strstr(text, "agent:       spiffe://td/ops\n"));
	assert_non_null(strstr(text, "task:        T-9\n"));
	assert_non_null(strstr(text, "rhost:       10.0.0.1\n"));
	assert_non_null(strstr(text, "time:        2024-06-10T10:00:00Z (1718013600)\n"));
	assert_non_null(strstr(text, "class:       write\n"));
	assert_non_null(strstr(text, "max_session: 1800s\n"));
	assert_non_null(strstr(text, "grants:      ro rw\n"));
	assert_non_null(strstr(text, "  - agent spiffe://td/ops matches [agent spiffe://td/ops]"));
	free(text);
	pol_decision_clear(&d);

	r.service = "nope";
	assert_int_equal(pol_decide(*state, &r, &d), 0);
	text = pol_explain(&r, &d);
	assert_non_null(strstr(text, "decision:    deny\n"));
	assert_non_null(strstr(text, "grants:      (none)\n"));
	assert_null(strstr(text, "max_session"));
	free(text);
	pol_decision_clear(&d);
	id_identity_free(id);
}

static void test_reasons_escaped(void **state)
{
	struct id_identity *id = tfx_policy_id("spiffe://td/a/bot\n\"injected\x1b[31m");
	struct pol_decision d;
	size_t i;

	assert_false(tfx_decide(*state, id, "agent-read", "u1", "h\r\nx", MON10, NULL, &d));
	for (i = 0; i < d.n_reasons; i++) {
		const char *c;

		for (c = d.reasons[i]; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				fail_msg("control byte in reason: %s", d.reasons[i]);
		assert_null(strstr(d.reasons[i], "\"injected"));
	}
	assert_true(tfx_has_reason(&d,
				   "agent spiffe://td/a/bot\\x0a\\x22injected\\x1b[31m has bytes "
				   "no agent id contains"));
	pol_decision_clear(&d);
	/* the same for an actor, and a blank inside an id */
	id_identity_free(id);
	id = tfx_policy_id("spiffe://td/orch");
	tfx_id_set_act(id, "{\"sub\":\"spiffe://td/a/bot x\"}");
	assert_false(tfx_decide(*state, id, "agent-read", "u1", NULL, MON10, NULL, &d));
	/* a SPIFFE actor is refused by the SPIFFE ID parser before the rules */
	assert_true(tfx_has_reason(&d, "actor 1 spiffe://td/a/bot x is not a canonical SPIFFE ID"));
	pol_decision_clear(&d);
	id_identity_free(id);
}

/* ---- the scenario table ------------------------------------------------------------------------ */

/* Copies the regular files of src (and of its subdirectories) to dst, 0644. */
static void copy_tree(const char *src, const char *dst)
{
	DIR *d = opendir(src);
	struct dirent *de;

	if (d == NULL)
		fail_msg("cannot open %s (set PA_TEST_DATA to the tests/data directory)", src);
	while ((de = readdir(d)) != NULL) {
		char s[1024], t[1024];
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		snprintf(s, sizeof(s), "%s/%s", src, de->d_name);
		snprintf(t, sizeof(t), "%s/%s", dst, de->d_name);
		assert_int_equal(stat(s, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			assert_int_equal(mkdir(t, 0755), 0);
			copy_tree(s, t);
		} else if (S_ISREG(st.st_mode)) {
			char buf[8192];
			ssize_t n;
			int in = open(s, O_RDONLY), out = open(t, O_WRONLY | O_CREAT | O_EXCL,
							       0644);

			assert_true(in >= 0 && out >= 0);
			while ((n = read(in, buf, sizeof(buf))) > 0)
				assert_int_equal(write(out, buf, (size_t)n), n);
			close(in);
			close(out);
		}
	}
	closedir(d);
}

/* The identity a scenario describes with JWT claims. */
static struct id_identity *scenario_identity(const json_t *claims)
{
	const char *sub = json_string_value(json_object_get(claims, "sub"));
	const char *iss = json_string_value(json_object_get(claims, "iss"));
	struct id_identity *id;
	char *agent = NULL;

	assert_non_null(sub);
	if (strncmp(sub, "spiffe://", 9) == 0) {
		id = tfx_policy_id(sub);
		id->trust_domain = strndup(sub + 9, strcspn(sub + 9, "/"));
	} else {
		assert_non_null(iss);
		assert_true(asprintf(&agent, "%s#%s", iss, sub) > 0);
		id = tfx_policy_id(agent);
		free(agent);
	}
	tfx_id_set(&id->subject, sub);
	tfx_id_set(&id->issuer, iss);
	tfx_id_set(&id->task, json_string_value(json_object_get(claims, "task")));
	tfx_id_set(&id->scope, json_string_value(json_object_get(claims, "scope")));
	id->iat = json_integer_value(json_object_get(claims, "iat"));
	id->exp = json_integer_value(json_object_get(claims, "exp"));
	id->act = json_incref(json_object_get(claims, "act"));
	id->claims = json_deep_copy(claims);
	return id;
}

/* The task ledger's effect (docs/tasks.md): the scenario's "ledger" summary, or an empty one. */
static void scenario_task(const json_t *s, const struct pol_config *cfg,
			  const struct pol_request *r, struct pol_decision *d)
{
	const json_t *ledger = json_object_get(s, "ledger");
	char *text = ledger != NULL ? json_dumps(ledger, 0) : NULL;
	struct pol_task_state st;
	char err[256];

	memset(&st, 0, sizeof(st));
	if (text != NULL)
		assert_int_equal(pol_task_state_parse(text, &st, err, sizeof(err)), 0);
	free(text);
	assert_int_equal(pol_task_apply(cfg, r, &st, d), 0);
}

/* Runs one scenario; returns NULL when it matches, else what differs (heap). */
static char *run_scenario(const char *dir, const json_t *s)
{
	const char *cfgname = json_string_value(json_object_get(s, "config"));
	const char *dropins = json_string_value(json_object_get(s, "dropins"));
	const json_t *expect_ = json_object_get(s, "expect");
	const char *want = json_string_value(json_object_get(expect_, "decision"));
	const char *want_cls = json_string_value(json_object_get(expect_, "class"));
	const char *want_reason = json_string_value(json_object_get(expect_, "reason"));
	const json_t *want_grants = json_object_get(expect_, "grants");
	const json_t *want_max = json_object_get(expect_, "max_session");
	char main_path[1024], dropin_path[1024], *problem = NULL;
	struct pol_errors e = { 0 };
	struct pol_config *cfg = NULL;
	struct id_identity *id;
	struct pol_decision d;
	struct pol_request r;
	size_t i;

	snprintf(main_path, sizeof(main_path), "%s/%s", dir, cfgname);
	snprintf(dropin_path, sizeof(dropin_path), "%s/%s", dir, dropins ? dropins : "none.d");
	if (pol_config_load(main_path, dropin_path, &cfg, &e) != 0) {
		assert_true(asprintf(&problem, "config refused: %s", e.msgs[0]) > 0);
		pol_errors_clear(&e);
		return problem;
	}
	id = scenario_identity(json_object_get(s, "identity"));
	memset(&r, 0, sizeof(r));
	r.id = id;
	r.service = json_string_value(json_object_get(s, "service"));
	r.user = json_string_value(json_object_get(s, "user"));
	r.rhost = json_string_value(json_object_get(s, "rhost"));
	r.now = json_integer_value(json_object_get(s, "now"));
	assert_int_equal(pol_decide(cfg, &r, &d), 0);
	scenario_task(s, cfg, &r, &d);
	if (strcmp(want, d.allow ? "allow" : "deny") != 0) {
		assert_true(asprintf(&problem, "got %s", d.allow ? "allow" : "deny") > 0);
	} else if (d.allow && want_cls != NULL && strcmp(want_cls, pol_class_name(d.cls)) != 0) {
		assert_true(asprintf(&problem, "class %s", pol_class_name(d.cls)) > 0);
	} else if (d.allow && want_max != NULL && json_integer_value(want_max) != d.max_session) {
		assert_true(asprintf(&problem, "max_session %lld", (long long)d.max_session) > 0);
	} else if (d.allow && want_grants != NULL) {
		bool same = json_array_size(want_grants) == d.n_grants;

		for (i = 0; same && i < d.n_grants; i++)
			same = strcmp(json_string_value(json_array_get(want_grants, i)),
				      d.grants[i].name) == 0;
		if (!same)
			assert_true(asprintf(&problem, "grants \"%s\"", tfx_grant_names(&d)) > 0);
	}
	if (problem == NULL && want_reason != NULL) {
		bool found = false;

		for (i = 0; i < d.n_reasons && !found; i++)
			found = strstr(d.reasons[i], want_reason) != NULL;
		if (!found)
			assert_true(asprintf(&problem, "no reason contains \"%s\"",
					     want_reason) > 0);
	}
	if (problem != NULL) {
		char *text = pol_explain(&r, &d), *both = NULL;

		assert_true(asprintf(&both, "%s\n%s", problem, text) > 0);
		free(text);
		free(problem);
		problem = both;
	}
	pol_decision_clear(&d);
	id_identity_free(id);
	pol_config_unref(cfg);
	return problem;
}

static void test_scenarios(void **state)
{
	const char *data = getenv("PA_TEST_DATA");
	char src[1024], table[1100], dir[TFX_DIR_MAX];
	json_error_t jerr;
	json_t *doc, *list;
	size_t i, failed = 0;

	(void)state;
	snprintf(src, sizeof(src), "%s/policy", data ? data : "tests/data");
	snprintf(table, sizeof(table), "%s/scenarios.json", src);
	doc = json_load_file(table, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL)
		fail_msg("%s:%d: %s", table, jerr.line, jerr.text);
	list = json_object_get(doc, "scenarios");
	assert_true(json_array_size(list) >= 30);
	/* the fixtures go through the same file checks as /etc: copy them 0644 */
	assert_int_equal(tfx_dir_new(dir, "policy"), 0);
	copy_tree(src, dir);
	for (i = 0; i < json_array_size(list); i++) {
		const json_t *s = json_array_get(list, i);
		char *problem = run_scenario(dir, s);

		if (problem != NULL) {
			print_error("scenario %zu \"%s\": %s\n", i,
				    json_string_value(json_object_get(s, "name")), problem);
			free(problem);
			failed++;
		}
	}
	print_message("%zu scenarios, %zu failed\n", json_array_size(list), failed);
	tfx_dir_remove(dir);
	json_decref(doc);
	assert_int_equal(failed, 0);
}

/*
 * pol_grant_equal compares every field of struct pol_grant but where. The
 * assertion below stops this file compiling when a field is added (every
 * field before where moves it, and one after it grows the struct): compare
 * the new field in pol_grant_equal, add its case here, then update the
 * numbers.
 */
_Static_assert(offsetof(struct pol_grant, where) == 64 &&
		       sizeof(struct pol_grant) == 64 + sizeof(struct pol_where),
	       "struct pol_grant changed: compare the new field in pol_grant_equal "
	       "(policy/decision.c) and add it to test_grant_equal");

static void test_grant_equal(void **state)
{
	char name[] = "g", aud[] = "https://a", scope[] = "s", cmd[] = "/bin/c", rev[] = "/bin/r",
	     path[] = "/etc/x", other[] = "other";
	struct pol_grant a = {
		.name = name, .cls = POL_CLASS_READ, .source = POL_SOURCE_EXEC, .audience = aud,
		.scope = scope, .command = cmd, .revoke = rev, .path = path, .ttl = 60,
	};
	struct pol_grant b;
	int field;

	(void)state;
	b = a;
	b.where.line = 99; /* where is not what is granted */
	assert_true(pol_grant_equal(&a, &b));
	for (field = 0; field < 9; field++) {
		b = a;
		switch (field) {
		case 0: b.name = other; break;
		case 1: b.cls = POL_CLASS_WRITE; break;
		case 2: b.source = POL_SOURCE_FILE; break;
		case 3: b.audience = NULL; break;
		case 4: b.scope = other; break;
		case 5: b.command = other; break;
		case 6: b.revoke = NULL; break;
		case 7: b.path = other; break;
		case 8: b.ttl = 61; break;
		}
		if (pol_grant_equal(&a, &b) || pol_grant_equal(&b, &a))
			fail_msg("field %d changed, yet the grants compare equal", field);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delegation_depth0),
		cmocka_unit_test(test_delegation_depth1),
		cmocka_unit_test(test_delegation_depth2),
		cmocka_unit_test(test_delegation_actor_not_allowed),
		cmocka_unit_test(test_delegation_actor_not_canonical),
		cmocka_unit_test(test_delegation_widening),
		cmocka_unit_test(test_delegation_malformed),
		cmocka_unit_test(test_delegation_oidc_actor),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_reasons_escaped),
		cmocka_unit_test(test_scenarios),
		cmocka_unit_test(test_grant_equal),
	};

	umask(022);
	return cmocka_run_group_tests(tests, tfx_policy_setup, tfx_policy_teardown);
}
