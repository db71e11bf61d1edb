/*
 * server.c - what pam_agent_helper does with one request (docs/helper.md):
 * the request checked member by member, then open (acquire every grant
 * and place it in the session keyring, all or nothing) or close (revoke
 * what the session placed, in the kernel and at the brokers). The program
 * (helper/pam_agent_helper.c) reads the request and writes the reply; the
 * tests call hs_serve directly.
 *
 * Open is all or nothing: when one grant fails, every key this request
 * placed is revoked and every exec grant already issued is revoked at its
 * broker before the reply says which grant failed and why.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <keyutils.h>

#include "session.h"
#include "keyring.h"
#include "pa_json.h"
#include "server.h"
#include "util.h"

/* Default helper_timeout when a request does not say. */
#define DEFAULT_TIMEOUT 30
/* Reason buffers. */
#define WHY 1024

/* {"ok":false,"error":why,"grant":grant|null} */
json_t *hs_fail_reply(const char *why, const char *grant)
{
	return json_pack("{s:b, s:s, s:s?}", "ok", 0, "error", why, "grant", grant);
}

/* ---- request fields ---------------------------------------------------------------- */

/* A required non-empty string member without NUL (jansson refuses NUL). */
static int req_str(const json_t *o, const char *what, const char *name, const char **out,
		   char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, name);

	if (!json_is_string(v) || json_string_length(v) == 0)
		return pa_err(err, errlen, "%s: \"%s\" must be a non-empty string", what, name);
	*out = json_string_value(v);
	return 0;
}

/* An optional string member: absent or null gives NULL. */
static int opt_str(const json_t *o, const char *what, const char *name, const char **out,
		   char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, name);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0)
		return pa_err(err, errlen, "%s: \"%s\" must be a non-empty string or null", what,
			      name);
	*out = json_string_value(v);
	return 0;
}

/* An integer member within [min, max]; absent gives def when def >= min. */
static int int_in(const json_t *o, const char *what, const char *name, int64_t min, int64_t max,
		  int64_t def, int64_t *out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, name);

	if (v == NULL && def >= min) {
		*out = def;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return pa_err(err, errlen, "%s: \"%s\" must be an integer from %lld to %lld", what,
			      name, (long long)min, (long long)max);
	*out = json_integer_value(v);
	return 0;
}

/* Whether s is 1..max bytes of the characters in set (plus alphanumerics when alnum). */
static bool word_of(const char *s, size_t max, const char *set, bool alnum)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > max)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];
		bool isal = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9');

		if (!(alnum && isal) && strchr(set, c) == NULL)
			return false;
	}
	return true;
}

/* Parses one grant of an open request into *g. */
static int parse_grant(const json_t *o, struct ses_grant *g, char *err, size_t errlen)
{
	static const char *const names[] = { "name", "class", "source", "audience", "scope",
					     "ttl", "command", "revoke", "path", NULL };
	const char *cls, *source;
	enum pol_class c;

	if (!json_is_object(o))
		return pa_err(err, errlen, "request: a grant is not an object");
	if (ses_check_members(o, "grant", names, err, errlen) != 0 ||
	    req_str(o, "grant", "name", &g->name, err, errlen) != 0)
		return -1;
	if (!word_of(g->name, KR_NAME_MAX, "._-", true))
		return pa_err(err, errlen, "request: a grant name is not [A-Za-z0-9._-]{1,%d}",
			      KR_NAME_MAX);
	if (req_str(o, "grant", "class", &cls, err, errlen) != 0 ||
	    req_str(o, "grant", "source", &source, err, errlen) != 0 ||
	    opt_str(o, "grant", "audience", &g->audience, err, errlen) != 0 ||
	    opt_str(o, "grant", "scope", &g->scope, err, errlen) != 0 ||
	    opt_str(o, "grant", "command", &g->command, err, errlen) != 0 ||
	    opt_str(o, "grant", "revoke", &g->revoke, err, errlen) != 0 ||
	    opt_str(o, "grant", "path", &g->path, err, errlen) != 0 ||
	    int_in(o, "grant", "ttl", 1, 7 * 86400, -1, &g->ttl, err, errlen) != 0)
		return -1;
	if (pol_class_parse(cls, &c) != 0)
		return pa_err(err, errlen, "grant %s: unknown class", g->name);
	if (strcmp(source, "mint") == 0)
		g->source = POL_SOURCE_MINT;
	else if (strcmp(source, "exec") == 0)
		g->source = POL_SOURCE_EXEC;
	else if (strcmp(source, "file") == 0)
		g->source = POL_SOURCE_FILE;
	else
		return pa_err(err, errlen, "grant %s: unknown source", g->name);
	if (g->source == POL_SOURCE_MINT && g->audience == NULL)
		return pa_err(err, errlen, "grant %s: source mint needs an audience", g->name);
	if (g->source == POL_SOURCE_EXEC &&
	    (g->command == NULL || g->command[0] != '/' || (g->revoke && g->revoke[0] != '/')))
		return pa_err(err, errlen, "grant %s: source exec needs absolute commands",
			      g->name);
	if (g->source == POL_SOURCE_FILE && (g->path == NULL || g->path[0] != '/'))
		return pa_err(err, errlen, "grant %s: source file needs an absolute path", g->name);
	return 0;
}

