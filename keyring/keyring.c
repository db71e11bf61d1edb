/*
 * keyring.c - the keyring engine (see keyring/keyring.h): the session
 * keyring of a PAM session, the per-session keyring "pam_agent:<sid>" and
 * the credential keys in it, over libkeyutils (docs/sessions.md).
 *
 * Kernel facts this file relies on (each one exercised by
 * tests/unit/test_keyring.c against the running kernel):
 *
 * - The anonymous keyring made by KEYCTL_JOIN_SESSION_KEYRING is owned by
 *   the *real* uid/gid of the caller, and KEY_SPEC_USER_SESSION_KEYRING
 *   names the user-session keyring of the real uid. pam_keyinit therefore
 *   switches the real ids (setreuid(uid, -1)) while the effective uid stays
 *   root; so does kr_session_keyring_ensure.
 * - Keys made by add_key are owned by the fsuid/fsgid (the effective ids),
 *   so keys and per-session keyrings placed by a root process are 0:0.
 * - add_key gives a new key default permissions (possessor all) while it
 *   is linked where other processes of the session possess it. To leave no
 *   such window, every key and per-session keyring is first made in a
 *   fresh staging keyring inside the caller's thread keyring (possessed by
 *   this thread only), gets KR_PERM and its timeout there, and only then is
 *   linked to its destination. When any step fails the new key is revoked.
 * - add_key of a "user" key whose description already exists in the
 *   destination updates that key in place, and linking displaces an entry
 *   of the same type and description: both are refused beforehand (only
 *   the owner of a keyring with KR_PERM, root in production, can write it,
 *   so there is no racing writer outside the caller's own code).
 * - Revoking a keyring also empties it; revoking something already
 *   revoked answers ENOKEY.
 *
 * Secrets only pass through to add_key: nothing here copies, keeps or logs
 * them.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <keyutils.h>

#include "keyring.h"
#include "util.h"

/* The largest payload of a "user" key (kernel: user_preparse). */
#define KR_USER_PAYLOAD_MAX 32767
/* Description of the transient keyring keys are prepared in. */
#define KR_STAGING KR_PREFIX "staging"
/* Room for "pam_agent:" + the longest sid or name + NUL. */
#define KR_DESC_MAX (sizeof(KR_PREFIX) + (KR_SID_MAX > KR_NAME_MAX ? KR_SID_MAX : KR_NAME_MAX))

/* What keyctl_describe says about one key. */
struct kdesc {
	char type[32];
	uid_t uid;
	gid_t gid;
	uint32_t perm;
	char desc[256];
	bool desc_whole; /* desc was not cut */
};

/* True when errno e means the key is already revoked, expired or gone. */
static bool gone(int e)
{
	return e == ENOKEY || e == EKEYREVOKED || e == EKEYEXPIRED;
}

static bool valid_sid(const char *sid)
{
	size_t i;

	if (sid == NULL || sid[0] == '\0')
		return false;
	for (i = 0; sid[i] != '\0'; i++) {
		char c = sid[i];

		if (i >= KR_SID_MAX)
			return false;
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

static bool valid_name(const char *name)
{
	size_t i;

	if (name == NULL || name[0] == '\0')
		return false;
	for (i = 0; name[i] != '\0'; i++) {
		char c = name[i];

		if (i >= KR_NAME_MAX)
			return false;
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* Escaped rendering of a caller-supplied string for a message. */
static const char *show(const char *s, char *buf, size_t len)
{
	if (s == NULL)
		return "(null)";
	return pa_escape(s, strnlen(s, 4 * PA_ESCAPE_MAX), buf, len);
}

/* The first line of a small /proc file into out ("?" when unreadable). */
static void read_proc_line(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "re");

	snprintf(out, len, "?");
	if (f == NULL)
		return;
	if (fgets(out, (int)len, f) == NULL)
		snprintf(out, len, "?");
	out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

/* True when this process runs under a seccomp filter (Seccomp: 2). */
static bool under_seccomp_filter(void)
{
	char line[128];
	bool filtered = false;
	FILE *f = fopen("/proc/self/status", "re");

	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "Seccomp:", 8) == 0) {
			filtered = atoi(line + 8) == 2;
			break;
		}
	}
	fclose(f);
	return filtered;
}

/* What /proc/key-users says uid holds, as "K keys and B bytes". */
static void quota_usage(uid_t uid, char *out, size_t len)
{
	char line[160];
	FILE *f = fopen("/proc/key-users", "re");

	snprintf(out, len, "usage unknown");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long u, keys, maxkeys, bytes, maxbytes;
		int usage, nkeys, nikeys;

		if (sscanf(line, " %lu: %d %d/%d %lu/%lu %lu/%lu", &u, &usage, &nkeys, &nikeys,
			   &keys, &maxkeys, &bytes, &maxbytes) == 8 &&
		    u == (unsigned long)uid) {
			snprintf(out, len, "it holds %lu keys and %lu bytes", keys, bytes);
			break;
		}
	}
	fclose(f);
}

