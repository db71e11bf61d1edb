/*
 * test_config.c - the configuration parser (policy/config.c),
 * the re-read cache (cache.c) and the verifier fill (verifier.c): every
 * refusal with its exact "FILE:LINE: message", drop-in order, the libinih
 * behaviours we rely on or refuse, and re-reading on change.
 */
#include "config.h"

#include <errno.h>
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

#include "policy.h"

#define GLOBAL "[global]\naudience = spiffe://example.org/host/web01\n"

/* ---- fixtures ------------------------------------------------------------------ */

struct fx {
	char dir[64];
	char path[256]; /* dir/main.conf */
	char dropins[256]; /* dir/main.d */
};

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	strcpy(f->dir, "/tmp/pa_test_config.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/main.conf", f->dir);
	snprintf(f->dropins, sizeof(f->dropins), "%s/main.d", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Writes text to path with mode (0644 unless given). */
static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *fp;

	unlink(path);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static void write_dropin(struct fx *f, const char *name, const char *text)
{
	char p[512];

	mkdir(f->dropins, 0755);
	snprintf(p, sizeof(p), "%s/%s", f->dropins, name);
	write_file(p, text, 0644);
}

/* Loads f->path (and drop-ins); returns the config or NULL with errors. */
static struct pol_config *load(struct fx *f, struct pol_errors *e)
{
	struct pol_config *cfg = NULL;
	int r = pol_config_load(f->path, f->dropins, &cfg, e);

	if (r == 0) {
		assert_non_null(cfg);
		assert_int_equal(e->n, 0);
	} else {
		assert_int_equal(r, -1);
		assert_null(cfg);
		assert_true(e->n > 0);
	}
	return cfg;
}

static void dump(const struct pol_errors *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		print_message("  error: %s\n", e->msgs[i]);
}

/*
 * Loads text as the main file and checks that it is refused with exactly
 * the messages given (each "LINE: message", FILE is prepended), in order.
 */
static void expect_errors(struct fx *f, const char *text, ...)
{
	struct pol_errors e = { 0 };
	struct pol_config *cfg;
	const char *want;
	char full[1024];
	size_t i = 0;
	va_list ap;

	write_file(f->path, text, 0644);
	cfg = load(f, &e);
	assert_null(cfg);
	va_start(ap, text);
	while ((want = va_arg(ap, const char *)) != NULL) {
		snprintf(full, sizeof(full), "%s:%s", f->path, want);
		if (i >= e.n || strcmp(e.msgs[i], full) != 0) {
			dump(&e);
			fail_msg("error %zu: expected \"%s\", got \"%s\"", i, full,
				 i < e.n ? e.msgs[i] : "(nothing)");
		}
		i++;
	}
	va_end(ap);
	if (i != e.n) {
		dump(&e);
		fail_msg("%zu errors, expected %zu", e.n, i);
	}
	pol_errors_clear(&e);
}

/* Loads text as the main file and expects success. */
static struct pol_config *expect_ok(struct fx *f, const char *text)
{
	struct pol_errors e = { 0 };
	struct pol_config *cfg;

	write_file(f->path, text, 0644);
	cfg = load(f, &e);
	if (cfg == NULL) {
		dump(&e);
		fail_msg("configuration refused");
	}
	pol_errors_clear(&e);
	return cfg;
}

/* ---- valid configurations -------------------------------------------------------- */

static const char design_example[] =
	"[global]\n"
	"audience      = spiffe://example.org/host/web01\n"
	"clock_skew    = 30s\n"
	"max_token_age = 5m\n"
	"single_use    = yes\n"
	"audit_log     = /var/log/pam_agent/audit.jsonl\n"
	"\n"
	"[trust_domain example.org]\n"
	"bundle = /etc/pam_agent/bundles/example.org.json\n"
	"\n"
	"# An OIDC provider\n"
	"[issuer https://login.example.org]\n"
	"jwks     = /etc/pam_agent/issuers/login.example.org.json\n"
	"audience = pam-agent-web01\n"
	"allow_eddsa = yes\n"
	"\n"
	"[service agent-read]\n"
	"class = read\n"
	"[service sshd]\n"
	"class = write\n"
	"[service sudo]\n"
	"class = escalate\n"
	"\n"
	"[agent spiffe://example.org/agents/support-bot]\n"
	"users        = svc-support\n"
	"services     = agent-read sshd\n"
	"max_class    = write\n"
	"max_session  = 15m\n"
	"require_task = yes\n"
	"runtime.unit = support-bot.service\n"
	"runtime.exe  = /usr/bin/support-bot\n"
	"runtime.uid  = 1001\n"
	"hours        = Mon-Fri 08:00-18:00, Sat 10:00-12:00\n"
	"rhosts       = 10.0.0.1 @local\n"
	"grants       = tickets-ro tickets-rw\n"
	"\n"
	"[deny spiffe://example.org/agents/experimental/*]\n"
	"reason = experimental agents never log in here\n"
	"\n"
	"[grant tickets-ro]\n"
	"class    = read\n"
	"source   = mint\n"
	"audience = https://tickets.example.org\n"
	"scope    = tickets:read\n"
	"ttl      = 10m\n"
	"\n"
	"[grant tickets-rw]\n"
	"class    = write\n"
	"source   = exec\n"
	"command  = /usr/libexec/vault-broker issue tickets-rw\n"
	"revoke   = /usr/libexec/vault-broker revoke\n"
	"ttl      = 5m\n"
	"\n"
	"[grant legacy-db]\n"
	"class  = read\n"
	"source = file\n"
	"path   = /etc/pam_agent/secrets/legacy-db\n"
	"ttl    = 10m\n";

static void test_design_example(void **state)
{
	struct fx *f = *state;
	struct pol_config *cfg = expect_ok(f, design_example);
	const struct pol_agent *a;
	const struct pol_grant *g;

	assert_string_equal(cfg->global.audience, "spiffe://example.org/host/web01");
	assert_int_equal(cfg->global.clock_skew, 30);
	assert_int_equal(cfg->global.max_token_age, 300);
	assert_true(cfg->global.single_use);
	assert_string_equal(cfg->global.audit_log, "/var/log/pam_agent/audit.jsonl");
	assert_int_equal(cfg->n_domains, 1);
	assert_string_equal(cfg->domains[0].name, "example.org");
	assert_int_equal(cfg->n_issuers, 1);
	assert_string_equal(cfg->issuers[0].audience, "pam-agent-web01");
	assert_true(cfg->issuers[0].allow_eddsa);
	assert_int_equal(cfg->n_services, 3);
	assert_int_equal(pol_config_find_service(cfg, "sudo")->cls, POL_CLASS_ESCALATE);
	a = pol_config_match_agent(cfg, "spiffe://example.org/agents/support-bot");
	assert_non_null(a);
	assert_int_equal(a->max_class, POL_CLASS_WRITE);
	assert_int_equal(a->max_session, 900);
	assert_true(a->require_task);
	assert_string_equal(a->runtime_unit, "support-bot.service");
	assert_string_equal(a->runtime_exe, "/usr/bin/support-bot");
	assert_true(a->has_runtime_uid);
	assert_int_equal(a->runtime_uid, 1001);
	assert_int_equal(a->n_hours, 2);
	assert_int_equal(a->hours[0].days, 0x1f);
	assert_int_equal(a->hours[0].start, 8 * 60);
	assert_int_equal(a->hours[0].end, 18 * 60);
	assert_int_equal(a->hours[1].days, 0x20);
	assert_true(a->has_rhosts);
	assert_int_equal(a->rhosts.n, 2);
	assert_int_equal(a->services.n, 2);
	assert_string_equal(a->services.v[1], "sshd");
	assert_int_equal(a->grants.n, 2);
	assert_int_equal(a->where.line, 24);
	assert_string_equal(a->where.file, f->path);
	assert_non_null(pol_config_match_deny(cfg, "spiffe://example.org/agents/experimental/x"));
	g = pol_config_find_grant(cfg, "tickets-rw");
	assert_non_null(g);
	assert_int_equal(g->source, POL_SOURCE_EXEC);
	assert_string_equal(g->revoke, "/usr/libexec/vault-broker revoke");
	assert_int_equal(g->ttl, 300);
	g = pol_config_find_grant(cfg, "legacy-db");
	assert_int_equal(g->source, POL_SOURCE_FILE);
	assert_string_equal(g->path, "/etc/pam_agent/secrets/legacy-db");
	assert_null(pol_config_find_grant(cfg, "nope"));
	pol_config_unref(cfg);
}

static void test_defaults(void **state)
{
	struct pol_config *cfg = expect_ok(*state, GLOBAL
					   "[service sshd]\nclass = write\n"
					   "[agent spiffe://example.org/a]\nusers = u\nservices = sshd\n");
	const struct pol_agent *a = &cfg->agents[0];

	assert_int_equal(cfg->global.clock_skew, 30);
	assert_int_equal(cfg->global.max_token_age, 3600);
	assert_false(cfg->global.single_use);
	assert_null(cfg->global.audit_log);
	assert_string_equal(cfg->global.replay_dir, "/run/pam_agent");
	assert_int_equal(cfg->global.replay_max_entries, 10000);
	assert_int_equal(cfg->global.escalate_max_age, 60);
	assert_int_equal(cfg->global.max_delegation_depth, 0);
	assert_null(cfg->global.broker_key);
	assert_null(cfg->global.broker_issuer);
	assert_null(cfg->global.broker_jwks);
	assert_string_equal(cfg->global.helper, PA_HELPER_PATH);
	assert_string_equal(cfg->global.state_dir, "/run/pam_agent");
	assert_int_equal(cfg->global.helper_timeout, 30);
	assert_int_equal(a->max_class, POL_CLASS_READ);
	assert_int_equal(a->max_session, 3600);
	assert_false(a->require_task);
	assert_false(a->has_rhosts);
	assert_int_equal(a->n_hours, 0);
	assert_null(a->runtime_unit);
	assert_false(a->has_runtime_uid);
	pol_config_unref(cfg);
}

static void test_global_keys(void **state)
{
	struct pol_config *cfg = expect_ok(*state, GLOBAL
					   "replay_dir = /run/pa\nreplay_max_entries = 42\n"
					   "escalate_max_age = 2m\nmax_delegation_depth = 2\n"
					   "single_use = off\n");

	assert_string_equal(cfg->global.replay_dir, "/run/pa");
	assert_int_equal(cfg->global.replay_max_entries, 42);
	assert_int_equal(cfg->global.escalate_max_age, 120);
	assert_int_equal(cfg->global.max_delegation_depth, 2);
	pol_config_unref(cfg);
}

/* The keys of the session helper: the mint broker, the helper itself, its state. */
static void test_global_helper_keys(void **state)
{
	struct fx *f = *state;
	struct pol_config *cfg = expect_ok(f, GLOBAL
					   "broker_key = /etc/pam_agent/broker.key\n"
					   "broker_issuer = https://web01.example.org/broker\n"
					   "broker_jwks = /run/pam_agent/broker.jwks\n"
					   "helper = /opt/pam_agent/pam_agent_helper\n"
					   "state_dir = /run/pa-state\n"
					   "helper_timeout = 2m\n");

	assert_string_equal(cfg->global.broker_key, "/etc/pam_agent/broker.key");
	assert_string_equal(cfg->global.broker_issuer, "https://web01.example.org/broker");
	assert_string_equal(cfg->global.broker_jwks, "/run/pam_agent/broker.jwks");
	assert_string_equal(cfg->global.helper, "/opt/pam_agent/pam_agent_helper");
	assert_string_equal(cfg->global.state_dir, "/run/pa-state");
	assert_int_equal(cfg->global.helper_timeout, 120);
	pol_config_unref(cfg);

	expect_errors(f, GLOBAL "broker_key = broker.key\n",
		      "3: 'broker_key' must be an absolute path without blanks", NULL);
	expect_errors(f, GLOBAL "broker_issuer =\n", "3: 'broker_issuer' has an empty value",
		      NULL);
	expect_errors(f, GLOBAL "broker_jwks = /run/a b.json\n",
		      "3: 'broker_jwks' must be an absolute path without blanks", NULL);
	expect_errors(f, GLOBAL "helper = pam_agent_helper\n",
		      "3: 'helper' must be an absolute path without blanks", NULL);
	expect_errors(f, GLOBAL "state_dir = run/pam_agent\n",
		      "3: 'state_dir' must be an absolute path without blanks", NULL);
	expect_errors(f, GLOBAL "helper_timeout = 0s\n",
		      "3: 'helper_timeout' must be between 1s and 600s", NULL);
	expect_errors(f, GLOBAL "helper_timeout = 11m\n",
		      "3: 'helper_timeout' must be between 1s and 600s", NULL);
	expect_errors(f, GLOBAL "helper_timeout = soon\n",
		      "3: 'helper_timeout' = \"soon\" is not a duration (like 90s, 15m, 2h, 1d)",
		      NULL);
}

/* ---- every refusal, with its message ------------------------------------------------- */

static void test_err_unknown_section(void **state)
{
	expect_errors(*state, GLOBAL "[agents spiffe://example.org/a]\nusers = u\n",
		      "3: unknown section [agents spiffe://example.org/a] (sections are global, "
		      "trust_domain, issuer, service, agent, deny and grant)",
		      NULL);
}

static void test_err_unknown_key(void **state)
{
	expect_errors(*state, GLOBAL "audiences = x\n",
		      "3: unknown key 'audiences' in [global]", NULL);
	/* keys are case-sensitive */
	expect_errors(*state, GLOBAL "[service sshd]\nClass = read\n",
		      "4: unknown key 'Class' in [service sshd]",
		      "3: [service sshd] has no 'class' (required)", NULL);
	/* runtime.* is exactly the keys of docs/attestation.md */
	expect_errors(*state, GLOBAL "[service s]\nclass = read\n"
		      "[agent spiffe://example.org/a]\nusers = u\nservices = s\nruntime.gid = 5\n",
		      "8: unknown key 'runtime.gid' in [agent spiffe://example.org/a]", NULL);
	/* a SHA-256 is 64 hex digits, no more, no less, nothing else */
	expect_errors(*state, GLOBAL "[service s]\nclass = read\n"
		      "[agent spiffe://example.org/a]\nusers = u\nservices = s\n"
		      "runtime.exe_sha256 = abc\n",
		      "8: 'runtime.exe_sha256': \"abc\" is not a SHA-256 (64 hex digits)", NULL);
	expect_errors(*state, GLOBAL "[service s]\nclass = read\n"
		      "[agent spiffe://example.org/a]\nusers = u\nservices = s\n"
		      "runtime.parent_exe_sha256 = "
		      "g000000000000000000000000000000000000000000000000000000000000000\n",
		      "8: 'runtime.parent_exe_sha256': 'g' is not a hex digit (a SHA-256 is 64 "
		      "of them)", NULL);
	expect_errors(*state, GLOBAL "[service s]\nclass = read\n"
		      "[agent spiffe://example.org/a]\nusers = u\nservices = s\n"
		      "runtime.exe_sha256 = "
		      "00000000000000000000000000000000000000000000000000000000000000000\n",
		      "8: 'runtime.exe_sha256': \"00000000000000000000000000000000000000000000000000000000000000000\" is not "
		      "a SHA-256 (64 hex digits)", NULL);
}

static void test_err_duplicate_key(void **state)
{
	expect_errors(*state, GLOBAL "clock_skew = 10s\nclock_skew = 20s\n",
		      "4: duplicate key 'clock_skew' in [global] (first at line 3)", NULL);
}

static void test_err_duplicate_section_exact(void **state)
{
	struct fx *f = *state;
	struct pol_errors e = { 0 };
	char want[600];

	write_file(f->path, GLOBAL GLOBAL, 0644);
	assert_null(load(f, &e));
	assert_int_equal(e.n, 1);
	snprintf(want, sizeof(want), "%s:3: duplicate section [global] (first at %s:1)",
		 f->path, f->path);
	assert_string_equal(e.msgs[0], want);
	pol_errors_clear(&e);

	write_file(f->path, GLOBAL "[deny spiffe://example.org/x/*]\nreason = a\n"
		   "[deny spiffe://example.org/x/*]\nreason = b\n", 0644);
	assert_null(load(f, &e));
	assert_int_equal(e.n, 1);
	snprintf(want, sizeof(want),
		 "%s:5: duplicate section [deny spiffe://example.org/x/*] (first at %s:3)",
		 f->path, f->path);
	assert_string_equal(e.msgs[0], want);
	pol_errors_clear(&e);

	write_file(f->path, GLOBAL "[trust_domain a.org]\nbundle = /b\n[trust_domain a.org]\n"
		   "bundle = /c\n", 0644);
	assert_null(load(f, &e));
	snprintf(want, sizeof(want),
		 "%s:5: duplicate section [trust_domain a.org] (first at %s:3)", f->path, f->path);
	assert_string_equal(e.msgs[0], want);
	pol_errors_clear(&e);
}

static void test_err_duplicate_across_files(void **state)
{
	struct fx *f = *state;
	struct pol_errors e = { 0 };
	char want[600];

	write_file(f->path, GLOBAL "[service sshd]\nclass = write\n", 0644);
	write_dropin(f, "50-x.conf", "[service sshd]\nclass = read\n");
	assert_null(load(f, &e));
	assert_int_equal(e.n, 1);
	snprintf(want, sizeof(want),
		 "%s/50-x.conf:1: duplicate section [service sshd] (first at %s:3)", f->dropins,
		 f->path);
	assert_string_equal(e.msgs[0], want);
	pol_errors_clear(&e);
}

static void test_err_bad_values(void **state)
{
	struct fx *f = *state;

	expect_errors(f, GLOBAL "clock_skew = 5 minutes\n",
		      "3: 'clock_skew' = \"5 minutes\" is not a duration (like 90s, 15m, 2h, 1d)",
		      NULL);
	expect_errors(f, GLOBAL "clock_skew = 2h\n",
		      "3: 'clock_skew' must be between 0s and 3600s", NULL);
	expect_errors(f, GLOBAL "single_use = maybe\n", "3: 'single_use' must be yes or no", NULL);
	expect_errors(f, GLOBAL "max_delegation_depth = 9\n",
		      "3: 'max_delegation_depth' must be a whole number from 0 to 8", NULL);
	expect_errors(f, GLOBAL "replay_max_entries = -1\n",
		      "3: 'replay_max_entries' must be a whole number from 1 to 10000000", NULL);
	expect_errors(f, GLOBAL "audit_log = audit.jsonl\n",
		      "3: 'audit_log' must be an absolute path without blanks", NULL);
	expect_errors(f, "[global]\naudience =\n", "2: 'audience' has an empty value", NULL);
	expect_errors(f, GLOBAL "[service sshd]\nclass = admin\n",
		      "4: 'class' = \"admin\" is not a class (read, write or escalate)", NULL);
	expect_errors(f, GLOBAL "[grant g]\nclass = read\nsource = vault\nttl = 5m\n",
		      "5: 'source' must be mint, exec or file", NULL);
	expect_errors(f, GLOBAL "[grant g]\nclass = read\nsource = exec\nttl = 5m\n"
		      "command = vault-broker issue\n",
		      "7: 'command' must start with the absolute path of a program", NULL);
	expect_errors(f, GLOBAL "[grant g]\nclass = read\nsource = file\nttl = 0s\npath = /x\n",
		      "6: 'ttl' must be between 1s and 604800s", NULL);
	expect_errors(f, GLOBAL "[service s]\nclass = read\n[agent spiffe://example.org/a]\n"
		      "users = u\nservices = s\nruntime.uid = root\n",
		      "8: 'runtime.uid' must be a numeric uid", NULL);
	expect_errors(f, GLOBAL "[service s]\nclass = read\n[agent spiffe://example.org/a]\n"
		      "users = u u\nservices = s\n",
		      "6: 'users' lists \"u\" twice", NULL);
}

static void test_err_hours(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {
		"Mon 18:00-08:00", "Mon-Fri", "Mon-Fri 8:00-18:00", "Monday 08:00-18:00",
		"Mon-Fri 08:00-24:01", "Mon-Fri 08:60-09:00", "Mon-Fri 08:00-08:00",
		"08:00-18:00", "* 08:00", "Sun-Sun 1:00-02:00",
	};
	char text[512], want[256];
	size_t i;

	for (i = 0; i < PA_ARRAY_SIZE(bad); i++) {
		snprintf(text, sizeof(text), GLOBAL "[service s]\nclass = read\n"
			 "[agent spiffe://example.org/a]\nusers = u\nservices = s\nhours = %s\n",
			 bad[i]);
		snprintf(want, sizeof(want),
			 "8: 'hours': \"%s\" is not a window like \"Mon-Fri 08:00-18:00\"", bad[i]);
		expect_errors(f, text, want, NULL);
	}
	/* days are not comma lists: the comma separates windows */
	expect_errors(f, GLOBAL "[service s]\nclass = read\n[agent spiffe://example.org/a]\n"
		      "users = u\nservices = s\nhours = Mon,Tue 08:00-09:00\n",
		      "8: 'hours': \"Mon\" is not a window like \"Mon-Fri 08:00-18:00\"", NULL);
}

/* run_as: SERVICE:USER words, the service one of the rule's own */
static void test_run_as(void **state)
{
	struct fx *f = *state;
	struct pol_config *cfg;
	const struct pol_agent *a;

	cfg = expect_ok(f, GLOBAL "[service sudo]\nclass = escalate\n[service su]\nclass = read\n"
			"[agent spiffe://example.org/a]\nusers = u\nservices = sudo su\n"
			"run_as = sudo:root\n  su:svc-x sudo:svc-y\n");
	a = &cfg->agents[0];
	assert_int_equal(a->run_as.n, 3);
	assert_string_equal(a->run_as.v[0], "sudo:root");
	assert_string_equal(a->run_as.v[1], "su:svc-x");
	assert_string_equal(a->run_as.v[2], "sudo:svc-y");
	pol_config_unref(cfg);

	expect_errors(f, GLOBAL "[service sudo]\nclass = escalate\n[agent spiffe://example.org/a]\n"
		      "users = u\nservices = sudo\nrun_as = root\n",
		      "8: [agent spiffe://example.org/a]: run_as \"root\" is not SERVICE:USER "
		      "(like sudo:root)", NULL);
	expect_errors(f, GLOBAL "[service sudo]\nclass = escalate\n[agent spiffe://example.org/a]\n"
		      "users = u\nservices = sudo\nrun_as = sudo: :root\n",
		      "8: [agent spiffe://example.org/a]: run_as \"sudo:\" is not SERVICE:USER "
		      "(like sudo:root)",
		      "8: [agent spiffe://example.org/a]: run_as \":root\" is not SERVICE:USER "
		      "(like sudo:root)", NULL);
	expect_errors(f, GLOBAL "[service sudo]\nclass = escalate\n[agent spiffe://example.org/a]\n"
		      "users = u\nservices = sudo\nrun_as = sudo:* sudo:a:b\n",
		      "8: [agent spiffe://example.org/a]: run_as \"sudo:*\": the user is one user "
		      "name (no ':', no '*')",
		      "8: [agent spiffe://example.org/a]: run_as \"sudo:a:b\": the user is one user "
		      "name (no ':', no '*')", NULL);
	/* a run-as right on a service the rule does not list would never apply */
	expect_errors(f, GLOBAL "[service sudo]\nclass = escalate\n[service su]\nclass = read\n"
		      "[agent spiffe://example.org/a]\nusers = u\nservices = su\n"
		      "run_as = sudo:root\n",
		      "10: [agent spiffe://example.org/a]: run_as \"sudo:root\" names service 'sudo', "
		      "which is not in its services", NULL);
	expect_errors(f, GLOBAL "[service sudo]\nclass = escalate\n[agent spiffe://example.org/a]\n"
		      "users = u\nservices = sudo\nrun_as = sudo:root sudo:root\n",
		      "8: 'run_as' lists \"sudo:root\" twice", NULL);
}

static void test_hours_forms(void **state)
{
	struct pol_config *cfg = expect_ok(*state, GLOBAL "[service s]\nclass = read\n"
					   "[agent spiffe://example.org/a]\nusers = u\nservices = s\n"
					   "hours = * 00:00-24:00, Fri-Mon 22:00-23:59\n"
					   "  Sun 01:00-02:00\n");
	const struct pol_agent *a = &cfg->agents[0];

	assert_int_equal(a->n_hours, 3);
	assert_int_equal(a->hours[0].days, 0x7f);
	assert_int_equal(a->hours[0].end, 1440);
	/* Fri-Mon wraps: Fri, Sat, Sun, Mon */
	assert_int_equal(a->hours[1].days, 0x10 | 0x20 | 0x40 | 0x01);
	assert_int_equal(a->hours[2].days, 0x40);
	pol_config_unref(cfg);
}

static void test_err_missing_required(void **state)
{
	struct fx *f = *state;

	expect_errors(f, "[global]\nclock_skew = 1s\n", "1: [global] has no 'audience' (required)",
		      NULL);
	expect_errors(f, GLOBAL "[trust_domain a.org]\n",
		      "3: [trust_domain a.org] has no 'bundle' (required)", NULL);
	expect_errors(f, GLOBAL "[issuer https://login.example.org]\naudience = x\n",
		      "3: [issuer https://login.example.org] has no 'jwks' (required)", NULL);
	expect_errors(f, GLOBAL "[service sshd]\n", "3: [service sshd] has no 'class' (required)",
		      NULL);
	expect_errors(f, GLOBAL "[agent spiffe://example.org/a]\nmax_class = read\n",
		      "3: [agent spiffe://example.org/a] has no 'users' (required)",
		      "3: [agent spiffe://example.org/a] has no 'services' (required)", NULL);
	/* an empty section never reaches libinih's handler: still reported */
	expect_errors(f, GLOBAL "[deny spiffe://example.org/x]\n[service s]\nclass = read\n",
		      "3: [deny spiffe://example.org/x] has no 'reason' (required)", NULL);
	expect_errors(f, GLOBAL "[grant g]\n",
		      "3: [grant g] has no 'class' (required)",
		      "3: [grant g] has no 'source' (required)",
		      "3: [grant g] has no 'ttl' (required)", NULL);
}

static void test_err_grant_sources(void **state)
{
	struct fx *f = *state;

	expect_errors(f, GLOBAL "[grant g]\nclass = read\nsource = mint\nttl = 5m\n",
		      "3: [grant g] with source = mint has no 'audience' (required)", NULL);
	expect_errors(f, GLOBAL "[grant g]\nclass = read\nsource = exec\nttl = 5m\n",
		      "3: [grant g] with source = exec has no 'command' (required)", NULL);
	expect_errors(f, GLOBAL "[grant g]\nclass = read\nsource = file\nttl = 5m\n",
		      "3: [grant g] with source = file has no 'path' (required)", NULL);
	expect_errors(f, GLOBAL "[grant g]\nclass = read\nsource = file\nttl = 5m\npath = /x\n"
		      "scope = a\ncommand = /bin/x\n",
		      "8: 'scope' does not apply to source = file",
		      "9: 'command' does not apply to source = file", NULL);
}

static void test_err_references(void **state)
{
	struct fx *f = *state;

	expect_errors(f, GLOBAL "[service sshd]\nclass = write\n"
		      "[agent spiffe://example.org/a]\nusers = u\nservices = sshd\n"
		      "grants = nope\n",
		      "8: [agent spiffe://example.org/a] references grant 'nope', which is not defined",
		      NULL);
	expect_errors(f, GLOBAL "[agent spiffe://example.org/a]\nusers = u\nservices = sshd\n",
		      "5: [agent spiffe://example.org/a] lists service 'sshd', which has no "
		      "[service sshd] section", NULL);
}

static void test_err_section_names(void **state)
{
	struct fx *f = *state;

	expect_errors(f, GLOBAL "[agent spiffe://example.org/*/x]\nusers = u\n",
		      "3: [agent spiffe://example.org/*/x]: '*' is only allowed as a final \"/*\" or "
		      "\"#*\"", NULL);
	expect_errors(f, GLOBAL "[agent spiffe://Example.org/a]\nusers = u\n",
		      "3: [agent spiffe://Example.org/a]: the trust domain of a SPIFFE ID allows only "
		      "[a-z0-9.-_]", NULL);
	expect_errors(f, GLOBAL "[deny spiffe://example.org/a/../b]\nreason = x\n",
		      "3: [deny spiffe://example.org/a/../b]: a SPIFFE ID has no \".\" or \"..\" "
		      "segment", NULL);
	expect_errors(f, GLOBAL "[agent alice]\nusers = u\n",
		      "3: [agent alice]: an agent is a SPIFFE ID (spiffe://…) or an OIDC "
		      "ISSUER#SUBJECT (https://…#…)", NULL);
	expect_errors(f, GLOBAL "[agent https://login.example.org]\nusers = u\n",
		      "3: [agent https://login.example.org]: an OIDC identity is written "
		      "ISSUER#SUBJECT", NULL);
	expect_errors(f, GLOBAL "[agent]\nusers = u\n", "3: [agent] needs a name: [agent NAME]",
		      NULL);
	expect_errors(f, GLOBAL "[agent  spiffe://example.org/a]\nusers = u\n",
		      "3: [agent  spiffe://example.org/a]: write the section as [agent NAME] with one "
		      "space and no other blanks", NULL);
	expect_errors(f, "[global x]\naudience = a\n", "1: [global] takes no name", NULL);
	expect_errors(f, GLOBAL "[issuer http://login.example.org]\njwks = /j\n",
		      "3: [issuer http://login.example.org]: an issuer is an https:// URL without "
		      "'#'", NULL);
	expect_errors(f, GLOBAL "[grant a/b]\nclass = read\n",
		      "3: [grant a/b]: a grant name allows only [A-Za-z0-9._-], at most 64 bytes",
		      NULL);
	expect_errors(f, GLOBAL "[service ../x]\nclass = read\n",
		      "3: [service ../x]: a service name allows only [a-z0-9._+-]", NULL);
	expect_errors(f, GLOBAL "[trust_domain Example.org]\nbundle = /b\n",
		      "3: [trust_domain Example.org]: a trust domain name allows only [a-z0-9.-_]",
		      NULL);
}

static void test_err_syntax(void **state)
{
	struct fx *f = *state;

	expect_errors(f, "audience = x\n" GLOBAL, "1: key 'audience' outside of any section", NULL);
	expect_errors(f, GLOBAL "[service sshd\nclass = read\n",
		      "3: section header without a closing ']'", NULL);
	expect_errors(f, GLOBAL "[service sshd] class = read\n",
		      "3: text after ']' (libinih would ignore it)", NULL);
	expect_errors(f, GLOBAL "clock_skew: 10s\n",
		      "3: write \"key = value\" (with '=', not ':')", NULL);
	expect_errors(f, GLOBAL "clock_skew\n", "3: expected \"key = value\"", NULL);
	expect_errors(f, GLOBAL "clock_skew = 1s\x01\n", "3: control byte 0x01", NULL);
	expect_errors(f, GLOBAL "[service s]\nclass = read\n[deny spiffe://example.org/x]\n"
		      "reason = see ticket #42\n",
		      "6: 'reason': '#' after a blank is not a comment here (comments are whole lines "
		      "starting with '#' or ';', or \" ;\" after a value)", NULL);
}

static void test_err_nul_byte(void **state)
{
	struct fx *f = *state;
	static const char text[] = GLOBAL "clock_skew = 1s\0\nbogus = 1\n";
	struct pol_errors e = { 0 };
	char want[512];
	int fd;

	fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	/* a NUL would end ini_parse_string early: everything after it is still read */
	assert_null(load(f, &e));
	assert_int_equal(e.n, 2);
	snprintf(want, sizeof(want), "%s:3: control byte 0x00", f->path);
	assert_string_equal(e.msgs[0], want);
	snprintf(want, sizeof(want), "%s:4: unknown key 'bogus' in [global]", f->path);
	assert_string_equal(e.msgs[1], want);
	pol_errors_clear(&e);
}

static void test_all_errors_collected(void **state)
{
	expect_errors(*state,
		      GLOBAL "bogus = 1\n"
		      "[service sshd]\nclass = root\n"
		      "[grant g]\nclass = read\nsource = mint\nttl = 5m\naudience = a\n"
		      "[agent spiffe://example.org/a]\nusers = u\nservices = sshd sudo\n"
		      "grants = g h\n[weird]\n",
		      "3: unknown key 'bogus' in [global]",
		      "5: 'class' = \"root\" is not a class (read, write or escalate)",
		      "15: unknown section [weird] (sections are global, trust_domain, issuer, "
		      "service, agent, deny and grant)",
		      "13: [agent spiffe://example.org/a] lists service 'sudo', which has no "
		      "[service sudo] section",
		      "14: [agent spiffe://example.org/a] references grant 'h', which is not defined",
		      NULL);
}

static void test_err_no_global(void **state)
{
	struct fx *f = *state;
	struct pol_errors e = { 0 };
	char want[512];

	write_file(f->path, "[service s]\nclass = read\n", 0644);
	assert_null(load(f, &e));
	snprintf(want, sizeof(want), "%s: no [global] section (it must set audience)", f->path);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.msgs[0], want);
	pol_errors_clear(&e);
}

