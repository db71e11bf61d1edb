/*
 * fuzz_helper_reply.c - libFuzzer target for the helper protocol, both
 * sides (session/client.c, session/grants.c, and helper/server.c, the
 * helper's request handling). Every input is:
 *
 *   1. parsed as JSON the way ses_run parses a reply (duplicate names
 *      refused), then given to the module's reply parsers:
 *      ses_open_reply_parse against the grants of docs/helper.md and
 *      against grants named after the reply's own keys,
 *      ses_close_reply_parse, and ses_keys_from_json on the value and on
 *      its "keys" member (the close request and session state form);
 *      accepted keys must survive ses_keys_to_json -> ses_keys_from_json
 *      unchanged, and a close request the module builds from them must be
 *      accepted by the helper, whose reply the module must accept;
 *   2. when it is an object with "op", handed to the helper's own request
 *      handling (do_open/do_close) as the helper's main would, with the
 *      grant sources and keyring calls replaced by deterministic
 *      stand-ins; an ok:true open reply must pass ses_open_reply_parse for
 *      the grants of the request;
 *   3. taken as the stdout of an exec broker: ses_grant_exec runs with
 *      ses_exchange_run replaced (nothing is executed) and parses the bytes
 *      as the broker's answer (secret, expires_at, revoke_handle);
 *      ses_parse_expiry and ses_split_command see the input too.
 *
 * Linked with -Wl,--wrap for ses_exchange_run, kr_key_add_seen, kr_revoke,
 * kr_session_revoke, ses_grant_mint, ses_grant_file and ses_grant_exec
 * (see Makefile.am, fuzz block).
 * Built and run by `make fuzz` / `make fuzz-run` (docs/fuzzing.md).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "session.h"
#include "server.h"
#include "keyring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- stand-ins (ld --wrap) ----------------------------------------------------------- */

int __wrap_ses_exchange_run(const char *const argv[], struct ses_exchange *x, char *err,
			   size_t errlen);
int32_t __wrap_kr_key_add_seen(struct kr_seen *seen, int32_t ring, const char *name,
			       const void *secret, size_t len, int64_t timeout, char *err,
			       size_t errlen);
int __wrap_kr_revoke(int32_t serial, char *err, size_t errlen);
int __wrap_kr_session_revoke(int32_t ring, char *err, size_t errlen);
int __wrap_ses_grant_mint(struct ses_grant_ctx *ctx, const struct ses_grant *g,
			 struct ses_cred *out, char *err, size_t errlen);
int __wrap_ses_grant_file(const struct ses_grant_ctx *ctx, const struct ses_grant *g,
			 struct ses_cred *out, char *err, size_t errlen);
int __wrap_ses_grant_exec(const struct ses_grant_ctx *ctx, const struct ses_grant *g,
			 int timeout_ms, struct ses_cred *out, char *err, size_t errlen);
int __real_ses_grant_exec(const struct ses_grant_ctx *ctx, const struct ses_grant *g,
			 int timeout_ms, struct ses_cred *out, char *err, size_t errlen);

/* What the next "child program" writes and how it ends. */
static const uint8_t *child_out;
static size_t child_outlen;
static int child_status;
static int32_t next_serial;

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_helper_reply: %s%s%s\n", what, detail ? ": " : "",
		detail ? detail : "");
	abort();
}

int __wrap_ses_exchange_run(const char *const argv[], struct ses_exchange *x, char *err,
			   size_t errlen)
{
	size_t n = child_outlen;

	if (argv == NULL || argv[0] == NULL || argv[0][0] != '/')
		return pa_err(err, errlen, "not an absolute program");
	x->overflow = n > x->out_max;
	if (x->overflow)
		n = x->out_max;
	x->outcap = n + 1;
	x->out = malloc(x->outcap);
	if (x->out == NULL)
		return pa_err(err, errlen, "out of memory");
	if (n > 0)
		memcpy(x->out, child_out, n);
	x->out[n] = '\0';
	x->outlen = n;
	snprintf(x->errtext, sizeof(x->errtext), "%s", child_status != 0 ? "broker said no" : "");
	x->timed_out = false;
	x->reaped = true;
	x->status = child_status;
	return 0;
}

