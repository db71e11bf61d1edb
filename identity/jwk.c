/*
 * jwk.c - public JWKs (RFC 7517/7518, RFC 8037) into verification keys:
 * their members checked, which kinds are supported, what they may be used
 * for.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "key_int.h"
#include "util.h"

/* The accepted EC curve JOSE names crv, or NULL. */
static const struct id_ec_curve *ec_curve_named(const char *crv)
{
	size_t i;

	for (i = 0; i < PA_ARRAY_SIZE(id_ec_curves); i++)
		if (strcmp(id_ec_curves[i].jwk_crv, crv) == 0)
			return &id_ec_curves[i];
	return NULL;
}

/* Members that only a private (or symmetric) JWK carries. */
static const char *const private_members[] = {
	"d", "p", "q", "dp", "dq", "qi", "k", "oth",
};

/* The JOSE name of alg, or NULL for ID_ALG_NONE and unknown values. */

/*
 * Fetches the optional string member name of obj into *out (NULL when
 * absent). A member of another type is an error.
 */
static int jwk_string(const json_t *obj, const char *name, const char **out,
		      char *err, size_t errlen)
{
	const json_t *v = json_object_get(obj, name);

	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return pa_err(err, errlen, "JWK member \"%s\" is not a string", name);
	*out = json_string_value(v);
	return 0;
}

/*
 * Decodes the required base64url member name of obj. With exact > 0 the
 * decoded length must be exactly that; with minimal the value is an
 * unsigned integer that must not start with a zero octet (RFC 7518 §2).
 */
static int jwk_bytes(const json_t *obj, const char *name, size_t exact,
		     bool minimal, unsigned char **out, size_t *outlen,
		     char *err, size_t errlen)
{
	const char *s = NULL;

	*out = NULL;
	*outlen = 0;
	if (jwk_string(obj, name, &s, err, errlen) != 0)
		return -1;
	if (s == NULL)
		return pa_err(err, errlen, "JWK member \"%s\" is missing", name);
	if (id_b64url_decode(s, strlen(s), out, outlen) != 0)
		return pa_err(err, errlen, "JWK member \"%s\" is not strict base64url", name);
	if ((exact > 0 && *outlen != exact) || *outlen == 0 ||
	    (minimal && (*out)[0] == 0)) {
		free(*out);
		*out = NULL;
		if (exact > 0)
			return pa_err(err, errlen, "JWK member \"%s\" must be %zu bytes",
				      name, exact);
		return pa_err(err, errlen, "JWK member \"%s\" is not a minimal unsigned integer",
			      name);
	}
	return 0;
}

