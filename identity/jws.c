/*
 * jws.c - strict parsing of compact JWS (RFC 7515 §7.1) and the signature
 * check of a parsed token, with the header rules of RFC 8725.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "identity.h"
#include "pa_json.h"
#include "util.h"

/*
 * Header parameters refused outright: keys or certificates supplied by
 * the token itself, or pointers to them (RFC 8725 §3.10), extensions we
 * would have to understand (crit, b64), compression, encryption and
 * nested tokens (zip, enc, cty). The thumbprints x5t and x5t#S256 only
 * name a key the verifier already holds: they are hints (id_verify_token).
 */
static const char *const forbidden_headers[] = {
	"jwk", "jku", "x5u", "x5c",
	"crit", "b64", "zip", "enc", "cty",
};

/* Releases everything a parsed JWS holds, wiping decoded token bytes. */
void id_jws_clear(struct id_jws *jws)
{
	if (jws == NULL)
		return;
	json_decref(jws->header);
	json_decref(jws->claims);
	pa_free_secret_buf(jws->payload, jws->payload_len + 1);
	pa_free_secret_buf(jws->sig, jws->sig_len + 1);
	memset(jws, 0, sizeof(*jws));
}

/*
 * What went wrong in a JSON text, in words of our own. jansson's error
 * text quotes the input near the error ("... near 'hello'"), and the input
 * here is a decoded token segment - or, with use_first_pass, a human's
 * password that happens to look like X.Y.Z: none of it may reach a log
 * line, the audit file or the application.
 */
static const char *json_problem(const json_error_t *jerr)
{
	if (strcmp(jerr->text, "out of memory") == 0) /* pa_json_loadb's own */
		return "out of memory";
	switch (json_error_code(jerr)) {
	case json_error_out_of_memory:
		return "out of memory";
	case json_error_stack_overflow:
		return "nested too deeply";
	case json_error_invalid_utf8:
		return "invalid UTF-8";
	case json_error_premature_end_of_input:
		return "ends early";
	case json_error_end_of_input_expected:
		return "text after the value";
	case json_error_null_character:
	case json_error_null_byte_in_key:
		return "a NUL character";
	case json_error_duplicate_key:
		return "a duplicate member name";
	case json_error_numeric_overflow:
		return "a number out of range";
	default:
		return "a syntax error";
	}
}

/*
 * Parses len bytes of decoded JSON that must be one object: duplicate
 * names refused, nothing but whitespace after it, no NUL in strings
 * (jansson refuses \u0000 unless JSON_ALLOW_NUL, which is not given).
 * The reason names the problem and its byte offset, never the bytes.
 */
static json_t *parse_object(const unsigned char *buf, size_t len,
			    const char *what, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *obj;

	obj = pa_json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (obj == NULL) {
		pa_err(err, errlen, "token %s is not valid JSON: %s at byte %d", what,
		       json_problem(&jerr), jerr.position);
		pa_overwrite(&jerr, sizeof(jerr));
		return NULL;
	}
	if (!json_is_object(obj)) {
		pa_err(err, errlen, "token %s is not a JSON object", what);
		json_decref(obj);
		return NULL;
	}
	return obj;
}

/*
 * What typ names, any case: 1 a JWS/JWT (JWT, JOSE), 2 a WIT-SVID
 * (wit+jwt, the WIMSE Workload Identity Token), 0 anything else.
 */
static int typ_kind(const char *typ)
{
	/* RFC 7515 §4.1.9: "application/" is implied when there is no '/' */
	if (strncasecmp(typ, "application/", 12) == 0)
		typ += 12;
	if (strcasecmp(typ, "wit+jwt") == 0)
		return 2;
	return strcasecmp(typ, "JWT") == 0 || strcasecmp(typ, "JOSE") == 0;
}

