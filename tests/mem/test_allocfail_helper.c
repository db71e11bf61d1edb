/*
 * test_allocfail_helper.c - allocation-failure injection
 * (tests/mem/allocfail.h) over the helper protocol: the module's side
 * (requests, replies, keys as JSON), the helper program's request
 * handling (hs_serve: open with mint, exec and file grants, close) and
 * the broker's answer parsed. Keyring calls and broker runs are
 * stand-ins (ld --wrap, below). The engines' entry points are in
 * test_allocfail.c.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "session.h"
#include "server.h"
#include "identity.h"
#include "keyring.h"
#include "policy.h"
#include "util.h"
#include "allocfail.h"

/* the module's side of the helper protocol */
static json_t *req_open, *req_close, *keys_json;
static struct ses_keys hkeys;
static struct ses_close_results closed;
static char failed_grant[128];
static const char *open_reply_text =
	"{\"ok\":true,\"keys\":["
	"{\"grant\":\"tickets-ro\",\"serial\":101,\"expires_at\":1900000000,\"handle\":null,\"revoke\":null},"
	"{\"grant\":\"tickets-rw\",\"serial\":102,\"expires_at\":1900000000,\"handle\":\"lease-1\","
	"\"revoke\":\"/usr/libexec/vault-broker revoke\"},"
	"{\"grant\":\"legacy-db\",\"serial\":103,\"expires_at\":1900000000,\"handle\":null,\"revoke\":null}]}";
static const char *close_reply_text =
	"{\"ok\":true,\"ring_revoked\":true,\"results\":["
	"{\"grant\":\"tickets-ro\",\"serial\":101,\"revoked\":true,\"broker\":\"none\"},"
	"{\"grant\":\"tickets-rw\",\"serial\":102,\"revoked\":true,\"broker\":\"ok\"},"
	"{\"grant\":\"legacy-db\",\"serial\":103,\"revoked\":true,\"broker\":\"failed: exit 1\"}]}";

static int run_hp_client(void)
{
	struct ses_open_args a = { 0 };
	struct ses_keys back = { 0 };
	json_t *reply;
	json_error_t jerr;
	int rc;

	a.sid = "0123456789abcdef";
	a.ring = 4242;
	a.id = af_base_id;
	a.user = "svc-support";
	a.uid = 1001;
	a.decision = &af_base_dec;
	a.global = &af_base_cfg->global;
	req_open = ses_open_request(&a, af_errbuf, sizeof(af_errbuf));
	if (req_open == NULL)
		return -1;
	reply = json_loadb(open_reply_text, strlen(open_reply_text), JSON_REJECT_DUPLICATES, &jerr);
	if (reply == NULL)
		return -1;
	rc = ses_open_reply_parse(reply, &af_base_dec, &hkeys, failed_grant, sizeof(failed_grant),
				 af_errbuf, sizeof(af_errbuf));
	json_decref(reply);
	if (rc != 0)
		return -1;
	keys_json = ses_keys_to_json(&hkeys);
	if (keys_json == NULL)
		return -1;
	rc = ses_keys_from_json(keys_json, &back, af_errbuf, sizeof(af_errbuf));
	ses_keys_clear(&back);
	if (rc != 0)
		return -1;
	req_close = ses_close_request("0123456789abcdef", 4242, af_base_id->agent_id, &hkeys, 30);
	if (req_close == NULL)
		return -1;
	reply = json_loadb(close_reply_text, strlen(close_reply_text), JSON_REJECT_DUPLICATES,
			   &jerr);
	if (reply == NULL)
		return -1;
	rc = ses_close_reply_parse(reply, &closed, af_errbuf, sizeof(af_errbuf));
	json_decref(reply);
	return rc;
}

