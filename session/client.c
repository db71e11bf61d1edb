/*
 * client.c - the module's side of pam_agent_helper (session/session.h):
 * ses_run, the request builders and the reply parsers. The child exchange
 * it runs the helper with is exchange.c. No PAM headers: the module calls
 * these from its session code.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "session.h"
#include "keyring.h"
#include "pa_json.h"
#include "util.h"

/* The first line of a child's stderr, escaped for a log line ("" when none). */
static void first_line(const char *text, char *out, size_t outlen)
{
	size_t n = strcspn(text, "\n");

	pa_escape(text, n, out, outlen);
}

/* ---- ses_run ------------------------------------------------------------------- */

int ses_run(const char *helper_path, const json_t *request, int timeout_s, json_t **reply,
	   char *err, size_t errlen)
{
	struct ses_exchange x = { 0 };
	const char *argv[2] = { helper_path, NULL };
	char why[128], line[PA_ESCAPE_MAX], reason[300];
	json_error_t jerr;
	json_t *r = NULL;
	char *text = NULL;
	int rc = -1;

	*reply = NULL;
	if (helper_path == NULL || helper_path[0] != '/')
		return pa_err(err, errlen, "the helper path must be absolute");
	if (timeout_s <= 0 || timeout_s > 3600)
		return pa_err(err, errlen, "helper timeout %d s out of range", timeout_s);
	text = pa_json_dumps(request, JSON_COMPACT);
	if (text == NULL)
		return pa_err(err, errlen, "cannot encode the helper request");
	x.in = text;
	x.inlen = strlen(text);
	x.out_max = SES_REPLY_MAX;
	x.timeout_ms = timeout_s * 1000;
	x.want_stderr = true;
	if (ses_exchange_run(argv, &x, reason, sizeof(reason)) != 0) {
		pa_escape(helper_path, strlen(helper_path), line, sizeof(line));
		pa_err(err, errlen, "helper %s: %s", line, reason);
		goto out;
	}
	if (x.timed_out) {
		pa_err(err, errlen, "helper timed out after %ds", timeout_s);
		goto out;
	}
	if (x.overflow) {
		pa_err(err, errlen, "helper reply larger than %d bytes", SES_REPLY_MAX);
		goto out;
	}
	first_line(x.errtext, line, sizeof(line));
	ses_exchange_describe(&x, why, sizeof(why));
	if (x.outlen > 0)
		r = pa_json_loadb(x.out, x.outlen, JSON_REJECT_DUPLICATES, &jerr);
	if (r == NULL || !json_is_object(r) || !json_is_boolean(json_object_get(r, "ok"))) {
		if (r == NULL && x.outlen > 0)
			pa_escape(jerr.text, strlen(jerr.text), reason, sizeof(reason));
		else
			snprintf(reason, sizeof(reason), "%s",
				 x.outlen ? "not an object with \"ok\"" : "no reply");
		pa_err(err, errlen, "helper %s without a valid reply (%s)%s%s", why, reason,
		       line[0] ? ": " : "", line);
		goto out;
	}
	if (json_is_true(json_object_get(r, "ok")) && !ses_exchange_ok(&x) && x.reaped) {
		pa_err(err, errlen, "helper %s after an ok reply", why);
		goto out;
	}
	*reply = r;
	r = NULL;
	rc = 0;
out:
	json_decref(r);
	ses_exchange_clear(&x);
	free(text);
	return rc;
}

/* ---- requests ------------------------------------------------------------------ */

/* A JSON string, or null for NULL. */
static json_t *str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

/* Sets key to value in obj, taking the reference; counts a failure in *bad. */
static void put(json_t *obj, const char *key, json_t *value, bool *bad)
{
	if (value == NULL || json_object_set_new(obj, key, value) != 0)
		*bad = true;
}

