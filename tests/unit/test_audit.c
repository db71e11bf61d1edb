/*
 * test_audit.c - the audit engine (audit/): one well-formed
 * JSON object per line with the documented fields in the documented
 * order, strings capped and sanitized, the file created 0600 and only
 * ever appended to, refusals reported to the caller, and no token in the
 * output even when a caller hands one over by mistake.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "audit.h"

struct fx {
	char dir[64];
	char path[128];
};

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	strcpy(f->dir, "/tmp/pa_test_audit.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/audit.jsonl", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* A fixed time: 2024-06-10T10:00:00.123Z */
static const struct timespec when = { 1718013600, 123456789 };

/* Reads the whole file (NUL-terminated heap string). */
static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	rewind(fp);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	return buf;
}

/* Parses every line of text as a JSON object; returns the number of lines. */
static size_t check_lines(const char *text)
{
	const char *p = text;
	size_t n = 0;

	while (*p) {
		const char *nl = strchr(p, '\n');
		json_error_t jerr;
		json_t *o;

		assert_non_null(nl); /* every line ends with a newline */
		o = json_loadb(p, (size_t)(nl - p), JSON_REJECT_DUPLICATES, &jerr);
		if (o == NULL)
			fail_msg("line %zu is not JSON: %s", n + 1, jerr.text);
		assert_true(json_is_object(o));
		assert_non_null(json_object_get(o, "event"));
		json_decref(o);
		p = nl + 1;
		n++;
	}
	return n;
}

/* A hand-made verified identity. */
static struct id_identity *mkid(void)
{
	struct id_identity *id = calloc(1, sizeof(*id));
	json_error_t jerr;

	assert_non_null(id);
	id->kind = ID_KIND_SPIFFE;
	id->agent_id = strdup("spiffe://example.org/agents/support-bot");
	id->subject = strdup(id->agent_id);
	id->trust_domain = strdup("example.org");
	id->jti = strdup("jti-0001");
	id->task = strdup("T-1001");
	id->scope = strdup("tickets:read read");
	id->iat = 1718013590;
	id->exp = 1718013890;
	id->act = json_loads("{\"sub\":\"spiffe://example.org/orchestrator\",\"act\":"
			     "{\"sub\":\"runner\",\"iss\":\"https://login.example.org\"}}",
			     0, &jerr);
	assert_non_null(id->act);
	memset(id->fingerprint, 'a', ID_FINGERPRINT_LEN);
	return id;
}

static void idfree(struct id_identity *id)
{
	free(id->agent_id);
	free(id->issuer);
	free(id->subject);
	free(id->trust_domain);
	free(id->jti);
	free(id->task);
	free(id->scope);
	free(id->kid);
	json_decref(id->act);
	json_decref(id->claims);
	free(id);
}

/* ---- the line ---------------------------------------------------------------------- */

