/*
 * test_identity.c - unit tests of the identity engine's verifier: base64url,
 * JWKs and key sets, compact JWS parsing, SPIFFE IDs and the whole token
 * pipeline. Every rejection test starts from a token that is accepted and
 * changes exactly one thing, then checks the reason names that thing.
 *
 * Keys are generated at test time and tokens are signed here with plain
 * OpenSSL EVP calls, so these tests do not depend on the project's signer.
 * Fixtures made by an independent implementation (Python cryptography) are
 * read from $PA_TEST_DATA/independent (default tests/data/independent).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "identity.h"
#include "util.h"

#define NOW ((int64_t)1700000000)
#define AUD "spiffe://example.org/host/web01"
#define SUB "spiffe://example.org/agents/bot"
#define IDP "https://idp.example.test"
#define IDP2 "https://idp2.example.test"
#define IDP_AUD "pam-agent-test"
#define LEEWAY 30
#define MAX_AGE 600

/* ---- test-local JOSE helpers (independent of the project's signer) ---- */

enum key_ix { K_RSA, K_RSA_B, K_EC256, K_EC384, K_EC521, K_ED, K_OTHER, K_COUNT };

static struct {
	EVP_PKEY *keys[K_COUNT];
	char dir[64];
	struct id_verifier v;
} F;

/* Base64url without padding, made with OpenSSL's base64 encoder. */
static char *b64u(const void *in, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);
	int n, i, o = 0;

	assert_non_null(out);
	n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	for (i = 0; i < n; i++) {
		if (out[i] == '=')
			break;
		out[o++] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	}
	out[o] = '\0';
	return out;
}

/* The digest of a JOSE alg; NULL for EdDSA. */
static const EVP_MD *md_of(enum id_alg alg)
{
	switch (alg) {
	case ID_ALG_RS256: case ID_ALG_PS256: case ID_ALG_ES256: return EVP_sha256();
	case ID_ALG_RS384: case ID_ALG_PS384: case ID_ALG_ES384: return EVP_sha384();
	case ID_ALG_RS512: case ID_ALG_PS512: case ID_ALG_ES512: return EVP_sha512();
	default: return NULL;
	}
}

/* Bytes per coordinate (and per r, s) of the curve of an ES* alg. */
static size_t coord_of(enum id_alg alg)
{
	return alg == ID_ALG_ES256 ? 32 : alg == ID_ALG_ES384 ? 48 : 66;
}

#define SIGN_DER 0x01	   /* keep OpenSSL's DER ECDSA signature */
#define SIGN_SALT0 0x02	   /* PSS with salt length 0 */
#define SIG_EMPTY 0x04	   /* no signature at all */
#define SIG_ZERO 0x08	   /* ECDSA r = s = 0 */
#define SIG_R_IS_N 0x10	   /* ECDSA r = n (the group order) */
#define SIGN_HS_PUB 0x20   /* HMAC-SHA256 keyed with the RSA public key PEM */
#define SIG_FLIP 0x40	   /* one signature byte changed */
#define SIG_RSA_PAD0 0x80  /* RSA signature with a leading zero byte added */

/* Signs msg the JOSE way; returns the raw JWS signature bytes. */
static unsigned char *sign_msg(enum id_alg alg, EVP_PKEY *pkey, const char *msg,
			       int flags, size_t *siglen)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *sig = NULL, *raw;
	size_t len = 0;

	assert_non_null(mctx);
	assert_int_equal(EVP_DigestSignInit(mctx, &pctx, md_of(alg), NULL, pkey), 1);
	if (alg >= ID_ALG_PS256 && alg <= ID_ALG_PS512) {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md_of(alg)), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
			(flags & SIGN_SALT0) ? 0 : RSA_PSS_SALTLEN_DIGEST), 1);
	}
	assert_int_equal(EVP_DigestSign(mctx, NULL, &len, (const unsigned char *)msg,
					strlen(msg)), 1);
	sig = malloc(len + 1); /* one spare byte for SIG_RSA_PAD0 */
	assert_non_null(sig);
	assert_int_equal(EVP_DigestSign(mctx, sig, &len, (const unsigned char *)msg,
					strlen(msg)), 1);
	EVP_MD_CTX_free(mctx);
	if (flags & SIG_RSA_PAD0) {
		memmove(sig + 1, sig, len);
		sig[0] = 0;
		len++;
	}
	if (alg >= ID_ALG_ES256 && alg <= ID_ALG_ES512 && !(flags & SIGN_DER)) {
		const unsigned char *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
		const BIGNUM *r, *s;
		size_t c = coord_of(alg);

		assert_non_null(es);
		ECDSA_SIG_get0(es, &r, &s);
		raw = malloc(2 * c);
		assert_non_null(raw);
		assert_int_equal(BN_bn2binpad(r, raw, (int)c), (int)c);
		assert_int_equal(BN_bn2binpad(s, raw + c, (int)c), (int)c);
		ECDSA_SIG_free(es);
		free(sig);
		sig = raw;
		len = 2 * c;
		if (flags & SIG_ZERO)
			memset(sig, 0, len);
		if (flags & SIG_R_IS_N) {
			EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);

			assert_non_null(g);
			assert_int_equal(BN_bn2binpad(EC_GROUP_get0_order(g), sig, 32), 32);
			EC_GROUP_free(g);
		}
	}
	if (flags & SIG_FLIP)
		sig[len / 2] ^= 0x01;
	*siglen = len;
	return sig;
}

/* HMAC-SHA256 of msg keyed with the PEM encoding of an RSA public key. */
static unsigned char *hmac_with_pubkey(EVP_PKEY *rsa, const char *msg, size_t *siglen)
{
	BIO *bio = BIO_new(BIO_s_mem());
	unsigned char *sig = malloc(EVP_MAX_MD_SIZE);
	char *pem = NULL;
	long pemlen;

	assert_non_null(bio);
	assert_non_null(sig);
	assert_int_equal(PEM_write_bio_PUBKEY(bio, rsa), 1);
	pemlen = BIO_get_mem_data(bio, &pem);
	assert_true(pemlen > 0);
	assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, pem, (size_t)pemlen,
				  (const unsigned char *)msg, strlen(msg), sig,
				  EVP_MAX_MD_SIZE, siglen));
	BIO_free(bio);
	return sig;
}

/* A compact JWS over header and claims text, signed as flags say. */
static char *make_token(enum id_alg alg, EVP_PKEY *pkey, const char *header,
			const char *claims, int flags)
{
	char *h = b64u(header, strlen(header)), *p = b64u(claims, strlen(claims));
	char *input = NULL, *sig64 = NULL, *tok = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0;

	assert_true(asprintf(&input, "%s.%s", h, p) > 0);
	if (flags & SIGN_HS_PUB)
		sig = hmac_with_pubkey(pkey, input, &siglen);
	else if (!(flags & SIG_EMPTY))
		sig = sign_msg(alg, pkey, input, flags, &siglen);
	sig64 = sig != NULL ? b64u(sig, siglen) : strdup("");
	assert_true(asprintf(&tok, "%s.%s", input, sig64) > 0);
	free(h);
	free(p);
	free(input);
	free(sig);
	free(sig64);
	return tok;
}

/* The default claims of an accepted JWT-SVID at NOW. */
static json_t *default_claims(void)
{
	json_t *c = json_pack("{s:s, s:s, s:I, s:I, s:s}", "sub", SUB, "aud", AUD,
			      "iat", (json_int_t)(NOW - 10), "exp", (json_int_t)(NOW + 290),
			      "jti", "jti-1");

	assert_non_null(c);
	return c;
}

/* ---- fixtures: keys, bundles, verifier --------------------------------- */

/* Sets jwk[name] to the base64url of bn (left-padded to len when len > 0). */
static void put_bn(json_t *jwk, const char *name, const BIGNUM *bn, int len)
{
	unsigned char buf[1024];
	char *s;
	int n = len > 0 ? BN_bn2binpad(bn, buf, len) : BN_bn2bin(bn, buf);

	assert_true(n > 0);
	s = b64u(buf, (size_t)n);
	assert_int_equal(json_object_set_new(jwk, name, json_string(s)), 0);
	free(s);
}

/* The public JWK of pkey (test-local encoder). */
static json_t *jwk_of(EVP_PKEY *pkey, const char *kid, const char *use, const char *alg)
{
	json_t *j = json_object();
	BIGNUM *a = NULL, *b = NULL;

	assert_non_null(j);
	if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA) {
		assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &a), 1);
		assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &b), 1);
		json_object_set_new(j, "kty", json_string("RSA"));
		put_bn(j, "n", a, 0);
		put_bn(j, "e", b, 0);
	} else if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC) {
		char grp[32];
		int clen;

		assert_int_equal(EVP_PKEY_get_group_name(pkey, grp, sizeof(grp), NULL), 1);
		clen = strcmp(grp, "prime256v1") == 0 ? 32 : strcmp(grp, "secp384r1") == 0 ? 48 : 66;
		assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &a), 1);
		assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &b), 1);
		json_object_set_new(j, "kty", json_string("EC"));
		json_object_set_new(j, "crv", json_string(clen == 32 ? "P-256" :
							  clen == 48 ? "P-384" : "P-521"));
		put_bn(j, "x", a, clen);
		put_bn(j, "y", b, clen);
	} else {
		unsigned char raw[64];
		size_t rawlen = sizeof(raw);
		char *s;

		assert_int_equal(EVP_PKEY_get_raw_public_key(pkey, raw, &rawlen), 1);
		s = b64u(raw, rawlen);
		json_object_set_new(j, "kty", json_string("OKP"));
		json_object_set_new(j, "crv", json_string("Ed25519"));
		json_object_set_new(j, "x", json_string(s));
		free(s);
	}
	if (kid != NULL)
		json_object_set_new(j, "kid", json_string(kid));
	if (use != NULL)
		json_object_set_new(j, "use", json_string(use));
	if (alg != NULL)
		json_object_set_new(j, "alg", json_string(alg));
	BN_free(a);
	BN_free(b);
	return j;
}

/* Writes doc (consumed) to F.dir/name with mode; returns the path. */
static char *write_doc(const char *name, json_t *doc, mode_t mode)
{
	char *path = NULL, *text = json_dumps(doc, JSON_COMPACT);
	int fd;

	assert_non_null(text);
	assert_true(asprintf(&path, "%s/%s", F.dir, name) > 0);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	free(text);
	json_decref(doc);
	return path;
}

/*
 * Keys, bundles and the verifier shared by all tests: trust domains
 * example.org (RSA, RSA bound to RS256, P-256/384/521, Ed25519, plus an
 * x509-svid entry) and other.org (P-256); issuer IDP (EdDSA allowed, own
 * audience) and IDP2 (EdDSA not allowed, global audience).
 */
