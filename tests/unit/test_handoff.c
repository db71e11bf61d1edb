/*
 * test_handoff.c - unit tests of the identity hand-off record
 * (handoff/handoff.c, handoff/handoff.h, docs/handoff.md):
 * a round trip keeps every claim the later phases use (act chain, nulls,
 * an OIDC identity), the file is named by a digest and never holds the
 * handle, taking is single use (tombstone), unknown and malformed handles
 * are told apart, hard links, oversized and malformed records and an
 * untrusted directory are refused, the decision digest changes with every
 * field of every grant, the reaper removes only what is old (and markers
 * of processes that are gone), the marker tells the intended taker that a
 * record waits, unknown start times are refused and empty optional fields
 * round-trip.
 *
 * Every test works in its own mkdtemp() directory, removed afterwards.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "handoff.h"
#include "util.h"
#include "tfx.h"

#define NOW 1700000000

static int setup(void **state)
{
	*state = tfx_file_new("handoff", "state");
	return *state != NULL ? 0 : -1;
}

static struct id_identity *identity(void)
{
	struct id_identity *id = calloc(1, sizeof(*id));
	json_error_t jerr;

	assert_non_null(id);
	id->kind = ID_KIND_SPIFFE;
	id->agent_id = strdup("spiffe://example.org/agents/bot");
	id->subject = strdup("spiffe://example.org/agents/bot");
	id->trust_domain = strdup("example.org");
	id->jti = strdup("jti-1");
	id->task = strdup("T-42");
	id->scope = strdup("read write");
	id->kid = strdup("kid-1");
	id->alg = ID_ALG_ES256;
	id->exp = NOW + 300;
	id->iat = NOW - 5;
	id->act = json_loads("{\"sub\":\"spiffe://example.org/agents/orch\","
			     "\"act\":{\"sub\":\"spiffe://example.org/agents/top\"}}",
			     0, &jerr);
	assert_non_null(id->act);
	snprintf(id->fingerprint, sizeof(id->fingerprint), "%064d", 7);
	return id;
}

static void record(struct ho_record *rec, struct id_identity *id)
{
	memset(rec, 0, sizeof(*rec));
	rec->service = (char *)"sshd";
	rec->user = (char *)"svc-bot";
	rec->rhost = (char *)"192.0.2.7";
	rec->tty = NULL;
	rec->created = NOW;
	rec->expires = NOW + HO_TTL;
	rec->pid = 200;
	rec->pid_start = 2000;
	/* the taker: this process, so its marker is a live process's */
	rec->ppid = getpid();
	rec->ppid_start = ho_start_time(getpid());
	assert_true(rec->ppid_start >= 0);
	memset(rec->decision, 'a', 64);
	rec->decision[64] = '\0';
	rec->identity = id;
}

/* The one file of STATE/handoff whose name has no dot, into out. */
static int only_file(const struct tfx_file *f, char *out, size_t len)
{
	char dir[256];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/handoff", f->path);
	d = opendir(dir);
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || strchr(e->d_name, '.') != NULL)
			continue;
		snprintf(out, len, "%s/%s", dir, e->d_name);
		n++;
	}
	closedir(d);
	return n;
}

/*
 * The record is compact JSON, members sorted (json_dumps, JSON_COMPACT |
 * JSON_SORT_KEYS), no member twice: nulls, "" and quotes, control bytes,
 * DEL and non-ASCII in the strings, the act chain; and a string that is
 * not UTF-8 is refused.
 */
