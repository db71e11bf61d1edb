/*
 * event.c - the audit event builder: typed fields only, every string
 * capped, made valid UTF-8 and cleared of anything that looks like a
 * token, and one JSON line in a fixed key order (docs/audit.md).
 * Identifiers (agent, issuer, actors, jti, sid) are kept whole up to
 * AUD_ID_MAX and marked with the hash of the original when changed.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "audit.h"

struct aud_strlist {
	char **v;
	size_t n;
	size_t dropped; /* entries beyond AUD_LIST_MAX */
};

struct aud_key {
	char *grant;
	int32_t serial;
};

struct aud_event {
	enum aud_kind kind;
	enum aud_result result;
	struct timespec when;
	char *agent, *issuer, *task, *jti, *fingerprint;
	char *sid, *service, *user, *rhost, *tty, *rule;
	struct aud_strlist actors, grants, reasons;
	struct aud_key *keys;
	size_t n_keys, keys_dropped;
	bool has_class, has_max_session, has_duration, has_depth;
	enum pol_class cls;
	int64_t max_session, duration_ms;
	size_t depth;
	/* what attestation found (docs/attestation.md); rt_set: any of it */
	bool rt_set, rt_deleted, rt_has_uid;
	uid_t rt_uid;
	char *rt_absent, *rt_subject, *rt_exe, *rt_sha256, *rt_unit, *rt_parent_sha256, *rt_mutable;
};

const char *aud_kind_name(enum aud_kind kind)
{
	switch (kind) {
	case AUD_AUTHENTICATE: return "authenticate";
	case AUD_DECISION: return "decision";
	case AUD_CREDENTIAL_PLACED: return "credential_placed";
	case AUD_KEY_REVOKED: return "key_revoked";
	case AUD_REVOKE_FAILED: return "revoke_failed";
	case AUD_SESSION_CLOSED: return "session_closed";
	case AUD_TASK_BUDGET_EXCEEDED: return "task_budget_exceeded";
	case AUD_BUNDLE_FETCH: return "bundle_fetch";
	}
	return "unknown";
}

const char *aud_result_name(enum aud_result result)
{
	switch (result) {
	case AUD_RESULT_OK: return "ok";
	case AUD_RESULT_FAILED: return "failed";
	case AUD_RESULT_ALLOW: return "allow";
	case AUD_RESULT_DENY: return "deny";
	}
	return "unknown";
}

/* ---- sanitizing ------------------------------------------------------------------ */

/* Whether ch belongs to the base64url alphabet. */
static bool is_b64url(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '_';
}

/*
 * Length of a compact-JWS-looking run at p (a base64url segment starting
 * "eyJ" - the encoding of '{"' - followed by at least one '.' and more
 * base64url/'.' bytes), or 0.
 */
