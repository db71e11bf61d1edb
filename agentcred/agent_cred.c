/*
 * agent_cred.c - libagentcred (see agentcred/agent_cred.h): reads the
 * credentials pam_agent placed in the kernel keyring of the caller's PAM
 * session.
 *
 * This library is installed and stands alone: it links libkeyutils only
 * (not the internal libpa_common) and exports agent_cred_* only.
 *
 * The lookup never calls request_key (so no upcall to /sbin/request-key
 * can ever be triggered): the key "pam_agent:<name>" is searched for in
 * the per-session keyrings "pam_agent:<sid>" linked in the caller's
 * session keyring, and only in those owned by root; the key found must be
 * a "user" key owned by root with exactly that description. Nothing else
 * a process of the session may have linked into its session keyring (it
 * has write permission there) is ever taken for a credential.
 *
 * After close the module has revoked the per-session keyring (the kernel
 * empties it); while the revoked keyring is still linked in the session
 * keyring (until the kernel's key garbage collector drops it,
 * kernel.keys.gc_delay seconds, 300 by default) a lookup answers
 * AGENT_CRED_EREVOKED, not AGENT_CRED_ENOTFOUND.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keyutils.h>

#include "agent_cred.h"

/* Kept in step with KR_PREFIX and KR_NAME_MAX of the keyring engine. */
#define AC_PREFIX   "pam_agent:"
#define AC_NAME_MAX 64
/* A key that keeps growing between two reads is given up on after this. */
#define AC_READ_TRIES 8
/* The owner of everything pam_agent places (the module and helper run as root). */
#define AC_OWNER 0