/*
 * One-line reason for errno e of a keyctl/add_key call. quota_uid is the
 * uid whose key quota the call was charged to (for EDQUOT).
 */
static void reason(int e, uid_t quota_uid, char *out, size_t len)
{
	char maxkeys[32], maxbytes[32], usage[80];
	const char *root = quota_uid == 0 ? "root_" : "";
	char path[64];

	switch (e) {
	case ENOSYS:
		snprintf(out, len,
			 "kernel keyrings are not available (ENOSYS): kernel built without "
			 "CONFIG_KEYS?%s",
			 under_seccomp_filter()
			     ? " (or the seccomp filter of this process answers ENOSYS for "
			       "add_key/keyctl)"
			     : "");
		break;
	case EPERM:
		if (under_seccomp_filter())
			snprintf(out, len,
				 "operation not permitted (EPERM), and this process runs under a "
				 "seccomp filter (Seccomp: 2 in /proc/self/status): a container "
				 "runtime's seccomp profile or systemd's SystemCallFilter= is "
				 "probably blocking add_key/keyctl; allow them for this service");
		else
			snprintf(out, len, "operation not permitted (EPERM)");
		break;
	case EDQUOT:
		snprintf(path, sizeof(path), "/proc/sys/kernel/keys/%smaxkeys", root);
		read_proc_line(path, maxkeys, sizeof(maxkeys));
		snprintf(path, sizeof(path), "/proc/sys/kernel/keys/%smaxbytes", root);
		read_proc_line(path, maxbytes, sizeof(maxbytes));
		quota_usage(quota_uid, usage, sizeof(usage));
		snprintf(
		    out, len,
		    "key quota of uid %lu exceeded (EDQUOT; %s, see /proc/key-users): raise "
		    "sysctl kernel.keys.%smaxkeys (now %s) or kernel.keys.%smaxbytes (now %s), "
		    "or revoke stale keys",
		    (unsigned long)quota_uid, usage, root, maxkeys, root, maxbytes);
		break;
	case EACCES:
		snprintf(out, len, "permission denied (EACCES)");
		break;
	case ENOKEY:
		snprintf(out, len, "no such key (ENOKEY)");
		break;
	case EKEYREVOKED:
		snprintf(out, len, "it was revoked (EKEYREVOKED)");
		break;
	case EKEYEXPIRED:
		snprintf(out, len, "it expired (EKEYEXPIRED)");
		break;
	default:
		snprintf(out, len, "%s (errno %d)", strerror(e), e);
		break;
	}
}

/*
 * Formats "<context>: <reason for errno e>" into err. Returns -1. Call it
 * right after the failing call, before anything can change errno.
 */
static int fail(char *err, size_t errlen, int e, uid_t quota_uid, const char *fmt, ...)
    PA_PRINTF(5, 6);

static int fail(char *err, size_t errlen, int e, uid_t quota_uid, const char *fmt, ...)
{
	char ctx[256], why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	reason(e, quota_uid, why, sizeof(why));
	return pa_err(err, errlen, "%s: %s", ctx, why);
}

