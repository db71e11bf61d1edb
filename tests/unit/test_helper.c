/*
 * test_helper.c - pam_agent_helper end to end: the real built helper
 * (PA_HELPER) run through ses_open / ses_close against the real kernel
 * keyring of this test's own session keyring (tests/run-test.sh), with
 * brokers written by the test as tiny shell scripts into a temporary
 * directory (tests/lib/tfx_session.c): each grant source, failing brokers
 * (all or nothing), close. Isolation from the caller and the helper
 * program itself are in test_helper_isolation.c; ses_run against fake
 * helpers and the parsers in test_helper_run.c.
 *
 * Minted tokens are verified twice: with the identity engine's own JWS
 * code against the published JWKS, and by an independent Python script
 * (tests/data/helper/verify_jwt.py, `cryptography` only).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <keyutils.h>

#include "session.h"
#include "identity.h"
#include "keyring.h"
#include "policy.h"
#include "util.h"
#include "tfx.h"
#include "tfx_keyring.h"
#include "tfx_session.h"

/* ---- open: each source places its key with the right timeout ----------------- */

static void test_open_file(void **state)
{
	struct tfx_ses *f = *state;
	struct ses_open_args a = tfx_ses_open_args(f);
	struct ses_keys keys = { 0 };
	char err[TFX_SES_ERRLEN], failed[80], path[256];
	char *v;
	long t;

	tfx_ses_need_helper(f);
	tfx_write_at(f->tmp.dir, "legacy", TFX_FILE_SECRET "\n", 0600);
	snprintf(path, sizeof(path), "%s/legacy", f->tmp.dir);
	tfx_ses_grant(f, "legacy-db", POL_SOURCE_FILE, path, NULL, 50);
	if (ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)) != 0)
		fail_msg("ses_open: %s", err);
	assert_int_equal(keys.n, 1);
	assert_string_equal(keys.v[0].grant, "legacy-db");
	assert_null(keys.v[0].handle);
	assert_null(keys.v[0].revoke);
	v = tfx_key_value(keys.v[0].serial);
	assert_non_null(v);
	assert_string_equal(v, TFX_FILE_SECRET); /* one trailing newline stripped */
	free(v);
	t = tfx_key_timeout(keys.v[0].serial);
	assert_in_range(t, 45, 50);
	assert_in_range(keys.v[0].expires_at - time(NULL), 45, 50);
	ses_keys_clear(&keys);
}

static void test_open_file_refused(void **state)
{
	struct tfx_ses *f = *state;
	struct ses_open_args a = tfx_ses_open_args(f);
	struct ses_keys keys = { 0 };
	char err[TFX_SES_ERRLEN], failed[80], path[256];

	tfx_ses_need_helper(f);
	tfx_write_at(f->tmp.dir, "legacy", TFX_FILE_SECRET, 0640);
	snprintf(path, sizeof(path), "%s/legacy", f->tmp.dir);
	tfx_ses_grant(f, "legacy-db", POL_SOURCE_FILE, path, NULL, 50);
	assert_int_equal(ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)), -1);
	assert_string_equal(failed, "legacy-db");
	tfx_contains(err, "grant legacy-db: ");
	tfx_contains(err, "too open");
	assert_int_equal(tfx_live_keys(f->ring), 0);

	tfx_write_at(f->tmp.dir, "legacy", "\n", 0600);
	assert_int_equal(ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)), -1);
	tfx_contains(err, "empty");
}

static void test_open_ttl_session_cap(void **state)
{
	struct tfx_ses *f = *state;
	struct ses_open_args a = tfx_ses_open_args(f);
	struct ses_keys keys = { 0 };
	char err[TFX_SES_ERRLEN], failed[80], path[256];

	tfx_ses_need_helper(f);
	tfx_write_at(f->tmp.dir, "legacy", TFX_FILE_SECRET, 0600);
	snprintf(path, sizeof(path), "%s/legacy", f->tmp.dir);
	tfx_ses_grant(f, "legacy-db", POL_SOURCE_FILE, path, NULL, 600);
	f->d.max_session = 40; /* min(ttl, max_session) */
	if (ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)) != 0)
		fail_msg("ses_open: %s", err);
	assert_in_range(tfx_key_timeout(keys.v[0].serial), 35, 40);
	ses_keys_clear(&keys);
}

