/*
 * audit.h - structured audit events (docs/audit.md): one JSON object per
 * line, to the journal with structured fields (or to syslog, LOG_AUTHPRIV,
 * where journald does not run) and, when configured, appended to an audit
 * file. docs/audit.md documents every field.
 *
 * The event has a fixed set of typed fields and no way to add an
 * arbitrary one: there is no field for a token or a secret. Every string
 * is capped (identifiers at AUD_ID_MAX, kept apart by a hash when
 * changed), made valid UTF-8, and anything in it that looks like a
 * compact JWS is replaced by "[redacted]" before it is stored.
 * No PAM headers here.
 */
#ifndef PA_AUDIT_H
#define PA_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "identity.h"
#include "policy.h"

/* Version of the line format ("v" field). */
#define AUD_FORMAT_VERSION 1
/* Longest free-text string field kept (bytes, before JSON escaping). */
#define AUD_STRING_MAX 256
/*
 * Longest identifier kept whole (agent, issuer, actors, jti, sid): the
 * SPIFFE ID maximum. An identifier that had to be cut or changed ends in
 * " [sha256:HEX]" of the original, so different ids never look alike.
 */
#define AUD_ID_MAX 2048
/* Longest reason kept. */
#define AUD_REASON_MAX 512
/* Most entries kept in each list (reasons, grants, keys, actors). */
#define AUD_LIST_MAX 32

enum aud_kind {
	AUD_AUTHENTICATE = 1, /* "authenticate" */
	AUD_DECISION,	      /* "decision" */
	AUD_CREDENTIAL_PLACED, /* "credential_placed" */
	AUD_KEY_REVOKED,      /* "key_revoked" */
	AUD_REVOKE_FAILED,    /* "revoke_failed" */
	AUD_SESSION_CLOSED,   /* "session_closed" */
	AUD_TASK_BUDGET_EXCEEDED, /* "task_budget_exceeded" (docs/tasks.md) */
	AUD_BUNDLE_FETCH,     /* "bundle_fetch": pam-agent bundle fetch (docs/bundles.md) */
};

enum aud_result {
	AUD_RESULT_OK = 1, /* "ok" */
	AUD_RESULT_FAILED, /* "failed" */
	AUD_RESULT_ALLOW,  /* "allow" */
	AUD_RESULT_DENY,   /* "deny" */
};

/* Name of an event kind / result as written in the "event"/"result" field. */
const char *aud_kind_name(enum aud_kind kind);
const char *aud_result_name(enum aud_result result);

struct aud_event;

/*
 * A new event of kind with result, at time when (NULL: now). Returns NULL
 * when out of memory.
 */
struct aud_event *aud_event_new(enum aud_kind kind, enum aud_result result,
				const struct timespec *when);
void aud_event_free(struct aud_event *ev);

/*
 * The setters below copy (capped, sanitized) what they are given; NULL
 * leaves the field out. Each returns 0, or -1 when out of memory (the
 * event then lacks that field).
 */

/* agent, issuer, task, jti, fingerprint and the act chain's actors of id. */
int aud_event_set_identity(struct aud_event *ev, const struct id_identity *id);
/* The agent id alone, when there is no verified identity. */
int aud_event_set_agent(struct aud_event *ev, const char *agent_id);
/* PAM_SERVICE, PAM_USER, PAM_RHOST, PAM_TTY. */
int aud_event_set_context(struct aud_event *ev, const char *service, const char *user,
			  const char *rhost, const char *tty);
/* The session id ("sid"). */
int aud_event_set_session(struct aud_event *ev, const char *sid);
/* What attestation found of the requesting process or workload (NULL: nothing). */
int aud_event_set_runtime(struct aud_event *ev, const struct pol_runtime *rt);
/* class, max_session, grants, rule and reasons of a decision. */
int aud_event_set_decision(struct aud_event *ev, const struct pol_decision *d);
/* The session's class, when not set from a decision. */
void aud_event_set_class(struct aud_event *ev, enum pol_class cls);
/* Appends one reason (a short sentence; an error message for failures). */
int aud_event_add_reason(struct aud_event *ev, const char *text);
/* Appends one grant name. */
int aud_event_add_grant(struct aud_event *ev, const char *name);
/* Appends one key: the grant it holds and its kernel serial. */
int aud_event_add_key(struct aud_event *ev, const char *grant, int32_t serial);
/* How long the operation took, in milliseconds. */
void aud_event_set_duration_ms(struct aud_event *ev, int64_t ms);