int32_t __wrap_kr_key_add_seen(struct kr_seen *seen, int32_t ring, const char *name,
			       const void *secret, size_t len, int64_t timeout, char *err,
			       size_t errlen)
{
	if (seen == NULL || ring <= 0 || name == NULL || secret == NULL || len == 0 ||
	    timeout <= 0)
		die("kr_key_add_seen", "called with a bad argument");
	if (timeout % 11 == 0)
		return pa_err(err, errlen, "quota exceeded (stand-in)");
	/* noted as the real one notes what it placed: do_open frees it */
	kr_seen_note(seen, next_serial, "user", name);
	return next_serial++;
}

int __wrap_kr_revoke(int32_t serial, char *err, size_t errlen)
{
	return serial % 3 == 0 ? pa_err(err, errlen, "permission denied (stand-in)") : 0;
}

int __wrap_kr_session_revoke(int32_t ring, char *err, size_t errlen)
{
	return ring % 5 == 0 ? pa_err(err, errlen, "permission denied (stand-in)") : 0;
}

/* A credential, or a failure, decided by the grant's ttl. */
static int fake_cred(const struct ses_grant_ctx *ctx, const struct ses_grant *g,
		     struct ses_cred *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (g->source == POL_SOURCE_EXEC && g->ttl % 2 == 0) {
		out->handle = strdup("lease-0001");
		if (out->handle == NULL)
			die("out of memory", NULL);
	}
	if (g->ttl % 7 == 0)
		return pa_err(err, errlen, "source failed (stand-in)");
	out->secret = strdup("fuzz-secret");
	if (out->secret == NULL)
		die("out of memory", NULL);
	out->len = strlen(out->secret);
	if (g->ttl % 5 == 0)
		out->expires_at = ctx->now - 1;
	else if (g->ttl % 5 == 1)
		out->expires_at = ctx->now + 30;
	return 0;
}

int __wrap_ses_grant_mint(struct ses_grant_ctx *ctx, const struct ses_grant *g,
			 struct ses_cred *out, char *err, size_t errlen)
{
	return fake_cred(ctx, g, out, err, errlen);
}

int __wrap_ses_grant_file(const struct ses_grant_ctx *ctx, const struct ses_grant *g,
			 struct ses_cred *out, char *err, size_t errlen)
{
	return fake_cred(ctx, g, out, err, errlen);
}

int __wrap_ses_grant_exec(const struct ses_grant_ctx *ctx, const struct ses_grant *g,
			 int timeout_ms, struct ses_cred *out, char *err, size_t errlen)
{
	if (timeout_ms <= 0)
		die("ses_grant_exec", "no time given");
	return fake_cred(ctx, g, out, err, errlen);
}

/* ---- 1. the module's reply parsers ---------------------------------------------------- */

/* The two grants of the docs/helper.md examples. */
static struct pol_grant doc_grants[] = {
	{ .name = (char *)"tickets-ro", .cls = POL_CLASS_READ, .source = POL_SOURCE_MINT,
	  .audience = (char *)"https://tickets.example.org", .scope = (char *)"tickets:read",
	  .ttl = 600 },
	{ .name = (char *)"tickets-rw", .cls = POL_CLASS_WRITE, .source = POL_SOURCE_EXEC,
	  .command = (char *)"/usr/libexec/vault-broker issue tickets-rw",
	  .revoke = (char *)"/usr/libexec/vault-broker revoke", .ttl = 300 },
};

static void same_keys(const struct ses_keys *a, const struct ses_keys *b)
{
	size_t i;

	if (a->n != b->n)
		die("keys round trip", "count differs");
	for (i = 0; i < a->n; i++) {
		const struct ses_key *x = &a->v[i], *y = &b->v[i];

		if (strcmp(x->grant, y->grant) != 0 || x->serial != y->serial ||
		    x->expires_at != y->expires_at || (x->handle == NULL) != (y->handle == NULL) ||
		    (x->handle && strcmp(x->handle, y->handle) != 0) ||
		    (x->revoke == NULL) != (y->revoke == NULL) ||
		    (x->revoke && strcmp(x->revoke, y->revoke) != 0))
			die("keys round trip", "a key differs");
	}
}