static void test_open_exec(void **state)
{
	struct tfx_ses *f = *state;
	struct ses_open_args a = tfx_ses_open_args(f);
	struct ses_keys keys = { 0 };
	char err[TFX_SES_ERRLEN], failed[80], cmd[256], rev[256];
	json_t *ctx;
	char *v;

	tfx_ses_need_helper(f);
	tfx_ses_script(f, "issue.sh", tfx_ses_issue_body);
	tfx_ses_script(f, "revoke.sh", tfx_ses_revoke_body);
	snprintf(cmd, sizeof(cmd), "%s/issue.sh issue  tickets-rw", f->tmp.dir);
	snprintf(rev, sizeof(rev), "%s/revoke.sh revoke", f->tmp.dir);
	tfx_ses_grant(f, "tickets-rw", POL_SOURCE_EXEC, cmd, rev, 300);
	if (ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)) != 0)
		fail_msg("ses_open: %s", err);
	assert_int_equal(keys.n, 1);
	assert_string_equal(keys.v[0].handle, "lease-1");
	assert_string_equal(keys.v[0].revoke, rev);
	v = tfx_key_value(keys.v[0].serial);
	assert_string_equal(v, TFX_EXEC_SECRET);
	free(v);
	/* the broker's expiry (30 s) is the shortest */
	assert_in_range(tfx_key_timeout(keys.v[0].serial), 25, 30);
	/* the broker got its context on stdin, argv split on blanks, no shell */
	ctx = json_loads(tfx_ses_read(f, "issue.ctx"), 0, NULL);
	assert_non_null(ctx);
	assert_string_equal(json_string_value(json_object_get(ctx, "agent")), TFX_SES_AGENT);
	assert_string_equal(json_string_value(json_object_get(ctx, "task")), "T-42");
	assert_string_equal(json_string_value(json_object_get(ctx, "scope")), "read");
	assert_string_equal(json_string_value(json_object_get(ctx, "sid")), f->sid);
	assert_string_equal(json_string_value(json_object_get(ctx, "grant")), "tickets-rw");
	assert_string_equal(json_string_value(json_object_get(ctx, "user")), "svc-bot");
	assert_int_equal(json_integer_value(json_object_get(ctx, "ttl")), 300);
	json_decref(ctx);
	tfx_contains(tfx_ses_read(f, "broker.cmdline"), "issue.sh issue tickets-rw ");
	/* empty environment but PATH, for the broker and for the helper */
	assert_string_equal(tfx_ses_read(f, "broker.environ"), SES_ENV_PATH "\n");
	/* (the helper's own view: valgrind may add its VALGRIND_* variables) */
	tfx_contains(tfx_ses_read(f, "helper.environ"), SES_ENV_PATH "\n");
	tfx_lacks(tfx_ses_read(f, "helper.environ"), "PA_HELPER=");
	tfx_lacks(tfx_ses_read(f, "helper.environ"), "PA_TEST_DATA=");
	/* argv = { helper } (under valgrind, its own argv comes first) */
	snprintf(cmd, sizeof(cmd), "%s ", f->helper);
	{
		const char *line = tfx_ses_read(f, "helper.cmdline");
		size_t ll = strlen(line), cl = strlen(cmd);

		assert_true(ll >= cl && strcmp(line + ll - cl, cmd) == 0);
	}
	ses_keys_clear(&keys);
}

/* The RFC 3339 form of expires_at, and unknown members ignored. */
static void test_open_exec_rfc3339(void **state)
{
	struct tfx_ses *f = *state;
	struct ses_open_args a = tfx_ses_open_args(f);
	struct ses_keys keys = { 0 };
	char err[TFX_SES_ERRLEN], failed[80], cmd[256];

	tfx_ses_need_helper(f);
	tfx_ses_script(f, "issue.sh",
		       "cat > /dev/null\n"
		       "exp=$(date -u -d @$(( $(date +%s) + 20 )) +%Y-%m-%dT%H:%M:%S.123456789Z)\n"
		       "echo \"{\\\"Version\\\":1,\\\"secret\\\":\\\"s\\\","
		       "\\\"expires_at\\\":\\\"$exp\\\"}\"\n");
	snprintf(cmd, sizeof(cmd), "%s/issue.sh", f->tmp.dir);
	tfx_ses_grant(f, "sts", POL_SOURCE_EXEC, cmd, NULL, 300);
	if (ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)) != 0)
		fail_msg("ses_open: %s", err);
	assert_in_range(tfx_key_timeout(keys.v[0].serial), 15, 20);
	assert_null(keys.v[0].handle);
	assert_null(keys.v[0].revoke);
	ses_keys_clear(&keys);
}

