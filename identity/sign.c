/*
 * sign.c - JWS signing (RFC 7515 compact form) for the test CA and minted
 * grants: key generation, PEM load/save, RFC 7638 kids, public JWKs.
 *
 * The output is what the verifier in this directory accepts: header
 * {"alg","kid","typ":"JWT"}, ECDSA signatures as raw r||s padded to the
 * coordinate length (RFC 7518 §3.4), RSA-PSS with MGF1 on the same hash
 * and a salt as long as the hash (RFC 7518 §3.5), Ed25519 (RFC 8037).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "identity.h"
#include "key_int.h"
#include "pa_json.h"
#include "util.h"
#include "x509_int.h"

/* RSA keys made by id_signer_generate(). */
#define SIGN_RSA_BITS 3072
/* Smallest RSA key id_signer_load() accepts (RFC 7518 §3.3). */
#define SIGN_RSA_MIN_BITS 2048
/* Largest PEM key file read. */
#define SIGN_KEY_FILE_MAX (64 * 1024)
/* Length of a base64url SHA-256 thumbprint, without NUL. */
#define SIGN_KID_LEN 43

enum sign_kind { SIGN_RSA_PKCS1 = 1, SIGN_RSA_PSS, SIGN_ECDSA, SIGN_EDDSA };

/* What each algorithm needs: key type, digest, and for EC the curve. */
struct sign_alg {
	enum id_alg alg;
	enum sign_kind kind;
	const EVP_MD *(*md)(void); /* NULL for EdDSA */
	const char *group;	   /* EC: OpenSSL group name */
	const char *crv;	   /* EC / OKP: JOSE curve name */
	size_t coord_len;	   /* EC: bytes per coordinate */
};

static const struct sign_alg sign_algs[] = {
	{ ID_ALG_RS256, SIGN_RSA_PKCS1, EVP_sha256, NULL, NULL, 0 },
	{ ID_ALG_RS384, SIGN_RSA_PKCS1, EVP_sha384, NULL, NULL, 0 },
	{ ID_ALG_RS512, SIGN_RSA_PKCS1, EVP_sha512, NULL, NULL, 0 },
	{ ID_ALG_PS256, SIGN_RSA_PSS, EVP_sha256, NULL, NULL, 0 },
	{ ID_ALG_PS384, SIGN_RSA_PSS, EVP_sha384, NULL, NULL, 0 },
	{ ID_ALG_PS512, SIGN_RSA_PSS, EVP_sha512, NULL, NULL, 0 },
	{ ID_ALG_ES256, SIGN_ECDSA, EVP_sha256, "prime256v1", "P-256", 32 },
	{ ID_ALG_ES384, SIGN_ECDSA, EVP_sha384, "secp384r1", "P-384", 48 },
	{ ID_ALG_ES512, SIGN_ECDSA, EVP_sha512, "secp521r1", "P-521", 66 },
	{ ID_ALG_EDDSA, SIGN_EDDSA, NULL, NULL, "Ed25519", 0 },
};

struct id_signer {
	EVP_PKEY *pkey;
	const struct sign_alg *alg;
	char kid[SIGN_KID_LEN + 1];
	EVP_MD_CTX *proto; /* signing set up once (sign_init), NULL for EdDSA */
};

/* The table entry of alg, or NULL for ID_ALG_NONE and unknown values. */
static const struct sign_alg *sign_alg_find(enum id_alg alg)
{
	size_t i;

	for (i = 0; i < PA_ARRAY_SIZE(sign_algs); i++)
		if (sign_algs[i].alg == alg)
			return &sign_algs[i];
	return NULL;
}

/* The JOSE name of an algorithm we sign with, for messages. */
static const char *sign_alg_label(enum id_alg alg)
{
	const char *name = id_alg_name(alg);

	return name != NULL ? name : "none";
}

