/*
 * agent_cred.c - libagentcred (see include/agent_cred.h): reads the
 * credentials pam_agent placed in the kernel keyring of the caller's PAM
 * session.
 *
 * This library is installed and stands alone: it links libkeyutils only
 * (not the internal libpa_common) and exports agent_cred_* only.
 *
 * The lookup is a plain search of the session keyring (no request_key, so
 * no upcall to /sbin/request-key can ever be triggered): the key
 * "pam_agent:<name>" is found through the per-session keyring that the
 * caller possesses as a member of the session.
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

int agent_cred_get(const char *name, char **secret, size_t *len)
{
	char desc[sizeof(AC_PREFIX) + AC_NAME_MAX];
	key_serial_t id;
	long size, n;
	char *buf;
	int tries;

	if (secret == NULL || len == NULL)
		return AGENT_CRED_EINVAL;
	*secret = NULL;
	*len = 0;
	if (!valid_name(name))
		return AGENT_CRED_EINVAL;
	snprintf(desc, sizeof(desc), AC_PREFIX "%s", name);

	/* libkeyutils returns long; the kernel's key serials are int32_t */
	id = (key_serial_t)keyctl_search(KEY_SPEC_SESSION_KEYRING, "user", desc, 0);
	if (id < 0)
		return map_errno(errno);
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
