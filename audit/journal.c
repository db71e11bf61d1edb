/*
 * journal.c - audit events into the systemd journal through its native
 * protocol (libsystemd's sd_journal_sendv): one entry per event with a
 * MESSAGE_ID per event kind, a PAM_AGENT_* field per key of the line,
 * MESSAGE a short human line and PAM_AGENT_JSON the whole line
 * (docs/audit.md, "The journal").
 *
 * The fields come from the walk the line is built from (aud_event_walk:
 * aud_event_line builds the line from the same walk), so they hold
 * exactly what the audit file holds - the same capped, sanitized,
 * token-free values - and a key added to the line gets its field too;
 * the line is not parsed back (that cost six times the line itself).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>

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

/* Room for one more field: 0, or -1 (oom set). */
static int grow(struct fields *f)
{
	if (f->oom)
		return -1;
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 64;
		struct iovec *grown = realloc(f->iov, cap * sizeof(*grown));

		if (grown == NULL) {
			f->oom = 1;
			return -1;
		}
		f->iov = grown;
		f->cap = cap;
	}
	return 0;
}

/* Appends "PAM_AGENT_<PREFIX><NAME>=value" (prefix/name upper-cased), or name as is when raw. */
static void add(struct fields *f, const char *prefix, const char *name, const char *value, int raw)
{
	char *s = NULL;
	size_t i, head;

	if (grow(f) != 0)
		return;
	{
		const char *lead = raw ? "" : "PAM_AGENT_", *pre = raw ? "" : prefix;
		size_t l1 = strlen(lead), l2 = strlen(pre), l3 = strlen(name), l4 = strlen(value);

		s = malloc(l1 + l2 + l3 + 1 + l4 + 1);
		if (s == NULL) {
			f->oom = 1;
			return;
		}
		memcpy(s, lead, l1);
		memcpy(s + l1, pre, l2);
		memcpy(s + l1 + l2, name, l3);
		s[l1 + l2 + l3] = '=';
		memcpy(s + l1 + l2 + l3 + 1, value, l4 + 1);
	}
	head = strcspn(s, "=");
	for (i = 0; i < head; i++)
		if (s[i] >= 'a' && s[i] <= 'z')
			s[i] = (char)(s[i] - 'a' + 'A');
	f->iov[f->n].iov_base = s;
	f->iov[f->n].iov_len = strlen(s);
	f->n++;
}

/* What the walk of the line (aud_event_walk) gathers for the entry. */
struct gather {
	struct fields body;	  /* PAM_AGENT_* of every member, in the line's order */
	int depth;		  /* 1: the line's own members */
	const char *list;	  /* the field of the list being walked, or NULL */
	bool in_object;		  /* inside an object at depth 2 (runtime), or an entry of a list */
	char entry_grant[300];	  /* a "keys" entry: grant and serial */
	char entry_serial[32];
	/* MESSAGE: "pam_agent audit: EVENT RESULT: agent A, user U, ...: first reason" */
	char *shown[5];		  /* agent, user, service, task, sid */
	char *event, *result, *reason;
	int oom;
};

static const char *const shown_keys[] = { "agent", "user", "service", "task", "sid" };

/* Keeps a copy of s in *slot (first one wins). */
static void keep(struct gather *g, char **slot, const char *s)
{
	if (*slot == NULL && (*slot = strdup(s)) == NULL)
		g->oom = 1;
}

/* A scalar member or element, its text as the line holds it. */
static void member(struct gather *g, const char *key, const char *text)
{
	const char *const *s;
	size_t i;

	if (g->depth == 1 && key != NULL) {
		for (s = skipped; *s != NULL && strcmp(*s, key) != 0; s++)
			;
		if (*s != NULL)
			return;
		if (strcmp(key, "event") == 0)
			keep(g, &g->event, text);
		else if (strcmp(key, "result") == 0)
			keep(g, &g->result, text);
		for (i = 0; i < sizeof(shown_keys) / sizeof(shown_keys[0]); i++)
			if (strcmp(key, shown_keys[i]) == 0)
				keep(g, &g->shown[i], text);
		add(&g->body, "", key, text, 0);
	} else if (g->depth == 2 && g->list != NULL && key == NULL && !g->in_object) {
		/* a list's entry: one field each */
		if (strcmp(g->list, "REASON") == 0)
			keep(g, &g->reason, text);
		add(&g->body, "", g->list, text, 0);
	} else if (g->depth == 2 && g->list == NULL && key != NULL) {
		/* the runtime object */
		add(&g->body, "RUNTIME_", key, text, 0);
	} else if (g->depth == 3 && g->list != NULL && key != NULL) {
		/* a key: "GRANT:SERIAL" */
		if (strcmp(key, "grant") == 0)
			snprintf(g->entry_grant, sizeof(g->entry_grant), "%s", text);
		else if (strcmp(key, "serial") == 0)
			snprintf(g->entry_serial, sizeof(g->entry_serial), "%s", text);
	}
}

static void g_str(void *ctx, const char *key, const char *s)
{
	member(ctx, key, s != NULL ? s : "");
}

/* Whether a number or boolean is a list's entry, which gets no field (only strings and keys do). */
static bool list_entry(const struct gather *g, const char *key)
{
	return g->depth == 2 && g->list != NULL && key == NULL;
}

