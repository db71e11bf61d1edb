/*
 * pop.c - proof of possession (docs/proof-of-possession.md): the module's
 * fresh challenge, the check of an answer (a signature over the
 * challenge's bytes by the key the evidence names), and the client's side,
 * loading its key and signing the answer.
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

/* The algorithm a client's private key answers with (id_pop_alg's rule). */
static enum id_alg key_alg(EVP_PKEY *pkey)
{
	char group[64];
	size_t glen = 0;

	if (EVP_PKEY_is_a(pkey, "RSA"))
		return ID_ALG_PS256;
	if (EVP_PKEY_is_a(pkey, "ED25519"))
		return ID_ALG_EDDSA;
	if (EVP_PKEY_is_a(pkey, "EC") &&
	    EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) == 1)
		return strcmp(group, "prime256v1") == 0 ? ID_ALG_ES256 :
		       strcmp(group, "secp384r1") == 0 ? ID_ALG_ES384 : ID_ALG_NONE;
	return ID_ALG_NONE;
}

struct id_signer *id_pop_key_load(const char *path, uid_t owner, char *err, size_t errlen)
{
	const struct pa_file_rules rules = {
		.owner = owner, .or_root = true, .forbid_mode = 077, .max_size = POP_KEY_FILE_MAX,
	};
	char shown[PA_ESCAPE_MAX];
	EVP_PKEY *pkey;
	enum id_alg alg;

	pkey = id_pem_key_read(path, &rules, err, errlen);
	if (pkey == NULL)
		return NULL;
	pa_escape(path, strlen(path), shown, sizeof(shown));
	alg = key_alg(pkey);
	if (alg == ID_ALG_NONE) {
		EVP_PKEY_free(pkey);
		pa_err(err, errlen, "%s: not an EC P-256/P-384, Ed25519 or RSA key", shown);
		return NULL;
	}
	return id_signer_from_pkey(pkey, alg, err, errlen);
}

char *id_pem_certs_compact(const char *pem, size_t len, char *err, size_t errlen)
{
	BIO *bio = len <= ID_X509_CHAIN_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;
	char *out = NULL, *b64, *grown;
	size_t olen = 0, n = 0;
	X509 *cert;

	if (bio == NULL) {
		pa_err(err, errlen, "certificates over %d bytes", ID_X509_CHAIN_MAX);
		return NULL;
	}
	while ((cert = PEM_read_bio_X509(bio, NULL, NULL, (void *)"")) != NULL) {
		unsigned char *der = NULL;
		int dlen = i2d_X509(cert, &der);

		X509_free(cert);
		b64 = dlen > 0 ? id_b64url_encode(der, (size_t)dlen) : NULL;
		OPENSSL_free(der);
		grown = b64 != NULL ? realloc(out, olen + strlen(b64) + 2) : NULL;
		if (grown == NULL) {
			free(b64);
			free(out);
			BIO_free(bio);
			pa_err(err, errlen, "out of memory");
			return NULL;
		}
		out = grown;
		olen += (size_t)snprintf(out + olen, strlen(b64) + 2, "%s%s", n++ ? "." : "", b64);
		free(b64);
	}
	ERR_clear_error();
	BIO_free(bio);
	if (out == NULL)
		pa_err(err, errlen, "no PEM certificate");
	return out;
}

char *id_pop_answer(const struct id_signer *s, const char *challenge, char *err, size_t errlen)
{
	unsigned char *sig = NULL;
	size_t siglen = 0;
	char *out;

	if (strncmp(challenge, ID_POP_PREFIX, strlen(ID_POP_PREFIX)) != 0) {
		pa_err(err, errlen, "not a pam_agent challenge");
		return NULL;
	}
	if (id_signer_sign(s, challenge, strlen(challenge), &sig, &siglen, err, errlen) != 0)
		return NULL;
	out = id_b64url_encode(sig, siglen);
	free(sig);
	if (out == NULL)
		pa_err(err, errlen, "out of memory");
	return out;
}