static void test_decision_line(void **state)
{
	struct id_identity *id = mkid();
	struct aud_event *ev = aud_event_new(AUD_DECISION, AUD_RESULT_ALLOW, &when);
	struct pol_grant grants[2] = { { .name = (char *)"tickets-ro" },
				       { .name = (char *)"tickets-rw" } };
	char *reasons[] = { (char *)"agent x matches [agent x]", (char *)"service sshd has class write" };
	struct pol_decision d = { .allow = true, .cls = POL_CLASS_WRITE, .max_session = 900,
				  .grants = grants, .n_grants = 2, .reasons = reasons,
				  .n_reasons = 2, .rule = (char *)"spiffe://example.org/agents/*",
				  .depth = 2 };
	json_error_t jerr;
	json_t *o, *a;
	char *line;
	const char *k;
	json_t *v;
	size_t i = 0;
	static const char *const order[] = {
		"v", "time", "epoch", "event", "result", "host", "pid", "sid", "agent", "actors",
		"delegation_depth", "task", "jti", "token_sha256", "service", "user", "rhost",
		"tty", "class", "rule", "max_session", "grants", "duration_ms", "reasons",
	};

	(void)state;
	assert_non_null(ev);
	assert_int_equal(aud_event_set_identity(ev, id), 0);
	assert_int_equal(aud_event_set_context(ev, "sshd", "svc-support", "10.0.0.7", "pts/3"), 0);
	assert_int_equal(aud_event_set_session(ev, "3f2a9c"), 0);
	assert_int_equal(aud_event_set_decision(ev, &d), 0);
	aud_event_set_duration_ms(ev, 7);
	line = aud_event_to_json(ev);
	assert_non_null(line);
	assert_null(strchr(line, '\n'));
	o = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
	assert_non_null(o);
	/* fixed order: the keys present, in the documented sequence */
	json_object_foreach(o, k, v) {
		while (i < PA_ARRAY_SIZE(order) && strcmp(order[i], k) != 0)
			i++;
		if (i == PA_ARRAY_SIZE(order))
			fail_msg("key \"%s\" out of the documented order", k);
	}
	assert_int_equal(json_integer_value(json_object_get(o, "v")), 1);
	assert_string_equal(json_string_value(json_object_get(o, "time")),
			    "2024-06-10T10:00:00.123Z");
	assert_int_equal(json_integer_value(json_object_get(o, "epoch")), 1718013600);
	assert_string_equal(json_string_value(json_object_get(o, "event")), "decision");
	assert_string_equal(json_string_value(json_object_get(o, "result")), "allow");
	assert_int_equal(json_integer_value(json_object_get(o, "pid")), getpid());
	assert_string_equal(json_string_value(json_object_get(o, "sid")), "3f2a9c");
	assert_string_equal(json_string_value(json_object_get(o, "agent")),
			    "spiffe://example.org/agents/support-bot");
	a = json_object_get(o, "actors");
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(json_string_value(json_array_get(a, 0)),
			    "spiffe://example.org/orchestrator");
	assert_string_equal(json_string_value(json_array_get(a, 1)),
			    "https://login.example.org#runner");
	assert_int_equal(json_integer_value(json_object_get(o, "delegation_depth")), 2);
	assert_string_equal(json_string_value(json_object_get(o, "task")), "T-1001");
	assert_string_equal(json_string_value(json_object_get(o, "jti")), "jti-0001");
	assert_int_equal(strlen(json_string_value(json_object_get(o, "token_sha256"))), 64);
	assert_string_equal(json_string_value(json_object_get(o, "service")), "sshd");
	assert_string_equal(json_string_value(json_object_get(o, "user")), "svc-support");
	assert_string_equal(json_string_value(json_object_get(o, "rhost")), "10.0.0.7");
	assert_string_equal(json_string_value(json_object_get(o, "tty")), "pts/3");
	assert_string_equal(json_string_value(json_object_get(o, "class")), "write");
	assert_string_equal(json_string_value(json_object_get(o, "rule")),
			    "spiffe://example.org/agents/*");
	assert_int_equal(json_integer_value(json_object_get(o, "max_session")), 900);
	a = json_object_get(o, "grants");
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(json_string_value(json_array_get(a, 1)), "tickets-rw");
	assert_int_equal(json_integer_value(json_object_get(o, "duration_ms")), 7);
	assert_int_equal(json_array_size(json_object_get(o, "reasons")), 2);
	/* never the scope claim or other raw claims: only the documented fields */
	assert_null(json_object_get(o, "scope"));
	assert_null(json_object_get(o, "claims"));
	json_decref(o);
	free(line);
	aud_event_free(ev);
	idfree(id);
}

static void test_deny_and_failed_lines(void **state)
{
	struct aud_event *ev = aud_event_new(AUD_DECISION, AUD_RESULT_DENY, &when);
	char *reasons[] = { (char *)"no [agent] rule matches agent spiffe://x/y" };
	struct pol_decision d = { .allow = false, .cls = POL_CLASS_READ, .reasons = reasons,
				  .n_reasons = 1 };
	json_t *o;
	char *line;

	(void)state;
	assert_int_equal(aud_event_set_decision(ev, &d), 0);
	line = aud_event_to_json(ev);
	o = json_loads(line, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(o, "result")), "deny");
	/* a deny says it issued no grants, and has no session length */
	assert_int_equal(json_array_size(json_object_get(o, "grants")), 0);
	assert_non_null(json_object_get(o, "grants"));
	assert_null(json_object_get(o, "max_session"));
	assert_string_equal(json_string_value(json_array_get(json_object_get(o, "reasons"), 0)),
			    reasons[0]);
	json_decref(o);
	free(line);
	aud_event_free(ev);

	/* authenticate failed: no identity, a reason; absent fields are left out */
	ev = aud_event_new(AUD_AUTHENTICATE, AUD_RESULT_FAILED, &when);
	assert_int_equal(aud_event_set_context(ev, "sshd", "bob", NULL, ""), 0);
	assert_int_equal(aud_event_add_reason(ev, "signature does not verify"), 0);
	line = aud_event_to_json(ev);
	o = json_loads(line, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(o, "event")), "authenticate");
	assert_string_equal(json_string_value(json_object_get(o, "result")), "failed");
	assert_null(json_object_get(o, "agent"));
	assert_null(json_object_get(o, "rhost"));
	assert_null(json_object_get(o, "tty"));
	assert_null(json_object_get(o, "grants"));
	assert_null(json_object_get(o, "class"));
	json_decref(o);
	free(line);
	aud_event_free(ev);
}