/* Describes key id into *d. Returns 0, or -1 with errno set. */
static int describe_key(key_serial_t id, struct kdesc *d)
{
	char *buf = NULL, *p, *end;
	long uid, gid;
	unsigned long perm;
	size_t tlen;
	int rc = -1;

	if (keyctl_describe_alloc(id, &buf) < 0)
		return -1;
	/* "type;uid;gid;perm;description" */
	p = strchr(buf, ';');
	if (p == NULL)
		goto bad;
	tlen = (size_t)(p - buf);
	if (tlen >= sizeof(d->type))
		goto bad;
	memcpy(d->type, buf, tlen);
	d->type[tlen] = '\0';
	errno = 0;
	uid = strtol(p + 1, &end, 10);
	if (errno != 0 || *end != ';')
		goto bad;
	gid = strtol(end + 1, &end, 10);
	if (errno != 0 || *end != ';')
		goto bad;
	perm = strtoul(end + 1, &end, 16);
	if (errno != 0 || *end != ';' || perm > UINT32_MAX)
		goto bad;
	d->uid = (uid_t)uid;
	d->gid = (gid_t)gid;
	d->perm = (uint32_t)perm;
	d->desc_whole = strlen(end + 1) < sizeof(d->desc);
	snprintf(d->desc, sizeof(d->desc), "%s", end + 1);
	rc = 0;
	goto out;
bad:
	errno = EBADMSG;
out:
	free(buf);
	return rc;
}

/* Reads the serials linked in ring. Returns 0, or -1 with errno set. */
static int read_ring(key_serial_t ring, key_serial_t **ids, size_t *n)
{
	void *buf = NULL;
	long len;

	*ids = NULL;
	*n = 0;
	len = keyctl_read_alloc(ring, &buf);
	if (len < 0)
		return -1;
	*ids = buf;
	*n = (size_t)len / sizeof(key_serial_t);
	return 0;
}

/*
 * Looks in ring (its direct links only) for a live key of type and
 * description desc. Returns its serial, 0 when there is none, -1 with
 * errno when ring cannot be read. Entries that are revoked, expired or
 * gone do not count. The ring is read each time; with seen, a key noted
 * there with another type or description (neither ever changes) is not
 * described again, and every new key described is noted.
 */
static key_serial_t find_direct(key_serial_t ring, const char *type, const char *desc,
				struct kr_seen *seen)
{
	key_serial_t *ids = NULL, found = 0;
	const struct kr_seen_key *k;
	struct kdesc d;
	size_t i, n;

	if (read_ring(ring, &ids, &n) != 0)
		return -1;
	for (i = 0; i < n && found == 0; i++) {
		k = kr_seen_find(seen, ids[i]);
		if (k != NULL &&
		    (k->desc == NULL || strcmp(k->type, type) != 0 || strcmp(k->desc, desc) != 0))
			continue; /* noted, and another one */
		/* described when new, and again when it matches: still live? */
		if (describe_key(ids[i], &d) != 0) {
			if (gone(errno))
				continue;
			found = -1;
			break;
		}
		if (k == NULL)
			kr_seen_note(seen, ids[i], d.type, d.desc_whole ? d.desc : NULL);
		if (strcmp(d.type, type) == 0 && d.desc_whole && strcmp(d.desc, desc) == 0)
			found = ids[i];
	}
	free(ids);
	return found;
}

/*
 * Makes a key (or keyring) of type and description desc with KR_PERM and
 * timeout (0: none) and links it into dest, without it ever being
 * reachable from dest with other permissions (see the top of this file).
 * Returns its serial, or -1 with err; a key made before a failing step is
 * revoked.
 */
