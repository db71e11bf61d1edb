/*
 * keyset.c - SPIFFE trust bundles and OIDC JWKS documents: the only place
 * verification keys come from.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "identity.h"
#include "pa_json.h"
#include "util.h"

struct id_keyset {
	enum id_keyset_kind kind;
	struct id_key **keys;
	size_t n_keys;
};

/* Frees a key set and its keys. NULL is fine. */
void id_keyset_free(struct id_keyset *set)
{
	size_t i;

	if (set == NULL)
		return;
	for (i = 0; i < set->n_keys; i++)
		id_key_free(set->keys[i]);
	free(set->keys);
	free(set);
}

/* Number of usable keys in set. */
size_t id_keyset_count(const struct id_keyset *set)
{
	return set != NULL ? set->n_keys : 0;
}

/* The key whose kid is exactly kid, or NULL. */
const struct id_key *id_keyset_find(const struct id_keyset *set,
				    const char *kid)
{
	size_t i;

	if (set == NULL || kid == NULL)
		return NULL;
	for (i = 0; i < set->n_keys; i++) {
		const char *k = id_key_kid(set->keys[i]);

		if (k != NULL && strcmp(k, kid) == 0)
			return set->keys[i];
	}
	return NULL;
}

/*
 * Decides whether the JWK at index i is loaded (1), skipped (0) or makes
 * the whole document unacceptable (-1), from its "use" member and kind.
 */
static int keyset_wants(const json_t *jwk, size_t i, enum id_keyset_kind kind,
			char *err, size_t errlen)
{
	const json_t *usev = json_object_get(jwk, "use");
	const char *use;
	char esc[PA_ESCAPE_MAX];

	if (usev != NULL && !json_is_string(usev))
		return pa_err(err, errlen, "key %zu: \"use\" is not a string", i);
	use = json_string_value(usev);
	if (kind == ID_KEYSET_SPIFFE) {
		if (use == NULL)
			return pa_err(err, errlen, "key %zu: SPIFFE bundle key without \"use\"", i);
		if (strcmp(use, "jwt-svid") == 0)
			return 1;
		if (strcmp(use, "x509-svid") == 0)
			return 0;
		return pa_err(err, errlen, "key %zu: \"use\" \"%s\" is not jwt-svid or x509-svid",
			      i, pa_escape(use, strlen(use), esc, sizeof(esc)));
	}
	if (use == NULL || strcmp(use, "sig") == 0)
		return 1;
	if (strcmp(use, "enc") == 0)
		return 0;
	return pa_err(err, errlen, "key %zu: \"use\" \"%s\" is not sig or enc",
		      i, pa_escape(use, strlen(use), esc, sizeof(esc)));
}

/* Checks the SPIFFE bundle members next to "keys" that have a type. */
static int keyset_check_spiffe_members(const json_t *doc, char *err, size_t errlen)
{
	static const char *const ints[] = { "spiffe_refresh_hint", "spiffe_sequence" };
	size_t i;

	for (i = 0; i < PA_ARRAY_SIZE(ints); i++) {
		const json_t *v = json_object_get(doc, ints[i]);

		if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 0))
			return pa_err(err, errlen, "\"%s\" is not a non-negative integer", ints[i]);
	}
	return 0;
}

/* Parses a JWKS document into a key set (see identity.h). */
struct id_keyset *id_keyset_parse(const char *json, size_t len,
				  enum id_keyset_kind kind,
				  char *err, size_t errlen)
{
	struct id_keyset *set = NULL;
	json_t *doc = NULL, *keys, *jwk;
	json_error_t jerr;
	char kerr[256], esc[PA_ESCAPE_MAX];
	size_t i;

	if (json == NULL) {
		pa_err(err, errlen, "no key set document");
		return NULL;
	}
	/* duplicates refused; the default EOF check refuses trailing bytes */
	doc = pa_json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL) {
		pa_err(err, errlen, "not valid JSON at line %d column %d: %s",
		       jerr.line, jerr.column,
		       pa_escape(jerr.text, strlen(jerr.text), esc, sizeof(esc)));
		goto fail;
	}
	if (!json_is_object(doc)) {
		pa_err(err, errlen, "key set is not a JSON object");
		goto fail;
	}
	if (kind == ID_KEYSET_SPIFFE && keyset_check_spiffe_members(doc, err, errlen) != 0)
		goto fail;
	keys = json_object_get(doc, "keys");
	if (!json_is_array(keys)) {
		pa_err(err, errlen, "key set has no \"keys\" array");
		goto fail;
	}
	set = calloc(1, sizeof(*set));
	if (set == NULL ||
	    (set->keys = calloc(json_array_size(keys) + 1, sizeof(*set->keys))) == NULL) {
		pa_err(err, errlen, "out of memory");
		goto fail;
	}
	set->kind = kind;
	json_array_foreach(keys, i, jwk) {
		struct id_key *key;
		const json_t *kidv;
		int want;

		if (!json_is_object(jwk)) {
			pa_err(err, errlen, "key %zu is not a JSON object", i);
			goto fail;
		}
		want = keyset_wants(jwk, i, kind, err, errlen);
		if (want < 0)
			goto fail;
		if (want == 0)
			continue;
		kidv = json_object_get(jwk, "kid");
		if (!json_is_string(kidv) || json_string_length(kidv) == 0) {
			pa_err(err, errlen, "key %zu has no \"kid\" string", i);
			goto fail;
		}
		if (id_keyset_find(set, json_string_value(kidv)) != NULL) {
			pa_err(err, errlen, "duplicate kid \"%s\"",
			       pa_escape(json_string_value(kidv), json_string_length(kidv),
					 esc, sizeof(esc)));
			goto fail;
		}
		key = id_key_from_jwk(jwk, kerr, sizeof(kerr));
		if (key == NULL) {
			pa_err(err, errlen, "key \"%s\": %s",
			       pa_escape(json_string_value(kidv), json_string_length(kidv),
					 esc, sizeof(esc)), kerr);
			goto fail;
		}
		set->keys[set->n_keys++] = key;
	}
	if (set->n_keys == 0) {
		pa_err(err, errlen, "key set has no usable %s key",
		       kind == ID_KEYSET_SPIFFE ? "jwt-svid" : "signature");
		goto fail;
	}
	json_decref(doc);
	return set;
fail:
	id_keyset_free(set);
	json_decref(doc);
	return NULL;
}

/*
 * Reads path (owned by root or the effective uid, not group/world-writable, at
 * most ID_BUNDLE_MAX bytes, no symlink) and parses it as a key set.
 */
struct id_keyset *id_keyset_load(const char *path, enum id_keyset_kind kind,
				 char *err, size_t errlen)
{
	struct pa_file_rules rules = {
		.owner = geteuid(),
		.or_root = true,
		.forbid_mode = 022,
		.max_size = ID_BUNDLE_MAX,
	};
	struct id_keyset *set = NULL;
	char *buf = NULL, perr[512];
	size_t len = 0;

	if (path == NULL) {
		pa_err(err, errlen, "no key set path");
		return NULL;
	}
	if (pa_read_file_safely(path, &rules, &buf, &len, err, errlen) != 0)
		return NULL;
	set = id_keyset_parse(buf, len, kind, perr, sizeof(perr));
	if (set == NULL)
		pa_err(err, errlen, "%s: %s", path, perr);
	free(buf);
	return set;
}
