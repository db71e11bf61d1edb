/*
 * test_policy.c - the decision engine (policy/decision.c): each
 * rule of docs/configuration.md with its allow and its deny side, act chains
 * (depth 0/1/2, an actor not allowed, widening attempts), escalation,
 * time windows with a fixed clock, grant filtering, explain; and the
 * scenario table tests/data/policy/scenarios.json run through pol_decide.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
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

/* 2024-06-10 10:00:00 UTC, a Monday */
#define MON10 1718013600
#define HOUR 3600
#define DAY_S (24 * HOUR)
/* executable hashes of the runtime rules */
#define H1 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define H2 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HP "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

static const char base_conf[] =
	"[global]\n"
	"audience = spiffe://td/host/h1\n"
	"escalate_max_age = 60s\n"
	"max_delegation_depth = 2\n"
	"[service agent-read]\nclass = read\n"
	"[service sshd]\nclass = write\n"
	"[service sudo]\nclass = escalate\n"
	"[service orphan]\nclass = read\n"
	"[agent spiffe://td/a/bot]\n"
	"users = u1 u2\nservices = agent-read sshd sudo\nmax_class = write\n"
	"max_session = 15m\ngrants = ro rw esc\n"
	"[agent spiffe://td/a/*]\n"
	"users = u1\nservices = agent-read\ngrants = ro\n"
	"[agent spiffe://td/a/deep/*]\n"
	"users = u1\nservices = agent-read sshd\nmax_class = write\ngrants = ro rw\n"
	"[agent spiffe://td/ops]\n"
	"users = root u1\nservices = agent-read sshd sudo\nmax_class = escalate\n"
	"max_session = 30m\ngrants = ro rw esc\n"
	"[agent spiffe://td/runner]\n"
	"users = u1\nservices = sshd sudo\nmax_class = escalate\ngrants = ro\n"
	"run_as = sudo:root sshd:u2\n"
	"[agent spiffe://td/task]\n"
	"users = u1\nservices = agent-read\nrequire_task = yes\n"
	"[agent spiffe://td/remote]\n"
	"users = u1\nservices = agent-read\nrhosts = bastion.example.org 192.0.2.1\n"
	"[agent spiffe://td/localonly]\n"
	"users = u1\nservices = agent-read\nrhosts = @local\n"
	"[agent spiffe://td/office]\n"
	"users = u1\nservices = agent-read\nhours = Mon-Fri 08:00-18:00, Sat 10:00-12:00\n"
	"[agent spiffe://td/night]\n"
	"users = u1\nservices = agent-read\nhours = Fri-Mon 22:00-24:00\n"
	"[agent spiffe://td/rt]\n"
	"users = u1\nservices = agent-read\nruntime.unit = bot.service\n"
	"runtime.exe = /usr/bin/bot\nruntime.uid = 1001\n"
	"[agent spiffe://td/rthash]\n"
	"users = u1\nservices = agent-read\nruntime.unit = bot-*.service\n"
	"runtime.exe_sha256 = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n  BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB\nruntime.parent_exe_sha256 = cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\n"
	"[agent spiffe://td/rtdel]\n"
	"users = u1\nservices = agent-read\nruntime.exe_sha256 = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
	"runtime.allow_deleted_exe = yes\n"
	"[agent spiffe://td/reader]\n"
	"users = u1 root\nservices = agent-read sshd\nmax_class = read\ngrants = ro\n"
	"[agent spiffe://td/orch]\n"
	"users = u1 root\nservices = agent-read sshd\nmax_class = write\nmax_session = 2h\n"
	"grants = ro rw\n"
	"[agent spiffe://td/narrow]\n"
	"users = u1\nservices = agent-read sshd\nmax_class = write\nmax_session = 5m\n"
	"grants = rw\n"
	"[agent https://login.example.org#*]\n"
	"users = u1\nservices = agent-read\n"
	"[agent https://login.example.org#admin]\n"
	"users = root\nservices = agent-read\n"
	"[deny spiffe://td/a/bad/*]\nreason = bad agents\n"
	"[deny spiffe://td/a/bot2]\nreason = retired\n"
	"[grant ro]\nclass = read\nsource = mint\naudience = https://x\nttl = 10m\n"
	"[grant rw]\nclass = write\nsource = exec\ncommand = /bin/broker rw\nttl = 5m\n"
	"[grant esc]\nclass = escalate\nsource = file\npath = /etc/secret\nttl = 1m\n";

/* ---- helpers ---------------------------------------------------------------------- */

/* A hand-made verified identity (what the identity engine would return). */
static struct id_identity *mkid(const char *agent_id)
{
	struct id_identity *id = calloc(1, sizeof(*id));

	assert_non_null(id);
	id->kind = strncmp(agent_id, "spiffe://", 9) == 0 ? ID_KIND_SPIFFE : ID_KIND_OIDC;
	id->agent_id = strdup(agent_id);
	id->subject = strdup(agent_id);
	id->iat = MON10 - 10;
	id->exp = MON10 + 290;
	return id;
}

static void set_str(char **field, const char *v)
{
	free(*field);
	*field = v ? strdup(v) : NULL;
}

/* Sets the act claim from JSON text. */
static void set_act(struct id_identity *id, const char *json)
{
	json_error_t jerr;

	json_decref(id->act);
	id->act = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	assert_non_null(id->act);
}

/* Frees a hand-made identity (the identity engine's id_identity_free). */
static void idfree(struct id_identity *id)
{
	if (id == NULL)
		return;
	free(id->agent_id);
	free(id->issuer);
	free(id->subject);
	free(id->trust_domain);
	free(id->jti);
	free(id->task);
	free(id->scope);
	free(id->kid);
	json_decref(id->act);
	json_decref(id->claims);
	free(id);
}

static int setup_cfg(void **state)
{
	struct pol_errors e = { 0 };
	struct pol_config *cfg = NULL;
	size_t i;

	if (pol_config_parse_text("base.conf", base_conf, strlen(base_conf), &cfg, &e) != 0) {
		for (i = 0; i < e.n; i++)
			fprintf(stderr, "%s\n", e.msgs[i]);
		pol_errors_clear(&e);
		return -1;
	}
	*state = cfg;
	return 0;
}