static size_t token_run(const unsigned char *p, size_t left)
{
	size_t i = 0, dots = 0;

	if (left < 4 || p[0] != 'e' || p[1] != 'y' || p[2] != 'J')
		return 0;
	while (i < left && (is_b64url(p[i]) || p[i] == '.')) {
		if (p[i] == '.')
			dots++;
		i++;
	}
	return dots > 0 ? i : 0;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when invalid. */
static size_t utf8_len(const unsigned char *p, size_t left)
{
	unsigned c = p[0];
	size_t n, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (left < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/*
 * A copy of s fit for the log: token-looking runs replaced by
 * "[redacted]", invalid UTF-8 by U+FFFD, cut at cap bytes on a character
 * boundary with "..." appended when cut. NULL when s is NULL or memory
 * ran out (*oom set).
 */
static char *sanitize(const char *s, size_t cap, bool *oom)
{
	static const char redacted[] = "[redacted]";
	static const char fffd[] = "\xef\xbf\xbd";
	const unsigned char *p = (const unsigned char *)s;
	size_t len, i = 0, o = 0;
	char *out;

	if (s == NULL)
		return NULL;
	len = strlen(s);
	out = malloc(cap + 4);
	if (out == NULL) {
		*oom = true;
		return NULL;
	}
	while (i < len) {
		size_t run = (i == 0 || !is_b64url(p[i - 1])) ? token_run(p + i, len - i) : 0;
		const char *piece;
		size_t plen;

		if (run > 0) {
			piece = redacted;
			plen = sizeof(redacted) - 1;
			i += run;
		} else if ((plen = utf8_len(p + i, len - i)) > 0) {
			piece = s + i;
			i += plen;
		} else {
			piece = fffd;
			plen = 3;
			i++;
		}
		if (o + plen > cap) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(out + o, piece, plen);
		o += plen;
	}
	out[o] = '\0';
	return out;
}

/*
 * A copy of the identifier s fit for the log: kept whole up to
 * AUD_ID_MAX bytes. When sanitize() had to change it (cut, a
 * token-looking run redacted, invalid UTF-8 replaced), " [sha256:HEX]"
 * of the original bytes is appended, so two different identifiers never
 * give the same field. The marker cannot occur in a SPIFFE ID (no space,
 * no brackets). NULL when s is NULL or memory ran out (*oom set).
 */
static char *sanitize_id(const char *s, bool *oom)
{
	static const char hexd[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	char *out = sanitize(s, AUD_ID_MAX, oom), *grown;
	size_t o;

	if (out == NULL || strcmp(out, s) == 0)
		return out;
	if (EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
		free(out);
		*oom = true;
		return NULL;
	}
	o = strlen(out);
	/* " [sha256:" + 64 hex + "]" + NUL */
	grown = realloc(out, o + 9 + 64 + 2);
	if (grown == NULL) {
		free(out);
		*oom = true;
		return NULL;
	}
	out = grown;
	memcpy(out + o, " [sha256:", 9);
	o += 9;
	for (i = 0; i < mdlen; i++) {
		out[o++] = hexd[md[i] >> 4];
		out[o++] = hexd[md[i] & 15];
	}
	out[o++] = ']';
	out[o] = '\0';
	return out;
}

/* Replaces *field by a sanitized copy of value (an identifier when is_id). */
static int set_field_as(char **field, const char *value, bool is_id)
{
	bool oom = false;
	char *s = is_id ? sanitize_id(value, &oom) : sanitize(value, AUD_STRING_MAX, &oom);

	if (oom)
		return -1;
	free(*field);
	*field = s;
	return 0;
}

/* Replaces *field by a sanitized copy of the free-text value. */
static int set_field(char **field, const char *value)
{
	return set_field_as(field, value, false);
}

/* Replaces *field by a sanitized copy of the identifier value. */
static int set_id_field(char **field, const char *value)
{
	return set_field_as(field, value, true);
}

/*
 * Appends a sanitized copy of value (capped at cap; cap 0: an identifier,
 * see sanitize_id); counts overflow. 0 or -1.
 */
static int list_add(struct aud_strlist *l, const char *value, size_t cap)
{
	bool oom = false;
	char **grown;
	char *s;

	if (value == NULL)
		return 0;
	if (l->n >= AUD_LIST_MAX) {
		l->dropped++;
		return 0;
	}
	s = cap == 0 ? sanitize_id(value, &oom) : sanitize(value, cap, &oom);
	if (s == NULL)
		return -1;
	grown = realloc(l->v, (l->n + 1) * sizeof(*grown));
	if (grown == NULL) {
		free(s);
		return -1;
	}
	l->v = grown;
	l->v[l->n++] = s;
	return 0;
}

/* Frees the entries of l; l is empty afterwards. */
static void list_clear(struct aud_strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* ---- the event ----------------------------------------------------------------------- */

struct aud_event *aud_event_new(enum aud_kind kind, enum aud_result result,
				const struct timespec *when)
{
	struct aud_event *ev = calloc(1, sizeof(*ev));

	if (ev == NULL)
		return NULL;
	ev->kind = kind;
	ev->result = result;
	if (when != NULL)
		ev->when = *when;
	else
		clock_gettime(CLOCK_REALTIME, &ev->when);
	return ev;
}

void aud_event_free(struct aud_event *ev)
{
	size_t i;

	if (ev == NULL)
		return;
	free(ev->agent);
	free(ev->issuer);
	free(ev->task);
	free(ev->jti);
	free(ev->fingerprint);
	free(ev->sid);
	free(ev->service);
	free(ev->user);
	free(ev->rhost);
	free(ev->tty);
	free(ev->rule);
	free(ev->rt_absent);
	free(ev->rt_subject);
	free(ev->rt_exe);
	free(ev->rt_sha256);
	free(ev->rt_unit);
	free(ev->rt_parent_sha256);
	free(ev->rt_mutable);
	list_clear(&ev->actors);
	list_clear(&ev->grants);
	list_clear(&ev->reasons);
	for (i = 0; i < ev->n_keys; i++)
		free(ev->keys[i].grant);
	free(ev->keys);
	free(ev);
}

int aud_event_set_agent(struct aud_event *ev, const char *agent_id)
{
	return set_id_field(&ev->agent, agent_id);
}

int aud_event_set_identity(struct aud_event *ev, const struct id_identity *id)
{
	const json_t *act;
	int rc = 0;
	size_t depth = 0;

	if (id == NULL)
		return 0;
	rc |= set_id_field(&ev->agent, id->agent_id);
	rc |= set_id_field(&ev->issuer, id->issuer);
	rc |= set_field(&ev->task, id->task);
	rc |= set_id_field(&ev->jti, id->jti);
	rc |= set_field(&ev->fingerprint, id->fingerprint[0] ? id->fingerprint : NULL);
	/* the actors, named as the policy engine names them */
	list_clear(&ev->actors);
	for (act = id->act; json_is_object(act) && depth < POL_DELEGATION_MAX;
	     act = json_object_get(act, "act"), depth++) {
		const char *sub = json_string_value(json_object_get(act, "sub"));
		const char *iss = json_string_value(json_object_get(act, "iss"));
		char *name = NULL;

		if (sub == NULL) {
			rc |= list_add(&ev->actors, "(no sub)", 0);
			continue;
		}
		if (strncmp(sub, "spiffe://", 9) != 0 && (iss != NULL || id->issuer != NULL)) {
			if (asprintf(&name, "%s#%s", iss ? iss : id->issuer, sub) < 0)
				return -1;
		}
		rc |= list_add(&ev->actors, name ? name : sub, 0);
		free(name);
	}
	return rc != 0 ? -1 : 0;
}

int aud_event_set_context(struct aud_event *ev, const char *service, const char *user,
			  const char *rhost, const char *tty)
{
	int rc = 0;

	rc |= set_field(&ev->service, service);
	rc |= set_field(&ev->user, user);
	rc |= set_field(&ev->rhost, rhost && *rhost ? rhost : NULL);
	rc |= set_field(&ev->tty, tty && *tty ? tty : NULL);
	return rc != 0 ? -1 : 0;
}

int aud_event_set_runtime(struct aud_event *ev, const struct pol_runtime *rt)
{
	int rc = 0;

	if (rt == NULL)
		return 0;
	ev->rt_set = true;
	rc |= set_field(&ev->rt_absent, rt->absent);
	rc |= set_id_field(&ev->rt_subject, rt->subject);
	rc |= set_field(&ev->rt_exe, rt->exe);
	rc |= set_id_field(&ev->rt_sha256, rt->exe_sha256);
	rc |= set_field(&ev->rt_unit, rt->unit);
	rc |= set_id_field(&ev->rt_parent_sha256, rt->parent_exe_sha256);
	rc |= set_field(&ev->rt_mutable, rt->exe_mutable);
	ev->rt_deleted = rt->exe_deleted;
	ev->rt_has_uid = rt->has_uid;
	ev->rt_uid = rt->uid;
	return rc != 0 ? -1 : 0;
}

int aud_event_set_session(struct aud_event *ev, const char *sid)
{
	return set_id_field(&ev->sid, sid);
}

void aud_event_set_class(struct aud_event *ev, enum pol_class cls)
{
	ev->has_class = cls != POL_CLASS_NONE;
	ev->cls = cls;
}

int aud_event_set_decision(struct aud_event *ev, const struct pol_decision *d)
{
	size_t i;
	int rc = 0;

	aud_event_set_class(ev, d->cls);
	ev->has_max_session = d->allow;
	ev->max_session = d->max_session;
	ev->has_depth = true;
	ev->depth = d->depth;
	rc |= set_field(&ev->rule, d->rule);
	for (i = 0; i < d->n_grants; i++)
		rc |= aud_event_add_grant(ev, d->grants[i].name);
	for (i = 0; i < d->n_reasons; i++)
		rc |= aud_event_add_reason(ev, d->reasons[i]);
	return rc != 0 ? -1 : 0;
}

int aud_event_add_reason(struct aud_event *ev, const char *text)
{
	return list_add(&ev->reasons, text, AUD_REASON_MAX);
}

int aud_event_add_grant(struct aud_event *ev, const char *name)
{
	return list_add(&ev->grants, name, AUD_STRING_MAX);
}

int aud_event_add_key(struct aud_event *ev, const char *grant, int32_t serial)
{
	struct aud_key *grown;
	bool oom = false;
	char *g;

	if (ev->n_keys >= AUD_LIST_MAX) {
		ev->keys_dropped++;
		return 0;
	}
	g = sanitize(grant ? grant : "", AUD_STRING_MAX, &oom);
	if (g == NULL)
		return -1;
	grown = realloc(ev->keys, (ev->n_keys + 1) * sizeof(*grown));
	if (grown == NULL) {
		free(g);
		return -1;
	}
	ev->keys = grown;
	ev->keys[ev->n_keys].grant = g;
	ev->keys[ev->n_keys].serial = serial;
	ev->n_keys++;
	return 0;
}

void aud_event_set_duration_ms(struct aud_event *ev, int64_t ms)
{
	ev->has_duration = true;
	ev->duration_ms = ms;
}

/* ---- JSON ------------------------------------------------------------------------------ */

/*
 * The line: jansson's compact JSON of the members in the walk's order
 * (aud_event_walk, which the journal's fields come from too), in ASCII
 * (JSON_COMPACT | JSON_ENSURE_ASCII), DEL escaped too (dump_line).
 */

struct walk {
	const struct aud_walker *w;
	void *ctx;
};

/* key and the string s, when s is not NULL. */
static void put_str(const struct walk *k, const char *key, const char *s)
{
	if (s != NULL)
		k->w->str(k->ctx, key, s);
}

/* key and the strings of l as an array (also when empty), and key_dropped. */
static void put_array(const struct walk *k, const char *key, const struct aud_strlist *list)
{
	size_t i;

	k->w->open(k->ctx, key, '[');
	for (i = 0; i < list->n; i++)
		k->w->str(k->ctx, NULL, list->v[i]);
	k->w->close(k->ctx, ']');
	if (list->dropped > 0) {
		char name[64];

		snprintf(name, sizeof(name), "%s_dropped", key);
		k->w->num(k->ctx, name, (long long)list->dropped);
	}
}

/* key and the list, when not empty. */
static void put_list(const struct walk *k, const char *key, const struct aud_strlist *list)
{
	if (list->n > 0)
		put_array(k, key, list);
}

/* The "runtime" object of an event. */
static void put_runtime(const struct walk *k, const struct aud_event *ev)
{
	if (!ev->rt_set)
		return;
	k->w->open(k->ctx, "runtime", '{');
	put_str(k, "absent", ev->rt_absent);
	put_str(k, "subject", ev->rt_subject);
	put_str(k, "exe", ev->rt_exe);
	if (ev->rt_deleted)
		k->w->boolean(k->ctx, "exe_deleted", true);
	put_str(k, "exe_sha256", ev->rt_sha256);
	put_str(k, "exe_mutable", ev->rt_mutable);
	put_str(k, "unit", ev->rt_unit);
	if (ev->rt_has_uid)
		k->w->num(k->ctx, "uid", (long long)ev->rt_uid);
	put_str(k, "parent_exe_sha256", ev->rt_parent_sha256);
	k->w->close(k->ctx, '}');
}

enum aud_kind aud_event_kind(const struct aud_event *ev)
{
	return ev->kind;
}

int aud_event_walk(const struct aud_event *ev, const struct aud_walker *w, void *ctx)
{
	const struct walk k = { w, ctx };
	char when[96], host[256], *h = NULL;
	unsigned ms = (unsigned)(ev->when.tv_nsec / 1000000) % 1000;
	time_t t = ev->when.tv_sec;
	struct tm tm;
	size_t i;

	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
	if (gethostname(host, sizeof(host)) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	if (host[0] != '\0') {
		bool oom = false;

		h = sanitize(host, AUD_STRING_MAX, &oom);
		if (h == NULL)
			return -1;
	}
	/* the documented order */
	w->open(ctx, NULL, '{');
	w->num(ctx, "v", AUD_FORMAT_VERSION);
	put_str(&k, "time", when);
	w->num(ctx, "epoch", (long long)ev->when.tv_sec);
	put_str(&k, "event", aud_kind_name(ev->kind));
	put_str(&k, "result", aud_result_name(ev->result));
	put_str(&k, "host", h);
	free(h);
	w->num(ctx, "pid", (long long)getpid());
	put_str(&k, "sid", ev->sid);
	put_str(&k, "agent", ev->agent);
	put_str(&k, "issuer", ev->issuer);
	put_list(&k, "actors", &ev->actors);
	if (ev->has_depth)
		w->num(ctx, "delegation_depth", (long long)ev->depth);
	put_str(&k, "task", ev->task);
	put_str(&k, "jti", ev->jti);
	put_str(&k, "token_sha256", ev->fingerprint);
	put_str(&k, "service", ev->service);
	put_str(&k, "user", ev->user);
	put_str(&k, "rhost", ev->rhost);
	put_str(&k, "tty", ev->tty);
	if (ev->has_class)
		put_str(&k, "class", pol_class_name(ev->cls));
	put_str(&k, "rule", ev->rule);
	if (ev->has_max_session)
		w->num(ctx, "max_session", (long long)ev->max_session);
	/* a decision always says which grants it issued, even none */
	if (ev->grants.n > 0 || ev->kind == AUD_DECISION)
		put_array(&k, "grants", &ev->grants);
	if (ev->n_keys > 0) {
		w->open(ctx, "keys", '[');
		for (i = 0; i < ev->n_keys; i++) {
			w->open(ctx, NULL, '{');
			w->str(ctx, "grant", ev->keys[i].grant);
			w->num(ctx, "serial", (long long)ev->keys[i].serial);
			w->close(ctx, '}');
		}
		w->close(ctx, ']');
		if (ev->keys_dropped > 0)
			w->num(ctx, "keys_dropped", (long long)ev->keys_dropped);
	}
	if (ev->has_duration)
		w->num(ctx, "duration_ms", (long long)ev->duration_ms);
	put_runtime(&k, ev);
	put_list(&k, "reasons", &ev->reasons);
	w->close(ctx, '}');
	return 0;
}

/*
 * The walk onto a jansson object: the line. Every string of the event is
 * valid UTF-8 (sanitize() made it so; the names and the time are ASCII)
 * and every key is one of the walk's constant names, so neither is
 * checked again.
 */
struct build {
	json_t *stack[4]; /* the open containers, stack[0] the line's object */
	int depth;
	bool bad;
	const struct aud_walker *also; /* visited too (the journal's fields), or NULL */
	void *also_ctx;
};

/* Adds v (a new reference) under key, or as the next element when key is NULL. */
static void b_put(struct build *b, const char *key, json_t *v)
{
	json_t *parent;

	if (v == NULL || b->depth == 0 || b->bad) {
		json_decref(v);
		b->bad = true;
		return;
	}
	parent = b->stack[b->depth - 1];
	if ((key != NULL ? json_object_set_new_nocheck(parent, key, v)
			 : json_array_append_new(parent, v)) != 0)
		b->bad = true;
}

static void b_str(void *ctx, const char *key, const char *s)
{
	struct build *b = ctx;

	b_put(b, key, json_string_nocheck(s));
	if (b->also != NULL)
		b->also->str(b->also_ctx, key, s);
}

static void b_num(void *ctx, const char *key, long long v)
{
	struct build *b = ctx;

	b_put(b, key, json_integer((json_int_t)v));
	if (b->also != NULL)
		b->also->num(b->also_ctx, key, v);
}

static void b_bool(void *ctx, const char *key, bool v)
{
	struct build *b = ctx;

	b_put(b, key, json_boolean(v));
	if (b->also != NULL)
		b->also->boolean(b->also_ctx, key, v);
}

static void b_open(void *ctx, const char *key, char bracket)
{
	struct build *b = ctx;
	json_t *c = bracket == '{' ? json_object() : json_array();

	if (b->also != NULL)
		b->also->open(b->also_ctx, key, bracket);
	if (c == NULL || b->bad || b->depth == (int)(sizeof(b->stack) / sizeof(b->stack[0]))) {
		json_decref(c);
		b->bad = true;
		return;
	}
	if (b->depth > 0) {
		/* the parent holds it; the stack borrows it */
		b_put(b, key, c);
		if (b->bad)
			return;
	}
	b->stack[b->depth++] = c;
}

static void b_close(void *ctx, char bracket)
{
	struct build *b = ctx;

	if (b->also != NULL)
		b->also->close(b->also_ctx, bracket);
	/* the line's own object stays on the stack: it is dumped */
	if (!b->bad && b->depth > 1)
		b->depth--;
}

/* Where the line is dumped (json_dump_callback): a heap buffer that grows. */
struct line_buf {
	char *text;
	size_t len, cap;
};

static int line_put(const char *chunk, size_t size, void *data)
{
	struct line_buf *l = data;

	if (size >= l->cap - l->len) { /* and one byte for the NUL */
		size_t cap = l->cap != 0 ? 2 * l->cap : 1024;
		char *grown;

		while (cap <= l->len + size)
			cap *= 2;
		grown = realloc(l->text, cap);
		if (grown == NULL)
			return -1;
		l->text = grown;
		l->cap = cap;
	}
	memcpy(l->text + l->len, chunk, size);
	l->len += size;
	return 0;
}

/*
 * The line of the object o: JSON_COMPACT | JSON_ENSURE_ASCII, in one pass
 * into one heap buffer (json_dumps copies it once more), or NULL. That
 * escapes everything below 0x20 and above 0x7e but the DEL byte (0x7f),
 * which JSON allows raw in a string: a claim could put it on the line.
 * Every raw DEL of the line is inside a string, so it becomes the escape
 * \u007f and the line stays printable ASCII.
 */
static char *dump_line(const json_t *o)
{
	struct line_buf l = { 0 };
	char *del;
	size_t at;

	if (json_dump_callback(o, line_put, &l, JSON_COMPACT | JSON_ENSURE_ASCII) != 0 ||
	    l.text == NULL)
		goto fail;
	while ((del = memchr(l.text, 0x7f, l.len)) != NULL) {
		at = (size_t)(del - l.text);
		/* 6 bytes more at the end, the tail moved over them and the DEL */
		if (line_put("\\u007f", 6, &l) != 0)
			goto fail;
		memmove(l.text + at + 6, l.text + at + 1, l.len - 6 - at - 1);
		memcpy(l.text + at, "\\u007f", 6);
		l.len--;
	}
	l.text[l.len] = '\0';
	return l.text;
fail:
	free(l.text);
	return NULL;
}

char *aud_event_line(const struct aud_event *ev, const struct aud_walker *also, void *ctx)
{
	static const struct aud_walker to_json = { b_str, b_num, b_bool, b_open, b_close };
	struct build b = { .also = also, .also_ctx = ctx };
	char *line = NULL;

	if (aud_event_walk(ev, &to_json, &b) != 0)
		b.bad = true;
	if (!b.bad && b.depth == 1)
		line = dump_line(b.stack[0]);
	if (b.depth > 0)
		json_decref(b.stack[0]);
	return line;
}

char *aud_event_to_json(const struct aud_event *ev)
{
	return aud_event_line(ev, NULL, NULL);
}