/* Sets "name": base64url(buf) in obj. Returns 0 or -1. */
static int set_b64(json_t *obj, const char *name, const unsigned char *buf,
		   size_t len)
{
	char *s = id_b64url_encode(buf, len);
	int rc;

	if (s == NULL)
		return -1;
	rc = json_object_set_new(obj, name, json_string(s));
	free(s);
	return rc;
}

/* Sets "name": base64url(big-endian bn, padded to pad bytes when pad > 0). */
static int set_b64_bn(json_t *obj, const char *name, const BIGNUM *bn,
		      size_t pad)
{
	unsigned char *buf;
	size_t len = pad > 0 ? pad : (size_t)BN_num_bytes(bn);
	int rc = -1;

	if (len == 0 || (size_t)BN_num_bytes(bn) > len)
		return -1;
	buf = malloc(len);
	if (buf == NULL)
		return -1;
	if (BN_bn2binpad(bn, buf, (int)len) == (int)len)
		rc = set_b64(obj, name, buf, len);
	free(buf);
	return rc;
}

/*
 * The JWK members RFC 7638 §3.2 requires for the public key, and nothing
 * else: {e, kty, n} for RSA, {crv, kty, x, y} for EC, {crv, kty, x} for
 * OKP. New JSON object, or NULL.
 */
static json_t *public_members(const EVP_PKEY *pkey, const struct sign_alg *a)
{
	json_t *obj = json_object();
	BIGNUM *b1 = NULL, *b2 = NULL;
	unsigned char raw[32];
	size_t rawlen = sizeof(raw);
	int ok = 0;

	if (obj == NULL)
		return NULL;
	switch (a->kind) {
	case SIGN_RSA_PKCS1:
	case SIGN_RSA_PSS:
		ok = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &b1) == 1 &&
		     EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &b2) == 1 &&
		     json_object_set_new(obj, "kty", json_string("RSA")) == 0 &&
		     set_b64_bn(obj, "n", b1, 0) == 0 && set_b64_bn(obj, "e", b2, 0) == 0;
		break;
	case SIGN_ECDSA:
		ok = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &b1) == 1 &&
		     EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &b2) == 1 &&
		     json_object_set_new(obj, "kty", json_string("EC")) == 0 &&
		     json_object_set_new(obj, "crv", json_string(a->crv)) == 0 &&
		     set_b64_bn(obj, "x", b1, a->coord_len) == 0 &&
		     set_b64_bn(obj, "y", b2, a->coord_len) == 0;
		break;
	case SIGN_EDDSA:
		ok = EVP_PKEY_get_raw_public_key(pkey, raw, &rawlen) == 1 &&
		     rawlen == sizeof(raw) &&
		     json_object_set_new(obj, "kty", json_string("OKP")) == 0 &&
		     json_object_set_new(obj, "crv", json_string(a->crv)) == 0 &&
		     set_b64(obj, "x", raw, rawlen) == 0;
		break;
	}
	BN_free(b1);
	BN_free(b2);
	if (!ok) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

/*
 * Writes the RFC 7638 thumbprint of pkey into kid: base64url of SHA-256
 * over the required members, lexicographically ordered, no whitespace.
 * Returns 0 or -1.
 */
static int thumbprint(const EVP_PKEY *pkey, const struct sign_alg *a,
		      char kid[SIGN_KID_LEN + 1])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	json_t *members = public_members(pkey, a);
	char *canon = NULL, *b64 = NULL;
	int rc = -1;

	if (members == NULL)
		return -1;
	/* all values are base64url or fixed ASCII: nothing jansson escapes */
	canon = pa_json_dumps(members, JSON_COMPACT | JSON_SORT_KEYS);
	if (canon == NULL)
		goto out;
	if (EVP_Digest(canon, strlen(canon), md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != sizeof(md))
		goto out;
	b64 = id_b64url_encode(md, sizeof(md));
	if (b64 == NULL || strlen(b64) != SIGN_KID_LEN)
		goto out;
	memcpy(kid, b64, SIGN_KID_LEN + 1);
	rc = 0;
out:
	free(b64);
	free(canon);
	json_decref(members);
	return rc;
}