/* ---- libinih behaviours ------------------------------------------------------------- */

static void test_inih_inline_comments(void **state)
{
	struct pol_config *cfg = expect_ok(*state, GLOBAL
					   "; a full-line comment\n"
					   "# another one\n"
					   "   # indented comment (no key before it in this section)\n"
					   "[deny spiffe://example.org/a] ; comment after a header\n"
					   "reason = one ; the rest is a comment\n"
					   "[deny spiffe://example.org/b]\n"
					   "reason = one;two\n"
					   "[deny spiffe://example.org/c]\n"
					   "reason = tab\t; comment\n");

	assert_int_equal(cfg->n_denies, 3);
	assert_string_equal(cfg->denies[0].reason, "one");
	assert_string_equal(cfg->denies[1].reason, "one;two");
	assert_string_equal(cfg->denies[2].reason, "tab");
	pol_config_unref(cfg);
}

static void test_inih_continuation(void **state)
{
	struct fx *f = *state;
	struct pol_config *cfg = expect_ok(f, GLOBAL
					   "[service s]\nclass = read\n"
					   "[agent spiffe://example.org/a]\n"
					   "users = alice\n"
					   "   bob carol\n"
					   "# a comment does not end it\n"
					   "\tdave\n"
					   "\n"
					   "  erin\n"
					   "services = s\n"
					   "[deny spiffe://example.org/x]\n"
					   "reason = a long\n"
					   "  reason\n");
	const struct pol_agent *a = &cfg->agents[0];

	/* indented lines continue a list, even after a comment or a blank line */
	assert_int_equal(a->users.n, 5);
	assert_string_equal(a->users.v[1], "bob");
	assert_string_equal(a->users.v[2], "carol");
	assert_string_equal(a->users.v[3], "dave");
	assert_string_equal(a->users.v[4], "erin");
	assert_string_equal(cfg->denies[0].reason, "a long reason");
	pol_config_unref(cfg);

	/* libinih r55 keeps " ;" of an indented line in the value: refused */
	expect_errors(f, GLOBAL "[service s]\nclass = read\n[agent spiffe://example.org/a]\n"
		      "users = u\n  v ; w\nservices = s\n",
		      "7: indented line with a \" ;\" comment (libinih versions disagree on whether "
		      "it is a comment; put it on a line of its own)", NULL);
	/* a scalar cannot be continued */
	expect_errors(f, GLOBAL "clock_skew = 10s\n  20s\n",
		      "4: indented line: libinih reads it as more of 'clock_skew', which takes one "
		      "value (remove the indentation)", NULL);
	/* an indented header would be swallowed into the previous value */
	expect_errors(f, GLOBAL "[service s]\nclass = read\n[agent spiffe://example.org/a]\n"
		      "users = u\nservices = s\n  [deny spiffe://example.org/a]\n  reason = no\n",
		      "8: indented line: libinih reads it as more of 'services', not as a section "
		      "header (remove the indentation)",
		      "9: indented line: libinih reads it as more of 'services', not as a key (remove "
		      "the indentation)", NULL);
	/* an indented key right after a header is a key (no previous key) */
	cfg = expect_ok(f, GLOBAL "[service s]\n   class = read\n");
	assert_int_equal(cfg->services[0].cls, POL_CLASS_READ);
	pol_config_unref(cfg);
}