/* Builds an RSA public EVP_PKEY from the JWK members n and e. */
static EVP_PKEY *jwk_rsa(const json_t *jwk, char *err, size_t errlen)
{
	unsigned char *nb = NULL, *eb = NULL;
	size_t nlen = 0, elen = 0;
	BIGNUM *n = NULL, *e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;

	if (jwk_bytes(jwk, "n", 0, true, &nb, &nlen, err, errlen) != 0 ||
	    jwk_bytes(jwk, "e", 0, true, &eb, &elen, err, errlen) != 0)
		goto out;
	if (nlen > ID_RSA_MAX_BITS / 8) {
		pa_err(err, errlen, "RSA modulus of %zu bytes is too large", nlen);
		goto out;
	}
	n = BN_bin2bn(nb, (int)nlen, NULL);
	e = BN_bin2bn(eb, (int)elen, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (n == NULL || e == NULL || bld == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL) {
		pa_err(err, errlen, "out of memory");
		goto out;
	}
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		pa_err(err, errlen, "RSA key cannot be loaded");
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	free(nb);
	free(eb);
	return pkey;
}

/* Builds an EC public EVP_PKEY from crv, x and y (exact lengths). */
static EVP_PKEY *jwk_ec(const json_t *jwk, struct id_jwk_ctx *c, char *err, size_t errlen)
{
	unsigned char *x = NULL, *y = NULL, *pt = NULL;
	const struct id_ec_curve *curve;
	size_t xlen = 0, ylen = 0, clen;
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	const char *crv = NULL;
	EVP_PKEY **like;
	char group[16];

	if (jwk_string(jwk, "crv", &crv, err, errlen) != 0)
		goto out;
	if (crv == NULL) {
		pa_err(err, errlen, "EC JWK without \"crv\"");
		goto out;
	}
	curve = ec_curve_named(crv);
	if (curve == NULL) {
		char esc[PA_ESCAPE_MAX];

		pa_err(err, errlen, "EC curve \"%s\" is not accepted (P-256, P-384, P-521 only)",
		       pa_escape(crv, strlen(crv), esc, sizeof(esc)));
		goto out;
	}
	clen = curve->coord_len;
	if (jwk_bytes(jwk, "x", clen, false, &x, &xlen, err, errlen) != 0 ||
	    jwk_bytes(jwk, "y", clen, false, &y, &ylen, err, errlen) != 0 ||
	    x == NULL || y == NULL)
		goto out;
	pt = malloc(1 + 2 * clen);
	if (pt == NULL) {
		pa_err(err, errlen, "out of memory");
		goto out;
	}
	pt[0] = 0x04; /* uncompressed point */
	memcpy(pt + 1, x, clen);
	memcpy(pt + 1 + clen, y, clen);
	like = c != NULL ? &c->ec[curve - id_ec_curves] : NULL;
	if (like != NULL && *like != NULL) {
		/* another key of this curve in the set: its group, this point */
		pkey = EVP_PKEY_dup(*like);
		if (pkey == NULL || EVP_PKEY_set1_encoded_public_key(pkey, pt, 1 + 2 * clen) != 1) {
			pa_err(err, errlen, "EC public key is not a valid point of %s",
			       curve->jwk_crv);
			EVP_PKEY_free(pkey);
			pkey = NULL;
		}
		goto out;
	}
	snprintf(group, sizeof(group), "%s", curve->ossl_name);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
						      pt, 1 + 2 * clen);
	params[2] = OSSL_PARAM_construct_end();
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		pa_err(err, errlen, "EC public key is not a valid point of %s",
		       curve->jwk_crv);
		EVP_PKEY_free(pkey);
		pkey = NULL;
	} else if (like != NULL && EVP_PKEY_up_ref(pkey) == 1) {
		*like = pkey;
	}
out:
	EVP_PKEY_CTX_free(ctx);
	free(pt);
	free(x);
	free(y);
	return pkey;
}

/* Builds an Ed25519 public EVP_PKEY from crv and x. */
static EVP_PKEY *jwk_okp(const json_t *jwk, char *err, size_t errlen)
{
	unsigned char *x = NULL;
	size_t xlen = 0;
	EVP_PKEY *pkey = NULL;
	const char *crv = NULL;

	if (jwk_string(jwk, "crv", &crv, err, errlen) != 0)
		return NULL;
	if (crv == NULL) {
		pa_err(err, errlen, "OKP JWK without \"crv\"");
		return NULL;
	}
	if (strcmp(crv, "Ed25519") != 0) {
		char esc[PA_ESCAPE_MAX];

		pa_err(err, errlen, "OKP curve \"%s\" is not accepted (Ed25519 only)",
		       pa_escape(crv, strlen(crv), esc, sizeof(esc)));
		return NULL;
	}
	if (jwk_bytes(jwk, "x", 32, false, &x, &xlen, err, errlen) != 0)
		return NULL;
	pkey = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, x, xlen);
	if (pkey == NULL)
		pa_err(err, errlen, "Ed25519 key cannot be loaded");
	free(x);
	return pkey;
}

/*
 * Whether a JWK is of a kind this verifier can use at all (see
 * identity.h): a known kty, an accepted curve, an RSA modulus within the
 * size limits. Malformed members are not judged here: id_key_from_jwk
 * refuses them.
 */