/*
 * Whether pkey is a private key of the type alg needs: RSA of at least
 * SIGN_RSA_MIN_BITS for RS/PS, EC on the alg's curve for ES, Ed25519 for
 * EdDSA. Returns 0 or -1 with err.
 */
static int check_key(const EVP_PKEY *pkey, const struct sign_alg *a,
		     char *err, size_t errlen)
{
	const char *name = sign_alg_label(a->alg);
	char group[64];
	size_t glen = 0;

	switch (a->kind) {
	case SIGN_RSA_PKCS1:
	case SIGN_RSA_PSS:
		if (!EVP_PKEY_is_a(pkey, "RSA"))
			return pa_err(err, errlen, "%s needs an RSA key", name);
		if (EVP_PKEY_get_bits(pkey) < SIGN_RSA_MIN_BITS)
			return pa_err(err, errlen, "RSA key of %d bits is too short (at least %d)",
				      EVP_PKEY_get_bits(pkey), SIGN_RSA_MIN_BITS);
		return 0;
	case SIGN_ECDSA:
		if (!EVP_PKEY_is_a(pkey, "EC"))
			return pa_err(err, errlen, "%s needs an EC key on %s", name, a->crv);
		if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) != 1 ||
		    strcmp(group, a->group) != 0)
			return pa_err(err, errlen, "%s needs an EC key on %s", name, a->crv);
		return 0;
	case SIGN_EDDSA:
		if (!EVP_PKEY_is_a(pkey, "ED25519"))
			return pa_err(err, errlen, "%s needs an Ed25519 key", name);
		return 0;
	}
	return pa_err(err, errlen, "unsupported algorithm");
}

/* Sets ctx up to sign with pkey as a says (digest, RSA padding). 0 or -1. */
static int sign_init(EVP_MD_CTX *ctx, EVP_PKEY *pkey, const struct sign_alg *a)
{
	const EVP_MD *md = a->md != NULL ? a->md() : NULL;
	EVP_PKEY_CTX *pctx = NULL;

	if (EVP_DigestSignInit(ctx, &pctx, md, NULL, pkey) != 1)
		return -1;
	if (a->kind == SIGN_RSA_PKCS1 &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
		return -1;
	if (a->kind == SIGN_RSA_PSS &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
		return -1;
	return 0;
}

/*
 * Wraps pkey (taking ownership) with its kid and, for RSA and ECDSA, its
 * signing set up once: a setup fetches the algorithm and the digest again,
 * about a fifth of an ES256 signature, and each signature starts from a
 * copy instead (sign_bytes). NULL with err on failure.
 */
static struct id_signer *signer_new(EVP_PKEY *pkey, const struct sign_alg *a,
				    char *err, size_t errlen)
{
	struct id_signer *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		EVP_PKEY_free(pkey);
		pa_err(err, errlen, "out of memory");
		return NULL;
	}
	s->pkey = pkey;
	s->alg = a;
	if (thumbprint(pkey, a, s->kid) != 0) {
		id_signer_free(s);
		pa_err(err, errlen, "cannot compute the key thumbprint");
		return NULL;
	}
	if (a->md != NULL &&
	    ((s->proto = EVP_MD_CTX_new()) == NULL || sign_init(s->proto, pkey, a) != 0)) {
		id_signer_free(s);
		ERR_clear_error();
		pa_err(err, errlen, "cannot set up %s signing", sign_alg_label(a->alg));
		return NULL;
	}
	return s;
}

/*
 * Generates a fresh key for alg: EC on the alg's curve, RSA 3072 for RS*
 * and PS*, Ed25519 for EdDSA. Refuses ID_ALG_NONE and unknown values.
 */
struct id_signer *id_signer_generate(enum id_alg alg, char *err, size_t errlen)
{
	const struct sign_alg *a = sign_alg_find(alg);
	EVP_PKEY *pkey = NULL;

	if (a == NULL) {
		pa_err(err, errlen, "cannot sign with algorithm %s", sign_alg_label(alg));
		return NULL;
	}
	switch (a->kind) {
	case SIGN_RSA_PKCS1:
	case SIGN_RSA_PSS:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)SIGN_RSA_BITS);
		break;
	case SIGN_ECDSA:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", a->group);
		break;
	case SIGN_EDDSA:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	}
	if (pkey == NULL) {
		ERR_clear_error();
		pa_err(err, errlen, "%s key generation failed", sign_alg_label(alg));
		return NULL;
	}
	return signer_new(pkey, a, err, errlen);
}

