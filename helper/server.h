/*
 * server.h - the request handling of pam_agent_helper, as a library the
 * program and the tests link (helper/server.c; docs/helper.md).
 */
#ifndef PA_HELPER_SERVER_H
#define PA_HELPER_SERVER_H

#include <stdint.h>
#include <stddef.h>

#include <jansson.h>

struct id_signer;

/*
 * The reply to one request (an object with "op" "open" or "close"): never
 * NULL but when out of memory. Open places keys in the session keyring
 * named by the request and asks brokers; close revokes.
 */
json_t *hs_serve(const json_t *req);

/* {"ok":false,"error":why,"grant":grant|null}, or NULL when out of memory. */
json_t *hs_fail_reply(const char *why, const char *grant);

/*
 * A broker key loaded before the request came (pam_agent_helperd, in its
 * parent): an open whose request names key_path as "broker" "key" signs
 * with signer instead of loading the file, and writes no JWKS when the
 * request's "jwks" is jwks_path (published when the key was loaded) or
 * null. signer stays the caller's; NULL forgets it.
 */
void hs_set_broker_key(const char *key_path, const char *jwks_path,
		       const struct id_signer *signer);

/* ---- the process around one request (helper/process.c) -------------------- */

/* jansson's free for a serving process: every block wiped before it is freed. */
void hs_wipe_free(void *ptr);

/*
 * The serving process leaves the caller's working directory and session
 * keyring: "/" and a new anonymous session keyring of its own (keys are
 * placed and revoked by the serials of the request). 0, or -1 with why.
 */
int hs_isolate(char *why, size_t whylen);

/*
 * Reads fd to EOF (at most max bytes, until deadline in monotonic ms; < 0:
 * none) into a NUL-terminated heap buffer, or NULL with err.
 */
char *hs_read_request(int fd, size_t max, int64_t deadline, size_t *len, char *err,
		      size_t errlen);

/* The reply to the request text (a JSON object, duplicates refused): hs_serve. */
json_t *hs_serve_text(const char *text, size_t len);

/* Writes the reply and a newline to fd (a pipe or a socket). 0 or -1. */
int hs_write_reply(int fd, const json_t *reply);

#endif /* PA_HELPER_SERVER_H */
