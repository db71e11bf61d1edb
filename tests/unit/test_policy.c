/*
 * test_policy.c - the decision engine (policy/decision.c): each rule of
 * docs/configuration.md with its allow and its deny side, escalation, time
 * windows with a fixed clock, grant filtering and run-as. Act chains,
 * explain and the scenario table are in test_policy_chain.c; both decide
 * over tfx_policy_base (tests/lib/tfx_policy.c).
 */
#include "config.h"

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
/* executable hashes of the runtime rules (tests/lib/tfx_policy.c) */
#define H1 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define H2 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HP "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define HOUR 3600
#define DAY_S (24 * HOUR)

/* ---- default deny, deny rules, rule selection ------------------------------------- */

static void test_no_config_denies(void **state)
{
	struct id_identity *id = tfx_policy_id("spiffe://td/a/bot");
	struct pol_decision d;

	(void)state;
	assert_false(tfx_decide(NULL, id, "agent-read", "u1", NULL, MON10, NULL, &d));
	assert_true(tfx_has_reason(&d, "configuration was refused"));
	pol_decision_clear(&d);
	id_identity_free(id);
}

static void test_no_identity_denies(void **state)
{
	struct pol_decision d;

	assert_false(tfx_decide(*state, NULL, "agent-read", "u1", NULL, MON10, NULL, &d));
	assert_true(tfx_has_reason(&d, "no verified agent identity"));
	pol_decision_clear(&d);
}

static void test_default_deny(void **state)
{
	struct id_identity *id = tfx_policy_id("spiffe://td/unknown");
	struct id_identity *ok = tfx_policy_id("spiffe://td/a/bot");

	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10, false, 0, NULL,
		   "no [agent] rule matches agent spiffe://td/unknown");
	tfx_expect(*state, ok, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "ro", NULL);
	id_identity_free(id);
	id_identity_free(ok);
}

static void test_deny_rule_wins(void **state)
{
	/* a/bad/x would match the allowing a/... prefix rule */
	struct id_identity *bad = tfx_policy_id("spiffe://td/a/bad/x");
	struct id_identity *retired = tfx_policy_id("spiffe://td/a/bot2");
	struct id_identity *good = tfx_policy_id("spiffe://td/a/good");

	tfx_expect(*state, bad, "agent-read", "u1", NULL, MON10, false, 0, NULL,
		   "agent spiffe://td/a/bad/x matches [deny spiffe://td/a/bad/*] (base.conf:");
	assert_true(pol_config_match_agent(*state, "spiffe://td/a/bad/x") != NULL);
	tfx_expect(*state, retired, "agent-read", "u1", NULL, MON10, false, 0, NULL, ": retired");
	tfx_expect(*state, good, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "ro",
		   "matches [agent spiffe://td/a/*]");
	id_identity_free(bad);
	id_identity_free(retired);
	id_identity_free(good);
}

static void test_exact_beats_prefix(void **state)
{
	/* the exact rule allows sshd; the a/... prefix rule would not */
	struct id_identity *bot = tfx_policy_id("spiffe://td/a/bot");
	struct id_identity *other = tfx_policy_id("spiffe://td/a/other");

	tfx_expect(*state, bot, "sshd", "u1", NULL, MON10, true, POL_CLASS_WRITE, "ro rw",
		   "matches [agent spiffe://td/a/bot]");
	tfx_expect(*state, other, "sshd", "u1", NULL, MON10, false, 0, NULL,
		   "service sshd is not in the services of [agent spiffe://td/a/*]");
	id_identity_free(bot);
	id_identity_free(other);
}