struct id_signer *id_signer_from_pkey(EVP_PKEY *pkey, enum id_alg alg, char *err, size_t errlen)
{
	const struct sign_alg *a = sign_alg_find(alg);

	if (a == NULL) {
		EVP_PKEY_free(pkey);
		pa_err(err, errlen, "cannot sign with algorithm %s", sign_alg_label(alg));
		return NULL;
	}
	if (check_key(pkey, a, err, errlen) != 0) {
		EVP_PKEY_free(pkey);
		return NULL;
	}
	return signer_new(pkey, a, err, errlen);
}

/* PEM passphrase callback that refuses: encrypted keys are not supported,
 * and OpenSSL's default callback would prompt on the terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/*
 * The key in bio, of keytype (an OpenSSL key type name) when not NULL: a
 * decoder of that type only, which OpenSSL 3.0 sets up in a fraction of
 * the time it takes to try every decoder (the helper loads the broker key
 * once per process; docs/performance.md).
 */
static EVP_PKEY *pem_key_decode(BIO *bio, const char *keytype)
{
	OSSL_DECODER_CTX *dctx;
	EVP_PKEY *pkey = NULL;

	if (keytype == NULL)
		return PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, keytype, EVP_PKEY_KEYPAIR, NULL,
					     NULL);
	if (dctx == NULL || OSSL_DECODER_CTX_set_pem_password_cb(dctx, no_passphrase, NULL) != 1 ||
	    OSSL_DECODER_from_bio(dctx, bio) != 1) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	OSSL_DECODER_CTX_free(dctx);
	/* not such a key: decoded as any, so that the caller says what it is */
	if (pkey == NULL && BIO_reset(bio) == 1) /* a memory BIO: 1 is success */
		pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	return pkey;
}

/* id_pem_key_read, decoding keys of keytype only when it is not NULL. */
static EVP_PKEY *pem_key_read(const char *path, const struct pa_file_rules *rules,
			      const char *keytype, char *err, size_t errlen)
{
	char shown[PA_ESCAPE_MAX], *buf = NULL;
	size_t len = 0;
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;

	if (pa_read_file_safely(path, rules, &buf, &len, err, errlen) != 0)
		return NULL;
	if (len > 0 && len <= rules->max_size)
		bio = BIO_new_mem_buf(buf, (int)len);
	if (bio != NULL)
		pkey = pem_key_decode(bio, keytype);
	BIO_free(bio);
	pa_free_secret_buf(buf, len);
	/* the decoders may queue errors even on success; never leave them */
	ERR_clear_error();
	if (pkey == NULL)
		pa_err(err, errlen, "%s: not an unencrypted PEM private key",
		       pa_escape(path, strlen(path), shown, sizeof(shown)));
	return pkey;
}

EVP_PKEY *id_pem_key_read(const char *path, const struct pa_file_rules *rules, char *err,
			  size_t errlen)
{
	return pem_key_read(path, rules, NULL, err, errlen);
}

/*
 * Loads a PEM private key for alg from path: a regular file (not a
 * symlink) owned by the effective uid with no group/other permission bits,
 * unencrypted, of the type alg needs. The file's bytes are wiped.
 */