static void test_open_exec_expired(void **state)
{
	struct tfx_ses *f = *state;
	struct ses_open_args a = tfx_ses_open_args(f);
	struct ses_keys keys = { 0 };
	char err[TFX_SES_ERRLEN], failed[80], cmd[256];

	tfx_ses_need_helper(f);
	tfx_ses_script(f, "issue.sh", "echo '{\"secret\":\"s\",\"expires_at\":1000}'\n");
	snprintf(cmd, sizeof(cmd), "%s/issue.sh", f->tmp.dir);
	tfx_ses_grant(f, "sts", POL_SOURCE_EXEC, cmd, NULL, 300);
	assert_int_equal(ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)), -1);
	tfx_contains(err, "grant sts: the credential has already expired");
}

/* Verifies a minted token with the identity engine against the published JWKS. */
static json_t *verify_with_engine(const struct tfx_ses *f, const char *token)
{
	struct id_keyset *set;
	struct id_jws jws;
	const struct id_key *key;
	const char *kid;
	char err[TFX_SES_ERRLEN];
	json_t *claims;
	struct stat st;

	assert_int_equal(stat(f->jwks_path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	set = id_keyset_load(f->jwks_path, ID_KEYSET_OIDC, err, sizeof(err));
	if (set == NULL)
		fail_msg("id_keyset_load: %s", err);
	assert_int_equal(id_keyset_count(set), 1);
	memset(&jws, 0, sizeof(jws));
	if (id_jws_parse(token, strlen(token), true, &jws, err, sizeof(err)) != 0)
		fail_msg("id_jws_parse: %s", err);
	assert_int_equal(jws.alg, ID_ALG_ES256);
	kid = json_string_value(json_object_get(jws.header, "kid"));
	assert_non_null(kid);
	key = id_keyset_find(set, kid);
	assert_non_null(key);
	if (id_jws_verify(&jws, key, err, sizeof(err)) != 0)
		fail_msg("id_jws_verify: %s", err);
	claims = json_incref(jws.claims);
	id_jws_clear(&jws);
	id_keyset_free(set);
	return claims;
}

/* Opens a session with one mint grant; returns the token (caller frees). */
static char *open_mint(struct tfx_ses *f, int64_t ttl)
{
	struct ses_open_args a = tfx_ses_open_args(f);
	struct ses_keys keys = { 0 };
	char err[TFX_SES_ERRLEN], failed[80];
	char *token;

	tfx_ses_broker_key(f);
	tfx_ses_grant(f, "tickets-ro", POL_SOURCE_MINT, "https://tickets.example.org",
		      "tickets:read", ttl);
	if (ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)) != 0)
		fail_msg("ses_open: %s", err);
	assert_in_range(tfx_key_timeout(keys.v[0].serial), ttl - 5, ttl);
	token = tfx_key_value(keys.v[0].serial);
	assert_non_null(token);
	ses_keys_clear(&keys);
	return token;
}

static void test_open_mint(void **state)
{
	struct tfx_ses *f = *state;
	char *token;
	json_t *c, *act;
	const char *jti;
	int64_t now;

	tfx_ses_need_helper(f);
	token = open_mint(f, 45);
	now = time(NULL);
	c = verify_with_engine(f, token);
	assert_string_equal(json_string_value(json_object_get(c, "iss")),
			    "https://web01.example.org/broker");
	assert_string_equal(json_string_value(json_object_get(c, "sub")), TFX_SES_AGENT);
	assert_string_equal(json_string_value(json_object_get(c, "aud")),
			    "https://tickets.example.org");
	assert_string_equal(json_string_value(json_object_get(c, "scope")), "tickets:read");
	assert_string_equal(json_string_value(json_object_get(c, "sid")), f->sid);
	assert_string_equal(json_string_value(json_object_get(c, "task")), "T-42");
	assert_in_range(json_integer_value(json_object_get(c, "iat")), now - 60, now);
	assert_int_equal(json_integer_value(json_object_get(c, "exp")) -
				 json_integer_value(json_object_get(c, "iat")),
			 45);
	jti = json_string_value(json_object_get(c, "jti"));
	assert_non_null(jti);
	assert_int_equal(strlen(jti), 22); /* 16 random bytes */
	act = json_object_get(c, "act");
	assert_true(json_equal(act, f->id.act));
	json_decref(c);
	pa_free_secret(token);
}

