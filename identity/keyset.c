/*
 * keyset.c - SPIFFE trust bundles and OIDC JWKS documents: the only place
 * verification keys come from.
 */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "identity.h"
#include "key_int.h"
#include "pa_json.h"
#include "x509_int.h"
#include "util.h"

/* At most this many ignored elements are described, then a count. */
#define KEYSET_NOTICES_MAX 16

/* An x509-svid element's first "x5c" certificate, not parsed yet. */
struct keyset_der {
	unsigned char *der;
	size_t len;
	size_t index; /* the element's, in "keys" */
};

struct id_keyset {
	enum id_keyset_kind kind;
	struct id_key **keys;
	size_t n_keys;
	struct id_key **wit; /* wit-svid keys (WIT-SVID §6) */
	size_t n_wit;
	size_t n_x509;	/* X.509 authorities (x509-svid elements, or a PEM file) */
	X509_STORE *x509; /* those authorities, NULL while there is none */
	/*
	 * The x509-svid elements' certificates, parsed when first needed
	 * (keyset_x509_build): the first certificate a process parses sets
	 * up OpenSSL's decoders, about 0.8 ms, which verifying a JWT-SVID
	 * never needs (docs/performance.md).
	 */
	struct keyset_der *pending;
	size_t n_pending;
	bool x509_failed; /* out of memory while building: no authority is trusted */
	char **notices; /* one line per ignored element */
	size_t n_notices, n_ignored;
	/* spiffe_sequence, spiffe_refresh_hint (-1: absent); the file's mtime (0: not a file) */
	int64_t sequence, refresh_hint, mtime;
};

/* Frees a key set and its keys. NULL is fine. */
void id_keyset_free(struct id_keyset *set)
{
	size_t i;

	if (set == NULL)
		return;
	for (i = 0; i < set->n_keys; i++)
		id_key_free(set->keys[i]);
	for (i = 0; i < set->n_wit; i++)
		id_key_free(set->wit[i]);
	free(set->wit);
	for (i = 0; i < set->n_notices; i++)
		free(set->notices[i]);
	id_keyset_x509_reset(set);
	free(set->pending);
	free(set->notices);
	free(set->keys);
	free(set);
}

static void keyset_x509_build(const struct id_keyset *set);

/* Number of usable keys in set. */
size_t id_keyset_count(const struct id_keyset *set)
{
	return set != NULL ? set->n_keys : 0;
}

/* Number of X.509 authorities (x509-svid elements, or an x509_authorities file). */
size_t id_keyset_x509_count(const struct id_keyset *set)
{
	keyset_x509_build(set);
	return set != NULL ? set->n_x509 : 0;
}

size_t id_keyset_x509_pending(const struct id_keyset *set)
{
	return set != NULL ? set->n_pending : 0;
}

/* Number of ignored elements, and the description of the i-th (or NULL). */
size_t id_keyset_ignored(const struct id_keyset *set)
{
	keyset_x509_build(set);
	return set != NULL ? set->n_ignored : 0;
}

const char *id_keyset_notice(const struct id_keyset *set, size_t i)
{
	keyset_x509_build(set);
	return set != NULL && i < set->n_notices ? set->notices[i] : NULL;
}

/* spiffe_sequence, spiffe_refresh_hint (-1 when absent), and the file's mtime. */
int64_t id_keyset_sequence(const struct id_keyset *set)
{
	return set != NULL ? set->sequence : -1;
}

int64_t id_keyset_refresh_hint(const struct id_keyset *set)
{
	return set != NULL ? set->refresh_hint : -1;
}

int64_t id_keyset_mtime(const struct id_keyset *set)
{
	return set != NULL ? set->mtime : 0;
}

size_t id_keyset_wit_count(const struct id_keyset *set)
{
	return set != NULL ? set->n_wit : 0;
}

/* The key of keys[0..n) whose kid is exactly kid, or NULL. */
static const struct id_key *find_kid(struct id_key *const *keys, size_t n, const char *kid)
{
	size_t i;

	for (i = 0; kid != NULL && i < n; i++) {
		const char *k = id_key_kid(keys[i]);

		if (k != NULL && strcmp(k, kid) == 0)
			return keys[i];
	}
	return NULL;
}

/* The key whose kid is exactly kid, or NULL. */
const struct id_key *id_keyset_find(const struct id_keyset *set,
				    const char *kid)
{
	return set != NULL ? find_kid(set->keys, set->n_keys, kid) : NULL;
}