/* Common members: op, sid, ring, agent, timeout. */
static int parse_common(const json_t *req, const char **sid, int64_t *ring, int64_t *timeout,
			bool ring_required, char *err, size_t errlen)
{
	if (req_str(req, "request", "sid", sid, err, errlen) != 0)
		return -1;
	if (!word_of(*sid, KR_SID_MAX, "0123456789abcdef", false))
		return pa_err(err, errlen, "request: \"sid\" must be 1 to %d lowercase hex digits",
			      KR_SID_MAX);
	if (int_in(req, "request", "ring", ring_required ? 1 : 0, INT32_MAX, -1, ring, err,
		   errlen) != 0 ||
	    int_in(req, "request", "timeout", 1, 3600, DEFAULT_TIMEOUT, timeout, err, errlen) != 0)
		return -1;
	return 0;
}

/* ---- deadlines ------------------------------------------------------------------------ */

/*
 * The helper keeps within the module's timeout: brokers that acquire
 * credentials must finish within the first half of it, revocations within
 * the rest (less a second to write the reply); each broker also within
 * SES_BROKER_TIMEOUT.
 */
struct budget {
	int64_t acquire_end; /* monotonic ms */
	int64_t end;
};

static void budget_init(struct budget *b, int64_t timeout_s)
{
	int64_t start = pa_mono_ms();

	b->acquire_end = start + timeout_s * 1000 / 2;
	b->end = start + timeout_s * 1000 - 1000;
	if (b->end < b->acquire_end)
		b->end = b->acquire_end;
}

/* Milliseconds a broker may take now, until end (0 when none left). */
static int broker_ms(int64_t end)
{
	int64_t left = end - pa_mono_ms();

	if (left <= 0)
		return 0;
	return left < SES_BROKER_TIMEOUT * 1000 ? (int)left : SES_BROKER_TIMEOUT * 1000;
}

/* A revocation gets at least a second, even when the budget is spent. */
static int revoke_ms(const struct budget *b)
{
	int ms = broker_ms(b->end);

	return ms < 1000 ? 1000 : ms;
}

/* ---- open -------------------------------------------------------------------------------- */

/* What one grant left behind during an open, for the rollback. */
struct placed {
	int32_t serial;	   /* key placed, or 0 */
	bool issued;	   /* an exec broker issued a credential */
	char *handle;	   /* its revoke handle, or NULL */
	int64_t expires_at;
};

/* Undoes an open: revokes every key placed, tells every broker that issued. */
static void rollback(const struct ses_grant *grants, struct placed *p, size_t n,
		     const struct ses_grant_ctx *ctx, const struct budget *b, char *note,
		     size_t notelen)
{
	char why[WHY];
	size_t i, used = 0;

	note[0] = '\0';
	for (i = 0; i < n; i++) {
		if (p[i].serial > 0 && kr_revoke(p[i].serial, why, sizeof(why)) != 0 &&
		    used < notelen)
			used += (size_t)snprintf(note + used, notelen - used,
						 "; key of grant %s not revoked: %s",
						 grants[i].name, why);
		if (p[i].issued && grants[i].revoke != NULL &&
		    ses_revoke_run(grants[i].revoke, p[i].handle, ctx->sid, ctx->agent,
				  grants[i].name, revoke_ms(b), why, sizeof(why)) != 0 &&
		    used < notelen)
			used += (size_t)snprintf(note + used, notelen - used,
						 "; broker of grant %s not told: %s",
						 grants[i].name, why);
	}
}

/* Acquires one grant into *cred within the budget. */
static int acquire(struct ses_grant_ctx *ctx, const struct ses_grant *g, const struct budget *b,
		   struct ses_cred *cred, char *err, size_t errlen)
{
	int ms;

