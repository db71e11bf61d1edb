/*
 * pop.c - proof of possession (docs/proof-of-possession.md): the module's
 * fresh challenge and the check of an answer (a signature over the
 * challenge's bytes by the key the evidence names). The client's side is
 * pop_client.c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "identity.h"
#include "key_int.h"
#include "pa_json.h"
#include "util.h"

/* Longest PEM key file a client may hand over. */
#define POP_KEY_FILE_MAX (64 * 1024)
/* Longest answer read: an RSA-16384 signature in base64url. */
#define POP_ANSWER_MAX 2800
/* Longest public JWK (base64url) in a key-bound token's answer. */
#define POP_JWK_MAX 4096

char *id_pop_challenge(const char *aud, const char *service, const char *ev, int64_t now,
		       char *err, size_t errlen)
{
	unsigned char nonce[16];
	char hex[33], *text = NULL, *b64 = NULL, *out = NULL;
	json_t *o;
	size_t i, len;

	if (aud == NULL || service == NULL || ev == NULL) {
		pa_err(err, errlen, "a challenge needs an audience, a service and the evidence");
		return NULL;
	}
	if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
		ERR_clear_error();
		pa_err(err, errlen, "no random bytes for the challenge");
		return NULL;
	}
	for (i = 0; i < sizeof(nonce); i++)
		snprintf(hex + 2 * i, 3, "%02x", nonce[i]);
	o = json_pack("{s:s,s:s,s:I,s:I,s:s,s:s}", "aud", aud, "ev", ev, "exp",
		      (json_int_t)(now + ID_POP_TTL), "iat", (json_int_t)now, "nonce", hex, "svc",
		      service);
	if (o != NULL)
		text = pa_json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	if (text != NULL)
		b64 = id_b64url_encode((const unsigned char *)text, strlen(text));
	if (b64 != NULL) {
		len = strlen(ID_POP_PREFIX) + strlen(b64) + 1;
		out = malloc(len);
		if (out != NULL)
			snprintf(out, len, "%s%s", ID_POP_PREFIX, b64);
	}
	free(text);
	free(b64);
	if (out == NULL)
		pa_err(err, errlen, "out of memory");
	return out;
}

int id_jwk_thumbprint(const json_t *jwk, char out[ID_JKT_LEN + 1], char *err, size_t errlen)
{
	static const char *const ec[] = { "crv", "kty", "x", "y", NULL };
	static const char *const rsa[] = { "e", "kty", "n", NULL };
	static const char *const okp[] = { "crv", "kty", "x", NULL };
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	const char *const *names = NULL;
	unsigned char md[32];
	json_t *req;
	char *text = NULL, *b64 = NULL;
	size_t i;
	int rc = -1;

	if (kty != NULL)
		names = strcmp(kty, "EC") == 0 ? ec : strcmp(kty, "RSA") == 0 ? rsa :
			strcmp(kty, "OKP") == 0 ? okp : NULL;
	if (names == NULL)
		return pa_err(err, errlen, "the key is no EC, RSA or OKP JWK");
	req = json_object();
	for (i = 0; req != NULL && names[i] != NULL; i++) {
		const json_t *v = json_object_get(jwk, names[i]);

		if (!json_is_string(v)) {
			json_decref(req);
			return pa_err(err, errlen, "the JWK has no \"%s\"", names[i]);
		}
		if (json_object_set(req, names[i], (json_t *)v) != 0) {
			json_decref(req);
			req = NULL;
		}
	}
	if (req != NULL)
		text = pa_json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(req);
	if (text != NULL && EVP_Digest(text, strlen(text), md, NULL, EVP_sha256(), NULL) == 1)
		b64 = id_b64url_encode(md, sizeof(md));
	if (b64 != NULL && strlen(b64) == ID_JKT_LEN) {
		memcpy(out, b64, ID_JKT_LEN + 1);
		rc = 0;
	} else {
		pa_err(err, errlen, "out of memory");
	}
	free(text);
	free(b64);
	return rc;
}

enum id_alg id_pop_alg(const struct id_key *key)
{
	if (key == NULL || key->pkey == NULL)
		return ID_ALG_NONE;
	if (EVP_PKEY_is_a(key->pkey, "RSA"))
		return ID_ALG_PS256;
	if (EVP_PKEY_is_a(key->pkey, "ED25519"))
		return ID_ALG_EDDSA;
	if (EVP_PKEY_is_a(key->pkey, "EC"))
		return key->coord_len == 32 ? ID_ALG_ES256 :
		       key->coord_len == 48 ? ID_ALG_ES384 : ID_ALG_NONE;
	return ID_ALG_NONE;
}