bool id_jwk_supported(const json_t *jwk, char *why, size_t whylen)
{
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	const char *crv = json_string_value(json_object_get(jwk, "crv"));
	const char *n = json_string_value(json_object_get(jwk, "n"));
	char esc[PA_ESCAPE_MAX];
	size_t i, bits;

	if (kty == NULL) {
		pa_err(why, whylen, "no \"kty\" string");
		return false;
	}
	if ((strcmp(kty, "EC") == 0 || strcmp(kty, "OKP") == 0) && crv == NULL)
		return true; /* malformed: id_key_from_jwk says so */
	if (strcmp(kty, "EC") == 0) {
		if (ec_curve_named(crv) != NULL)
			return true;
	} else if (strcmp(kty, "OKP") == 0) {
		if (strcmp(crv, "Ed25519") == 0)
			return true;
	} else if (strcmp(kty, "RSA") == 0) {
		unsigned char *raw = NULL;
		size_t len = 0;

		if (n == NULL || id_b64url_decode(n, strlen(n), &raw, &len) != 0 || len == 0) {
			free(raw);
			return true; /* malformed: id_key_from_jwk says so */
		}
		bits = len * 8;
		for (i = 0x80; i > 0 && (raw[0] & i) == 0; i >>= 1)
			bits--;
		free(raw);
		if (bits >= ID_RSA_MIN_BITS && bits <= ID_RSA_MAX_BITS)
			return true;
		pa_err(why, whylen, "RSA key of %zu bits (accepted: %d to %d)",
		       bits, ID_RSA_MIN_BITS, ID_RSA_MAX_BITS);
		return false;
	} else {
		pa_err(why, whylen, "\"kty\" \"%s\" is not RSA, EC or OKP",
		       pa_escape(kty, strlen(kty), esc, sizeof(esc)));
		return false;
	}
	pa_err(why, whylen, "%s curve \"%s\" is not accepted (%s)", kty,
	       pa_escape(crv, strlen(crv), esc, sizeof(esc)),
	       strcmp(kty, "EC") == 0 ? "P-256, P-384, P-521" : "Ed25519");
	return false;
}

/*
 * Checks the members that say what a JWK may be used for: no private
 * member, "use" absent/"sig"/"jwt-svid"/"wit-svid", "key_ops" absent or an array of
 * strings naming "verify", "kid" and "alg" strings when present.
 */
static int jwk_check_usage(const json_t *jwk, char *err, size_t errlen)
{
	const json_t *ops, *op;
	const char *use = NULL, *s = NULL;
	bool verify = false;
	size_t i;

	for (i = 0; i < PA_ARRAY_SIZE(private_members); i++)
		if (json_object_get(jwk, private_members[i]) != NULL)
			return pa_err(err, errlen,
				      "JWK has the private member \"%s\": only public keys belong in a key set",
				      private_members[i]);
	if (jwk_string(jwk, "use", &use, err, errlen) != 0)
		return -1;
	if (use != NULL && strcmp(use, "sig") != 0 && strcmp(use, "jwt-svid") != 0 &&
	    strcmp(use, "wit-svid") != 0) {
		char esc[PA_ESCAPE_MAX];

		return pa_err(err, errlen, "JWK \"use\" is \"%s\", not a signature use",
			      pa_escape(use, strlen(use), esc, sizeof(esc)));
	}
	ops = json_object_get(jwk, "key_ops");
	if (ops != NULL) {
		if (!json_is_array(ops))
			return pa_err(err, errlen, "JWK \"key_ops\" is not an array");
		json_array_foreach(ops, i, op) {
			if (!json_is_string(op))
				return pa_err(err, errlen, "JWK \"key_ops\" has a non-string member");
			if (strcmp(json_string_value(op), "verify") == 0)
				verify = true;
		}
		if (!verify)
			return pa_err(err, errlen, "JWK \"key_ops\" does not include \"verify\"");
	}
	if (jwk_string(jwk, "kid", &s, err, errlen) != 0 ||
	    jwk_string(jwk, "alg", &s, err, errlen) != 0)
		return -1;
	return 0;
}