/* Applies the header rules; sets *alg from the allow-list, *wit for a WIT-SVID. */
static int check_header(const json_t *hdr, enum id_alg *alg, bool *wit,
			char *err, size_t errlen)
{
	const json_t *v;
	const char *name;
	char esc[PA_ESCAPE_MAX];
	size_t i;

	for (i = 0; i < PA_ARRAY_SIZE(forbidden_headers); i++)
		if (json_object_get(hdr, forbidden_headers[i]) != NULL)
			return pa_err(err, errlen, "token header parameter \"%s\" is not allowed",
				      forbidden_headers[i]);
	v = json_object_get(hdr, "typ");
	if (v != NULL) {
		if (!json_is_string(v))
			return pa_err(err, errlen, "token header \"typ\" is not a string");
		if (typ_kind(json_string_value(v)) == 0)
			return pa_err(err, errlen, "token header \"typ\" is \"%s\", not JWT, JOSE "
				      "or wit+jwt", pa_escape(json_string_value(v),
							      json_string_length(v), esc, sizeof(esc)));
		*wit = typ_kind(json_string_value(v)) == 2;
	}
	v = json_object_get(hdr, "kid");
	if (v != NULL && !json_is_string(v))
		return pa_err(err, errlen, "token header \"kid\" is not a string");
	v = json_object_get(hdr, "alg");
	if (v == NULL)
		return pa_err(err, errlen, "token header has no \"alg\"");
	if (!json_is_string(v))
		return pa_err(err, errlen, "token header \"alg\" is not a string");
	name = json_string_value(v);
	pa_escape(name, json_string_length(v), esc, sizeof(esc));
	if (strcasecmp(name, "none") == 0)
		return pa_err(err, errlen, "token alg \"%s\" (unsigned token) is never accepted", esc);
	if (strncmp(name, "HS", 2) == 0)
		return pa_err(err, errlen, "token alg \"%s\" (shared-secret HMAC) is never accepted",
			      esc);
	*alg = id_alg_from_name(name);
	if (*alg == ID_ALG_NONE)
		return pa_err(err, errlen, "token alg \"%s\" is not allowed", esc);
	return 0;
}

/* Splits and decodes a compact JWS (see identity.h). */
int id_jws_parse(const char *token, size_t len, bool want_claims,
		 struct id_jws *jws, char *err, size_t errlen)
{
	unsigned char *hbuf = NULL;
	size_t hlen = 0, dots = 0, i, d1 = 0, d2 = 0;
	int rc = -1;

	memset(jws, 0, sizeof(*jws));
	if (token == NULL || len == 0)
		return pa_err(err, errlen, "empty token");
	if (len > ID_TOKEN_MAX)
		return pa_err(err, errlen, "token is %zu bytes, larger than the limit of %d",
			      len, ID_TOKEN_MAX);
	for (i = 0; i < len; i++) {
		if (token[i] != '.')
			continue;
		if (dots == 0)
			d1 = i;
		else if (dots == 1)
			d2 = i;
		dots++;
	}
	if (dots == 4)
		return pa_err(err, errlen,
			      "token has 5 segments: an encrypted JWE, not a signed JWS, is not accepted");
	if (dots != 2)
		return pa_err(err, errlen, "token has %zu segments, a compact JWS has 3", dots + 1);
	if (d1 == 0)
		return pa_err(err, errlen, "token header segment is empty");
	if (id_b64url_decode(token, d1, &hbuf, &hlen) != 0) {
		pa_err(err, errlen, "token header is not strict base64url");
		goto out;
	}
	jws->header = parse_object(hbuf, hlen, "header", err, errlen);
	if (jws->header == NULL)
		goto out;
	if (check_header(jws->header, &jws->alg, &jws->wit, err, errlen) != 0)
		goto out;
	if (id_b64url_decode(token + d1 + 1, d2 - d1 - 1, &jws->payload,
			     &jws->payload_len) != 0) {
		pa_err(err, errlen, "token payload is not strict base64url");
		goto out;
	}
	if (d2 + 1 == len) {
		pa_err(err, errlen, "token signature segment is empty");
		goto out;
	}
	if (id_b64url_decode(token + d2 + 1, len - d2 - 1, &jws->sig, &jws->sig_len) != 0) {
		pa_err(err, errlen, "token signature is not strict base64url");
		goto out;
	}
	if (want_claims) {
		jws->claims = parse_object(jws->payload, jws->payload_len, "claims",
					   err, errlen);
		if (jws->claims == NULL)
			goto out;
	}
	jws->signing_input = token;
	jws->signing_input_len = d2;
	rc = 0;
out:
	pa_free_secret_buf(hbuf, hlen + 1);
	if (rc != 0)
		id_jws_clear(jws);
	return rc;
}

/* Verifies the signature of a parsed JWS under key. */
int id_jws_verify(const struct id_jws *jws, const struct id_key *key,
		  char *err, size_t errlen)
{
	if (jws == NULL || key == NULL || jws->signing_input == NULL)
		return pa_err(err, errlen, "nothing to verify");
	if (!id_key_allows(key, jws->alg)) {
		const char *kid = id_key_kid(key);
		char esc[PA_ESCAPE_MAX];

		return pa_err(err, errlen, "key \"%s\" may not verify %s",
			      kid != NULL ? pa_escape(kid, strlen(kid), esc, sizeof(esc)) : "",
			      id_alg_name(jws->alg));
	}
	return id_sig_verify(key, jws->alg, (const unsigned char *)jws->signing_input,
			     jws->signing_input_len, jws->sig, jws->sig_len,
			     err, errlen);
}