const struct id_key *id_keyset_find_wit(const struct id_keyset *set, const char *kid)
{
	return set != NULL ? find_kid(set->wit, set->n_wit, kid) : NULL;
}

/*
 * Records that element i is ignored, and why (a printf format). Returns 0,
 * or -1 with err when out of memory.
 */
static int keyset_ignore(struct id_keyset *set, size_t i, char *err, size_t errlen,
			 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int keyset_ignore(struct id_keyset *set, size_t i, char *err, size_t errlen,
			 const char *fmt, ...)
{
	char why[256], *line = NULL;
	va_list ap;

	set->n_ignored++;
	if (set->n_notices == KEYSET_NOTICES_MAX)
		return 0;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (asprintf(&line, "key %zu ignored: %s", i, why) < 0)
		return pa_err(err, errlen, "out of memory");
	set->notices[set->n_notices++] = line;
	return 0;
}

/* What a key set does with one element, from its "use" (and kind). */
enum keyset_use { USE_SIGN, USE_WIT, USE_X509, USE_SKIP, USE_UNKNOWN };

/*
 * Sorts the element by its "use": a SPIFFE bundle loads jwt-svid and
 * wit-svid keys and keeps x509-svid authorities; every other or missing
 * "use" is unknown
 * (Trust Domain and Bundle §4.2.2). An OIDC JWKS loads keys without "use"
 * or with "sig", skips "enc" keys quietly, and ignores any other "use".
 */
static enum keyset_use keyset_use(const json_t *jwk, enum id_keyset_kind kind,
				  const char **use)
{
	*use = json_string_value(json_object_get(jwk, "use"));
	if (kind == ID_KEYSET_SPIFFE) {
		if (*use == NULL)
			return USE_UNKNOWN;
		if (strcmp(*use, "jwt-svid") == 0)
			return USE_SIGN;
		if (strcmp(*use, "wit-svid") == 0)
			return USE_WIT;
		return strcmp(*use, "x509-svid") == 0 ? USE_X509 : USE_UNKNOWN;
	}
	if (json_object_get(jwk, "use") == NULL || (*use != NULL && strcmp(*use, "sig") == 0))
		return USE_SIGN;
	return *use != NULL && strcmp(*use, "enc") == 0 ? USE_SKIP : USE_UNKNOWN;
}

/* Drops every X.509 authority of set, parsed or not. */
void id_keyset_x509_reset(struct id_keyset *set)
{
	size_t k;

	for (k = 0; k < set->n_pending; k++)
		free(set->pending[k].der);
	set->n_pending = 0;
	set->x509_failed = false;
	X509_STORE_free(set->x509);
	set->x509 = NULL;
	set->n_x509 = 0;
}

/* Adds cert (ownership taken) to the X.509 authorities of set. */
int id_keyset_x509_add(struct id_keyset *set, X509 *cert, char *err, size_t errlen)
{
	int rc = -1;

	if (set->n_x509 >= ID_X509_MAX_AUTHORITIES)
		pa_err(err, errlen, "more than %d X.509 authorities", ID_X509_MAX_AUTHORITIES);
	else if (set->x509 == NULL && (set->x509 = X509_STORE_new()) == NULL)
		pa_err(err, errlen, "out of memory");
	else if (X509_STORE_add_cert(set->x509, cert) != 1)
		pa_err(err, errlen, "cannot add an X.509 authority (out of memory)");
	else
		rc = 0;
	if (rc == 0)
		set->n_x509++;
	X509_free(cert); /* the store holds its own reference */
	ERR_clear_error();
	return rc;
}

/*
 * Parses the pending x509-svid certificates into the authorities, once:
 * an element that is not one DER certificate is ignored with a notice, as
 * the document's other elements are when it is read. A key set is used by
 * one thread at a time (the module builds its verifier for each call), so
 * its const readers may finish it; out of memory leaves no authority
 * trusted (id_keyset_x509_store: NULL).
 */
static void keyset_x509_build(const struct id_keyset *cset)
{
	struct id_keyset *set = (struct id_keyset *)cset; /* finished lazily, see above */
	char err[256];
	size_t k;

	if (set == NULL || set->n_pending == 0)
		return;
	for (k = 0; k < set->n_pending; k++) {
		struct keyset_der *d = &set->pending[k];
		const unsigned char *p = d->der;
		X509 *cert = d2i_X509(NULL, &p, (long)d->len);

		if (cert == NULL || p != d->der + d->len) {
			X509_free(cert);
			ERR_clear_error();
			(void)keyset_ignore(set, d->index, err, sizeof(err), "x509-svid element "
					    "whose \"x5c\" is not a DER certificate");
		} else if (id_keyset_x509_add(set, cert, err, sizeof(err)) != 0) {
			set->x509_failed = true;
		}
		free(d->der);
		d->der = NULL;
	}
	set->n_pending = 0;
}

/* The store of set's X.509 authorities, or NULL. */
X509_STORE *id_keyset_x509_store(const struct id_keyset *set)
{
	keyset_x509_build(set);
	return set != NULL && !set->x509_failed ? set->x509 : NULL;
}

/*
 * An x509-svid element: the first "x5c" value is the authority, the
 * others are ignored (X509-SVID §6.2). An element without one, or whose
 * first value is not base64, is ignored with a notice; the certificate
 * is kept to be parsed when first needed (keyset_x509_build). More than
 * ID_X509_MAX_AUTHORITIES of them make the document unusable.
 */
static int keyset_x509(struct id_keyset *set, const json_t *jwk, size_t i,
		       char *err, size_t errlen)
{
	const json_t *x5c = json_object_get(jwk, "x5c"), *first;
	unsigned char *der = NULL;
	size_t derlen = 0;

	first = json_is_array(x5c) ? json_array_get(x5c, 0) : NULL;
	if (!json_is_string(first))
		return keyset_ignore(set, i, err, errlen,
				     "x509-svid element without an \"x5c\" certificate");
	if (id_b64_decode(json_string_value(first), json_string_length(first), &der,
			   &derlen) != 0 || derlen > LONG_MAX)
		return keyset_ignore(set, i, err, errlen,
				     "x509-svid element whose \"x5c\" is not base64");
	if (set->n_x509 + set->n_pending >= ID_X509_MAX_AUTHORITIES) {
		free(der);
		return pa_err(err, errlen, "more than %d X.509 authorities",
			      ID_X509_MAX_AUTHORITIES);
	}
	set->pending[set->n_pending++] = (struct keyset_der){ der, derlen, i };
	return 0;
}

/*
 * Loads one signature key element into set, among its jwt-svid (or OIDC)
 * keys, or its wit-svid keys when wit: an unsupported key type, curve or
 * size is ignored with a notice; a missing kid (SPIFFE jwt-svid), a
 * duplicate kid among the keys of that use or a malformed key makes the
 * document unusable (-1). A wit-svid key without a kid (WIT-SVID §6.1
 * requires one) is ignored: no WIT-SVID can name it.
 */
static int keyset_sign_key(struct id_keyset *set, const json_t *jwk, size_t i, bool wit,
			   struct id_jwk_ctx *c, char *err, size_t errlen)
{
	const json_t *kidv = json_object_get(jwk, "kid");
	char why[256], esc[PA_ESCAPE_MAX];
	struct id_key *key;

	if (!id_jwk_supported(jwk, why, sizeof(why)))
		return keyset_ignore(set, i, err, errlen, "%s", why);
	if (!json_is_string(kidv) || json_string_length(kidv) == 0) {
		if (set->kind == ID_KEYSET_OIDC || wit)
			return keyset_ignore(set, i, err, errlen,
					     "no \"kid\", so no token can name it");
		return pa_err(err, errlen, "key %zu: jwt-svid key without a \"kid\" string "
			      "(JWT-SVID §6)", i);
	}
	pa_escape(json_string_value(kidv), json_string_length(kidv), esc, sizeof(esc));
	if ((wit ? id_keyset_find_wit(set, json_string_value(kidv)) :
		   id_keyset_find(set, json_string_value(kidv))) != NULL)
		return pa_err(err, errlen, "duplicate kid \"%s\"%s", esc, wit ? " (wit-svid)" : "");
	key = id_key_from_jwk_ctx(jwk, c, why, sizeof(why));
	if (key == NULL)
		return pa_err(err, errlen, "key \"%s\": %s", esc, why);
	if (wit)
		set->wit[set->n_wit++] = key;
	else
		set->keys[set->n_keys++] = key;
	return 0;
}

/* Sorts and loads element i of a key set document. Returns 0 or -1. */
static int keyset_element(struct id_keyset *set, const json_t *jwk, size_t i,
			  struct id_jwk_ctx *c, char *err, size_t errlen)
{
	char esc[PA_ESCAPE_MAX];
	const char *use;

	if (!json_is_object(jwk))
		return pa_err(err, errlen, "key %zu is not a JSON object", i);
	switch (keyset_use(jwk, set->kind, &use)) {
	case USE_SIGN:
	case USE_WIT:
		return keyset_sign_key(set, jwk, i, keyset_use(jwk, set->kind, &use) == USE_WIT,
				       c, err, errlen);
	case USE_X509:
		return keyset_x509(set, jwk, i, err, errlen);
	case USE_SKIP:
		return 0;
	case USE_UNKNOWN:
	default:
		if (use == NULL)
			return keyset_ignore(set, i, err, errlen, "no \"use\" string");
		return keyset_ignore(set, i, err, errlen, "\"use\" \"%s\" is not one this "
				     "verifier uses", pa_escape(use, strlen(use), esc, sizeof(esc)));
	}
}

/*
 * Checks the SPIFFE bundle members next to "keys" that have a type, and
 * keeps them in out[0] (spiffe_refresh_hint) and out[1] (spiffe_sequence),
 * -1 when absent.
 */
static int keyset_check_spiffe_members(const json_t *doc, int64_t out[2], char *err,
				       size_t errlen)
{
	static const char *const ints[] = { "spiffe_refresh_hint", "spiffe_sequence" };
	size_t i;

	for (i = 0; i < PA_ARRAY_SIZE(ints); i++) {
		const json_t *v = json_object_get(doc, ints[i]);

		out[i] = -1;
		if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 0))
			return pa_err(err, errlen, "\"%s\" is not a non-negative integer", ints[i]);
		if (v != NULL)
			out[i] = (int64_t)json_integer_value(v);
	}
	return 0;
}