struct id_signer *id_signer_load(const char *path, enum id_alg alg,
				 char *err, size_t errlen)
{
	const struct pa_file_rules rules = {
		.owner = geteuid(),
		.forbid_mode = 077,
		.max_size = SIGN_KEY_FILE_MAX,
	};
	const struct sign_alg *a = sign_alg_find(alg);
	char shown[PA_ESCAPE_MAX], reason[256];
	EVP_PKEY *pkey;

	if (path == NULL) {
		pa_err(err, errlen, "no signing key path");
		return NULL;
	}
	pa_escape(path, strlen(path), shown, sizeof(shown));
	if (a == NULL) {
		pa_err(err, errlen, "%s: cannot sign with algorithm %s", shown,
		       sign_alg_label(alg));
		return NULL;
	}
	/* an EC key is decoded as one (check_key still checks its curve) */
	pkey = pem_key_read(path, &rules, a->kind == SIGN_ECDSA ? "EC" : NULL, err, errlen);
	if (pkey == NULL)
		return NULL;
	if (check_key(pkey, a, reason, sizeof(reason)) != 0) {
		EVP_PKEY_free(pkey);
		pa_err(err, errlen, "%s: %s", shown, reason);
		return NULL;
	}
	return signer_new(pkey, a, err, errlen);
}

/* Writes all of buf to fd. Returns 0 or -1 with errno. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Writes the private key as unencrypted PKCS#8 PEM to a new file at path
 * (never an existing file or a symlink), mode 0600, fsync'ed. On failure
 * the file it created is removed again; no partial key is left behind.
 */
