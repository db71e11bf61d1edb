/*
 * journal.c - audit events into the systemd journal through its native
 * protocol (libsystemd's sd_journal_sendv): one entry per event with a
 * MESSAGE_ID per event kind, a PAM_AGENT_* field per key of the line,
 * MESSAGE a short human line and PAM_AGENT_JSON the whole line
 * (docs/audit.md, "The journal").
 *
 * The fields are read back from the line aud_event_to_json made, so they
 * hold exactly what the audit file holds - the same capped, sanitized,
 * token-free values - and a key added to the line gets its field too.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>

#include <jansson.h>
#include <systemd/sd-journal.h>

#include "audit.h"

/* Fixed 128-bit ids, one per event kind (docs/audit.md); never change one. */
static const struct {
	enum aud_kind kind;
	const char *id;
} message_ids[] = {
	{ AUD_AUTHENTICATE, "f5445ad97ccb44169b8f585f31e73b39" },
	{ AUD_DECISION, "c329f50288de4e7f9bd780aa928e560d" },
	{ AUD_CREDENTIAL_PLACED, "57787241c82c47f190535d80218528c0" },
	{ AUD_KEY_REVOKED, "12c73736fd0e4df5aa852fc988e41760" },
	{ AUD_REVOKE_FAILED, "e3349107965c48c2b71ad3b0f1026db4" },
	{ AUD_SESSION_CLOSED, "0eba3bbb28214e4a9f4044a6cef851ae" },
	{ AUD_TASK_BUDGET_EXCEEDED, "bb000d6c5d454965a9bf0d937d731ea6" },
	{ AUD_BUNDLE_FETCH, "8d71181b6405c2dfac052379ab0cd451" },
};

/* Keys of the line that get no field: the journal records them itself. */
static const char *const skipped[] = { "v", "time", "epoch", "host", "pid", NULL };

/* The field a list's entries go to, one field per entry. */
static const struct {
	const char *key, *field;
} lists[] = {
	{ "actors", "ACTOR" }, { "grants", "GRANT" }, { "reasons", "REASON" }, { "keys", "KEY" },
};

/* The fields of one entry, each "NAME=value", heap strings. */
struct fields {
	struct iovec *iov;
	size_t n, cap;
	int oom;
};

/* Appends "PAM_AGENT_<PREFIX><NAME>=value" (prefix/name upper-cased), or name as is when raw. */
static void add(struct fields *f, const char *prefix, const char *name, const char *value, int raw)
{
	char *s = NULL;
	size_t i, head;

	if (f->oom)
		return;
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 64;
		struct iovec *grown = realloc(f->iov, cap * sizeof(*grown));

		if (grown == NULL) {
			f->oom = 1;
			return;
		}
		f->iov = grown;
		f->cap = cap;
	}
	if (raw ? asprintf(&s, "%s=%s", name, value) < 0
		: asprintf(&s, "PAM_AGENT_%s%s=%s", prefix, name, value) < 0) {
		f->oom = 1;
		return;
	}
	head = strcspn(s, "=");
	for (i = 0; i < head; i++)
		if (s[i] >= 'a' && s[i] <= 'z')
			s[i] = (char)(s[i] - 'a' + 'A');
	f->iov[f->n].iov_base = s;
	f->iov[f->n].iov_len = strlen(s);
	f->n++;
}

/* The text of a scalar JSON value (string, integer, boolean), or NULL. */
static const char *scalar(const json_t *v, char *buf, size_t len)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	if (json_is_boolean(v))
		return json_is_true(v) ? "true" : "false";
	return NULL;
}

/* The entries of list l (a key of lists[]) as repeated fields. */
static void add_list(struct fields *f, const char *field, const json_t *l)
{
	char num[32], *kv;
	const json_t *v;
	size_t i;

	json_array_foreach(l, i, v) {
		if (json_is_object(v)) { /* a key: "GRANT:SERIAL" */
			const char *g = json_string_value(json_object_get(v, "grant"));
			const char *s = scalar(json_object_get(v, "serial"), num, sizeof(num));

			if (asprintf(&kv, "%s:%s", g ? g : "", s ? s : "") < 0) {
				f->oom = 1;
				return;
			}
			add(f, "", field, kv, 0);
			free(kv);
		} else if (json_is_string(v)) {
			add(f, "", field, json_string_value(v), 0);
		}
	}
}