static bool valid_name(const char *name)
{
	size_t i;

	if (name == NULL || name[0] == '\0')
		return false;
	for (i = 0; name[i] != '\0'; i++) {
		char c = name[i];

		if (i >= AC_NAME_MAX)
			return false;
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* The AGENT_CRED_E* code for errno e of a keyctl call. */
static int map_errno(int e)
{
	switch (e) {
	case ENOKEY:
		return AGENT_CRED_ENOTFOUND;
	case EKEYEXPIRED:
		return AGENT_CRED_EEXPIRED;
	case EKEYREVOKED:
		return AGENT_CRED_EREVOKED;
	case ENOSYS:
	case EPERM: /* a seccomp filter blocking keyctl: keyrings unavailable */
		return AGENT_CRED_ENOSYS;
	case ENOMEM:
		return AGENT_CRED_ENOMEM;
	case EACCES:
	default:
		return AGENT_CRED_EACCES;
	}
}

static void wipe_free(char *buf, size_t len)
{
	if (buf == NULL)
		return;
	explicit_bzero(buf, len);
	free(buf);
}

/* What keyctl_describe says about id: type, owner and description. */
struct ac_desc {
	char type[16];
	long uid;
	char desc[sizeof(AC_PREFIX) + 80];
};

/* Returns 0, or -1 with errno (EKEYREVOKED etc. from the kernel). */
static int describe(key_serial_t id, struct ac_desc *d)
{
	char buf[sizeof(d->type) + sizeof(d->desc) + 64];
	long n = keyctl_describe(id, buf, sizeof(buf));
	unsigned long perm;
	long gid;
	int used = 0;

	if (n < 0)
		return -1;
	if (n > (long)sizeof(buf)) { /* cut: a description too long to be ours */
		d->type[0] = '\0';
		d->desc[0] = '\0';
		d->uid = -1;
		return 0;
	}
	if (sscanf(buf, "%15[^;];%ld;%ld;%lx;%n", d->type, &d->uid, &gid, &perm, &used) != 4 ||
	    used <= 0) {
		errno = EBADMSG;
		return -1;
	}
	snprintf(d->desc, sizeof(d->desc), "%s", buf + used);
	return 0;
}

/* True when the description is "pam_agent:" + 1 to 64 hex digits. */
static bool session_ring_desc(const char *desc)
{
	size_t i, n;

	if (strncmp(desc, AC_PREFIX, sizeof(AC_PREFIX) - 1) != 0)
		return false;
	desc += sizeof(AC_PREFIX) - 1;
	n = strlen(desc);
	if (n == 0 || n > 64)
		return false;
	for (i = 0; i < n; i++)
		if (!((desc[i] >= '0' && desc[i] <= '9') || (desc[i] >= 'a' && desc[i] <= 'f') ||
		      (desc[i] >= 'A' && desc[i] <= 'F')))
			return false;
	return true;
}

/*
 * Finds the credential desc: 0 and *out, or an AGENT_CRED_E* code. Reads
 * the session keyring's direct links: every live root-owned keyring
 * "pam_agent:<sid>" is searched for a "user" key desc, which must be
 * root-owned too. When none has it: EXPIRED/REVOKED when a search met
 * the key expired or revoked, or when there is no live per-session
 * keyring but a dead entry (the session's keyring, revoked at close, or
 * expired); else NOTFOUND.
 */
static int find_cred(const char *desc, key_serial_t *out)
{
	void *buf = NULL;
	key_serial_t *ids;
	struct ac_desc d;
	long n, i;
	bool live_ring = false;
	int dead = 0, found_dead = 0, code = AGENT_CRED_ENOTFOUND, code_errno = 0;

	n = keyctl_read_alloc(KEY_SPEC_SESSION_KEYRING, &buf);
	if (n < 0)
		return map_errno(errno);
	ids = buf;
	for (i = 0; i < n / (long)sizeof(key_serial_t); i++) {
		key_serial_t k;

		if (describe(ids[i], &d) != 0) {
			if (errno == EKEYREVOKED || errno == EKEYEXPIRED)
				dead = dead != 0 ? dead : map_errno(errno);
			continue;
		}
		if (strcmp(d.type, "keyring") != 0 || d.uid != AC_OWNER ||
		    !session_ring_desc(d.desc))
			continue;
		live_ring = true;
		k = (key_serial_t)keyctl_search(ids[i], "user", desc, 0);
		if (k < 0) {
			if (errno == EKEYREVOKED || errno == EKEYEXPIRED) {
				found_dead = map_errno(errno);
			} else if (errno != ENOKEY) {
				code_errno = errno;
				code = map_errno(errno);
			}
			continue;
		}
		if (describe(k, &d) != 0) {
			code_errno = errno;
			code = map_errno(errno);
			continue;
		}
		/* only what pam_agent placed: root's "user" key of that name */
		if (strcmp(d.type, "user") != 0 || d.uid != AC_OWNER || strcmp(d.desc, desc) != 0) {
			code_errno = EACCES;
			code = AGENT_CRED_EACCES;
			continue;
		}
		free(buf);
		*out = k;
		return 0;
	}
	free(buf);
	if (found_dead != 0)
		return found_dead;
	if (code != AGENT_CRED_ENOTFOUND) {
		errno = code_errno; /* the kernel's reason, for the caller */
		return code;
	}
	if (!live_ring && dead != 0)
		return dead;
	return AGENT_CRED_ENOTFOUND;
}

int agent_cred_get(const char *name, char **secret, size_t *len)
{
	char desc[sizeof(AC_PREFIX) + AC_NAME_MAX];
	key_serial_t id = 0;
	long size, n;
	char *buf;
	int tries, rc;

	if (secret == NULL || len == NULL)
		return AGENT_CRED_EINVAL;
	*secret = NULL;
	*len = 0;
	if (!valid_name(name))
		return AGENT_CRED_EINVAL;
	snprintf(desc, sizeof(desc), AC_PREFIX "%s", name);

	rc = find_cred(desc, &id);
	if (rc != 0)
		return rc;
	/*
	 * Not keyctl_read_alloc: when a key changes size between its two
	 * reads it frees a buffer that may hold part of the secret without
	 * wiping it. Here every buffer is wiped before it is freed.
	 */
	size = keyctl_read(id, NULL, 0);
	if (size < 0)
		return map_errno(errno);
	for (tries = 0; tries < AC_READ_TRIES; tries++) {
		buf = malloc((size_t)size + 1);
		if (buf == NULL)
			return AGENT_CRED_ENOMEM;
		n = keyctl_read(id, buf, (size_t)size);
		if (n < 0) {
			int code = map_errno(errno);

			wipe_free(buf, (size_t)size + 1);
			return code;
		}
		if (n <= size) {
			buf[n] = '\0';
			*secret = buf;
			*len = (size_t)n;
			return 0;
		}
		wipe_free(buf, (size_t)size + 1);
		size = n;
	}
	return AGENT_CRED_EACCES;
}

void agent_cred_free(char *secret, size_t len)
{
	if (secret == NULL)
		return;
	/* the buffer is len bytes plus the terminating NUL */
	explicit_bzero(secret, len);
	free(secret);
}

const char *agent_cred_strerror(int code)
{
	switch (code) {
	case 0:
		return "success";
	case AGENT_CRED_ENOTFOUND:
		return "no such credential in this session";
	case AGENT_CRED_EEXPIRED:
		return "the credential expired";
	case AGENT_CRED_EREVOKED:
		return "the credential was revoked (the session closed)";
	case AGENT_CRED_EACCES:
		return "the credential is not readable from this process";
	case AGENT_CRED_ENOSYS:
		return "kernel keyrings are unavailable";
	case AGENT_CRED_ENOMEM:
		return "out of memory";
	case AGENT_CRED_EINVAL:
		return "invalid credential name or arguments";
	default:
		return "unknown agent_cred error";
	}
}