/* The request form of one grant of a decision. */
static json_t *grant_to_json(const struct pol_grant *g)
{
	json_t *o = json_object();
	bool bad = o == NULL;

	if (bad)
		return NULL;
	put(o, "name", json_string(g->name), &bad);
	put(o, "class", json_string(pol_class_name(g->cls)), &bad);
	put(o, "source", json_string(pol_source_name(g->source)), &bad);
	put(o, "audience", str_or_null(g->audience), &bad);
	put(o, "scope", str_or_null(g->scope), &bad);
	put(o, "ttl", json_integer(g->ttl), &bad);
	put(o, "command", str_or_null(g->command), &bad);
	put(o, "revoke", str_or_null(g->revoke), &bad);
	put(o, "path", str_or_null(g->path), &bad);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *ses_open_request(const struct ses_open_args *a, char *err, size_t errlen)
{
	const struct pol_decision *d = a->decision;
	const struct pol_global *g = a->global;
	char host[256], issuer[300];
	json_t *req = NULL, *grants = NULL, *broker = NULL;
	bool bad = false;
	size_t i;

	if (a->sid == NULL || a->id == NULL || a->id->agent_id == NULL || a->user == NULL ||
	    d == NULL || g == NULL || a->ring <= 0) {
		pa_err(err, errlen, "incomplete session for the helper");
		return NULL;
	}
	if (g->broker_issuer != NULL) {
		snprintf(issuer, sizeof(issuer), "%s", g->broker_issuer);
	} else {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		snprintf(issuer, sizeof(issuer), "pam_agent:%s", host);
	}
	req = json_object();
	grants = json_array();
	broker = json_object();
	if (req == NULL || grants == NULL || broker == NULL) {
		bad = true;
		goto out;
	}
	put(req, "op", json_string("open"), &bad);
	put(req, "sid", json_string(a->sid), &bad);
	put(req, "ring", json_integer(a->ring), &bad);
	put(req, "agent", json_string(a->id->agent_id), &bad);
	put(req, "task", str_or_null(a->id->task), &bad);
	put(req, "scope", str_or_null(a->id->scope), &bad);
	put(req, "act", a->id->act != NULL ? json_deep_copy(a->id->act) : json_null(), &bad);
	put(req, "user", json_string(a->user), &bad);
	put(req, "uid", json_integer((json_int_t)a->uid), &bad);
	put(req, "max_session", json_integer(d->max_session), &bad);
	put(req, "timeout", json_integer(g->helper_timeout), &bad);
	for (i = 0; i < d->n_grants && !bad; i++)
		if (json_array_append_new(grants, grant_to_json(&d->grants[i])) != 0)
			bad = true;
	put(broker, "key", str_or_null(g->broker_key), &bad);
	put(broker, "issuer", json_string(issuer), &bad);
	put(broker, "jwks", str_or_null(g->broker_jwks), &bad);
	put(req, "grants", grants, &bad);
	grants = NULL;
	put(req, "broker", broker, &bad);
	broker = NULL;
out:
	json_decref(grants);
	json_decref(broker);
	if (bad) {
		json_decref(req);
		pa_err(err, errlen, "cannot build the helper request (out of memory or bad text)");
		return NULL;
	}
	return req;
}

json_t *ses_keys_to_json(const struct ses_keys *k)
{
	json_t *arr = json_array();
	bool bad = arr == NULL;
	size_t i;

	for (i = 0; !bad && i < k->n; i++) {
		const struct ses_key *key = &k->v[i];
		json_t *o = json_object();

		if (o == NULL) {
			bad = true;
			break;
		}
		put(o, "grant", json_string(key->grant), &bad);
		put(o, "serial", json_integer(key->serial), &bad);
		put(o, "expires_at", json_integer(key->expires_at), &bad);
		put(o, "revoke", str_or_null(key->revoke), &bad);
		put(o, "handle", str_or_null(key->handle), &bad);
		if (json_array_append_new(arr, o) != 0)
			bad = true;
	}
	if (bad) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

json_t *ses_close_request(const char *sid, int32_t ring, const char *agent,
			 const struct ses_keys *keys, int timeout_s)
{
	json_t *req = json_object();
	bool bad = req == NULL;

	if (bad)
		return NULL;
	put(req, "op", json_string("close"), &bad);
	put(req, "sid", sid ? json_string(sid) : NULL, &bad);
	put(req, "ring", json_integer(ring > 0 ? ring : 0), &bad);
	put(req, "agent", str_or_null(agent), &bad);
	put(req, "timeout", json_integer(timeout_s), &bad);
	put(req, "keys", ses_keys_to_json(keys), &bad);
	if (bad) {
		json_decref(req);
		return NULL;
	}
	return req;
}

/* ---- replies ------------------------------------------------------------------ */

void ses_keys_clear(struct ses_keys *k)
{
	size_t i;

	for (i = 0; i < k->n; i++) {
		free(k->v[i].grant);
		free(k->v[i].handle);
		free(k->v[i].revoke);
	}
	free(k->v);
	k->v = NULL;
	k->n = 0;
}

/*
 * Copies a reason the helper wrote into out: as it is when it is printable
 * ASCII (the helper escapes what it quotes), else escaped. Capped.
 */
static void reason_text(const char *in, size_t inlen, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; i < inlen; i++)
		if ((unsigned char)in[i] < 0x20 || (unsigned char)in[i] > 0x7e)
			break;
	if (i < inlen) {
		pa_escape(in, inlen, out, outlen);
		return;
	}
	snprintf(out, outlen, "%.*s", (int)(inlen < outlen ? inlen : outlen - 1), in);
}

int ses_check_members(const json_t *o, const char *what, const char *const names[], char *err,
		     size_t errlen)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)o, key, v) {
		size_t i;

		(void)v;
		for (i = 0; names[i] != NULL; i++)
			if (strcmp(names[i], key) == 0)
				break;
		if (names[i] == NULL) {
			char shown[PA_ESCAPE_MAX];

			pa_escape(key, strlen(key), shown, sizeof(shown));
			return pa_err(err, errlen, "%s: unknown member \"%s\"", what, shown);
		}
	}
	return 0;
}