/* Keys the module accepted: round trip, then a close through the helper. */
static void use_keys(const struct ses_keys *keys)
{
	struct ses_keys back = { 0 };
	struct ses_close_results res;
	json_t *arr, *req, *reply;
	char err[512];

	arr = ses_keys_to_json(keys);
	if (arr == NULL)
		die("ses_keys_to_json", "NULL");
	if (ses_keys_from_json(arr, &back, err, sizeof(err)) != 0)
		die("keys round trip refused", err);
	same_keys(keys, &back);
	ses_keys_clear(&back);
	json_decref(arr);

	req = ses_close_request("6f1c", 4242, "spiffe://example.org/agents/bot", keys, 30);
	if (req == NULL)
		die("ses_close_request", "NULL");
	reply = hs_serve(req);
	if (reply == NULL)
		die("the helper gave no reply to a close", NULL);
	if (ses_close_reply_parse(reply, &res, err, sizeof(err)) != 0)
		die("the module refused the helper's close reply", err);
	if (res.n != keys->n)
		die("close reply", "not one result per key");
	ses_close_results_clear(&res);
	json_decref(reply);
	json_decref(req);
}

/* A decision whose grants are named after the reply's keys. */
static void parse_with_own_grants(const json_t *reply)
{
	const json_t *keys = json_object_get(reply, "keys"), *k;
	struct pol_decision d = { 0 };
	struct pol_grant g[8];
	struct ses_keys out = { 0 };
	char err[512], failed[128];
	size_t i;

	if (!json_is_array(keys) || json_array_size(keys) > 8)
		return;
	memset(g, 0, sizeof(g));
	json_array_foreach(keys, i, k) {
		const char *name = json_string_value(json_object_get(k, "grant"));
		const char *revoke = json_string_value(json_object_get(k, "revoke"));

		g[i].name = (char *)(name != NULL ? name : "none");
		g[i].source = revoke != NULL ? POL_SOURCE_EXEC : POL_SOURCE_MINT;
		g[i].revoke = (char *)revoke;
		g[i].ttl = 60;
	}
	d.allow = true;
	d.grants = g;
	d.n_grants = json_array_size(keys);
	if (ses_open_reply_parse(reply, &d, &out, failed, sizeof(failed), err, sizeof(err)) == 0) {
		if (out.n != d.n_grants)
			die("ses_open_reply_parse", "accepted a wrong number of keys");
		use_keys(&out);
		ses_keys_clear(&out);
	}
}

static void module_side(const json_t *j)
{
	struct pol_decision d = { 0 };
	struct ses_keys keys = { 0 };
	struct ses_close_results res;
	char err[512], failed[128];

	d.allow = true;
	d.grants = doc_grants;
	d.n_grants = 2;
	err[0] = '\0';
	if (ses_open_reply_parse(j, &d, &keys, failed, sizeof(failed), err, sizeof(err)) == 0) {
		if (keys.n != 2)
			die("ses_open_reply_parse", "accepted a wrong number of keys");
		ses_keys_clear(&keys);
	} else if (err[0] == '\0' || keys.v != NULL) {
		die("ses_open_reply_parse", "refusal without a reason, or keys left");
	}
	parse_with_own_grants(j);

	err[0] = '\0';
	if (ses_close_reply_parse(j, &res, err, sizeof(err)) == 0)
		ses_close_results_clear(&res);
	else if (res.v != NULL || err[0] == '\0')
		die("ses_close_reply_parse", "refusal without a reason, or results left");

	err[0] = '\0';
	if (ses_keys_from_json(j, &keys, err, sizeof(err)) == 0) {
		use_keys(&keys);
		ses_keys_clear(&keys);
	} else if (err[0] == '\0' || keys.v != NULL) {
		die("ses_keys_from_json", "refusal without a reason, or keys left");
	}
	if (json_is_object(j) && ses_keys_from_json(json_object_get(j, "keys"), &keys, err,
						   sizeof(err)) == 0) {
		use_keys(&keys);
		ses_keys_clear(&keys);
	}
}

/* ---- 2. the helper's request handling --------------------------------------------------- */