static void test_open_mint_python(void **state)
{
	struct tfx_ses *f = *state;
	char cmd[1024], out[4096], tokpath[256], *token;
	const char *data = getenv("PA_TEST_DATA");
	json_t *c;
	FILE *p;
	size_t n;
	int st;

	tfx_ses_need_helper(f);
	if (data == NULL)
		skip();
	token = open_mint(f, 45);
	tfx_write_at(f->tmp.dir, "token", token, 0600);
	snprintf(tokpath, sizeof(tokpath), "%s/token", f->tmp.dir);
	snprintf(cmd, sizeof(cmd), "python3 '%s/helper/verify_jwt.py' '%s' < '%s'", data,
		 f->jwks_path, tokpath);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	st = pclose(p);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
		pa_free_secret(token);
		skip();
	}
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	c = json_loads(out, 0, NULL);
	assert_non_null(c);
	assert_string_equal(json_string_value(json_object_get(c, "sub")), TFX_SES_AGENT);
	assert_string_equal(json_string_value(json_object_get(c, "sid")), f->sid);
	json_decref(c);
	/* a tampered token fails the independent check */
	token[strlen(token) - 3] ^= 1;
	tfx_write_at(f->tmp.dir, "token", token, 0600);
	strcat(cmd, " 2>/dev/null");
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fread(out, 1, sizeof(out), p) > 0)
		;
	st = pclose(p);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	pa_free_secret(token);
}

static void test_open_mint_refused(void **state)
{
	struct tfx_ses *f = *state;
	struct ses_open_args a = tfx_ses_open_args(f);
	struct ses_keys keys = { 0 };
	char err[TFX_SES_ERRLEN], failed[80];

	tfx_ses_need_helper(f);
	tfx_ses_grant(f, "tickets-ro", POL_SOURCE_MINT, "https://tickets.example.org", NULL, 60);
	/* no key file */
	assert_int_equal(ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)), -1);
	tfx_contains(err, "grant tickets-ro: broker key: ");
	/* a key others may read */
	tfx_ses_broker_key(f);
	assert_int_equal(chmod(f->key_path, 0640), 0);
	assert_int_equal(ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)), -1);
	tfx_contains(err, "too open");
	/* no broker_key at all */
	f->g.broker_key = NULL;
	assert_int_equal(ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)), -1);
	tfx_contains(err, "grant tickets-ro: source mint needs broker_key in [global]");
	assert_int_equal(tfx_live_keys(f->ring), 0);
}

/* The default issuer is pam_agent:HOSTNAME. */
static void test_open_request_default_issuer(void **state)
{
	struct tfx_ses *f = *state;
	struct ses_open_args a = tfx_ses_open_args(f);
	char err[TFX_SES_ERRLEN], host[256], want[300];
	json_t *req;

	f->g.broker_issuer = NULL;
	tfx_ses_grant(f, "tickets-ro", POL_SOURCE_MINT, "https://tickets.example.org", NULL, 60);
	req = ses_open_request(&a, err, sizeof(err));
	assert_non_null(req);
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	snprintf(want, sizeof(want), "pam_agent:%s", host);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(req, "broker"), "issuer")), want);
	assert_string_equal(json_string_value(json_object_get(req, "op")), "open");
	assert_int_equal(json_integer_value(json_object_get(req, "ring")), f->ring);
	assert_int_equal(json_integer_value(json_object_get(req, "uid")), 4242);
	assert_int_equal(json_integer_value(json_object_get(req, "max_session")), 900);
	assert_int_equal(json_array_size(json_object_get(req, "grants")), 1);
	json_decref(req);
}

