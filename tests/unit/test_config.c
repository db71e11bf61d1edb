/*
 * test_config.c - the configuration parser (policy/config.c): valid
 * configurations, every refusal with its exact "FILE:LINE: message", and
 * the verifier fill (verifier.c). The files themselves (libinih
 * behaviours, permissions, drop-in order) and the re-read cache are in
 * test_config_files.c.
 */
#include "config.h"

#include <errno.h>
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

#include "policy.h"
#include "tfx_policy.h"

#define GLOBAL "[global]\naudience = spiffe://example.org/host/web01\n"

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
	struct tfx_conf *f = *state;
	struct pol_config *cfg = tfx_loads(f, design_example);
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
	struct pol_config *cfg = tfx_loads(*state, GLOBAL
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
	struct pol_config *cfg = tfx_loads(*state, GLOBAL
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
	struct tfx_conf *f = *state;
	struct pol_config *cfg = tfx_loads(f, GLOBAL
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

	tfx_refused(f, GLOBAL "broker_key = broker.key\n",
		    "3: 'broker_key' must be an absolute path without blanks", NULL);
	tfx_refused(f, GLOBAL "broker_issuer =\n", "3: 'broker_issuer' has an empty value",
		    NULL);
	tfx_refused(f, GLOBAL "broker_jwks = /run/a b.json\n",
		    "3: 'broker_jwks' must be an absolute path without blanks", NULL);
	tfx_refused(f, GLOBAL "helper = pam_agent_helper\n",
		    "3: 'helper' must be an absolute path without blanks", NULL);
	tfx_refused(f, GLOBAL "state_dir = run/pam_agent\n",
		    "3: 'state_dir' must be an absolute path without blanks", NULL);
	tfx_refused(f, GLOBAL "helper_timeout = 0s\n",
		    "3: 'helper_timeout' must be between 1s and 600s", NULL);
	tfx_refused(f, GLOBAL "helper_timeout = 11m\n",
		    "3: 'helper_timeout' must be between 1s and 600s", NULL);
	tfx_refused(f, GLOBAL "helper_timeout = soon\n",
		    "3: 'helper_timeout' = \"soon\" is not a duration (like 90s, 15m, 2h, 1d)",
		    NULL);
}

/* ---- every refusal, with its message ------------------------------------------------- */

static void test_err_unknown_section(void **state)
{
	tfx_refused(*state, GLOBAL "[agents spiffe://example.org/a]\nusers = u\n",
		    "3: unknown section [agents spiffe://example.org/a] (sections are global, "
		    "trust_domain, issuer, service, agent, deny and grant)",
		    NULL);
}

static void test_err_unknown_key(void **state)
{
	tfx_refused(*state, GLOBAL "audiences = x\n",
		    "3: unknown key 'audiences' in [global]", NULL);
	/* keys are case-sensitive */
	tfx_refused(*state, GLOBAL "[service sshd]\nClass = read\n",
		    "4: unknown key 'Class' in [service sshd]",
		    "3: [service sshd] has no 'class' (required)", NULL);
	/* runtime.* is exactly the keys of docs/attestation.md */
	tfx_refused(*state, GLOBAL "[service s]\nclass = read\n"
		    "[agent spiffe://example.org/a]\nusers = u\nservices = s\nruntime.gid = 5\n",
		    "8: unknown key 'runtime.gid' in [agent spiffe://example.org/a]", NULL);
	/* a SHA-256 is 64 hex digits, no more, no less, nothing else */
	tfx_refused(*state, GLOBAL "[service s]\nclass = read\n"
		    "[agent spiffe://example.org/a]\nusers = u\nservices = s\n"
		    "runtime.exe_sha256 = abc\n",
		    "8: 'runtime.exe_sha256': \"abc\" is not a SHA-256 (64 hex digits)", NULL);
	tfx_refused(*state, GLOBAL "[service s]\nclass = read\n"
		    "[agent spiffe://example.org/a]\nusers = u\nservices = s\n"
		    "runtime.parent_exe_sha256 = "
		    "g000000000000000000000000000000000000000000000000000000000000000\n",
		    "8: 'runtime.parent_exe_sha256': 'g' is not a hex digit (a SHA-256 is 64 "
		    "of them)", NULL);
	tfx_refused(*state, GLOBAL "[service s]\nclass = read\n"
		    "[agent spiffe://example.org/a]\nusers = u\nservices = s\n"
		    "runtime.exe_sha256 = "
		    "00000000000000000000000000000000000000000000000000000000000000000\n",
		    "8: 'runtime.exe_sha256': \"00000000000000000000000000000000000000000000000000000000000000000\" is not "
		    "a SHA-256 (64 hex digits)", NULL);
}

static void test_err_duplicate_key(void **state)
{
	tfx_refused(*state, GLOBAL "clock_skew = 10s\nclock_skew = 20s\n",
		    "4: duplicate key 'clock_skew' in [global] (first at line 3)", NULL);
}

static void test_err_duplicate_section_exact(void **state)
{
	struct tfx_conf *f = *state;
	struct pol_errors e = { 0 };
	char want[600];

	tfx_write(f->path, GLOBAL GLOBAL, 0644);
	assert_null(tfx_load(f, &e));
	assert_int_equal(e.n, 1);
	snprintf(want, sizeof(want), "%s:3: duplicate section [global] (first at %s:1)",
		 f->path, f->path);
	assert_string_equal(e.msgs[0], want);
	pol_errors_clear(&e);

	tfx_write(f->path, GLOBAL "[deny spiffe://example.org/x/*]\nreason = a\n"
		  "[deny spiffe://example.org/x/*]\nreason = b\n", 0644);
	assert_null(tfx_load(f, &e));
	assert_int_equal(e.n, 1);
	snprintf(want, sizeof(want),
		 "%s:5: duplicate section [deny spiffe://example.org/x/*] (first at %s:3)",
		 f->path, f->path);
	assert_string_equal(e.msgs[0], want);
	pol_errors_clear(&e);

	tfx_write(f->path, GLOBAL "[trust_domain a.org]\nbundle = /b\n[trust_domain a.org]\n"
		  "bundle = /c\n", 0644);
	assert_null(tfx_load(f, &e));
	snprintf(want, sizeof(want),
		 "%s:5: duplicate section [trust_domain a.org] (first at %s:3)", f->path, f->path);
	assert_string_equal(e.msgs[0], want);
	pol_errors_clear(&e);
}

static void test_err_duplicate_across_files(void **state)
{
	struct tfx_conf *f = *state;
	struct pol_errors e = { 0 };
	char want[600];

	tfx_write(f->path, GLOBAL "[service sshd]\nclass = write\n", 0644);
	tfx_dropin(f, "50-x.conf", "[service sshd]\nclass = read\n");
	assert_null(tfx_load(f, &e));
	assert_int_equal(e.n, 1);
	snprintf(want, sizeof(want),
		 "%s/50-x.conf:1: duplicate section [service sshd] (first at %s:3)", f->dropins,
		 f->path);
	assert_string_equal(e.msgs[0], want);
	pol_errors_clear(&e);
}

static void test_err_bad_values(void **state)
{
	struct tfx_conf *f = *state;

	tfx_refused(f, GLOBAL "clock_skew = 5 minutes\n",
		    "3: 'clock_skew' = \"5 minutes\" is not a duration (like 90s, 15m, 2h, 1d)",
		    NULL);
	tfx_refused(f, GLOBAL "clock_skew = 2h\n",
		    "3: 'clock_skew' must be between 0s and 3600s", NULL);
	tfx_refused(f, GLOBAL "single_use = maybe\n", "3: 'single_use' must be yes or no", NULL);
	tfx_refused(f, GLOBAL "max_delegation_depth = 9\n",
		    "3: 'max_delegation_depth' must be a whole number from 0 to 8", NULL);
	tfx_refused(f, GLOBAL "replay_max_entries = -1\n",
		    "3: 'replay_max_entries' must be a whole number from 1 to 10000000", NULL);
	tfx_refused(f, GLOBAL "audit_log = audit.jsonl\n",
		    "3: 'audit_log' must be an absolute path without blanks", NULL);
	tfx_refused(f, "[global]\naudience =\n", "2: 'audience' has an empty value", NULL);
	tfx_refused(f, GLOBAL "[service sshd]\nclass = admin\n",
		    "4: 'class' = \"admin\" is not a class (read, write or escalate)", NULL);
	tfx_refused(f, GLOBAL "[grant g]\nclass = read\nsource = vault\nttl = 5m\n",
		    "5: 'source' must be mint, exec or file", NULL);
	tfx_refused(f, GLOBAL "[grant g]\nclass = read\nsource = exec\nttl = 5m\n"
		    "command = vault-broker issue\n",
		    "7: 'command' must start with the absolute path of a program", NULL);
	tfx_refused(f, GLOBAL "[grant g]\nclass = read\nsource = file\nttl = 0s\npath = /x\n",
		    "6: 'ttl' must be between 1s and 604800s", NULL);
	tfx_refused(f, GLOBAL "[service s]\nclass = read\n[agent spiffe://example.org/a]\n"
		    "users = u\nservices = s\nruntime.uid = root\n",
		    "8: 'runtime.uid' must be a numeric uid", NULL);
	tfx_refused(f, GLOBAL "[service s]\nclass = read\n[agent spiffe://example.org/a]\n"
		    "users = u u\nservices = s\n",
		    "6: 'users' lists \"u\" twice", NULL);
}

static void test_err_hours(void **state)
{
	struct tfx_conf *f = *state;
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
		tfx_refused(f, text, want, NULL);
	}
	/* days are not comma lists: the comma separates windows */
	tfx_refused(f, GLOBAL "[service s]\nclass = read\n[agent spiffe://example.org/a]\n"
		    "users = u\nservices = s\nhours = Mon,Tue 08:00-09:00\n",
		    "8: 'hours': \"Mon\" is not a window like \"Mon-Fri 08:00-18:00\"", NULL);
}

/* run_as: SERVICE:USER words, the service one of the rule's own */
static void test_run_as(void **state)
{
	struct tfx_conf *f = *state;
	struct pol_config *cfg;
	const struct pol_agent *a;

	cfg = tfx_loads(f, GLOBAL "[service sudo]\nclass = escalate\n[service su]\nclass = read\n"
			"[agent spiffe://example.org/a]\nusers = u\nservices = sudo su\n"
			"run_as = sudo:root\n  su:svc-x sudo:svc-y\n");
	a = &cfg->agents[0];
	assert_int_equal(a->run_as.n, 3);
	assert_string_equal(a->run_as.v[0], "sudo:root");
	assert_string_equal(a->run_as.v[1], "su:svc-x");
	assert_string_equal(a->run_as.v[2], "sudo:svc-y");
	pol_config_unref(cfg);

	tfx_refused(f, GLOBAL "[service sudo]\nclass = escalate\n[agent spiffe://example.org/a]\n"
		    "users = u\nservices = sudo\nrun_as = root\n",
		    "8: [agent spiffe://example.org/a]: run_as \"root\" is not SERVICE:USER "
		    "(like sudo:root)", NULL);
	tfx_refused(f, GLOBAL "[service sudo]\nclass = escalate\n[agent spiffe://example.org/a]\n"
		    "users = u\nservices = sudo\nrun_as = sudo: :root\n",
		    "8: [agent spiffe://example.org/a]: run_as \"sudo:\" is not SERVICE:USER "
		    "(like sudo:root)",
		    "8: [agent spiffe://example.org/a]: run_as \":root\" is not SERVICE:USER "
		    "(like sudo:root)", NULL);
	tfx_refused(f, GLOBAL "[service sudo]\nclass = escalate\n[agent spiffe://example.org/a]\n"
		    "users = u\nservices = sudo\nrun_as = sudo:* sudo:a:b\n",
		    "8: [agent spiffe://example.org/a]: run_as \"sudo:*\": the user is one user "
		    "name (no ':', no '*')",
		    "8: [agent spiffe://example.org/a]: run_as \"sudo:a:b\": the user is one user "
		    "name (no ':', no '*')", NULL);
	/* a run-as right on a service the rule does not list would never apply */
	tfx_refused(f, GLOBAL "[service sudo]\nclass = escalate\n[service su]\nclass = read\n"
		    "[agent spiffe://example.org/a]\nusers = u\nservices = su\n"
		    "run_as = sudo:root\n",
		    "10: [agent spiffe://example.org/a]: run_as \"sudo:root\" names service 'sudo', "
		    "which is not in its services", NULL);
	tfx_refused(f, GLOBAL "[service sudo]\nclass = escalate\n[agent spiffe://example.org/a]\n"
		    "users = u\nservices = sudo\nrun_as = sudo:root sudo:root\n",
		    "8: 'run_as' lists \"sudo:root\" twice", NULL);
}

static void test_hours_forms(void **state)
{
	struct pol_config *cfg = tfx_loads(*state, GLOBAL "[service s]\nclass = read\n"
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
	struct tfx_conf *f = *state;

	tfx_refused(f, "[global]\nclock_skew = 1s\n", "1: [global] has no 'audience' (required)",
		    NULL);
	tfx_refused(f, GLOBAL "[trust_domain a.org]\n",
		    "3: [trust_domain a.org] has no 'bundle' (required)", NULL);
	tfx_refused(f, GLOBAL "[issuer https://login.example.org]\naudience = x\n",
		    "3: [issuer https://login.example.org] has no 'jwks' (required)", NULL);
	tfx_refused(f, GLOBAL "[service sshd]\n", "3: [service sshd] has no 'class' (required)",
		    NULL);
	tfx_refused(f, GLOBAL "[agent spiffe://example.org/a]\nmax_class = read\n",
		    "3: [agent spiffe://example.org/a] has no 'users' (required)",
		    "3: [agent spiffe://example.org/a] has no 'services' (required)", NULL);
	/* an empty section never reaches libinih's handler: still reported */
	tfx_refused(f, GLOBAL "[deny spiffe://example.org/x]\n[service s]\nclass = read\n",
		    "3: [deny spiffe://example.org/x] has no 'reason' (required)", NULL);
	tfx_refused(f, GLOBAL "[grant g]\n",
		    "3: [grant g] has no 'class' (required)",
		    "3: [grant g] has no 'source' (required)",
		    "3: [grant g] has no 'ttl' (required)", NULL);
}

static void test_err_grant_sources(void **state)
{
	struct tfx_conf *f = *state;

	tfx_refused(f, GLOBAL "[grant g]\nclass = read\nsource = mint\nttl = 5m\n",
		    "3: [grant g] with source = mint has no 'audience' (required)", NULL);
	tfx_refused(f, GLOBAL "[grant g]\nclass = read\nsource = exec\nttl = 5m\n",
		    "3: [grant g] with source = exec has no 'command' (required)", NULL);
	tfx_refused(f, GLOBAL "[grant g]\nclass = read\nsource = file\nttl = 5m\n",
		    "3: [grant g] with source = file has no 'path' (required)", NULL);
	tfx_refused(f, GLOBAL "[grant g]\nclass = read\nsource = file\nttl = 5m\npath = /x\n"
		    "scope = a\ncommand = /bin/x\n",
		    "8: 'scope' does not apply to source = file",
		    "9: 'command' does not apply to source = file", NULL);
}

static void test_err_references(void **state)
{
	struct tfx_conf *f = *state;

	tfx_refused(f, GLOBAL "[service sshd]\nclass = write\n"
		    "[agent spiffe://example.org/a]\nusers = u\nservices = sshd\n"
		    "grants = nope\n",
		    "8: [agent spiffe://example.org/a] references grant 'nope', which is not defined",
		    NULL);
	tfx_refused(f, GLOBAL "[agent spiffe://example.org/a]\nusers = u\nservices = sshd\n",
		    "5: [agent spiffe://example.org/a] lists service 'sshd', which has no "
		    "[service sshd] section", NULL);
}

static void test_err_section_names(void **state)
{
	struct tfx_conf *f = *state;

	tfx_refused(f, GLOBAL "[agent spiffe://example.org/*/x]\nusers = u\n",
		    "3: [agent spiffe://example.org/*/x]: '*' is only allowed as a final \"/*\" or "
		    "\"#*\"", NULL);
	tfx_refused(f, GLOBAL "[agent spiffe://Example.org/a]\nusers = u\n",
		    "3: [agent spiffe://Example.org/a]: the trust domain of a SPIFFE ID allows only "
		    "[a-z0-9.-_]", NULL);
	tfx_refused(f, GLOBAL "[deny spiffe://example.org/a/../b]\nreason = x\n",
		    "3: [deny spiffe://example.org/a/../b]: a SPIFFE ID has no \".\" or \"..\" "
		    "segment", NULL);
	tfx_refused(f, GLOBAL "[agent alice]\nusers = u\n",
		    "3: [agent alice]: an agent is a SPIFFE ID (spiffe://…) or an OIDC "
		    "ISSUER#SUBJECT (https://…#…)", NULL);
	tfx_refused(f, GLOBAL "[agent https://login.example.org]\nusers = u\n",
		    "3: [agent https://login.example.org]: an OIDC identity is written "
		    "ISSUER#SUBJECT", NULL);
	tfx_refused(f, GLOBAL "[agent]\nusers = u\n", "3: [agent] needs a name: [agent NAME]",
		    NULL);
	tfx_refused(f, GLOBAL "[agent  spiffe://example.org/a]\nusers = u\n",
		    "3: [agent  spiffe://example.org/a]: write the section as [agent NAME] with one "
		    "space and no other blanks", NULL);
	tfx_refused(f, "[global x]\naudience = a\n", "1: [global] takes no name", NULL);
	tfx_refused(f, GLOBAL "[issuer http://login.example.org]\njwks = /j\n",
		    "3: [issuer http://login.example.org]: an issuer is an https:// URL without "
		    "'#'", NULL);
	tfx_refused(f, GLOBAL "[grant a/b]\nclass = read\n",
		    "3: [grant a/b]: a grant name allows only [A-Za-z0-9._-], at most 64 bytes",
		    NULL);
	tfx_refused(f, GLOBAL "[service ../x]\nclass = read\n",
		    "3: [service ../x]: a service name allows only [a-z0-9._+-]", NULL);
	tfx_refused(f, GLOBAL "[trust_domain Example.org]\nbundle = /b\n",
		    "3: [trust_domain Example.org]: a trust domain name allows only [a-z0-9.-_]",
		    NULL);
}

static void test_err_syntax(void **state)
{
	struct tfx_conf *f = *state;

	tfx_refused(f, "audience = x\n" GLOBAL, "1: key 'audience' outside of any section", NULL);
	tfx_refused(f, GLOBAL "[service sshd\nclass = read\n",
		    "3: section header without a closing ']'", NULL);
	tfx_refused(f, GLOBAL "[service sshd] class = read\n",
		    "3: text after ']' (libinih would ignore it)", NULL);
	tfx_refused(f, GLOBAL "clock_skew: 10s\n",
		    "3: write \"key = value\" (with '=', not ':')", NULL);
	tfx_refused(f, GLOBAL "clock_skew\n", "3: expected \"key = value\"", NULL);
	tfx_refused(f, GLOBAL "clock_skew = 1s\x01\n", "3: control byte 0x01", NULL);
	tfx_refused(f, GLOBAL "[service s]\nclass = read\n[deny spiffe://example.org/x]\n"
		    "reason = see ticket #42\n",
		    "6: 'reason': '#' after a blank is not a comment here (comments are whole lines "
		    "starting with '#' or ';', or \" ;\" after a value)", NULL);
}

static void test_err_nul_byte(void **state)
{
	struct tfx_conf *f = *state;
	static const char text[] = GLOBAL "clock_skew = 1s\0\nbogus = 1\n";
	struct pol_errors e = { 0 };
	char want[512];
	int fd;

	fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	/* a NUL would end ini_parse_string early: everything after it is still read */
	assert_null(tfx_load(f, &e));
	assert_int_equal(e.n, 2);
	snprintf(want, sizeof(want), "%s:3: control byte 0x00", f->path);
	assert_string_equal(e.msgs[0], want);
	snprintf(want, sizeof(want), "%s:4: unknown key 'bogus' in [global]", f->path);
	assert_string_equal(e.msgs[1], want);
	pol_errors_clear(&e);
}

static void test_all_errors_collected(void **state)
{
	tfx_refused(*state,
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
	struct tfx_conf *f = *state;
	struct pol_errors e = { 0 };
	char want[512];

	tfx_write(f->path, "[service s]\nclass = read\n", 0644);
	assert_null(tfx_load(f, &e));
	snprintf(want, sizeof(want), "%s: no [global] section (it must set audience)", f->path);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.msgs[0], want);
	pol_errors_clear(&e);
}

/* ---- the verifier ------------------------------------------------------------------------- */

static void test_to_verifier(void **state)
{
	struct pol_config *cfg = tfx_loads(*state, design_example);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_design_example, tfx_conf_setup,
						tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_defaults, tfx_conf_setup, tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_global_keys, tfx_conf_setup,
						tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_global_helper_keys, tfx_conf_setup,
						tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_err_unknown_section, tfx_conf_setup,
						tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_err_unknown_key, tfx_conf_setup,
						tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_err_duplicate_key, tfx_conf_setup,
						tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_err_duplicate_section_exact, tfx_conf_setup,
						tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_err_duplicate_across_files, tfx_conf_setup,
						tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_err_bad_values, tfx_conf_setup,
						tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_err_hours, tfx_conf_setup, tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_run_as, tfx_conf_setup, tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_hours_forms, tfx_conf_setup,
						tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_err_missing_required, tfx_conf_setup,
						tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_err_grant_sources, tfx_conf_setup,
						tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_err_references, tfx_conf_setup,
						tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_err_section_names, tfx_conf_setup,
						tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_err_syntax, tfx_conf_setup, tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_err_nul_byte, tfx_conf_setup,
						tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_all_errors_collected, tfx_conf_setup,
						tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_err_no_global, tfx_conf_setup,
						tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_to_verifier, tfx_conf_setup,
						tfx_conf_teardown),
	};

	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