/* A copy of an optional string member (NULL for null/absent); -1 when of another type. */
static int opt_string(const json_t *o, const char *name, char **out)
{
	const json_t *v = json_object_get(o, name);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	*out = strdup(json_string_value(v));
	return *out != NULL ? 0 : -1;
}

/* A serial member: an integer in 1..INT32_MAX. */
static int get_serial(const json_t *o, const char *name, int32_t *out)
{
	const json_t *v = json_object_get(o, name);

	if (!json_is_integer(v) || json_integer_value(v) <= 0 ||
	    json_integer_value(v) > INT32_MAX)
		return -1;
	*out = (int32_t)json_integer_value(v);
	return 0;
}

/* Reads one key object (reply or state form) into *key. */
static int key_from_json(const json_t *o, struct ses_key *key, char *err, size_t errlen)
{
	static const char *const names[] = { "grant", "serial", "expires_at", "handle",
					     "revoke", NULL };
	const json_t *exp;

	if (!json_is_object(o))
		return pa_err(err, errlen, "a key is not an object");
	if (ses_check_members(o, "key", names, err, errlen) != 0)
		return -1;
	if (!json_is_string(json_object_get(o, "grant")) ||
	    json_string_length(json_object_get(o, "grant")) == 0 ||
	    json_string_length(json_object_get(o, "grant")) > KR_NAME_MAX)
		return pa_err(err, errlen, "a key has no valid \"grant\"");
	if (get_serial(o, "serial", &key->serial) != 0)
		return pa_err(err, errlen, "a key has no valid \"serial\"");
	exp = json_object_get(o, "expires_at");
	if (exp != NULL && !json_is_integer(exp))
		return pa_err(err, errlen, "a key has a bad \"expires_at\"");
	key->expires_at = exp != NULL ? json_integer_value(exp) : 0;
	key->grant = strdup(json_string_value(json_object_get(o, "grant")));
	if (key->grant == NULL)
		return pa_err(err, errlen, "out of memory");
	if (opt_string(o, "handle", &key->handle) != 0 ||
	    opt_string(o, "revoke", &key->revoke) != 0)
		return pa_err(err, errlen, "a key has a bad \"handle\" or \"revoke\"");
	return 0;
}

