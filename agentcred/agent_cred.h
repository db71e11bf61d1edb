/*
 * agent_cred.h - libagentcred: read the just-in-time credentials that
 * pam_agent placed in the kernel keyring of the caller's PAM session.
 *
 * Link with `pkg-config --cflags --libs agentcred`.
 */
#ifndef AGENT_CRED_H
#define AGENT_CRED_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Errors: agent_cred_get returns 0 or one of these (negative). */
#define AGENT_CRED_ENOTFOUND -1 /* no such credential in this session */
#define AGENT_CRED_EEXPIRED -2	/* it expired */
#define AGENT_CRED_EREVOKED -3	/* it was revoked (the session closed) */
#define AGENT_CRED_EACCES -4	/* not readable from this process */
#define AGENT_CRED_ENOSYS -5	/* kernel keyrings unavailable */
#define AGENT_CRED_ENOMEM -6
#define AGENT_CRED_EINVAL -7	/* bad name or arguments */

/*
 * Reads the credential of grant `name` (the key "pam_agent:<name>")
 * through the caller's session keyring. On success *secret is a
 * NUL-terminated heap buffer of *len bytes (plus the NUL) that the caller
 * releases with agent_cred_free(). Returns 0 or an AGENT_CRED_E* code.
 */
int agent_cred_get(const char *name, char **secret, size_t *len);

/* Wipes and frees a buffer from agent_cred_get. NULL is fine. */
void agent_cred_free(char *secret, size_t len);

/* A short English description of an AGENT_CRED_E* code. */
const char *agent_cred_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif /* AGENT_CRED_H */