/* ---- failing brokers: session refused, nothing left -------------------------------- */

/* Opens [file ok, exec BODY] and expects a refusal naming "bad"; returns the error. */
static const char *open_with_bad_broker(struct tfx_ses *f, const char *body, int timeout)
{
	static char err[TFX_SES_ERRLEN];
	struct ses_open_args a;
	struct ses_keys keys = { 0 };
	char failed[80], path[256], cmd[256];

	tfx_ses_new(f);
	a = tfx_ses_open_args(f);
	tfx_write_at(f->tmp.dir, "legacy", TFX_FILE_SECRET, 0600);
	snprintf(path, sizeof(path), "%s/legacy", f->tmp.dir);
	tfx_ses_grant(f, "legacy-db", POL_SOURCE_FILE, path, NULL, 60);
	tfx_ses_script(f, "bad.sh", body);
	snprintf(cmd, sizeof(cmd), "%s/bad.sh", f->tmp.dir);
	tfx_ses_grant(f, "bad", POL_SOURCE_EXEC, cmd, NULL, 60);
	f->g.helper_timeout = timeout;
	assert_int_equal(ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)), -1);
	assert_string_equal(failed, "bad");
	assert_null(keys.v);
	/* the file key placed first was revoked: nothing readable is left */
	assert_int_equal(tfx_live_keys(f->ring), 0);
	tfx_lacks(err, TFX_FILE_SECRET);
	return err;
}

static void test_broker_hangs(void **state)
{
	struct tfx_ses *f = *state;
	const char *err;
	int64_t t0 = time(NULL);
	long sh_pid, sleep_pid;

	tfx_ses_need_helper(f);
	err = open_with_bad_broker(f,
				   "echo $$ > @D@/sh.pid\n"
				   "sleep 1000 &\n"
				   "echo $! > @D@/sleep.pid\n"
				   "wait\n",
				   4);
	/* helper_timeout 4 s: acquisition gets half, the broker is killed after 2 s */
	assert_in_range(time(NULL) - t0, 1, 4);
	tfx_contains(err, "grant bad: broker ");
	tfx_contains(err, "timed out after ");
	sh_pid = strtol(tfx_ses_read(f, "sh.pid"), NULL, 10);
	sleep_pid = strtol(tfx_ses_read(f, "sleep.pid"), NULL, 10);
	assert_true(sh_pid > 0 && sleep_pid > 0);
	/* its whole process group was killed (SIGKILL lands asynchronously:
	 * give the kernel up to 2 s to finish the orphaned sleep) */
	for (int i = 0; i < 200 && !(tfx_process_gone((pid_t)sh_pid) &&
				     tfx_process_gone((pid_t)sleep_pid)); i++)
		usleep(10000);
	assert_true(tfx_process_gone((pid_t)sh_pid));
	assert_true(tfx_process_gone((pid_t)sleep_pid));
}

static void test_broker_exits_nonzero(void **state)
{
	struct tfx_ses *f = *state;
	const char *err;

	tfx_ses_need_helper(f);
	err = open_with_bad_broker(f, "echo 'vault: permission denied' >&2\nexit 1\n", 20);
	tfx_contains(err, "exited with status 1 (stderr: vault: permission denied)");
}

static void test_broker_bad_json(void **state)
{
	struct tfx_ses *f = *state;
	const char *err;

	tfx_ses_need_helper(f);
	/* jansson's own message would quote the bad token: the secret */
	err = open_with_bad_broker(f, "echo '{\"secret\": " TFX_BADJSON_SECRET "}'\n", 20);
	tfx_contains(err, "printed no valid JSON");
	tfx_lacks(err, TFX_BADJSON_SECRET);
	err = open_with_bad_broker(f, "echo '{\"secret\": 42}'\n", 20);
	tfx_contains(err, "no non-empty \"secret\" string");
	err = open_with_bad_broker(f, "echo '{\"secret\":\"a\",\"secret\":\"b\"}'\n", 20);
	tfx_contains(err, "printed no valid JSON");
	err = open_with_bad_broker(f, "echo '[\"" TFX_BADJSON_SECRET "\"]'\n", 20);
	tfx_contains(err, "not an object");
	tfx_lacks(err, TFX_BADJSON_SECRET);
	err = open_with_bad_broker(f, "echo '{\"secret\":\"a\",\"expires_at\":\"tomorrow\"}'\n",
				   20);
	tfx_contains(err, "\"expires_at\" is neither");
	err = open_with_bad_broker(f, "true\n", 20);
	tfx_contains(err, "printed nothing");
}