static void test_inih_long_section_name(void **state)
{
	/* libinih keeps only 49 bytes of a section name; we keep it whole */
	static const char id[] =
		"spiffe://example.org/ns/production/sa/support-bot-with-a-long-name";
	char text[1024];
	struct pol_config *cfg;

	snprintf(text, sizeof(text), GLOBAL "[service s]\nclass = read\n[agent %s]\n"
		 "users = u\nservices = s\n[agent spiffe://example.org/ns/production/sa/"
		 "support-bot-with-a-long-other]\nusers = v\nservices = s\n", id);
	cfg = expect_ok(*state, text);
	assert_int_equal(cfg->n_agents, 2);
	assert_string_equal(cfg->agents[0].pattern, id);
	assert_string_equal(pol_config_match_agent(cfg, id)->users.v[0], "u");
	assert_null(pol_config_match_agent(cfg, "spiffe://example.org/ns/production/sa/support-"));
	pol_config_unref(cfg);
}

static void test_inih_line_length(void **state)
{
	struct fx *f = *state;
	char text[1024], value[512];
	struct pol_config *cfg;

	/* "reason = " + 189 bytes = 198 bytes: the longest line accepted */
	memset(value, 'x', 189);
	value[189] = '\0';
	snprintf(text, sizeof(text), GLOBAL "[deny spiffe://example.org/a]\nreason = %s\n", value);
	cfg = expect_ok(f, text);
	assert_int_equal(strlen(cfg->denies[0].reason), 189);
	pol_config_unref(cfg);
	/* one more byte: libinih would split the line in two; refused */
	memset(value, 'x', 190);
	value[190] = '\0';
	snprintf(text, sizeof(text), GLOBAL "[deny spiffe://example.org/a]\nreason = %s\n", value);
	expect_errors(f, text, "4: line longer than 198 bytes",
		      "3: [deny spiffe://example.org/a] has no 'reason' (required)", NULL);
	/* a tail that would parse as a key of its own is not read as one */
	memset(value, 'x', 195);
	strcpy(value + 195, "clock_skew=1s");
	snprintf(text, sizeof(text), GLOBAL "reason = %s\n", value);
	expect_errors(f, text, "3: line longer than 198 bytes", NULL);
}

