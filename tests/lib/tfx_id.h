/*
 * tfx_id.h - identities, signers, JWKS and tokens for the tests, made
 * with the identity engine (identity/): hand-made verified identities,
 * key sets of a signer written as files, tokens signed by it; and the
 * JSON documents and lines the tests write and read.
 */
#ifndef PA_TFX_ID_H
#define PA_TFX_ID_H

#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "identity.h"

/*
 * A hand-made verified identity (what the identity engine would return):
 * agent_id as agent and subject, SPIFFE when it starts with spiffe://,
 * else OIDC; iat and exp. Free it with id_identity_free.
 */
struct id_identity *tfx_id_new(const char *agent_id, int64_t iat, int64_t exp);

/* Replaces a string field of an identity with a copy of v (NULL: none). */
void tfx_id_set(char **field, const char *v);

/* Replaces the act claim of id with the JSON text json (any JSON value). */
void tfx_id_set_act(struct id_identity *id, const char *json);

/* ---- signers ----------------------------------------------------------------------------- */

/* A JWKS of the public key of s: {"keys":[JWK]} with "use" unless use is NULL. */
json_t *tfx_jwks(const struct id_signer *s, const char *use);

/* A JWT of claims (consumed) signed by s; free it with pa_free_secret. */
char *tfx_sign(const struct id_signer *s, json_t *claims);

/* ---- JSON -------------------------------------------------------------------------------- */

/*
 * Checks that every line of text ends with a newline and is a JSON object
 * (no duplicate names) that has member. Returns the number of lines.
 */
size_t tfx_json_lines(const char *text, const char *member);

/* Writes doc (consumed) as compact JSON to path with exactly mode (tfx_write). */
void tfx_write_json(const char *path, json_t *doc, mode_t mode);

#endif