static void test_session_events(void **state)
{
	static const struct {
		enum aud_kind kind;
		enum aud_result result;
		const char *name;
	} kinds[] = {
		{ AUD_CREDENTIAL_PLACED, AUD_RESULT_OK, "credential_placed" },
		{ AUD_KEY_REVOKED, AUD_RESULT_OK, "key_revoked" },
		{ AUD_REVOKE_FAILED, AUD_RESULT_FAILED, "revoke_failed" },
		{ AUD_SESSION_CLOSED, AUD_RESULT_OK, "session_closed" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < PA_ARRAY_SIZE(kinds); i++) {
		struct aud_event *ev = aud_event_new(kinds[i].kind, kinds[i].result, NULL);
		json_t *o, *k;
		char *line;

		assert_int_equal(aud_event_set_session(ev, "sid-1"), 0);
		assert_int_equal(aud_event_add_key(ev, "tickets-ro", 123456789), 0);
		assert_int_equal(aud_event_add_key(ev, "tickets-rw", 42), 0);
		aud_event_set_class(ev, POL_CLASS_WRITE);
		aud_event_set_duration_ms(ev, 1234);
		line = aud_event_to_json(ev);
		o = json_loads(line, 0, NULL);
		assert_non_null(o);
		assert_string_equal(json_string_value(json_object_get(o, "event")), kinds[i].name);
		assert_string_equal(json_string_value(json_object_get(o, "result")),
				    aud_result_name(kinds[i].result));
		k = json_object_get(o, "keys");
		assert_int_equal(json_array_size(k), 2);
		assert_string_equal(json_string_value(json_object_get(json_array_get(k, 0), "grant")),
				    "tickets-ro");
		assert_int_equal(json_integer_value(json_object_get(json_array_get(k, 0), "serial")),
				 123456789);
		assert_int_equal(json_integer_value(json_object_get(o, "duration_ms")), 1234);
		assert_string_equal(json_string_value(json_object_get(o, "class")), "write");
		json_decref(o);
		free(line);
		aud_event_free(ev);
	}
}

static void test_strings_sanitized(void **state)
{
	struct aud_event *ev = aud_event_new(AUD_AUTHENTICATE, AUD_RESULT_FAILED, &when);
	char big[2000], *line;
	const char *s;
	json_t *o;
	size_t i;

	(void)state;
	memset(big, 'u', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	/* control bytes, quotes, invalid UTF-8, a valid multibyte character */
	assert_int_equal(aud_event_set_context(ev, "sshd\n{\"fake\":1}", big,
					       "h\xff\xfe\xc3\xa9\xed\xa0\x80", "tty\x1b[2J\x7f"), 0);
	assert_int_equal(aud_event_add_reason(ev, big), 0);
	line = aud_event_to_json(ev);
	assert_non_null(line);
	/* one line of printable ASCII */
	for (s = line; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			fail_msg("byte 0x%02x in the line", (unsigned char)*s);
	o = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(o);
	assert_null(json_object_get(o, "fake"));
	assert_string_equal(json_string_value(json_object_get(o, "service")), "sshd\n{\"fake\":1}");
	/* DEL, which JSON would allow raw, is escaped and reads back the same */
	assert_non_null(strstr(line, "tty\\u001B[2J\\u007f"));
	assert_string_equal(json_string_value(json_object_get(o, "tty")), "tty\x1b[2J\x7f");
	/* invalid bytes (and a UTF-16 surrogate) became U+FFFD, é was kept */
	assert_string_equal(json_string_value(json_object_get(o, "rhost")),
			    "h\xef\xbf\xbd\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	/* capped with a visible marker */
	s = json_string_value(json_object_get(o, "user"));
	assert_int_equal(strlen(s), AUD_STRING_MAX + 3);
	assert_string_equal(s + AUD_STRING_MAX, "...");
	s = json_string_value(json_array_get(json_object_get(o, "reasons"), 0));
	assert_int_equal(strlen(s), AUD_REASON_MAX + 3);
	json_decref(o);
	free(line);
	/* lists are capped too */
	for (i = 0; i < AUD_LIST_MAX + 5; i++)
		assert_int_equal(aud_event_add_grant(ev, "g"), 0);
	line = aud_event_to_json(ev);
	o = json_loads(line, 0, NULL);
	assert_int_equal(json_array_size(json_object_get(o, "grants")), AUD_LIST_MAX);
	assert_int_equal(json_integer_value(json_object_get(o, "grants_dropped")), 5);
	json_decref(o);
	free(line);
	aud_event_free(ev);
}

static void test_cap_keeps_utf8_whole(void **state)
{
	struct aud_event *ev = aud_event_new(AUD_AUTHENTICATE, AUD_RESULT_OK, &when);
	char text[AUD_STRING_MAX + 10];
	const char *s;
	json_t *o;
	char *line;

	(void)state;
	/* a 3-byte character straddling the cap */
	memset(text, 'x', AUD_STRING_MAX - 1);
	memcpy(text + AUD_STRING_MAX - 1, "\xe2\x82\xac" "yz", 6);
	assert_int_equal(aud_event_set_context(ev, "sshd", text, NULL, NULL), 0);
	line = aud_event_to_json(ev);
	o = json_loads(line, 0, NULL);
	s = json_string_value(json_object_get(o, "user"));
	assert_int_equal(strlen(s), AUD_STRING_MAX - 1 + 3);
	assert_string_equal(s + AUD_STRING_MAX - 1, "...");
	json_decref(o);
	free(line);
	aud_event_free(ev);
}

/* The "agent" field of an event for agent_id (heap string). */
static char *agent_field(const char *agent_id)
{
	struct aud_event *ev = aud_event_new(AUD_AUTHENTICATE, AUD_RESULT_OK, &when);
	char *line, *out;
	json_t *o;

	assert_non_null(ev);
	assert_int_equal(aud_event_set_agent(ev, agent_id), 0);
	line = aud_event_to_json(ev);
	assert_non_null(line);
	o = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(o);
	out = strdup(json_string_value(json_object_get(o, "agent")));
	assert_non_null(out);
	json_decref(o);
	free(line);
	aud_event_free(ev);
	return out;
}

/* A SPIFFE ID of exactly len bytes ending in last. */
static char *long_id(size_t len, char last)
{
	static const char prefix[] = "spiffe://example.org/agents/";
	char *s = malloc(len + 1);

	assert_non_null(s);
	memcpy(s, prefix, sizeof(prefix) - 1);
	memset(s + sizeof(prefix) - 1, 'a', len - (sizeof(prefix) - 1));
	s[len - 1] = last;
	s[len] = '\0';
	return s;
}

/* L4: ids that differ only past the free-text cap stay apart; 2048 bytes whole. */
static void test_ids_kept_whole(void **state)
{
	char *a = long_id(300, '1'), *b = long_id(300, '2'), *max = long_id(AUD_ID_MAX, 'z');
	char *over = long_id(AUD_ID_MAX + 1, 'y'), *over2 = long_id(AUD_ID_MAX + 1, 'x');
	char *fa = agent_field(a), *fb = agent_field(b), *fmax = agent_field(max);
	char *fover = agent_field(over), *fover2 = agent_field(over2);
	char *t1, *t2;
	struct id_identity *id;
	struct aud_event *ev;
	char *line;
	json_t *o, *actors;

	(void)state;
	assert_string_equal(fa, a);
	assert_string_equal(fb, b);
	assert_string_not_equal(fa, fb);
	assert_string_equal(fmax, max);
	/* longer than any SPIFFE ID: cut, marked, and still told apart by the hash */
	assert_non_null(strstr(fover, "... [sha256:"));
	assert_string_not_equal(fover, fover2);
	assert_int_equal(strncmp(fover, over, AUD_ID_MAX), 0);
	/* ids that sanitizing changes (redaction, invalid UTF-8) are told apart too */
	t1 = agent_field("spiffe://example.org/eyJhbGci.AAAA");
	t2 = agent_field("spiffe://example.org/eyJhbGci.BBBB");
	assert_non_null(strstr(t1, "[redacted] [sha256:"));
	assert_string_not_equal(t1, t2);
	free(t1);
	free(t2);
	t1 = agent_field("spiffe://example.org/\xff");
	t2 = agent_field("spiffe://example.org/\xfe");
	assert_string_not_equal(t1, t2);
	free(t1);
	free(t2);
	/* the act chain's actors are ids as well */
	id = mkid();
	json_decref(id->act);
	id->act = json_pack("{s:s,s:{s:s}}", "sub", a, "act", "sub", b);
	assert_non_null(id->act);
	ev = aud_event_new(AUD_DECISION, AUD_RESULT_ALLOW, &when);
	assert_int_equal(aud_event_set_identity(ev, id), 0);
	line = aud_event_to_json(ev);
	o = json_loads(line, 0, NULL);
	actors = json_object_get(o, "actors");
	assert_string_equal(json_string_value(json_array_get(actors, 0)), a);
	assert_string_equal(json_string_value(json_array_get(actors, 1)), b);
	json_decref(o);
	free(line);
	aud_event_free(ev);
	idfree(id);
	free(a);
	free(b);
	free(max);
	free(over);
	free(over2);
	free(fa);
	free(fb);
	free(fmax);
	free(fover);
	free(fover2);
}

/* ---- the file ------------------------------------------------------------------------- */

static void test_file_created_0600(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct stat st;
	mode_t old = umask(0); /* the mode must come from open(), not the umask */

	assert_int_equal(aud_file_append(f->path, "{\"event\":\"x\"}", err, sizeof(err)), 0);
	umask(old);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
}

static void test_file_appends(void **state)
{
	struct fx *f = *state;
	struct aud_sink sink = { f->path, true, NULL, NULL };
	struct aud_event *ev;
	char err[256], *text;
	int fd, i;

	/* existing content is kept */
	fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"event\":\"earlier\"}\n", 20), 20);
	close(fd);
	for (i = 0; i < 3; i++) {
		ev = aud_event_new(AUD_AUTHENTICATE, AUD_RESULT_OK, &when);
		assert_int_equal(aud_event_set_agent(ev, "spiffe://example.org/a"), 0);
		assert_int_equal(aud_emit(&sink, ev, err, sizeof(err)), 0);
		aud_event_free(ev);
	}
	text = slurp(f->path);
	assert_int_equal(strncmp(text, "{\"event\":\"earlier\"}\n", 20), 0);
	assert_int_equal(check_lines(text), 4);
	free(text);
}

static void test_file_refused(void **state)
{
	struct fx *f = *state;
	char err[256], want[300], target[128];
	int fd;

	/* a symbolic link, even to a good file */
	snprintf(target, sizeof(target), "%s/real.jsonl", f->dir);
	fd = open(target, O_WRONLY | O_CREAT, 0600);
	close(fd);
	assert_int_equal(symlink(target, f->path), 0);
	assert_int_equal(aud_file_append(f->path, "{}", err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: is a symbolic link", f->path);
	assert_string_equal(err, want);
	unlink(f->path);

	/* group- or world-writable */
	fd = open(f->path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	assert_int_equal(chmod(f->path, 0620), 0);
	assert_int_equal(aud_file_append(f->path, "{}", err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: mode 0620 is too open (must not have any of 0022)",
		 f->path);
	assert_string_equal(err, want);
	/* nothing was written to it */
	{
		struct stat st;

		assert_int_equal(stat(f->path, &st), 0);
		assert_int_equal(st.st_size, 0);
	}
	/* a readable-by-group log is fine (0640) */
	assert_int_equal(chmod(f->path, 0640), 0);
	assert_int_equal(aud_file_append(f->path, "{}", err, sizeof(err)), 0);
	unlink(f->path);

	/* not a regular file */
	assert_int_equal(mkdir(f->path, 0700), 0);
	assert_int_equal(aud_file_append(f->path, "{}", err, sizeof(err)), -1);
	rmdir(f->path);

	/* a directory that does not exist */
	snprintf(target, sizeof(target), "%s/missing/audit.jsonl", f->dir);
	assert_int_equal(aud_file_append(target, "{}", err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", target);
	assert_string_equal(err, want);
}

static void test_file_owner(void **state)
{
	struct fx *f = *state;
	char err[256], want[300];
	int fd;

	if (geteuid() != 0)
		skip();
	fd = open(f->path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	assert_int_equal(chown(f->path, 65534, 65534), 0);
	assert_int_equal(aud_file_append(f->path, "{}", err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: owned by uid 65534, must be owned by root", f->path);
	assert_string_equal(err, want);
}

static void test_emit_reports_failure(void **state)
{
	struct fx *f = *state;
	char path[128], err[256];
	struct aud_sink sink = { path, true, NULL, NULL };
	struct aud_event *ev = aud_event_new(AUD_DECISION, AUD_RESULT_ALLOW, &when);

	snprintf(path, sizeof(path), "%s/no/such/dir/audit.jsonl", f->dir);
	err[0] = '\0';
	assert_int_equal(aud_emit(&sink, ev, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot open"));
	/* no file configured: nothing to fail */
	sink.file = NULL;
	assert_int_equal(aud_emit(&sink, ev, err, sizeof(err)), 0);
	aud_event_free(ev);
}

/* Size of path, or -1. */
static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Emits one authenticate event for agent to path. */
static int emit_one(const char *path, const char *agent, char *err, size_t errlen)
{
	struct aud_sink sink = { path, true, NULL, NULL };
	struct aud_event *ev = aud_event_new(AUD_AUTHENTICATE, AUD_RESULT_OK, &when);
	int rc;

	if (ev == NULL || aud_event_set_agent(ev, agent) != 0)
		return -2;
	rc = aud_emit(&sink, ev, err, errlen);
	aud_event_free(ev);
	return rc;
}

/* How a short_write_child treats SIGXFSZ. */
enum xfsz {
	XFSZ_IGNORED, /* SIG_IGN: what a full file system does with ENOSPC */
	XFSZ_DEFAULT, /* SIG_DFL and unblocked: what su or sshd inherit, kills */
	XFSZ_PENDING, /* SIG_DFL, blocked, one already pending (the host's own) */
};

/*
 * In a child (the file size limit is per process): limits files to room
 * bytes past the current size of path, emits a line that does not fit,
 * and exits 0 only when the call failed with want and want2 in its error,
 * the file is then extra bytes longer than before, and the signal state
 * is as it was (nothing of ours pending, the mask restored). The parent
 * sees a child killed by SIGXFSZ as a signal status.
 */
static pid_t short_write_child(const char *path, enum xfsz mode, off_t room, const char *want,
			       const char *want2, off_t extra)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		off_t before = file_size(path);
		sigset_t set, mask, pending;
		struct rlimit rl;
		char err[512];

		sigemptyset(&set);
		sigaddset(&set, SIGXFSZ);
		signal(SIGXFSZ, mode == XFSZ_IGNORED ? SIG_IGN : SIG_DFL);
		if (sigprocmask(mode == XFSZ_PENDING ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL) != 0)
			_exit(9);
		if (mode == XFSZ_PENDING && raise(SIGXFSZ) != 0)
			_exit(9);
		if (getrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(10);
		rl.rlim_cur = (rlim_t)(before + room);
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(11);
		if (emit_one(path, "spiffe://example.org/second", err, sizeof(err)) != -1)
			_exit(12);
		if (strstr(err, want) == NULL || strstr(err, want2) == NULL) {
			fprintf(stderr, "unexpected error: %s\n", err);
			_exit(13);
		}
		if (file_size(path) != before + extra) {
			fprintf(stderr, "size %lld, was %lld\n", (long long)file_size(path),
				(long long)before);
			_exit(14);
		}
		if (sigprocmask(SIG_BLOCK, NULL, &mask) != 0 || sigpending(&pending) != 0)
			_exit(15);
		if (sigismember(&mask, SIGXFSZ) != (mode == XFSZ_PENDING)) {
			fprintf(stderr, "the signal mask was not restored\n");
			_exit(16);
		}
		if (mode == XFSZ_PENDING) {
			/* the host's own signal is still there, once */
			static const struct timespec now = { 0, 0 };

			if (sigismember(&pending, SIGXFSZ) != 1) {
				fprintf(stderr, "the pending SIGXFSZ was taken\n");
				_exit(17);
			}
			if (sigtimedwait(&set, NULL, &now) != SIGXFSZ || sigpending(&pending) != 0)
				_exit(18);
		}
		if (sigismember(&pending, SIGXFSZ) != 0) {
			fprintf(stderr, "a SIGXFSZ was left pending\n");
			_exit(19);
		}
		_exit(0);
	}
	return pid;
}

/* Waits for a short_write_child; fails the test unless it exited 0. */
static void child_ok(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("the writer was killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/*
 * L3: a short write (here from RLIMIT_FSIZE) is reported and its partial
 * line taken back out; the next event is a line of its own. With SIGXFSZ
 * ignored (what a full file system does with ENOSPC) and with its default
 * action, which kills the process unless the writer blocks it: an agent
 * can `ulimit -f` before su, and su (which keeps the limit) must survive
 * to close the session. Also with no room at all (the write fails).
 */
static void test_short_write_rolled_back(void **state)
{
	struct fx *f = *state;
	char err[512];

	assert_int_equal(emit_one(f->path, "spiffe://example.org/first", err, sizeof(err)), 0);
	/* room for 40 more bytes: the next line is cut in the middle */
	child_ok(short_write_child(f->path, XFSZ_IGNORED, 40, "short write (40 of ",
				   "the partial line was removed", 0));
	child_ok(short_write_child(f->path, XFSZ_DEFAULT, 40, "short write (40 of ",
				   "the partial line was removed", 0));
	child_ok(short_write_child(f->path, XFSZ_DEFAULT, 0, "write failed: File too large",
				   "", 0));
	/* with room again, the next event is a whole, parseable line */
	assert_int_equal(emit_one(f->path, "spiffe://example.org/third", err, sizeof(err)), 0);
	{
		char *text = slurp(f->path);

		assert_int_equal(check_lines(text), 2);
		assert_null(strstr(text, "second"));
		assert_non_null(strstr(text, "spiffe://example.org/third"));
		free(text);
	}
}

/*
 * The writer blocks SIGXFSZ only around its write and takes back only the
 * SIGXFSZ its write raised: one the application had pending (blocked)
 * before stays pending, and its mask is restored.
 */
static void test_sigxfsz_of_the_host_kept(void **state)
{
	struct fx *f = *state;
	char err[512];

	assert_int_equal(emit_one(f->path, "spiffe://example.org/first", err, sizeof(err)), 0);
	child_ok(short_write_child(f->path, XFSZ_PENDING, 40, "short write (40 of ",
				   "the partial line was removed", 0));
}

/*
 * Without the lock (someone holds it past the bounded wait) a short write
 * is reported but the file is not cut: the size checked before ftruncate
 * could change in between, and the cut take another writer's line. The
 * fragment stays, and the next line still starts on a line of its own.
 */
static void test_short_write_without_lock_not_cut(void **state)
{
	struct fx *f = *state;
	char err[512], *text, *nl;
	off_t before;
	int fd;

	assert_int_equal(emit_one(f->path, "spiffe://example.org/first", err, sizeof(err)), 0);
	before = file_size(f->path);
	fd = open(f->path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	child_ok(short_write_child(f->path, XFSZ_IGNORED, 40, "short write (40 of ",
				   "the partial line could not be removed: the file's lock could "
				   "not be taken", 40));
	close(fd);
	assert_int_equal(file_size(f->path), before + 40);
	assert_int_equal(emit_one(f->path, "spiffe://example.org/third", err, sizeof(err)), 0);
	text = slurp(f->path);
	/* first line, the 40-byte fragment on a line of its own, the third line */
	nl = strchr(text, '\n');
	assert_non_null(nl);
	assert_int_equal(nl + 1 - text, before);
	assert_int_equal(text[before + 40], '\n');
	assert_int_equal(check_lines(text + before + 41), 1);
	assert_non_null(strstr(text + before + 41, "spiffe://example.org/third"));
	free(text);
}

/* L3: a fragment left by a crash mid-line stays a line of its own. */
static void test_partial_tail_gets_newline(void **state)
{
	static const char frag[] = "{\"v\":1,\"event\":\"authent";
	struct fx *f = *state;
	char err[256], *text, *nl;
	int fd;

	fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, frag, sizeof(frag) - 1), (ssize_t)sizeof(frag) - 1);
	close(fd);
	assert_int_equal(emit_one(f->path, "spiffe://example.org/after", err, sizeof(err)), 0);
	assert_int_equal(emit_one(f->path, "spiffe://example.org/again", err, sizeof(err)), 0);
	text = slurp(f->path);
	/* the fragment is kept as its own line, and every line after it parses */
	assert_int_equal(strncmp(text, frag, sizeof(frag) - 1), 0);
	assert_int_equal(text[sizeof(frag) - 1], '\n');
	nl = text + sizeof(frag);
	assert_int_equal(check_lines(nl), 2);
	free(text);
}

/* Milliseconds on the monotonic clock. */
static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The lock is flock(2), which any reader of a 0640 log could take: a
 * writer waits a bounded time for it (2 s), then writes anyway (still one
 * O_APPEND write), so a reader cannot stall logins for longer. That the
 * lock is tried at all shows in the time the call takes while a holder
 * keeps it: at least the 2 s (a lower bound only, no upper one).
 */
static void test_lock_holder_cannot_stall(void **state)
{
	struct fx *f = *state;
	char err[256], *text;
	long long t0, took;
	int fd;

	fd = open(f->path, O_RDONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	t0 = now_ms();
	assert_int_equal(emit_one(f->path, "spiffe://example.org/a", err, sizeof(err)), 0);
	took = now_ms() - t0;
	if (took < 2000)
		fail_msg("the writer took %lld ms with the lock held: it did not wait for it",
			 took);
	close(fd);
	text = slurp(f->path);
	assert_int_equal(check_lines(text), 1);
	free(text);
}

struct captured {
	int priority;
	char *line;
	int calls;
};

static void capture(int priority, const char *line, void *ctx)
{
	struct captured *c = ctx;

	c->priority = priority;
	free(c->line);
	c->line = strdup(line);
	c->calls++;
}

static void test_syslog_line(void **state)
{
	struct fx *f = *state;
	struct captured c = { 0, NULL, 0 };
	struct aud_sink sink = { f->path, false, capture, &c };
	struct aud_event *ev = aud_event_new(AUD_DECISION, AUD_RESULT_DENY, &when);
	char err[256], *text;

	assert_int_equal(aud_emit(&sink, ev, err, sizeof(err)), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.priority, LOG_AUTHPRIV | LOG_INFO);
	/* syslog and the file get the same line */
	text = slurp(f->path);
	assert_int_equal(strlen(text), strlen(c.line) + 1);
	assert_memory_equal(text, c.line, strlen(c.line));
	free(text);
	free(c.line);
	/* no_syslog: not called */
	sink.no_syslog = true;
	assert_int_equal(aud_emit(&sink, ev, err, sizeof(err)), 0);
	assert_int_equal(c.calls, 1);
	aud_event_free(ev);
}

/* ---- no token, ever ----------------------------------------------------------------------- */

static void test_no_token_in_audit_file(void **state)
{
	struct fx *f = *state;
	/* a compact JWS as an agent would present it (signature bytes made up) */
	static const char token[] =
		"eyJhbGciOiJFUzI1NiIsImtpZCI6Imsx"
		"IiwidHlwIjoiSldUIn0"
		".eyJzdWIiOiJzcGlmZmU6Ly9leGFtcGxlLm9yZy9hZ2VudHMvc3VwcG9ydC1ib3QiLCJhdWQiOlsic3Bp"
		"ZmZlOi8vZXhhbXBsZS5vcmcvaG9zdC93ZWIwMSJdLCJleHAiOjE3MTgwMTM4OTAsInRhc2siOiJULTEw"
		"MDEifQ"
		".MEUCIQDq8r0Xb7d3kq9y2ZpQ1sF4aVbC8uN5oTm7wLgHjK3eYgIgV2nX6cR1pT0sA9dF3hJ7kL5mQ8b"
		"W4zY1xC2vN6uE0o";
	struct aud_sink sink = { f->path, true, NULL, NULL };
	struct id_identity *id = mkid();
	struct aud_event *ev;
	unsigned char md[32];
	unsigned int mdlen = 0;
	char err[256], *text, *msg = NULL;
	const char *seg;
	size_t i;

	/* the identity the engine would make from this token */
	assert_int_equal(EVP_Digest(token, strlen(token), md, &mdlen, EVP_sha256(), NULL), 1);
	for (i = 0; i < mdlen; i++)
		sprintf(id->fingerprint + 2 * i, "%02x", md[i]);
	id->claims = json_pack("{s:s,s:s,s:i}", "sub", id->agent_id, "task", "T-1001", "exp",
			       (int)id->exp);

	ev = aud_event_new(AUD_AUTHENTICATE, AUD_RESULT_OK, &when);
	assert_int_equal(aud_event_set_identity(ev, id), 0);
	assert_int_equal(aud_event_set_context(ev, "sshd", "svc-support", NULL, NULL), 0);
	assert_int_equal(aud_emit(&sink, ev, err, sizeof(err)), 0);
	aud_event_free(ev);

	ev = aud_event_new(AUD_DECISION, AUD_RESULT_ALLOW, &when);
	assert_int_equal(aud_event_set_identity(ev, id), 0);
	assert_int_equal(aud_event_add_grant(ev, "tickets-ro"), 0);
	assert_int_equal(aud_emit(&sink, ev, err, sizeof(err)), 0);
	aud_event_free(ev);

	ev = aud_event_new(AUD_CREDENTIAL_PLACED, AUD_RESULT_OK, &when);
	assert_int_equal(aud_event_set_identity(ev, id), 0);
	assert_int_equal(aud_event_add_key(ev, "tickets-ro", 77), 0);
	assert_int_equal(aud_emit(&sink, ev, err, sizeof(err)), 0);
	aud_event_free(ev);

	/* careless callers: the token inside a reason, as the agent id, as a task */
	ev = aud_event_new(AUD_AUTHENTICATE, AUD_RESULT_FAILED, &when);
	assert_true(asprintf(&msg, "token %s has expired", token) > 0);
	assert_int_equal(aud_event_add_reason(ev, msg), 0);
	assert_int_equal(aud_event_set_agent(ev, token), 0);
	assert_int_equal(aud_emit(&sink, ev, err, sizeof(err)), 0);
	aud_event_free(ev);
	free(msg);

	text = slurp(f->path);
	assert_int_equal(check_lines(text), 4);
	if (strstr(text, token) != NULL)
		fail_msg("the token is in the audit file");
	/* nor any of its three parts */
	for (seg = token; seg != NULL; seg = strchr(seg, '.') ? strchr(seg, '.') + 1 : NULL) {
		char part[512];
		size_t len = strcspn(seg, ".");

		memcpy(part, seg, len);
		part[len] = '\0';
		if (strstr(text, part) != NULL)
			fail_msg("a token segment is in the audit file: %s", part);
	}
	/* the test is not vacuous: the events are there, named by fingerprint */
	assert_non_null(strstr(text, id->fingerprint));
	assert_non_null(strstr(text, "token [redacted] has expired"));
	free(text);
	idfree(id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decision_line),
		cmocka_unit_test(test_deny_and_failed_lines),
		cmocka_unit_test(test_session_events),
		cmocka_unit_test(test_strings_sanitized),
		cmocka_unit_test(test_cap_keeps_utf8_whole),
		cmocka_unit_test(test_ids_kept_whole),
		cmocka_unit_test_setup_teardown(test_file_created_0600, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_appends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_emit_reports_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_write_rolled_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigxfsz_of_the_host_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_write_without_lock_not_cut, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_partial_tail_gets_newline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_holder_cannot_stall, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syslog_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_token_in_audit_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