static char *render_hp_client(void)
{
	char *a, *b, *c, *text = NULL;
	json_t *broker;

	/* the host name part of the default issuer is left out */
	broker = json_object_get(req_open, "broker");
	json_object_del(broker, "issuer");
	a = json_dumps(req_open, JSON_COMPACT | JSON_SORT_KEYS);
	b = json_dumps(keys_json, JSON_COMPACT | JSON_SORT_KEYS);
	c = json_dumps(req_close, JSON_COMPACT | JSON_SORT_KEYS);
	if (a != NULL && b != NULL && c != NULL &&
	    asprintf(&text, "%s\n%s\n%s\nclose ok=%d ring=%d n=%zu %s", a, b, c, closed.ok,
		     closed.ring_revoked, closed.n, closed.n == 3 ? closed.v[2].broker : "") < 0)
		text = NULL;
	free(a);
	free(b);
	free(c);
	return text;
}

static void release_hp_client(void)
{
	json_decref(req_open);
	json_decref(req_close);
	json_decref(keys_json);
	req_open = req_close = keys_json = NULL;
	ses_keys_clear(&hkeys);
	ses_close_results_clear(&closed);
}

/* the helper program's request handling (open with mint/exec/file, close) */
static json_t *helper_reply;
static int32_t next_serial;

int __wrap_ses_exchange_run(const char *const argv[], struct ses_exchange *x, char *err,
			   size_t errlen);
int32_t __wrap_kr_key_add_seen(struct kr_seen *seen, int32_t ring, const char *name,
			       const void *secret, size_t len, int64_t timeout, char *err,
			       size_t errlen);
int __wrap_kr_revoke(int32_t serial, char *err, size_t errlen);
int __wrap_kr_session_revoke(int32_t ring, char *err, size_t errlen);

/* An exec broker that answers at once (nothing runs). */
int __wrap_ses_exchange_run(const char *const argv[], struct ses_exchange *x, char *err,
			   size_t errlen)
{
	static const char answer[] = "{\"secret\":\"S3CR3T-exec\",\"expires_at\":"
				     "\"2033-01-01T00:00:00.5+01:00\",\"revoke_handle\":\"lease-9\"}";

	if (argv == NULL || argv[0] == NULL || argv[0][0] != '/')
		return pa_err(err, errlen, "not an absolute program");
	x->outcap = sizeof(answer);
	x->out = malloc(x->outcap);
	if (x->out == NULL)
		return pa_err(err, errlen, "out of memory");
	memcpy(x->out, answer, sizeof(answer));
	x->outlen = sizeof(answer) - 1;
	x->errtext[0] = '\0';
	x->timed_out = x->overflow = false;
	x->reaped = true;
	x->status = 0;
	return 0;
}

int32_t __wrap_kr_key_add_seen(struct kr_seen *seen, int32_t ring, const char *name,
			       const void *secret, size_t len, int64_t timeout, char *err,
			       size_t errlen)
{
	(void)seen;
	(void)ring;
	(void)name;
	(void)secret;
	(void)len;
	(void)timeout;
	(void)err;
	(void)errlen;
	return next_serial++;
}

int __wrap_kr_revoke(int32_t serial, char *err, size_t errlen)
{
	(void)serial;
	(void)err;
	(void)errlen;
	return 0;
}

int __wrap_kr_session_revoke(int32_t ring, char *err, size_t errlen)
{
	(void)ring;
	(void)err;
	(void)errlen;
	return 0;
}

static json_t *helper_open_req, *helper_close_req;