static void test_broker_huge_answer(void **state)
{
	struct tfx_ses *f = *state;
	const char *err;

	tfx_ses_need_helper(f);
	err = open_with_bad_broker(f, "head -c 10485760 /dev/zero | tr '\\0' a\n", 20);
	tfx_contains(err, "wrote more than 65536 bytes");
}

static void test_broker_not_executable(void **state)
{
	struct tfx_ses *f = *state;
	struct ses_open_args a = tfx_ses_open_args(f);
	struct ses_keys keys = { 0 };
	char err[TFX_SES_ERRLEN], failed[80], cmd[256];

	tfx_ses_need_helper(f);
	snprintf(cmd, sizeof(cmd), "%s/missing.sh", f->tmp.dir);
	tfx_ses_grant(f, "gone", POL_SOURCE_EXEC, cmd, NULL, 60);
	assert_int_equal(ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)), -1);
	tfx_contains(err, "grant gone: broker ");
	tfx_contains(err, "cannot execute: No such file or directory");
}

/* Three grants, the second fails: the first is revoked, its broker told once. */
static void test_all_or_nothing(void **state)
{
	struct tfx_ses *f = *state;
	struct ses_open_args a = tfx_ses_open_args(f);
	struct ses_keys keys = { 0 };
	char err[TFX_SES_ERRLEN], failed[80], cmd[256], rev[256], bad[256], path[256];
	json_t *r;

	tfx_ses_need_helper(f);
	tfx_ses_script(f, "issue.sh", tfx_ses_issue_body);
	tfx_ses_script(f, "revoke.sh", tfx_ses_revoke_body);
	tfx_ses_script(f, "bad.sh", "exit 3\n");
	tfx_write_at(f->tmp.dir, "legacy", TFX_FILE_SECRET, 0600);
	snprintf(cmd, sizeof(cmd), "%s/issue.sh", f->tmp.dir);
	snprintf(rev, sizeof(rev), "%s/revoke.sh", f->tmp.dir);
	snprintf(bad, sizeof(bad), "%s/bad.sh", f->tmp.dir);
	snprintf(path, sizeof(path), "%s/legacy", f->tmp.dir);
	tfx_ses_grant(f, "first", POL_SOURCE_EXEC, cmd, rev, 60);
	tfx_ses_grant(f, "second", POL_SOURCE_EXEC, bad, rev, 60);
	tfx_ses_grant(f, "third", POL_SOURCE_FILE, path, NULL, 60);
	assert_int_equal(ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)), -1);
	assert_string_equal(failed, "second");
	tfx_contains(err, "grant second: broker ");
	tfx_contains(err, "exited with status 3");
	assert_int_equal(tfx_live_keys(f->ring), 0);
	/* the first broker was told exactly once, with its handle */
	assert_int_equal(tfx_ses_lines(f, "issue.ctx"), 1);
	assert_int_equal(tfx_ses_lines(f, "revoked.log"), 1);
	r = json_loads(tfx_ses_read(f, "revoked.log"), JSON_DISABLE_EOF_CHECK, NULL);
	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "handle")), "lease-1");
	assert_string_equal(json_string_value(json_object_get(r, "grant")), "first");
	assert_string_equal(json_string_value(json_object_get(r, "sid")), f->sid);
	assert_string_equal(json_string_value(json_object_get(r, "agent")), TFX_SES_AGENT);
	json_decref(r);
}

/*
 * The second grant fails and the first broker's revocation fails too: the
 * refusal names no grant, so the module treats it as an open without an
 * answer (revokes everything again, keeps the record for the reaper).
 */
