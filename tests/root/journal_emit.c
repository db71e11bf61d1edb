/*
 * journal_emit.c - for tests/root/root_journal.sh: emits one long audit
 * event through the real sink (aud_emit) and prints "SYSLOG <line>" for
 * what went to syslog instead of the journal.
 *
 * usage: journal_emit AUDIT_FILE TOKEN
 * The event (a decision, deny) has the most of everything the caps allow,
 * in 4-byte UTF-8 characters, which JSON writes as 12-byte surrogate
 * escapes: 32 reasons of 512 bytes, 32 grants of 256, a 2048-byte agent id
 * - about 100 KiB of fields - and TOKEN, carelessly, in a reason.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

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

int main(int argc, char **argv)
{
	struct aud_sink sink = { 0 };
	struct aud_event *ev;
	char big[AUD_ID_MAX + 1], err[512], reason[AUD_REASON_MAX + 600];
	int i;

	if (argc != 3) {
		fprintf(stderr, "usage: journal_emit AUDIT_FILE TOKEN\n");
		return 2;
	}
	ev = aud_event_new(AUD_DECISION, AUD_RESULT_DENY, NULL);
	if (ev == NULL)
		return 1;
	memcpy(big, "spiffe://example.org/", 21);
	fill(big + 21, sizeof(big) - 21, 0);
	aud_event_set_agent(ev, big);
	aud_event_set_context(ev, "journal-test", "root", NULL, NULL);
	snprintf(reason, sizeof(reason), "the token %s was quoted by a careless caller", argv[2]);
	aud_event_add_reason(ev, reason);
	for (i = 1; i < AUD_LIST_MAX; i++) {
		fill(reason, AUD_REASON_MAX + 1, i);
		aud_event_add_reason(ev, reason);
	}
	for (i = 0; i < AUD_LIST_MAX; i++) {
		fill(big, AUD_STRING_MAX + 1, i);
		aud_event_add_grant(ev, big);
	}
	sink.file = argv[1];
	sink.syslog_fn = to_stdout;
	if (aud_emit(&sink, ev, err, sizeof(err)) != 0) {
		fprintf(stderr, "journal_emit: %s\n", err);
		aud_event_free(ev);
		return 1;
	}
	aud_event_free(ev);
	return 0;
}