static int teardown_cfg(void **state)
{
	pol_config_unref(*state);
	return 0;
}

/* Decides for id and returns allow; *d holds the decision. */
static bool decide(const struct pol_config *cfg, const struct id_identity *id,
		   const char *service, const char *user, const char *rhost, int64_t now,
		   const struct pol_runtime *rt, struct pol_decision *d)
{
	struct pol_request r = { id, service, user, rhost, "pts/1", now, rt, NULL };

	assert_int_equal(pol_decide(cfg, &r, d), 0);
	if (d->allow) {
		assert_int_not_equal(d->cls, POL_CLASS_NONE);
		assert_true(d->max_session > 0);
	} else {
		assert_int_equal(d->n_grants, 0);
		assert_int_equal(d->max_session, 0);
	}
	assert_true(d->n_reasons > 0);
	return d->allow;
}

/* Whether some reason of d contains text. */
static bool has_reason(const struct pol_decision *d, const char *text)
{
	size_t i;

	for (i = 0; i < d->n_reasons; i++)
		if (strstr(d->reasons[i], text) != NULL)
			return true;
	print_message("no reason contains \"%s\"; reasons:\n", text);
	for (i = 0; i < d->n_reasons; i++)
		print_message("  - %s\n", d->reasons[i]);
	return false;
}

/* The grant names of d joined by spaces (static buffer). */
static const char *grant_names(const struct pol_decision *d)
{
	static char buf[256];
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < d->n_grants; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", i ? " " : "",
				      d->grants[i].name);
	return buf;
}

/* One whole decision: allow?, and when allowed, class and grants. */
static void expect(const struct pol_config *cfg, const struct id_identity *id,
		   const char *service, const char *user, const char *rhost, int64_t now,
		   bool allow, enum pol_class cls, const char *grants, const char *why)
{
	struct pol_decision d;

	if (decide(cfg, id, service, user, rhost, now, NULL, &d) != allow) {
		size_t i;

		for (i = 0; i < d.n_reasons; i++)
			print_message("  - %s\n", d.reasons[i]);
		fail_msg("%s on %s as %s: expected %s", id ? id->agent_id : "(none)", service,
			 user, allow ? "allow" : "deny");
	}
	if (allow) {
		assert_int_equal(d.cls, cls);
		assert_string_equal(grant_names(&d), grants);
	}
	if (why != NULL)
		assert_true(has_reason(&d, why));
	pol_decision_clear(&d);
}

/* ---- default deny, deny rules, rule selection ------------------------------------- */

static void test_no_config_denies(void **state)
{
	struct id_identity *id = mkid("spiffe://td/a/bot");
	struct pol_decision d;

	(void)state;
	assert_false(decide(NULL, id, "agent-read", "u1", NULL, MON10, NULL, &d));
	assert_true(has_reason(&d, "configuration was refused"));
	pol_decision_clear(&d);
	idfree(id);
}

static void test_no_identity_denies(void **state)
{
	struct pol_decision d;

	assert_false(decide(*state, NULL, "agent-read", "u1", NULL, MON10, NULL, &d));
	assert_true(has_reason(&d, "no verified agent identity"));
	pol_decision_clear(&d);
}

static void test_default_deny(void **state)
{
	struct id_identity *id = mkid("spiffe://td/unknown");
	struct id_identity *ok = mkid("spiffe://td/a/bot");

	expect(*state, id, "agent-read", "u1", NULL, MON10, false, 0, NULL,
	       "no [agent] rule matches agent spiffe://td/unknown");
	expect(*state, ok, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "ro", NULL);
	idfree(id);
	idfree(ok);
}

static void test_deny_rule_wins(void **state)
{
	/* a/bad/x would match the allowing a/... prefix rule */
	struct id_identity *bad = mkid("spiffe://td/a/bad/x");
	struct id_identity *retired = mkid("spiffe://td/a/bot2");
	struct id_identity *good = mkid("spiffe://td/a/good");

	expect(*state, bad, "agent-read", "u1", NULL, MON10, false, 0, NULL,
	       "agent spiffe://td/a/bad/x matches [deny spiffe://td/a/bad/*] (base.conf:");
	assert_true(pol_config_match_agent(*state, "spiffe://td/a/bad/x") != NULL);
	expect(*state, retired, "agent-read", "u1", NULL, MON10, false, 0, NULL, ": retired");
	expect(*state, good, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "ro",
	       "matches [agent spiffe://td/a/*]");
	idfree(bad);
	idfree(retired);
	idfree(good);
}

static void test_exact_beats_prefix(void **state)
{
	/* the exact rule allows sshd; the a/... prefix rule would not */
	struct id_identity *bot = mkid("spiffe://td/a/bot");
	struct id_identity *other = mkid("spiffe://td/a/other");

	expect(*state, bot, "sshd", "u1", NULL, MON10, true, POL_CLASS_WRITE, "ro rw",
	       "matches [agent spiffe://td/a/bot]");
	expect(*state, other, "sshd", "u1", NULL, MON10, false, 0, NULL,
	       "service sshd is not in the services of [agent spiffe://td/a/*]");
	idfree(bot);
	idfree(other);
}

static void test_longest_prefix_wins(void **state)
{
	struct id_identity *deep = mkid("spiffe://td/a/deep/x/y");
	struct id_identity *shallow = mkid("spiffe://td/a/deepX");
	struct pol_decision d;

	expect(*state, deep, "sshd", "u1", NULL, MON10, true, POL_CLASS_WRITE, "ro rw",
	       "matches [agent spiffe://td/a/deep/*]");
	assert_true(decide(*state, shallow, "agent-read", "u1", NULL, MON10, NULL, &d));
	assert_string_equal(d.rule, "spiffe://td/a/*");
	pol_decision_clear(&d);
	idfree(deep);
	idfree(shallow);
}

static void test_prefix_boundary(void **state)
{
	static const char *const no[] = {
		"spiffe://td/aX", "spiffe://td/a", "spiffe://td/a/", "spiffe://td/ab/c",
		"spiffe://tdX/a/b", "spiffe://td/A/b",
	};
	size_t i;

	assert_non_null(pol_config_match_agent(*state, "spiffe://td/a/b"));
	assert_non_null(pol_config_match_agent(*state, "spiffe://td/a/b/c/d"));
	for (i = 0; i < PA_ARRAY_SIZE(no); i++)
		if (pol_config_match_agent(*state, no[i]) != NULL)
			fail_msg("%s matched a rule", no[i]);
}