/*
 * The event as one JSON object on one line, without the newline, keys in
 * the documented fixed order, ASCII only. Heap string, or NULL.
 */
char *aud_event_to_json(const struct aud_event *ev);

/*
 * The members of the event's line, in the line's order, with the values
 * the line holds (aud_event_to_json builds the line's jansson object from
 * this walk, and the journal takes its fields from it: the two cannot
 * differ). key is a member's name, NULL for an element of an array; open
 * is called with '{' or '[' for an object or array and close with its
 * closing bracket; the whole line is one object (opened with key NULL).
 * Returns 0, or -1 when out of memory (the walk may have stopped part-way).
 */
struct aud_walker {
	void (*str)(void *ctx, const char *key, const char *s);
	void (*num)(void *ctx, const char *key, long long v);
	void (*boolean)(void *ctx, const char *key, bool v);
	void (*open)(void *ctx, const char *key, char bracket);
	void (*close)(void *ctx, char bracket);
};
int aud_event_walk(const struct aud_event *ev, const struct aud_walker *w, void *ctx);

/*
 * aud_event_to_json's line, from one walk that also visits also (when not
 * NULL) with ctx: the journal takes its fields and the line from one walk.
 */
char *aud_event_line(const struct aud_event *ev, const struct aud_walker *also, void *ctx);

/* The event's kind. */
enum aud_kind aud_event_kind(const struct aud_event *ev);

/* Where events go. */
struct aud_sink {
	const char *file; /* audit_log path, or NULL */
	bool no_syslog;	  /* true: skip the journal and syslog (tests, `pam-agent` dry runs) */
	/* when set, called instead of syslog(3) with the priority and line */
	void (*syslog_fn)(int priority, const char *line, void *ctx);
	void *syslog_ctx;
};

/*
 * Unless no_syslog: writes ev to the journal (aud_journal_send) when
 * journald listens (aud_journal_present), else - or when the journal
 * refused the entry - to syslog (LOG_AUTHPRIV|LOG_INFO, "pam_agent
 * audit: LINE"). Appends it to sink->file when set. Returns 0, or -1
 * with err when the line could not be built or the file not written
 * whole: the caller should fail closed.
 */
int aud_emit(const struct aud_sink *sink, const struct aud_event *ev,
	     char *err, size_t errlen);

/*
 * Appends line plus "\n" to path, normally with one write(2): opened
 * O_RDWR|O_APPEND|O_CREAT|O_NOFOLLOW|O_CLOEXEC, created 0600, and
 * checked on the descriptor: a regular file owned by root or the
 * effective uid, not group/world-writable. Under an flock(2) (waited for
 * at most 2 s): a newline first when the file does not end in one, and
 * after a short write the partial line is cut off again (docs/audit.md).
 * Never truncates anything else. Returns 0 or -1 with err.
 */
int aud_file_append(const char *path, const char *line, char *err, size_t errlen);

/* journald's socket for the native protocol. */
#define AUD_JOURNAL_SOCKET "/run/systemd/journal/socket"

/* Whether journald listens: a socket at AUD_JOURNAL_SOCKET. */
int aud_journal_present(void);

/*
 * Sends the audit line of ev to the journal as one entry
 * with sd_journal_sendv (docs/audit.md lists the fields): MESSAGE_ID of
 * its kind, PRIORITY, SYSLOG_FACILITY (authpriv), SYSLOG_IDENTIFIER,
 * MESSAGE a one-line summary, PAM_AGENT_<KEY> per key of the line (one
 * PAM_AGENT_ACTOR, _GRANT, _REASON, _KEY per list entry,
 * PAM_AGENT_RUNTIME_<KEY> for the runtime object) and PAM_AGENT_JSON the
 * line. An entry too large for a datagram goes as a sealed memfd
 * (libsystemd does that): nothing is cut. The line (aud_event_to_json's
 * bytes) and the fields come from one walk (aud_event_walk); the line is
 * not parsed back. *line is the line (heap, also when the entry was not
 * sent; NULL when out of memory). Returns 0 or a negative errno.
 */
int aud_journal_send(const struct aud_event *ev, char **line);

#endif /* PA_AUDIT_H */
