/*
 * keyring.h - the keyring engine: session keyrings, per-session keyrings
 * and credential keys in the kernel keyring, over libkeyutils. No PAM
 * headers here. docs/sessions.md describes what it guarantees.
 *
 * Conventions: functions return 0 (or a serial > 0) on success and -1 on
 * failure with a one-line reason in err that names the cause, and for
 * ENOSYS/EPERM-from-seccomp/EDQUOT the sysctl or setting to look at.
 */
#ifndef PA_KEYRING_H
#define PA_KEYRING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Permissions of every key and per-session keyring: possessor
 * view/read/search, owner all, group and other nothing. */
#define KR_PERM 0x0b3f0000u
/* Description prefix of everything pam_agent puts in a keyring. */
#define KR_PREFIX "pam_agent:"
/* Longest session id (hex) and grant name accepted. */
#define KR_SID_MAX 64
#define KR_NAME_MAX 64

/*
 * Makes sure the calling process has a session keyring of its own, as
 * pam_keyinit does: when its session keyring is missing or is the user's
 * default user-session keyring (or is not owned by uid, e.g. root's login
 * session), joins a new anonymous session keyring created while the
 * process runs with uid/gid as its real ids (the kernel makes the keyring
 * owned by the real ids, so the user owns it; the effective ids stay, as
 * in pam_keyinit), restoring the previous ids on every path. Returns the
 * session keyring serial, or -1 with err (keyrings unavailable: ENOSYS or
 * EPERM from a seccomp filter are named as such).
 */
int32_t kr_session_keyring_ensure(uid_t uid, gid_t gid, char *err, size_t errlen);

/*
 * Permissions of the session keyring of an agent session: possessor
 * view/read/write/search; nothing for the owner (root), group or others,
 * and no link or setattr for anyone, so it cannot be linked into another
 * keyring (`keyctl link @s @u` fails) nor its permissions changed.
 */
#define KR_SESSION_PERM 0x0f000000u

/*
 * Makes the calling process join a new anonymous session keyring owned by
 * its effective ids (root, 0:0, in production: charged to root's key
 * quota, not the user's) with KR_SESSION_PERM: every agent session starts
 * from one, whatever it is granted, and inherits nothing from the
 * caller's keyring (a root login's keys, @u linked by pam_keyinit, an
 * earlier session's grants). The real ids are switched to the effective
 * ones for the join and restored on every path. Returns its serial or -1
 * with err.
 */
int32_t kr_session_keyring_new(char *err, size_t errlen);

/*
 * Creates the keyring "pam_agent:<sid>" with KR_PERM and a timeout of
 * timeout seconds (0: none), linked into the caller's session keyring.
 * Returns its serial or -1 with err.
 */
int32_t kr_session_create(const char *sid, int64_t timeout, char *err, size_t errlen);

/*
 * Adds a "user" key "pam_agent:<name>" holding len bytes of secret to the
 * keyring ring, with KR_PERM and a timeout of timeout seconds (> 0
 * required). A key of that name already in ring is an error (never
 * replaced silently). Returns the key serial or -1 with err; EDQUOT names
 * kernel.keys.maxkeys / maxbytes (root_maxkeys / root_maxbytes for root).
 */
int32_t kr_key_add(int32_t ring, const char *name, const void *secret, size_t len,
		   int64_t timeout, char *err, size_t errlen);

/*
 * The keys of one keyring already described by kr_key_add_seen (a key's
 * type and description never change), so that placing n keys into a
 * keyring describes each key once instead of up to n times (helperd's
 * open of a session with many grants). Starts zeroed; kr_seen_clear frees
 * it. Use one per keyring.
 */
struct kr_seen_key {
	int32_t serial;
	char type[32];
	char *desc; /* NULL when too long to compare */
};
struct kr_seen {
	struct kr_seen_key *keys;
	size_t n, cap;
};
void kr_seen_clear(struct kr_seen *seen);
/* The entry of serial in seen (NULL seen: none), or NULL. */
const struct kr_seen_key *kr_seen_find(const struct kr_seen *seen, int32_t serial);
/*
 * Notes in seen (NULL: nothing) that key serial is of type and
 * description desc (NULL: a description too long to compare). Out of
 * memory it notes nothing: the key is then described again when next met.
 */
void kr_seen_note(struct kr_seen *seen, int32_t serial, const char *type, const char *desc);

/*
 * kr_key_add, with the keyring's keys described only when not in seen or
 * when of the name being added (NULL seen: all of them, as kr_key_add).
 * The keyring is still read at every call, so a key linked since the last
 * call is described, and a revoked key of that name still does not count:
 * the result is kr_key_add's.
 */
int32_t kr_key_add_seen(struct kr_seen *seen, int32_t ring, const char *name,
			const void *secret, size_t len, int64_t timeout, char *err,
			size_t errlen);

/*
 * Revokes the key or keyring serial. A key that is already revoked,
 * expired or gone counts as success. Returns 0 or -1 with err.
 */
int kr_revoke(int32_t serial, char *err, size_t errlen);

/*
 * Revokes every key linked in ring, then ring itself. Returns 0 when all
 * are revoked (or already gone), -1 with err naming what was not (it
 * still tries every key).
 */
int kr_session_revoke(int32_t ring, char *err, size_t errlen);

/* One key of a per-session keyring, as listed. */
struct kr_entry {
	int32_t serial;
	char name[KR_NAME_MAX + 1]; /* without the "pam_agent:" prefix */
	uid_t uid;
	gid_t gid;
	uint32_t perm;
};

/*
 * Lists the keys linked in ring (at most max entries into out): live
 * "user" keys named "pam_agent:<name>"; revoked or expired ones are left
 * out. Returns the number found (may exceed max) or -1 with err (a revoked
 * ring is an error).
 */
int kr_list(int32_t ring, struct kr_entry *out, size_t max, char *err, size_t errlen);

/*
 * Finds the per-session keyring "pam_agent:<sid>" reachable from the
 * caller's session keyring. Returns its serial, 0 when absent (or revoked
 * or expired), -1 on error.
 */
int32_t kr_session_find(const char *sid, char *err, size_t errlen);

#endif /* PA_KEYRING_H */