/*
 * Copies the optional thumbprint member name ("x5t", "x5t#S256": the
 * base64url SHA-1 / SHA-256 of a certificate, RFC 7517 §4.8-4.9) into
 * *out. It must be strict base64url of the digest's length.
 */
static int jwk_thumbprint(const json_t *jwk, const char *name, char **out,
			  char *err, size_t errlen)
{
	size_t want = strcmp(name, "x5t") == 0 ? 20 : 32;
	unsigned char *raw = NULL;
	const char *s = NULL;
	size_t rawlen = 0;

	*out = NULL;
	if (jwk_string(jwk, name, &s, err, errlen) != 0)
		return -1;
	if (s == NULL)
		return 0;
	if (id_b64url_decode(s, strlen(s), &raw, &rawlen) != 0 || rawlen != want) {
		free(raw);
		return pa_err(err, errlen, "JWK member \"%s\" is not the base64url of %zu bytes",
			      name, want);
	}
	free(raw);
	*out = strdup(s);
	if (*out == NULL)
		return pa_err(err, errlen, "out of memory");
	return 0;
}

void id_jwk_ctx_clear(struct id_jwk_ctx *c)
{
	size_t i;

	for (i = 0; i < ID_EC_CURVES; i++) {
		EVP_PKEY_free(c->ec[i]);
		c->ec[i] = NULL;
	}
}

/* Loads one public JWK as a verification key (see identity.h). */
struct id_key *id_key_from_jwk(const json_t *jwk, char *err, size_t errlen)
{
	return id_key_from_jwk_ctx(jwk, NULL, err, errlen);
}

struct id_key *id_key_from_jwk_ctx(const json_t *jwk, struct id_jwk_ctx *c, char *err,
				   size_t errlen)
{
	struct id_key *key = NULL;
	EVP_PKEY *pkey = NULL;
	const char *kty = NULL, *kid = NULL, *alg = NULL;

	if (!json_is_object(jwk)) {
		pa_err(err, errlen, "JWK is not a JSON object");
		return NULL;
	}
	if (jwk_check_usage(jwk, err, errlen) != 0 ||
	    jwk_string(jwk, "kty", &kty, err, errlen) != 0)
		goto fail;
	if (kty == NULL) {
		pa_err(err, errlen, "JWK without \"kty\"");
		goto fail;
	}
	if (strcmp(kty, "RSA") == 0) {
		pkey = jwk_rsa(jwk, err, errlen);
	} else if (strcmp(kty, "EC") == 0) {
		pkey = jwk_ec(jwk, c, err, errlen);
	} else if (strcmp(kty, "OKP") == 0) {
		pkey = jwk_okp(jwk, err, errlen);
	} else {
		char esc[PA_ESCAPE_MAX];

		pa_err(err, errlen, "JWK \"kty\" \"%s\" is not accepted (RSA, EC, OKP only)",
		       pa_escape(kty, strlen(kty), esc, sizeof(esc)));
	}
	if (pkey == NULL)
		goto fail;
	kid = json_string_value(json_object_get(jwk, "kid"));
	alg = json_string_value(json_object_get(jwk, "alg"));
	/* jwk_ec's import (or replaced point) refused one out of range or off the curve */
	key = id_key_wrap(pkey, kid, strcmp(kty, "EC") == 0, err, errlen);
	if (key == NULL)
		goto fail;
	if (alg != NULL && (key->alg = strdup(alg)) == NULL) {
		pa_err(err, errlen, "out of memory");
		goto fail;
	}
	if (jwk_thumbprint(jwk, "x5t", &key->x5t, err, errlen) != 0 ||
	    jwk_thumbprint(jwk, "x5t#S256", &key->x5t256, err, errlen) != 0)
		goto fail;
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	return key;
fail:
	id_key_free(key);
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	return NULL;
}