	switch (g->source) {
	case POL_SOURCE_MINT:
		return ses_grant_mint(ctx, g, cred, err, errlen);
	case POL_SOURCE_FILE:
		return ses_grant_file(ctx, g, cred, err, errlen);
	case POL_SOURCE_EXEC:
		ms = broker_ms(b->acquire_end);
		if (ms <= 0)
			return pa_err(err, errlen, "no time left for the broker (helper_timeout)");
		return ses_grant_exec(ctx, g, ms, cred, err, errlen);
	}
	return pa_err(err, errlen, "unknown source");
}

/*
 * The members of an open request other than its grants into *ctx, *ring,
 * *timeout and *arr (the grants array): NULL, or the refusal's reply.
 */
static json_t *open_request(const json_t *req, struct ses_grant_ctx *ctx, int64_t *ring,
			    int64_t *timeout, const json_t **arr)
{
	static const char *const names[] = { "op", "sid", "ring", "agent", "task", "scope",
					     "act", "user", "uid", "max_session", "timeout",
					     "grants", "broker", NULL };
	static const char *const bnames[] = { "key", "issuer", "jwks", NULL };
	const json_t *broker, *act;
	int64_t uid, max_session;
	char why[WHY];

	if (ses_check_members(req, "request", names, why, sizeof(why)) != 0 ||
	    parse_common(req, &ctx->sid, ring, timeout, true, why, sizeof(why)) != 0 ||
	    req_str(req, "request", "agent", &ctx->agent, why, sizeof(why)) != 0 ||
	    opt_str(req, "request", "task", &ctx->task, why, sizeof(why)) != 0 ||
	    opt_str(req, "request", "scope", &ctx->scope, why, sizeof(why)) != 0 ||
	    req_str(req, "request", "user", &ctx->user, why, sizeof(why)) != 0 ||
	    int_in(req, "request", "uid", 0, UINT32_MAX - 1, -1, &uid, why, sizeof(why)) != 0 ||
	    int_in(req, "request", "max_session", 1, 7 * 86400, -1, &max_session, why,
		   sizeof(why)) != 0)
		return hs_fail_reply(why, NULL);
	ctx->max_session = max_session;
	act = json_object_get(req, "act");
	if (act != NULL && !json_is_null(act) && !json_is_object(act))
		return hs_fail_reply("request: \"act\" must be an object or null", NULL);
	ctx->act = json_is_object(act) ? act : NULL;
	broker = json_object_get(req, "broker");
	if (!json_is_object(broker) ||
	    ses_check_members(broker, "broker", bnames, why, sizeof(why)) != 0 ||
	    opt_str(broker, "broker", "key", &ctx->broker_key, why, sizeof(why)) != 0 ||
	    opt_str(broker, "broker", "issuer", &ctx->broker_issuer, why, sizeof(why)) != 0 ||
	    opt_str(broker, "broker", "jwks", &ctx->broker_jwks, why, sizeof(why)) != 0)
		return hs_fail_reply(json_is_object(broker) ? why : "request: no \"broker\" object",
				     NULL);
	if ((ctx->broker_key != NULL && ctx->broker_key[0] != '/') ||
	    (ctx->broker_jwks != NULL && ctx->broker_jwks[0] != '/'))
		return hs_fail_reply("request: broker paths must be absolute", NULL);
	*arr = json_object_get(req, "grants");
	if (!json_is_array(*arr) || json_array_size(*arr) > SES_GRANTS_MAX)
		return hs_fail_reply("request: \"grants\" must be an array of at most 256", NULL);
	return NULL;
}

/*
 * Acquires grant g and places it in the ring: 0 with *p filled, or -1 with
 * why (and *p holding an exec grant's handle to revoke, when it has one).
 */
static int place_grant(struct ses_grant_ctx *ctx, const struct ses_grant *g, int64_t ring,
		       struct kr_seen *seen, const struct budget *b, struct ses_cred *cred,
		       struct placed *p, char *why, size_t whylen)
{
	int64_t ttl = ses_grant_ttl(ctx, g), placed_at;
	int32_t serial;

	if (acquire(ctx, g, b, cred, why, whylen) != 0) {
		/* a failed broker that still named a handle gets revoked too */
		if (g->source == POL_SOURCE_EXEC && cred->handle != NULL) {
			p->issued = true;
			p->handle = cred->handle;
			cred->handle = NULL;
		}
		return -1;
	}
	if (g->source == POL_SOURCE_EXEC) {
		p->issued = true;
		p->handle = cred->handle;
		cred->handle = NULL;
	}
	/* the clock now, not at the start: a slow broker must not
	 * stretch the key past the credential's own expiry */
	placed_at = (int64_t)time(NULL);
	if (cred->expires_at != 0) {
		if (cred->expires_at <= placed_at)
			return pa_err(why, whylen, "the credential has already expired");
		if (cred->expires_at - placed_at < ttl)
			ttl = cred->expires_at - placed_at;
	}
	serial = kr_key_add_seen(seen, (int32_t)ring, g->name, cred->secret, cred->len, ttl, why,
				 whylen);
	ses_cred_clear(cred);
	if (serial <= 0)
		return -1;
	p->serial = serial;
	p->expires_at = placed_at + ttl;
	return 0;
}