int id_signer_save(const struct id_signer *s, const char *path,
		   char *err, size_t errlen)
{
	char shown[PA_ESCAPE_MAX];
	struct stat st, cur;
	BIO *mem = NULL;
	char *pem = NULL;
	long pemlen;
	int fd = -1, rc = -1;

	if (s == NULL || path == NULL)
		return pa_err(err, errlen, "no signing key or path");
	pa_escape(path, strlen(path), shown, sizeof(shown));
	/* secure-heap memory BIO: its buffer is wiped when it grows and on free */
	mem = BIO_new(BIO_s_secmem());
	if (mem == NULL || PEM_write_bio_PrivateKey(mem, s->pkey, NULL, NULL, 0,
						    NULL, NULL) != 1) {
		ERR_clear_error();
		pa_err(err, errlen, "%s: cannot encode the private key", shown);
		goto out;
	}
	pemlen = BIO_get_mem_data(mem, &pem);
	if (pemlen <= 0 || pem == NULL) {
		pa_err(err, errlen, "%s: cannot encode the private key", shown);
		goto out;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
		  0600);
	if (fd < 0) {
		if (errno == EEXIST)
			pa_err(err, errlen, "%s: already exists (not overwriting a key)", shown);
		else
			pa_err(err, errlen, "%s: cannot create: %s", shown, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		pa_err(err, errlen, "%s: cannot stat: %s", shown, strerror(errno));
		goto remove;
	}
	if (fchmod(fd, 0600) != 0 || write_all(fd, pem, (size_t)pemlen) != 0 ||
	    fsync(fd) != 0) {
		pa_err(err, errlen, "%s: cannot write: %s", shown, strerror(errno));
		goto remove;
	}
	if (close(fd) != 0) {
		fd = -1;
		pa_err(err, errlen, "%s: cannot write: %s", shown, strerror(errno));
		goto remove;
	}
	fd = -1;
	rc = 0;
	goto out;
remove:
	/* remove what we created, and only that */
	if (lstat(path, &cur) == 0 && cur.st_dev == st.st_dev && cur.st_ino == st.st_ino)
		(void)unlink(path);
out:
	if (fd >= 0)
		close(fd);
	BIO_free(mem);
	return rc;
}

/* Frees the signer and its key. NULL is fine. */
void id_signer_free(struct id_signer *s)
{
	if (s == NULL)
		return;
	EVP_MD_CTX_free(s->proto);
	EVP_PKEY_free(s->pkey);
	free(s);
}

/* The key of a signer, borrowed (x509_int.h). */
EVP_PKEY *id_signer_pkey(const struct id_signer *s)
{
	return s != NULL ? s->pkey : NULL;
}

/* The signer's kid: the base64url RFC 7638 SHA-256 thumbprint. */
const char *id_signer_kid(const struct id_signer *s)
{
	return s != NULL ? s->kid : NULL;
}

/*
 * The public JWK of the signer: the RFC 7638 members plus "kid", "alg"
 * and, when use is not NULL, "use". Never a private member. NULL on
 * failure.
 */
json_t *id_signer_public_jwk(const struct id_signer *s, const char *use)
{
	json_t *jwk;

	if (s == NULL)
		return NULL;
	jwk = public_members(s->pkey, s->alg);
	if (jwk == NULL)
		return NULL;
	if (json_object_set_new(jwk, "kid", json_string(s->kid)) != 0 ||
	    json_object_set_new(jwk, "alg", json_string(sign_alg_label(s->alg->alg))) != 0 ||
	    (use != NULL && json_object_set_new(jwk, "use", json_string(use)) != 0)) {
		json_decref(jwk);
		return NULL;
	}
	return jwk;
}

/*
 * Converts a DER ECDSA signature to the JOSE form: r and s big-endian,
 * each left-padded to the coordinate length. Returns 0 or -1.
 */
static int ecdsa_der_to_raw(const unsigned char *der, size_t derlen,
			    size_t coord_len, unsigned char *out)
{
	const unsigned char *p = der;
	const BIGNUM *r, *s;
	ECDSA_SIG *sig;
	int rc = -1;

	if (derlen > LONG_MAX)
		return -1;
	sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
	if (sig == NULL)
		return -1;
	ECDSA_SIG_get0(sig, &r, &s);
	if (p == der + derlen &&
	    BN_bn2binpad(r, out, (int)coord_len) == (int)coord_len &&
	    BN_bn2binpad(s, out + coord_len, (int)coord_len) == (int)coord_len)
		rc = 0;
	ECDSA_SIG_free(sig);
	return rc;
}

/*
 * Signs msg with the signer's key and algorithm; *sig is a heap buffer of
 * *siglen bytes in JOSE form. Returns 0 or -1 with err.
 */
static int sign_bytes(const struct id_signer *s, const unsigned char *msg,
		      size_t msglen, unsigned char **sig, size_t *siglen,
		      char *err, size_t errlen)
{
	const struct sign_alg *a = s->alg;
	EVP_MD_CTX *ctx = NULL;
	unsigned char *der = NULL, *raw = NULL;
	size_t derlen, cap = 0;
	int size, rc = -1;

	*sig = NULL;
	*siglen = 0;
	size = EVP_PKEY_get_size(s->pkey);
	if (size <= 0)
		return pa_err(err, errlen, "signing key has no size");
	cap = (size_t)size;
	derlen = cap;
	ctx = EVP_MD_CTX_new();
	der = malloc(cap);
	if (ctx == NULL || der == NULL) {
		pa_err(err, errlen, "out of memory");
		goto out;
	}
	if ((s->proto != NULL ? EVP_MD_CTX_copy_ex(ctx, s->proto) != 1
			      : sign_init(ctx, s->pkey, a) != 0))
		goto ossl_fail;
	/* one signature per context: without FINALISE, OpenSSL 3.0's final
	 * step copies the whole context first so that it could go on */
	EVP_MD_CTX_set_flags(ctx, EVP_MD_CTX_FLAG_FINALISE);
	if (EVP_DigestSign(ctx, der, &derlen, msg, msglen) != 1)
		goto ossl_fail;

	if (a->kind == SIGN_ECDSA) {
		raw = malloc(2 * a->coord_len);
		if (raw == NULL) {
			pa_err(err, errlen, "out of memory");
			goto out;
		}
		if (ecdsa_der_to_raw(der, derlen, a->coord_len, raw) != 0) {
			pa_free_secret_buf(raw, 2 * a->coord_len);
			pa_err(err, errlen, "cannot convert the ECDSA signature");
			goto out;
		}
		*sig = raw;
		*siglen = 2 * a->coord_len;
	} else {
		*sig = der;
		*siglen = derlen;
		der = NULL;
	}
	rc = 0;
	goto out;
ossl_fail:
	ERR_clear_error();
	pa_err(err, errlen, "%s signing failed", sign_alg_label(a->alg));
out:
	pa_free_secret_buf(der, cap);
	EVP_MD_CTX_free(ctx);
	return rc;
}

int id_signer_sign(const struct id_signer *s, const void *msg, size_t len, unsigned char **sig,
		   size_t *siglen, char *err, size_t errlen)
{
	return sign_bytes(s, msg, len, sig, siglen, err, errlen);
}

/* Returns a heap string "a.b", or NULL. */
static char *join_dot(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *out = malloc(la + lb + 2);

	if (out == NULL)
		return NULL;
	memcpy(out, a, la);
	out[la] = '.';
	memcpy(out + la + 1, b, lb + 1);
	return out;
}

/*
 * Signs claims (a JSON object, serialized compactly with sorted keys) as a
 * compact JWS with header {"alg","kid","typ"}. Every intermediate
 * buffer is wiped. Returns a heap string the caller wipes and frees, or
 * NULL with err.
 */
char *id_sign_jwt(const struct id_signer *s, const json_t *claims,
		  char *err, size_t errlen)
{
	return id_sign_jws(s, "JWT", claims, err, errlen);
}

char *id_sign_jws(const struct id_signer *s, const char *typ, const json_t *claims,
		  char *err, size_t errlen)
{
	json_t *header = NULL;
	char *hdr_json = NULL, *claims_json = NULL, *h64 = NULL, *c64 = NULL;
	char *input = NULL, *s64 = NULL, *token = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0;

	if (s == NULL || !json_is_object(claims)) {
		pa_err(err, errlen, "claims must be a JSON object");
		return NULL;
	}
	header = json_pack("{s:s, s:s, s:s}", "alg", sign_alg_label(s->alg->alg),
			   "kid", s->kid, "typ", typ);
	if (header == NULL)
		goto nomem;
	hdr_json = pa_json_dumps(header, JSON_COMPACT | JSON_SORT_KEYS);
	claims_json = pa_json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS);
	if (hdr_json == NULL || claims_json == NULL)
		goto nomem;
	h64 = id_b64url_encode((const unsigned char *)hdr_json, strlen(hdr_json));
	c64 = id_b64url_encode((const unsigned char *)claims_json, strlen(claims_json));
	if (h64 == NULL || c64 == NULL)
		goto nomem;
	input = join_dot(h64, c64);
	if (input == NULL)
		goto nomem;
	/* a token the verifier would refuse for its size is not worth signing */
	if (strlen(input) >= ID_TOKEN_MAX) {
		pa_err(err, errlen, "claims too large for a token (limit %d bytes)",
		       ID_TOKEN_MAX);
		goto out;
	}
	if (sign_bytes(s, (const unsigned char *)input, strlen(input), &sig, &siglen,
		       err, errlen) != 0)
		goto out;
	s64 = id_b64url_encode(sig, siglen);
	if (s64 == NULL)
		goto nomem;
	token = join_dot(input, s64);
	if (token == NULL)
		goto nomem;
	if (strlen(token) > ID_TOKEN_MAX) {
		pa_free_secret(token);
		token = NULL;
		pa_err(err, errlen, "claims too large for a token (limit %d bytes)",
		       ID_TOKEN_MAX);
	}
	goto out;
nomem:
	pa_err(err, errlen, "out of memory while signing");
out:
	json_decref(header);
	pa_free_secret(hdr_json);
	pa_free_secret(claims_json);
	pa_free_secret(h64);
	pa_free_secret(c64);
	pa_free_secret(input);
	pa_free_secret(s64);
	pa_free_secret_buf(sig, siglen);
	return token;
}
