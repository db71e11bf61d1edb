/*
 * test_helper.c - pam_agent_helper end to end: the real built helper
 * (PA_HELPER) run through ses_run / ses_open / ses_close against the real
 * kernel keyring of this test's own session keyring (tests/run-test.sh),
 * with brokers written by the test as tiny shell scripts into a temporary
 * directory. Also ses_run against fake helpers (timeouts, crashes, bad or
 * huge replies, environment and descriptors), the request/reply parsers,
 * and the pieces of grants.c that have rules of their own.
 *
 * Minted tokens are verified twice: with the identity engine's own JWS
 * code against the published JWKS, and by an independent Python script
 * (tests/data/helper/verify_jwt.py, `cryptography` only).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

#define ERRLEN 2048
#define AGENT "spiffe://example.org/agents/bot"

/* Secrets the test hands out; none may show up anywhere but in the keys. */
#define FILE_SECRET "file-SECRET-5d1e0c"
#define EXEC_SECRET "exec-SECRET-7f3a99"
#define BADJSON_SECRET "badjson-SECRET-91c2"

/* ---- fixture ------------------------------------------------------------------- */

struct fx {
	char dir[64];
	char sid[33];
	int32_t ring;
	const char *helper;
	/* the session the tests open */
	struct pol_grant grants[4];
	struct pol_decision d;
	struct id_identity id;
	struct pol_global g;
	char key_path[128], jwks_path[128];
};

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* Writes text to dir/name with mode. */
static void write_file_at(const char *dir, const char *name, const char *text, mode_t mode)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* Writes a shell script dir/name; "@D@" in body becomes the directory. */
static void write_script(struct fx *f, const char *name, const char *body)
{
	char text[4096], *o = text;
	const char *p;

	o += snprintf(o, sizeof(text), "#!/bin/sh\n");
	for (p = body; *p; p++) {
		if (strncmp(p, "@D@", 3) == 0) {
			o += snprintf(o, sizeof(text) - (size_t)(o - text), "%s", f->dir);
			p += 2;
		} else {
			*o++ = *p;
		}
		assert_true((size_t)(o - text) < sizeof(text) - 1);
	}
	*o = '\0';
	write_file_at(f->dir, name, text, 0700);
}

/* Reads dir/name into a static buffer ("" when missing). */
static const char *read_at(const struct fx *f, const char *name)
{
	static char buf[1 << 16];
	char path[256];
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	buf[0] = '\0';
	fp = fopen(path, "r");
	if (fp == NULL)
		return buf;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

/* Lines in dir/name. */
static int count_lines(const struct fx *f, const char *name)
{
	const char *t = read_at(f, name);
	int n = 0;

	for (; *t; t++)
		n += *t == '\n';
	return n;
}

static void add_grant(struct fx *f, const char *name, enum pol_source src, const char *a,
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

/* A fresh hex session id. */
static void new_sid(char *sid, size_t len)
{
	static unsigned counter;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(sid, len, "%08x%08lx%04x", (unsigned)getpid(), (unsigned long)ts.tv_nsec,
		 ++counter & 0xffff);
}

/* Forgets the grants of the fixture. */
static void clear_grants(struct fx *f)
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

/* A new session: no grants, a new sid and a new per-session keyring. */
static void new_session(struct fx *f)
{
	char err[ERRLEN];

	clear_grants(f);
	kr_session_revoke(f->ring, err, sizeof(err));
	new_sid(f->sid, sizeof(f->sid));
	f->ring = kr_session_create(f->sid, 600, err, sizeof(err));
	if (f->ring <= 0)
		fail_msg("kr_session_create: %s", err);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[ERRLEN];

	if (f == NULL)
		return -1;
	f->helper = getenv("PA_HELPER");
	strcpy(f->dir, "/tmp/pa_test_helper.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	new_sid(f->sid, sizeof(f->sid));
	f->ring = kr_session_create(f->sid, 600, err, sizeof(err));
	if (f->ring <= 0) {
		fprintf(stderr, "kr_session_create: %s\n", err);
		nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		free(f);
		return -1;
	}
	f->id.kind = ID_KIND_SPIFFE;
	f->id.agent_id = strdup(AGENT);
	f->id.task = strdup("T-42");
	f->id.scope = strdup("read");
	f->id.act = json_pack("{s:s}", "sub", "spiffe://example.org/agents/orchestrator");
	snprintf(f->key_path, sizeof(f->key_path), "%s/broker.key", f->dir);
	snprintf(f->jwks_path, sizeof(f->jwks_path), "%s/broker.jwks", f->dir);
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

static int teardown(void **state)
{
	struct fx *f = *state;
	char err[ERRLEN];

	kr_session_revoke(f->ring, err, sizeof(err));
	clear_grants(f);
	free(f->id.agent_id);
	free(f->id.task);
	free(f->id.scope);
	json_decref(f->id.act);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void need_helper(const struct fx *f)
{
	if (f->helper == NULL || access(f->helper, X_OK) != 0) {
		print_message("PA_HELPER is not set to the built pam_agent_helper\n");
		skip();
	}
}

static struct ses_open_args open_args(struct fx *f)
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

/* A broker key for mint grants, owned by us, 0600. */
static void make_broker_key(struct fx *f)
{
	char err[ERRLEN];
	struct id_signer *s = id_signer_generate(ID_ALG_ES256, err, sizeof(err));

	assert_non_null(s);
	assert_int_equal(id_signer_save(s, f->key_path, err, sizeof(err)), 0);
	id_signer_free(s);
}

/* Issue broker: records its context, its own and its parent's (the helper's) argv/env. */
static const char issue_body[] =
	"ctx=$(cat)\n"
	"printf '%s\\n' \"$ctx\" >> @D@/issue.ctx\n"
	"tr '\\0' '\\n' < /proc/$$/environ > @D@/broker.environ\n"
	"tr '\\0' ' ' < /proc/$$/cmdline > @D@/broker.cmdline\n"
	"tr '\\0' '\\n' < /proc/$PPID/environ > @D@/helper.environ\n"
	"tr '\\0' ' ' < /proc/$PPID/cmdline > @D@/helper.cmdline\n"
	"echo \"{\\\"secret\\\":\\\"" EXEC_SECRET "\\\",\\\"expires_at\\\":$(( $(date +%s) + 30 )),"
	"\\\"revoke_handle\\\":\\\"lease-1\\\"}\"\n";

static const char revoke_body[] = "cat >> @D@/revoked.log\necho >> @D@/revoked.log\n";

/* The value of a key, or NULL with errno (EKEYREVOKED, …). Caller frees. */
static char *key_value(int32_t serial)
{
	void *buf = NULL;
	long n = keyctl_read_alloc(serial, &buf);

	if (n < 0)
		return NULL;
	return buf;
}

/* The remaining timeout of a key in seconds as /proc/keys shows it (-1: not found). */
static long key_timeout(int32_t serial)
{
	char line[512], want[16], unit = 0;
	long v = -1;
	FILE *fp = fopen("/proc/keys", "r");

	assert_non_null(fp);
	snprintf(want, sizeof(want), "%08x ", (unsigned)serial);
	while (fgets(line, sizeof(line), fp) != NULL) {
		char f2[32], f4[32];
		int usage;

		if (strncmp(line, want, strlen(want)) != 0)
			continue;
		if (sscanf(line + strlen(want), "%31s %d %31s", f2, &usage, f4) != 3)
			break;
		if (sscanf(f4, "%ld%c", &v, &unit) != 2)
			v = -1;
		else if (unit == 'm')
			v *= 60;
		else if (unit == 'h')
			v *= 3600;
		else if (unit == 'd')
			v *= 86400;
		break;
	}
	fclose(fp);
	return v;
}

/* Keys linked in ring that can still be read. */
static int live_keys(int32_t ring)
{
	void *buf = NULL;
	long n = keyctl_read_alloc(ring, &buf);
	int live = 0;
	long i;

	if (n < 0)
		return 0; /* the ring itself is revoked or gone */
	for (i = 0; i < n / (long)sizeof(key_serial_t); i++) {
		char *v = key_value(((key_serial_t *)buf)[i]);

		if (v != NULL)
			live++;
		free(v);
	}
	free(buf);
	return live;
}

/* Whether a process is gone (or a zombie nobody reaped yet). */
static bool process_gone(pid_t pid)
{
	char path[64], stat[256];
	FILE *fp;
	bool gone = true;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fp = fopen(path, "r");
	if (fp == NULL)
		return true;
	if (fgets(stat, sizeof(stat), fp) != NULL) {
		const char *p = strrchr(stat, ')');

		gone = p != NULL && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
	}
	fclose(fp);
	return gone;
}

static void assert_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

static void assert_lacks(const char *hay, const char *needle)
{
	if (strstr(hay, needle) != NULL)
		fail_msg("\"%s\" contains \"%s\"", hay, needle);
}

/* ---- open: each source places its key with the right timeout ----------------- */

static void test_open_file(void **state)
{
	struct fx *f = *state;
	struct ses_open_args a = open_args(f);
	struct ses_keys keys = { 0 };
	char err[ERRLEN], failed[80], path[256];
	char *v;
	long t;

	need_helper(f);
	write_file_at(f->dir, "legacy", FILE_SECRET "\n", 0600);
	snprintf(path, sizeof(path), "%s/legacy", f->dir);
	add_grant(f, "legacy-db", POL_SOURCE_FILE, path, NULL, 50);
	if (ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)) != 0)
		fail_msg("ses_open: %s", err);
	assert_int_equal(keys.n, 1);
	assert_string_equal(keys.v[0].grant, "legacy-db");
	assert_null(keys.v[0].handle);
	assert_null(keys.v[0].revoke);
	v = key_value(keys.v[0].serial);
	assert_non_null(v);
	assert_string_equal(v, FILE_SECRET); /* one trailing newline stripped */
	free(v);
	t = key_timeout(keys.v[0].serial);
	assert_in_range(t, 45, 50);
	assert_in_range(keys.v[0].expires_at - time(NULL), 45, 50);
	ses_keys_clear(&keys);
}

static void test_open_file_refused(void **state)
{
	struct fx *f = *state;
	struct ses_open_args a = open_args(f);
	struct ses_keys keys = { 0 };
	char err[ERRLEN], failed[80], path[256];

	need_helper(f);
	write_file_at(f->dir, "legacy", FILE_SECRET, 0640);
	snprintf(path, sizeof(path), "%s/legacy", f->dir);
	add_grant(f, "legacy-db", POL_SOURCE_FILE, path, NULL, 50);
	assert_int_equal(ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)), -1);
	assert_string_equal(failed, "legacy-db");
	assert_contains(err, "grant legacy-db: ");
	assert_contains(err, "too open");
	assert_int_equal(live_keys(f->ring), 0);

	write_file_at(f->dir, "legacy", "\n", 0600);
	assert_int_equal(ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)), -1);
	assert_contains(err, "empty");
}