static void test_rollback_incomplete_names_no_grant(void **state)
{
	struct tfx_ses *f = *state;
	struct ses_open_args a = tfx_ses_open_args(f);
	struct ses_keys keys = { 0 };
	char err[TFX_SES_ERRLEN], failed[80], cmd[256], rev[256], bad[256];

	tfx_ses_need_helper(f);
	tfx_ses_script(f, "issue.sh", tfx_ses_issue_body);
	tfx_ses_script(f, "revoke-fails.sh", "cat >/dev/null; echo down >&2; exit 1\n");
	tfx_ses_script(f, "bad.sh", "exit 3\n");
	snprintf(cmd, sizeof(cmd), "%s/issue.sh", f->tmp.dir);
	snprintf(rev, sizeof(rev), "%s/revoke-fails.sh", f->tmp.dir);
	snprintf(bad, sizeof(bad), "%s/bad.sh", f->tmp.dir);
	tfx_ses_grant(f, "first", POL_SOURCE_EXEC, cmd, rev, 60);
	tfx_ses_grant(f, "second", POL_SOURCE_EXEC, bad, rev, 60);
	assert_int_equal(ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)), -1);
	assert_string_equal(failed, "");
	tfx_contains(err, "grant second: broker ");
	tfx_contains(err, "broker of grant first not told");
	assert_int_equal(tfx_live_keys(f->ring), 0);
}

/* A broker that fails but names a revoke handle is revoked too. */
static void test_failed_broker_with_handle_revoked(void **state)
{
	struct tfx_ses *f = *state;
	struct ses_open_args a = tfx_ses_open_args(f);
	struct ses_keys keys = { 0 };
	char err[TFX_SES_ERRLEN], failed[80], cmd[256], rev[256];

	tfx_ses_need_helper(f);
	tfx_ses_script(f, "issue.sh",
		       "echo '{\"secret\":\"s\",\"revoke_handle\":\"half\"}'\nexit 1\n");
	tfx_ses_script(f, "revoke.sh", tfx_ses_revoke_body);
	snprintf(cmd, sizeof(cmd), "%s/issue.sh", f->tmp.dir);
	snprintf(rev, sizeof(rev), "%s/revoke.sh", f->tmp.dir);
	tfx_ses_grant(f, "half", POL_SOURCE_EXEC, cmd, rev, 60);
	assert_int_equal(ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)), -1);
	assert_int_equal(tfx_ses_lines(f, "revoked.log"), 1);
	tfx_contains(tfx_ses_read(f, "revoked.log"), "\"handle\":\"half\"");
}

/* ---- close ---------------------------------------------------------------------- */

static void test_close_revokes(void **state)
{
	struct tfx_ses *f = *state;
	struct ses_open_args a = tfx_ses_open_args(f);
	struct ses_keys keys = { 0 };
	struct ses_close_results res = { 0 };
	char err[TFX_SES_ERRLEN], failed[80], cmd[256], rev[256], path[256];
	size_t i;

	tfx_ses_need_helper(f);
	tfx_ses_broker_key(f);
	tfx_ses_script(f, "issue.sh", tfx_ses_issue_body);
	tfx_ses_script(f, "revoke.sh", tfx_ses_revoke_body);
	tfx_write_at(f->tmp.dir, "legacy", TFX_FILE_SECRET, 0600);
	snprintf(cmd, sizeof(cmd), "%s/issue.sh", f->tmp.dir);
	snprintf(rev, sizeof(rev), "%s/revoke.sh", f->tmp.dir);
	snprintf(path, sizeof(path), "%s/legacy", f->tmp.dir);
	tfx_ses_grant(f, "tickets-ro", POL_SOURCE_MINT, "https://tickets.example.org", NULL, 60);
	tfx_ses_grant(f, "tickets-rw", POL_SOURCE_EXEC, cmd, rev, 60);
	tfx_ses_grant(f, "legacy-db", POL_SOURCE_FILE, path, NULL, 60);
	if (ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)) != 0)
		fail_msg("ses_open: %s", err);
	assert_int_equal(keys.n, 3);
	assert_int_equal(tfx_live_keys(f->ring), 3);
	/*
	 * Keep a link of our own to each key: revoking the per-session keyring
	 * drops its links, and a key nothing else holds is destroyed at once
	 * (ENOKEY) instead of staying visible as revoked. We may link them only
	 * because the helper ran as us, their owner (root in production).
	 */
	for (i = 0; i < keys.n; i++)
		assert_true(keyctl_link(keys.v[i].serial, KEY_SPEC_SESSION_KEYRING) == 0);
	if (ses_close(f->helper, 20, f->sid, f->ring, TFX_SES_AGENT, &keys, &res, err,
		      sizeof(err)) != 0)
		fail_msg("ses_close: %s", err);
	assert_true(res.ok);
	assert_true(res.ring_revoked);
	assert_int_equal(res.n, 3);
	for (i = 0; i < res.n; i++) {
		char *v;

		assert_string_equal(res.v[i].grant, keys.v[i].grant);
		assert_int_equal(res.v[i].serial, keys.v[i].serial);
		assert_true(res.v[i].revoked);
		assert_string_equal(res.v[i].broker, i == 1 ? "ok" : "none");
		errno = 0;
		v = tfx_key_value(keys.v[i].serial);
		assert_null(v);
		assert_int_equal(errno, EKEYREVOKED);
	}
	errno = 0;
	assert_null(tfx_key_value(f->ring));
	assert_int_equal(errno, EKEYREVOKED);
	assert_int_equal(tfx_ses_lines(f, "revoked.log"), 1);
	tfx_contains(tfx_ses_read(f, "revoked.log"), "\"handle\":\"lease-1\"");
	ses_close_results_clear(&res);

	/* closing again is harmless: everything is already revoked */
	if (ses_close(f->helper, 20, f->sid, f->ring, TFX_SES_AGENT, &keys, &res, err,
		      sizeof(err)) != 0)
		fail_msg("ses_close: %s", err);
	assert_true(res.ring_revoked);
	for (i = 0; i < res.n; i++)
		assert_true(res.v[i].revoked);
	ses_close_results_clear(&res);
	ses_keys_clear(&keys);
}