static key_serial_t place(const char *type, const char *desc, const void *payload, size_t plen,
			  key_serial_t dest, unsigned timeout, char *err, size_t errlen)
{
	key_serial_t stage, item, ret = -1;
	uid_t owner = geteuid();
	char why[512];

	stage = add_key("keyring", KR_STAGING, NULL, 0, KEY_SPEC_THREAD_KEYRING);
	if (stage < 0)
		return fail(err, errlen, errno, owner,
			    "cannot create a staging keyring for %s in the thread keyring", desc);
	item = add_key(type, desc, payload, plen, stage);
	if (item < 0) {
		fail(err, errlen, errno, owner, "cannot add %s %s", type, desc);
		goto out;
	}
	if (keyctl_setperm(item, KR_PERM) < 0) {
		fail(err, errlen, errno, owner, "cannot set permissions %08x on %s %d", KR_PERM,
		     desc, item);
		goto revoke;
	}
	if (timeout > 0 && keyctl_set_timeout(item, timeout) < 0) {
		fail(err, errlen, errno, owner, "cannot set a timeout of %u s on %s %d", timeout,
		     desc, item);
		goto revoke;
	}
	if (keyctl_link(item, dest) < 0) {
		fail(err, errlen, errno, owner, "cannot link %s %d into keyring %d", desc, item,
		     dest);
		goto revoke;
	}
	ret = item;
	goto out;
revoke:
	if (keyctl_revoke(item) < 0 && !gone(errno)) {
		size_t used = err != NULL ? strnlen(err, errlen) : 0;

		reason(errno, owner, why, sizeof(why));
		if (err != NULL && used < errlen)
			snprintf(err + used, errlen - used,
				 "; revoking the new key %d failed too: %s", item, why);
	}
out:
	/* drop the staging keyring; its link to item goes with it */
	(void)keyctl_clear(stage);
	(void)keyctl_unlink(stage, KEY_SPEC_THREAD_KEYRING);
	return ret;
}

/* kr_session_keyring_ensure. */
static int32_t session_keyring(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	key_serial_t s, us;
	bool join = false, uid_switched = false, gid_switched = false;
	struct kdesc d;
	int32_t ret = -1;

	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0)
		return pa_err(err, errlen, "cannot read the ids of this process: %s",
			      strerror(errno));

	/*
	 * Without a session keyring the kernel answers with the user-session
	 * keyring (as pam_keyinit relies on); a revoked or expired one is
	 * replaced too.
	 */
	s = keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0);
	if (s < 0) {
		if (!gone(errno))
			return fail(err, errlen, errno, ru, "cannot look up the session keyring");
		join = true;
	}

	/* the real ids decide the owner of the new keyring and which
	 * user-session keyring is uid's; the effective ids stay */
	if (gid != rg) {
		if (setresgid(gid, (gid_t)-1, (gid_t)-1) != 0) {
			pa_err(err, errlen,
			       "cannot switch the real gid to %lu to make a session keyring: %s",
			       (unsigned long)gid, strerror(errno));
			goto restore;
		}
		gid_switched = true;
	}
	if (uid != ru) {
		if (setresuid(uid, (uid_t)-1, (uid_t)-1) != 0) {
			pa_err(err, errlen,
			       "cannot switch the real uid to %lu to make a session keyring: %s",
			       (unsigned long)uid, strerror(errno));
			goto restore;
		}
		uid_switched = true;
	}
	if (!join) {
		us = keyctl_get_keyring_ID(KEY_SPEC_USER_SESSION_KEYRING, 0);
		if (us < 0) {
			fail(err, errlen, errno, uid,
			     "cannot look up the user-session keyring of uid %lu",
			     (unsigned long)uid);
			goto restore;
		}
		/*
		 * uid's user-session keyring, or one that uid does not own: the
		 * session of root's login or of a daemon, or the user-session
		 * keyring of the caller's uid. Make one of uid's own.
		 */
		if (s == us || describe_key(s, &d) != 0 || d.uid != uid)
			join = true;
	}
	if (join) {
		s = keyctl_join_session_keyring(NULL);
		if (s < 0) {
			fail(err, errlen, errno, uid, "cannot create a session keyring for uid %lu",
			     (unsigned long)uid);
			goto restore;
		}
		/*
		 * Unlike pam_keyinit, the user keyring (@u) is NOT linked in:
		 * any process of uid can write to @u, so a key planted there as
		 * "pam_agent:NAME" would be found by a search of the session
		 * keyring next to the real one. @u stays reachable by its id.
		 */
	}
	ret = s;