static void test_open_ttl_session_cap(void **state)
{
	struct fx *f = *state;
	struct ses_open_args a = open_args(f);
	struct ses_keys keys = { 0 };
	char err[ERRLEN], failed[80], path[256];

	need_helper(f);
	write_file_at(f->dir, "legacy", FILE_SECRET, 0600);
	snprintf(path, sizeof(path), "%s/legacy", f->dir);
	add_grant(f, "legacy-db", POL_SOURCE_FILE, path, NULL, 600);
	f->d.max_session = 40; /* min(ttl, max_session) */
	if (ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)) != 0)
		fail_msg("ses_open: %s", err);
	assert_in_range(key_timeout(keys.v[0].serial), 35, 40);
	ses_keys_clear(&keys);
}

static void test_open_exec(void **state)
{
	struct fx *f = *state;
	struct ses_open_args a = open_args(f);
	struct ses_keys keys = { 0 };
	char err[ERRLEN], failed[80], cmd[256], rev[256];
	json_t *ctx;
	char *v;

	need_helper(f);
	write_script(f, "issue.sh", issue_body);
	write_script(f, "revoke.sh", revoke_body);
	snprintf(cmd, sizeof(cmd), "%s/issue.sh issue  tickets-rw", f->dir);
	snprintf(rev, sizeof(rev), "%s/revoke.sh revoke", f->dir);
	add_grant(f, "tickets-rw", POL_SOURCE_EXEC, cmd, rev, 300);
	if (ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)) != 0)
		fail_msg("ses_open: %s", err);
	assert_int_equal(keys.n, 1);
	assert_string_equal(keys.v[0].handle, "lease-1");
	assert_string_equal(keys.v[0].revoke, rev);
	v = key_value(keys.v[0].serial);
	assert_string_equal(v, EXEC_SECRET);
	free(v);
	/* the broker's expiry (30 s) is the shortest */
	assert_in_range(key_timeout(keys.v[0].serial), 25, 30);
	/* the broker got its context on stdin, argv split on blanks, no shell */
	ctx = json_loads(read_at(f, "issue.ctx"), 0, NULL);
	assert_non_null(ctx);
	assert_string_equal(json_string_value(json_object_get(ctx, "agent")), AGENT);
	assert_string_equal(json_string_value(json_object_get(ctx, "task")), "T-42");
	assert_string_equal(json_string_value(json_object_get(ctx, "scope")), "read");
	assert_string_equal(json_string_value(json_object_get(ctx, "sid")), f->sid);
	assert_string_equal(json_string_value(json_object_get(ctx, "grant")), "tickets-rw");
	assert_string_equal(json_string_value(json_object_get(ctx, "user")), "svc-bot");
	assert_int_equal(json_integer_value(json_object_get(ctx, "ttl")), 300);
	json_decref(ctx);
	assert_contains(read_at(f, "broker.cmdline"), "issue.sh issue tickets-rw ");
	/* empty environment but PATH, for the broker and for the helper */
	assert_string_equal(read_at(f, "broker.environ"), SES_ENV_PATH "\n");
	/* (the helper's own view: valgrind may add its VALGRIND_* variables) */
	assert_contains(read_at(f, "helper.environ"), SES_ENV_PATH "\n");
	assert_lacks(read_at(f, "helper.environ"), "PA_HELPER=");
	assert_lacks(read_at(f, "helper.environ"), "PA_TEST_DATA=");
	/* argv = { helper } (under valgrind, its own argv comes first) */
	snprintf(cmd, sizeof(cmd), "%s ", f->helper);
	{
		const char *line = read_at(f, "helper.cmdline");
		size_t ll = strlen(line), cl = strlen(cmd);

		assert_true(ll >= cl && strcmp(line + ll - cl, cmd) == 0);
	}
	ses_keys_clear(&keys);
}

/* The RFC 3339 form of expires_at, and unknown members ignored. */
static void test_open_exec_rfc3339(void **state)
{
	struct fx *f = *state;
	struct ses_open_args a = open_args(f);
	struct ses_keys keys = { 0 };
	char err[ERRLEN], failed[80], cmd[256];

	need_helper(f);
	write_script(f, "issue.sh",
		     "cat > /dev/null\n"
		     "exp=$(date -u -d @$(( $(date +%s) + 20 )) +%Y-%m-%dT%H:%M:%S.123456789Z)\n"
		     "echo \"{\\\"Version\\\":1,\\\"secret\\\":\\\"s\\\","
		     "\\\"expires_at\\\":\\\"$exp\\\"}\"\n");
	snprintf(cmd, sizeof(cmd), "%s/issue.sh", f->dir);
	add_grant(f, "sts", POL_SOURCE_EXEC, cmd, NULL, 300);
	if (ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)) != 0)
		fail_msg("ses_open: %s", err);
	assert_in_range(key_timeout(keys.v[0].serial), 15, 20);
	assert_null(keys.v[0].handle);
	assert_null(keys.v[0].revoke);
	ses_keys_clear(&keys);
}

static void test_open_exec_expired(void **state)
{
	struct fx *f = *state;
	struct ses_open_args a = open_args(f);
	struct ses_keys keys = { 0 };
	char err[ERRLEN], failed[80], cmd[256];

	need_helper(f);
	write_script(f, "issue.sh", "echo '{\"secret\":\"s\",\"expires_at\":1000}'\n");
	snprintf(cmd, sizeof(cmd), "%s/issue.sh", f->dir);
	add_grant(f, "sts", POL_SOURCE_EXEC, cmd, NULL, 300);
	assert_int_equal(ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)), -1);
	assert_contains(err, "grant sts: the credential has already expired");
}

/* Verifies a minted token with the identity engine against the published JWKS. */
static json_t *verify_with_engine(const struct fx *f, const char *token)
{
	struct id_keyset *set;
	struct id_jws jws;
	const struct id_key *key;
	const char *kid;
	char err[ERRLEN];
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
static char *open_mint(struct fx *f, int64_t ttl)
{
	struct ses_open_args a = open_args(f);
	struct ses_keys keys = { 0 };
	char err[ERRLEN], failed[80];
	char *token;

	make_broker_key(f);
	add_grant(f, "tickets-ro", POL_SOURCE_MINT, "https://tickets.example.org",
		  "tickets:read", ttl);
	if (ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)) != 0)
		fail_msg("ses_open: %s", err);
	assert_in_range(key_timeout(keys.v[0].serial), ttl - 5, ttl);
	token = key_value(keys.v[0].serial);
	assert_non_null(token);
	ses_keys_clear(&keys);
	return token;
}