static void g_num(void *ctx, const char *key, long long v)
{
	char num[32];

	if (list_entry(ctx, key))
		return;
	snprintf(num, sizeof(num), "%lld", v);
	member(ctx, key, num);
}

static void g_bool(void *ctx, const char *key, bool v)
{
	if (list_entry(ctx, key))
		return;
	member(ctx, key, v ? "true" : "false");
}

static void g_open(void *ctx, const char *key, char bracket)
{
	struct gather *g = ctx;
	size_t i;

	g->depth++;
	if (g->depth == 2) {
		g->list = NULL;
		g->in_object = bracket == '{';
		if (bracket == '[') {
			for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
				if (key != NULL && strcmp(lists[i].key, key) == 0)
					g->list = lists[i].field;
			/* a list that has no field gets none */
			if (g->list == NULL)
				g->in_object = true;
		} else {
			g->in_object = false;
		}
	} else if (g->depth == 3 && g->list != NULL && bracket == '{') {
		g->entry_grant[0] = g->entry_serial[0] = '\0';
	}
}

static void g_close(void *ctx, char bracket)
{
	struct gather *g = ctx;

	if (g->depth == 3 && g->list != NULL && bracket == '}') {
		char kv[sizeof(g->entry_grant) + sizeof(g->entry_serial) + 2];

		snprintf(kv, sizeof(kv), "%s:%s", g->entry_grant, g->entry_serial);
		add(&g->body, "", g->list, kv, 0);
	}
	if (g->depth == 2) {
		g->list = NULL;
		g->in_object = false;
	}
	g->depth--;
}

/* MESSAGE: "pam_agent audit: EVENT RESULT: agent A, user U, ...: first reason". */
static void add_message(struct fields *f, const struct gather *g)
{
	size_t len = 64, i, o;
	char *msg;
	int sep = ':';

	len += strlen(g->event) + strlen(g->result) + (g->reason ? strlen(g->reason) + 2 : 0);
	for (i = 0; i < sizeof(shown_keys) / sizeof(shown_keys[0]); i++)
		if (g->shown[i] != NULL)
			len += strlen(shown_keys[i]) + strlen(g->shown[i]) + 3;
	msg = malloc(len);
	if (msg == NULL) {
		f->oom = 1;
		return;
	}
	o = (size_t)snprintf(msg, len, "pam_agent audit: %s %s", g->event, g->result);
	for (i = 0; i < sizeof(shown_keys) / sizeof(shown_keys[0]); i++) {
		if (g->shown[i] == NULL)
			continue;
		o += (size_t)snprintf(msg + o, len - o, "%c %s %s", sep, shown_keys[i], g->shown[i]);
		sep = ',';
	}
	if (g->reason != NULL)
		snprintf(msg + o, len - o, ": %s", g->reason);
	/* one line: every control byte (a newline in a reason) made a space */
	for (o = 0; msg[o] != '\0'; o++)
		if ((unsigned char)msg[o] < 0x20 || msg[o] == 0x7f)
			msg[o] = ' ';
	add(f, "", "MESSAGE", msg, 1);
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

int aud_journal_present(void)
{
	struct stat st;

	return stat(AUD_JOURNAL_SOCKET, &st) == 0 && S_ISSOCK(st.st_mode);
}

int aud_journal_send(const struct aud_event *ev, char **line_out)
{
	static const struct aud_walker fields = { g_str, g_num, g_bool, g_open, g_close };
	enum aud_kind kind = aud_event_kind(ev);
	struct gather g = { 0 };
	struct fields f = { 0 };
	char num[32], prio[8], *line;
	size_t i;
	int r = 0;

	/* the line and, from the same walk, the fields */
	line = aud_event_line(ev, &fields, &g);
	*line_out = line;
	if (line == NULL || g.oom || g.body.oom)
		r = -ENOMEM;
	else if (g.event == NULL || g.result == NULL)
		r = -EINVAL;
	if (r == 0) {
		for (i = 0; i < sizeof(message_ids) / sizeof(message_ids[0]); i++)
			if (message_ids[i].kind == kind)
				add(&f, "", "MESSAGE_ID", message_ids[i].id, 1);
		snprintf(prio, sizeof(prio), "%d", priority(kind, g.result));
		add(&f, "", "PRIORITY", prio, 1);
		snprintf(num, sizeof(num), "%d", LOG_AUTHPRIV >> 3);
		add(&f, "", "SYSLOG_FACILITY", num, 1);
		add(&f, "", "SYSLOG_IDENTIFIER", program_invocation_short_name, 1);
		add_message(&f, &g);
		/* then every member's field, in the line's order, then the line */
		for (i = 0; i < g.body.n && grow(&f) == 0; i++) {
			f.iov[f.n++] = g.body.iov[i];
			g.body.iov[i].iov_base = NULL;
		}
		add(&f, "", "JSON", line, 0);
		r = f.oom ? -ENOMEM : sd_journal_sendv(f.iov, (int)f.n);
	}
	for (i = 0; i < f.n; i++)
		free(f.iov[i].iov_base);
	free(f.iov);
	for (i = 0; i < g.body.n; i++)
		free(g.body.iov[i].iov_base);
	free(g.body.iov);
	for (i = 0; i < sizeof(g.shown) / sizeof(g.shown[0]); i++)
		free(g.shown[i]);
	free(g.event);
	free(g.result);
	free(g.reason);
	return r < 0 ? r : 0;
}