/* The keys of a complete open, as its reply lists them; NULL when out of memory. */
static json_t *placed_keys(const struct ses_grant *grants, const struct placed *placed, size_t n)
{
	json_t *keys = json_array();
	size_t i;

	for (i = 0; keys != NULL && i < n; i++) {
		const char *revoke = grants[i].source == POL_SOURCE_EXEC ? grants[i].revoke : NULL;
		json_t *k = json_pack("{s:s, s:I, s:I, s:s?, s:s?}", "grant", grants[i].name,
				      "serial", (json_int_t)placed[i].serial, "expires_at",
				      (json_int_t)placed[i].expires_at, "handle", placed[i].handle,
				      "revoke", revoke);

		if (json_array_append_new(keys, k) != 0) {
			json_decref(keys);
			keys = NULL;
		}
	}
	return keys;
}

/* The broker key of hs_set_broker_key. */
static struct {
	const char *key, *jwks;
	const struct id_signer *signer;
} warm;

void hs_set_broker_key(const char *key_path, const char *jwks_path,
		       const struct id_signer *signer)
{
	warm.key = signer != NULL ? key_path : NULL;
	warm.jwks = signer != NULL ? jwks_path : NULL;
	warm.signer = signer;
}

/* Whether ctx may sign with the key loaded before the request. */
static bool warm_key_fits(const struct ses_grant_ctx *ctx)
{
	return warm.signer != NULL && ctx->broker_key != NULL &&
	       strcmp(ctx->broker_key, warm.key) == 0 &&
	       (ctx->broker_jwks == NULL ||
		(warm.jwks != NULL && strcmp(ctx->broker_jwks, warm.jwks) == 0));
}