int ses_keys_from_json(const json_t *arr, struct ses_keys *out, char *err, size_t errlen)
{
	size_t i, n;

	out->v = NULL;
	out->n = 0;
	if (!json_is_array(arr))
		return pa_err(err, errlen, "\"keys\" is not an array");
	n = json_array_size(arr);
	if (n > SES_GRANTS_MAX)
		return pa_err(err, errlen, "too many keys");
	if (n == 0)
		return 0;
	out->v = calloc(n, sizeof(*out->v));
	if (out->v == NULL)
		return pa_err(err, errlen, "out of memory");
	for (i = 0; i < n; i++) {
		out->n = i + 1;
		if (key_from_json(json_array_get(arr, i), &out->v[i], err, errlen) != 0) {
			ses_keys_clear(out);
			return -1;
		}
	}
	return 0;
}

/* Whether two optional strings are equal (NULL only equals NULL). */
static bool same_opt(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int ses_open_reply_parse(const json_t *reply, const struct pol_decision *d, struct ses_keys *out,
			char *failed, size_t failedlen, char *err, size_t errlen)
{
	static const char *const ok_names[] = { "ok", "keys", NULL };
	static const char *const fail_names[] = { "ok", "error", "grant", NULL };
	char why[512], shown[PA_ESCAPE_MAX];
	const json_t *v;
	size_t i;

	out->v = NULL;
	out->n = 0;
	if (failed != NULL && failedlen > 0)
		failed[0] = '\0';
	if (!json_is_object(reply) || !json_is_boolean(json_object_get(reply, "ok")))
		return pa_err(err, errlen, "helper reply: not an object with \"ok\"");
	if (json_is_false(json_object_get(reply, "ok"))) {
		const char *e;

		if (ses_check_members(reply, "refusal", fail_names, why, sizeof(why)) != 0)
			return pa_err(err, errlen, "helper reply: %s", why);
		v = json_object_get(reply, "error");
		/* an empty reason would leave err empty: the caller logs nothing */
		e = json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) :
								      "no reason given";
		v = json_object_get(reply, "grant");
		if (json_is_string(v)) {
			pa_escape(json_string_value(v), json_string_length(v), shown,
				  sizeof(shown));
			if (failed != NULL && failedlen > 0)
				snprintf(failed, failedlen, "%s", shown);
			reason_text(e, strlen(e), why, sizeof(why));
			return pa_err(err, errlen, "grant %s: %s", shown, why);
		}
		reason_text(e, strlen(e), why, sizeof(why));
		return pa_err(err, errlen, "%s", why);
	}
	if (ses_check_members(reply, "open", ok_names, why, sizeof(why)) != 0)
		return pa_err(err, errlen, "helper reply: %s", why);
	if (ses_keys_from_json(json_object_get(reply, "keys"), out, why, sizeof(why)) != 0)
		return pa_err(err, errlen, "helper reply: %s", why);
	if (out->n != d->n_grants) {
		pa_err(err, errlen, "helper reply: %zu keys for %zu grants", out->n, d->n_grants);
		goto fail;
	}
	for (i = 0; i < out->n; i++) {
		const struct pol_grant *g = &d->grants[i];
		const char *want_revoke = g->source == POL_SOURCE_EXEC ? g->revoke : NULL;

		if (strcmp(out->v[i].grant, g->name) != 0 ||
		    !same_opt(out->v[i].revoke, want_revoke)) {
			pa_escape(out->v[i].grant, strlen(out->v[i].grant), shown, sizeof(shown));
			pa_err(err, errlen, "helper reply: key %zu (%s) does not match grant %s", i,
			       shown, g->name);
			goto fail;
		}
	}
	return 0;
fail:
	ses_keys_clear(out);
	return -1;
}

void ses_close_results_clear(struct ses_close_results *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->v[i].grant);
		free(r->v[i].broker);
		free(r->v[i].note);
	}
	free(r->v);
	r->v = NULL;
	r->n = 0;
	r->ok = r->ring_revoked = false;
}

