/*
 * test_audit.c - the audit engine (audit/): one well-formed JSON object
 * per line with the documented fields in the documented order, strings
 * capped and sanitized, ids kept whole, and no token in the output even
 * when a caller hands one over by mistake. The audit file (mode, appends,
 * refusals, short writes, the lock, syslog) is in test_audit_file.c.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "audit.h"
#include "tfx.h"
#include "tfx_id.h"

static int setup(void **state)
{
	*state = tfx_file_new("audit", "audit.jsonl");
	return *state != NULL ? 0 : -1;
}

/* A fixed time: 2024-06-10T10:00:00.123Z */
static const struct timespec when = { 1718013600, 123456789 };

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
	id_identity_free(id);
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
		assert_string_equal(json_string_value(json_object_get(json_array_get(k, 0),
								      "grant")),
				    "tickets-ro");
		assert_int_equal(json_integer_value(json_object_get(json_array_get(k, 0),
								    "serial")),
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
	id_identity_free(id);
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

/* ---- no token, ever ----------------------------------------------------------------------- */

static void test_no_token_in_audit_file(void **state)
{
	struct tfx_file *f = *state;
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

	text = tfx_read(f->path, NULL);
	assert_int_equal(tfx_json_lines(text, "event"), 4);
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
	id_identity_free(id);
}

/* A random string of n pieces: ASCII, controls, DEL, quotes, 2-, 3- and 4-byte characters, bad bytes. */
static void random_text(char *out, size_t n, unsigned *seed)
{
	static const char *const pieces[] = { "a", "Z", "0", " ", "/", "\"", "\\", "\x7f", "\x01",
					      "\x1f", "\n", "\t", "\b", "\f", "\r", "\xc3\xa9",
					      "\xe2\x82\xac", "\xef\xbf\xbf", "\xf0\x9f\x98\x80",
					      "\xf4\x8f\xbf\xbf", "\xff", "\xed\xa0\x80", "eyJ" };
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		const char *p = pieces[(unsigned)rand_r(seed) % (sizeof(pieces) / sizeof(pieces[0]))];

		memcpy(out + o, p, strlen(p));
		o += strlen(p);
	}
	out[o] = '\0';
}

/*
 * The line is compact JSON in ASCII (json_dumps, JSON_COMPACT |
 * JSON_ENSURE_ASCII) with DEL escaped as \u007f, no member twice: every
 * member of the format, with random text (invalid UTF-8 too) in every
 * string.
 */
static void test_line_as_jansson_writes_it(void **state)
{
	unsigned seed = 18;
	int round;

	(void)state;
	for (round = 0; round < 300; round++) {
		struct aud_event *ev = aud_event_new(round % 3 == 0 ? AUD_DECISION : AUD_SESSION_CLOSED,
						     AUD_RESULT_ALLOW, &when);
		struct pol_decision d;
		struct pol_runtime rt;
		char t[10][4 * 40 + 1], *line, *again, *want;
		size_t i, o = 0, n = (size_t)round % 40;
		json_t *parsed;

		assert_non_null(ev);
		for (i = 0; i < 10; i++)
			random_text(t[i], n, &seed);
		assert_int_equal(aud_event_set_context(ev, t[0], t[1], t[2], t[3]), 0);
		assert_int_equal(aud_event_set_agent(ev, t[4]), 0);
		assert_int_equal(aud_event_set_session(ev, t[5]), 0);
		memset(&d, 0, sizeof(d));
		d.allow = round % 2 == 0;
		d.cls = POL_CLASS_READ;
		d.max_session = round;
		d.rule = t[6];
		assert_int_equal(aud_event_set_decision(ev, &d), 0);
		if (round % 4 != 0) {
			assert_int_equal(aud_event_add_grant(ev, t[7]), 0);
			assert_int_equal(aud_event_add_key(ev, t[7], round * 1000), 0);
			assert_int_equal(aud_event_add_key(ev, t[8], -round), 0);
			aud_event_set_duration_ms(ev, (int64_t)round * -7);
		}
		if (round % 5 != 0) {
			memset(&rt, 0, sizeof(rt));
			rt.absent = round % 2 ? t[9] : NULL;
			rt.subject = "caller";
			rt.exe = t[8];
			rt.exe_deleted = round % 3 == 1;
			rt.exe_sha256 = t[7];
			rt.has_uid = round % 2 == 0;
			rt.uid = (uid_t)round;
			assert_int_equal(aud_event_set_runtime(ev, &rt), 0);
		}
		for (i = 0; i < (size_t)round % 3; i++)
			assert_int_equal(aud_event_add_reason(ev, t[9 - i]), 0);
		line = aud_event_to_json(ev);
		assert_non_null(line);
		parsed = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
		assert_non_null(parsed);
		again = json_dumps(parsed, JSON_COMPACT | JSON_ENSURE_ASCII);
		assert_non_null(again);
		want = malloc(6 * strlen(again) + 1);
		assert_non_null(want);
		for (i = 0; again[i] != '\0'; i++) {
			if (again[i] == 0x7f) {
				memcpy(want + o, "\\u007f", 6);
				o += 6;
			} else {
				want[o++] = again[i];
			}
		}
		want[o] = '\0';
		assert_string_equal(line, want);
		free(want);
		free(again);
		json_decref(parsed);
		free(line);
		aud_event_free(ev);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decision_line),
		cmocka_unit_test(test_line_as_jansson_writes_it),
		cmocka_unit_test(test_deny_and_failed_lines),
		cmocka_unit_test(test_session_events),
		cmocka_unit_test(test_strings_sanitized),
		cmocka_unit_test(test_cap_keeps_utf8_whole),
		cmocka_unit_test(test_ids_kept_whole),
		cmocka_unit_test_setup_teardown(test_no_token_in_audit_file, setup,
						tfx_tmp_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