static json_t *do_open(const json_t *req)
{
	struct ses_grant_ctx ctx = { 0 };
	struct ses_grant *grants = NULL;
	struct placed *placed = NULL;
	struct ses_cred cred = { 0 };
	struct kr_seen seen = { 0 };
	struct budget b;
	const json_t *arr = NULL;
	json_t *reply, *keys = NULL;
	char why[WHY], note[WHY], full[2 * WHY + 8];
	const char *failed = NULL;
	int64_t ring = 0, timeout = 0;
	size_t n = 0, i, j;
	bool borrowed = false;

	reply = open_request(req, &ctx, &ring, &timeout, &arr);
	if (reply != NULL)
		return reply;
	n = json_array_size(arr);
	if (n > 0) {
		grants = calloc(n, sizeof(*grants));
		placed = calloc(n, sizeof(*placed));
		if (grants == NULL || placed == NULL) {
			reply = hs_fail_reply("out of memory", NULL);
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		if (parse_grant(json_array_get(arr, i), &grants[i], why, sizeof(why)) != 0) {
			reply = hs_fail_reply(why, NULL);
			goto out;
		}
		for (j = 0; j < i; j++)
			if (strcmp(grants[i].name, grants[j].name) == 0) {
				reply = hs_fail_reply("request: a grant is listed twice",
						      grants[i].name);
				goto out;
			}
	}

	budget_init(&b, timeout);
	ctx.now = (int64_t)time(NULL);
	if (warm_key_fits(&ctx)) {
		/* a mint grant neither loads nor frees it (grants.c loads only when NULL) */
		ctx.signer = (struct id_signer *)warm.signer;
		borrowed = true;
	}
	for (i = 0; i < n; i++) {
		if (place_grant(&ctx, &grants[i], ring, &seen, &b, &cred, &placed[i], why,
				sizeof(why)) != 0) {
			failed = grants[i].name;
			goto rollback;
		}
	}
	keys = placed_keys(grants, placed, n);
	reply = keys != NULL ? json_pack("{s:b, s:O}", "ok", 1, "keys", keys) : NULL;
	if (reply != NULL)
		goto out;
	snprintf(why, sizeof(why), "out of memory");

rollback:
	ses_cred_clear(&cred);
	rollback(grants, placed, n, &ctx, &b, note, sizeof(note));
	/* a rollback that left something undone names no grant (only in the
	 * text): the module then revokes everything again and keeps the
	 * record for the reaper */
	if (note[0] == '\0' || failed == NULL)
		snprintf(full, sizeof(full), "%s%s", why, note);
	else
		snprintf(full, sizeof(full), "grant %s: %s%s", failed, why, note);
	reply = hs_fail_reply(full, note[0] == '\0' ? failed : NULL);
out:
	ses_cred_clear(&cred);
	kr_seen_clear(&seen);
	if (placed != NULL)
		for (i = 0; i < n; i++)
			free(placed[i].handle);
	free(placed);
	free(grants);
	json_decref(keys);
	if (!borrowed)
		id_signer_free(ctx.signer);
	return reply;
}

/* ---- close ------------------------------------------------------------------------------ */

/* The kernel side (ses_key_revoke) is session/revoke.c, which the module runs itself
 * for a session without brokers to tell. */
static json_t *do_close(const json_t *req)
{
	static const char *const names[] = { "op", "sid", "ring", "agent", "timeout", "keys",
					     NULL };
	struct ses_keys keys = { 0 };
	struct ses_ring_view view = { 0 };
	struct budget b;
	json_t *results = NULL, *reply = NULL;
	const char *sid, *agent;
	char why[WHY], broker[WHY + 16], note[WHY];
	int64_t ring, timeout;
	bool ok = true, ring_revoked = true;
	size_t i;

	if (ses_check_members(req, "request", names, why, sizeof(why)) != 0 ||
	    parse_common(req, &sid, &ring, &timeout, false, why, sizeof(why)) != 0 ||
	    opt_str(req, "request", "agent", &agent, why, sizeof(why)) != 0)
		return hs_fail_reply(why, NULL);
	if (ses_keys_from_json(json_object_get(req, "keys"), &keys, why, sizeof(why)) != 0) {
		char full[WHY + 16];

		snprintf(full, sizeof(full), "request: %s", why);
		return hs_fail_reply(full, NULL);
	}
	budget_init(&b, timeout);
	b.acquire_end = b.end; /* nothing to acquire: all of it for revocation */
	results = json_array();
	if (results == NULL) {
		reply = hs_fail_reply("out of memory", NULL);
		goto out;
	}
	ses_ring_view_read(&view, (int32_t)ring); /* before anything is revoked */
	for (i = 0; i < keys.n; i++) {
		const struct ses_key *k = &keys.v[i];
		bool revoked = ses_key_revoke(k->serial, k->grant, sid, &view, note, sizeof(note));
		json_t *r;

		if (note[0] != '\0')
			syslog(LOG_AUTHPRIV | LOG_WARNING, "session %s, grant %s: %s", sid,
			       k->grant, note);
		ok = ok && revoked;
		if (k->revoke == NULL) {
			snprintf(broker, sizeof(broker), "none");
		} else if (ses_revoke_run(k->revoke, k->handle, sid, agent, k->grant, revoke_ms(&b),
					 why, sizeof(why)) == 0) {
			snprintf(broker, sizeof(broker), "ok");
		} else {
			snprintf(broker, sizeof(broker), "failed: %s", why);
			ok = false;
		}
		r = json_pack("{s:s, s:I, s:b, s:s, s:s*}", "grant", k->grant, "serial",
			      (json_int_t)k->serial, "revoked", revoked, "broker", broker, "note",
			      note[0] != '\0' ? note : NULL);
		if (json_array_append_new(results, r) != 0) {
			reply = hs_fail_reply("out of memory", NULL);
			goto out;
		}
	}
	if (ring > 0)
		ring_revoked = kr_session_revoke((int32_t)ring, why, sizeof(why)) == 0;
	ok = ok && ring_revoked;
	reply = json_pack("{s:b, s:b, s:O}", "ok", ok, "ring_revoked", ring_revoked, "results",
			  results);
	if (reply == NULL)
		reply = hs_fail_reply("out of memory", NULL);
out:
	ses_ring_view_clear(&view);
	json_decref(results);
	ses_keys_clear(&keys);
	return reply;
}

json_t *hs_serve(const json_t *req)
{
	const json_t *op = json_object_get(req, "op");

	if (!json_is_object(req))
		return hs_fail_reply("request: not a JSON object", NULL);
	if (json_is_string(op) && strcmp(json_string_value(op), "open") == 0)
		return do_open(req);
	if (json_is_string(op) && strcmp(json_string_value(op), "close") == 0)
		return do_close(req);
	return hs_fail_reply("request: \"op\" must be \"open\" or \"close\"", NULL);
}