static void test_open_mint(void **state)
{
	struct fx *f = *state;
	char *token;
	json_t *c, *act;
	const char *jti;
	int64_t now;

	need_helper(f);
	token = open_mint(f, 45);
	now = time(NULL);
	c = verify_with_engine(f, token);
	assert_string_equal(json_string_value(json_object_get(c, "iss")),
			    "https://web01.example.org/broker");
	assert_string_equal(json_string_value(json_object_get(c, "sub")), AGENT);
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
	struct fx *f = *state;
	char cmd[1024], out[4096], tokpath[256], *token;
	const char *data = getenv("PA_TEST_DATA");
	json_t *c;
	FILE *p;
	size_t n;
	int st;

	need_helper(f);
	if (data == NULL)
		skip();
	token = open_mint(f, 45);
	write_file_at(f->dir, "token", token, 0600);
	snprintf(tokpath, sizeof(tokpath), "%s/token", f->dir);
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
	assert_string_equal(json_string_value(json_object_get(c, "sub")), AGENT);
	assert_string_equal(json_string_value(json_object_get(c, "sid")), f->sid);
	json_decref(c);
	/* a tampered token fails the independent check */
	token[strlen(token) - 3] ^= 1;
	write_file_at(f->dir, "token", token, 0600);
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
	struct fx *f = *state;
	struct ses_open_args a = open_args(f);
	struct ses_keys keys = { 0 };
	char err[ERRLEN], failed[80];

	need_helper(f);
	add_grant(f, "tickets-ro", POL_SOURCE_MINT, "https://tickets.example.org", NULL, 60);
	/* no key file */
	assert_int_equal(ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)), -1);
	assert_contains(err, "grant tickets-ro: broker key: ");
	/* a key others may read */
	make_broker_key(f);
	assert_int_equal(chmod(f->key_path, 0640), 0);
	assert_int_equal(ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)), -1);
	assert_contains(err, "too open");
	/* no broker_key at all */
	f->g.broker_key = NULL;
	assert_int_equal(ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)), -1);
	assert_contains(err, "grant tickets-ro: source mint needs broker_key in [global]");
	assert_int_equal(live_keys(f->ring), 0);
}

/* The default issuer is pam_agent:HOSTNAME. */
static void test_open_request_default_issuer(void **state)
{
	struct fx *f = *state;
	struct ses_open_args a = open_args(f);
	char err[ERRLEN], host[256], want[300];
	json_t *req;

	f->g.broker_issuer = NULL;
	add_grant(f, "tickets-ro", POL_SOURCE_MINT, "https://tickets.example.org", NULL, 60);
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
static const char *open_with_bad_broker(struct fx *f, const char *body, int timeout)
{
	static char err[ERRLEN];
	struct ses_open_args a;
	struct ses_keys keys = { 0 };
	char failed[80], path[256], cmd[256];

	new_session(f);
	a = open_args(f);
	write_file_at(f->dir, "legacy", FILE_SECRET, 0600);
	snprintf(path, sizeof(path), "%s/legacy", f->dir);
	add_grant(f, "legacy-db", POL_SOURCE_FILE, path, NULL, 60);
	write_script(f, "bad.sh", body);
	snprintf(cmd, sizeof(cmd), "%s/bad.sh", f->dir);
	add_grant(f, "bad", POL_SOURCE_EXEC, cmd, NULL, 60);
	f->g.helper_timeout = timeout;
	assert_int_equal(ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)), -1);
	assert_string_equal(failed, "bad");
	assert_null(keys.v);
	/* the file key placed first was revoked: nothing readable is left */
	assert_int_equal(live_keys(f->ring), 0);
	assert_lacks(err, FILE_SECRET);
	return err;
}

static void test_broker_hangs(void **state)
{
	struct fx *f = *state;
	const char *err;
	int64_t t0 = time(NULL);
	long sh_pid, sleep_pid;

	need_helper(f);
	err = open_with_bad_broker(f,
				   "echo $$ > @D@/sh.pid\n"
				   "sleep 1000 &\n"
				   "echo $! > @D@/sleep.pid\n"
				   "wait\n",
				   4);
	/* helper_timeout 4 s: acquisition gets half, the broker is killed after 2 s */
	assert_in_range(time(NULL) - t0, 1, 4);
	assert_contains(err, "grant bad: broker ");
	assert_contains(err, "timed out after ");
	sh_pid = strtol(read_at(f, "sh.pid"), NULL, 10);
	sleep_pid = strtol(read_at(f, "sleep.pid"), NULL, 10);
	assert_true(sh_pid > 0 && sleep_pid > 0);
	/* its whole process group was killed (SIGKILL lands asynchronously:
	 * give the kernel up to 2 s to finish the orphaned sleep) */
	for (int i = 0; i < 200 && !(process_gone((pid_t)sh_pid) &&
				     process_gone((pid_t)sleep_pid)); i++)
		usleep(10000);
	assert_true(process_gone((pid_t)sh_pid));
	assert_true(process_gone((pid_t)sleep_pid));
}

static void test_broker_exits_nonzero(void **state)
{
	struct fx *f = *state;
	const char *err;

	need_helper(f);
	err = open_with_bad_broker(f, "echo 'vault: permission denied' >&2\nexit 1\n", 20);
	assert_contains(err, "exited with status 1 (stderr: vault: permission denied)");
}

static void test_broker_bad_json(void **state)
{
	struct fx *f = *state;
	const char *err;

	need_helper(f);
	/* jansson's own message would quote the bad token: the secret */
	err = open_with_bad_broker(f, "echo '{\"secret\": " BADJSON_SECRET "}'\n", 20);
	assert_contains(err, "printed no valid JSON");
	assert_lacks(err, BADJSON_SECRET);
	err = open_with_bad_broker(f, "echo '{\"secret\": 42}'\n", 20);
	assert_contains(err, "no non-empty \"secret\" string");
	err = open_with_bad_broker(f, "echo '{\"secret\":\"a\",\"secret\":\"b\"}'\n", 20);
	assert_contains(err, "printed no valid JSON");
	err = open_with_bad_broker(f, "echo '[\"" BADJSON_SECRET "\"]'\n", 20);
	assert_contains(err, "not an object");
	assert_lacks(err, BADJSON_SECRET);
	err = open_with_bad_broker(f, "echo '{\"secret\":\"a\",\"expires_at\":\"tomorrow\"}'\n",
				   20);
	assert_contains(err, "\"expires_at\" is neither");
	err = open_with_bad_broker(f, "true\n", 20);
	assert_contains(err, "printed nothing");
}

static void test_broker_huge_answer(void **state)
{
	struct fx *f = *state;
	const char *err;

	need_helper(f);
	err = open_with_bad_broker(f, "head -c 10485760 /dev/zero | tr '\\0' a\n", 20);
	assert_contains(err, "wrote more than 65536 bytes");
}

static void test_broker_not_executable(void **state)
{
	struct fx *f = *state;
	struct ses_open_args a = open_args(f);
	struct ses_keys keys = { 0 };
	char err[ERRLEN], failed[80], cmd[256];

	need_helper(f);
	snprintf(cmd, sizeof(cmd), "%s/missing.sh", f->dir);
	add_grant(f, "gone", POL_SOURCE_EXEC, cmd, NULL, 60);
	assert_int_equal(ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)), -1);
	assert_contains(err, "grant gone: broker ");
	assert_contains(err, "cannot execute: No such file or directory");
}

/* Three grants, the second fails: the first is revoked, its broker told once. */
static void test_all_or_nothing(void **state)
{
	struct fx *f = *state;
	struct ses_open_args a = open_args(f);
	struct ses_keys keys = { 0 };
	char err[ERRLEN], failed[80], cmd[256], rev[256], bad[256], path[256];
	json_t *r;

	need_helper(f);
	write_script(f, "issue.sh", issue_body);
	write_script(f, "revoke.sh", revoke_body);
	write_script(f, "bad.sh", "exit 3\n");
	write_file_at(f->dir, "legacy", FILE_SECRET, 0600);
	snprintf(cmd, sizeof(cmd), "%s/issue.sh", f->dir);
	snprintf(rev, sizeof(rev), "%s/revoke.sh", f->dir);
	snprintf(bad, sizeof(bad), "%s/bad.sh", f->dir);
	snprintf(path, sizeof(path), "%s/legacy", f->dir);
	add_grant(f, "first", POL_SOURCE_EXEC, cmd, rev, 60);
	add_grant(f, "second", POL_SOURCE_EXEC, bad, rev, 60);
	add_grant(f, "third", POL_SOURCE_FILE, path, NULL, 60);
	assert_int_equal(ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)), -1);
	assert_string_equal(failed, "second");
	assert_contains(err, "grant second: broker ");
	assert_contains(err, "exited with status 3");
	assert_int_equal(live_keys(f->ring), 0);
	/* the first broker was told exactly once, with its handle */
	assert_int_equal(count_lines(f, "issue.ctx"), 1);
	assert_int_equal(count_lines(f, "revoked.log"), 1);
	r = json_loads(read_at(f, "revoked.log"), JSON_DISABLE_EOF_CHECK, NULL);
	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "handle")), "lease-1");
	assert_string_equal(json_string_value(json_object_get(r, "grant")), "first");
	assert_string_equal(json_string_value(json_object_get(r, "sid")), f->sid);
	assert_string_equal(json_string_value(json_object_get(r, "agent")), AGENT);
	json_decref(r);
}

/*
 * The second grant fails and the first broker's revocation fails too: the
 * refusal names no grant, so the module treats it as an open without an
 * answer (revokes everything again, keeps the record for the reaper).
 */