static void test_oidc_rules(void **state)
{
	struct id_identity *runner = mkid("https://login.example.org#runner-1");
	struct id_identity *admin = mkid("https://login.example.org#admin");
	struct id_identity *other = mkid("https://login.example.org.evil#runner-1");

	expect(*state, runner, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "",
	       "matches [agent https://login.example.org#*]");
	/* the exact ISSUER#SUB rule beats ISSUER#* */
	expect(*state, admin, "agent-read", "u1", NULL, MON10, false, 0, NULL,
	       "user u1 is not in the users of [agent https://login.example.org#admin]");
	expect(*state, admin, "agent-read", "root", NULL, MON10, true, POL_CLASS_READ, "", NULL);
	expect(*state, other, "agent-read", "u1", NULL, MON10, false, 0, NULL, "no [agent] rule");
	idfree(runner);
	idfree(admin);
	idfree(other);
}

/* ---- service, class, scope ---------------------------------------------------------- */

static void test_service_listed(void **state)
{
	struct id_identity *id = mkid("spiffe://td/a/other");

	expect(*state, id, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "ro", NULL);
	/* configured service, not listed in the rule */
	expect(*state, id, "orphan", "u1", NULL, MON10, false, 0, NULL,
	       "service orphan is not in the services of [agent spiffe://td/a/*]");
	idfree(id);
}

static void test_service_unknown(void **state)
{
	struct id_identity *id = mkid("spiffe://td/a/bot");

	expect(*state, id, "login\n", "u1", NULL, MON10, false, 0, NULL,
	       "service login\\x0a has no [service] section");
	expect(*state, id, NULL, "u1", NULL, MON10, false, 0, NULL,
	       "service (none) has no [service] section");
	idfree(id);
}

static void test_max_class(void **state)
{
	struct id_identity *bot = mkid("spiffe://td/a/bot");
	struct id_identity *reader = mkid("spiffe://td/reader");

	/* bot: max_class write, listed for sudo */
	expect(*state, bot, "sshd", "u1", NULL, MON10, true, POL_CLASS_WRITE, "ro rw", NULL);
	expect(*state, bot, "sudo", "u1", NULL, MON10, false, 0, NULL,
	       "service sudo needs class escalate, above max_class write of [agent spiffe://td/a/bot]");
	/* reader: sshd listed, but max_class read */
	expect(*state, reader, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "ro", NULL);
	expect(*state, reader, "sshd", "u1", NULL, MON10, false, 0, NULL,
	       "service sshd needs class write, above max_class read");
	idfree(bot);
	idfree(reader);
}

static void test_scope_ceiling(void **state)
{
	struct id_identity *id = mkid("spiffe://td/a/bot");

	set_str(&id->scope, "tickets:read read");
	expect(*state, id, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "ro",
	       "the token scope allows up to read");
	expect(*state, id, "sshd", "u1", NULL, MON10, false, 0, NULL,
	       "service sshd needs class write; the token scope allows up to read");
	set_str(&id->scope, "read write");
	expect(*state, id, "sshd", "u1", NULL, MON10, true, POL_CLASS_WRITE, "ro rw", NULL);
	/* the highest named class counts, in any order */
	set_str(&id->scope, "write  read");
	expect(*state, id, "sshd", "u1", NULL, MON10, true, POL_CLASS_WRITE, "ro rw", NULL);
	/* a scope naming no class allows nothing, even read */
	set_str(&id->scope, "tickets:read Read writes");
	expect(*state, id, "agent-read", "u1", NULL, MON10, false, 0, NULL,
	       "the token scope names none of read, write, escalate: nothing is allowed");
	set_str(&id->scope, "");
	expect(*state, id, "agent-read", "u1", NULL, MON10, false, 0, NULL, "names none");
	/* no scope claim: only max_class limits */
	set_str(&id->scope, NULL);
	expect(*state, id, "sshd", "u1", NULL, MON10, true, POL_CLASS_WRITE, "ro rw", NULL);
	/* the scope never raises above max_class */
	set_str(&id->scope, "escalate");
	expect(*state, id, "sudo", "u1", NULL, MON10, false, 0, NULL, "above max_class write");
	idfree(id);
}

/* ---- user, rhost, time, task, runtime ------------------------------------------------ */

static void test_users(void **state)
{
	struct id_identity *id = mkid("spiffe://td/a/bot");

	expect(*state, id, "agent-read", "u2", NULL, MON10, true, POL_CLASS_READ, "ro", NULL);
	expect(*state, id, "agent-read", "root", NULL, MON10, false, 0, NULL,
	       "user root is not in the users of [agent spiffe://td/a/bot]");
	expect(*state, id, "agent-read", NULL, NULL, MON10, false, 0, NULL,
	       "user (none) is not in the users");
	/* exact, case-sensitive */
	expect(*state, id, "agent-read", "U1", NULL, MON10, false, 0, NULL, "user U1");
	idfree(id);
}

static void test_rhosts(void **state)
{
	struct id_identity *remote = mkid("spiffe://td/remote");
	struct id_identity *local = mkid("spiffe://td/localonly");
	struct id_identity *any = mkid("spiffe://td/a/bot");

	expect(*state, remote, "agent-read", "u1", "bastion.example.org", MON10, true,
	       POL_CLASS_READ, "", NULL);
	expect(*state, remote, "agent-read", "u1", "Bastion.Example.ORG", MON10, true,
	       POL_CLASS_READ, "", NULL);
	expect(*state, remote, "agent-read", "u1", "192.0.2.1", MON10, true, POL_CLASS_READ, "",
	       NULL);
	expect(*state, remote, "agent-read", "u1", "192.0.2.10", MON10, false, 0, NULL,
	       "remote host 192.0.2.10 is not in the rhosts of [agent spiffe://td/remote]");
	expect(*state, remote, "agent-read", "u1", "bastion.example.org.evil", MON10, false, 0,
	       NULL, "remote host");
	/* listed hosts only: a local request is not one of them */
	expect(*state, remote, "agent-read", "u1", NULL, MON10, false, 0, NULL,
	       "remote host (local) is not in the rhosts");
	/* @local: only requests without PAM_RHOST */
	expect(*state, local, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "", NULL);
	expect(*state, local, "agent-read", "u1", "", MON10, true, POL_CLASS_READ, "", NULL);
	expect(*state, local, "agent-read", "u1", "10.0.0.1", MON10, false, 0, NULL,
	       "remote host 10.0.0.1");
	/* no rhosts key: any host, local or remote */
	expect(*state, any, "agent-read", "u1", "anywhere.example", MON10, true, POL_CLASS_READ,
	       "ro", NULL);
	expect(*state, any, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "ro", NULL);
	idfree(remote);
	idfree(local);
	idfree(any);
}