static void test_record_as_jansson_writes_it(void **state)
{
	struct tfx_file *f = *state;
	struct id_identity *id = identity();
	struct ho_record rec;
	char handle[HO_HANDLE_LEN + 1], path[512], buf[8192];
	json_t *parsed;
	char *want;
	ssize_t n;
	int fd;

	free(id->scope);
	id->scope = strdup("");
	free(id->task);
	id->task = strdup("T-\"42\"\\\x01\x1f\x7f/\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	free(id->kid);
	id->kid = NULL;
	id->pop = true;
	record(&rec, id);
	rec.rhost = (char *)"";
	rec.user = (char *)"b\xc3\xb6t\ttab";
	assert_int_equal(ho_handle_new(handle), 0);
	assert_int_equal(ho_write(f->path, handle, &rec, f->err, sizeof(f->err)), 0);
	assert_int_equal(only_file(f, path, sizeof(path)), 1);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	parsed = json_loads(buf, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(parsed);
	want = json_dumps(parsed, JSON_COMPACT | JSON_SORT_KEYS);
	assert_non_null(want);
	assert_string_equal(buf, want);
	assert_non_null(strstr(buf, "\"kid\":null"));
	assert_non_null(strstr(buf, "\"pop\":true"));
	free(want);
	json_decref(parsed);
	/* not UTF-8: not written */
	assert_int_equal(ho_handle_new(handle), 0);
	rec.user = (char *)"bot\xff";
	assert_int_equal(ho_write(f->path, handle, &rec, f->err, sizeof(f->err)), -1);
	assert_int_equal(only_file(f, path, sizeof(path)), 1);
	id_identity_free(id);
}

static void test_round_trip(void **state)
{
	struct tfx_file *f = *state;
	struct id_identity *id = identity();
	struct ho_record rec, got;
	char handle[HO_HANDLE_LEN + 1], path[512];
	struct stat st;

	assert_int_equal(ho_handle_new(handle), 0);
	assert_true(ho_handle_valid(handle));
	record(&rec, id);
	assert_int_equal(ho_write(f->path, handle, &rec, f->err, sizeof(f->err)), 0);
	assert_int_equal(only_file(f, path, sizeof(path)), 1);
	/* named by the digest, never the handle; 0600 in a 0700 directory */
	assert_null(strstr(path, handle));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* a second record for the same handle is never written over the first */
	assert_int_equal(ho_write(f->path, handle, &rec, f->err, sizeof(f->err)), -1);

	assert_int_equal(ho_take(f->path, handle, &got, f->err, sizeof(f->err)), HO_TAKEN);
	assert_string_equal(got.service, "sshd");
	assert_string_equal(got.user, "svc-bot");
	assert_string_equal(got.rhost, "192.0.2.7");
	assert_null(got.tty);
	assert_int_equal(got.expires, NOW + HO_TTL);
	assert_int_equal(got.ppid, getpid());
	assert_int_equal(got.ppid_start, ho_start_time(getpid()));
	assert_string_equal(got.decision, rec.decision);
	assert_string_equal(got.identity->agent_id, id->agent_id);
	assert_string_equal(got.identity->task, "T-42");
	assert_string_equal(got.identity->scope, "read write");
	assert_string_equal(got.identity->jti, "jti-1");
	assert_null(got.identity->issuer);
	assert_int_equal(got.identity->alg, ID_ALG_ES256);
	assert_int_equal(got.identity->exp, NOW + 300);
	assert_int_equal(got.identity->iat, NOW - 5);
	assert_true(json_equal(got.identity->act, id->act));
	assert_string_equal(got.identity->fingerprint, id->fingerprint);
	ho_record_clear(&got);

	/* single use: the tombstone answers the second take */
	assert_int_equal(ho_take(f->path, handle, &got, f->err, sizeof(f->err)), HO_USED);
	assert_int_equal(only_file(f, path, sizeof(path)), 0);
	id_identity_free(id);
}

static void test_unknown_and_malformed_handles(void **state)
{
	struct tfx_file *f = *state;
	struct ho_record got;

	assert_int_equal(ho_take(f->path, "0123456789abcdef0123456789abcdef", &got, f->err,
				 sizeof(f->err)),
			 HO_MISSING);
	assert_false(ho_handle_valid("../../etc/passwd"));
	assert_false(ho_handle_valid("0123456789ABCDEF0123456789ABCDEF"));
	assert_false(ho_handle_valid("0123456789abcdef0123456789abcde"));
	assert_false(ho_handle_valid("0123456789abcdef0123456789abcdef0"));
	assert_int_equal(ho_take(f->path, "../../etc/passwd", &got, f->err, sizeof(f->err)),
			 HO_MISSING);
}

/* Writes a record for handle, then replaces its bytes by text (0600). */
static void write_then_replace(struct tfx_file *f, const char *handle, const char *text,
			       char *path, size_t len)
{
	struct id_identity *id = identity();
	struct ho_record rec;
	FILE *fp;

	record(&rec, id);
	assert_int_equal(ho_write(f->path, handle, &rec, f->err, sizeof(f->err)), 0);
	id_identity_free(id);
	assert_int_equal(only_file(f, path, len), 1);
	if (text != NULL) {
		fp = fopen(path, "w");
		assert_non_null(fp);
		fputs(text, fp);
		assert_int_equal(fclose(fp), 0);
	}
}

static void test_untrusted_records(void **state)
{
	struct tfx_file *f = *state;
	struct ho_record got;
	char path[512], lnk[600], big[HO_RECORD_MAX + 16];
	const char *h1 = "11111111111111111111111111111111", *h2 = "22222222222222222222222222222222",
		   *h3 = "33333333333333333333333333333333", *h4 = "44444444444444444444444444444444";

	/* malformed JSON, a duplicate member, a wrong kind */
	write_then_replace(f, h1, "{\"v\":1,\"v\":1}", path, sizeof(path));
	assert_int_equal(ho_take(f->path, h1, &got, f->err, sizeof(f->err)), HO_ERROR);
	assert_non_null(strstr(f->err, "not a JSON object"));
	/* a hard link */
	write_then_replace(f, h2, NULL, path, sizeof(path));
	snprintf(lnk, sizeof(lnk), "%s/elsewhere", f->tmp.dir);
	assert_int_equal(link(path, lnk), 0);
	assert_int_equal(ho_take(f->path, h2, &got, f->err, sizeof(f->err)), HO_ERROR);
	assert_non_null(strstr(f->err, "2 hard links"));
	/* oversized */
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_then_replace(f, h3, big, path, sizeof(path));
	assert_int_equal(ho_take(f->path, h3, &got, f->err, sizeof(f->err)), HO_ERROR);
	assert_non_null(strstr(f->err, "larger than"));
	/* an identity without an agent id */
	write_then_replace(f, h4,
			   "{\"v\":1,\"service\":\"s\",\"user\":\"u\",\"created\":1,\"expires\":2,"
			   "\"pid\":1,\"pid_start\":1,\"ppid\":1,\"ppid_start\":1,\"decision\":"
			   "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
			   "\"identity\":{\"kind\":1,\"alg\":\"ES256\",\"exp\":1,\"iat\":0,\"nbf\":0,"
			   "\"fingerprint\":\"x\"}}",
			   path, sizeof(path));
	assert_int_equal(ho_take(f->path, h4, &got, f->err, sizeof(f->err)), HO_ERROR);
	assert_non_null(strstr(f->err, "malformed identity"));
}

static void test_untrusted_directory(void **state)
{
	struct tfx_file *f = *state;
	struct id_identity *id = identity();
	struct ho_record rec;
	char dir[256];

	record(&rec, id);
	assert_int_equal(mkdir(f->path, 0755), 0);
	snprintf(dir, sizeof(dir), "%s/handoff", f->path);
	assert_int_equal(mkdir(dir, 0750), 0);
	assert_int_equal(chmod(dir, 0750), 0);
	assert_int_equal(ho_write(f->path, "55555555555555555555555555555555", &rec, f->err,
				  sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, "mode 0700"));
	assert_int_equal(ho_reap(f->path, NOW, f->err, sizeof(f->err)), -1);
	/* a link in place of the directory */
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(symlink(f->tmp.dir, dir), 0);
	assert_int_equal(ho_write(f->path, "55555555555555555555555555555555", &rec, f->err,
				  sizeof(f->err)),
			 -1);
	id_identity_free(id);
}

/* Sets a grant's name and audience (the digest reads them through d.grants). */
static void name_grant(struct pol_grant *g, const char *name, const char *audience)
{
	g->name = (char *)name;
	g->audience = (char *)audience;
}

static void test_decision_digest(void **state)
{
	struct pol_grant g[2];
	struct pol_decision d;
	char base[65], other[65];
	int i;

	(void)state;
	memset(&d, 0, sizeof(d));
	memset(g, 0, sizeof(g));
	d.allow = true;
	d.cls = POL_CLASS_READ;
	d.max_session = 900;
	d.grants = g;
	d.n_grants = 2;
	g[0].name = (char *)"a";
	g[0].cls = POL_CLASS_READ;
	g[0].source = POL_SOURCE_MINT;
	g[0].audience = (char *)"https://x";
	g[0].ttl = 60;
	g[1].name = (char *)"b";
	g[1].source = POL_SOURCE_EXEC;
	g[1].command = (char *)"/bin/issue";
	g[1].revoke = (char *)"/bin/revoke";
	g[1].ttl = 60;
	ho_decision_digest(&d, base);
	assert_int_equal(strlen(base), 64);
	for (i = 0; i < 9; i++) {
		struct pol_grant saved = g[1];

		switch (i) {
		case 0: g[1].name = (char *)"c"; break;
		case 1: g[1].cls = POL_CLASS_WRITE; break;
		case 2: g[1].source = POL_SOURCE_FILE; break;
		case 3: g[1].audience = (char *)"https://y"; break;
		case 4: g[1].scope = (char *)"s"; break;
		case 5: g[1].command = (char *)"/bin/issue2"; break;
		case 6: g[1].revoke = NULL; break;
		case 7: g[1].path = (char *)"/etc/x"; break;
		default: g[1].ttl = 61; break;
		}
		ho_decision_digest(&d, other);
		if (strcmp(base, other) == 0)
			fail_msg("changing field %d of a grant kept the digest", i);
		g[1] = saved;
	}
	/* "ab" + "" is not "a" + "b": fields are length-prefixed */
	name_grant(&g[0], "a-", "//x");
	ho_decision_digest(&d, other);
	assert_string_not_equal(base, other);
	name_grant(&g[0], "a", "https://x");
	d.max_session = 901;
	ho_decision_digest(&d, other);
	assert_string_not_equal(base, other);
	d.max_session = 900;
	d.n_grants = 1;
	ho_decision_digest(&d, other);
	assert_string_not_equal(base, other);
	d.n_grants = 2;
	ho_decision_digest(&d, other);
	assert_string_equal(base, other);
}

static void test_reap(void **state)
{
	struct tfx_file *f = *state;
	struct id_identity *id = identity();
	struct ho_record rec, got;
	char path[512];
	time_t now = time(NULL);

	record(&rec, id);
	assert_int_equal(ho_reap(f->path, now, f->err, sizeof(f->err)), 0); /* nothing yet */
	assert_int_equal(ho_write(f->path, "66666666666666666666666666666666", &rec, f->err,
				  sizeof(f->err)),
			 0);
	assert_int_equal(ho_write(f->path, "77777777777777777777777777777777", &rec, f->err,
				  sizeof(f->err)),
			 0);
	assert_int_equal(ho_take(f->path, "77777777777777777777777777777777", &got, f->err,
				 sizeof(f->err)),
			 HO_TAKEN);
	ho_record_clear(&got);
	/* fresh: kept */
	assert_int_equal(ho_reap(f->path, now, f->err, sizeof(f->err)), 0);
	/* a minute and more later: the record and the tombstone go; the marker
	 * of the untaken record stays while its process (this one) runs */
	assert_int_equal(ho_reap(f->path, now + HO_TTL + 1, f->err, sizeof(f->err)), 2);
	assert_int_equal(only_file(f, path, sizeof(path)), 0);
	assert_int_equal(ho_take(f->path, "66666666666666666666666666666666", &got, f->err,
				 sizeof(f->err)),
			 HO_MISSING);
	assert_int_equal(ho_pending(f->path, getpid(), ho_start_time(getpid()), f->err,
				    sizeof(f->err)),
			 1);
	/* a marker for a process that is gone (this pid, another start time) goes at once */
	rec.ppid_start = ho_start_time(getpid()) + 1;
	assert_int_equal(ho_write(f->path, "88888888888888888888888888888888", &rec, f->err,
				  sizeof(f->err)),
			 0);
	assert_int_equal(ho_reap(f->path, now, f->err, sizeof(f->err)), 1);
	assert_int_equal(ho_pending(f->path, getpid(), rec.ppid_start, f->err, sizeof(f->err)), 0);
	id_identity_free(id);
}

/*
 * The marker: the process meant to take a record can tell that one waits
 * for it without the handle (docs/handoff.md); taking or removing the
 * record removes it; it names one process, pid and start time.
 */
static void test_pending_marker(void **state)
{
	struct tfx_file *f = *state;
	struct id_identity *id = identity();
	struct ho_record rec, got;
	const char *h1 = "99999999999999999999999999999999", *h2 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	int64_t start = ho_start_time(getpid());
	char dir[256];

	record(&rec, id);
	/* no directory yet: nothing waits */
	assert_int_equal(ho_pending(f->path, getpid(), start, f->err, sizeof(f->err)), 0);
	assert_int_equal(ho_write(f->path, h1, &rec, f->err, sizeof(f->err)), 0);
	assert_int_equal(ho_pending(f->path, getpid(), start, f->err, sizeof(f->err)), 1);
	/* another process, or the same pid started at another time: nothing */
	assert_int_equal(ho_pending(f->path, getpid(), start + 1, f->err, sizeof(f->err)), 0);
	assert_int_equal(ho_pending(f->path, 1, start, f->err, sizeof(f->err)), 0);
	/* taken: no longer waiting */
	assert_int_equal(ho_take(f->path, h1, &got, f->err, sizeof(f->err)), HO_TAKEN);
	ho_record_clear(&got);
	assert_int_equal(ho_pending(f->path, getpid(), start, f->err, sizeof(f->err)), 0);
	/* removed by its writer: no longer waiting */
	assert_int_equal(ho_write(f->path, h2, &rec, f->err, sizeof(f->err)), 0);
	assert_int_equal(ho_pending(f->path, getpid(), start, f->err, sizeof(f->err)), 1);
	ho_remove(f->path, h2, 0, -1);
	assert_int_equal(ho_pending(f->path, getpid(), start, f->err, sizeof(f->err)), 0);
	/* removed by its writer, who names the marker's process: the same */
	assert_int_equal(ho_write(f->path, h2, &rec, f->err, sizeof(f->err)), 0);
	assert_int_equal(ho_pending(f->path, getpid(), start, f->err, sizeof(f->err)), 1);
	ho_remove(f->path, h2, rec.ppid, rec.ppid_start);
	assert_int_equal(ho_pending(f->path, getpid(), start, f->err, sizeof(f->err)), 0);
	assert_int_equal(ho_take(f->path, h2, &got, f->err, sizeof(f->err)), HO_MISSING);
	/* an untrusted directory: cannot tell */
	snprintf(dir, sizeof(dir), "%s/handoff", f->path);
	assert_int_equal(chmod(dir, 0750), 0);
	assert_int_equal(ho_pending(f->path, getpid(), start, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "mode 0700"));
	id_identity_free(id);
}

/*
 * Start times that cannot be read bind nothing: such a record is never
 * written (the module refuses the account phase), and /proc of a pid that
 * cannot exist reads as unknown, never as 0.
 */
static void test_unknown_start_time(void **state)
{
	struct tfx_file *f = *state;
	struct id_identity *id = identity();
	struct ho_record rec;
	char path[512];

	assert_true(ho_start_time(getpid()) >= 0);
	assert_int_equal(ho_start_time(2147483647), -1);
	assert_int_equal(ho_start_time(0), -1);
	record(&rec, id);
	rec.ppid_start = -1;
	assert_int_equal(ho_write(f->path, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", &rec, f->err,
				  sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, "start time"));
	record(&rec, id);
	rec.pid_start = -1;
	assert_int_equal(ho_write(f->path, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", &rec, f->err,
				  sizeof(f->err)),
			 -1);
	assert_int_equal(only_file(f, path, sizeof(path)), 0);
	assert_int_equal(ho_pending(f->path, getpid(), -1, f->err, sizeof(f->err)), -1);
	id_identity_free(id);
}

/*
 * Optional fields seen as "" (a PAM_RHOST of "", a token's empty scope or
 * key id) are written as they were and read back the same: a hand-off does
 * not refuse its own record. Required ones ("" service) stay refused.
 */
static void test_empty_optional_fields(void **state)
{
	struct tfx_file *f = *state;
	struct id_identity *id = identity();
	struct ho_record rec, got;
	const char *h = "cccccccccccccccccccccccccccccccc", *h2 = "dddddddddddddddddddddddddddddddd";

	free(id->scope);
	id->scope = strdup("");
	free(id->kid);
	id->kid = strdup("");
	free(id->task);
	id->task = strdup("");
	record(&rec, id);
	rec.rhost = (char *)"";
	rec.tty = (char *)"";
	assert_int_equal(ho_write(f->path, h, &rec, f->err, sizeof(f->err)), 0);
	if (ho_take(f->path, h, &got, f->err, sizeof(f->err)) != HO_TAKEN)
		fail_msg("a record with empty optional fields was refused: %s", f->err);
	assert_string_equal(got.rhost, "");
	assert_string_equal(got.tty, "");
	assert_string_equal(got.identity->scope, "");
	assert_string_equal(got.identity->kid, "");
	assert_string_equal(got.identity->task, "");
	ho_record_clear(&got);
	record(&rec, id);
	rec.service = (char *)"";
	assert_int_equal(ho_write(f->path, h2, &rec, f->err, sizeof(f->err)), 0);
	assert_int_equal(ho_take(f->path, h2, &got, f->err, sizeof(f->err)), HO_ERROR);
	assert_non_null(strstr(f->err, "malformed record"));
	id_identity_free(id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_record_as_jansson_writes_it, setup,
						tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_and_malformed_handles, setup,
						tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_untrusted_records, setup, tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_untrusted_directory, setup, tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_decision_digest, setup, tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_reap, setup, tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_pending_marker, setup, tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_start_time, setup, tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_empty_optional_fields, setup,
						tfx_tmp_teardown),
	};

	return cmocka_run_group_tests_name("handoff", tests, NULL, NULL);
}