restore:
	if (uid_switched && setresuid(ru, eu, su) != 0) {
		ret = pa_err(err, errlen, "cannot switch the real uid back to %lu: %s",
			     (unsigned long)ru, strerror(errno));
	}
	if (gid_switched && setresgid(rg, eg, sg) != 0) {
		ret = pa_err(err, errlen, "cannot switch the real gid back to %lu: %s",
			     (unsigned long)rg, strerror(errno));
	}
	return ret;
}

int32_t kr_session_keyring_ensure(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	return session_keyring(uid, gid, err, errlen);
}

/*
 * The session keyring of an agent session (docs/sessions.md, "The session
 * keyring"): a new anonymous keyring owned by the effective ids of the
 * caller, root (0:0) in production, as the per-session keyring and the
 * keys are: charged to that uid's key quota, never the user's, and no
 * process of the user can change its permissions. Possessors may view,
 * read, write and search it (the module links the per-session keyring in;
 * the agent reads its keys); nobody may link it elsewhere (`keyctl link @s
 * @u` fails) or set its attributes. The kernel makes the keyring owned by
 * the *real* ids, so they are switched to the effective ones for the join
 * (always allowed) and restored on every path.
 */
int32_t kr_session_keyring_new(char *err, size_t errlen)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	bool uid_switched = false, gid_switched = false;
	key_serial_t s;
	int32_t ret = -1;

	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0)
		return pa_err(err, errlen, "cannot read the ids of this process: %s",
			      strerror(errno));
	if (rg != eg) {
		if (setresgid(eg, (gid_t)-1, (gid_t)-1) != 0) {
			pa_err(err, errlen,
			       "cannot switch the real gid to %lu to make a session keyring: %s",
			       (unsigned long)eg, strerror(errno));
			goto restore;
		}
		gid_switched = true;
	}
	if (ru != eu) {
		if (setresuid(eu, (uid_t)-1, (uid_t)-1) != 0) {
			pa_err(err, errlen,
			       "cannot switch the real uid to %lu to make a session keyring: %s",
			       (unsigned long)eu, strerror(errno));
			goto restore;
		}
		uid_switched = true;
	}
	s = keyctl_join_session_keyring(NULL);
	if (s < 0) {
		fail(err, errlen, errno, eu, "cannot create a new session keyring");
		goto restore;
	}
	/*
	 * Until this setperm the new keyring has the kernel's default
	 * permissions (possessor all; owner view/read/link): only this
	 * thread possesses it, and only processes of the owner (root in
	 * production) could see it.
	 */
	if (keyctl_setperm(s, KR_SESSION_PERM) < 0) {
		fail(err, errlen, errno, eu,
		     "cannot set permissions %08x on the new session keyring %d", KR_SESSION_PERM,
		     s);
		/* nothing may use it with the default permissions */
		(void)keyctl_revoke(s);
		goto restore;
	}
	ret = s;
restore:
	if (uid_switched && setresuid(ru, eu, su) != 0)
		ret = pa_err(err, errlen, "cannot switch the real uid back to %lu: %s",
			     (unsigned long)ru, strerror(errno));
	if (gid_switched && setresgid(rg, eg, sg) != 0)
		ret = pa_err(err, errlen, "cannot switch the real gid back to %lu: %s",
			     (unsigned long)rg, strerror(errno));
	return ret;
}