static void test_longest_prefix_wins(void **state)
{
	struct id_identity *deep = tfx_policy_id("spiffe://td/a/deep/x/y");
	struct id_identity *shallow = tfx_policy_id("spiffe://td/a/deepX");
	struct pol_decision d;

	tfx_expect(*state, deep, "sshd", "u1", NULL, MON10, true, POL_CLASS_WRITE, "ro rw",
		   "matches [agent spiffe://td/a/deep/*]");
	assert_true(tfx_decide(*state, shallow, "agent-read", "u1", NULL, MON10, NULL, &d));
	assert_string_equal(d.rule, "spiffe://td/a/*");
	pol_decision_clear(&d);
	id_identity_free(deep);
	id_identity_free(shallow);
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
	struct id_identity *runner = tfx_policy_id("https://login.example.org#runner-1");
	struct id_identity *admin = tfx_policy_id("https://login.example.org#admin");
	struct id_identity *other = tfx_policy_id("https://login.example.org.evil#runner-1");

	tfx_expect(*state, runner, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "",
		   "matches [agent https://login.example.org#*]");
	/* the exact ISSUER#SUB rule beats ISSUER#* */
	tfx_expect(*state, admin, "agent-read", "u1", NULL, MON10, false, 0, NULL,
		   "user u1 is not in the users of [agent https://login.example.org#admin]");
	tfx_expect(*state, admin, "agent-read", "root", NULL, MON10, true, POL_CLASS_READ, "",
		   NULL);
	tfx_expect(*state, other, "agent-read", "u1", NULL, MON10, false, 0, NULL,
		   "no [agent] rule");
	id_identity_free(runner);
	id_identity_free(admin);
	id_identity_free(other);
}

/* ---- service, class, scope ---------------------------------------------------------- */

static void test_service_listed(void **state)
{
	struct id_identity *id = tfx_policy_id("spiffe://td/a/other");

	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "ro", NULL);
	/* configured service, not listed in the rule */
	tfx_expect(*state, id, "orphan", "u1", NULL, MON10, false, 0, NULL,
		   "service orphan is not in the services of [agent spiffe://td/a/*]");
	id_identity_free(id);
}

static void test_service_unknown(void **state)
{
	struct id_identity *id = tfx_policy_id("spiffe://td/a/bot");

	tfx_expect(*state, id, "login\n", "u1", NULL, MON10, false, 0, NULL,
		   "service login\\x0a has no [service] section");
	tfx_expect(*state, id, NULL, "u1", NULL, MON10, false, 0, NULL,
		   "service (none) has no [service] section");
	id_identity_free(id);
}

static void test_max_class(void **state)
{
	struct id_identity *bot = tfx_policy_id("spiffe://td/a/bot");
	struct id_identity *reader = tfx_policy_id("spiffe://td/reader");

	/* bot: max_class write, listed for sudo */
	tfx_expect(*state, bot, "sshd", "u1", NULL, MON10, true, POL_CLASS_WRITE, "ro rw", NULL);
	tfx_expect(*state, bot, "sudo", "u1", NULL, MON10, false, 0, NULL,
		   "service sudo needs class escalate, above max_class write of [agent "
		   "spiffe://td/a/bot]");
	/* reader: sshd listed, but max_class read */
	tfx_expect(*state, reader, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "ro",
		   NULL);
	tfx_expect(*state, reader, "sshd", "u1", NULL, MON10, false, 0, NULL,
		   "service sshd needs class write, above max_class read");
	id_identity_free(bot);
	id_identity_free(reader);
}

static void test_scope_ceiling(void **state)
{
	struct id_identity *id = tfx_policy_id("spiffe://td/a/bot");

	tfx_id_set(&id->scope, "tickets:read read");
	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "ro",
		   "the token scope allows up to read");
	tfx_expect(*state, id, "sshd", "u1", NULL, MON10, false, 0, NULL,
		   "service sshd needs class write; the token scope allows up to read");
	tfx_id_set(&id->scope, "read write");
	tfx_expect(*state, id, "sshd", "u1", NULL, MON10, true, POL_CLASS_WRITE, "ro rw", NULL);
	/* the highest named class counts, in any order */
	tfx_id_set(&id->scope, "write  read");
	tfx_expect(*state, id, "sshd", "u1", NULL, MON10, true, POL_CLASS_WRITE, "ro rw", NULL);
	/* a scope naming no class allows nothing, even read */
	tfx_id_set(&id->scope, "tickets:read Read writes");
	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10, false, 0, NULL,
		   "the token scope names none of read, write, escalate: nothing is allowed");
	tfx_id_set(&id->scope, "");
	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10, false, 0, NULL, "names none");
	/* no scope claim: only max_class limits */
	tfx_id_set(&id->scope, NULL);
	tfx_expect(*state, id, "sshd", "u1", NULL, MON10, true, POL_CLASS_WRITE, "ro rw", NULL);
	/* the scope never raises above max_class */
	tfx_id_set(&id->scope, "escalate");
	tfx_expect(*state, id, "sudo", "u1", NULL, MON10, false, 0, NULL, "above max_class write");
	id_identity_free(id);
}