static void test_hours(void **state)
{
	struct id_identity *id = mkid("spiffe://td/office");

	/* Mon 10:00, Mon 08:00 (start, inclusive) */
	expect(*state, id, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "", NULL);
	expect(*state, id, "agent-read", "u1", NULL, MON10 - 2 * HOUR, true, POL_CLASS_READ, "",
	       NULL);
	/* Mon 07:59 and Mon 18:00 (end, exclusive) */
	expect(*state, id, "agent-read", "u1", NULL, MON10 - 2 * HOUR - 60, false, 0, NULL,
	       "Mon 07:59 UTC is outside the hours of [agent spiffe://td/office]");
	expect(*state, id, "agent-read", "u1", NULL, MON10 + 8 * HOUR, false, 0, NULL,
	       "Mon 18:00 UTC");
	/* Fri 17:59 yes; Sat 11:00 yes (second window); Sat 12:00 and Sun 11:00 no */
	expect(*state, id, "agent-read", "u1", NULL, MON10 + 4 * DAY_S + 8 * HOUR - 60, true,
	       POL_CLASS_READ, "", NULL);
	expect(*state, id, "agent-read", "u1", NULL, MON10 + 5 * DAY_S + HOUR, true,
	       POL_CLASS_READ, "", NULL);
	expect(*state, id, "agent-read", "u1", NULL, MON10 + 5 * DAY_S + 2 * HOUR, false, 0, NULL,
	       "Sat 12:00 UTC");
	expect(*state, id, "agent-read", "u1", NULL, MON10 + 6 * DAY_S + HOUR, false, 0, NULL,
	       "Sun 11:00 UTC");
	idfree(id);
}

static void test_hours_wrapping_days(void **state)
{
	struct id_identity *id = mkid("spiffe://td/night");

	/* Fri-Mon 22:00-24:00: Sun 23:30 and Mon 22:00 yes; Tue 23:00 and Mon 21:59 no */
	expect(*state, id, "agent-read", "u1", NULL, MON10 + 6 * DAY_S + 13 * HOUR + 1800, true,
	       POL_CLASS_READ, "", NULL);
	expect(*state, id, "agent-read", "u1", NULL, MON10 + 12 * HOUR, true, POL_CLASS_READ, "",
	       NULL);
	expect(*state, id, "agent-read", "u1", NULL, MON10 + DAY_S + 13 * HOUR, false, 0, NULL,
	       "Tue 23:00 UTC");
	expect(*state, id, "agent-read", "u1", NULL, MON10 + 12 * HOUR - 60, false, 0, NULL,
	       "Mon 21:59 UTC");
	idfree(id);
}

static void test_require_task(void **state)
{
	struct id_identity *id = mkid("spiffe://td/task");

	expect(*state, id, "agent-read", "u1", NULL, MON10, false, 0, NULL,
	       "[agent spiffe://td/task] requires a task claim; the token has none");
	set_str(&id->task, "");
	expect(*state, id, "agent-read", "u1", NULL, MON10, false, 0, NULL, "requires a task");
	set_str(&id->task, "T-42");
	expect(*state, id, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "", NULL);
	idfree(id);
}