/* Parses a JWKS document into a key set (see identity.h). */
struct id_keyset *id_keyset_parse(const char *json, size_t len,
				  enum id_keyset_kind kind,
				  char *err, size_t errlen)
{
	struct id_keyset *set = NULL;
	struct id_jwk_ctx c = { 0 };
	json_t *doc = NULL, *keys, *jwk;
	json_error_t jerr;
	char esc[PA_ESCAPE_MAX];
	int64_t members[2] = { -1, -1 };
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
	if (kind == ID_KEYSET_SPIFFE && keyset_check_spiffe_members(doc, members, err, errlen) != 0)
		goto fail;
	keys = json_object_get(doc, "keys");
	if (!json_is_array(keys)) {
		pa_err(err, errlen, "key set has no \"keys\" array");
		goto fail;
	}
	set = calloc(1, sizeof(*set));
	if (set == NULL ||
	    (set->keys = calloc(json_array_size(keys) + 1, sizeof(*set->keys))) == NULL ||
	    (set->wit = calloc(json_array_size(keys) + 1, sizeof(*set->wit))) == NULL ||
	    (set->pending = calloc(json_array_size(keys) + 1, sizeof(*set->pending))) == NULL ||
	    (set->notices = calloc(KEYSET_NOTICES_MAX, sizeof(*set->notices))) == NULL) {
		pa_err(err, errlen, "out of memory");
		goto fail;
	}
	set->kind = kind;
	set->refresh_hint = members[0];
	set->sequence = members[1];
	json_array_foreach(keys, i, jwk) {
		if (keyset_element(set, jwk, i, &c, err, errlen) != 0)
			goto fail;
	}
	id_jwk_ctx_clear(&c);
	json_decref(doc);
	return set;
fail:
	id_jwk_ctx_clear(&c);
	id_keyset_free(set);
	json_decref(doc);
	return NULL;
}

int id_bundle_read(const char *path, char **out, size_t *outlen, struct stat *st, char *err,
		   size_t errlen)
{
	struct pa_file_rules rules = {
		.owner = geteuid(),
		.or_root = true,
		.forbid_mode = 022,
		.max_size = ID_BUNDLE_MAX,
	};

	return pa_read_file_stat(path, &rules, out, outlen, st, err, errlen);
}

/* Reads path as id_bundle_read does and parses it as a key set. */
struct id_keyset *id_keyset_load(const char *path, enum id_keyset_kind kind,
				 char *err, size_t errlen)
{
	struct id_keyset *set = NULL;
	char *buf = NULL, perr[512];
	size_t len = 0;
	struct stat st;

	if (path == NULL) {
		pa_err(err, errlen, "no key set path");
		return NULL;
	}
	/* the mtime of the file read: how old the bundle is (docs/bundles.md) */
	if (id_bundle_read(path, &buf, &len, &st, err, errlen) != 0)
		return NULL;
	set = id_keyset_parse(buf, len, kind, perr, sizeof(perr));
	if (set == NULL)
		pa_err(err, errlen, "%s: %s", path, perr);
	else
		set->mtime = (int64_t)st.st_mtim.tv_sec;
	free(buf);
	return set;
}