static void test_inih_bom_crlf(void **state)
{
	struct pol_config *cfg = expect_ok(*state,
					   "\xef\xbb\xbf[global]\r\naudience = a\r\n"
					   "[service s]\r\nclass = write\r\n");

	assert_string_equal(cfg->global.audience, "a");
	assert_int_equal(cfg->services[0].cls, POL_CLASS_WRITE);
	pol_config_unref(cfg);
}

/* ---- files and permissions ------------------------------------------------------------- */

static void expect_file_error(struct fx *f, const char *want)
{
	struct pol_errors e = { 0 };

	assert_null(load(f, &e));
	if (e.n != 1 || strcmp(e.msgs[0], want) != 0) {
		dump(&e);
		fail_msg("expected \"%s\"", want);
	}
	pol_errors_clear(&e);
}

static void test_file_checks(void **state)
{
	struct fx *f = *state;
	char want[600], target[300];
	int fd;

	write_file(f->path, GLOBAL, 0664);
	snprintf(want, sizeof(want), "%s: mode 0664 is too open (must not have any of 0022)",
		 f->path);
	expect_file_error(f, want);

	write_file(f->path, GLOBAL, 0646);
	snprintf(want, sizeof(want), "%s: mode 0646 is too open (must not have any of 0022)",
		 f->path);
	expect_file_error(f, want);

	/* a symbolic link, even to a good file */
	snprintf(target, sizeof(target), "%s/target.conf", f->dir);
	write_file(target, GLOBAL, 0644);
	unlink(f->path);
	assert_int_equal(symlink(target, f->path), 0);
	snprintf(want, sizeof(want), "%s: is a symbolic link", f->path);
	expect_file_error(f, want);
	unlink(f->path);

	/* too large (sparse) */
	fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, POL_FILE_MAX + 1), 0);
	close(fd);
	snprintf(want, sizeof(want), "%s: %d bytes is larger than the limit of %d", f->path,
		 POL_FILE_MAX + 1, POL_FILE_MAX);
	expect_file_error(f, want);

	unlink(f->path);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", f->path);
	expect_file_error(f, want);

	/* a directory */
	assert_int_equal(mkdir(f->path, 0755), 0);
	snprintf(want, sizeof(want), "%s: not a regular file", f->path);
	expect_file_error(f, want);
	rmdir(f->path);
}