/* The grants of an open request (it was accepted) as a decision. */
static void check_open_reply(const json_t *req, const json_t *reply)
{
	const json_t *grants = json_object_get(req, "grants"), *o;
	struct pol_decision d = { 0 };
	struct ses_keys keys = { 0 };
	struct pol_grant *g;
	char err[512], failed[128];
	size_t i, n = json_array_size(grants);
	int rc;

	g = calloc(n + 1, sizeof(*g));
	if (g == NULL)
		die("out of memory", NULL);
	json_array_foreach(grants, i, o) {
		const char *source = json_string_value(json_object_get(o, "source"));

		g[i].name = (char *)json_string_value(json_object_get(o, "name"));
		g[i].source = source && strcmp(source, "exec") == 0 ? POL_SOURCE_EXEC :
			      source && strcmp(source, "file") == 0 ? POL_SOURCE_FILE :
								      POL_SOURCE_MINT;
		g[i].revoke = (char *)json_string_value(json_object_get(o, "revoke"));
	}
	d.allow = true;
	d.grants = g;
	d.n_grants = n;
	rc = ses_open_reply_parse(reply, &d, &keys, failed, sizeof(failed), err, sizeof(err));
	if (json_is_true(json_object_get(reply, "ok")) && rc != 0)
		die("the module refused the helper's ok:true open reply", err);
	if (!json_is_true(json_object_get(reply, "ok")) && rc == 0)
		die("the module accepted an ok:false open reply", NULL);
	ses_keys_clear(&keys);
	free(g);
}

static void helper_side(const json_t *j)
{
	json_t *reply;

	if (!json_is_object(j) || json_object_get(j, "op") == NULL)
		return;
	reply = hs_serve(j);
	if (reply == NULL || !json_is_boolean(json_object_get(reply, "ok")))
		die("the helper gave no reply with \"ok\"", NULL);
	if (json_is_string(json_object_get(j, "op")) &&
	    strcmp(json_string_value(json_object_get(j, "op")), "open") == 0)
		check_open_reply(j, reply);
	json_decref(reply);
}

/* ---- 3. broker output ------------------------------------------------------------------- */

static void broker_side(const uint8_t *data, size_t size, const json_t *j)
{
	struct ses_grant_ctx ctx = { 0 };
	struct ses_grant g = { 0 };
	struct ses_cred cred = { 0 };
	char err[512], **argv = NULL, *cmd;
	int64_t t;

	/* a success leaves err as it was: it must hold nothing of an earlier
	 * input (a stale "no path" matched the secret "path" once) */
	memset(err, 0, sizeof(err));
	ctx.sid = "6f1c";
	ctx.agent = "spiffe://example.org/agents/bot";
	ctx.task = "T-42";
	ctx.user = "svc-bot";
	ctx.max_session = 900;
	ctx.now = 1718013600;
	g.name = "tickets-rw";
	g.source = POL_SOURCE_EXEC;
	g.command = "/usr/libexec/vault-broker issue tickets-rw";
	g.revoke = "/usr/libexec/vault-broker revoke";
	g.ttl = 300;
	if (__real_ses_grant_exec(&ctx, &g, 10000, &cred, err, sizeof(err)) == 0) {
		if (cred.secret == NULL || cred.len == 0 || strlen(cred.secret) != cred.len)
			die("ses_grant_exec", "accepted an empty or truncated secret");
		if (strstr(err, cred.secret) != NULL && cred.len > 3)
			die("ses_grant_exec", "secret in the error buffer");
	} else if (cred.secret != NULL) {
		die("ses_grant_exec", "a secret left after a failure");
	}
	ses_cred_clear(&cred);

	if (j != NULL && ses_parse_expiry(j, &t) == 0 && t <= 0)
		die("ses_parse_expiry", "accepted a time <= 0");
	if (json_is_object(j) && ses_parse_expiry(json_object_get(j, "expires_at"), &t) == 0 &&
	    t <= 0)
		die("ses_parse_expiry", "accepted a time <= 0");

	if (size > 4096)
		return;
	cmd = malloc(size + 1);
	if (cmd == NULL)
		die("out of memory", NULL);
	memcpy(cmd, data, size);
	cmd[size] = '\0';
	if (ses_split_command(cmd, &argv, err, sizeof(err)) == 0) {
		if (argv == NULL || argv[0] == NULL || argv[0][0] != '/')
			die("ses_split_command", "no absolute program");
		ses_argv_free(argv);
	}
	free(cmd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j;

	if (size > 256 * 1024)
		return 0;
	next_serial = 1000;
	/* the broker answers with the input; every 7th length it exits 1 */
	child_out = data;
	child_outlen = size;
	child_status = size % 7 == 6 ? 1 << 8 : 0;

	j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (j != NULL) {
		module_side(j);
		helper_side(j);
	}
	broker_side(data, size, j);
	json_decref(j);
	return 0;
}
