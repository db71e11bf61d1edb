/*
 * fixtures.c - see fixtures.h.
 */
#include "config.h"

#include <limits.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixtures.h"

void fx_domain_init(struct fx_domain *d, const char *name, enum id_alg alg)
{
	char err[256], file[128];
	json_t *jwk, *bundle;
	char *text;

	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->signer = id_signer_generate(alg, err, sizeof(err));
	if (d->signer == NULL)
		fail_msg("signer: %s", err);
	jwk = id_signer_public_jwk(d->signer, "jwt-svid");
	bundle = json_pack("{s:[o], s:i}", "keys", jwk, "spiffe_refresh_hint", 300);
	assert_non_null(bundle);
	text = json_dumps(bundle, JSON_INDENT(2));
	assert_non_null(text);
	snprintf(file, sizeof(file), "%s.bundle.json", name);
	snprintf(d->bundle, sizeof(d->bundle), "%s", fx_file(file, text, 0644));
	free(text);
	json_decref(bundle);
}

void fx_domain_free(struct fx_domain *d)
{
	id_signer_free(d->signer);
	d->signer = NULL;
}

char *fx_mint(const struct fx_domain *d, const char *sub, const char *aud,
	      int64_t iat, int64_t exp, const char *extra_json)
{
	static unsigned long counter;
	char err[256], jti[64];
	json_t *claims, *extra = NULL, *value;
	const char *key;
	void *tmp;
	char *token;

	snprintf(jti, sizeof(jti), "jti-%ld-%lu", (long)getpid(), ++counter);
	claims = json_pack("{s:s, s:s, s:I, s:I, s:s}", "sub", sub, "aud", aud,
			   "iat", (json_int_t)iat, "exp", (json_int_t)exp, "jti", jti);
	assert_non_null(claims);
	if (extra_json != NULL) {
		extra = json_loads(extra_json, 0, NULL);
		if (extra == NULL)
			fail_msg("bad extra claims %s", extra_json);
		json_object_foreach_safe(extra, tmp, key, value) {
			if (json_is_null(value))
				json_object_del(claims, key);
			else
				json_object_set(claims, key, value);
		}
	}
	token = id_sign_jwt(d->signer, claims, err, sizeof(err));
	if (token == NULL)
		fail_msg("sign: %s", err);
	json_decref(claims);
	json_decref(extra);
	return token;
}

const char *fx_user(void)
{
	struct passwd *pw = getpwuid(geteuid());

	assert_non_null(pw);
	return pw->pw_name;
}

const char *fx_file(const char *name, const char *content, mode_t mode)
{
	size_t cap = strlen(content) * 2 + 8192, o = 0;
	char *text = malloc(cap);
	const char *p, *path;

	assert_non_null(text);
	for (p = content; *p != '\0'; p++) {
		const char *add = NULL;

		if (strncmp(p, "@DIR@", 5) == 0) {
			add = pa_harness_dir();
			p += 4;
		} else if (strncmp(p, "@USER@", 6) == 0) {
			add = fx_user();
			p += 5;
		}
		if (add != NULL) {
			assert_true(o + strlen(add) < cap);
			memcpy(text + o, add, strlen(add));
			o += strlen(add);
		} else {
			assert_true(o + 1 < cap);
			text[o++] = *p;
		}
	}
	text[o] = '\0';
	path = pa_harness_file(name, text, (int)mode);
	free(text);
	return path;
}

int fx_file_has(const char *name, const char *text)
{
	char path[4096], *buf;
	long len;
	FILE *f;
	int found;

	snprintf(path, sizeof(path), "%s/%s", pa_harness_dir(), name);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)len + 1);
	assert_non_null(buf);
	if (fread(buf, 1, (size_t)len, f) != (size_t)len)
		fail_msg("read %s", path);
	fclose(f);
	found = strstr(buf, text) != NULL;
	free(buf);
	return found;
}

struct fx_domain fx_example;
int64_t fx_now;

int fx_setup(void **state)
{
	(void)state;
	fx_now = (int64_t)time(NULL);
	fx_domain_init(&fx_example, "example.org", ID_ALG_ES256);
	return 0;
}

int fx_teardown(void **state)
{
	(void)state;
	fx_domain_free(&fx_example);
	return 0;
}

const char *fx_helper(void)
{
	static char helper[PATH_MAX + 32];
	char top_abs[PATH_MAX];
	const char *top = getenv("top_builddir");

	if (realpath(top != NULL ? top : ".", top_abs) == NULL)
		return NULL;
	snprintf(helper, sizeof(helper), "%s/pam_agent_helper", top_abs);
	if (access(helper, X_OK) != 0) {
		fprintf(stderr, "no helper at %s\n", helper);
		return NULL;
	}
	return helper;
}

void fx_exec_broker(void)
{
	fx_file("issue.sh", "#!/bin/sh\ncat >/dev/null\n"
			    "echo '{\"secret\":\"lease-secret\",\"revoke_handle\":\"h-1\"}'\n",
		0755);
	fx_file("revoke.sh", "#!/bin/sh\n{ cat; echo; } >> @DIR@/revoked.log\n", 0755);
}

int fx_conv(int n, const struct pam_message **msg, struct pam_response **resp, void *appdata)
{
	struct pam_response *r = calloc((size_t)n, sizeof(*r));
	int i;

	if (r == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF && appdata != NULL) {
			r[i].resp = strdup(appdata);
			if (r[i].resp == NULL) {
				while (i-- > 0)
					free(r[i].resp);
				free(r);
				return PAM_BUF_ERR;
			}
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

pam_handle_t *fx_start(const char *service, const char *token)
{
	struct pam_conv c = { fx_conv, (void *)token };
	pam_handle_t *pamh = NULL;

	/* pam_start keeps a copy of c */
	assert_int_equal(pam_start(service, fx_user(), &c, &pamh), PAM_SUCCESS);
	return pamh;
}

void fx_expect_log(const char *text)
{
	if (!pa_harness_log_has(text))
		fail_msg("log lacks \"%s\"; log was:\n%s", text, pa_harness_log());
}

void fx_expect_no_log(const char *text)
{
	if (pa_harness_log_has(text))
		fail_msg("log has \"%s\"; log was:\n%s", text, pa_harness_log());
}

int fx_main(int argc, char **argv, const struct pa_service *services, const char *name,
	    const struct CMUnitTest *tests, size_t count, CMFixtureFunction setup,
	    CMFixtureFunction teardown)
{
	int ret = pa_harness_init(argc, argv, services);

	if (ret != 0)
		return ret;
	return _cmocka_run_group_tests(name, tests, count, setup, teardown);
}