static void test_file_owner(void **state)
{
	struct fx *f = *state;
	char want[600];

	if (geteuid() != 0) {
		/* non-root: the caller's own files are accepted (the other tests) */
		skip();
	}
	write_file(f->path, GLOBAL, 0644);
	assert_int_equal(chown(f->path, 65534, 65534), 0);
	snprintf(want, sizeof(want), "%s: owned by uid 65534, must be owned by root", f->path);
	expect_file_error(f, want);
}

static void test_dropin_checks(void **state)
{
	struct fx *f = *state;
	struct pol_config *cfg;
	struct pol_errors e = { 0 };
	char want[600], p[512], target[512];

	write_file(f->path, GLOBAL, 0644);
	/* no drop-in directory at all is fine */
	cfg = load(f, &e);
	assert_non_null(cfg);
	assert_int_equal(cfg->n_files, 1);
	pol_config_unref(cfg);
	/* an empty one too */
	assert_int_equal(mkdir(f->dropins, 0755), 0);
	cfg = load(f, &e);
	assert_non_null(cfg);
	assert_int_equal(cfg->n_files, 1);
	pol_config_unref(cfg);

	write_dropin(f, "10-a.conf", "[service s]\nclass = read\n");
	assert_int_equal(chmod(f->dropins, 0777), 0);
	snprintf(want, sizeof(want), "%s: mode 0777 is too open (must not have any of 0022)",
		 f->dropins);
	expect_file_error(f, want);
	assert_int_equal(chmod(f->dropins, 0755), 0);

	/* a drop-in that is a symbolic link */
	snprintf(target, sizeof(target), "%s/elsewhere.conf", f->dir);
	write_file(target, "[service t]\nclass = read\n", 0644);
	snprintf(p, sizeof(p), "%s/20-link.conf", f->dropins);
	assert_int_equal(symlink(target, p), 0);
	snprintf(want, sizeof(want), "%s: is a symbolic link", p);
	expect_file_error(f, want);
	unlink(p);

	/* a group-writable drop-in */
	snprintf(p, sizeof(p), "%s/30-gw.conf", f->dropins);
	write_file(p, "[service u]\nclass = read\n", 0664);
	snprintf(want, sizeof(want), "%s: mode 0664 is too open (must not have any of 0022)", p);
	expect_file_error(f, want);
	unlink(p);

	/* an error inside a drop-in names the drop-in and its line */
	write_dropin(f, "40-bad.conf", "[service v]\nclass = read\nbogus = 1\n");
	snprintf(want, sizeof(want), "%s/40-bad.conf:3: unknown key 'bogus' in [service v]",
		 f->dropins);
	expect_file_error(f, want);
}