static void test_rollback_incomplete_names_no_grant(void **state)
{
	struct fx *f = *state;
	struct ses_open_args a = open_args(f);
	struct ses_keys keys = { 0 };
	char err[ERRLEN], failed[80], cmd[256], rev[256], bad[256];

	need_helper(f);
	write_script(f, "issue.sh", issue_body);
	write_script(f, "revoke-fails.sh", "cat >/dev/null; echo down >&2; exit 1\n");
	write_script(f, "bad.sh", "exit 3\n");
	snprintf(cmd, sizeof(cmd), "%s/issue.sh", f->dir);
	snprintf(rev, sizeof(rev), "%s/revoke-fails.sh", f->dir);
	snprintf(bad, sizeof(bad), "%s/bad.sh", f->dir);
	add_grant(f, "first", POL_SOURCE_EXEC, cmd, rev, 60);
	add_grant(f, "second", POL_SOURCE_EXEC, bad, rev, 60);
	assert_int_equal(ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)), -1);
	assert_string_equal(failed, "");
	assert_contains(err, "grant second: broker ");
	assert_contains(err, "broker of grant first not told");
	assert_int_equal(live_keys(f->ring), 0);
}

/* A broker that fails but names a revoke handle is revoked too. */
static void test_failed_broker_with_handle_revoked(void **state)
{
	struct fx *f = *state;
	struct ses_open_args a = open_args(f);
	struct ses_keys keys = { 0 };
	char err[ERRLEN], failed[80], cmd[256], rev[256];

	need_helper(f);
	write_script(f, "issue.sh",
		     "echo '{\"secret\":\"s\",\"revoke_handle\":\"half\"}'\nexit 1\n");
	write_script(f, "revoke.sh", revoke_body);
	snprintf(cmd, sizeof(cmd), "%s/issue.sh", f->dir);
	snprintf(rev, sizeof(rev), "%s/revoke.sh", f->dir);
	add_grant(f, "half", POL_SOURCE_EXEC, cmd, rev, 60);
	assert_int_equal(ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)), -1);
	assert_int_equal(count_lines(f, "revoked.log"), 1);
	assert_contains(read_at(f, "revoked.log"), "\"handle\":\"half\"");
}

/* ---- close ---------------------------------------------------------------------- */

static void test_close_revokes(void **state)
{
	struct fx *f = *state;
	struct ses_open_args a = open_args(f);
	struct ses_keys keys = { 0 };
	struct ses_close_results res = { 0 };
	char err[ERRLEN], failed[80], cmd[256], rev[256], path[256];
	size_t i;

	need_helper(f);
	make_broker_key(f);
	write_script(f, "issue.sh", issue_body);
	write_script(f, "revoke.sh", revoke_body);
	write_file_at(f->dir, "legacy", FILE_SECRET, 0600);
	snprintf(cmd, sizeof(cmd), "%s/issue.sh", f->dir);
	snprintf(rev, sizeof(rev), "%s/revoke.sh", f->dir);
	snprintf(path, sizeof(path), "%s/legacy", f->dir);
	add_grant(f, "tickets-ro", POL_SOURCE_MINT, "https://tickets.example.org", NULL, 60);
	add_grant(f, "tickets-rw", POL_SOURCE_EXEC, cmd, rev, 60);
	add_grant(f, "legacy-db", POL_SOURCE_FILE, path, NULL, 60);
	if (ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)) != 0)
		fail_msg("ses_open: %s", err);
	assert_int_equal(keys.n, 3);
	assert_int_equal(live_keys(f->ring), 3);
	/*
	 * Keep a link of our own to each key: revoking the per-session keyring
	 * drops its links, and a key nothing else holds is destroyed at once
	 * (ENOKEY) instead of staying visible as revoked. We may link them only
	 * because the helper ran as us, their owner (root in production).
	 */
	for (i = 0; i < keys.n; i++)
		assert_true(keyctl_link(keys.v[i].serial, KEY_SPEC_SESSION_KEYRING) == 0);
	if (ses_close(f->helper, 20, f->sid, f->ring, AGENT, &keys, &res, err, sizeof(err)) != 0)
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
		v = key_value(keys.v[i].serial);
		assert_null(v);
		assert_int_equal(errno, EKEYREVOKED);
	}
	errno = 0;
	assert_null(key_value(f->ring));
	assert_int_equal(errno, EKEYREVOKED);
	assert_int_equal(count_lines(f, "revoked.log"), 1);
	assert_contains(read_at(f, "revoked.log"), "\"handle\":\"lease-1\"");
	ses_close_results_clear(&res);

	/* closing again is harmless: everything is already revoked */
	if (ses_close(f->helper, 20, f->sid, f->ring, AGENT, &keys, &res, err, sizeof(err)) != 0)
		fail_msg("ses_close: %s", err);
	assert_true(res.ring_revoked);
	for (i = 0; i < res.n; i++)
		assert_true(res.v[i].revoked);
	ses_close_results_clear(&res);
	ses_keys_clear(&keys);
}

static void test_close_broker_fails(void **state)
{
	struct fx *f = *state;
	struct ses_keys keys = { 0 };
	struct ses_close_results res = { 0 };
	struct ses_key k = { 0 };
	char err[ERRLEN], rev[256];

	need_helper(f);
	write_script(f, "revoke.sh", "echo 'lease not found' >&2\nexit 2\n");
	snprintf(rev, sizeof(rev), "%s/revoke.sh", f->dir);
	k.grant = (char *)"tickets-rw";
	k.serial = kr_key_add(f->ring, "tickets-rw", "x", 1, 60, err, sizeof(err));
	assert_true(k.serial > 0);
	k.revoke = rev;
	k.handle = (char *)"lease-9";
	keys.v = &k;
	keys.n = 1;
	if (ses_close(f->helper, 20, f->sid, f->ring, AGENT, &keys, &res, err, sizeof(err)) != 0)
		fail_msg("ses_close: %s", err);
	assert_false(res.ok);
	assert_true(res.v[0].revoked);
	assert_contains(res.v[0].broker, "failed: revoke ");
	assert_contains(res.v[0].broker, "exited with status 2 (stderr: lease not found)");
	ses_close_results_clear(&res);
}

/* ---- isolation from the caller (security review F9, M1; docs/security.md) ------------ */

/*
 * F9: the helper and its brokers (root in production) ran in the PAM
 * application's session keyring, which is the agent's and writable by it.
 * A key planted there must not be found by a broker searching its own @s,
 * neither at open nor at close (revoke broker).
 */
static void test_brokers_own_session_keyring(void **state)
{
	struct fx *f = *state;
	struct ses_open_args a = open_args(f);
	struct ses_keys keys = { 0 };
	struct ses_close_results res = { 0 };
	char err[ERRLEN], failed[80], cmd[256], rev[256], desc[64];
	key_serial_t planted;

	need_helper(f);
	if (access("/usr/bin/keyctl", X_OK) != 0 && access("/bin/keyctl", X_OK) != 0) {
		print_message("keyctl (keyutils) is not installed\n");
		skip();
	}
	snprintf(desc, sizeof(desc), "pa-planted-%s", f->sid);
	/* the keyring the helper is started in: this test's session keyring */
	planted = add_key("user", desc, "planted", 7, KEY_SPEC_SESSION_KEYRING);
	assert_true(planted > 0);
	/* the test itself finds it (so the broker would, in the same keyring) */
	assert_int_equal(keyctl_search(KEY_SPEC_SESSION_KEYRING, "user", desc, 0), planted);
	{
		char body[1024];

		snprintf(body, sizeof(body),
			 "cat > /dev/null\n"
			 "if keyctl search @s user %s >/dev/null 2>&1; then echo found; "
			 "else echo absent; fi >> @D@/@WHO@.search\n",
			 desc);
		write_script(f, "search.sh", body);
	}
	{
		/* two copies: one issues, one revokes */
		const char *t = read_at(f, "search.sh");
		char issue[2048], revoke[2048], *p;

		snprintf(issue, sizeof(issue), "%s", t + strlen("#!/bin/sh\n"));
		p = strstr(issue, "@WHO@");
		assert_non_null(p);
		snprintf(revoke, sizeof(revoke), "%.*sissue%s"
			 "echo '{\"secret\":\"s\",\"revoke_handle\":\"h\"}'\n",
			 (int)(p - issue), issue, p + 5);
		write_script(f, "issue.sh", revoke);
		snprintf(revoke, sizeof(revoke), "%.*srevoke%s", (int)(p - issue), issue, p + 5);
		write_script(f, "revoke.sh", revoke);
	}
	snprintf(cmd, sizeof(cmd), "%s/issue.sh", f->dir);
	snprintf(rev, sizeof(rev), "%s/revoke.sh", f->dir);
	add_grant(f, "tickets-rw", POL_SOURCE_EXEC, cmd, rev, 60);
	if (ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)) != 0)
		fail_msg("ses_open: %s", err);
	assert_string_equal(read_at(f, "issue.search"), "absent\n");
	/* the key still went into the per-session keyring it was told about */
	assert_int_equal(live_keys(f->ring), 1);
	if (ses_close(f->helper, 20, f->sid, f->ring, AGENT, &keys, &res, err, sizeof(err)) != 0)
		fail_msg("ses_close: %s", err);
	assert_true(res.ok);
	assert_string_equal(read_at(f, "revoke.search"), "absent\n");
	ses_close_results_clear(&res);
	ses_keys_clear(&keys);
	keyctl_revoke(planted);
	keyctl_unlink(planted, KEY_SPEC_SESSION_KEYRING);
}

