/*
 * server.h - the request handling of pam_agent_helper, as a library the
 * program and the tests link (helper/server.c; docs/helper.md).
 */
#ifndef PA_HELPER_SERVER_H
#define PA_HELPER_SERVER_H

#include <jansson.h>

/*
 * The reply to one request (an object with "op" "open" or "close"): never
 * NULL but when out of memory. Open places keys in the session keyring
 * named by the request and asks brokers; close revokes.
 */
json_t *hs_serve(const json_t *req);

/* {"ok":false,"error":why,"grant":grant|null}, or NULL when out of memory. */
json_t *hs_fail_reply(const char *why, const char *grant);

#endif /* PA_HELPER_SERVER_H */
