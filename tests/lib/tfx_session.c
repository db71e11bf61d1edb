/*
 * tfx_session.c - see tfx_session.h.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "keyring.h"
#include "tfx_session.h"

void tfx_ses_sid(char *sid, size_t len)
{
	static unsigned counter;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(sid, len, "%08x%08lx%04x", (unsigned)getpid(), (unsigned long)ts.tv_nsec,
		 ++counter & 0xffff);
}

/* Forgets the grants of the fixture. */
static void clear_grants(struct tfx_ses *f)
{
	size_t i;

	for (i = 0; i < f->d.n_grants; i++) {
		free(f->grants[i].name);
		free(f->grants[i].audience);
		free(f->grants[i].scope);
		free(f->grants[i].command);
		free(f->grants[i].revoke);
		free(f->grants[i].path);
	}
	f->d.n_grants = 0;
}

int tfx_ses_setup(void **state)
{
	struct tfx_ses *f = tfx_tmp_new(sizeof(*f), "helper");
	char err[TFX_SES_ERRLEN];

	if (f == NULL)
		return -1;
	f->helper = getenv("PA_HELPER");
	tfx_ses_sid(f->sid, sizeof(f->sid));
	f->ring = kr_session_create(f->sid, 600, err, sizeof(err));
	if (f->ring <= 0) {
		fprintf(stderr, "kr_session_create: %s\n", err);
		tfx_tmp_free(f);
		return -1;
	}
	f->id.kind = ID_KIND_SPIFFE;
	f->id.agent_id = strdup(TFX_SES_AGENT);
	f->id.task = strdup("T-42");
	f->id.scope = strdup("read");
	f->id.act = json_pack("{s:s}", "sub", "spiffe://example.org/agents/orchestrator");
	snprintf(f->key_path, sizeof(f->key_path), "%s/broker.key", f->tmp.dir);
	snprintf(f->jwks_path, sizeof(f->jwks_path), "%s/broker.jwks", f->tmp.dir);
	f->g.broker_key = f->key_path;
	f->g.broker_issuer = (char *)"https://web01.example.org/broker";
	f->g.broker_jwks = f->jwks_path;
	f->g.helper = (char *)f->helper;
	f->g.helper_timeout = 20;
	f->d.allow = true;
	f->d.cls = POL_CLASS_READ;
	f->d.max_session = 900;
	f->d.grants = f->grants;
	*state = f;
	return 0;
}

int tfx_ses_teardown(void **state)
{
	struct tfx_ses *f = *state;
	char err[TFX_SES_ERRLEN];

	kr_session_revoke(f->ring, err, sizeof(err));
	clear_grants(f);
	free(f->id.agent_id);
	free(f->id.task);
	free(f->id.scope);
	json_decref(f->id.act);
	return tfx_tmp_free(f);
}

void tfx_ses_need_helper(const struct tfx_ses *f)
{
	if (f->helper == NULL || access(f->helper, X_OK) != 0) {
		print_message("PA_HELPER is not set to the built pam_agent_helper\n");
		skip();
	}
}

void tfx_ses_new(struct tfx_ses *f)
{
	char err[TFX_SES_ERRLEN];

	clear_grants(f);
	kr_session_revoke(f->ring, err, sizeof(err));
	tfx_ses_sid(f->sid, sizeof(f->sid));
	f->ring = kr_session_create(f->sid, 600, err, sizeof(err));
	if (f->ring <= 0)
		fail_msg("kr_session_create: %s", err);
}

void tfx_ses_grant(struct tfx_ses *f, const char *name, enum pol_source src, const char *a,
		   const char *b, int64_t ttl)
{
	struct pol_grant *g = &f->grants[f->d.n_grants++];

	memset(g, 0, sizeof(*g));
	g->name = strdup(name);
	g->cls = POL_CLASS_READ;
	g->source = src;
	g->ttl = ttl;
	switch (src) {
	case POL_SOURCE_MINT:
		g->audience = strdup(a);
		g->scope = b ? strdup(b) : NULL;
		break;
	case POL_SOURCE_EXEC:
		g->command = strdup(a);
		g->revoke = b ? strdup(b) : NULL;
		break;
	case POL_SOURCE_FILE:
		g->path = strdup(a);
		break;
	}
}

struct ses_open_args tfx_ses_open_args(struct tfx_ses *f)
{
	struct ses_open_args a = {
		.sid = f->sid,
		.ring = f->ring,
		.id = &f->id,
		.user = "svc-bot",
		.uid = 4242,
		.decision = &f->d,
		.global = &f->g,
	};
	return a;
}

void tfx_ses_broker_key(struct tfx_ses *f)
{
	char err[TFX_SES_ERRLEN];
	struct id_signer *s = id_signer_generate(ID_ALG_ES256, err, sizeof(err));

	assert_non_null(s);
	assert_int_equal(id_signer_save(s, f->key_path, err, sizeof(err)), 0);
	id_signer_free(s);
}

void tfx_ses_script(struct tfx_ses *f, const char *name, const char *body)
{
	char text[4096], *o = text;
	const char *p;

	o += snprintf(o, sizeof(text), "#!/bin/sh\n");
	for (p = body; *p; p++) {
		if (strncmp(p, "@D@", 3) == 0) {
			o += snprintf(o, sizeof(text) - (size_t)(o - text), "%s", f->tmp.dir);
			p += 2;
		} else {
			*o++ = *p;
		}
		assert_true((size_t)(o - text) < sizeof(text) - 1);
	}
	*o = '\0';
	tfx_write_at(f->tmp.dir, name, text, 0700);
}

const char *tfx_ses_read(const struct tfx_ses *f, const char *name)
{
	static char buf[1 << 16];
	char path[256];
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", f->tmp.dir, name);
	buf[0] = '\0';
	fp = fopen(path, "r");
	if (fp == NULL)
		return buf;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

int tfx_ses_lines(const struct tfx_ses *f, const char *name)
{
	const char *t = tfx_ses_read(f, name);
	int n = 0;

	for (; *t; t++)
		n += *t == '\n';
	return n;
}

const char tfx_ses_issue_body[] =
	"ctx=$(cat)\n"
	"printf '%s\\n' \"$ctx\" >> @D@/issue.ctx\n"
	"tr '\\0' '\\n' < /proc/$$/environ > @D@/broker.environ\n"
	"tr '\\0' ' ' < /proc/$$/cmdline > @D@/broker.cmdline\n"
	"tr '\\0' '\\n' < /proc/$PPID/environ > @D@/helper.environ\n"
	"tr '\\0' ' ' < /proc/$PPID/cmdline > @D@/helper.cmdline\n"
	"echo \"{\\\"secret\\\":\\\"" TFX_EXEC_SECRET "\\\",\\\"expires_at\\\":$(( $(date +%s) + 30 )),"
	"\\\"revoke_handle\\\":\\\"lease-1\\\"}\"\n";

const char tfx_ses_revoke_body[] = "cat >> @D@/revoked.log\necho >> @D@/revoked.log\n";
