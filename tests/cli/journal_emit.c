/*
 * journal_emit.c - for tests/cli/test_journal.sh: emits audit events
 * through the real sink (aud_emit) and prints "SYSLOG PRIORITY LINE" for
 * each that went to syslog instead of the journal.
 *
 * usage: journal_emit AUDIT_FILE TOKEN
 * First one event of each kind with a session, a key, a runtime, a class,
 * a duration and a reason holding a newline (a binary field of the native
 * protocol); then one long decision with the most of everything the caps
 * allow, in 4-byte UTF-8 characters, which JSON writes as 12-byte
 * surrogate escapes: 32 reasons of 512 bytes, 32 grants of 256, a
 * 2048-byte agent id - about 100 KiB of fields - and TOKEN, carelessly, in
 * a reason. Exits 1 when an event could not be written to AUDIT_FILE.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"

static void to_stdout(int priority, const char *line, void *ctx)
{
	(void)ctx;
	printf("SYSLOG %d %s\n", priority, line);
}

/* n bytes of U+1F600 (4 bytes each), then "-" and i (unique per entry). */
static void fill(char *buf, size_t n, int i)
{
	size_t o;

	for (o = 0; o + 4 <= n - 8; o += 4)
		memcpy(buf + o, "\xf0\x9f\x98\x80", 4);
	snprintf(buf + o, 8, "-%d", i);
}

/* Writes ev (and frees it). 0, or -1 with the reason on stderr. */
static int emit(const char *file, struct aud_event *ev)
{
	struct aud_sink sink = { .file = file, .syslog_fn = to_stdout };
	char err[512];
	int rc;

	if (ev == NULL)
		return -1;
	rc = aud_emit(&sink, ev, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "journal_emit: %s\n", err);
	aud_event_free(ev);
	return rc;
}

/* One event of kind with a bit of every field. */
static struct aud_event *small(enum aud_kind kind, enum aud_result result)
{
	const struct pol_runtime rt = {
		.subject = "caller", .exe = "/usr/bin/agent-run", .unit = "agent.service",
		.has_uid = true, .uid = 0,
	};
	struct aud_event *ev = aud_event_new(kind, result, NULL);

	if (ev == NULL)
		return NULL;
	aud_event_set_agent(ev, "spiffe://example.org/agents/journal");
	aud_event_set_context(ev, "journal-test", "root", "192.0.2.1", "pts/9");
	aud_event_set_session(ev, "0123456789abcdef0123456789abcdef");
	aud_event_set_runtime(ev, &rt);
	aud_event_set_class(ev, POL_CLASS_READ);
	aud_event_add_grant(ev, "legacy-db");
	aud_event_add_key(ev, "legacy-db", 123456789);
	aud_event_add_reason(ev, "first line\nsecond line of the same reason");
	aud_event_add_reason(ev, aud_kind_name(kind));
	aud_event_set_duration_ms(ev, 7);
	return ev;
}

/* The long decision. */
static struct aud_event *long_one(const char *token)
{
	struct aud_event *ev = aud_event_new(AUD_DECISION, AUD_RESULT_DENY, NULL);
	char big[AUD_ID_MAX + 1], reason[AUD_REASON_MAX + 600];
	int i;

	if (ev == NULL)
		return NULL;
	memcpy(big, "spiffe://example.org/", 21);
	fill(big + 21, sizeof(big) - 21, 0);
	aud_event_set_agent(ev, big);
	aud_event_set_context(ev, "journal-test", "root", NULL, NULL);
	snprintf(reason, sizeof(reason), "the token %s was quoted by a careless caller", token);
	aud_event_add_reason(ev, reason);
	for (i = 1; i < AUD_LIST_MAX; i++) {
		fill(reason, AUD_REASON_MAX + 1, i);
		aud_event_add_reason(ev, reason);
	}
	for (i = 0; i < AUD_LIST_MAX; i++) {
		fill(big, AUD_STRING_MAX + 1, i);
		aud_event_add_grant(ev, big);
	}
	return ev;
}

int main(int argc, char **argv)
{
	static const struct {
		enum aud_kind kind;
		enum aud_result result;
	} kinds[] = {
		{ AUD_AUTHENTICATE, AUD_RESULT_OK },	  { AUD_DECISION, AUD_RESULT_ALLOW },
		{ AUD_CREDENTIAL_PLACED, AUD_RESULT_OK }, { AUD_KEY_REVOKED, AUD_RESULT_OK },
		{ AUD_REVOKE_FAILED, AUD_RESULT_FAILED }, { AUD_SESSION_CLOSED, AUD_RESULT_OK },
		{ AUD_TASK_BUDGET_EXCEEDED, AUD_RESULT_DENY }, { AUD_BUNDLE_FETCH, AUD_RESULT_OK },
	};
	size_t i;
	int rc = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: journal_emit AUDIT_FILE TOKEN\n");
		return 2;
	}
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		rc |= emit(argv[1], small(kinds[i].kind, kinds[i].result));
	rc |= emit(argv[1], long_one(argv[2]));
	return rc != 0 ? 1 : 0;
}