static void test_dropin_order(void **state)
{
	struct fx *f = *state;
	struct pol_errors e = { 0 };
	struct pol_config *cfg;
	char p[512];

	write_file(f->path, GLOBAL "[service s]\nclass = read\n", 0644);
	write_dropin(f, "b.conf", "[deny spiffe://example.org/b]\nreason = b\n");
	write_dropin(f, "10-x.conf", "[deny spiffe://example.org/10]\nreason = 10\n");
	write_dropin(f, "9-x.conf", "[deny spiffe://example.org/9]\nreason = 9\n");
	write_dropin(f, "A.conf", "[deny spiffe://example.org/A]\nreason = A\n");
	/* ignored: other names, hidden files, bare ".conf" */
	write_dropin(f, "README", "not ini at all\n");
	write_dropin(f, "c.conf.bak", "[bogus]\n");
	write_dropin(f, ".hidden.conf", "[bogus]\n");
	write_dropin(f, ".conf", "[bogus]\n");
	cfg = load(f, &e);
	if (cfg == NULL)
		dump(&e);
	assert_non_null(cfg);
	assert_int_equal(cfg->n_files, 5);
	assert_string_equal(cfg->files[0], f->path);
	/* strcmp order: "10-x" < "9-x" < "A" < "b" */
	snprintf(p, sizeof(p), "%s/10-x.conf", f->dropins);
	assert_string_equal(cfg->files[1], p);
	snprintf(p, sizeof(p), "%s/9-x.conf", f->dropins);
	assert_string_equal(cfg->files[2], p);
	snprintf(p, sizeof(p), "%s/A.conf", f->dropins);
	assert_string_equal(cfg->files[3], p);
	snprintf(p, sizeof(p), "%s/b.conf", f->dropins);
	assert_string_equal(cfg->files[4], p);
	assert_string_equal(cfg->denies[0].reason, "10");
	assert_string_equal(cfg->denies[3].reason, "b");
	/* a section does not continue across files */
	write_dropin(f, "c.conf", "reason = orphan\n");
	pol_config_unref(cfg);
	snprintf(p, sizeof(p), "%s/c.conf:1: key 'reason' outside of any section", f->dropins);
	expect_file_error(f, p);
}

