/*
 * tfx_policy.c - see tfx_policy.h.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "tfx_id.h"
#include "tfx_policy.h"

/* ---- a configuration in files ------------------------------------------------------------ */

int tfx_conf_setup(void **state)
{
	struct tfx_conf *f = tfx_tmp_new(sizeof(*f), "conf");

	if (f == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/main.conf", f->tmp.dir);
	snprintf(f->dropins, sizeof(f->dropins), "%s/main.d", f->tmp.dir);
	*state = f;
	return 0;
}

int tfx_conf_teardown(void **state)
{
	return tfx_tmp_free(*state);
}

void tfx_dropin(struct tfx_conf *f, const char *name, const char *text)
{
	mkdir(f->dropins, 0755);
	tfx_write_at(f->dropins, name, text, 0644);
}

struct pol_config *tfx_load(struct tfx_conf *f, struct pol_errors *e)
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

void tfx_dump(const struct pol_errors *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		print_message("  error: %s\n", e->msgs[i]);
}

void tfx_refused(struct tfx_conf *f, const char *text, ...)
{
	struct pol_errors e = { 0 };
	struct pol_config *cfg;
	const char *want;
	char full[1024];
	size_t i = 0;
	va_list ap;

	tfx_write(f->path, text, 0644);
	cfg = tfx_load(f, &e);
	assert_null(cfg);
	va_start(ap, text);
	while ((want = va_arg(ap, const char *)) != NULL) {
		snprintf(full, sizeof(full), "%s:%s", f->path, want);
		if (i >= e.n || strcmp(e.msgs[i], full) != 0) {
			tfx_dump(&e);
			fail_msg("error %zu: expected \"%s\", got \"%s\"", i, full,
				 i < e.n ? e.msgs[i] : "(nothing)");
		}
		i++;
	}
	va_end(ap);
	if (i != e.n) {
		tfx_dump(&e);
		fail_msg("%zu errors, expected %zu", e.n, i);
	}
	pol_errors_clear(&e);
}

struct pol_config *tfx_loads(struct tfx_conf *f, const char *text)
{
	struct pol_errors e = { 0 };
	struct pol_config *cfg;

	tfx_write(f->path, text, 0644);
	cfg = tfx_load(f, &e);
	if (cfg == NULL) {
		tfx_dump(&e);
		fail_msg("configuration refused");
	}
	pol_errors_clear(&e);
	return cfg;
}

/* ---- decisions --------------------------------------------------------------------------- */

const char tfx_policy_base[] =
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

struct id_identity *tfx_policy_id(const char *agent_id)
{
	return tfx_id_new(agent_id, TFX_MON10 - 10, TFX_MON10 + 290);
}

int tfx_policy_setup(void **state)
{
	struct pol_errors e = { 0 };
	struct pol_config *cfg = NULL;
	size_t i;

	if (pol_config_parse_text("base.conf", tfx_policy_base, strlen(tfx_policy_base), &cfg,
				  &e) != 0) {
		for (i = 0; i < e.n; i++)
			fprintf(stderr, "%s\n", e.msgs[i]);
		pol_errors_clear(&e);
		return -1;
	}
	*state = cfg;
	return 0;
}

int tfx_policy_teardown(void **state)
{
	pol_config_unref(*state);
	return 0;
}

bool tfx_decide(const struct pol_config *cfg, const struct id_identity *id, const char *service,
		const char *user, const char *rhost, int64_t now, const struct pol_runtime *rt,
		struct pol_decision *d)
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

bool tfx_has_reason(const struct pol_decision *d, const char *text)
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

const char *tfx_grant_names(const struct pol_decision *d)
{
	static char buf[256];
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < d->n_grants; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", i ? " " : "",
				      d->grants[i].name);
	return buf;
}

void tfx_expect(const struct pol_config *cfg, const struct id_identity *id, const char *service,
		const char *user, const char *rhost, int64_t now, bool allow, enum pol_class cls,
		const char *grants, const char *why)
{
	struct pol_decision d;

	if (tfx_decide(cfg, id, service, user, rhost, now, NULL, &d) != allow) {
		size_t i;

		for (i = 0; i < d.n_reasons; i++)
			print_message("  - %s\n", d.reasons[i]);
		fail_msg("%s on %s as %s: expected %s", id ? id->agent_id : "(none)", service,
			 user, allow ? "allow" : "deny");
	}
	if (allow) {
		assert_int_equal(d.cls, cls);
		assert_string_equal(tfx_grant_names(&d), grants);
	}
	if (why != NULL)
		assert_true(tfx_has_reason(&d, why));
	pol_decision_clear(&d);
}