static int group_setup(void **state)
{
	static const char *const curves[] = { "P-256", "P-384", "P-521" };
	json_t *td, *td2, *idp, *idp2, *x509;
	size_t i;

	(void)state;
	F.keys[K_RSA] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	F.keys[K_RSA_B] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	for (i = 0; i < 3; i++)
		F.keys[K_EC256 + i] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curves[i]);
	F.keys[K_ED] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	F.keys[K_OTHER] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	for (i = 0; i < K_COUNT; i++)
		if (F.keys[i] == NULL)
			return -1;
	strcpy(F.dir, "/tmp/pa_idtest.XXXXXX");
	if (mkdtemp(F.dir) == NULL)
		return -1;

	x509 = jwk_of(F.keys[K_OTHER], NULL, "x509-svid", NULL);
	json_object_set_new(x509, "x5c", json_pack("[s]", "MIIBfakeCertificateNotParsed"));
	td = json_pack("{s:[o,o,o,o,o,o,o], s:i, s:i}", "keys",
		       jwk_of(F.keys[K_RSA], "rsa1", "jwt-svid", NULL),
		       jwk_of(F.keys[K_RSA_B], "rsa-rs256", "jwt-svid", "RS256"),
		       jwk_of(F.keys[K_EC256], "ec256", "jwt-svid", NULL),
		       jwk_of(F.keys[K_EC384], "ec384", "jwt-svid", NULL),
		       jwk_of(F.keys[K_EC521], "ec521", "jwt-svid", NULL),
		       jwk_of(F.keys[K_ED], "ed-td", "jwt-svid", NULL),
		       x509, "spiffe_refresh_hint", 300, "spiffe_sequence", 7);
	td2 = json_pack("{s:[o]}", "keys", jwk_of(F.keys[K_OTHER], "other-ec", "jwt-svid", NULL));
	idp = json_pack("{s:[o,o]}", "keys", jwk_of(F.keys[K_ED], "ed1", "sig", NULL),
			jwk_of(F.keys[K_RSA], "rsa-oidc", NULL, NULL));
	idp2 = json_pack("{s:[o,o]}", "keys", jwk_of(F.keys[K_ED], "ed2", "sig", "EdDSA"),
			 jwk_of(F.keys[K_RSA_B], "rsa2", NULL, NULL));
	if (td == NULL || td2 == NULL || idp == NULL || idp2 == NULL)
		return -1;

	F.v.audience = strdup(AUD);
	F.v.leeway = LEEWAY;
	F.v.max_token_age = MAX_AGE;
	F.v.n_domains = 2;
	F.v.domains = calloc(2, sizeof(*F.v.domains));
	F.v.domains[0].name = strdup("example.org");
	F.v.domains[0].bundle_path = write_doc("example.org.json", td, 0644);
	F.v.domains[1].name = strdup("other.org");
	F.v.domains[1].bundle_path = write_doc("other.org.json", td2, 0644);
	F.v.n_issuers = 2;
	F.v.issuers = calloc(2, sizeof(*F.v.issuers));
	F.v.issuers[0].url = strdup(IDP);
	F.v.issuers[0].jwks_path = write_doc("idp.json", idp, 0644);
	F.v.issuers[0].audience = strdup(IDP_AUD);
	F.v.issuers[0].allow_eddsa = true;
	F.v.issuers[1].url = strdup(IDP2);
	F.v.issuers[1].jwks_path = write_doc("idp2.json", idp2, 0644);
	{
		char err[256] = "";

		if (id_verifier_load(&F.v, err, sizeof(err)) != 0) {
			print_error("id_verifier_load: %s\n", err);
			return -1;
		}
	}
	return 0;
}

/* Frees the verifier and keys and removes the bundle files. */
static int group_teardown(void **state)
{
	const char *const files[] = { "example.org.json", "other.org.json", "idp.json", "idp2.json" };
	char path[128];
	size_t i;

	(void)state;
	id_verifier_clear(&F.v);
	for (i = 0; i < K_COUNT; i++)
		EVP_PKEY_free(F.keys[i]);
	for (i = 0; i < PA_ARRAY_SIZE(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", F.dir, files[i]);
		unlink(path);
	}
	rmdir(F.dir);
	return 0;
}

/* ---- token cases: one accepted shape, one defect each ------------------ */

struct tok_case {
	const char *name;
	enum id_alg alg;		  /* signing algorithm */
	enum key_ix key;		  /* signing key */
	const char *kid;		  /* kid in the default header */
	const char *header;		  /* whole header text instead of the default */
	void (*claims)(json_t *c);	  /* change to the default claims */
	char *(*claims_text)(char *text); /* change to the claims text (frees text) */
	void (*post)(char **tok);	  /* change to the finished token */
	int flags;
	const char *reason;		  /* NULL: accepted; else in the reason */
	const char *agent_id;		  /* accepted: expected agent id */
};

/* Builds the token of a case. */
static char *case_token(const struct tok_case *tc)
{
	json_t *claims = default_claims();
	char header[512], *text, *tok;

	if (tc->claims != NULL)
		tc->claims(claims);
	text = json_dumps(claims, JSON_COMPACT);
	assert_non_null(text);
	json_decref(claims);
	if (tc->claims_text != NULL)
		text = tc->claims_text(text);
	if (tc->header != NULL)
		snprintf(header, sizeof(header), "%s", tc->header);
	else
		snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}",
			 id_alg_name(tc->alg), tc->kid);
	tok = make_token(tc->alg, F.keys[tc->key], header, text, tc->flags);
	free(text);
	if (tc->post != NULL)
		tc->post(&tok);
	return tok;
}

/* Runs one case through id_verify_token at NOW and checks the outcome. */
static void test_token_case(void **state)
{
	const struct tok_case *tc = *state;
	struct id_identity *id = (void *)1;
	char err[512] = "", *tok = case_token(tc);
	int rc = id_verify_token(&F.v, tok, strlen(tok), NOW, &id, err, sizeof(err));

	if (tc->reason == NULL) {
		if (rc != 0)
			print_error("%s: rejected: %s\n", tc->name, err);
		assert_int_equal(rc, 0);
		assert_non_null(id);
		if (tc->agent_id != NULL)
			assert_string_equal(id->agent_id, tc->agent_id);
		assert_int_equal(id->alg, tc->alg);
		assert_int_equal(strlen(id->fingerprint), ID_FINGERPRINT_LEN);
		id_identity_free(id);
	} else {
		if (rc == 0 || strstr(err, tc->reason) == NULL)
			print_error("%s: rc %d, reason \"%s\", expected \"%s\"\n",
				    tc->name, rc, err, tc->reason);
		assert_int_equal(rc, -1);
		assert_null(id);
		assert_non_null(strstr(err, tc->reason));
	}
	free(tok);
}

/*
 * Changes to the default claims, one defect (or one accepted variation)
 * each; the names say what they change.
 */
static void set_int(json_t *c, const char *k, int64_t v)
{
	json_object_set_new(c, k, json_integer((json_int_t)v));
}
static void c_expired(json_t *c) { set_int(c, "iat", NOW - 400); set_int(c, "exp", NOW - LEEWAY); }
static void c_in_leeway(json_t *c) { set_int(c, "iat", NOW - 400); set_int(c, "exp", NOW - LEEWAY + 1); }
static void c_nbf_future(json_t *c) { set_int(c, "nbf", NOW + LEEWAY + 1); }
static void c_nbf_leeway(json_t *c) { set_int(c, "nbf", NOW + LEEWAY); }
static void c_iat_future(json_t *c) { set_int(c, "iat", NOW + LEEWAY + 1); }
static void c_lifetime(json_t *c) { set_int(c, "iat", NOW); set_int(c, "exp", NOW + MAX_AGE + 1); }
static void c_lifetime_max(json_t *c) { set_int(c, "iat", NOW); set_int(c, "exp", NOW + MAX_AGE); }
static void c_lifetime_noiat(json_t *c) { json_object_del(c, "iat"); set_int(c, "exp", NOW + MAX_AGE + 1); }
static void c_wrong_aud(json_t *c) { json_object_set_new(c, "aud", json_string("spiffe://example.org/host/web02")); }
static void c_aud_array(json_t *c) { json_object_set_new(c, "aud", json_pack("[s,s]", "x", AUD)); }
static void c_aud_array_miss(json_t *c) { json_object_set_new(c, "aud", json_pack("[s,s]", "x", "y")); }
static void c_aud_array_mixed(json_t *c) { json_object_set_new(c, "aud", json_pack("[s,i]", AUD, 1)); }
static void c_aud_number(json_t *c) { set_int(c, "aud", 1); }
static void c_no_aud(json_t *c) { json_object_del(c, "aud"); }
static void c_no_exp(json_t *c) { json_object_del(c, "exp"); }
static void c_exp_string(json_t *c) { json_object_set_new(c, "exp", json_string("1700000290")); }
static void c_exp_bool(json_t *c) { json_object_set_new(c, "exp", json_true()); }
static void c_exp_real(json_t *c) { json_object_set_new(c, "exp", json_real((double)NOW + 100.5)); }
static void c_exp_real_edge(json_t *c) { json_object_set_new(c, "exp", json_real((double)(NOW - LEEWAY) + 0.5)); }
static void c_nbf_real_edge(json_t *c) { json_object_set_new(c, "nbf", json_real((double)(NOW + LEEWAY) + 0.5)); }
static void c_nbf_string(json_t *c) { json_object_set_new(c, "nbf", json_string("0")); }
static void c_bad_sub(json_t *c) { json_object_set_new(c, "sub", json_string("spiffe://example.org/a//b")); }
static void c_sub_upper_td(json_t *c) { json_object_set_new(c, "sub", json_string("spiffe://Example.org/a")); }
static void c_sub_unknown_td(json_t *c) { json_object_set_new(c, "sub", json_string("spiffe://unknown.org/a")); }
static void c_no_sub(json_t *c) { json_object_del(c, "sub"); }
static void c_sub_number(json_t *c) { set_int(c, "sub", 5); }
static void c_jti_number(json_t *c) { set_int(c, "jti", 5); }
static void c_task_number(json_t *c) { set_int(c, "task", 5); }
static void c_task_empty(json_t *c) { json_object_set_new(c, "task", json_string("")); }
static void c_scope_array(json_t *c) { json_object_set_new(c, "scope", json_pack("[s]", "read")); }
static void c_act_string(json_t *c) { json_object_set_new(c, "act", json_string("spiffe://example.org/x")); }
static void c_iss_number(json_t *c) { set_int(c, "iss", 5); }
/* Pads the claims so the token exceeds ID_TOKEN_MAX. */
static void c_oversize(json_t *c)
{
	char *pad = malloc(ID_TOKEN_MAX);

	assert_non_null(pad);
	memset(pad, 'a', ID_TOKEN_MAX - 1);
	pad[ID_TOKEN_MAX - 1] = '\0';
	json_object_set_new(c, "pad", json_string(pad));
	free(pad);
}
/* Turns the claims into an ID token of IDP with its own audience. */
static void c_oidc(json_t *c)
{
	json_object_set_new(c, "iss", json_string(IDP));
	json_object_set_new(c, "sub", json_string("user-1"));
	json_object_set_new(c, "aud", json_string(IDP_AUD));
}
static void c_oidc_global_aud(json_t *c) { c_oidc(c); json_object_set_new(c, "aud", json_string(AUD)); }
static void c_oidc_slash(json_t *c) { c_oidc(c); json_object_set_new(c, "iss", json_string(IDP "/")); }
static void c_oidc_ctl_sub(json_t *c) { c_oidc(c); json_object_set_new(c, "sub", json_string("a\nb")); }
/* Turns the claims into an ID token of IDP2 (global audience). */
static void c_oidc2(json_t *c)
{
	json_object_set_new(c, "iss", json_string(IDP2));
	json_object_set_new(c, "sub", json_string("user-2"));
}