static void make_helper_requests(void)
{
	json_error_t jerr;

	helper_open_req = json_pack_ex(
		&jerr, 0,
		"{s:s, s:s, s:i, s:s, s:s, s:s, s:{s:s}, s:s, s:i, s:i, s:i,"
		" s:[{s:s, s:s, s:s, s:s, s:s, s:i, s:n, s:n, s:n},"
		"    {s:s, s:s, s:s, s:n, s:n, s:i, s:s, s:s, s:n},"
		"    {s:s, s:s, s:s, s:n, s:n, s:i, s:n, s:n, s:s}],"
		" s:{s:s, s:s, s:n}}",
		"op", "open", "sid", "0123456789abcdef", "ring", 4242,
		"agent", "spiffe://example.org/agents/support-bot", "task", "T-42", "scope", "read",
		"act", "sub", "spiffe://example.org/orchestrator", "user", "svc-support",
		"uid", 1001, "max_session", 900, "timeout", 30, "grants",
		"name", "tickets-ro", "class", "read", "source", "mint",
		"audience", "https://tickets.example.org", "scope", "tickets:read", "ttl", 600,
		"command", "revoke", "path",
		"name", "tickets-rw", "class", "write", "source", "exec", "audience", "scope",
		"ttl", 300, "command", "/usr/libexec/vault-broker issue tickets-rw",
		"revoke", "/usr/libexec/vault-broker revoke", "path",
		"name", "legacy-db", "class", "read", "source", "file", "audience", "scope",
		"ttl", 600, "command", "revoke", "path", af_path_file_secret,
		"broker", "key", af_path_broker_key, "issuer", "https://broker.example.org",
		"jwks");
	helper_close_req = json_pack_ex(
		&jerr, 0,
		"{s:s, s:s, s:i, s:s, s:i, s:[{s:s, s:i, s:i, s:n, s:n},"
		" {s:s, s:i, s:i, s:s, s:s}]}",
		"op", "close", "sid", "0123456789abcdef", "ring", 4242,
		"agent", "spiffe://example.org/agents/support-bot", "timeout", 30, "keys",
		"grant", "tickets-ro", "serial", 101, "expires_at", 1900000000, "revoke", "handle",
		"grant", "tickets-rw", "serial", 102, "expires_at", 1900000000,
		"revoke", "/usr/libexec/vault-broker revoke", "handle", "lease-9");
	if (helper_open_req == NULL || helper_close_req == NULL)
		af_die(jerr.text);
}

static int run_helper(json_t *req)
{
	const json_t *ok;

	next_serial = 500;
	helper_reply = hs_serve(req);
	if (helper_reply == NULL)
		return -1;
	ok = json_object_get(helper_reply, "ok");
	return json_is_true(ok) ? 0 : -1;
}

static int run_helper_open(void)
{
	return run_helper(helper_open_req);
}

static int run_helper_close(void)
{
	return run_helper(helper_close_req);
}

static char *render_helper(void)
{
	json_t *keys = json_object_get(helper_reply, "keys");
	json_t *k;
	size_t i;

	/* expiry of the mint credential follows the clock: left out */
	json_array_foreach(keys, i, k)
		json_object_del(k, "expires_at");
	return json_dumps(helper_reply, JSON_COMPACT | JSON_SORT_KEYS);
}

static void release_helper(void)
{
	json_decref(helper_reply);
	helper_reply = NULL;
}

/* ses_grant_exec: the broker's answer parsed (exchange stand-in above) */
static struct ses_cred cred;

static int run_grant_exec(void)
{
	struct ses_grant_ctx ctx = { 0 };
	struct ses_grant g = { 0 };

	ctx.sid = "0123456789abcdef";
	ctx.agent = "spiffe://example.org/agents/support-bot";
	ctx.task = "T-42";
	ctx.user = "svc-support";
	ctx.max_session = 900;
	ctx.now = af_now;
	g.name = "tickets-rw";
	g.source = POL_SOURCE_EXEC;
	g.command = "/usr/libexec/vault-broker issue tickets-rw";
	g.ttl = 300;
	return ses_grant_exec(&ctx, &g, 1000, &cred, af_errbuf, sizeof(af_errbuf));
}

static char *render_cred(void)
{
	char *text = NULL;

	if (asprintf(&text, "%.*s %lld %s", (int)cred.len, cred.secret,
		     (long long)cred.expires_at, cred.handle ? cred.handle : "-") < 0)
		return NULL;
	return text;
}

static void release_cred(void)
{
	ses_cred_clear(&cred);
}

static void setup(void)
{
	af_fixture();
	make_helper_requests();
	af_load_base();
}

static void cleanup(void)
{
	json_decref(helper_open_req);
	json_decref(helper_close_req);
	af_fixture_free();
}

int main(void)
{
	static const struct af_entry entries[] = {
		{ "helper_client", run_hp_client, render_hp_client, release_hp_client, NULL },
		{ "helper_open", run_helper_open, render_helper, release_helper, NULL },
		{ "helper_close", run_helper_close, render_helper, release_helper, NULL },
		{ "broker_output", run_grant_exec, render_cred, release_cred, NULL },
	};

	return af_run(entries, PA_ARRAY_SIZE(entries), setup, cleanup);
}