/* A copy of s with every control byte (a newline in a reason) made a space. */
static char *one_line(const char *s)
{
	char *c = strdup(s), *p;

	for (p = c; p != NULL && *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return c;
}

/* MESSAGE: "pam_agent audit: EVENT RESULT: agent A, user U, ...: first reason". */
static void add_message(struct fields *f, const json_t *o)
{
	static const char *const shown[] = { "agent", "user", "service", "task", "sid", NULL };
	const char *reason = json_string_value(json_array_get(json_object_get(o, "reasons"), 0));
	char *msg = NULL, *next, *flat;
	size_t i;
	int sep = ':';

	if (asprintf(&msg, "pam_agent audit: %s %s", json_string_value(json_object_get(o, "event")),
		     json_string_value(json_object_get(o, "result"))) < 0) {
		f->oom = 1;
		return;
	}
	for (i = 0; shown[i] != NULL && msg != NULL; i++) {
		const char *v = json_string_value(json_object_get(o, shown[i]));

		if (v == NULL)
			continue;
		if (asprintf(&next, "%s%c %s %s", msg, sep, shown[i], v) < 0)
			next = NULL;
		free(msg);
		msg = next;
		sep = ',';
	}
	if (msg != NULL && reason != NULL) {
		if (asprintf(&next, "%s: %s", msg, reason) < 0)
			next = NULL;
		free(msg);
		msg = next;
	}
	flat = msg ? one_line(msg) : NULL;
	if (flat == NULL)
		f->oom = 1;
	else
		add(f, "", "MESSAGE", flat, 1);
	free(flat);
	free(msg);
}

/* PRIORITY: what syslog would call it. */
static int priority(enum aud_kind kind, const char *result)
{
	if (kind == AUD_REVOKE_FAILED)
		return LOG_WARNING;
	if (strcmp(result, "deny") == 0 || strcmp(result, "failed") == 0)
		return LOG_NOTICE;
	return LOG_INFO;
}

/* Every field of the entry of line, whose kind is kind. */
static void build(struct fields *f, enum aud_kind kind, const json_t *o, const char *line)
{
	const char *key, *text;
	const json_t *v, *rv;
	char num[32], prio[8];
	size_t i;

	for (i = 0; i < sizeof(message_ids) / sizeof(message_ids[0]); i++)
		if (message_ids[i].kind == kind)
			add(f, "", "MESSAGE_ID", message_ids[i].id, 1);
	snprintf(prio, sizeof(prio), "%d",
		 priority(kind, json_string_value(json_object_get(o, "result"))));
	add(f, "", "PRIORITY", prio, 1);
	snprintf(num, sizeof(num), "%d", LOG_AUTHPRIV >> 3);
	add(f, "", "SYSLOG_FACILITY", num, 1);
	add(f, "", "SYSLOG_IDENTIFIER", program_invocation_short_name, 1);
	add_message(f, o);
	json_object_foreach((json_t *)o, key, v) {
		const char *const *s;
		const char *rkey;
		int done = 0;

		for (s = skipped; *s != NULL && strcmp(*s, key) != 0; s++)
			;
		if (*s != NULL)
			continue;
		for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
			if (strcmp(lists[i].key, key) == 0 && json_is_array(v)) {
				add_list(f, lists[i].field, v);
				done = 1;
			}
		if (!done && json_is_object(v)) /* runtime */
			json_object_foreach((json_t *)v, rkey, rv)
				if ((text = scalar(rv, num, sizeof(num))) != NULL)
					add(f, "RUNTIME_", rkey, text, 0);
		if (!done && (text = scalar(v, num, sizeof(num))) != NULL)
			add(f, "", key, text, 0);
	}
	add(f, "", "JSON", line, 0);
}

int aud_journal_present(void)
{
	struct stat st;

	return stat(AUD_JOURNAL_SOCKET, &st) == 0 && S_ISSOCK(st.st_mode);
}

int aud_journal_send(const char *line)
{
	struct fields f = { 0 };
	json_t *o = json_loads(line, 0, NULL);
	const char *event = json_string_value(json_object_get(o, "event"));
	enum aud_kind kind = 0;
	size_t i;
	int r;

	for (i = 0; event != NULL && i < sizeof(message_ids) / sizeof(message_ids[0]); i++)
		if (strcmp(aud_kind_name(message_ids[i].kind), event) == 0)
			kind = message_ids[i].kind;
	if (kind == 0 || !json_is_string(json_object_get(o, "result"))) {
		json_decref(o);
		return -EINVAL;
	}
	build(&f, kind, o, line);
	json_decref(o);
	r = f.oom ? -ENOMEM : sd_journal_sendv(f.iov, (int)f.n);
	for (i = 0; i < f.n; i++)
		free(f.iov[i].iov_base);
	free(f.iov);
	return r < 0 ? r : 0;
}
