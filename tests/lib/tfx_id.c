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