/* Changes the working directory to dir; returns the old one for back_dir. */
static int in_dir(const char *dir)
{
	int old = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(old >= 0);
	assert_int_equal(chdir(dir), 0);
	return old;
}

static void back_dir(int old)
{
	assert_int_equal(fchdir(old), 0);
	close(old);
}

/*
 * M1: the helper and its brokers ran in the PAM application's working
 * directory (under sudo or su the agent's own). A broker must run in "/",
 * the helper too, and files planted in the caller's directory must not be
 * picked up by a broker that resolves arguments against its directory.
 */
static void test_brokers_run_in_root_dir(void **state)
{
	struct fx *f = *state;
	struct ses_open_args a = open_args(f);
	struct ses_keys keys = { 0 };
	char err[ERRLEN], failed[80], cmd[256], planted[128], path[256];
	int old;

	need_helper(f);
	snprintf(planted, sizeof(planted), "%s/agent-home", f->dir);
	assert_int_equal(mkdir(planted, 0755), 0);
	/* what the agent leaves in its directory: a shell script and a python module */
	snprintf(path, sizeof(path), "touch %s/PLANTED-RAN\necho '{\"secret\":\"planted\"}'\n",
		 f->dir);
	write_file_at(planted, "pa_planted.sh", path, 0755);
	snprintf(path, sizeof(path),
		 "open('%s/PLANTED-RAN', 'w').close()\nprint('{\"secret\":\"planted\"}')\n",
		 f->dir);
	write_file_at(planted, "pa_planted_broker.py", path, 0644);
	write_script(f, "cwd.sh",
		     "cat > /dev/null\npwd > @D@/broker.cwd\n"
		     "readlink /proc/$PPID/cwd > @D@/helper.cwd\n"
		     "echo '{\"secret\":\"s\"}'\n");

	old = in_dir(planted);
	/* the broker and the helper record where they run */
	snprintf(cmd, sizeof(cmd), "%s/cwd.sh", f->dir);
	add_grant(f, "where", POL_SOURCE_EXEC, cmd, NULL, 60);
	if (ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)) != 0)
		fail_msg("ses_open: %s", err);
	ses_keys_clear(&keys);
	assert_string_equal(read_at(f, "broker.cwd"), "/\n");
	assert_string_equal(read_at(f, "helper.cwd"), "/\n");

	/* relative arguments resolve against "/", never the caller's directory */
	new_session(f);
	a = open_args(f);
	add_grant(f, "sh-rel", POL_SOURCE_EXEC, "/bin/sh pa_planted.sh", NULL, 60);
	assert_int_equal(ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)), -1);
	assert_string_equal(failed, "sh-rel");
	if (access("/usr/bin/python3", X_OK) == 0) {
		new_session(f);
		a = open_args(f);
		add_grant(f, "py-mod", POL_SOURCE_EXEC, "/usr/bin/python3 -m pa_planted_broker",
			  NULL, 60);
		assert_int_equal(ses_open(&a, &keys, failed, sizeof(failed), err, sizeof(err)),
				 -1);
		assert_string_equal(failed, "py-mod");
	} else {
		print_message("/usr/bin/python3 missing: the python -m case is not run\n");
	}
	back_dir(old);
	snprintf(path, sizeof(path), "%s/PLANTED-RAN", f->dir);
	assert_int_equal(access(path, F_OK), -1);
}

/*
 * M1, the helper on its own: started in another directory by something
 * other than ses_run (here a shell that cds first), it still runs itself and
 * its brokers in "/".
 */
static void test_helper_chdirs_itself(void **state)
{
	struct fx *f = *state;
	struct ses_open_args a = open_args(f);
	struct ses_exchange x;
	char err[ERRLEN], cmd[256], shline[512];
	const char *argv[] = { "/bin/sh", "-c", shline, NULL };
	json_t *req, *reply;
	char *text;

	need_helper(f);
	write_script(f, "cwd.sh",
		     "cat > /dev/null\npwd > @D@/broker.cwd\n"
		     "readlink /proc/$PPID/cwd > @D@/helper.cwd\n"
		     "echo '{\"secret\":\"s\"}'\n");
	snprintf(cmd, sizeof(cmd), "%s/cwd.sh", f->dir);
	add_grant(f, "where", POL_SOURCE_EXEC, cmd, NULL, 60);
	req = ses_open_request(&a, err, sizeof(err));
	assert_non_null(req);
	text = json_dumps(req, JSON_COMPACT);
	assert_non_null(text);
	snprintf(shline, sizeof(shline), "cd '%s' && exec '%s'", f->dir, f->helper);
	memset(&x, 0, sizeof(x));
	x.in = text;
	x.inlen = strlen(text);
	x.out_max = SES_REPLY_MAX;
	x.timeout_ms = 20000;
	x.want_stderr = true;
	assert_int_equal(ses_exchange_run(argv, &x, err, sizeof(err)), 0);
	reply = json_loadb(x.out ? x.out : "", x.outlen, 0, NULL);
	if (!json_is_true(json_object_get(reply, "ok")))
		fail_msg("helper: %s / %s", x.out ? x.out : "", x.errtext);
	assert_string_equal(read_at(f, "helper.cwd"), "/\n");
	assert_string_equal(read_at(f, "broker.cwd"), "/\n");
	json_decref(reply);
	json_decref(req);
	free(text);
	ses_exchange_clear(&x);
}

/*
 * close describes each serial before revoking it: a serial that now names
 * another key (reused after ours was garbage-collected) is left alone and
 * counts as revoked, with a note; the broker is still told. A write-ahead
 * entry (the ring's serial) is still revoked with the ring.
 */
static void test_close_checks_what_serial_names(void **state)
{
	struct fx *f = *state;
	struct ses_keys keys = { 0 };
	struct ses_close_results res = { 0 };
	struct ses_key k[3];
	char err[ERRLEN], rev[256];
	int32_t victim, victim_ring;
	char *v;

	need_helper(f);
	write_script(f, "revoke.sh", revoke_body);
	snprintf(rev, sizeof(rev), "%s/revoke.sh", f->dir);
	/*
	 * keys of someone else that now carry the serials the record names:
	 * not in this session's ring, which close revokes (its links go with
	 * it, after an RCU grace period, so a key held only there would
	 * vanish at a time that depends on the machine's load)
	 */
	victim = kr_key_add(keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0), "victim",
			    "victim-value", 12, 60, err, sizeof(err));
	assert_true(victim > 0);
	victim_ring = add_key("keyring", KR_PREFIX "tickets-ro", NULL, 0,
			      KEY_SPEC_SESSION_KEYRING);
	assert_true(victim_ring > 0);
	memset(k, 0, sizeof(k));
	k[0].grant = (char *)"tickets-rw"; /* described "pam_agent:victim" */
	k[0].serial = victim;
	k[0].revoke = rev;
	k[0].handle = (char *)"lease-7";
	k[1].grant = (char *)"tickets-ro"; /* right name, wrong type */
	k[1].serial = victim_ring;
	k[2].grant = (char *)"pending"; /* a write-ahead entry: the ring's serial */
	k[2].serial = f->ring;
	k[2].revoke = rev;
	keys.v = k;
	keys.n = 3;
	if (ses_close(f->helper, 20, f->sid, 0, AGENT, &keys, &res, err, sizeof(err)) != 0)
		fail_msg("ses_close: %s", err);
	assert_int_equal(res.n, 3);
	/* the other keys are untouched */
	v = key_value(victim);
	assert_non_null(v);
	assert_string_equal(v, "victim-value");
	free(v);
	assert_int_equal(keyctl_describe_alloc(victim_ring, &v) > 0, 1);
	free(v);
	assert_true(res.v[0].revoked);
	assert_non_null(res.v[0].note);
	assert_contains(res.v[0].note, "now names another key");
	assert_contains(res.v[0].note, "pam_agent:victim");
	assert_string_equal(res.v[0].broker, "ok");
	assert_true(res.v[1].revoked);
	assert_non_null(res.v[1].note);
	assert_contains(res.v[1].note, "now names another key");
	/* the write-ahead entry: the session's ring, ours, revoked */
	assert_true(res.v[2].revoked);
	assert_null(res.v[2].note);
	errno = 0;
	assert_null(key_value(f->ring));
	assert_int_equal(errno, EKEYREVOKED);
	assert_true(res.ok);
	assert_int_equal(count_lines(f, "revoked.log"), 2);
	ses_close_results_clear(&res);
	keyctl_revoke(victim_ring);
	keyctl_unlink(victim_ring, KEY_SPEC_SESSION_KEYRING);
	keyctl_revoke(victim);
	keyctl_unlink(victim, KEY_SPEC_SESSION_KEYRING);
}

