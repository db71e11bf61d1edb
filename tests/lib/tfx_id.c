/*
 * tfx_id.c - see tfx_id.h.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tfx.h"
#include "tfx_id.h"

/* ---- identities -------------------------------------------------------------------------- */

struct id_identity *tfx_id_new(const char *agent_id, int64_t iat, int64_t exp)
{
	struct id_identity *id = calloc(1, sizeof(*id));

	assert_non_null(id);
	id->kind = strncmp(agent_id, "spiffe://", 9) == 0 ? ID_KIND_SPIFFE : ID_KIND_OIDC;
	id->agent_id = strdup(agent_id);
	id->subject = strdup(agent_id);
	assert_non_null(id->agent_id);
	assert_non_null(id->subject);
	id->iat = iat;
	id->exp = exp;
	return id;
}

void tfx_id_set(char **field, const char *v)
{
	free(*field);
	*field = v ? strdup(v) : NULL;
	if (v != NULL)
		assert_non_null(*field);
}

void tfx_id_set_act(struct id_identity *id, const char *json)
{
	json_error_t jerr;

	json_decref(id->act);
	id->act = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (id->act == NULL)
		fail_msg("act %s: %s", json, jerr.text);
}

/* ---- signers ----------------------------------------------------------------------------- */

json_t *tfx_jwks(const struct id_signer *s, const char *use)
{
	json_t *doc = json_pack("{s:[o]}", "keys", id_signer_public_jwk(s, use));

	assert_non_null(doc);
	return doc;
}

char *tfx_sign(const struct id_signer *s, json_t *claims)
{
	char err[512];
	char *tok;

	assert_non_null(claims);
	tok = id_sign_jwt(s, claims, err, sizeof(err));
	if (tok == NULL)
		fail_msg("id_sign_jwt: %s", err);
	json_decref(claims);
	return tok;
}

/* ---- JSON -------------------------------------------------------------------------------- */

size_t tfx_json_lines(const char *text, const char *member)
{
	const char *p = text;
	size_t n = 0;

	while (*p) {
		const char *nl = strchr(p, '\n');
		json_error_t jerr;
		json_t *o;

		if (nl == NULL)
			fail_msg("line %zu does not end with a newline", n + 1);
		o = json_loadb(p, (size_t)(nl - p), JSON_REJECT_DUPLICATES, &jerr);
		if (o == NULL)
			fail_msg("line %zu is not JSON: %s", n + 1, jerr.text);
		assert_true(json_is_object(o));
		if (json_object_get(o, member) == NULL)
			fail_msg("line %zu has no \"%s\"", n + 1, member);
		json_decref(o);
		p = nl + 1;
		n++;
	}
	return n;
}

void tfx_write_json(const char *path, json_t *doc, mode_t mode)
{
	char *text;

	assert_non_null(doc);
	text = json_dumps(doc, JSON_COMPACT);
	assert_non_null(text);
	tfx_write(path, text, mode);
	free(text);
	json_decref(doc);
}