static void test_runtime(void **state)
{
	struct id_identity *id = mkid("spiffe://td/rt");
	struct pol_runtime rt = {
		.unit = "bot.service", .exe = "/usr/bin/bot", .has_uid = true, .uid = 1001
	};
	struct pol_decision d;

	assert_true(decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	pol_decision_clear(&d);
	assert_false(decide(*state, id, "agent-read", "u1", NULL, MON10, NULL, &d));
	assert_true(has_reason(&d, "requires runtime properties; the caller was not attested"));
	pol_decision_clear(&d);
	rt.unit = "evil.service";
	assert_false(decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	assert_true(has_reason(&d, "the caller runs in unit evil.service; [agent spiffe://td/rt] "
			       "requires runtime.unit bot.service"));
	pol_decision_clear(&d);
	rt.unit = "bot.service";
	rt.exe = "/tmp/bot";
	assert_false(decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	assert_true(has_reason(&d, "requires runtime.exe /usr/bin/bot"));
	pol_decision_clear(&d);
	rt.exe = "/usr/bin/bot";
	rt.uid = 0;
	assert_false(decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	assert_true(has_reason(&d, "the caller runs as uid 0; [agent spiffe://td/rt] requires "
			       "runtime.uid 1001"));
	pol_decision_clear(&d);
	rt.has_uid = false;
	assert_false(decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	assert_true(has_reason(&d, "the caller's uid is unknown"));
	pol_decision_clear(&d);
	rt.has_uid = true;
	rt.uid = 1001;
	rt.absent = "a remote login from 192.0.2.7: there is no local caller to attest";
	assert_false(decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	assert_true(has_reason(&d, "[agent spiffe://td/rt] requires runtime properties; a remote "
			       "login from 192.0.2.7: there is no local caller to attest"));
	pol_decision_clear(&d);
	idfree(id);
}

/* runtime.exe_sha256 (a list, any case), parent_exe_sha256, unit globs, deleted, mutable */
static void test_runtime_hashes(void **state)
{
	struct id_identity *id = mkid("spiffe://td/rthash");
	struct pol_runtime rt = {
		.subject = "caller", .unit = "bot-7.service", .exe = "/opt/bot",
		.exe_sha256 = H2, .parent_exe_sha256 = HP,
	};
	struct pol_decision d;

	assert_true(decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	assert_true(has_reason(&d, "the caller matches the runtime.* of [agent spiffe://td/rthash]"));
	pol_decision_clear(&d);
	rt.exe_sha256 = H1;
	assert_true(decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	pol_decision_clear(&d);
	rt.exe_sha256 = HP;
	assert_false(decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	assert_true(has_reason(&d, "the caller's executable /opt/bot has SHA-256 " HP ", not one "
			       "of the runtime.exe_sha256 of [agent spiffe://td/rthash]"));
	pol_decision_clear(&d);
	rt.exe_sha256 = NULL; /* not hashed: never a match */
	assert_false(decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	assert_true(has_reason(&d, "has SHA-256 (unknown)"));
	pol_decision_clear(&d);
	rt.exe_sha256 = H1;
	rt.parent_exe_sha256 = H1;
	assert_false(decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	assert_true(has_reason(&d, "the caller's parent executable has SHA-256 " H1 ", not one of "
			       "the runtime.parent_exe_sha256 of [agent spiffe://td/rthash]"));
	pol_decision_clear(&d);
	rt.parent_exe_sha256 = HP;
	rt.unit = "bot.service"; /* the glob bot-*.service wants the dash */
	assert_false(decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	assert_true(has_reason(&d, "the caller runs in unit bot.service; [agent spiffe://td/rthash] "
			       "requires runtime.unit bot-*.service"));
	pol_decision_clear(&d);
	rt.unit = NULL;
	assert_false(decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	assert_true(has_reason(&d, "the caller runs in unit (none)"));
	pol_decision_clear(&d);
	rt.unit = "bot-7.service";
	rt.exe_deleted = true; /* refused by default, even with the right hash */
	assert_false(decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	assert_true(has_reason(&d, "the caller's executable /opt/bot was deleted or replaced; "
			       "[agent spiffe://td/rthash] does not set runtime.allow_deleted_exe"));
	pol_decision_clear(&d);
	rt.exe_deleted = false;
	rt.subject = "workload";
	rt.exe_mutable = "owner uid 1000, mode 0755: only root may be able to write it";
	assert_false(decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	assert_true(has_reason(&d, "the workload's executable /opt/bot can change before it runs "
			       "(owner uid 1000, mode 0755: only root may be able to write it)"));
	pol_decision_clear(&d);
	idfree(id);
	/* runtime.allow_deleted_exe = yes: the hash alone decides */
	id = mkid("spiffe://td/rtdel");
	rt.exe_mutable = NULL;
	rt.exe_deleted = true;
	assert_true(decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	pol_decision_clear(&d);
	idfree(id);
}

/* ---- escalation and grants ------------------------------------------------------------ */

static void test_escalate_fresh(void **state)
{
	struct id_identity *id = mkid("spiffe://td/ops");
	struct pol_decision d;

	id->iat = MON10 - 60; /* exactly escalate_max_age: still fresh */
	assert_true(decide(*state, id, "sudo", "root", NULL, MON10, NULL, &d));
	assert_int_equal(d.cls, POL_CLASS_ESCALATE);
	assert_true(d.escalate);
	assert_true(has_reason(&d, "escalate session: inherits nothing"));
	assert_true(has_reason(&d, "escalate: the token is 60s old (at most 60s)"));
	assert_string_equal(grant_names(&d), "ro rw esc");
	assert_int_equal(d.max_session, 1800);
	pol_decision_clear(&d);
	/* a write session of the same agent is not an escalate session */
	assert_true(decide(*state, id, "sshd", "root", NULL, MON10, NULL, &d));
	assert_false(d.escalate);
	pol_decision_clear(&d);
	idfree(id);
}

static void test_escalate_stale(void **state)
{
	struct id_identity *id = mkid("spiffe://td/ops");
	struct pol_decision d;

	/* the decisive reason is the age, not the "inherits nothing" that follows it */
	id->iat = MON10 - 90;
	assert_false(decide(*state, id, "sudo", "root", NULL, MON10, NULL, &d));
	assert_non_null(d.denial);
	assert_string_equal(d.denial, "escalate needs a token issued at most 60s ago; this one is "
			    "90s old");
	assert_true(has_reason(&d, "escalate session: inherits nothing"));
	pol_decision_clear(&d);
	id->iat = 0;
	assert_false(decide(*state, id, "sudo", "root", NULL, MON10, NULL, &d));
	assert_string_equal(d.denial, "escalate needs a token with an iat claim; this one has none");
	pol_decision_clear(&d);

	id->iat = MON10 - 61;
	expect(*state, id, "sudo", "root", NULL, MON10, false, 0, NULL,
	       "escalate needs a token issued at most 60s ago; this one is 61s old");
	id->iat = 0;
	expect(*state, id, "sudo", "root", NULL, MON10, false, 0, NULL,
	       "escalate needs a token with an iat claim; this one has none");
	/* staleness does not matter below escalate */
	id->iat = MON10 - 3000;
	expect(*state, id, "sshd", "root", NULL, MON10, true, POL_CLASS_WRITE, "ro rw", NULL);
	idfree(id);
}

/* ---- run-as (sudo switches PAM_USER to its run-as user before the session) ---------- */

/* Decides for id as user, running the session as run_as. */
static bool decide_run_as(const struct pol_config *cfg, const struct id_identity *id,
			  const char *service, const char *user, const char *run_as,
			  struct pol_decision *d)
{
	struct pol_request r = { id, service, user, NULL, "pts/1", MON10, NULL, run_as };

	assert_int_equal(pol_decide(cfg, &r, d), 0);
	return d->allow;
}

static void test_run_as(void **state)
{
	struct id_identity *id = mkid("spiffe://td/runner");
	struct pol_decision d;

	/* invoked as u1 (in users), run as root through sudo (in run_as) */
	assert_true(decide_run_as(*state, id, "sudo", "u1", "root", &d));
	assert_int_equal(d.cls, POL_CLASS_ESCALATE);
	assert_string_equal(grant_names(&d), "ro");
	assert_string_equal(d.user, "u1");
	assert_string_equal(d.run_as, "root");
	assert_true(has_reason(&d, "agent spiffe://td/runner may run as root through sudo (run_as "
			       "of [agent spiffe://td/runner])"));
	pol_decision_clear(&d);
	/* run_as is per service: root through sshd is not listed */
	assert_false(decide_run_as(*state, id, "sshd", "u1", "root", &d));
	assert_true(d.run_as_denied);
	assert_string_equal(d.denial, "agent spiffe://td/runner may not run as root through sshd: "
			    "no run_as for it in [agent spiffe://td/runner]");
	pol_decision_clear(&d);
	assert_true(decide_run_as(*state, id, "sshd", "u1", "u2", &d));
	pol_decision_clear(&d);
	/* run_as never lets the agent log in as the target */
	assert_false(decide_run_as(*state, id, "sudo", "root", NULL, &d));
	assert_true(has_reason(&d, "user root is not in the users of [agent spiffe://td/runner]"));
	assert_false(d.run_as_denied);
	pol_decision_clear(&d);
	/* the invoking user must still be in users */
	assert_false(decide_run_as(*state, id, "sudo", "u2", "root", &d));
	assert_string_equal(d.denial, "user u2 is not in the users of [agent spiffe://td/runner]");
	assert_false(d.run_as_denied);
	pol_decision_clear(&d);
	/* running as oneself is no run-as request */
	assert_true(decide_run_as(*state, id, "sudo", "u1", "u1", &d));
	assert_null(d.run_as);
	pol_decision_clear(&d);
	idfree(id);

	/* users never implies run_as: ops may log in as root, not run as root as u1 */
	id = mkid("spiffe://td/ops");
	assert_true(decide_run_as(*state, id, "sudo", "root", NULL, &d));
	pol_decision_clear(&d);
	assert_false(decide_run_as(*state, id, "sudo", "u1", "root", &d));
	assert_true(d.run_as_denied);
	assert_string_equal(d.denial, "agent spiffe://td/ops may not run as root through sudo: no "
			    "run_as for it in [agent spiffe://td/ops]");
	pol_decision_clear(&d);
	idfree(id);

	/* every actor must allow the run-as too */
	id = mkid("spiffe://td/runner");
	set_act(id, "{\"sub\":\"spiffe://td/ops\"}");
	assert_false(decide_run_as(*state, id, "sudo", "u1", "root", &d));
	assert_true(d.run_as_denied);
	assert_true(has_reason(&d, "actor 1 spiffe://td/ops may not run as root through sudo"));
	pol_decision_clear(&d);
	idfree(id);
}

static void test_grant_filtering(void **state)
{
	struct id_identity *id = mkid("spiffe://td/ops");
	struct pol_decision d;

	expect(*state, id, "agent-read", "root", NULL, MON10, true, POL_CLASS_READ, "ro",
	       "grant rw not issued: class write is above the session class read");
	expect(*state, id, "sshd", "root", NULL, MON10, true, POL_CLASS_WRITE, "ro rw",
	       "grant esc not issued: class escalate is above the session class write");
	/* the decision carries copies of the grant definitions */
	assert_true(decide(*state, id, "sshd", "root", NULL, MON10, NULL, &d));
	assert_int_equal(d.grants[1].source, POL_SOURCE_EXEC);
	assert_string_equal(d.grants[1].command, "/bin/broker rw");
	assert_int_equal(d.grants[1].ttl, 300);
	assert_null(d.grants[1].where.file);
	assert_string_equal(d.grants[0].audience, "https://x");
	pol_decision_clear(&d);
	idfree(id);
}

static void test_decision_outlives_config(void **state)
{
	struct pol_errors e = { 0 };
	struct pol_config *cfg = NULL;
	struct id_identity *id = mkid("spiffe://td/ops");
	struct pol_decision d;

	(void)state;
	assert_int_equal(pol_config_parse_text("c", base_conf, strlen(base_conf), &cfg, &e), 0);
	assert_true(decide(cfg, id, "sshd", "root", NULL, MON10, NULL, &d));
	pol_config_unref(cfg);
	/* ASan would catch a reference into the freed configuration */
	assert_string_equal(d.grants[0].name, "ro");
	assert_string_equal(d.rule, "spiffe://td/ops");
	assert_true(has_reason(&d, "matches [agent spiffe://td/ops]"));
	pol_decision_clear(&d);
	idfree(id);
}

/* ---- act chains ----------------------------------------------------------------------------- */

static void test_delegation_depth0(void **state)
{
	struct pol_errors e = { 0 };
	struct pol_config *cfg = NULL;
	struct id_identity *id = mkid("spiffe://td/orch");
	/* the same configuration with the default max_delegation_depth 0 */
	char *text = strdup(base_conf);
	char *p = strstr(text, "max_delegation_depth = 2");

	(void)state;
	p[strlen("max_delegation_depth = ")] = '0';
	assert_int_equal(pol_config_parse_text("c", text, strlen(text), &cfg, &e), 0);
	expect(cfg, id, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "ro", NULL);
	set_act(id, "{\"sub\":\"spiffe://td/a/bot\"}");
	expect(cfg, id, "agent-read", "u1", NULL, MON10, false, 0, NULL,
	       "act chain of depth 1 exceeds max_delegation_depth 0");
	/* a JSON null act is no act */
	set_act(id, "null");
	expect(cfg, id, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "ro", NULL);
	pol_config_unref(cfg);
	free(text);
	idfree(id);
}

static void test_delegation_depth1(void **state)
{
	struct id_identity *id = mkid("spiffe://td/orch");
	struct pol_decision d;

	set_act(id, "{\"sub\":\"spiffe://td/a/bot\"}");
	assert_true(decide(*state, id, "sshd", "u1", NULL, MON10, NULL, &d));
	assert_int_equal(d.depth, 1);
	assert_int_equal(d.cls, POL_CLASS_WRITE);
	/* grants: orch {ro rw} ∩ bot {ro rw esc}; session: min(2h, 15m) */
	assert_string_equal(grant_names(&d), "ro rw");
	assert_int_equal(d.max_session, 900);
	assert_true(has_reason(&d, "actor 1 spiffe://td/a/bot matches [agent spiffe://td/a/bot]"));
	pol_decision_clear(&d);
	idfree(id);
}

static void test_delegation_depth2(void **state)
{
	struct id_identity *id = mkid("spiffe://td/orch");
	struct pol_decision d;

	set_act(id, "{\"sub\":\"spiffe://td/a/bot\",\"act\":{\"sub\":\"spiffe://td/narrow\"}}");
	assert_true(decide(*state, id, "sshd", "u1", NULL, MON10, NULL, &d));
	assert_int_equal(d.depth, 2);
	/* orch {ro rw} ∩ bot {ro rw esc} ∩ narrow {rw}; session min(2h, 15m, 5m) */
	assert_string_equal(grant_names(&d), "rw");
	assert_int_equal(d.max_session, 300);
	assert_true(has_reason(&d, "grant ro not issued: [agent spiffe://td/narrow] of actor 2 "
			       "does not grant it"));
	pol_decision_clear(&d);
	/* depth 3 is over the configured 2 */
	set_act(id, "{\"sub\":\"spiffe://td/a/bot\",\"act\":{\"sub\":\"spiffe://td/narrow\","
		"\"act\":{\"sub\":\"spiffe://td/ops\"}}}");
	expect(*state, id, "sshd", "u1", NULL, MON10, false, 0, NULL,
	       "act chain of depth 3 exceeds max_delegation_depth 2");
	idfree(id);
}

static void test_delegation_actor_not_allowed(void **state)
{
	struct id_identity *id = mkid("spiffe://td/orch");

	/* no rule for the actor */
	set_act(id, "{\"sub\":\"spiffe://td/nobody\"}");
	expect(*state, id, "agent-read", "u1", NULL, MON10, false, 0, NULL,
	       "no [agent] rule matches actor 1 spiffe://td/nobody");
	/* a denied actor, deeper in the chain */
	set_act(id, "{\"sub\":\"spiffe://td/a/bot\",\"act\":{\"sub\":\"spiffe://td/a/bad/z\"}}");
	expect(*state, id, "agent-read", "u1", NULL, MON10, false, 0, NULL,
	       "actor 2 spiffe://td/a/bad/z matches [deny spiffe://td/a/bad/*]");
	/* an actor whose rule does not allow the user */
	set_act(id, "{\"sub\":\"spiffe://td/ops\"}");
	expect(*state, id, "sshd", "u2", NULL, MON10, false, 0, NULL,
	       "user u2 is not in the users of [agent spiffe://td/orch]");
	idfree(id);
}

static void test_delegation_widening(void **state)
{
	/* a read-only subject handing off to a write/escalate actor */
	struct id_identity *id = mkid("spiffe://td/reader");

	set_act(id, "{\"sub\":\"spiffe://td/ops\"}");
	expect(*state, id, "sshd", "root", NULL, MON10, false, 0, NULL,
	       "service sshd needs class write, above max_class read of [agent spiffe://td/reader]");
	/* allowed where both are, with the subject's narrower grants */
	expect(*state, id, "agent-read", "root", NULL, MON10, true, POL_CLASS_READ, "ro", NULL);
	idfree(id);

	/* a write subject handing off to a read-only actor: narrowed to read */
	id = mkid("spiffe://td/orch");
	set_act(id, "{\"sub\":\"spiffe://td/reader\"}");
	expect(*state, id, "sshd", "u1", NULL, MON10, false, 0, NULL,
	       "service sshd needs class write, above max_class read of [agent spiffe://td/reader]");
	expect(*state, id, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "ro",
	       "grant rw not issued: [agent spiffe://td/reader] of actor 1 does not grant it");
	idfree(id);
}

static void test_delegation_malformed(void **state)
{
	static const char *const bad[] = {
		"\"spiffe://td/a/bot\"", "{}", "{\"sub\":42}", "{\"sub\":\"\"}",
		"{\"sub\":\"spiffe://td/a/bot\",\"act\":[1]}", "{\"sub\":\"x\\u0000y\"}",
		"{\"sub\":\"no-issuer-subject\"}",
	};
	struct id_identity *id = mkid("spiffe://td/orch");
	size_t i;

	for (i = 0; i < PA_ARRAY_SIZE(bad); i++) {
		set_act(id, bad[i]);
		expect(*state, id, "agent-read", "u1", NULL, MON10, false, 0, NULL,
		       "the act chain is refused");
	}
	/* deeper than any configuration allows: refused before the rules */
	set_act(id, "{\"sub\":\"spiffe://td/a/1\",\"act\":{\"sub\":\"spiffe://td/a/2\",\"act\":"
		"{\"sub\":\"spiffe://td/a/3\",\"act\":{\"sub\":\"spiffe://td/a/4\",\"act\":"
		"{\"sub\":\"spiffe://td/a/5\",\"act\":{\"sub\":\"spiffe://td/a/6\",\"act\":"
		"{\"sub\":\"spiffe://td/a/7\",\"act\":{\"sub\":\"spiffe://td/a/8\",\"act\":"
		"{\"sub\":\"spiffe://td/a/9\"}}}}}}}}}");
	expect(*state, id, "agent-read", "u1", NULL, MON10, false, 0, NULL,
	       "deeper than pam_agent ever accepts");
	idfree(id);
}

static void test_delegation_oidc_actor(void **state)
{
	struct id_identity *id = mkid("spiffe://td/orch");

	/* a non-SPIFFE actor is named ISSUER#SUB with its own iss */
	set_act(id, "{\"sub\":\"runner-1\",\"iss\":\"https://login.example.org\"}");
	expect(*state, id, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "",
	       "actor 1 https://login.example.org#runner-1 matches [agent https://login.example.org#*]");
	idfree(id);
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
	struct id_identity *id = mkid("spiffe://td/orch");
	size_t i;

	/* the canonical form is denied by [deny spiffe://td/a/bot2] */
	set_act(id, "{\"sub\":\"spiffe://td/a/bot2\"}");
	expect(*state, id, "agent-read", "u1", NULL, MON10, false, 0, NULL,
	       "actor 1 spiffe://td/a/bot2 matches [deny spiffe://td/a/bot2]");
	/* and a canonical sibling is allowed by [agent spiffe://td/a/ *] */
	set_act(id, "{\"sub\":\"spiffe://td/a/bot3\"}");
	expect(*state, id, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "ro", NULL);
	for (i = 0; i < PA_ARRAY_SIZE(forms); i++) {
		char act[256];

		snprintf(act, sizeof(act), "{\"sub\":\"%s\"}", forms[i]);
		set_act(id, act);
		print_message("actor %s\n", forms[i]);
		expect(*state, id, "agent-read", "u1", NULL, MON10, false, 0, NULL,
		       "is not a canonical SPIFFE ID");
	}
	/* deeper in the chain too */
	set_act(id, "{\"sub\":\"spiffe://td/a/bot3\",\"act\":{\"sub\":\"spiffe://td/a//bot2\"}}");
	expect(*state, id, "agent-read", "u1", NULL, MON10, false, 0, NULL,
	       "actor 2 spiffe://td/a//bot2 is not a canonical SPIFFE ID");
	/* an OIDC actor whose issuer holds '#' could be read two ways */
	set_act(id, "{\"sub\":\"x\",\"iss\":\"https://login.example.org#admin\"}");
	expect(*state, id, "agent-read", "u1", NULL, MON10, false, 0, NULL,
	       "an OIDC actor in the act chain has an issuer with '#'");
	idfree(id);
}

/* ---- explain, escaping -------------------------------------------------------------------------- */

static void test_explain(void **state)
{
	struct id_identity *id = mkid("spiffe://td/ops");
	struct pol_request r = { id, "sshd", "root", "10.0.0.1", "pts/0", MON10, NULL, NULL };
	struct pol_decision d;
	char *text;

	set_str(&id->task, "T-9");
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
	idfree(id);
}

static void test_reasons_escaped(void **state)
{
	struct id_identity *id = mkid("spiffe://td/a/bot\n\"injected\x1b[31m");
	struct pol_decision d;
	size_t i;

	assert_false(decide(*state, id, "agent-read", "u1", "h\r\nx", MON10, NULL, &d));
	for (i = 0; i < d.n_reasons; i++) {
		const char *c;

		for (c = d.reasons[i]; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				fail_msg("control byte in reason: %s", d.reasons[i]);
		assert_null(strstr(d.reasons[i], "\"injected"));
	}
	assert_true(has_reason(&d, "agent spiffe://td/a/bot\\x0a\\x22injected\\x1b[31m has bytes "
			       "no agent id contains"));
	pol_decision_clear(&d);
	/* the same for an actor, and a blank inside an id */
	idfree(id);
	id = mkid("spiffe://td/orch");
	set_act(id, "{\"sub\":\"spiffe://td/a/bot x\"}");
	assert_false(decide(*state, id, "agent-read", "u1", NULL, MON10, NULL, &d));
	/* a SPIFFE actor is refused by the SPIFFE ID parser before the rules */
	assert_true(has_reason(&d, "actor 1 spiffe://td/a/bot x is not a canonical SPIFFE ID"));
	pol_decision_clear(&d);
	idfree(id);
}

/* ---- the scenario table ------------------------------------------------------------------------ */

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

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
			int in = open(s, O_RDONLY), out = open(t, O_WRONLY | O_CREAT | O_EXCL, 0644);

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
		id = mkid(sub);
		id->trust_domain = strndup(sub + 9, strcspn(sub + 9, "/"));
	} else {
		assert_non_null(iss);
		assert_true(asprintf(&agent, "%s#%s", iss, sub) > 0);
		id = mkid(agent);
		free(agent);
	}
	set_str(&id->subject, sub);
	set_str(&id->issuer, iss);
	set_str(&id->task, json_string_value(json_object_get(claims, "task")));
	set_str(&id->scope, json_string_value(json_object_get(claims, "scope")));
	id->iat = json_integer_value(json_object_get(claims, "iat"));
	id->exp = json_integer_value(json_object_get(claims, "exp"));
	id->act = json_incref(json_object_get(claims, "act"));
	id->claims = json_deep_copy(claims);
	return id;
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
			assert_true(asprintf(&problem, "grants \"%s\"", grant_names(&d)) > 0);
	}
	if (problem == NULL && want_reason != NULL) {
		bool found = false;

		for (i = 0; i < d.n_reasons && !found; i++)
			found = strstr(d.reasons[i], want_reason) != NULL;
		if (!found)
			assert_true(asprintf(&problem, "no reason contains \"%s\"", want_reason) > 0);
	}
	if (problem != NULL) {
		char *text = pol_explain(&r, &d), *both = NULL;

		assert_true(asprintf(&both, "%s\n%s", problem, text) > 0);
		free(text);
		free(problem);
		problem = both;
	}
	pol_decision_clear(&d);
	idfree(id);
	pol_config_unref(cfg);
	return problem;
}

static void test_scenarios(void **state)
{
	const char *data = getenv("PA_TEST_DATA");
	char src[1024], table[1100], dir[] = "/tmp/pa_test_policy.XXXXXX";
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
	assert_non_null(mkdtemp(dir));
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
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
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
		cmocka_unit_test(test_no_config_denies),
		cmocka_unit_test(test_no_identity_denies),
		cmocka_unit_test(test_default_deny),
		cmocka_unit_test(test_deny_rule_wins),
		cmocka_unit_test(test_exact_beats_prefix),
		cmocka_unit_test(test_longest_prefix_wins),
		cmocka_unit_test(test_prefix_boundary),
		cmocka_unit_test(test_oidc_rules),
		cmocka_unit_test(test_service_listed),
		cmocka_unit_test(test_service_unknown),
		cmocka_unit_test(test_max_class),
		cmocka_unit_test(test_scope_ceiling),
		cmocka_unit_test(test_users),
		cmocka_unit_test(test_rhosts),
		cmocka_unit_test(test_hours),
		cmocka_unit_test(test_hours_wrapping_days),
		cmocka_unit_test(test_require_task),
		cmocka_unit_test(test_runtime),
		cmocka_unit_test(test_runtime_hashes),
		cmocka_unit_test(test_escalate_fresh),
		cmocka_unit_test(test_escalate_stale),
		cmocka_unit_test(test_run_as),
		cmocka_unit_test(test_grant_filtering),
		cmocka_unit_test(test_decision_outlives_config),
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
	return cmocka_run_group_tests(tests, setup_cfg, teardown_cfg);
}