/*
 * A key's description ("pam_agent:<grant>") carries no session: when a
 * serial of session A's record is reused by session B's key of the same
 * grant, close for A must not revoke it. close revokes a key only when it
 * is linked in A's own keyring; when that ring is not named, gone or
 * unreadable, it cannot tell and revokes nothing (reported not revoked).
 */
static void test_close_leaves_other_sessions_key(void **state)
{
	struct fx *f = *state;
	struct ses_keys keys = { 0 };
	struct ses_close_results res = { 0 };
	struct ses_key k[2];
	char err[ERRLEN], sid_b[40], sid_c[40];
	int32_t ring_b, ring_c, key_a, key_b;
	char *v;

	need_helper(f);
	/* session A is the fixture's; session B has a key of the same grant */
	new_sid(sid_b, sizeof(sid_b));
	ring_b = kr_session_create(sid_b, 600, err, sizeof(err));
	if (ring_b <= 0)
		fail_msg("kr_session_create: %s", err);
	key_a = kr_key_add(f->ring, "tickets-rw", "value-of-a", 10, 60, err, sizeof(err));
	assert_true(key_a > 0);
	key_b = kr_key_add(ring_b, "tickets-rw", "value-of-b", 10, 60, err, sizeof(err));
	assert_true(key_b > 0);
	/* keep B's key reachable (and A's) after their rings are revoked, to check them */
	assert_int_equal(keyctl_link(key_a, KEY_SPEC_SESSION_KEYRING), 0);
	assert_int_equal(keyctl_link(key_b, KEY_SPEC_SESSION_KEYRING), 0);
	memset(k, 0, sizeof(k));
	k[0].grant = (char *)"tickets-rw";
	k[0].serial = key_b; /* A's record, the serial now names B's key */
	keys.v = k;
	keys.n = 1;

	/* no ring in the request: cannot tell whose key it is, left alone */
	if (ses_close(f->helper, 20, f->sid, 0, AGENT, &keys, &res, err, sizeof(err)) != 0)
		fail_msg("ses_close: %s", err);
	assert_int_equal(res.n, 1);
	assert_false(res.v[0].revoked);
	assert_false(res.ok);
	assert_non_null(res.v[0].note);
	assert_contains(res.v[0].note, "cannot be verified as this session's");
	ses_close_results_clear(&res);
	v = key_value(key_b);
	assert_non_null(v);
	assert_string_equal(v, "value-of-b");
	free(v);

	/* a ring that is gone (revoked): cannot tell either, left alone */
	new_sid(sid_c, sizeof(sid_c));
	ring_c = kr_session_create(sid_c, 600, err, sizeof(err));
	assert_true(ring_c > 0);
	assert_int_equal(kr_session_revoke(ring_c, err, sizeof(err)), 0);
	if (ses_close(f->helper, 20, sid_c, ring_c, AGENT, &keys, &res, err, sizeof(err)) != 0)
		fail_msg("ses_close: %s", err);
	assert_int_equal(res.n, 1);
	assert_false(res.v[0].revoked);
	assert_non_null(res.v[0].note);
	assert_contains(res.v[0].note, "cannot be read");
	ses_close_results_clear(&res);
	v = key_value(key_b);
	assert_non_null(v);
	assert_string_equal(v, "value-of-b");
	free(v);

	/* session A's close naming its own key and B's: only A's is revoked */
	k[1].grant = (char *)"tickets-rw";
	k[1].serial = key_a;
	keys.n = 2;
	if (ses_close(f->helper, 20, f->sid, f->ring, AGENT, &keys, &res, err, sizeof(err)) != 0)
		fail_msg("ses_close: %s", err);
	assert_int_equal(res.n, 2);
	assert_true(res.v[0].revoked); /* ours is gone: the serial names another key */
	assert_non_null(res.v[0].note);
	assert_contains(res.v[0].note, "not in session");
	assert_contains(res.v[0].note, "left alone");
	assert_true(res.v[1].revoked);
	assert_null(res.v[1].note);
	assert_true(res.ring_revoked);
	ses_close_results_clear(&res);
	v = key_value(key_b);
	assert_non_null(v);
	assert_string_equal(v, "value-of-b");
	free(v);
	/* A's key is revoked: unreadable (EKEYREVOKED), or, once the kernel
	 * has dropped it after its ring's revocation, gone (ENOKEY) */
	errno = 0;
	assert_null(key_value(key_a));
	assert_true(errno == EKEYREVOKED || errno == ENOKEY);

	assert_int_equal(kr_session_revoke(ring_b, err, sizeof(err)), 0);
	keyctl_revoke(key_b);
	keyctl_unlink(key_a, KEY_SPEC_SESSION_KEYRING);
	keyctl_unlink(key_b, KEY_SPEC_SESSION_KEYRING);
}

/* ---- the helper program itself ---------------------------------------------------- */