int32_t kr_session_create(const char *sid, int64_t timeout, char *err, size_t errlen)
{
	char desc[KR_DESC_MAX], esc[PA_ESCAPE_MAX];
	key_serial_t s, us, old;

	if (!valid_sid(sid))
		return pa_err(err, errlen,
			      "invalid session id \"%s\": must be 1 to %d hexadecimal digits",
			      show(sid, esc, sizeof(esc)), KR_SID_MAX);
	if (timeout < 0 || timeout > (int64_t)UINT_MAX)
		return pa_err(err, errlen, "invalid timeout %lld s for the keyring of session %s",
			      (long long)timeout, sid);
	snprintf(desc, sizeof(desc), KR_PREFIX "%s", sid);

	s = keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0);
	if (s < 0)
		return fail(err, errlen, errno, getuid(), "cannot look up the session keyring");
	us = keyctl_get_keyring_ID(KEY_SPEC_USER_SESSION_KEYRING, 0);
	if (us < 0)
		return fail(err, errlen, errno, getuid(),
			    "cannot look up the user-session keyring");
	if (s == us)
		return pa_err(err, errlen,
			      "the session keyring is the user-session keyring of uid %lu, shared "
			      "by all its processes: refusing to place %s there "
			      "(kr_session_keyring_ensure makes one of its own)",
			      (unsigned long)getuid(), desc);
	old = find_direct(KEY_SPEC_SESSION_KEYRING, "keyring", desc, NULL);
	if (old < 0)
		return fail(err, errlen, errno, geteuid(), "cannot read the session keyring %d", s);
	if (old > 0)
		return pa_err(err, errlen,
			      "keyring %s already exists in the session keyring (serial %d): "
			      "refusing to replace it",
			      desc, old);
	return place("keyring", desc, NULL, 0, KEY_SPEC_SESSION_KEYRING, (unsigned)timeout, err,
		     errlen);
}

int32_t kr_key_add(int32_t ring, const char *name, const void *secret, size_t len, int64_t timeout,
		   char *err, size_t errlen)
{
	return kr_key_add_seen(NULL, ring, name, secret, len, timeout, err, errlen);
}

int32_t kr_key_add_seen(struct kr_seen *seen, int32_t ring, const char *name, const void *secret,
			size_t len, int64_t timeout, char *err, size_t errlen)
{
	char desc[KR_DESC_MAX], esc[PA_ESCAPE_MAX];
	key_serial_t old, item;

	if (!valid_name(name))
		return pa_err(err, errlen,
			      "invalid credential name \"%s\": must be 1 to %d characters of "
			      "A-Z a-z 0-9 . _ -",
			      show(name, esc, sizeof(esc)), KR_NAME_MAX);
	if (ring <= 0)
		return pa_err(err, errlen, "invalid keyring serial %d for %s%s", ring, KR_PREFIX,
			      name);
	if (timeout <= 0 || timeout > (int64_t)UINT_MAX)
		return pa_err(err, errlen,
			      "invalid timeout %lld s for %s%s: every key needs a timeout of 1 to "
			      "%u s",
			      (long long)timeout, KR_PREFIX, name, UINT_MAX);
	if (secret == NULL || len == 0 || len > KR_USER_PAYLOAD_MAX)
		return pa_err(
		    err, errlen, "invalid secret for %s%s: %zu bytes, a \"user\" key holds 1 to %d",
		    KR_PREFIX, name, secret == NULL ? (size_t)0 : len, KR_USER_PAYLOAD_MAX);
	snprintf(desc, sizeof(desc), KR_PREFIX "%s", name);

	old = find_direct(ring, "user", desc, seen);
	if (old < 0)
		return fail(err, errlen, errno, geteuid(), "cannot read keyring %d", ring);
	if (old > 0)
		return pa_err(err, errlen,
			      "key %s already exists in keyring %d (serial %d): refusing to "
			      "replace it",
			      desc, ring, old);
	item = place("user", desc, secret, len, ring, (unsigned)timeout, err, errlen);
	if (item > 0)
		kr_seen_note(seen, item, "user", desc);
	return item;
}

int kr_revoke(int32_t serial, char *err, size_t errlen)
{
	if (serial <= 0)
		return pa_err(err, errlen, "invalid key serial %d", serial);
	if (keyctl_revoke(serial) < 0 && !gone(errno))
		return fail(err, errlen, errno, geteuid(), "cannot revoke key %d", serial);
	return 0;
}