static void test_parse_text(void **state)
{
	struct pol_errors e = { 0 };
	struct pol_config *cfg = NULL;

	(void)state;
	assert_int_equal(pol_config_parse_text("mem", GLOBAL, strlen(GLOBAL), &cfg, &e), 0);
	assert_non_null(cfg);
	assert_string_equal(cfg->files[0], "mem");
	pol_config_unref(cfg);
	assert_int_equal(pol_config_parse_text("mem", "[x]\n", 4, &cfg, &e), -1);
	assert_null(cfg);
	assert_string_equal(e.msgs[0], "mem:1: unknown section [x] (sections are global, "
			    "trust_domain, issuer, service, agent, deny and grant)");
	pol_errors_clear(&e);
}

/* ---- the verifier ------------------------------------------------------------------------- */

static void test_to_verifier(void **state)
{
	struct pol_config *cfg = expect_ok(*state, design_example);
	struct id_verifier v;
	char err[128];

	memset(&v, 0xa5, sizeof(v));
	assert_int_equal(pol_config_to_verifier(cfg, &v, err, sizeof(err)), 0);
	assert_string_equal(v.audience, "spiffe://example.org/host/web01");
	assert_int_equal(v.leeway, 30);
	assert_int_equal(v.max_token_age, 300);
	assert_int_equal(v.n_domains, 1);
	assert_string_equal(v.domains[0].name, "example.org");
	assert_string_equal(v.domains[0].bundle_path, "/etc/pam_agent/bundles/example.org.json");
	assert_null(v.domains[0].keys);
	assert_int_equal(v.n_issuers, 1);
	assert_string_equal(v.issuers[0].url, "https://login.example.org");
	assert_string_equal(v.issuers[0].jwks_path,
			    "/etc/pam_agent/issuers/login.example.org.json");
	assert_string_equal(v.issuers[0].audience, "pam-agent-web01");
	assert_true(v.issuers[0].allow_eddsa);
	assert_null(v.issuers[0].keys);
	/* copies: the config can go first (freed here as id_verifier_clear would) */
	pol_config_unref(cfg);
	assert_string_equal(v.issuers[0].url, "https://login.example.org");
	free(v.audience);
	free(v.domains[0].name);
	free(v.domains[0].bundle_path);
	free(v.domains);
	free(v.issuers[0].url);
	free(v.issuers[0].jwks_path);
	free(v.issuers[0].audience);
	free(v.issuers);
}

