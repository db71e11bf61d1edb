/*
 * key_int.h - a verification key inside the identity engine: what key.c
 * (keys, algorithms, the signature check) and jwk.c (keys from JWKs)
 * share. Used inside identity/ only.
 */
#ifndef PA_IDENTITY_KEY_INT_H
#define PA_IDENTITY_KEY_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/bn.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "identity.h"
#include "util.h"

/* Smallest and largest RSA modulus accepted, in bits. */
#define ID_RSA_MIN_BITS 2048
#define ID_RSA_MAX_BITS 16384

enum id_kty { ID_KTY_RSA = 1, ID_KTY_EC, ID_KTY_OKP };

struct id_key {
	EVP_PKEY *pkey;
	char *kid;	   /* NULL when the JWK has none */
	char *alg;	   /* the JWK's own "alg", NULL when absent */
	char *x5t;	   /* the JWK's "x5t", NULL when absent */
	char *x5t256;	   /* the JWK's "x5t#S256", NULL when absent */
	enum id_kty kty;
	int curve_nid;	   /* EC: NID of the named curve */
	size_t coord_len;  /* EC: bytes per coordinate (32, 48, 66) */
	BIGNUM *order;	   /* EC: group order n */
	size_t rsa_len;	   /* RSA: modulus length in bytes */
};

/*
 * The EC curves JOSE names, with OpenSSL's name, the coordinate size and
 * the order of the group (the published constant: reading it from a key
 * costs a tenth of importing the key).
 */
struct id_ec_curve {
	const char *jwk_crv;
	const char *ossl_name;
	int nid;
	size_t coord_len;
	const char *order_hex;
};
#define ID_EC_CURVES 3
extern const struct id_ec_curve id_ec_curves[ID_EC_CURVES];

/*
 * The unencrypted PEM private key of the file at path, read through
 * pa_read_file_safely with rules (its bytes wiped). NULL with err.
 */
EVP_PKEY *id_pem_key_read(const char *path, const struct pa_file_rules *rules, char *err,
			  size_t errlen);

/*
 * id_key_from_pkey for a key whose EC point the import itself checked
 * (point_checked: jwk.c's EVP_PKEY_fromdata of an uncompressed point,
 * which refuses coordinates out of range and a point off the curve), so
 * that the quick public-key check is not done twice.
 */
struct id_key *id_key_wrap(EVP_PKEY *pkey, const char *kid, bool point_checked, char *err,
			   size_t errlen);

/*
 * The EC keys one key set has imported so far, one per curve: the next
 * key of a curve starts as a copy of that one (EVP_PKEY_dup copies its
 * group, where an import builds the group again: three quarters of the
 * import), whose point is then replaced (EVP_PKEY_set1_encoded_public_key,
 * refusing coordinates out of range and a point off the curve as the
 * import does).
 */
struct id_jwk_ctx {
	EVP_PKEY *ec[ID_EC_CURVES];
};
void id_jwk_ctx_clear(struct id_jwk_ctx *c);
/* id_key_from_jwk, with and into c (NULL: none). */
struct id_key *id_key_from_jwk_ctx(const json_t *jwk, struct id_jwk_ctx *c, char *err,
				   size_t errlen);

/* SHA-256, fetched once per process (identity/key.c). */
const EVP_MD *id_sha256(void);

#endif /* PA_IDENTITY_KEY_INT_H */