int kr_session_revoke(int32_t ring, char *err, size_t errlen)
{
	key_serial_t *ids = NULL;
	size_t i, n, failed = 0, used = 0;
	char why[512], list[768];

	if (ring <= 0)
		return pa_err(err, errlen, "invalid keyring serial %d", ring);
	if (read_ring(ring, &ids, &n) != 0) {
		/* revoked already: the kernel emptied it then */
		if (gone(errno))
			return 0;
		return fail(err, errlen, errno, geteuid(), "cannot read keyring %d", ring);
	}
	list[0] = '\0';
	for (i = 0; i < n; i++) {
		if (keyctl_revoke(ids[i]) == 0 || gone(errno))
			continue;
		reason(errno, geteuid(), why, sizeof(why));
		failed++;
		if (used < sizeof(list)) {
			int w = snprintf(list + used, sizeof(list) - used, "%skey %d: %s",
					 failed > 1 ? "; " : "", ids[i], why);

			used += w > 0 ? (size_t)w : 0;
		}
	}
	free(ids);
	if (keyctl_revoke(ring) < 0 && !gone(errno)) {
		reason(errno, geteuid(), why, sizeof(why));
		if (failed > 0)
			return pa_err(
			    err, errlen,
			    "could not revoke keyring %d (%s) nor %zu of its %zu keys (%s)", ring,
			    why, failed, n, list);
		return pa_err(err, errlen, "could not revoke keyring %d: %s", ring, why);
	}
	if (failed > 0)
		return pa_err(err, errlen, "could not revoke %zu of the %zu keys of keyring %d: %s",
			      failed, n, ring, list);
	return 0;
}

int kr_list(int32_t ring, struct kr_entry *out, size_t max, char *err, size_t errlen)
{
	key_serial_t *ids = NULL;
	size_t i, n, prefix = strlen(KR_PREFIX);
	struct kdesc d;
	int found = 0;

	if (ring <= 0)
		return pa_err(err, errlen, "invalid keyring serial %d", ring);
	if (read_ring(ring, &ids, &n) != 0)
		return fail(err, errlen, errno, geteuid(), "cannot read keyring %d", ring);
	for (i = 0; i < n; i++) {
		const char *name;

		if (describe_key(ids[i], &d) != 0) {
			if (gone(errno))
				continue; /* revoked or expired: no longer a credential */
			found = fail(err, errlen, errno, geteuid(),
				     "cannot describe key %d in keyring %d", ids[i], ring);
			break;
		}
		name = d.desc + prefix;
		/* only what the engine places: "user" keys "pam_agent:<name>" */
		if (strcmp(d.type, "user") != 0 || !d.desc_whole ||
		    strncmp(d.desc, KR_PREFIX, prefix) != 0 || !valid_name(name))
			continue;
		if ((size_t)found < max) {
			out[found].serial = ids[i];
			size_t nlen = strlen(name); /* <= KR_NAME_MAX: valid_name */

			memcpy(out[found].name, name, nlen + 1);
			out[found].uid = d.uid;
			out[found].gid = d.gid;
			out[found].perm = d.perm;
		}
		if (found == INT_MAX)
			break;
		found++;
	}
	free(ids);
	return found;
}

int32_t kr_session_find(const char *sid, char *err, size_t errlen)
{
	char desc[KR_DESC_MAX], esc[PA_ESCAPE_MAX];
	key_serial_t id;

	if (!valid_sid(sid))
		return pa_err(err, errlen,
			      "invalid session id \"%s\": must be 1 to %d hexadecimal digits",
			      show(sid, esc, sizeof(esc)), KR_SID_MAX);
	snprintf(desc, sizeof(desc), KR_PREFIX "%s", sid);
	/* libkeyutils returns long; the kernel's key serials are int32_t */
	id = (key_serial_t)keyctl_search(KEY_SPEC_SESSION_KEYRING, "keyring", desc, 0);
	if (id < 0) {
		if (gone(errno))
			return 0;
		return fail(err, errlen, errno, geteuid(),
			    "cannot search the session keyring for %s", desc);
	}
	return id;
}