/* ---- the cache ------------------------------------------------------------------------------ */

/* Waits until files written now are older than the cache's racy window. */
static void settle(void)
{
	usleep(2200 * 1000);
}

static struct pol_config *cache_get(struct pol_cache *c, struct fx *f, struct pol_errors *e)
{
	struct pol_config *cfg = (struct pol_config *)1;
	int r = pol_config_cache_get(c, f->path, f->dropins, &cfg, e);

	if (r == 0) {
		assert_non_null(cfg);
	} else {
		assert_int_equal(r, -1);
		assert_null(cfg);
		assert_true(e->n > 0);
	}
	return cfg;
}

static void test_cache(void **state)
{
	struct fx *f = *state;
	struct pol_cache *c = pol_cache_new();
	struct pol_errors e = { 0 };
	struct pol_config *a, *b, *held;
	char want[600];

	assert_non_null(c);
	write_file(f->path, GLOBAL "[service s]\nclass = read\n", 0644);
	write_dropin(f, "10-a.conf", "[service t]\nclass = read\n");
	settle();
	a = cache_get(c, f, &e);
	b = cache_get(c, f, &e);
	/* unchanged: the same object, not parsed again */
	assert_ptr_equal(a, b);
	pol_config_unref(b);

	/* a change in the main file: parsed again, the caller's old one stays usable */
	write_file(f->path, GLOBAL "[service s]\nclass = write\n", 0644);
	b = cache_get(c, f, &e);
	assert_ptr_not_equal(a, b);
	assert_int_equal(pol_config_find_service(b, "s")->cls, POL_CLASS_WRITE);
	assert_int_equal(pol_config_find_service(a, "s")->cls, POL_CLASS_READ);
	held = a;
	pol_config_unref(b);

	/* a new drop-in */
	write_dropin(f, "20-b.conf", "[service u]\nclass = escalate\n");
	b = cache_get(c, f, &e);
	assert_non_null(pol_config_find_service(b, "u"));
	pol_config_unref(b);

	/* a bad change: refused, and the previous configuration is not handed out */
	write_dropin(f, "20-b.conf", "[service u]\nclass = root\n");
	assert_null(cache_get(c, f, &e));
	snprintf(want, sizeof(want),
		 "%s/20-b.conf:2: 'class' = \"root\" is not a class (read, write or escalate)",
		 f->dropins);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.msgs[0], want);
	pol_errors_clear(&e);
	/* still refused on the next call, with the same reason */
	assert_null(cache_get(c, f, &e));
	assert_string_equal(e.msgs[0], want);
	pol_errors_clear(&e);

	/* fixed: accepted again */
	write_dropin(f, "20-b.conf", "[service u]\nclass = read\n");
	b = cache_get(c, f, &e);
	assert_int_equal(pol_config_find_service(b, "u")->cls, POL_CLASS_READ);
	pol_config_unref(b);

	/* a permission change alone (same content) is seen and refused */
	assert_int_equal(chmod(f->path, 0666), 0);
	assert_null(cache_get(c, f, &e));
	snprintf(want, sizeof(want), "%s: mode 0666 is too open (must not have any of 0022)",
		 f->path);
	assert_string_equal(e.msgs[0], want);
	pol_errors_clear(&e);
	assert_int_equal(chmod(f->path, 0644), 0);

	/* a removed drop-in */
	{
		char p[512];

		snprintf(p, sizeof(p), "%s/20-b.conf", f->dropins);
		assert_int_equal(unlink(p), 0);
	}
	b = cache_get(c, f, &e);
	assert_null(pol_config_find_service(b, "u"));
	assert_non_null(pol_config_find_service(b, "t"));
	pol_config_unref(b);

	/* the old reference the caller kept is still intact */
	assert_int_equal(pol_config_find_service(held, "s")->cls, POL_CLASS_READ);
	pol_config_unref(held);
	pol_cache_free(c);
}

static void test_cache_same_size_change(void **state)
{
	struct fx *f = *state;
	struct pol_cache *c = pol_cache_new();
	struct pol_errors e = { 0 };
	struct pol_config *a, *b;

	/* same size, rewritten within the same second: still seen */
	write_file(f->path, GLOBAL "[service s]\nclass = read\n", 0644);
	a = cache_get(c, f, &e);
	write_file(f->path, GLOBAL "[service s]\nclass = READ\n", 0644);
	assert_null(cache_get(c, f, &e));
	pol_errors_clear(&e);
	write_file(f->path, GLOBAL "[service x]\nclass = read\n", 0644);
	b = cache_get(c, f, &e);
	assert_non_null(pol_config_find_service(b, "x"));
	assert_null(pol_config_find_service(b, "s"));
	pol_config_unref(a);
	pol_config_unref(b);
	pol_cache_free(c);
}

static void test_cache_racy_window(void **state)
{
	struct fx *f = *state;
	struct pol_cache *c = pol_cache_new();
	struct pol_errors e = { 0 };
	struct pol_config *a, *b;

	/*
	 * Files changed in the last seconds could change again within the
	 * same timestamp granule, invisibly: such a snapshot is not trusted,
	 * so an unchanged-looking fresh file is parsed again.
	 */
	write_file(f->path, GLOBAL, 0644);
	a = cache_get(c, f, &e);
	b = cache_get(c, f, &e);
	assert_ptr_not_equal(a, b);
	pol_config_unref(a);
	pol_config_unref(b);
	/* once settled, the cached object is handed out again */
	settle();
	a = cache_get(c, f, &e);
	b = cache_get(c, f, &e);
	assert_ptr_equal(a, b);
	pol_config_unref(a);
	pol_config_unref(b);
	pol_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_design_example, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_global_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_global_helper_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_err_unknown_section, setup, teardown),
		cmocka_unit_test_setup_teardown(test_err_unknown_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_err_duplicate_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_err_duplicate_section_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_err_duplicate_across_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_err_bad_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_err_hours, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_as, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hours_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_err_missing_required, setup, teardown),
		cmocka_unit_test_setup_teardown(test_err_grant_sources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_err_references, setup, teardown),
		cmocka_unit_test_setup_teardown(test_err_section_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_err_syntax, setup, teardown),
		cmocka_unit_test_setup_teardown(test_err_nul_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_errors_collected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_err_no_global, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inih_inline_comments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inih_continuation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inih_long_section_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inih_line_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inih_bom_crlf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dropin_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dropin_order, setup, teardown),
		cmocka_unit_test(test_parse_text),
		cmocka_unit_test_setup_teardown(test_to_verifier, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_same_size_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_racy_window, setup, teardown),
	};

	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
