/*
 * tfx_jose.h - JOSE made by hand with plain OpenSSL, independent of the
 * project's signer (so a bug there cannot hide one in the verifier), for
 * the identity and signing tests: base64url, JWS signatures (also broken
 * ones, as flags say), compact tokens, public JWKs of EVP keys, key sets
 * parsed from JSON; and the trust the identity tests verify against
 * (tfx_trust: keys, their bundle and JWKS files, a loaded verifier).
 */
#ifndef PA_TFX_JOSE_H
#define PA_TFX_JOSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/evp.h>

#include "identity.h"
#include "tfx.h"

/* ---- base64url and JWKs ------------------------------------------------------------------ */

/* Base64url without padding, made with OpenSSL's base64 encoder (heap). */
char *tfx_b64u(const void *in, size_t len);

/* Decodes base64url (the strict decoder of b64url.c) into a heap buffer. */
unsigned char *tfx_b64d(const char *s, size_t len, size_t *outlen);

/* The big number a base64url string encodes. */
BIGNUM *tfx_b64_bn(const char *s);

/* The string member name of jwk (which must be there). */
const char *tfx_jwk_str(const json_t *jwk, const char *name);

/* The public JWK of pkey (test-local encoder); kid, use and alg only when not NULL. */
json_t *tfx_jwk_of(EVP_PKEY *pkey, const char *kid, const char *use, const char *alg);

/* ---- signatures and tokens --------------------------------------------------------------- */

#define TFX_SIGN_DER 0x01     /* keep OpenSSL's DER ECDSA signature */
#define TFX_SIGN_SALT0 0x02   /* PSS with salt length 0 */
#define TFX_SIG_EMPTY 0x04    /* no signature at all */
#define TFX_SIG_ZERO 0x08     /* ECDSA r = s = 0 */
#define TFX_SIG_R_IS_N 0x10   /* ECDSA r = n (the group order) */
#define TFX_SIGN_HS_PUB 0x20  /* HMAC-SHA256 keyed with the RSA public key PEM */
#define TFX_SIG_FLIP 0x40     /* one signature byte changed */
#define TFX_SIG_RSA_PAD0 0x80 /* RSA signature with a leading zero byte added */

/* Signs msg the JOSE way as flags say; returns the raw JWS signature bytes (heap). */
unsigned char *tfx_sign_msg(enum id_alg alg, EVP_PKEY *pkey, const char *msg, int flags,
			    size_t *siglen);

/* A compact JWS over header and claims text, signed as flags say (heap). */
char *tfx_token(enum id_alg alg, EVP_PKEY *pkey, const char *header, const char *claims,
		int flags);

/* ---- key sets ---------------------------------------------------------------------------- */

/* id_keyset_parse of doc (consumed) as kind; the set, or NULL with err. */
struct id_keyset *tfx_keyset_parse(json_t *doc, enum id_keyset_kind kind, char *err,
				   size_t errlen);

/* Expects the OIDC key set of jwk (consumed) as its only key to be refused with reason. */
void tfx_jwk_refused(json_t *jwk, const char *reason);

/*
 * Expects the key set of kind with jwk (consumed) as its only key to load
 * with no key, the element ignored with a notice that contains reason.
 */
void tfx_jwk_ignored_as(json_t *jwk, enum id_keyset_kind kind, const char *reason);

/* tfx_jwk_ignored_as of an OIDC key set. */
void tfx_jwk_ignored(json_t *jwk, const char *reason);

/* ---- the trust of the identity tests ----------------------------------------------------- */

#define TFX_NOW ((int64_t)1700000000)
#define TFX_AUD "spiffe://example.org/host/web01"
#define TFX_SUB "spiffe://example.org/agents/bot"
#define TFX_IDP "https://idp.example.test"
#define TFX_IDP2 "https://idp2.example.test"
#define TFX_IDP_AUD "pam-agent-test"
#define TFX_LEEWAY 30
#define TFX_MAX_AGE 600

enum tfx_key {
	TFX_K_RSA,
	TFX_K_RSA_B,
	TFX_K_EC256,
	TFX_K_EC384,
	TFX_K_EC521,
	TFX_K_ED,
	TFX_K_OTHER,
	TFX_K_COUNT
};

/*
 * Keys, bundles and the verifier shared by the identity tests: trust
 * domains example.org (RSA, RSA bound to RS256, P-256/384/521, Ed25519,
 * plus an x509-svid entry) and other.org (P-256); issuer TFX_IDP (EdDSA
 * allowed, own audience) and TFX_IDP2 (EdDSA not allowed, the global
 * audience TFX_AUD). Leeway TFX_LEEWAY, maximum age TFX_MAX_AGE.
 */
struct tfx_trust {
	EVP_PKEY *keys[TFX_K_COUNT];
	char dir[TFX_DIR_MAX]; /* the bundle and JWKS files */
	struct id_verifier v;
};

extern struct tfx_trust tfx_trust;

/* The key k of tfx_trust. */
EVP_PKEY *tfx_key(enum tfx_key k);

/* tfx_jwk_of of the key k of tfx_trust. */
json_t *tfx_key_jwk(enum tfx_key k, const char *kid, const char *use, const char *alg);

/* cmocka group setup and teardown of tfx_trust. */
int tfx_trust_setup(void **state);
int tfx_trust_teardown(void **state);

/* Writes doc (consumed) to tfx_trust.dir/name with mode; returns the path (heap). */
char *tfx_trust_doc(const char *name, json_t *doc, mode_t mode);

/* The claims of an accepted JWT-SVID at TFX_NOW. */
json_t *tfx_default_claims(void);

#endif