int id_pop_check(const struct id_key *key, const char *challenge, const char *answer,
		 char *err, size_t errlen)
{
	enum id_alg alg = id_pop_alg(key);
	unsigned char *sig = NULL;
	size_t siglen = 0, alen;
	int rc;

	if (alg == ID_ALG_NONE)
		return pa_err(err, errlen, "the evidence's key cannot answer a challenge "
			      "(EC P-256/P-384, Ed25519 or RSA only)");
	if (answer == NULL || (alen = strlen(answer)) == 0)
		return pa_err(err, errlen, "no answer to the challenge");
	if (alen > POP_ANSWER_MAX || id_b64url_decode(answer, alen, &sig, &siglen) != 0)
		return pa_err(err, errlen, "the answer to the challenge is not a base64url "
			      "signature");
	rc = id_sig_verify(key, alg, (const unsigned char *)challenge, strlen(challenge), sig,
			   siglen, err, errlen);
	free(sig);
	if (rc != 0)
		return pa_err(err, errlen, "the answer is not a signature of this challenge by "
			      "the evidence's key");
	return 0;
}

int id_pop_check_bound(const char *jkt, const char *challenge, const char *answer,
		       char *err, size_t errlen)
{
	const char *dot = answer != NULL ? strchr(answer, '.') : NULL;
	unsigned char *raw = NULL;
	size_t rawlen = 0;
	char tp[ID_JKT_LEN + 1];
	struct id_key *key = NULL;
	json_error_t jerr;
	json_t *jwk;
	int rc = -1;

	if (dot == NULL || dot == answer || (size_t)(dot - answer) > POP_JWK_MAX ||
	    id_b64url_decode(answer, (size_t)(dot - answer), &raw, &rawlen) != 0)
		return pa_err(err, errlen, "the answer is not JWK.SIGNATURE in base64url");
	jwk = pa_json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, &jerr);
	free(raw);
	if (!json_is_object(jwk))
		pa_err(err, errlen, "the answer's key is not a JSON object");
	else if (id_jwk_thumbprint(jwk, tp, err, errlen) != 0)
		;
	else if (strcmp(tp, jkt) != 0)
		pa_err(err, errlen, "the answer's key is not the one the token's cnf binds "
		       "(thumbprint %s, not %.43s)", tp, jkt);
	else if ((key = id_key_from_jwk(jwk, err, errlen)) != NULL)
		rc = id_pop_check(key, challenge, dot + 1, err, errlen);
	json_decref(jwk);
	id_key_free(key);
	return rc;
}

struct id_key *id_wit_cnf_key(const json_t *claims, char *err, size_t errlen)
{
	const json_t *cnf = json_object_get(claims, "cnf"), *jwk = json_object_get(cnf, "jwk");
	const json_t *algv = json_object_get(jwk, "alg");
	char why[256], esc[PA_ESCAPE_MAX];
	struct id_key *key;
	enum id_alg want;

	if (!json_is_object(cnf) || !json_is_object(jwk)) {
		pa_err(err, errlen, "no \"cnf\" with a \"jwk\" (a WIT-SVID binds a key)");
		return NULL;
	}
	if (!json_is_string(algv)) {
		pa_err(err, errlen, "cnf.jwk has no \"alg\" string");
		return NULL;
	}
	key = id_key_from_jwk(jwk, why, sizeof(why));
	if (key == NULL) {
		pa_err(err, errlen, "cnf.jwk: %s", why);
		return NULL;
	}
	want = id_pop_alg(key);
	pa_escape(json_string_value(algv), json_string_length(algv), esc, sizeof(esc));
	if (want == ID_ALG_NONE || strcmp(json_string_value(algv), id_alg_name(want)) != 0) {
		pa_err(err, errlen, "cnf.jwk \"alg\" \"%s\" is not the one its key proves with "
		       "(%s; ES256 for P-256, ES384 for P-384, EdDSA for Ed25519, PS256 for RSA)",
		       esc, want == ID_ALG_NONE ? "none" : id_alg_name(want));
		id_key_free(key);
		return NULL;
	}
	return key;
}