static void test_close_broker_fails(void **state)
{
	struct tfx_ses *f = *state;
	struct ses_keys keys = { 0 };
	struct ses_close_results res = { 0 };
	struct ses_key k = { 0 };
	char err[TFX_SES_ERRLEN], rev[256];

	tfx_ses_need_helper(f);
	tfx_ses_script(f, "revoke.sh", "echo 'lease not found' >&2\nexit 2\n");
	snprintf(rev, sizeof(rev), "%s/revoke.sh", f->tmp.dir);
	k.grant = (char *)"tickets-rw";
	k.serial = kr_key_add(f->ring, "tickets-rw", "x", 1, 60, err, sizeof(err));
	assert_true(k.serial > 0);
	k.revoke = rev;
	k.handle = (char *)"lease-9";
	keys.v = &k;
	keys.n = 1;
	if (ses_close(f->helper, 20, f->sid, f->ring, TFX_SES_AGENT, &keys, &res, err,
		      sizeof(err)) != 0)
		fail_msg("ses_close: %s", err);
	assert_false(res.ok);
	assert_true(res.v[0].revoked);
	tfx_contains(res.v[0].broker, "failed: revoke ");
	tfx_contains(res.v[0].broker, "exited with status 2 (stderr: lease not found)");
	ses_close_results_clear(&res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_file, tfx_ses_setup, tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_open_file_refused, tfx_ses_setup,
						tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_open_ttl_session_cap, tfx_ses_setup,
						tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_open_exec, tfx_ses_setup, tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_open_exec_rfc3339, tfx_ses_setup,
						tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_open_exec_expired, tfx_ses_setup,
						tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_open_mint, tfx_ses_setup, tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_open_mint_python, tfx_ses_setup,
						tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_open_mint_refused, tfx_ses_setup,
						tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_open_request_default_issuer, tfx_ses_setup,
						tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_broker_hangs, tfx_ses_setup, tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_broker_exits_nonzero, tfx_ses_setup,
						tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_broker_bad_json, tfx_ses_setup,
						tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_broker_huge_answer, tfx_ses_setup,
						tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_broker_not_executable, tfx_ses_setup,
						tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_all_or_nothing, tfx_ses_setup,
						tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_rollback_incomplete_names_no_grant,
						tfx_ses_setup, tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_failed_broker_with_handle_revoked,
						tfx_ses_setup, tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_close_revokes, tfx_ses_setup,
						tfx_ses_teardown),
		cmocka_unit_test_setup_teardown(test_close_broker_fails, tfx_ses_setup,
						tfx_ses_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
