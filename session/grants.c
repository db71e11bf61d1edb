/*
 * grants.c - the three grant sources of pam_agent_helper (docs/helper.md):
 * mint (a JWT signed with the host broker key), exec (a broker command in
 * the credential_process style) and file (a static secret from a
 * root-only file), plus broker revocation and JWKS publication.
 *
 * Every secret lives in a struct ses_cred or a buffer that is wiped on
 * every path; no message here ever quotes a broker's output.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "session.h"
#include "pa_json.h"
#include "util.h"

/* Bytes of randomness in a minted token's jti. */
#define JTI_BYTES 16

void ses_cred_clear(struct ses_cred *c)
{
	if (c->secret != NULL)
		pa_free_secret_buf(c->secret, c->len + 1);
	free(c->handle);
	c->secret = NULL;
	c->handle = NULL;
	c->len = 0;
	c->expires_at = 0;
}

int64_t ses_grant_ttl(const struct ses_grant_ctx *ctx, const struct ses_grant *g)
{
	return g->ttl < ctx->max_session ? g->ttl : ctx->max_session;
}

/* ---- commands ------------------------------------------------------------------ */

void ses_argv_free(char **argv)
{
	size_t i;

	if (argv == NULL)
		return;
	for (i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

int ses_split_command(const char *command, char ***argv, char *err, size_t errlen)
{
	char **v = NULL;
	const char *p = command;
	size_t n = 0;

	*argv = NULL;
	if (command == NULL || command[0] != '/')
		return pa_err(err, errlen, "the command must start with an absolute program path");
	v = calloc(SES_ARGV_MAX + 1, sizeof(*v));
	if (v == NULL)
		return pa_err(err, errlen, "out of memory");
	while (*p != '\0') {
		size_t len;

		while (*p == ' ' || *p == '\t')
			p++;
		len = strcspn(p, " \t");
		if (len == 0)
			break;
		if (n == SES_ARGV_MAX) {
			ses_argv_free(v);
			return pa_err(err, errlen, "the command has more than %d words",
				      SES_ARGV_MAX);
		}
		v[n] = strndup(p, len);
		if (v[n] == NULL) {
			ses_argv_free(v);
			return pa_err(err, errlen, "out of memory");
		}
		n++;
		p += len;
	}
	if (n == 0) { /* cannot happen: the command starts with '/' */
		ses_argv_free(v);
		return pa_err(err, errlen, "the command is empty");
	}
	*argv = v;
	return 0;
}

/* The program of argv, escaped for messages. */
static const char *prog_name(char *const *argv, char *buf, size_t len)
{
	return pa_escape(argv[0], strlen(argv[0]), buf, len);
}

/* ", stderr: FIRST LINE" when the child wrote something, else "". */
static void stderr_note(const struct ses_exchange *x, char *buf, size_t len)
{
	char line[PA_ESCAPE_MAX];
	size_t n = strcspn(x->errtext, "\n");

	buf[0] = '\0';
	if (n == 0)
		return;
	pa_escape(x->errtext, n, line, sizeof(line));
	snprintf(buf, len, " (stderr: %s)", line);
}

/* ---- expiry --------------------------------------------------------------------- */

/* Reads exactly n decimal digits at *p. Returns 0 and advances, or -1. */
static int digits(const char **p, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Parses an RFC 3339 date-time (fractions truncated, leap second 60 read as 59). */
static int parse_rfc3339(const char *s, int64_t *out)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int Y, M, D, h, mi, sec, oh = 0, om = 0, sign = 0, dim;
	const char *p = s;

	if (digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) || *p++ != '-' ||
	    digits(&p, 2, &D) || (*p != 'T' && *p != 't') || !*p++ || digits(&p, 2, &h) ||
	    *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' || digits(&p, 2, &sec))
		return -1;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
			return -1;
	} else {
		return -1;
	}
	if (*p != '\0' || M < 1 || M > 12 || D < 1 || h > 23 || mi > 59 || sec > 60)
		return -1;
	dim = mdays[M - 1];
	if (M == 2 && !((Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0))
		dim = 28;
	if (D > dim)
		return -1;
	if (sec == 60)
		sec = 59;
	*out = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec -
	       sign * (oh * 3600 + om * 60);
	return 0;
}

int ses_parse_expiry(const json_t *v, int64_t *out)
{
	if (json_is_integer(v)) {
		if (json_integer_value(v) <= 0)
			return -1;
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_string(v) && json_string_length(v) < 64)
		return parse_rfc3339(json_string_value(v), out) == 0 && *out > 0 ? 0 : -1;
	return -1;
}

/* ---- exec ------------------------------------------------------------------------ */

/* Sets key in obj to a string or null; counts a failure in *bad. */
static void put_str(json_t *obj, const char *key, const char *s, bool *bad)
{
	if (json_object_set_new(obj, key, s != NULL ? json_string(s) : json_null()) != 0)
		*bad = true;
}

/* Keeps the revoke handle of a broker answer in *handle, if it has a usable one. */
static int take_handle(const json_t *ans, char **handle)
{
	const json_t *h = json_object_get(ans, "revoke_handle");

	*handle = NULL;
	if (h == NULL || json_is_null(h))
		return 0;
	if (!json_is_string(h) || json_string_length(h) == 0 ||
	    json_string_length(h) > SES_HANDLE_MAX)
		return -1;
	*handle = strdup(json_string_value(h));
	return *handle != NULL ? 0 : -1;
}

/*
 * Runs a broker command line (the grant's command, role "broker", or its
 * revoke, role "revoke") with the JSON object in on its stdin, filling x;
 * prog gets the program's name for messages. 0 when it ran (the caller
 * judges its exit and output, and clears x), -1 with err otherwise. The one
 * way both issue and revoke run a broker.
 */
static int broker_run(const char *command, const char *role, const json_t *in, int timeout_ms,
		      struct ses_exchange *x, char *prog, size_t proglen, char *err, size_t errlen)
{
	char **argv = NULL, *text = NULL, why[256];
	int rc = -1;

	snprintf(prog, proglen, "?");
	if (ses_split_command(command, &argv, why, sizeof(why)) != 0)
		return pa_err(err, errlen, "%s", why);
	prog_name(argv, prog, proglen);
	text = pa_json_dumps(in, JSON_COMPACT);
	if (text == NULL) {
		pa_err(err, errlen, "%s %s: cannot encode its input", role, prog);
		goto out;
	}
	x->in = text;
	x->inlen = strlen(text);
	x->out_max = SES_BROKER_OUT_MAX;
	x->timeout_ms = timeout_ms;
	x->want_stderr = true;
	if (ses_exchange_run((const char *const *)argv, x, why, sizeof(why)) != 0) {
		pa_err(err, errlen, "%s %s: %s", role, prog, why);
		goto out;
	}
	rc = 0;
out:
	x->in = NULL;
	x->inlen = 0;
	free(text);
	ses_argv_free(argv);
	return rc;
}

int ses_grant_exec(const struct ses_grant_ctx *ctx, const struct ses_grant *g, int timeout_ms,
		  struct ses_cred *out, char *err, size_t errlen)
{
	struct ses_exchange x = { 0 };
	json_t *in = NULL, *ans = NULL;
	const json_t *sec, *exp;
	char prog[PA_ESCAPE_MAX], how[128], note[PA_ESCAPE_MAX + 16];
	json_error_t jerr = { 0 };
	bool bad = false;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	in = json_object();
	if (in == NULL) {
		pa_err(err, errlen, "out of memory");
		goto out;
	}
	put_str(in, "agent", ctx->agent, &bad);
	put_str(in, "task", ctx->task, &bad);
	put_str(in, "scope", ctx->scope, &bad);
	if (json_object_set_new(in, "ttl", json_integer(ses_grant_ttl(ctx, g))) != 0)
		bad = true;
	put_str(in, "sid", ctx->sid, &bad);
	put_str(in, "grant", g->name, &bad);
	put_str(in, "user", ctx->user, &bad);
	if (bad) {
		pa_err(err, errlen, "cannot encode the broker context");
		goto out;
	}
	if (broker_run(g->command, "broker", in, timeout_ms, &x, prog, sizeof(prog), err,
		       errlen) != 0)
		goto out;
	if (!x.overflow && x.outlen > 0)
		ans = pa_json_loadb(x.out, x.outlen, JSON_REJECT_DUPLICATES, &jerr);
	if (json_is_object(ans) && take_handle(ans, &out->handle) != 0) {
		pa_err(err, errlen, "broker %s: \"revoke_handle\" is not a string of 1 to %d bytes",
		       prog, SES_HANDLE_MAX);
		goto out;
	}
	if (!ses_exchange_ok(&x)) {
		stderr_note(&x, note, sizeof(note));
		pa_err(err, errlen, "broker %s %s%s", prog,
		       ses_exchange_describe(&x, how, sizeof(how)), note);
		goto out;
	}
	if (ans == NULL) {
		/* jansson's message can quote the input: give the position only */
		if (x.outlen == 0)
			pa_err(err, errlen, "broker %s printed nothing", prog);
		else
			pa_err(err, errlen,
			       "broker %s printed no valid JSON (error at line %d, column %d)",
			       prog, jerr.line, jerr.column);
		goto out;
	}
	if (!json_is_object(ans)) {
		pa_err(err, errlen, "broker %s printed JSON that is not an object", prog);
		goto out;
	}
	sec = json_object_get(ans, "secret");
	if (!json_is_string(sec) || json_string_length(sec) == 0) {
		pa_err(err, errlen, "broker %s printed no non-empty \"secret\" string", prog);
		goto out;
	}
	exp = json_object_get(ans, "expires_at");
	if (exp != NULL && !json_is_null(exp) && ses_parse_expiry(exp, &out->expires_at) != 0) {
		pa_err(err, errlen,
		       "broker %s: \"expires_at\" is neither epoch seconds nor an RFC 3339 time",
		       prog);
		goto out;
	}
	out->len = json_string_length(sec);
	out->secret = malloc(out->len + 1);
	if (out->secret == NULL) {
		out->len = 0;
		pa_err(err, errlen, "out of memory");
		goto out;
	}
	memcpy(out->secret, json_string_value(sec), out->len + 1);
	rc = 0;
out:
	if (rc != 0 && out->secret != NULL) {
		pa_free_secret_buf(out->secret, out->len + 1);
		out->secret = NULL;
		out->len = 0;
	}
	if (ans != NULL) {
		/* the parsed secret sits in jansson's memory: wipe it in place */
		sec = json_object_get(ans, "secret");
		if (json_is_string(sec))
			pa_overwrite((char *)json_string_value(sec), json_string_length(sec));
		json_decref(ans);
	}
	ses_exchange_clear(&x);
	json_decref(in);
	return rc;
}

int ses_revoke_run(const char *command, const char *handle, const char *sid, const char *agent,
		  const char *grant, int timeout_ms, char *err, size_t errlen)
{
	struct ses_exchange x = { 0 };
	json_t *in = json_object();
	char prog[PA_ESCAPE_MAX], how[128], note[PA_ESCAPE_MAX + 16];
	bool bad = false;
	int rc = -1;

	if (in == NULL)
		return pa_err(err, errlen, "out of memory");
	put_str(in, "handle", handle, &bad);
	put_str(in, "sid", sid, &bad);
	put_str(in, "agent", agent, &bad);
	put_str(in, "grant", grant, &bad);
	if (bad) {
		pa_err(err, errlen, "cannot encode the revoke context");
		goto out;
	}
	if (broker_run(command, "revoke", in, timeout_ms, &x, prog, sizeof(prog), err, errlen) != 0)
		goto out;
	if (!ses_exchange_ok(&x)) {
		stderr_note(&x, note, sizeof(note));
		pa_err(err, errlen, "revoke %s %s%s", prog,
		       ses_exchange_describe(&x, how, sizeof(how)), note);
		goto out;
	}
	rc = 0;
out:
	ses_exchange_clear(&x);
	json_decref(in);
	return rc;
}

/* ---- file ------------------------------------------------------------------------ */

int ses_grant_file(const struct ses_grant_ctx *ctx, const struct ses_grant *g, struct ses_cred *out,
		  char *err, size_t errlen)
{
	const struct pa_file_rules rules = {
		.owner = geteuid(),
		.or_root = false,
		.forbid_mode = 077,
		.max_size = SES_FILE_MAX,
	};
	char *buf = NULL;
	size_t len = 0;

	(void)ctx;
	memset(out, 0, sizeof(*out));
	if (g->path == NULL)
		return pa_err(err, errlen, "no path");
	if (pa_read_file_safely(g->path, &rules, &buf, &len, err, errlen) != 0)
		return -1;
	if (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	if (len == 0) {
		pa_free_secret_buf(buf, 1);
		return pa_err(err, errlen, "%s: the secret is empty", g->path);
	}
	out->secret = buf;
	out->len = len;
	return 0;
}

/* ---- mint ------------------------------------------------------------------------ */

int ses_write_jwks(const char *path, const struct id_signer *s, char *err, size_t errlen)
{
	json_t *doc = NULL, *keys = NULL, *jwk = NULL;
	char *text = NULL, *line = NULL;
	int rc = -1;

	if (path == NULL || path[0] != '/')
		return pa_err(err, errlen, "the JWKS path must be absolute");
	jwk = id_signer_public_jwk(s, "sig");
	keys = json_array();
	doc = json_object();
	if (jwk == NULL || keys == NULL || doc == NULL || json_array_append(keys, jwk) != 0 ||
	    json_object_set(doc, "keys", keys) != 0 ||
	    (text = pa_json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL ||
	    asprintf(&line, "%s\n", text) < 0) {
		line = NULL;
		pa_err(err, errlen, "%s: cannot encode the JWKS", path);
		goto out;
	}
	rc = pa_write_file_atomic(path, NULL, line, strlen(line), 0644, err, errlen);
out:
	free(line);
	free(text);
	json_decref(jwk);
	json_decref(keys);
	json_decref(doc);
	return rc;
}

/* A fresh jti: JTI_BYTES random bytes, base64url. NULL on failure. */
static char *new_jti(void)
{
	unsigned char raw[JTI_BYTES];
	size_t got = 0;
	char *jti;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return NULL;
		got += (size_t)n;
	}
	jti = id_b64url_encode(raw, sizeof(raw));
	pa_overwrite(raw, sizeof(raw));
	return jti;
}

int ses_grant_mint(struct ses_grant_ctx *ctx, const struct ses_grant *g, struct ses_cred *out,
		  char *err, size_t errlen)
{
	json_t *claims = NULL;
	char *jti = NULL, *token = NULL;
	char why[512];
	int64_t ttl = ses_grant_ttl(ctx, g);
	bool bad = false;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (ctx->broker_key == NULL)
		return pa_err(err, errlen, "source mint needs broker_key in [global]");
	if (ctx->broker_issuer == NULL || g->audience == NULL)
		return pa_err(err, errlen, "source mint needs a broker issuer and an audience");
	if (ctx->signer == NULL) {
		ctx->signer = id_signer_load(ctx->broker_key, ID_ALG_ES256, why, sizeof(why));
		if (ctx->signer == NULL)
			return pa_err(err, errlen, "broker key: %s", why);
		if (ctx->broker_jwks != NULL &&
		    ses_write_jwks(ctx->broker_jwks, ctx->signer, why, sizeof(why)) != 0) {
			id_signer_free(ctx->signer);
			ctx->signer = NULL;
			return pa_err(err, errlen, "cannot publish the broker JWKS: %s", why);
		}
	}
	jti = new_jti();
	claims = json_object();
	if (jti == NULL || claims == NULL) {
		pa_err(err, errlen, "cannot make a jti (getrandom) or out of memory");
		goto out;
	}
	put_str(claims, "iss", ctx->broker_issuer, &bad);
	put_str(claims, "sub", ctx->agent, &bad);
	put_str(claims, "aud", g->audience, &bad);
	if (g->scope != NULL)
		put_str(claims, "scope", g->scope, &bad);
	if (json_object_set_new(claims, "iat", json_integer(ctx->now)) != 0 ||
	    json_object_set_new(claims, "exp", json_integer(ctx->now + ttl)) != 0)
		bad = true;
	put_str(claims, "jti", jti, &bad);
	put_str(claims, "sid", ctx->sid, &bad);
	if (ctx->task != NULL)
		put_str(claims, "task", ctx->task, &bad);
	if (ctx->act != NULL && json_object_set(claims, "act", (json_t *)ctx->act) != 0)
		bad = true;
	if (bad) {
		pa_err(err, errlen, "cannot build the claims");
		goto out;
	}
	token = id_sign_jwt(ctx->signer, claims, why, sizeof(why));
	if (token == NULL) {
		pa_err(err, errlen, "cannot sign: %s", why);
		goto out;
	}
	out->secret = token;
	out->len = strlen(token);
	out->expires_at = ctx->now + ttl;
	rc = 0;
out:
	json_decref(claims);
	free(jti);
	return rc;
}
