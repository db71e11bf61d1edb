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

/* ---- JSON ----------------------------------------------------------------------------------- */

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