/* Changes to the claims text (each frees the text it is given). */
static char *t_prepend(char *text, const char *member)
{
	char *out = NULL;

	assert_true(asprintf(&out, "{%s,%s", member, text + 1) > 0);
	free(text);
	return out;
}
static char *t_dup_sub(char *text) { return t_prepend(text, "\"sub\":\"" SUB "\""); }
static char *t_nul(char *text) { return t_prepend(text, "\"task\":\"a\\u0000b\""); }
static char *t_trailing(char *text)
{
	char *out = NULL;

	assert_true(asprintf(&out, "%s x", text) > 0);
	free(text);
	return out;
}
static char *t_second_object(char *text)
{
	char *out = NULL;

	assert_true(asprintf(&out, "%s{}", text) > 0);
	free(text);
	return out;
}
static char *t_array(char *text)
{
	free(text);
	return strdup("[1]");
}

/* Changes to the finished token text. */
static void p_append(char **tok, const char *s)
{
	char *out = NULL;

	assert_true(asprintf(&out, "%s%s", *tok, s) > 0);
	free(*tok);
	*tok = out;
}
static void p_pad_sig(char **tok) { p_append(tok, "=="); }
static void p_four(char **tok) { p_append(tok, ".e30"); }
static void p_five(char **tok) { p_append(tok, ".e30.e30"); }
static void p_two(char **tok) { *strrchr(*tok, '.') = '\0'; }
/* Adds a '=' pad character to the header segment. */
static void p_pad_header(char **tok)
{
	char *dot = strchr(*tok, '.'), *out = NULL;

	*dot = '\0';
	assert_true(asprintf(&out, "%s=.%s", *tok, dot + 1) > 0);
	free(*tok);
	*tok = out;
}
/* sets an unused low bit in the last character of the signature */
static void p_trailing_bits(char **tok)
{
	static const char alpha[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char *last = *tok + strlen(*tok) - 1;
	size_t v = (size_t)(strchr(alpha, *last) - alpha);

	assert_int_equal(strlen(strrchr(*tok, '.') + 1) % 4, 2); /* 4 unused bits */
	assert_int_equal(v & 0xf, 0);
	*last = alpha[v | 1];
}
/* Replaces the payload with other claims, keeping the old signature. */
static void p_swap_payload(char **tok)
{
	json_t *c = default_claims();
	char *text, *p64, *out = NULL, *d1 = strchr(*tok, '.'), *d2 = strrchr(*tok, '.');

	json_object_set_new(c, "task", json_string("rm -rf"));
	text = json_dumps(c, JSON_COMPACT);
	p64 = b64u(text, strlen(text));
	*d1 = '\0';
	assert_true(asprintf(&out, "%s.%s%s", *tok, p64, d2) > 0);
	free(text);
	free(p64);
	json_decref(c);
	free(*tok);
	*tok = out;
}

#define HDR(alg, kid, extra) "{\"alg\":\"" alg "\",\"kid\":\"" kid "\"" extra "}"

static const struct tok_case token_cases[] = {
	/* accepted: every algorithm, both paths */
	{ "accept RS256", ID_ALG_RS256, K_RSA, "rsa1", .agent_id = SUB },
	{ "accept RS384", ID_ALG_RS384, K_RSA, "rsa1", .agent_id = SUB },
	{ "accept RS512", ID_ALG_RS512, K_RSA, "rsa1", .agent_id = SUB },
	{ "accept PS256", ID_ALG_PS256, K_RSA, "rsa1", .agent_id = SUB },
	{ "accept PS384", ID_ALG_PS384, K_RSA, "rsa1", .agent_id = SUB },
	{ "accept PS512", ID_ALG_PS512, K_RSA, "rsa1", .agent_id = SUB },
	{ "accept ES256", ID_ALG_ES256, K_EC256, "ec256", .agent_id = SUB },
	{ "accept ES384", ID_ALG_ES384, K_EC384, "ec384", .agent_id = SUB },
	{ "accept ES512", ID_ALG_ES512, K_EC521, "ec521", .agent_id = SUB },
	{ "accept EdDSA on the OIDC path with allow_eddsa", ID_ALG_EDDSA, K_ED, "ed1",
	  .claims = c_oidc, .agent_id = IDP "#user-1" },
	{ "accept RS256 on the OIDC path", ID_ALG_RS256, K_RSA, "rsa-oidc",
	  .claims = c_oidc, .agent_id = IDP "#user-1" },
	{ "accept OIDC issuer without own audience (global one)", ID_ALG_RS256, K_RSA_B, "rsa2",
	  .claims = c_oidc2, .agent_id = IDP2 "#user-2" },
	{ "accept RS256 with a JWK bound to RS256", ID_ALG_RS256, K_RSA_B, "rsa-rs256", .agent_id = SUB },
	{ "accept typ absent", ID_ALG_ES256, K_EC256, .header = HDR("ES256", "ec256", ""), .agent_id = SUB },
	{ "accept typ jwt (any case)", ID_ALG_ES256, K_EC256, .header = HDR("ES256", "ec256", ",\"typ\":\"jwt\""), .agent_id = SUB },
	{ "accept typ JOSE", ID_ALG_ES256, K_EC256, .header = HDR("ES256", "ec256", ",\"typ\":\"JOSE\""), .agent_id = SUB },
	{ "accept typ application/jwt", ID_ALG_ES256, K_EC256, .header = HDR("ES256", "ec256", ",\"typ\":\"application/jwt\""), .agent_id = SUB },
	{ "accept exp inside the leeway", ID_ALG_ES256, K_EC256, "ec256", .claims = c_in_leeway, .agent_id = SUB },
	{ "accept nbf at the leeway edge", ID_ALG_ES256, K_EC256, "ec256", .claims = c_nbf_leeway, .agent_id = SUB },
	{ "accept lifetime equal to the maximum", ID_ALG_ES256, K_EC256, "ec256", .claims = c_lifetime_max, .agent_id = SUB },
	{ "accept real exp", ID_ALG_ES256, K_EC256, "ec256", .claims = c_exp_real, .agent_id = SUB },
	{ "accept aud array", ID_ALG_ES256, K_EC256, "ec256", .claims = c_aud_array, .agent_id = SUB },

	/* algorithms that are never accepted, and key confusion */
	{ "reject alg none", ID_ALG_ES256, K_EC256, .header = "{\"alg\":\"none\",\"kid\":\"ec256\"}",
	  .flags = SIG_EMPTY, .reason = "alg \"none\"" },
	{ "reject alg None with a signature", ID_ALG_ES256, K_EC256,
	  .header = "{\"alg\":\"None\",\"kid\":\"ec256\"}", .reason = "alg \"None\"" },
	{ "reject HS256 keyed with the RSA public key", ID_ALG_RS256, K_RSA,
	  .header = "{\"alg\":\"HS256\",\"kid\":\"rsa1\",\"typ\":\"JWT\"}", .flags = SIGN_HS_PUB,
	  .reason = "alg \"HS256\"" },
	{ "reject unknown alg ES256K", ID_ALG_ES256, K_EC256, .header = HDR("ES256K", "ec256", ""),
	  .reason = "alg \"ES256K\" is not allowed" },
	{ "reject alg of wrong case es256", ID_ALG_ES256, K_EC256, .header = HDR("es256", "ec256", ""),
	  .reason = "alg \"es256\" is not allowed" },
	{ "reject alg not a string", ID_ALG_ES256, K_EC256, .header = "{\"alg\":1,\"kid\":\"ec256\"}",
	  .reason = "\"alg\" is not a string" },
	{ "reject no alg", ID_ALG_ES256, K_EC256, .header = "{\"kid\":\"ec256\"}", .reason = "no \"alg\"" },
	{ "reject RS256 header on an EC key", ID_ALG_RS256, K_RSA, "ec256", .reason = "may not verify RS256" },
	{ "reject ES384 header on a P-256 key", ID_ALG_ES384, K_EC384, "ec256", .reason = "may not verify ES384" },
	{ "reject PS256 on a JWK bound to RS256", ID_ALG_PS256, K_RSA_B, "rsa-rs256", .reason = "may not verify PS256" },
	{ "reject EdDSA on the SPIFFE path", ID_ALG_EDDSA, K_ED, "ed-td", .reason = "EdDSA is not accepted for JWT-SVIDs" },
	{ "reject EdDSA on OIDC without allow_eddsa", ID_ALG_EDDSA, K_ED, "ed2", .claims = c_oidc2,
	  .reason = "EdDSA is not enabled for issuer " IDP2 },

	/* signatures */
	{ "reject DER-encoded ECDSA signature", ID_ALG_ES256, K_EC256, "ec256", .flags = SIGN_DER,
	  .reason = "expected 64 (raw r||s)" },
	{ "reject ECDSA r = s = 0", ID_ALG_ES256, K_EC256, "ec256", .flags = SIG_ZERO, .reason = "out of range" },
	{ "reject ECDSA r = n", ID_ALG_ES256, K_EC256, "ec256", .flags = SIG_R_IS_N, .reason = "out of range" },
	{ "reject PS256 with salt length 0", ID_ALG_PS256, K_RSA, "rsa1", .flags = SIGN_SALT0,
	  .reason = "signature does not verify" },
	{ "reject RSA signature with a leading zero byte", ID_ALG_RS256, K_RSA, "rsa1",
	  .flags = SIG_RSA_PAD0, .reason = "RSA signature is 257 bytes, expected 256" },
	{ "reject modified RS256 signature", ID_ALG_RS256, K_RSA, "rsa1", .flags = SIG_FLIP,
	  .reason = "signature does not verify" },
	{ "reject modified ES512 signature", ID_ALG_ES512, K_EC521, "ec521", .flags = SIG_FLIP,
	  .reason = "signature verification failed" },
	{ "reject modified payload", ID_ALG_ES256, K_EC256, "ec256", .post = p_swap_payload,
	  .reason = "signature does not verify" },
	{ "reject empty signature", ID_ALG_ES256, K_EC256, "ec256", .flags = SIG_EMPTY,
	  .reason = "signature segment is empty" },

	/* key selection */
	{ "reject kid of a key in another trust domain", ID_ALG_ES256, K_OTHER, "other-ec",
	  .reason = "unknown kid \"other-ec\" in trust domain example.org" },
	{ "reject unknown kid", ID_ALG_ES256, K_EC256, "nope", .reason = "unknown kid \"nope\" in trust domain example.org" },
	{ "reject missing kid", ID_ALG_ES256, K_EC256, .header = "{\"alg\":\"ES256\"}", .reason = "no \"kid\"" },
	{ "reject kid not a string", ID_ALG_ES256, K_EC256, .header = "{\"alg\":\"ES256\",\"kid\":7}",
	  .reason = "\"kid\" is not a string" },
	{ "reject SPIFFE key for an OIDC issuer", ID_ALG_ES256, K_EC256, "ec256", .claims = c_oidc,
	  .reason = "unknown kid \"ec256\" for issuer " IDP },
	{ "reject sub in an unconfigured trust domain", ID_ALG_ES256, K_EC256, "ec256",
	  .claims = c_sub_unknown_td, .reason = "trust domain unknown.org is not configured" },

	/* claims */
	{ "reject expired", ID_ALG_ES256, K_EC256, "ec256", .claims = c_expired,
	  .reason = "token expired at 1699999970 (now 1700000000, leeway 30s)" },
	{ "reject nbf in the future", ID_ALG_ES256, K_EC256, "ec256", .claims = c_nbf_future,
	  .reason = "not valid before 1700000031" },
	{ "reject iat in the future", ID_ALG_ES256, K_EC256, "ec256", .claims = c_iat_future,
	  .reason = "issued in the future at 1700000031" },
	{ "reject lifetime over the maximum", ID_ALG_ES256, K_EC256, "ec256", .claims = c_lifetime,
	  .reason = "lifetime of 601s is longer than the maximum of 600s" },
	{ "reject lifetime over the maximum without iat", ID_ALG_ES256, K_EC256, "ec256",
	  .claims = c_lifetime_noiat, .reason = "lifetime of 601s" },
	{ "reject wrong aud", ID_ALG_ES256, K_EC256, "ec256", .claims = c_wrong_aud,
	  .reason = "audience mismatch: token aud does not contain \"" AUD "\"" },
	{ "reject aud array without the audience", ID_ALG_ES256, K_EC256, "ec256",
	  .claims = c_aud_array_miss, .reason = "audience mismatch" },
	{ "reject aud array with a number", ID_ALG_ES256, K_EC256, "ec256",
	  .claims = c_aud_array_mixed, .reason = "not a string" },
	{ "reject aud a number", ID_ALG_ES256, K_EC256, "ec256", .claims = c_aud_number,
	  .reason = "\"aud\" is not a string or an array of strings" },
	{ "reject no aud", ID_ALG_ES256, K_EC256, "ec256", .claims = c_no_aud, .reason = "no \"aud\"" },
	{ "reject OIDC token with the global audience", ID_ALG_RS256, K_RSA, "rsa-oidc",
	  .claims = c_oidc_global_aud, .reason = "does not contain \"" IDP_AUD "\"" },
	{ "reject OIDC iss that differs by a slash", ID_ALG_EDDSA, K_ED, "ed1", .claims = c_oidc_slash,
	  .reason = "\"sub\" is not a valid SPIFFE ID" },
	{ "reject OIDC sub with a control character", ID_ALG_RS256, K_RSA, "rsa-oidc",
	  .claims = c_oidc_ctl_sub, .reason = "control characters" },
	{ "reject missing exp", ID_ALG_ES256, K_EC256, "ec256", .claims = c_no_exp, .reason = "no \"exp\"" },
	{ "reject exp a string", ID_ALG_ES256, K_EC256, "ec256", .claims = c_exp_string,
	  .reason = "\"exp\" is not a number" },
	{ "reject exp a boolean", ID_ALG_ES256, K_EC256, "ec256", .claims = c_exp_bool,
	  .reason = "\"exp\" is not a number" },
	{ "reject real exp half a second past the leeway (rounded down)", ID_ALG_ES256, K_EC256, "ec256",
	  .claims = c_exp_real_edge, .reason = "token expired at 1699999970" },
	{ "reject real nbf half a second past the leeway (rounded up)", ID_ALG_ES256, K_EC256, "ec256",
	  .claims = c_nbf_real_edge, .reason = "not valid before 1700000031" },
	{ "reject nbf a string", ID_ALG_ES256, K_EC256, "ec256", .claims = c_nbf_string,
	  .reason = "\"nbf\" is not a number" },
	{ "reject bad SPIFFE ID in sub", ID_ALG_ES256, K_EC256, "ec256", .claims = c_bad_sub,
	  .reason = "\"sub\" is not a valid SPIFFE ID: SPIFFE ID path has an empty segment" },
	{ "reject uppercase trust domain in sub", ID_ALG_ES256, K_EC256, "ec256", .claims = c_sub_upper_td,
	  .reason = "\"sub\" is not a valid SPIFFE ID" },
	{ "reject missing sub", ID_ALG_ES256, K_EC256, "ec256", .claims = c_no_sub, .reason = "no \"sub\"" },
	{ "reject sub a number", ID_ALG_ES256, K_EC256, "ec256", .claims = c_sub_number, .reason = "no \"sub\"" },
	{ "reject jti a number", ID_ALG_ES256, K_EC256, "ec256", .claims = c_jti_number,
	  .reason = "\"jti\" is not a string" },
	{ "reject task a number", ID_ALG_ES256, K_EC256, "ec256", .claims = c_task_number,
	  .reason = "\"task\" is not a string" },
	/* a session record with task "" is one `pam-agent reap` never accepts */
	{ "reject task empty", ID_ALG_ES256, K_EC256, "ec256", .claims = c_task_empty,
	  .reason = "\"task\" claim is empty (omit it, or name the task)" },
	{ "reject scope an array", ID_ALG_ES256, K_EC256, "ec256", .claims = c_scope_array,
	  .reason = "\"scope\" is not a string" },
	{ "reject act a string", ID_ALG_ES256, K_EC256, "ec256", .claims = c_act_string,
	  .reason = "\"act\" is not an object" },
	{ "reject iss a number on the SPIFFE path", ID_ALG_ES256, K_EC256, "ec256", .claims = c_iss_number,
	  .reason = "\"iss\" is not a string" },

	/* JSON */
	{ "reject duplicate names in the header", ID_ALG_ES256, K_EC256,
	  .header = "{\"alg\":\"ES256\",\"kid\":\"ec256\",\"kid\":\"ec256\"}", .reason = "header is not valid JSON" },
	{ "reject duplicate names in the claims", ID_ALG_ES256, K_EC256, "ec256", .claims_text = t_dup_sub,
	  .reason = "claims is not valid JSON" },
	{ "reject trailing bytes after the header", ID_ALG_ES256, K_EC256,
	  .header = HDR("ES256", "ec256", "") " x", .reason = "header is not valid JSON" },
	{ "reject trailing bytes after the claims", ID_ALG_ES256, K_EC256, "ec256", .claims_text = t_trailing,
	  .reason = "claims is not valid JSON" },
	{ "reject a second object after the claims", ID_ALG_ES256, K_EC256, "ec256",
	  .claims_text = t_second_object, .reason = "claims is not valid JSON" },
	{ "reject NUL inside a claim string", ID_ALG_ES256, K_EC256, "ec256", .claims_text = t_nul,
	  .reason = "claims is not valid JSON" },
	{ "reject header not an object", ID_ALG_ES256, K_EC256, .header = "[\"ES256\"]",
	  .reason = "header is not a JSON object" },
	{ "reject claims not an object", ID_ALG_ES256, K_EC256, "ec256", .claims_text = t_array,
	  .reason = "claims is not a JSON object" },

	/* header parameters */
	{ "reject typ at+jwt", ID_ALG_ES256, K_EC256, .header = HDR("ES256", "ec256", ",\"typ\":\"at+jwt\""),
	  .reason = "\"typ\" is \"at+jwt\"" },
	{ "reject typ not a string", ID_ALG_ES256, K_EC256, .header = HDR("ES256", "ec256", ",\"typ\":1"),
	  .reason = "\"typ\" is not a string" },
	{ "reject header jwk", ID_ALG_ES256, K_EC256, .header = HDR("ES256", "ec256", ",\"jwk\":{\"kty\":\"EC\"}"),
	  .reason = "parameter \"jwk\" is not allowed" },
	{ "reject header jku", ID_ALG_ES256, K_EC256, .header = HDR("ES256", "ec256", ",\"jku\":\"https://evil.example/k\""),
	  .reason = "parameter \"jku\" is not allowed" },
	{ "reject header x5u", ID_ALG_ES256, K_EC256, .header = HDR("ES256", "ec256", ",\"x5u\":\"https://evil.example/c\""),
	  .reason = "parameter \"x5u\" is not allowed" },
	{ "reject header x5c", ID_ALG_ES256, K_EC256, .header = HDR("ES256", "ec256", ",\"x5c\":[\"MIIB\"]"),
	  .reason = "parameter \"x5c\" is not allowed" },
	{ "reject header x5t", ID_ALG_ES256, K_EC256, .header = HDR("ES256", "ec256", ",\"x5t\":\"abc\""),
	  .reason = "parameter \"x5t\" is not allowed" },
	{ "reject header x5t#S256", ID_ALG_ES256, K_EC256, .header = HDR("ES256", "ec256", ",\"x5t#S256\":\"abc\""),
	  .reason = "parameter \"x5t#S256\" is not allowed" },
	{ "reject header crit", ID_ALG_ES256, K_EC256, .header = HDR("ES256", "ec256", ",\"crit\":[\"exp\"]"),
	  .reason = "parameter \"crit\" is not allowed" },
	{ "reject header b64", ID_ALG_ES256, K_EC256, .header = HDR("ES256", "ec256", ",\"b64\":false"),
	  .reason = "parameter \"b64\" is not allowed" },
	{ "reject header zip", ID_ALG_ES256, K_EC256, .header = HDR("ES256", "ec256", ",\"zip\":\"DEF\""),
	  .reason = "parameter \"zip\" is not allowed" },
	{ "reject header enc", ID_ALG_ES256, K_EC256, .header = HDR("ES256", "ec256", ",\"enc\":\"A256GCM\""),
	  .reason = "parameter \"enc\" is not allowed" },
	{ "reject header cty (nested JWT)", ID_ALG_ES256, K_EC256, .header = HDR("ES256", "ec256", ",\"cty\":\"JWT\""),
	  .reason = "parameter \"cty\" is not allowed" },

	/* compact serialization */
	{ "reject padding in the signature", ID_ALG_ES256, K_EC256, "ec256", .post = p_pad_sig,
	  .reason = "signature is not strict base64url" },
	{ "reject padding in the header", ID_ALG_ES256, K_EC256, .header = HDR("ES256", "ec256", ""),
	  .post = p_pad_header, .reason = "header is not strict base64url" },
	{ "reject non-zero trailing bits", ID_ALG_ES256, K_EC256, "ec256", .post = p_trailing_bits,
	  .reason = "signature is not strict base64url" },
	{ "reject 2 segments", ID_ALG_ES256, K_EC256, "ec256", .post = p_two, .reason = "token has 2 segments" },
	{ "reject 4 segments", ID_ALG_ES256, K_EC256, "ec256", .post = p_four, .reason = "token has 4 segments" },
	{ "reject 5 segments (JWE)", ID_ALG_ES256, K_EC256, "ec256", .post = p_five, .reason = "JWE" },
	{ "reject oversize token", ID_ALG_ES256, K_EC256, "ec256", .claims = c_oversize,
	  .reason = "larger than the limit of 16384" },
};

/* ---- direct API tests --------------------------------------------------- */

/* Strict base64url decoding table, and encoding of the accepted inputs. */
static void test_b64url(void **state)
{
	static const struct {
		const char *in;
		const char *out; /* NULL: must be refused */
	} t[] = {
		{ "", "" }, { "Zg", "f" }, { "Zm8", "fo" }, { "Zm9v", "foo" },
		{ "Zm9vYg", "foob" }, { "-_8", "\xfb\xff" },
		{ "Zg==", NULL }, { "Zg=", NULL }, { "Z", NULL }, { "Zm9vY", NULL },
		{ "Zh", NULL },	  /* trailing bits */ { "Zm9", NULL }, /* trailing bits */
		{ "Zm+v", NULL }, { "Zm/v", NULL }, { "Zm 9", NULL }, { "Zm9v\n", NULL },
	};
	unsigned char *out = NULL;
	size_t outlen = 0, i;
	char *enc;

	(void)state;
	for (i = 0; i < PA_ARRAY_SIZE(t); i++) {
		int rc = id_b64url_decode(t[i].in, strlen(t[i].in), &out, &outlen);

		if (t[i].out == NULL) {
			assert_int_equal(rc, -1);
			assert_null(out);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(outlen, strlen(t[i].out));
		assert_memory_equal(out, t[i].out, outlen);
		assert_int_equal(out[outlen], 0);
		enc = id_b64url_encode(out, outlen);
		assert_string_equal(enc, t[i].in);
		free(enc);
		free(out);
	}
	/* a NUL byte inside the counted length is not part of the alphabet */
	assert_int_equal(id_b64url_decode("Zm\0v", 4, &out, &outlen), -1);
}

/* Every length 0..256 encodes like OpenSSL and decodes back. */
static void test_b64url_roundtrip(void **state)
{
	unsigned char buf[256], *out = NULL;
	size_t n, outlen;
	char *enc;

	(void)state;
	for (n = 0; n < sizeof(buf); n++)
		buf[n] = (unsigned char)(n * 37 + 11);
	for (n = 0; n <= sizeof(buf); n++) {
		char *ref = b64u(buf, n);

		enc = id_b64url_encode(buf, n);
		assert_string_equal(enc, ref);
		assert_int_equal(id_b64url_decode(enc, strlen(enc), &out, &outlen), 0);
		assert_int_equal(outlen, n);
		assert_memory_equal(out, buf, n);
		free(out);
		free(enc);
		free(ref);
	}
}

/* The allow-list is exact and case-sensitive. */
static void test_alg_names(void **state)
{
	static const char *const names[] = { "RS256", "RS384", "RS512", "PS256", "PS384",
					     "PS512", "ES256", "ES384", "ES512", "EdDSA" };
	size_t i;

	(void)state;
	for (i = 0; i < PA_ARRAY_SIZE(names); i++)
		assert_string_equal(id_alg_name(id_alg_from_name(names[i])), names[i]);
	assert_int_equal(id_alg_from_name("none"), ID_ALG_NONE);
	assert_int_equal(id_alg_from_name("HS256"), ID_ALG_NONE);
	assert_int_equal(id_alg_from_name("rs256"), ID_ALG_NONE);
	assert_int_equal(id_alg_from_name("EdDSA "), ID_ALG_NONE);
	assert_int_equal(id_alg_from_name(NULL), ID_ALG_NONE);
	assert_null(id_alg_name(ID_ALG_NONE));
}

/* SPIFFE ID parser: valid and invalid IDs (go-spiffe behaviour), limits. */
static void test_spiffe_id_table(void **state)
{
	static const struct {
		const char *id;
		const char *td; /* NULL: invalid */
	} t[] = {
		{ "spiffe://example.org", "example.org" },
		{ "spiffe://example.org/workload", "example.org" },
		{ "spiffe://example.org/ns/prod/sa/Agent_1.v-2", "example.org" },
		{ "spiffe://a-b.c_d.0", "a-b.c_d.0" },
		{ "spiffe://example.org/...", "example.org" },
		{ "spiffe://example.org/.a/..b", "example.org" },
		{ "", NULL },
		{ "example.org/x", NULL },
		{ "http://example.org/x", NULL },
		{ "SPIFFE://example.org/x", NULL },
		{ "spiffe:/example.org/x", NULL },
		{ "spiffe://", NULL },
		{ "spiffe:///x", NULL },
		{ "spiffe://Example.org/x", NULL },
		{ "spiffe://example.org:8080/x", NULL },
		{ "spiffe://user@example.org/x", NULL },
		{ "spiffe://exa mple.org/x", NULL },
		{ "spiffe://example%2Eorg/x", NULL },
		{ "spiffe://example.org/", NULL },
		{ "spiffe://example.org//x", NULL },
		{ "spiffe://example.org/x/", NULL },
		{ "spiffe://example.org/./x", NULL },
		{ "spiffe://example.org/x/..", NULL },
		{ "spiffe://example.org/x?y=1", NULL },
		{ "spiffe://example.org/x#frag", NULL },
		{ "spiffe://example.org?y=1", NULL },
		{ "spiffe://example.org/%41", NULL },
		{ "spiffe://example.org/a b", NULL },
		{ "spiffe://example.org/\xc3\xa9", NULL },
	};
	char td[256], err[256], big[2100];
	size_t i;

	(void)state;
	for (i = 0; i < PA_ARRAY_SIZE(t); i++) {
		int rc = id_spiffe_id_parse(t[i].id, td, sizeof(td), err, sizeof(err));

		if (t[i].td != NULL) {
			if (rc != 0)
				print_error("valid \"%s\" refused: %s\n", t[i].id, err);
			assert_int_equal(rc, 0);
			assert_string_equal(td, t[i].td);
		} else {
			if (rc == 0)
				print_error("invalid \"%s\" accepted\n", t[i].id);
			assert_int_equal(rc, -1);
		}
	}
	/* 2048 bytes is the limit of a SPIFFE ID */
	memcpy(big, "spiffe://example.org/", 21);
	memset(big + 21, 'a', 2048 - 21);
	big[2048] = '\0';
	assert_int_equal(id_spiffe_id_parse(big, td, sizeof(td), err, sizeof(err)), 0);
	big[2048] = 'a';
	big[2049] = '\0';
	assert_int_equal(id_spiffe_id_parse(big, td, sizeof(td), err, sizeof(err)), -1);
	/* 255 bytes is the limit of a trust domain name */
	memcpy(big, "spiffe://", 9);
	memset(big + 9, 'a', 255);
	big[9 + 255] = '\0';
	assert_int_equal(id_spiffe_id_parse(big, td, sizeof(td), err, sizeof(err)), 0);
	assert_int_equal(strlen(td), 255);
	assert_int_equal(id_spiffe_id_parse(big, td, 255, err, sizeof(err)), -1);
	big[9 + 255] = 'a';
	big[9 + 256] = '\0';
	assert_int_equal(id_spiffe_id_parse(big, td, sizeof(td), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "longer than 255"));
	/* no buffer for the trust domain is fine */
	assert_int_equal(id_spiffe_id_parse("spiffe://example.org/x", NULL, 0, NULL, 0), 0);
}

/* Parses a one-key JWKS text as kind; returns the set or NULL with err. */
static struct id_keyset *parse_set(json_t *doc, enum id_keyset_kind kind, char *err, size_t errlen)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	struct id_keyset *set;

	assert_non_null(text);
	set = id_keyset_parse(text, strlen(text), kind, err, errlen);
	free(text);
	json_decref(doc);
	return set;
}

/* Expects the key set built from jwk (as the only key) to be refused. */
static void expect_jwk_refused(json_t *jwk, const char *reason)
{
	char err[512] = "";
	struct id_keyset *set = parse_set(json_pack("{s:[o]}", "keys", jwk),
					  ID_KEYSET_OIDC, err, sizeof(err));

	if (set != NULL || strstr(err, reason) == NULL)
		print_error("expected \"%s\", got \"%s\"\n", reason, err);
	assert_null(set);
	assert_non_null(strstr(err, reason));
}

/*
 * Expects the key set built from jwk (as the only key) of kind to load
 * with no key, the element ignored with a notice that contains reason.
 */
static void expect_jwk_ignored_as(json_t *jwk, enum id_keyset_kind kind, const char *reason)
{
	char err[512] = "";
	struct id_keyset *set = parse_set(json_pack("{s:[o]}", "keys", jwk), kind, err, sizeof(err));
	const char *notice = id_keyset_notice(set, 0);

	if (set == NULL || notice == NULL || strstr(notice, reason) == NULL)
		print_error("expected \"%s\", got \"%s\" / \"%s\"\n", reason, err,
			    notice != NULL ? notice : "(no notice)");
	assert_non_null(set);
	assert_int_equal(id_keyset_count(set), 0);
	assert_int_equal(id_keyset_ignored(set), 1);
	assert_non_null(notice);
	assert_non_null(strstr(notice, "key 0 ignored: "));
	assert_non_null(strstr(notice, reason));
	id_keyset_free(set);
}

static void expect_jwk_ignored(json_t *jwk, const char *reason)
{
	expect_jwk_ignored_as(jwk, ID_KEYSET_OIDC, reason);
}

/* An RSA key under 2048 bits is refused in a key set and as an EVP_PKEY. */
static void test_jwk_rsa_1024_refused(void **state)
{
	EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	char err[256] = "";

	(void)state;
	assert_non_null(small);
	expect_jwk_ignored(jwk_of(small, "small", "sig", NULL),
			   "RSA key of 1024 bits (accepted: 2048 to 16384)");
	assert_null(id_key_from_pkey(small, "small", err, sizeof(err)));
	assert_non_null(strstr(err, "too small"));
	EVP_PKEY_free(small);
}

/*
 * A modulus with the ROCA fingerprint (n = 1 mod every small prime of the
 * test, 1 being in every subgroup) is refused; n + 2 is loaded, so the
 * fingerprint is what refuses the first one.
 */
static void test_jwk_roca_refused(void **state)
{
	static const unsigned primes[] = { 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53,
		59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149,
		151, 157, 163, 167 };
	BIGNUM *m = BN_new(), *t = BN_new(), *n = BN_new();
	BN_CTX *ctx = BN_CTX_new();
	unsigned char buf[256];
	char *n64, err[256] = "";
	struct id_key *key;
	json_t *jwk;
	size_t i;

	(void)state;
	assert_non_null(ctx);
	assert_int_equal(BN_one(m), 1);
	for (i = 0; i < PA_ARRAY_SIZE(primes); i++)
		assert_int_equal(BN_mul_word(m, primes[i]), 1);
	do { /* M odd, t even: n = M t + 1 is odd; retry until n has 2048 bits */
		assert_int_equal(BN_rand(t, 2049 - BN_num_bits(m), BN_RAND_TOP_ONE,
					 BN_RAND_BOTTOM_ANY), 1);
		assert_int_equal(BN_clear_bit(t, 0), 1);
		assert_int_equal(BN_mul(n, m, t, ctx), 1);
		assert_int_equal(BN_add_word(n, 1), 1);
	} while (BN_num_bits(n) != 2048);
	assert_int_equal(BN_bn2bin(n, buf), 256);
	n64 = b64u(buf, 256);
	jwk = json_pack("{s:s,s:s,s:s,s:s}", "kty", "RSA", "kid", "roca", "e", "AQAB", "n", n64);
	key = id_key_from_jwk(jwk, err, sizeof(err));
	assert_null(key);
	assert_non_null(strstr(err, "ROCA"));
	free(n64);
	json_decref(jwk);
	assert_int_equal(BN_add_word(n, 2), 1);
	assert_int_equal(BN_bn2bin(n, buf), 256);
	n64 = b64u(buf, 256);
	jwk = json_pack("{s:s,s:s,s:s,s:s}", "kty", "RSA", "kid", "roca", "e", "AQAB", "n", n64);
	key = id_key_from_jwk(jwk, err, sizeof(err));
	assert_non_null(key);
	id_key_free(key);
	free(n64);
	json_decref(jwk);
	BN_free(m);
	BN_free(t);
	BN_free(n);
	BN_CTX_free(ctx);
}

/* An EC JWK whose point is off the curve is refused. */
static void test_jwk_ec_point_not_on_curve(void **state)
{
	json_t *jwk = jwk_of(F.keys[K_EC256], "bad", "sig", NULL);
	unsigned char *y = NULL;
	size_t ylen = 0;
	char *s;

	(void)state;
	assert_int_equal(id_b64url_decode(json_string_value(json_object_get(jwk, "y")),
					  json_string_length(json_object_get(jwk, "y")), &y, &ylen), 0);
	y[ylen - 1] ^= 0x01;
	s = b64u(y, ylen);
	json_object_set_new(jwk, "y", json_string(s));
	free(s);
	free(y);
	expect_jwk_refused(jwk, "not a valid point of P-256");
}

/* A JWK with any private member is refused. */
static void test_jwk_private_member_refused(void **state)
{
	static const char *const members[] = { "d", "p", "q", "dp", "dq", "qi", "k", "oth" };
	size_t i;

	(void)state;
	for (i = 0; i < PA_ARRAY_SIZE(members); i++) {
		json_t *jwk = jwk_of(F.keys[i % 2 ? K_RSA : K_EC256], "k1", "sig", NULL);
		char reason[64];

		json_object_set_new(jwk, members[i], json_string("AQAB"));
		snprintf(reason, sizeof(reason), "private member \"%s\"", members[i]);
		expect_jwk_refused(jwk, reason);
	}
}

/* use/key_ops, member types, curves, key types, RSA exponent, JWK alg binding. */
static void test_jwk_rules(void **state)
{
	json_t *jwk;
	EVP_PKEY *ed448 = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
	unsigned char raw[57];
	size_t rawlen = sizeof(raw);
	char *s;

	(void)state;
	/* use and key_ops */
	expect_jwk_ignored(jwk_of(F.keys[K_EC256], "k", "x509", NULL),
			   "\"use\" \"x509\" is not one this verifier uses");
	jwk = jwk_of(F.keys[K_EC256], "k", NULL, NULL);
	json_object_set_new(jwk, "key_ops", json_pack("[s]", "sign"));
	expect_jwk_refused(jwk, "\"key_ops\" does not include \"verify\"");
	jwk = jwk_of(F.keys[K_EC256], "k", NULL, NULL);
	json_object_set_new(jwk, "key_ops", json_pack("[s]", "sign, verify"));
	expect_jwk_refused(jwk, "\"key_ops\" does not include \"verify\"");
	jwk = jwk_of(F.keys[K_EC256], "k", NULL, NULL);
	json_object_set_new(jwk, "key_ops", json_string("verify"));
	expect_jwk_refused(jwk, "\"key_ops\" is not an array");
	/* kid and alg types */
	jwk = jwk_of(F.keys[K_EC256], NULL, "sig", NULL);
	json_object_set_new(jwk, "kid", json_integer(3));
	expect_jwk_ignored(jwk, "no \"kid\", so no token can name it");
	jwk = jwk_of(F.keys[K_EC256], "k", "sig", NULL);
	json_object_set_new(jwk, "alg", json_integer(3));
	expect_jwk_refused(jwk, "\"alg\" is not a string");
	/* EC coordinates of the wrong length, unknown curves */
	jwk = jwk_of(F.keys[K_EC256], "k", "sig", NULL);
	json_object_set_new(jwk, "crv", json_string("P-384"));
	expect_jwk_refused(jwk, "\"x\" must be 48 bytes");
	jwk = jwk_of(F.keys[K_EC256], "k", "sig", NULL);
	json_object_set_new(jwk, "crv", json_string("secp256k1"));
	expect_jwk_ignored(jwk, "EC curve \"secp256k1\" is not accepted");
	/* Ed448 and unknown kty */
	assert_non_null(ed448);
	assert_int_equal(EVP_PKEY_get_raw_public_key(ed448, raw, &rawlen), 1);
	s = b64u(raw, rawlen);
	expect_jwk_ignored(json_pack("{s:s,s:s,s:s,s:s}", "kty", "OKP", "crv", "Ed448", "x", s,
				     "kid", "k"), "OKP curve \"Ed448\" is not accepted");
	free(s);
	assert_null(id_key_from_pkey(ed448, "k", NULL, 0));
	EVP_PKEY_free(ed448);
	expect_jwk_ignored(json_pack("{s:s,s:s,s:s}", "kty", "oct", "kid", "k", "alg", "HS256"),
			   "\"kty\" \"oct\" is not RSA, EC or OKP");
	/* RSA exponent rules and the minimal encoding */
	expect_jwk_refused(json_pack("{s:s,s:s,s:s,s:s}", "kty", "RSA", "kid", "k", "e", "AQ",
				     "n", json_string_value(json_object_get(
					     jwk = jwk_of(F.keys[K_RSA], "k", NULL, NULL), "n"))),
			   "must be odd and greater than 1");
	expect_jwk_refused(json_pack("{s:s,s:s,s:s,s:O}", "kty", "RSA", "kid", "k", "e", "AQAA",
				     "n", json_object_get(jwk, "n")),
			   "must be odd and greater than 1");
	expect_jwk_refused(json_pack("{s:s,s:s,s:s,s:O}", "kty", "RSA", "kid", "k", "e", "AAEAAQ",
				     "n", json_object_get(jwk, "n")),
			   "\"e\" is not a minimal unsigned integer");
	expect_jwk_refused(json_pack("{s:s,s:s,s:s,s:O}", "kty", "RSA", "kid", "k", "e", "AQA=B",
				     "n", json_object_get(jwk, "n")), "\"e\" is not strict base64url");
	json_decref(jwk);
	/* JWK "alg" binds the key to exactly that algorithm */
	{
		json_t *j = jwk_of(F.keys[K_EC256], "k", "sig", "ES256");
		struct id_key *key = id_key_from_jwk(j, NULL, 0);

		assert_non_null(key);
		assert_true(id_key_allows(key, ID_ALG_ES256));
		assert_false(id_key_allows(key, ID_ALG_ES384));
		id_key_free(key);
		json_object_set_new(j, "alg", json_string("ES521"));
		key = id_key_from_jwk(j, NULL, 0);
		assert_non_null(key);
		assert_false(id_key_allows(key, ID_ALG_ES256));
		assert_false(id_key_allows(key, ID_ALG_ES512));
		id_key_free(key);
		json_decref(j);
	}
}

/* Which algorithm each key type and curve may verify. */
static void test_key_allows_matrix(void **state)
{
	static const enum id_alg algs[] = { ID_ALG_RS256, ID_ALG_RS384, ID_ALG_RS512, ID_ALG_PS256,
		ID_ALG_PS384, ID_ALG_PS512, ID_ALG_ES256, ID_ALG_ES384, ID_ALG_ES512, ID_ALG_EDDSA };
	static const struct {
		enum key_ix k;
		unsigned allowed; /* bit i: algs[i] */
	} t[] = {
		{ K_RSA, 0x3f }, { K_EC256, 1u << 6 }, { K_EC384, 1u << 7 },
		{ K_EC521, 1u << 8 }, { K_ED, 1u << 9 },
	};
	size_t i, j;

	(void)state;
	for (i = 0; i < PA_ARRAY_SIZE(t); i++) {
		struct id_key *key = id_key_from_pkey(F.keys[t[i].k], "k", NULL, 0);

		assert_non_null(key);
		assert_string_equal(id_key_kid(key), "k");
		for (j = 0; j < PA_ARRAY_SIZE(algs); j++)
			assert_int_equal(id_key_allows(key, algs[j]), (t[i].allowed >> j) & 1);
		assert_false(id_key_allows(key, ID_ALG_NONE));
		id_key_free(key);
	}
}

/* id_sig_verify on its own: message, length and key/alg binding. */
static void test_sig_verify_direct(void **state)
{
	struct id_key *key = id_key_from_pkey(F.keys[K_EC256], "k", NULL, 0);
	const char *msg = "header.payload";
	unsigned char *sig;
	size_t siglen;
	char err[256];

	(void)state;
	assert_non_null(key);
	sig = sign_msg(ID_ALG_ES256, F.keys[K_EC256], msg, 0, &siglen);
	assert_int_equal(id_sig_verify(key, ID_ALG_ES256, (const unsigned char *)msg, strlen(msg),
				       sig, siglen, err, sizeof(err)), 0);
	/* one bit off in the message */
	assert_int_equal(id_sig_verify(key, ID_ALG_ES256, (const unsigned char *)"header.paylOad",
				       strlen(msg), sig, siglen, err, sizeof(err)), -1);
	/* one byte short of raw r||s */
	assert_int_equal(id_sig_verify(key, ID_ALG_ES256, (const unsigned char *)msg, strlen(msg),
				       sig, siglen - 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "63 bytes, expected 64"));
	assert_int_equal(id_sig_verify(key, ID_ALG_ES384, (const unsigned char *)msg, strlen(msg),
				       sig, siglen, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot verify ES384"));
	assert_int_equal(id_sig_verify(key, ID_ALG_ES256, (const unsigned char *)msg, strlen(msg),
				       NULL, 0, err, sizeof(err)), -1);
	free(sig);
	id_key_free(key);
}

/* SPIFFE bundles and OIDC JWKS: what is loaded, skipped and refused. */
static void test_keyset_parse(void **state)
{
	struct id_keyset *set;
	char err[512] = "", *text;
	json_t *x509;

	(void)state;
	/* x509-svid entries are skipped, not loaded */
	x509 = jwk_of(F.keys[K_EC384], "x", "x509-svid", NULL);
	json_object_set_new(x509, "x5c", json_pack("[s]", "MIIB"));
	set = parse_set(json_pack("{s:[o,o],s:i}", "keys", jwk_of(F.keys[K_EC256], "a", "jwt-svid", NULL),
				  x509, "spiffe_sequence", 2), ID_KEYSET_SPIFFE, err, sizeof(err));
	assert_non_null(set);
	assert_int_equal(id_keyset_count(set), 1);
	assert_non_null(id_keyset_find(set, "a"));
	assert_null(id_keyset_find(set, "x"));
	assert_null(id_keyset_find(set, "A"));
	assert_null(id_keyset_find(set, NULL));
	id_keyset_free(set);
	/* a bundle of x509-svid entries only has no usable key: loaded, empty */
	set = parse_set(json_pack("{s:[o]}", "keys", jwk_of(F.keys[K_EC256], NULL, "x509-svid", NULL)),
			ID_KEYSET_SPIFFE, err, sizeof(err));
	assert_non_null(set);
	assert_int_equal(id_keyset_count(set), 0);
	assert_int_equal(id_keyset_x509_count(set), 0);
	id_keyset_free(set);
	expect_jwk_ignored_as(jwk_of(F.keys[K_EC256], NULL, "x509-svid", NULL), ID_KEYSET_SPIFFE,
			      "x509-svid element without an \"x5c\" certificate");
	/* x509-svid: only the first x5c value counts (X509-SVID §6.2) */
	x509 = jwk_of(F.keys[K_EC384], NULL, "x509-svid", NULL);
	json_object_set_new(x509, "x5c", json_pack("[s,s]", "MIIB", "MIIC"));
	set = parse_set(json_pack("{s:[o,o]}", "keys", x509,
				  jwk_of(F.keys[K_EC256], "a", "jwt-svid", NULL)),
			ID_KEYSET_SPIFFE, err, sizeof(err));
	assert_non_null(set);
	assert_int_equal(id_keyset_count(set), 1);
	assert_int_equal(id_keyset_x509_count(set), 1);
	assert_int_equal(id_keyset_ignored(set), 0);
	id_keyset_free(set);
	/* SPIFFE bundles: a missing or unknown use is ignored (Trust Domain and Bundle §4.2.2) */
	expect_jwk_ignored_as(jwk_of(F.keys[K_EC256], "a", NULL, NULL), ID_KEYSET_SPIFFE,
			      "no \"use\" string");
	expect_jwk_ignored_as(jwk_of(F.keys[K_EC256], "a", "sig", NULL), ID_KEYSET_SPIFFE,
			      "\"use\" \"sig\" is not one this verifier uses");
	set = parse_set(json_pack("{s:[o,o]}", "keys", jwk_of(F.keys[K_EC256], "w", "wit-svid", NULL),
				  jwk_of(F.keys[K_EC256], "a", "jwt-svid", NULL)),
			ID_KEYSET_SPIFFE, err, sizeof(err));
	assert_non_null(set);
	assert_int_equal(id_keyset_count(set), 1);
	assert_non_null(strstr(id_keyset_notice(set, 0), "key 0 ignored: \"use\" \"wit-svid\""));
	id_keyset_free(set);
	assert_null(parse_set(json_pack("{s:[o],s:s}", "keys", jwk_of(F.keys[K_EC256], "a", "jwt-svid", NULL),
					"spiffe_refresh_hint", "300"), ID_KEYSET_SPIFFE, err, sizeof(err)));
	assert_non_null(strstr(err, "spiffe_refresh_hint"));
	/* a jwt-svid key without kid refuses the bundle (JWT-SVID §6) */
	assert_null(parse_set(json_pack("{s:[o]}", "keys", jwk_of(F.keys[K_EC256], NULL, "jwt-svid", NULL)),
			      ID_KEYSET_SPIFFE, err, sizeof(err)));
	assert_non_null(strstr(err, "key 0: jwt-svid key without a \"kid\" string"));
	/* OIDC: enc keys skipped, sig and no-use keys loaded */
	set = parse_set(json_pack("{s:[o,o,o]}", "keys", jwk_of(F.keys[K_RSA], "enc1", "enc", "RSA-OAEP"),
				  jwk_of(F.keys[K_EC256], "s1", "sig", NULL),
				  jwk_of(F.keys[K_EC384], "s2", NULL, NULL)), ID_KEYSET_OIDC, err, sizeof(err));
	assert_non_null(set);
	assert_int_equal(id_keyset_count(set), 2);
	assert_null(id_keyset_find(set, "enc1"));
	assert_non_null(id_keyset_find(set, "s2"));
	id_keyset_free(set);
	set = parse_set(json_pack("{s:[o]}", "keys", jwk_of(F.keys[K_RSA], "enc1", "enc", NULL)),
			ID_KEYSET_OIDC, err, sizeof(err));
	assert_non_null(set);
	assert_int_equal(id_keyset_count(set), 0);
	assert_int_equal(id_keyset_ignored(set), 0);
	id_keyset_free(set);
	/* an OIDC key without kid is ignored; duplicate kids refuse the set */
	expect_jwk_ignored(jwk_of(F.keys[K_EC256], NULL, "sig", NULL), "no \"kid\"");
	assert_null(parse_set(json_pack("{s:[o,o]}", "keys", jwk_of(F.keys[K_EC256], "a", "sig", NULL),
					jwk_of(F.keys[K_EC384], "a", "sig", NULL)),
			      ID_KEYSET_OIDC, err, sizeof(err)));
	assert_non_null(strstr(err, "duplicate kid \"a\""));
	/* more than 16 ignored elements: 16 described, all counted */
	{
		json_t *many = json_array();

		for (int k = 0; k < 20; k++)
			json_array_append_new(many, json_pack("{s:s}", "kty", "oct"));
		json_array_append_new(many, jwk_of(F.keys[K_EC256], "a", "sig", NULL));
		set = parse_set(json_pack("{s:o}", "keys", many), ID_KEYSET_OIDC, err, sizeof(err));
		assert_non_null(set);
		assert_int_equal(id_keyset_count(set), 1);
		assert_int_equal(id_keyset_ignored(set), 20);
		assert_non_null(id_keyset_notice(set, 15));
		assert_null(id_keyset_notice(set, 16));
		id_keyset_free(set);
	}
	/* document shape; an empty "keys" is a set with no key (§4.1.3) */
	set = parse_set(json_pack("{s:[]}", "keys"), ID_KEYSET_SPIFFE, err, sizeof(err));
	assert_non_null(set);
	assert_int_equal(id_keyset_count(set), 0);
	id_keyset_free(set);
	assert_null(parse_set(json_pack("{s:{}}", "keys"), ID_KEYSET_OIDC, err, sizeof(err)));
	assert_non_null(strstr(err, "no \"keys\" array"));
	assert_null(parse_set(json_pack("[]"), ID_KEYSET_OIDC, err, sizeof(err)));
	assert_null(parse_set(json_pack("{s:[i]}", "keys", 1), ID_KEYSET_OIDC, err, sizeof(err)));
	assert_non_null(strstr(err, "key 0 is not a JSON object"));
	/* raw text: duplicates, trailing bytes, NUL */
	x509 = jwk_of(F.keys[K_EC256], "a", "sig", NULL);
	text = json_dumps(x509, JSON_COMPACT);
	json_decref(x509);
	{
		char *doc = NULL;

		assert_true(asprintf(&doc, "{\"keys\":[%s]}", text) > 0);
		set = id_keyset_parse(doc, strlen(doc), ID_KEYSET_OIDC, err, sizeof(err));
		assert_non_null(set);
		id_keyset_free(set);
		free(doc);
		assert_true(asprintf(&doc, "{\"keys\":[%s],\"keys\":[]}", text) > 0);
		assert_null(id_keyset_parse(doc, strlen(doc), ID_KEYSET_OIDC, err, sizeof(err)));
		assert_non_null(strstr(err, "duplicate"));
		free(doc);
		assert_true(asprintf(&doc, "{\"keys\":[%s]}x", text) > 0);
		assert_null(id_keyset_parse(doc, strlen(doc), ID_KEYSET_OIDC, err, sizeof(err)));
		free(doc);
		assert_true(asprintf(&doc, "{\"keys\":[%s]}", text) > 0);
		assert_null(id_keyset_parse(doc, strlen(doc) + 1, ID_KEYSET_OIDC, err, sizeof(err)));
		free(doc);
		assert_true(asprintf(&doc, "{\"x\":\"a\\u0000\",\"keys\":[%s]}", text) > 0);
		assert_null(id_keyset_parse(doc, strlen(doc), ID_KEYSET_OIDC, err, sizeof(err)));
		free(doc);
	}
	free(text);
}

/* id_keyset_load refuses writable files, symlinks, directories. */
static void test_keyset_load_file_rules(void **state)
{
	char err[512] = "", *path, *link = NULL;
	struct id_keyset *set;

	(void)state;
	path = write_doc("load.json", json_pack("{s:[o]}", "keys", jwk_of(F.keys[K_EC256], "a", "sig", NULL)),
			 0644);
	set = id_keyset_load(path, ID_KEYSET_OIDC, err, sizeof(err));
	assert_non_null(set);
	id_keyset_free(set);
	assert_int_equal(chmod(path, 0664), 0);
	assert_null(id_keyset_load(path, ID_KEYSET_OIDC, err, sizeof(err)));
	assert_non_null(strstr(err, "too open"));
	assert_int_equal(chmod(path, 0646), 0);
	assert_null(id_keyset_load(path, ID_KEYSET_OIDC, err, sizeof(err)));
	assert_int_equal(chmod(path, 0644), 0);
	assert_true(asprintf(&link, "%s/link.json", F.dir) > 0);
	assert_int_equal(symlink(path, link), 0);
	assert_null(id_keyset_load(link, ID_KEYSET_OIDC, err, sizeof(err)));
	assert_non_null(strstr(err, "symbolic link"));
	/* a parse error names the file */
	unlink(path);
	free(path);
	path = write_doc("load.json", json_pack("{s:{}}", "keys"), 0644);
	assert_null(id_keyset_load(path, ID_KEYSET_OIDC, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	assert_null(id_keyset_load(F.dir, ID_KEYSET_OIDC, err, sizeof(err)));
	unlink(link);
	unlink(path);
	free(link);
	free(path);
}

/* id_jws_parse/id_jws_verify/id_jws_clear used directly. */
static void test_jws_parse_api(void **state)
{
	struct id_jws jws;
	char err[256], *tok, *big;

	(void)state;
	/* a payload that is not JSON parses when no claims are wanted */
	tok = make_token(ID_ALG_ES256, F.keys[K_EC256], HDR("ES256", "ec256", ""), "not json", 0);
	assert_int_equal(id_jws_parse(tok, strlen(tok), false, &jws, err, sizeof(err)), 0);
	assert_null(jws.claims);
	assert_int_equal(jws.payload_len, 8);
	assert_memory_equal(jws.payload, "not json", 8);
	assert_int_equal(jws.alg, ID_ALG_ES256);
	assert_int_equal(jws.sig_len, 64);
	assert_int_equal(jws.signing_input_len, (size_t)(strrchr(tok, '.') - tok));
	assert_ptr_equal(jws.signing_input, tok);
	{
		struct id_key *key = id_key_from_pkey(F.keys[K_EC256], "ec256", NULL, 0);
		struct id_key *k384 = id_key_from_pkey(F.keys[K_EC384], "ec384", NULL, 0);

		assert_int_equal(id_jws_verify(&jws, key, err, sizeof(err)), 0);
		assert_int_equal(id_jws_verify(&jws, k384, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "may not verify ES256"));
		id_key_free(key);
		id_key_free(k384);
	}
	id_jws_clear(&jws);
	assert_int_equal(id_jws_parse(tok, strlen(tok), true, &jws, err, sizeof(err)), -1);
	assert_null(jws.header);
	assert_null(jws.payload);
	id_jws_clear(&jws);
	free(tok);
	/* the size cap comes before any decoding: bytes beyond it are never looked at */
	big = malloc(ID_TOKEN_MAX + 2);
	assert_non_null(big);
	memset(big, '!', ID_TOKEN_MAX + 1);
	big[ID_TOKEN_MAX + 1] = '\0';
	assert_int_equal(id_jws_parse(big, ID_TOKEN_MAX + 1, false, &jws, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "16385 bytes, larger than the limit"));
	free(big);
	assert_int_equal(id_jws_parse("", 0, false, &jws, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "empty token"));
	assert_int_equal(id_jws_parse("..", 2, false, &jws, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "header segment is empty"));
}

/* Attacker-controlled text in reasons is escaped and capped. */
static void test_attacker_text_escaped(void **state)
{
	char err[512] = "", *tok;
	struct id_identity *id = NULL;

	(void)state;
	tok = make_token(ID_ALG_ES256, F.keys[K_EC256],
			 "{\"alg\":\"ES256\",\"kid\":\"a\\nb\\u001b[31m\\\"x\"}",
			 "{\"sub\":\"" SUB "\",\"aud\":\"" AUD "\",\"exp\":1700000100}", 0);
	assert_int_equal(id_verify_token(&F.v, tok, strlen(tok), NOW, &id, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown kid \"a\\x0ab\\x1b[31m\\x22x\""));
	assert_null(strchr(err, '\n'));
	free(tok);
	/* long attacker text is capped */
	{
		char hdr[1024];

		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%0600d\",\"kid\":\"k\"}", 7);
		tok = make_token(ID_ALG_ES256, F.keys[K_EC256], hdr, "{}", 0);
		assert_int_equal(id_verify_token(&F.v, tok, strlen(tok), NOW, &id, err, sizeof(err)), -1);
		assert_true(strlen(err) < PA_ESCAPE_MAX + 64);
		assert_non_null(strstr(err, "..."));
		free(tok);
	}
}

/* The identity of a verified token, and its JSON rendering. */
static void test_identity_to_json(void **state)
{
	json_t *c = default_claims(), *out;
	char *text, *tok, err[256] = "";
	struct id_identity *id = NULL;
	unsigned char md[32];
	char hex[65];
	size_t i;

	(void)state;
	json_object_set_new(c, "task", json_string("TICKET-7"));
	json_object_set_new(c, "scope", json_string("tickets:read read"));
	json_object_set_new(c, "act", json_pack("{s:s}", "sub", "spiffe://example.org/agents/orchestrator"));
	set_int(c, "nbf", NOW - 5);
	text = json_dumps(c, JSON_COMPACT);
	json_decref(c);
	tok = make_token(ID_ALG_ES384, F.keys[K_EC384], "{\"alg\":\"ES384\",\"kid\":\"ec384\",\"typ\":\"JWT\"}",
			 text, 0);
	free(text);
	assert_int_equal(id_verify_token(&F.v, tok, strlen(tok), NOW, &id, err, sizeof(err)), 0);
	assert_int_equal(id->kind, ID_KIND_SPIFFE);
	assert_string_equal(id->trust_domain, "example.org");
	assert_null(id->issuer);
	assert_string_equal(id->kid, "ec384");
	assert_int_equal(id->exp, NOW + 290);
	assert_int_equal(id->iat, NOW - 10);
	assert_int_equal(id->nbf, NOW - 5);
	assert_int_equal(SHA256((const unsigned char *)tok, strlen(tok), md) != NULL, 1);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	assert_string_equal(id->fingerprint, hex);

	out = id_identity_to_json(id);
	assert_non_null(out);
	assert_string_equal(json_string_value(json_object_get(out, "kind")), "spiffe");
	assert_string_equal(json_string_value(json_object_get(out, "agent_id")), SUB);
	assert_string_equal(json_string_value(json_object_get(out, "subject")), SUB);
	assert_string_equal(json_string_value(json_object_get(out, "trust_domain")), "example.org");
	assert_string_equal(json_string_value(json_object_get(out, "jti")), "jti-1");
	assert_string_equal(json_string_value(json_object_get(out, "task")), "TICKET-7");
	assert_string_equal(json_string_value(json_object_get(out, "scope")), "tickets:read read");
	assert_string_equal(json_string_value(json_object_get(out, "kid")), "ec384");
	assert_string_equal(json_string_value(json_object_get(out, "alg")), "ES384");
	assert_string_equal(json_string_value(json_object_get(out, "fingerprint")), hex);
	assert_int_equal(json_integer_value(json_object_get(out, "exp")), NOW + 290);
	assert_int_equal(json_integer_value(json_object_get(out, "iat")), NOW - 10);
	assert_int_equal(json_integer_value(json_object_get(out, "nbf")), NOW - 5);
	assert_null(json_object_get(out, "issuer"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(out, "act"), "sub")),
			    "spiffe://example.org/agents/orchestrator");
	assert_string_equal(json_string_value(json_object_get(json_object_get(out, "claims"), "aud")), AUD);
	/* the output is a copy: changing it leaves the identity alone */
	json_object_set_new(json_object_get(out, "act"), "sub", json_string("changed"));
	assert_string_equal(json_string_value(json_object_get(id->act, "sub")),
			    "spiffe://example.org/agents/orchestrator");
	text = json_dumps(out, JSON_COMPACT);
	assert_null(strstr(text, tok));	/* never the token itself */
	free(text);
	json_decref(out);
	id_identity_free(id);
	id = NULL;
	free(tok);

	/* OIDC identity */
	c = default_claims();
	c_oidc(c);
	text = json_dumps(c, JSON_COMPACT);
	json_decref(c);
	tok = make_token(ID_ALG_EDDSA, F.keys[K_ED], "{\"alg\":\"EdDSA\",\"kid\":\"ed1\"}", text, 0);
	free(text);
	assert_int_equal(id_verify_token(&F.v, tok, strlen(tok), NOW, &id, err, sizeof(err)), 0);
	out = id_identity_to_json(id);
	assert_string_equal(json_string_value(json_object_get(out, "kind")), "oidc");
	assert_string_equal(json_string_value(json_object_get(out, "agent_id")), IDP "#user-1");
	assert_string_equal(json_string_value(json_object_get(out, "issuer")), IDP);
	assert_null(json_object_get(out, "trust_domain"));
	assert_null(json_object_get(out, "task"));
	assert_string_equal(json_string_value(json_object_get(out, "alg")), "EdDSA");
	json_decref(out);
	id_identity_free(id);
	free(tok);
	assert_null(id_identity_to_json(NULL));
	id_identity_free(NULL);
}

/* Configuration errors id_verifier_load reports. */
static void test_verifier_load_errors(void **state)
{
	struct id_verifier v;
	struct id_trust_domain d[2];
	char err[256] = "", bad_td[] = "Example.org", good_td[] = "example.org", aud[] = "aud";
	char nopath[] = "/nonexistent/bundle.json";

	(void)state;
	memset(&v, 0, sizeof(v));
	assert_int_equal(id_verifier_load(&v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no trust domain and no issuer"));
	memset(d, 0, sizeof(d));
	d[0].name = bad_td;
	d[0].bundle_path = F.v.domains[0].bundle_path;
	v.domains = d;
	v.n_domains = 1;
	v.audience = aud;
	assert_int_equal(id_verifier_load(&v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a valid trust domain name"));
	d[0].name = good_td;
	d[1] = d[0];
	v.n_domains = 2;
	assert_int_equal(id_verifier_load(&v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "configured twice"));
	id_keyset_free(d[0].keys);
	d[0].keys = NULL;
	v.n_domains = 1;
	v.audience = NULL;
	assert_int_equal(id_verifier_load(&v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no audience"));
	v.audience = aud;
	/* a bundle that cannot be read is that trust domain's problem only */
	d[0].bundle_path = nopath;
	assert_int_equal(id_verifier_load(&v, err, sizeof(err)), 0);
	assert_null(d[0].keys);
	assert_non_null(d[0].load_error);
	assert_non_null(strstr(d[0].load_error, "/nonexistent/bundle.json"));
	free(d[0].load_error);
}

/* ---- fixtures from the independent implementation ---------------------- */

/* Every case made by make_fixtures.py (Python cryptography) as expected. */
static void test_independent_fixtures(void **state)
{
	const char *base = getenv("PA_TEST_DATA");
	char dir[1024], path[1100], err[512];
	json_t *doc, *cfg, *cases, *tc;
	json_error_t jerr;
	struct id_verifier v;
	size_t i, accepted = 0, rejected = 0;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/independent", base != NULL ? base : "tests/data");
	snprintf(path, sizeof(path), "%s/cases.json", dir);
	doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL)
		print_error("%s: %s\n", path, jerr.text);
	assert_non_null(doc);
	cfg = json_object_get(doc, "config");
	cases = json_object_get(doc, "cases");
	assert_true(json_array_size(cases) >= 20);

	memset(&v, 0, sizeof(v));
	v.audience = strdup(json_string_value(json_object_get(cfg, "audience")));
	v.leeway = json_integer_value(json_object_get(cfg, "leeway"));
	v.max_token_age = json_integer_value(json_object_get(cfg, "max_token_age"));
	v.n_domains = 1;
	v.domains = calloc(1, sizeof(*v.domains));
	v.domains[0].name = strdup(json_string_value(json_object_get(cfg, "trust_domain")));
	assert_true(asprintf(&v.domains[0].bundle_path, "%s/%s", dir,
			     json_string_value(json_object_get(cfg, "bundle"))) > 0);
	v.n_issuers = 1;
	v.issuers = calloc(1, sizeof(*v.issuers));
	v.issuers[0].url = strdup(json_string_value(json_object_get(cfg, "issuer")));
	assert_true(asprintf(&v.issuers[0].jwks_path, "%s/%s", dir,
			     json_string_value(json_object_get(cfg, "jwks"))) > 0);
	v.issuers[0].allow_eddsa = json_is_true(json_object_get(cfg, "allow_eddsa"));
	if (id_verifier_load(&v, err, sizeof(err)) != 0)
		print_error("%s\n", err);
	assert_int_equal(id_verifier_load(&v, err, sizeof(err)), 0);
	/* the bundle has 5 jwt-svid keys and one x509-svid entry to skip */
	assert_int_equal(id_keyset_count(v.domains[0].keys), 5);
	assert_int_equal(id_keyset_count(v.issuers[0].keys), 1);

	json_array_foreach(cases, i, tc) {
		const char *name = json_string_value(json_object_get(tc, "name"));
		const char *tok = json_string_value(json_object_get(tc, "token"));
		const char *expect = json_string_value(json_object_get(tc, "expect"));
		const char *agent = json_string_value(json_object_get(tc, "agent_id"));
		int64_t now = json_integer_value(json_object_get(tc, "now"));
		struct id_identity *id = NULL;
		int rc;

		assert_non_null(tok);
		assert_non_null(expect);
		err[0] = '\0';
		rc = id_verify_token(&v, tok, strlen(tok), now, &id, err, sizeof(err));
		if ((rc == 0) != (strcmp(expect, "accept") == 0))
			print_error("independent case \"%s\": expected %s, got rc %d (%s)\n",
				    name, expect, rc, err);
		assert_int_equal(rc == 0, strcmp(expect, "accept") == 0);
		if (rc == 0) {
			accepted++;
			if (agent != NULL)
				assert_string_equal(id->agent_id, agent);
			id_identity_free(id);
		} else {
			rejected++;
			assert_null(id);
			assert_true(err[0] != '\0');
		}
	}
	print_message("independent fixtures: %zu accepted, %zu rejected as expected\n",
		      accepted, rejected);
	id_verifier_clear(&v);
	json_decref(doc);
}

/* ---- main ---------------------------------------------------------------- */

#define T(f) { #f, f, NULL, NULL, NULL }

/* One test per token case, then the fixed tests, in one group. */
int main(void)
{
	static const struct CMUnitTest fixed[] = {
		T(test_b64url),
		T(test_b64url_roundtrip),
		T(test_alg_names),
		T(test_spiffe_id_table),
		T(test_jwk_rsa_1024_refused),
		T(test_jwk_roca_refused),
		T(test_jwk_ec_point_not_on_curve),
		T(test_jwk_private_member_refused),
		T(test_jwk_rules),
		T(test_key_allows_matrix),
		T(test_sig_verify_direct),
		T(test_keyset_parse),
		T(test_keyset_load_file_rules),
		T(test_jws_parse_api),
		T(test_attacker_text_escaped),
		T(test_identity_to_json),
		T(test_verifier_load_errors),
		T(test_independent_fixtures),
	};
	size_t n_cases = PA_ARRAY_SIZE(token_cases), n = PA_ARRAY_SIZE(fixed) + n_cases, i;
	struct CMUnitTest *tests = calloc(n, sizeof(*tests));
	int rc;

	if (tests == NULL)
		return 1;
	for (i = 0; i < n_cases; i++) {
		tests[i].name = token_cases[i].name;
		tests[i].test_func = test_token_case;
		tests[i].initial_state = (void *)&token_cases[i];
	}
	memcpy(tests + n_cases, fixed, sizeof(fixed));
	rc = _cmocka_run_group_tests("identity", tests, n, group_setup, group_teardown);
	free(tests);
	return rc;
}