static void test_helper_refuses_terminal(void **state)
{
	struct fx *f = *state;
	int master, ep[2], st;
	char buf[512];
	ssize_t n;
	pid_t pid;

	need_helper(f);
	master = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(master >= 0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	assert_int_equal(pipe(ep), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int slave = open(ptsname(master), O_RDWR | O_NOCTTY);

		if (slave < 0 || dup2(slave, 0) < 0 || dup2(ep[1], 2) < 0 || dup2(ep[1], 1) < 0)
			_exit(99);
		execl(f->helper, f->helper, (char *)NULL);
		_exit(98);
	}
	close(ep[1]);
	n = read(ep[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(ep[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	close(master);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 2);
	assert_contains(buf, "refusing to run with a terminal on stdin");
}

/* Runs the helper on request text directly; returns its reply (caller decrefs). */
static json_t *run_raw(const struct fx *f, const char *text, struct ses_exchange *x)
{
	const char *argv[] = { f->helper, NULL };
	char err[ERRLEN];

	memset(x, 0, sizeof(*x));
	x->in = text;
	x->inlen = strlen(text);
	x->out_max = SES_REPLY_MAX;
	x->timeout_ms = 20000;
	x->want_stderr = true;
	assert_int_equal(ses_exchange_run(argv, x, err, sizeof(err)), 0);
	return json_loadb(x->out ? x->out : "", x->outlen, 0, NULL);
}

static void test_helper_bad_requests(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "", "request: not a JSON object" },
		{ "[1]", "request: not a JSON object" },
		{ "{\"op\":\"open\",\"op\":\"close\"}", "request: not a JSON object" },
		{ "{\"op\":\"reap\"}", "\"op\" must be \"open\" or \"close\"" },
		{ "{\"op\":\"close\",\"sid\":\"ABC\",\"keys\":[]}", "\"sid\" must be 1 to 64" },
		{ "{\"op\":\"close\",\"sid\":\"ab\",\"keys\":[],\"extra\":1}",
		  "unknown member \"extra\"" },
		{ "{\"op\":\"close\",\"sid\":\"ab\",\"ring\":0,"
		  "\"keys\":[{\"grant\":\"g\",\"serial\":0}]}",
		  "no valid \"serial\"" },
		{ "{\"op\":\"open\",\"sid\":\"ab\",\"ring\":1,\"agent\":\"a\",\"user\":\"u\","
		  "\"uid\":1,\"max_session\":60,\"grants\":[],\"broker\":{\"key\":\"rel\"}}",
		  "broker paths must be absolute" },
		{ "{\"op\":\"open\",\"sid\":\"ab\",\"ring\":1,\"agent\":\"a\",\"user\":\"u\","
		  "\"uid\":1,\"max_session\":60,\"broker\":{},\"grants\":[{\"name\":\"a b\"}]}",
		  "grant name is not" },
		{ "{\"op\":\"open\",\"sid\":\"ab\",\"ring\":1,\"agent\":\"a\",\"user\":\"u\","
		  "\"uid\":1,\"max_session\":60,\"broker\":{},\"grants\":[{\"name\":\"g\","
		  "\"class\":\"read\",\"source\":\"exec\",\"ttl\":5,\"command\":\"x\"}]}",
		  "source exec needs absolute commands" },
	};
	size_t i;

	need_helper(f);
	for (i = 0; i < PA_ARRAY_SIZE(cases); i++) {
		struct ses_exchange x;
		json_t *r = run_raw(f, cases[i].text, &x);
		const char *e;

		if (r == NULL)
			fail_msg("case %zu: no reply (%s)", i, x.errtext);
		assert_true(json_is_false(json_object_get(r, "ok")));
		e = json_string_value(json_object_get(r, "error"));
		assert_non_null(e);
		if (strstr(e, cases[i].want) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, e, cases[i].want);
		assert_true(x.reaped && WIFEXITED(x.status) && WEXITSTATUS(x.status) == 1);
		json_decref(r);
		ses_exchange_clear(&x);
	}
}

/* What the helper writes (reply and stderr) never holds a secret. */
static void test_helper_output_has_no_secret(void **state)
{
	struct fx *f = *state;
	struct ses_open_args a = open_args(f);
	struct ses_exchange x;
	char err[ERRLEN], cmd[256], path[256], *text;
	json_t *req, *r;

	need_helper(f);
	write_script(f, "issue.sh", issue_body);
	write_file_at(f->dir, "legacy", FILE_SECRET, 0600);
	snprintf(cmd, sizeof(cmd), "%s/issue.sh", f->dir);
	snprintf(path, sizeof(path), "%s/legacy", f->dir);
	add_grant(f, "legacy-db", POL_SOURCE_FILE, path, NULL, 60);
	add_grant(f, "tickets-rw", POL_SOURCE_EXEC, cmd, NULL, 60);
	req = ses_open_request(&a, err, sizeof(err));
	assert_non_null(req);
	text = json_dumps(req, JSON_COMPACT);
	r = run_raw(f, text, &x);
	assert_non_null(r);
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_string_equal(x.errtext, "");
	assert_lacks(x.out, FILE_SECRET);
	assert_lacks(x.out, EXEC_SECRET);
	/* neither the helper's argv nor its environment held one (the broker looked) */
	assert_lacks(read_at(f, "helper.environ"), FILE_SECRET);
	assert_lacks(read_at(f, "helper.cmdline"), FILE_SECRET);
	assert_lacks(read_at(f, "broker.environ"), EXEC_SECRET);
	assert_lacks(read_at(f, "broker.cmdline"), EXEC_SECRET);
	json_decref(r);
	ses_exchange_clear(&x);
	free(text);
	json_decref(req);

	/* and on the failure path, with the secret in a broken answer */
	write_script(f, "issue.sh", "echo '{\"secret\": " BADJSON_SECRET " }'\nexit 1\n");
	new_session(f);
	add_grant(f, "legacy-db", POL_SOURCE_FILE, path, NULL, 60);
	add_grant(f, "tickets-rw", POL_SOURCE_EXEC, cmd, NULL, 60);
	a = open_args(f);
	req = ses_open_request(&a, err, sizeof(err));
	text = json_dumps(req, JSON_COMPACT);
	r = run_raw(f, text, &x);
	assert_non_null(r);
	assert_true(json_is_false(json_object_get(r, "ok")));
	assert_lacks(x.out, BADJSON_SECRET);
	assert_lacks(x.out, FILE_SECRET);
	assert_lacks(x.errtext, BADJSON_SECRET);
	json_decref(r);
	ses_exchange_clear(&x);
	free(text);
	json_decref(req);
}

/* ---- ses_run against fake helpers ---------------------------------------------------- */

/* Runs dir/name as the helper with a small request. */
static int run_fake(struct fx *f, const char *name, int timeout, json_t **reply, char *err)
{
	char path[256];
	json_t *req = json_pack("{s:s}", "op", "test");
	int rc;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	rc = ses_run(path, req, timeout, reply, err, ERRLEN);
	json_decref(req);
	return rc;
}

static void test_run_timeout(void **state)
{
	struct fx *f = *state;
	char err[ERRLEN];
	json_t *r = NULL;
	time_t t0 = time(NULL);

	write_script(f, "h.sh", "echo $$ > @D@/h.pid\nexec sleep 1000\n");
	assert_int_equal(run_fake(f, "h.sh", 1, &r, err), -1);
	assert_null(r);
	assert_string_equal(err, "helper timed out after 1s");
	assert_in_range(time(NULL) - t0, 0, 3);
	assert_true(process_gone((pid_t)strtol(read_at(f, "h.pid"), NULL, 10)));
}

static void test_run_failures(void **state)
{
	struct fx *f = *state;
	char err[ERRLEN];
	json_t *r = NULL;

	write_script(f, "h.sh", "cat >/dev/null\necho 'cannot parse request' >&2\nexit 3\n");
	assert_int_equal(run_fake(f, "h.sh", 5, &r, err), -1);
	assert_contains(err, "helper exited with status 3 without a valid reply (no reply): "
			     "cannot parse request");
	write_script(f, "h.sh", "echo 'not json'\n");
	assert_int_equal(run_fake(f, "h.sh", 5, &r, err), -1);
	assert_contains(err, "without a valid reply");
	write_script(f, "h.sh", "echo '{\"ok\":true,\"ok\":false}'\n");
	assert_int_equal(run_fake(f, "h.sh", 5, &r, err), -1);
	assert_contains(err, "duplicate");
	write_script(f, "h.sh", "echo '{\"ok\":1}'\n");
	assert_int_equal(run_fake(f, "h.sh", 5, &r, err), -1);
	assert_contains(err, "not an object with \"ok\"");
	write_script(f, "h.sh", "echo '{\"ok\":true}'\nexit 1\n");
	assert_int_equal(run_fake(f, "h.sh", 5, &r, err), -1);
	assert_contains(err, "helper exited with status 1 after an ok reply");
	write_script(f, "h.sh", "kill -9 $$\n");
	assert_int_equal(run_fake(f, "h.sh", 5, &r, err), -1);
	assert_contains(err, "helper was killed by signal 9");
	write_script(f, "h.sh", "head -c 2000000 /dev/zero\n");
	assert_int_equal(run_fake(f, "h.sh", 5, &r, err), -1);
	assert_contains(err, "helper reply larger than 1048576 bytes");
	assert_int_equal(run_fake(f, "missing", 5, &r, err), -1);
	assert_contains(err, "cannot execute: No such file or directory");
	write_file_at(f->dir, "noexec", "#!/bin/sh\n", 0600);
	assert_int_equal(run_fake(f, "noexec", 5, &r, err), -1);
	assert_contains(err, "cannot execute: Permission denied");
	{
		json_t *req = json_object();

		assert_int_equal(ses_run("relative/helper", req, 5, &r, err, sizeof(err)), -1);
		assert_contains(err, "must be absolute");
		json_decref(req);
	}
	/* an ok:false reply with a non-zero status is a valid answer */
	write_script(f, "h.sh", "echo '{\"ok\":false,\"error\":\"no\"}'\nexit 1\n");
	assert_int_equal(run_fake(f, "h.sh", 5, &r, err), 0);
	assert_true(json_is_false(json_object_get(r, "ok")));
	json_decref(r);
}

/* The helper gets the request on stdin, PATH only, and no other descriptor. */
static void test_run_sanitized(void **state)
{
	struct fx *f = *state;
	char err[ERRLEN], body[1024];
	json_t *r = NULL;
	int leak = open("/dev/null", O_RDONLY); /* not close-on-exec */

	assert_true(leak > 2);
	setenv("PA_TEST_LEAK", "must-not-pass", 1);
	snprintf(body, sizeof(body),
		 "cat > @D@/req.json\n"
		 "env > @D@/env.txt\n"
		 "if [ -e /proc/$$/fd/%d ]; then echo leaked > @D@/fd.txt; fi\n"
		 "tr '\\0' ' ' < /proc/$$/cmdline > @D@/cmdline.txt\n"
		 "echo '{\"ok\":true}'\n",
		 leak);
	write_script(f, "h.sh", body);
	if (run_fake(f, "h.sh", 5, &r, err) != 0)
		fail_msg("ses_run: %s", err);
	close(leak);
	unsetenv("PA_TEST_LEAK");
	assert_true(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	assert_string_equal(read_at(f, "req.json"), "{\"op\":\"test\"}");
	/* sh adds PWD (and may add SHLVL, _): the helper was given PATH only */
	assert_contains(read_at(f, "env.txt"), SES_ENV_PATH "\n");
	assert_lacks(read_at(f, "env.txt"), "PA_TEST_LEAK");
	assert_lacks(read_at(f, "env.txt"), "PA_HELPER");
	assert_string_equal(read_at(f, "fd.txt"), "");
	/* argv = { path } (the kernel adds /bin/sh for the script) */
	assert_contains(read_at(f, "cmdline.txt"), "/h.sh ");
	assert_lacks(read_at(f, "cmdline.txt"), "/h.sh /");
}

/* A helper that does not read its stdin must not kill us with SIGPIPE. */
static void test_run_sigpipe(void **state)
{
	struct fx *f = *state;
	char err[ERRLEN], path[256];
	char *big = malloc(1 << 20);
	json_t *req, *r = NULL;
	sigset_t before, after, pending;

	assert_non_null(big);
	memset(big, 'a', (1 << 20) - 1);
	big[(1 << 20) - 1] = '\0';
	req = json_pack("{s:s}", "pad", big);
	free(big);
	write_script(f, "h.sh", "echo '{\"ok\":false,\"error\":\"early\"}'\nexit 1\n");
	snprintf(path, sizeof(path), "%s/h.sh", f->dir);
	sigprocmask(SIG_SETMASK, NULL, &before);
	assert_int_equal(ses_run(path, req, 5, &r, err, sizeof(err)), 0);
	sigprocmask(SIG_SETMASK, NULL, &after);
	assert_int_equal(sigismember(&before, SIGPIPE), sigismember(&after, SIGPIPE));
	assert_int_equal(sigpending(&pending), 0);
	assert_int_equal(sigismember(&pending, SIGPIPE), 0);
	json_decref(r);
	json_decref(req);
}

/* With SIGCHLD ignored (children reaped by the kernel) the reply still counts. */
static void test_run_sigchld_ignored(void **state)
{
	struct fx *f = *state;
	struct sigaction ign, old;
	char err[ERRLEN];
	json_t *r = NULL;
	int rc;

	write_script(f, "h.sh", "cat >/dev/null\necho '{\"ok\":true}'\n");
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	assert_int_equal(sigaction(SIGCHLD, &ign, &old), 0);
	rc = run_fake(f, "h.sh", 5, &r, err);
	sigaction(SIGCHLD, &old, NULL);
	if (rc != 0)
		fail_msg("ses_run: %s", err);
	assert_true(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
}

/* ---- replies and pieces ----------------------------------------------------------------- */

static void test_open_reply_parse(void **state)
{
	struct fx *f = *state;
	struct ses_keys keys = { 0 };
	char err[ERRLEN], failed[80];
	json_t *r;

	add_grant(f, "a", POL_SOURCE_FILE, "/x", NULL, 60);
	add_grant(f, "b", POL_SOURCE_EXEC, "/bin/issue", "/bin/revoke", 60);
	r = json_loads("{\"ok\":true,\"keys\":[{\"grant\":\"a\",\"serial\":5,\"expires_at\":9,"
		       "\"handle\":null,\"revoke\":null},{\"grant\":\"b\",\"serial\":6,"
		       "\"expires_at\":9,\"handle\":\"h\",\"revoke\":\"/bin/revoke\"}]}",
		       0, NULL);
	assert_int_equal(ses_open_reply_parse(r, &f->d, &keys, failed, sizeof(failed), err,
					     sizeof(err)),
			 0);
	assert_int_equal(keys.n, 2);
	assert_int_equal(keys.v[1].serial, 6);
	assert_string_equal(keys.v[1].handle, "h");
	json_decref(r);
	/* round trip through the state-file form */
	{
		json_t *arr = ses_keys_to_json(&keys);
		struct ses_keys back = { 0 };

		assert_int_equal(ses_keys_from_json(arr, &back, err, sizeof(err)), 0);
		assert_int_equal(back.n, 2);
		assert_string_equal(back.v[1].revoke, "/bin/revoke");
		assert_int_equal(back.v[0].expires_at, 9);
		ses_keys_clear(&back);
		json_decref(arr);
	}
	ses_keys_clear(&keys);

	/* wrong order, wrong count, wrong revoke, bad serial, extra member */
	static const char *const bad[] = {
		"{\"ok\":true,\"keys\":[{\"grant\":\"b\",\"serial\":5},"
		"{\"grant\":\"a\",\"serial\":6}]}",
		"{\"ok\":true,\"keys\":[{\"grant\":\"a\",\"serial\":5}]}",
		"{\"ok\":true,\"keys\":[{\"grant\":\"a\",\"serial\":5},"
		"{\"grant\":\"b\",\"serial\":6}]}",
		"{\"ok\":true,\"keys\":[{\"grant\":\"a\",\"serial\":-5},"
		"{\"grant\":\"b\",\"serial\":6,"
		"\"revoke\":\"/bin/revoke\"}]}",
		"{\"ok\":true,\"keys\":[],\"more\":1}",
		"{\"ok\":\"yes\"}",
	};
	size_t i;

	for (i = 0; i < PA_ARRAY_SIZE(bad); i++) {
		r = json_loads(bad[i], 0, NULL);
		assert_non_null(r);
		assert_int_equal(ses_open_reply_parse(r, &f->d, &keys, failed, sizeof(failed), err,
						     sizeof(err)),
				 -1);
		assert_null(keys.v);
		json_decref(r);
	}
	r = json_loads("{\"ok\":false,\"error\":\"broker down\\n\",\"grant\":\"b\"}", 0, NULL);
	assert_int_equal(
		ses_open_reply_parse(r, &f->d, &keys, failed, sizeof(failed), err, sizeof(err)), -1);
	assert_string_equal(failed, "b");
	assert_string_equal(err, "grant b: broker down\\x0a");
	json_decref(r);
}

static void test_close_reply_parse(void **state)
{
	struct ses_close_results res = { 0 };
	char err[ERRLEN];
	json_t *r;

	(void)state;
	r = json_loads("{\"ok\":false,\"ring_revoked\":true,\"results\":[{\"grant\":\"a\","
		       "\"serial\":3,\"revoked\":true,\"broker\":\"failed: x\"}]}",
		       0, NULL);
	assert_int_equal(ses_close_reply_parse(r, &res, err, sizeof(err)), 0);
	assert_false(res.ok);
	assert_true(res.ring_revoked);
	assert_string_equal(res.v[0].broker, "failed: x");
	ses_close_results_clear(&res);
	json_decref(r);
	r = json_loads("{\"ok\":false,\"error\":\"request: bad\",\"grant\":null}", 0, NULL);
	assert_int_equal(ses_close_reply_parse(r, &res, err, sizeof(err)), -1);
	assert_string_equal(err, "request: bad");
	json_decref(r);
	r = json_loads("{\"ok\":true,\"ring_revoked\":true,\"results\":[{\"grant\":\"a\"}]}", 0,
		       NULL);
	assert_int_equal(ses_close_reply_parse(r, &res, err, sizeof(err)), -1);
	json_decref(r);
}

static void test_parse_expiry(void **state)
{
	static const struct {
		const char *json;
		int ok;
		int64_t want;
	} cases[] = {
		{ "1718013600", 1, 1718013600 },
		{ "\"2024-06-10T10:00:00Z\"", 1, 1718013600 },
		{ "\"2024-06-10t10:00:00.999999999z\"", 1, 1718013600 },
		{ "\"2024-06-10T12:30:00+02:30\"", 1, 1718013600 },
		{ "\"2024-06-10T07:00:00-03:00\"", 1, 1718013600 },
		{ "\"2024-02-29T00:00:00Z\"", 1, 1709164800 },
		{ "\"2016-12-31T23:59:60Z\"", 1, 1483228799 },
		{ "\"2023-02-29T00:00:00Z\"", 0, 0 },
		{ "\"2024-06-10 10:00:00Z\"", 0, 0 },
		{ "\"2024-06-10T10:00:00\"", 0, 0 },
		{ "\"2024-06-10T10:00Z\"", 0, 0 },
		{ "\"2024-06-10T10:00:00.Z\"", 0, 0 },
		{ "\"2024-06-10T10:00:00Zjunk\"", 0, 0 },
		{ "\"2024-13-10T10:00:00Z\"", 0, 0 },
		{ "\"1718013600\"", 0, 0 },
		{ "0", 0, 0 },
		{ "-5", 0, 0 },
		{ "1.5", 0, 0 },
		{ "true", 0, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < PA_ARRAY_SIZE(cases); i++) {
		json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
		int64_t t = 0;

		assert_non_null(v);
		if ((ses_parse_expiry(v, &t) == 0) != cases[i].ok)
			fail_msg("%s: expected %s", cases[i].json, cases[i].ok ? "ok" : "refusal");
		if (cases[i].ok && t != cases[i].want)
			fail_msg("%s: %lld, expected %lld", cases[i].json, (long long)t,
				 (long long)cases[i].want);
		json_decref(v);
	}
}

static void test_split_command(void **state)
{
	char err[ERRLEN], big[1024], **argv = NULL;
	size_t i;

	(void)state;
	assert_int_equal(ses_split_command("/usr/libexec/vault-broker  issue\ttickets-rw ", &argv,
					  err, sizeof(err)),
			 0);
	assert_string_equal(argv[0], "/usr/libexec/vault-broker");
	assert_string_equal(argv[1], "issue");
	assert_string_equal(argv[2], "tickets-rw");
	assert_null(argv[3]);
	ses_argv_free(argv);
	assert_int_equal(ses_split_command("vault-broker issue", &argv, err, sizeof(err)), -1);
	assert_null(argv);
	assert_int_equal(ses_split_command("", &argv, err, sizeof(err)), -1);
	strcpy(big, "/bin/x");
	for (i = 0; i < SES_ARGV_MAX; i++)
		strcat(big, " a");
	assert_int_equal(ses_split_command(big, &argv, err, sizeof(err)), -1);
	assert_contains(err, "more than 64 words");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_file_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_ttl_session_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_exec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_exec_rfc3339, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_exec_expired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_mint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_mint_python, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_mint_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_request_default_issuer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broker_hangs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broker_exits_nonzero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broker_bad_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broker_huge_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broker_not_executable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_incomplete_names_no_grant, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_failed_broker_with_handle_revoked, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_close_revokes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_broker_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_brokers_own_session_keyring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_brokers_run_in_root_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_helper_chdirs_itself, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_leaves_other_sessions_key, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_close_checks_what_serial_names, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_helper_refuses_terminal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_helper_bad_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_helper_output_has_no_secret, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_sanitized, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_sigpipe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_sigchld_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_reply_parse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_reply_parse, setup, teardown),
		cmocka_unit_test(test_parse_expiry),
		cmocka_unit_test(test_split_command),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