int ses_close_reply_parse(const json_t *reply, struct ses_close_results *out, char *err,
			 size_t errlen)
{
	static const char *const names[] = { "ok", "ring_revoked", "results", "error",
					     "grant", NULL };
	static const char *const rnames[] = { "grant", "serial", "revoked", "broker", "note",
					      NULL };
	const json_t *res, *o, *nt;
	char why[512];
	size_t i, n;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(reply) || !json_is_boolean(json_object_get(reply, "ok")))
		return pa_err(err, errlen, "helper reply: not an object with \"ok\"");
	if (ses_check_members(reply, "close", names, why, sizeof(why)) != 0)
		return pa_err(err, errlen, "helper reply: %s", why);
	res = json_object_get(reply, "results");
	if (!json_is_array(res) || !json_is_boolean(json_object_get(reply, "ring_revoked"))) {
		o = json_object_get(reply, "error");
		if (json_is_string(o) && json_string_length(o) > 0) {
			reason_text(json_string_value(o), json_string_length(o), why, sizeof(why));
			return pa_err(err, errlen, "%s", why);
		}
		return pa_err(err, errlen, "helper reply: no \"results\" or \"ring_revoked\"");
	}
	n = json_array_size(res);
	if (n > SES_GRANTS_MAX)
		return pa_err(err, errlen, "helper reply: too many results");
	out->ok = json_is_true(json_object_get(reply, "ok"));
	out->ring_revoked = json_is_true(json_object_get(reply, "ring_revoked"));
	if (n > 0 && (out->v = calloc(n, sizeof(*out->v))) == NULL)
		return pa_err(err, errlen, "out of memory");
	for (i = 0; i < n; i++) {
		struct ses_close_result *r = &out->v[i];

		out->n = i + 1;
		o = json_array_get(res, i);
		if (!json_is_object(o) || ses_check_members(o, "result", rnames, why, sizeof(why)) != 0 ||
		    !json_is_string(json_object_get(o, "grant")) ||
		    get_serial(o, "serial", &r->serial) != 0 ||
		    !json_is_boolean(json_object_get(o, "revoked")) ||
		    !json_is_string(json_object_get(o, "broker")) ||
		    ((nt = json_object_get(o, "note")) != NULL && !json_is_string(nt))) {
			pa_err(err, errlen, "helper reply: result %zu is malformed", i);
			ses_close_results_clear(out);
			return -1;
		}
		r->revoked = json_is_true(json_object_get(o, "revoked"));
		r->grant = strdup(json_string_value(json_object_get(o, "grant")));
		r->broker = strdup(json_string_value(json_object_get(o, "broker")));
		r->note = nt != NULL ? strdup(json_string_value(nt)) : NULL;
		if (r->grant == NULL || r->broker == NULL || (nt != NULL && r->note == NULL)) {
			ses_close_results_clear(out);
			return pa_err(err, errlen, "out of memory");
		}
	}
	return 0;
}

/* ---- the whole round trips ------------------------------------------------------ */

int ses_open(const struct ses_open_args *a, struct ses_keys *out, char *failed, size_t failedlen,
	    char *err, size_t errlen)
{
	json_t *req = NULL, *reply = NULL;
	int rc = -1;

	out->v = NULL;
	out->n = 0;
	if (failed != NULL && failedlen > 0)
		failed[0] = '\0';
	req = ses_open_request(a, err, errlen);
	if (req == NULL)
		goto out;
	if (ses_call(a->global->helper, a->global->helper_socket, req,
		     (int)a->global->helper_timeout, &reply, err, errlen) != 0)
		goto out;
	rc = ses_open_reply_parse(reply, a->decision, out, failed, failedlen, err, errlen);
out:
	json_decref(req);
	json_decref(reply);
	return rc;
}

int ses_close(const char *helper_path, int timeout_s, const char *sid, int32_t ring,
	     const char *agent, const struct ses_keys *keys, struct ses_close_results *out,
	     char *err, size_t errlen)
{
	return ses_close_at(helper_path, NULL, timeout_s, sid, ring, agent, keys, out, err,
			    errlen);
}

int ses_close_at(const char *helper_path, const char *helper_socket, int timeout_s,
		 const char *sid, int32_t ring, const char *agent, const struct ses_keys *keys,
		 struct ses_close_results *out, char *err, size_t errlen)
{
	json_t *req = NULL, *reply = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	req = ses_close_request(sid, ring, agent, keys, timeout_s);
	if (req == NULL) {
		pa_err(err, errlen, "cannot build the helper request");
		goto out;
	}
	if (ses_call(helper_path, helper_socket, req, timeout_s, &reply, err, errlen) != 0)
		goto out;
	rc = ses_close_reply_parse(reply, out, err, errlen);
out:
	json_decref(req);
	json_decref(reply);
	return rc;
}