/* ---- user, rhost, time, task, runtime ------------------------------------------------ */

static void test_users(void **state)
{
	struct id_identity *id = tfx_policy_id("spiffe://td/a/bot");

	tfx_expect(*state, id, "agent-read", "u2", NULL, MON10, true, POL_CLASS_READ, "ro", NULL);
	tfx_expect(*state, id, "agent-read", "root", NULL, MON10, false, 0, NULL,
		   "user root is not in the users of [agent spiffe://td/a/bot]");
	tfx_expect(*state, id, "agent-read", NULL, NULL, MON10, false, 0, NULL,
		   "user (none) is not in the users");
	/* exact, case-sensitive */
	tfx_expect(*state, id, "agent-read", "U1", NULL, MON10, false, 0, NULL, "user U1");
	id_identity_free(id);
}

static void test_rhosts(void **state)
{
	struct id_identity *remote = tfx_policy_id("spiffe://td/remote");
	struct id_identity *local = tfx_policy_id("spiffe://td/localonly");
	struct id_identity *any = tfx_policy_id("spiffe://td/a/bot");

	tfx_expect(*state, remote, "agent-read", "u1", "bastion.example.org", MON10, true,
		   POL_CLASS_READ, "", NULL);
	tfx_expect(*state, remote, "agent-read", "u1", "Bastion.Example.ORG", MON10, true,
		   POL_CLASS_READ, "", NULL);
	tfx_expect(*state, remote, "agent-read", "u1", "192.0.2.1", MON10, true, POL_CLASS_READ, "",
		   NULL);
	tfx_expect(*state, remote, "agent-read", "u1", "192.0.2.10", MON10, false, 0, NULL,
		   "remote host 192.0.2.10 is not in the rhosts of [agent spiffe://td/remote]");
	tfx_expect(*state, remote, "agent-read", "u1", "bastion.example.org.evil", MON10, false, 0,
		   NULL, "remote host");
	/* listed hosts only: a local request is not one of them */
	tfx_expect(*state, remote, "agent-read", "u1", NULL, MON10, false, 0, NULL,
		   "remote host (local) is not in the rhosts");
	/* @local: only requests without PAM_RHOST */
	tfx_expect(*state, local, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "", NULL);
	tfx_expect(*state, local, "agent-read", "u1", "", MON10, true, POL_CLASS_READ, "", NULL);
	tfx_expect(*state, local, "agent-read", "u1", "10.0.0.1", MON10, false, 0, NULL,
		   "remote host 10.0.0.1");
	/* no rhosts key: any host, local or remote */
	tfx_expect(*state, any, "agent-read", "u1", "anywhere.example", MON10, true, POL_CLASS_READ,
		   "ro", NULL);
	tfx_expect(*state, any, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "ro", NULL);
	id_identity_free(remote);
	id_identity_free(local);
	id_identity_free(any);
}

static void test_hours(void **state)
{
	struct id_identity *id = tfx_policy_id("spiffe://td/office");

	/* Mon 10:00, Mon 08:00 (start, inclusive) */
	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "", NULL);
	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10 - 2 * HOUR, true, POL_CLASS_READ, "",
		   NULL);
	/* Mon 07:59 and Mon 18:00 (end, exclusive) */
	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10 - 2 * HOUR - 60, false, 0, NULL,
		   "Mon 07:59 UTC is outside the hours of [agent spiffe://td/office]");
	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10 + 8 * HOUR, false, 0, NULL,
		   "Mon 18:00 UTC");
	/* Fri 17:59 yes; Sat 11:00 yes (second window); Sat 12:00 and Sun 11:00 no */
	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10 + 4 * DAY_S + 8 * HOUR - 60, true,
		   POL_CLASS_READ, "", NULL);
	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10 + 5 * DAY_S + HOUR, true,
		   POL_CLASS_READ, "", NULL);
	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10 + 5 * DAY_S + 2 * HOUR, false, 0,
		   NULL,
		   "Sat 12:00 UTC");
	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10 + 6 * DAY_S + HOUR, false, 0, NULL,
		   "Sun 11:00 UTC");
	id_identity_free(id);
}

