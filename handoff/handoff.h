/*
 * handoff.h - the identity hand-off record (docs/handoff.md): what an
 * allowing account phase leaves in
 * STATE_DIR/handoff for the process that opens the session when the
 * application authenticated in another process (sshd's keyboard-interactive
 * child). The record holds the verified identity (never the token), the
 * digest of the account decision and what it is bound to; it is named by
 * the SHA-256 of an unguessable handle, taken once (renamed to a tombstone)
 * and refused when late. Nothing here knows about PAM: the module
 * (pam_agent/handoff.c) supplies the items, and `pam-agent reap` removes
 * stale records.
 */
#ifndef PA_HANDOFF_H
#define PA_HANDOFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "identity.h"
#include "policy.h"

/* The handle: 16 random bytes, hex. */
#define HO_HANDLE_LEN 32
/* Seconds a record may wait for its session (docs/handoff.md). */
#define HO_TTL 60
/* Largest record read. */
#define HO_RECORD_MAX (64 * 1024)
/* The name of the PAM environment variable carrying the handle. */
#define HO_ENV "PAM_AGENT_HANDOFF"

/* What take() found, besides 0 (a record, taken). */
enum ho_take_result {
	HO_TAKEN = 0,
	HO_ERROR = -1,	 /* directory or file untrusted, unreadable, malformed */
	HO_MISSING = -2, /* no record: forged, or expired and reaped */
	HO_USED = -3,	 /* taken before: the tombstone is there */
};

/* One record. Owns its strings and identity. */
struct ho_record {
	char *service, *user, *rhost, *tty; /* rhost, tty: NULL when unset */
	int64_t created, expires;
	/* the processes that may take it: the writer, and its parent */
	int64_t pid, pid_start, ppid, ppid_start;
	char decision[65]; /* ho_decision_digest of the account decision */
	struct id_identity *identity;
};

void ho_record_clear(struct ho_record *rec);

/* A new handle (RAND_bytes) into out (HO_HANDLE_LEN + 1). Returns 0 or -1. */
int ho_handle_new(char *out);
/* Whether s is a well-formed handle (HO_HANDLE_LEN lowercase hex digits). */
bool ho_handle_valid(const char *s);

/*
 * The SHA-256 (hex) of the decision's class, length and grants, as the
 * session would be given them: two decisions with the same digest place
 * the same credentials. out: 65 bytes.
 */
void ho_decision_digest(const struct pol_decision *d, char *out);

/*
 * Writes rec as STATE_DIR/handoff/<sha256(handle)>: the directory made
 * 0700 when missing and checked (owned by the effective uid, no group or
 * other bits, not a link), the file created O_EXCL|O_NOFOLLOW, mode 0600,
 * and the marker of its taker (rec->ppid, rec->ppid_start: ho_pending).
 * Refuses a record whose start times are unknown (negative).
 * Returns 0 or -1 with err.
 */
int ho_write(const char *state_dir, const char *handle, const struct ho_record *rec,
	     char *err, size_t errlen);

/*
 * Takes the record of handle: renames it to its tombstone (so a second
 * take finds HO_USED; of two concurrent takes one wins), then opens the
 * tombstone without following links and checks it (regular file owned by
 * the effective uid, no group or other bits, one link, at most
 * HO_RECORD_MAX bytes) and parses it strictly. The tombstone is emptied.
 * Returns HO_TAKEN with *rec, or another ho_take_result with err.
 */
int ho_take(const char *state_dir, const char *handle, struct ho_record *rec, char *err,
	    size_t errlen);

/*
 * Removes the record of handle if it is still there (no tombstone), and its
 * marker: by name when the writer passes the taker it wrote the record for
 * (ppid and ppid_start of the record), else (ppid 0) every marker of the
 * record, found by listing the directory.
 */
void ho_remove(const char *state_dir, const char *handle, int64_t ppid, int64_t ppid_start);

/*
 * The start time of process pid (field 22 of /proc/PID/stat, clock ticks
 * since boot), or -1 when it cannot be read (a record is then neither
 * written nor taken: the binding to a process would be the pid alone).
 */
int64_t ho_start_time(pid_t pid);

/*
 * Whether a record waits for process pid (started at start): ho_write
 * leaves, next to each record, a marker for-<ppid>-<ppid_start>.<name>
 * naming the process meant to take it, removed when the record is taken
 * or removed, and by the reaper once that process is gone. Lets the taker
 * tell that an identity was handed to it when the handle never reached it.
 * Returns 1 (a marker), 0 (none, or no directory), -1 with err (untrusted
 * or unreadable directory: the caller cannot tell).
 */
int ho_pending(const char *state_dir, pid_t pid, int64_t start, char *err, size_t errlen);

/*
 * `pam-agent reap`: removes records and tombstones of STATE_DIR/handoff
 * last changed more than HO_TTL seconds before now (a record is written
 * once; past its expiry no one may take it), and markers whose process is
 * gone (no process with that pid and start time). Untrusted directories
 * are left alone. Returns the number removed, or -1 with err.
 */
long ho_reap(const char *state_dir, int64_t now, char *err, size_t errlen);

#endif /* PA_HANDOFF_H */