static void test_hours_wrapping_days(void **state)
{
	struct id_identity *id = tfx_policy_id("spiffe://td/night");

	/* Fri-Mon 22:00-24:00: Sun 23:30 and Mon 22:00 yes; Tue 23:00 and Mon 21:59 no */
	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10 + 6 * DAY_S + 13 * HOUR + 1800, true,
		   POL_CLASS_READ, "", NULL);
	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10 + 12 * HOUR, true, POL_CLASS_READ,
		   "",
		   NULL);
	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10 + DAY_S + 13 * HOUR, false, 0, NULL,
		   "Tue 23:00 UTC");
	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10 + 12 * HOUR - 60, false, 0, NULL,
		   "Mon 21:59 UTC");
	id_identity_free(id);
}

static void test_require_task(void **state)
{
	struct id_identity *id = tfx_policy_id("spiffe://td/task");

	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10, false, 0, NULL,
		   "[agent spiffe://td/task] requires a task claim; the token has none");
	tfx_id_set(&id->task, "");
	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10, false, 0, NULL, "requires a task");
	tfx_id_set(&id->task, "T-42");
	tfx_expect(*state, id, "agent-read", "u1", NULL, MON10, true, POL_CLASS_READ, "", NULL);
	id_identity_free(id);
}

static void test_runtime(void **state)
{
	struct id_identity *id = tfx_policy_id("spiffe://td/rt");
	struct pol_runtime rt = {
		.unit = "bot.service", .exe = "/usr/bin/bot", .has_uid = true, .uid = 1001
	};
	struct pol_decision d;

	assert_true(tfx_decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	pol_decision_clear(&d);
	assert_false(tfx_decide(*state, id, "agent-read", "u1", NULL, MON10, NULL, &d));
	assert_true(tfx_has_reason(&d, "requires runtime properties; the caller was not attested"));
	pol_decision_clear(&d);
	rt.unit = "evil.service";
	assert_false(tfx_decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	assert_true(tfx_has_reason(&d,
				   "the caller runs in unit evil.service; [agent spiffe://td/rt] "
				   "requires runtime.unit bot.service"));
	pol_decision_clear(&d);
	rt.unit = "bot.service";
	rt.exe = "/tmp/bot";
	assert_false(tfx_decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	assert_true(tfx_has_reason(&d, "requires runtime.exe /usr/bin/bot"));
	pol_decision_clear(&d);
	rt.exe = "/usr/bin/bot";
	rt.uid = 0;
	assert_false(tfx_decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	assert_true(tfx_has_reason(&d, "the caller runs as uid 0; [agent spiffe://td/rt] requires "
				   "runtime.uid 1001"));
	pol_decision_clear(&d);
	rt.has_uid = false;
	assert_false(tfx_decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	assert_true(tfx_has_reason(&d, "the caller's uid is unknown"));
	pol_decision_clear(&d);
	rt.has_uid = true;
	rt.uid = 1001;
	rt.absent = "a remote login from 192.0.2.7: there is no local caller to attest";
	assert_false(tfx_decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	assert_true(tfx_has_reason(&d, "[agent spiffe://td/rt] requires runtime properties; a remote "
			       "login from 192.0.2.7: there is no local caller to attest"));
	pol_decision_clear(&d);
	id_identity_free(id);
}

/* runtime.exe_sha256 (a list, any case), parent_exe_sha256, unit globs, deleted, mutable */
static void test_runtime_hashes(void **state)
{
	struct id_identity *id = tfx_policy_id("spiffe://td/rthash");
	struct pol_runtime rt = {
		.subject = "caller", .unit = "bot-7.service", .exe = "/opt/bot",
		.exe_sha256 = H2, .parent_exe_sha256 = HP,
	};
	struct pol_decision d;

	assert_true(tfx_decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	assert_true(tfx_has_reason(&d, "the caller matches the runtime.* of [agent spiffe://td/rthash]"));
	pol_decision_clear(&d);
	rt.exe_sha256 = H1;
	assert_true(tfx_decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	pol_decision_clear(&d);
	rt.exe_sha256 = HP;
	assert_false(tfx_decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	assert_true(tfx_has_reason(&d, "the caller's executable /opt/bot has SHA-256 " HP ", not one "
			       "of the runtime.exe_sha256 of [agent spiffe://td/rthash]"));
	pol_decision_clear(&d);
	rt.exe_sha256 = NULL; /* not hashed: never a match */
	assert_false(tfx_decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	assert_true(tfx_has_reason(&d, "has SHA-256 (unknown)"));
	pol_decision_clear(&d);
	rt.exe_sha256 = H1;
	rt.parent_exe_sha256 = H1;
	assert_false(tfx_decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	assert_true(tfx_has_reason(&d, "the caller's parent executable has SHA-256 " H1 ", not one of "
			       "the runtime.parent_exe_sha256 of [agent spiffe://td/rthash]"));
	pol_decision_clear(&d);
	rt.parent_exe_sha256 = HP;
	rt.unit = "bot.service"; /* the glob bot-*.service wants the dash */
	assert_false(tfx_decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	assert_true(tfx_has_reason(&d, "the caller runs in unit bot.service; [agent spiffe://td/rthash] "
			       "requires runtime.unit bot-*.service"));
	pol_decision_clear(&d);
	rt.unit = NULL;
	assert_false(tfx_decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	assert_true(tfx_has_reason(&d, "the caller runs in unit (none)"));
	pol_decision_clear(&d);
	rt.unit = "bot-7.service";
	rt.exe_deleted = true; /* refused by default, even with the right hash */
	assert_false(tfx_decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	assert_true(tfx_has_reason(&d, "the caller's executable /opt/bot was deleted or replaced; "
			       "[agent spiffe://td/rthash] does not set runtime.allow_deleted_exe"));
	pol_decision_clear(&d);
	rt.exe_deleted = false;
	rt.subject = "workload";
	rt.exe_mutable = "owner uid 1000, mode 0755: only root may be able to write it";
	assert_false(tfx_decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	assert_true(tfx_has_reason(&d, "the workload's executable /opt/bot can change before it runs "
			       "(owner uid 1000, mode 0755: only root may be able to write it)"));
	pol_decision_clear(&d);
	id_identity_free(id);
	/* runtime.allow_deleted_exe = yes: the hash alone decides */
	id = tfx_policy_id("spiffe://td/rtdel");
	rt.exe_mutable = NULL;
	rt.exe_deleted = true;
	assert_true(tfx_decide(*state, id, "agent-read", "u1", NULL, MON10, &rt, &d));
	pol_decision_clear(&d);
	id_identity_free(id);
}

/* ---- escalation and grants ------------------------------------------------------------ */

static void test_escalate_fresh(void **state)
{
	struct id_identity *id = tfx_policy_id("spiffe://td/ops");
	struct pol_decision d;

	id->iat = MON10 - 60; /* exactly escalate_max_age: still fresh */
	assert_true(tfx_decide(*state, id, "sudo", "root", NULL, MON10, NULL, &d));
	assert_int_equal(d.cls, POL_CLASS_ESCALATE);
	assert_true(d.escalate);
	assert_true(tfx_has_reason(&d, "escalate session: inherits nothing"));
	assert_true(tfx_has_reason(&d, "escalate: the token is 60s old (at most 60s)"));
	assert_string_equal(tfx_grant_names(&d), "ro rw esc");
	assert_int_equal(d.max_session, 1800);
	pol_decision_clear(&d);
	/* a write session of the same agent is not an escalate session */
	assert_true(tfx_decide(*state, id, "sshd", "root", NULL, MON10, NULL, &d));
	assert_false(d.escalate);
	pol_decision_clear(&d);
	id_identity_free(id);
}

static void test_escalate_stale(void **state)
{
	struct id_identity *id = tfx_policy_id("spiffe://td/ops");
	struct pol_decision d;

	/* the decisive reason is the age, not the "inherits nothing" that follows it */
	id->iat = MON10 - 90;
	assert_false(tfx_decide(*state, id, "sudo", "root", NULL, MON10, NULL, &d));
	assert_non_null(d.denial);
	assert_string_equal(d.denial, "escalate needs a token issued at most 60s ago; this one is "
			    "90s old");
	assert_true(tfx_has_reason(&d, "escalate session: inherits nothing"));
	pol_decision_clear(&d);
	id->iat = 0;
	assert_false(tfx_decide(*state, id, "sudo", "root", NULL, MON10, NULL, &d));
	assert_string_equal(d.denial,
			    "escalate needs a token with an iat claim; this one has none");
	pol_decision_clear(&d);

	id->iat = MON10 - 61;
	tfx_expect(*state, id, "sudo", "root", NULL, MON10, false, 0, NULL,
		   "escalate needs a token issued at most 60s ago; this one is 61s old");
	id->iat = 0;
	tfx_expect(*state, id, "sudo", "root", NULL, MON10, false, 0, NULL,
		   "escalate needs a token with an iat claim; this one has none");
	/* staleness does not matter below escalate */
	id->iat = MON10 - 3000;
	tfx_expect(*state, id, "sshd", "root", NULL, MON10, true, POL_CLASS_WRITE, "ro rw", NULL);
	id_identity_free(id);
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
	struct id_identity *id = tfx_policy_id("spiffe://td/runner");
	struct pol_decision d;

	/* invoked as u1 (in users), run as root through sudo (in run_as) */
	assert_true(decide_run_as(*state, id, "sudo", "u1", "root", &d));
	assert_int_equal(d.cls, POL_CLASS_ESCALATE);
	assert_string_equal(tfx_grant_names(&d), "ro");
	assert_string_equal(d.user, "u1");
	assert_string_equal(d.run_as, "root");
	assert_true(tfx_has_reason(&d,
				   "agent spiffe://td/runner may run as root through sudo (run_as "
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
	assert_true(tfx_has_reason(&d,
				   "user root is not in the users of [agent spiffe://td/runner]"));
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
	id_identity_free(id);

	/* users never implies run_as: ops may log in as root, not run as root as u1 */
	id = tfx_policy_id("spiffe://td/ops");
	assert_true(decide_run_as(*state, id, "sudo", "root", NULL, &d));
	pol_decision_clear(&d);
	assert_false(decide_run_as(*state, id, "sudo", "u1", "root", &d));
	assert_true(d.run_as_denied);
	assert_string_equal(d.denial, "agent spiffe://td/ops may not run as root through sudo: no "
			    "run_as for it in [agent spiffe://td/ops]");
	pol_decision_clear(&d);
	id_identity_free(id);

	/* every actor must allow the run-as too */
	id = tfx_policy_id("spiffe://td/runner");
	tfx_id_set_act(id, "{\"sub\":\"spiffe://td/ops\"}");
	assert_false(decide_run_as(*state, id, "sudo", "u1", "root", &d));
	assert_true(d.run_as_denied);
	assert_true(tfx_has_reason(&d, "actor 1 spiffe://td/ops may not run as root through sudo"));
	pol_decision_clear(&d);
	id_identity_free(id);
}

static void test_grant_filtering(void **state)
{
	struct id_identity *id = tfx_policy_id("spiffe://td/ops");
	struct pol_decision d;

	tfx_expect(*state, id, "agent-read", "root", NULL, MON10, true, POL_CLASS_READ, "ro",
		   "grant rw not issued: class write is above the session class read");
	tfx_expect(*state, id, "sshd", "root", NULL, MON10, true, POL_CLASS_WRITE, "ro rw",
		   "grant esc not issued: class escalate is above the session class write");
	/* the decision carries copies of the grant definitions */
	assert_true(tfx_decide(*state, id, "sshd", "root", NULL, MON10, NULL, &d));
	assert_int_equal(d.grants[1].source, POL_SOURCE_EXEC);
	assert_string_equal(d.grants[1].command, "/bin/broker rw");
	assert_int_equal(d.grants[1].ttl, 300);
	assert_null(d.grants[1].where.file);
	assert_string_equal(d.grants[0].audience, "https://x");
	pol_decision_clear(&d);
	id_identity_free(id);
}

static void test_decision_outlives_config(void **state)
{
	struct pol_errors e = { 0 };
	struct pol_config *cfg = NULL;
	struct id_identity *id = tfx_policy_id("spiffe://td/ops");
	struct pol_decision d;

	(void)state;
	assert_int_equal(pol_config_parse_text("c", tfx_policy_base, strlen(tfx_policy_base), &cfg,
					       &e), 0);
	assert_true(tfx_decide(cfg, id, "sshd", "root", NULL, MON10, NULL, &d));
	pol_config_unref(cfg);
	/* ASan would catch a reference into the freed configuration */
	assert_string_equal(d.grants[0].name, "ro");
	assert_string_equal(d.rule, "spiffe://td/ops");
	assert_true(tfx_has_reason(&d, "matches [agent spiffe://td/ops]"));
	pol_decision_clear(&d);
	id_identity_free(id);
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
	};

	umask(022);
	return cmocka_run_group_tests(tests, tfx_policy_setup, tfx_policy_teardown);
}
