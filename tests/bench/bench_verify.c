/*
 * bench_verify.c - the whole token pipeline (parse, bundle lookup, signature,
 * claims) against the raw OpenSSL verify of the same signing input with
 * the same key, in one process and run; then ES256 against libjwt (when
 * configure found libjwt-dev): libjwt's verify with its key parsing, and
 * pam_agent cold (the bundle loaded, then the token verified) and warm.
 * Not a test: prints tables and writes bench-verify.csv. Figures are
 * medians of batch means.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#ifdef HAVE_LIBJWT
#include <jwt.h>
#endif

#include "identity.h"
#include "bench.h"

#define AUD "spiffe://example.org/host/bench"
#define SUB "spiffe://example.org/agents/bench"
#define ISS "https://idp.bench.test"
#define BATCH 20
#define BATCHES 41

static void die(const char *what, const char *err)
{
	fprintf(stderr, "bench_verify: %s: %s\n", what, err != NULL ? err : "failed");
	exit(1);
}

/* The private key of a signer as an EVP_PKEY (through its PEM file). */
static EVP_PKEY *signer_pkey(const struct id_signer *s)
{
	char path[] = "/tmp/pa-bench-key.XXXXXX", err[256];
	EVP_PKEY *pkey;
	FILE *f;
	int fd = mkstemp(path);

	if (fd < 0)
		die("mkstemp", NULL);
	close(fd);
	unlink(path);
	if (id_signer_save(s, path, err, sizeof(err)) != 0)
		die("save", err);
	f = fopen(path, "r");
	pkey = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f != NULL)
		fclose(f);
	unlink(path);
	if (pkey == NULL)
		die("read key", NULL);
	return pkey;
}

static const EVP_MD *md_of(enum id_alg alg)
{
	switch (alg) {
	case ID_ALG_RS384: case ID_ALG_PS384: case ID_ALG_ES384: return EVP_sha384();
	case ID_ALG_RS512: case ID_ALG_PS512: case ID_ALG_ES512: return EVP_sha512();
	case ID_ALG_EDDSA: return NULL;
	default: return EVP_sha256();
	}
}

static bool is_pss(enum id_alg alg)
{
	return alg == ID_ALG_PS256 || alg == ID_ALG_PS384 || alg == ID_ALG_PS512;
}

/* One raw EVP_DigestVerify of msg/sig; returns 1 when valid. */
static int raw_verify(EVP_PKEY *pkey, enum id_alg alg, const unsigned char *msg, size_t len,
		      const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ok;

	ok = EVP_DigestVerifyInit(ctx, &pctx, md_of(alg), NULL, pkey) == 1;
	if (ok && is_pss(alg))
		ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
	ok = ok && EVP_DigestVerify(ctx, sig, siglen, msg, len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* A signature over msg in OpenSSL's own format (DER for ECDSA). */
static unsigned char *raw_sign(EVP_PKEY *pkey, enum id_alg alg, const unsigned char *msg,
			       size_t len, size_t *siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *sig = NULL;

	if (EVP_DigestSignInit(ctx, &pctx, md_of(alg), NULL, pkey) != 1)
		die("sign init", NULL);
	if (is_pss(alg) && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
			    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
		die("pss", NULL);
	if (EVP_DigestSign(ctx, NULL, siglen, msg, len) != 1 || (sig = malloc(*siglen)) == NULL ||
	    EVP_DigestSign(ctx, sig, siglen, msg, len) != 1)
		die("sign", NULL);
	EVP_MD_CTX_free(ctx);
	return sig;
}

/* A key set JSON with jwk and filler extra ES256 keys. */
static struct id_keyset *make_keyset(json_t *jwk, json_t *const *fillers, size_t n_fill,
				     enum id_keyset_kind kind)
{
	json_t *doc = json_pack("{s:[O]}", "keys", jwk);
	struct id_keyset *set;
	char err[256], *text;
	size_t i;

	for (i = 0; i < n_fill; i++)
		json_array_append(json_object_get(doc, "keys"), fillers[i]);
	text = json_dumps(doc, JSON_COMPACT);
	set = id_keyset_parse(text, strlen(text), kind, err, sizeof(err));
	if (set == NULL)
		die("keyset", err);
	free(text);
	json_decref(doc);
	return set;
}

/* One algorithm's signer, token, and the raw signature of the token's signing input. */
struct subject {
	enum id_alg alg;
	bool oidc; /* EdDSA: the token of an OIDC issuer (SPIFFE has no EdDSA) */
	struct id_signer *signer;
	EVP_PKEY *pkey;
	json_t *jwk;
	char *token;
	size_t signed_len; /* the signing input: the token up to its last dot */
	unsigned char *sig;
	size_t siglen;
	time_t t;
};

static void subject_make(struct subject *s, enum id_alg alg)
{
	char err[256];
	json_t *claims;

	s->alg = alg;
	s->oidc = alg == ID_ALG_EDDSA;
	s->signer = id_signer_generate(alg, err, sizeof(err));
	s->t = time(NULL);
	if (s->signer == NULL)
		die("signer", err);
	s->pkey = signer_pkey(s->signer);
	s->jwk = id_signer_public_jwk(s->signer, s->oidc ? "sig" : "jwt-svid");
	claims = json_pack("{s:s, s:s, s:I, s:I, s:s}", "sub", SUB, "aud", AUD, "iat",
			   (json_int_t)s->t, "exp", (json_int_t)s->t + 300, "jti", "bench");
	if (s->oidc)
		json_object_set_new(claims, "iss", json_string(ISS));
	s->token = id_sign_jwt(s->signer, claims, err, sizeof(err));
	json_decref(claims);
	if (s->token == NULL)
		die("sign", err);
	s->signed_len = (size_t)(strrchr(s->token, '.') - s->token);
	s->sig = raw_sign(s->pkey, alg, (const unsigned char *)s->token, s->signed_len,
			  &s->siglen);
}

static void subject_free(struct subject *s)
{
	free(s->sig);
	free(s->token);
	json_decref(s->jwk);
	EVP_PKEY_free(s->pkey);
	id_signer_free(s->signer);
}

/* The medians of BATCHES batch means (us): the pipeline with set as its keys, the raw verify. */
static void measure(const struct subject *s, struct id_keyset *set, double *pipe_us,
		    double *raw_us)
{
	struct id_trust_domain td = { .name = (char *)"example.org" };
	struct id_issuer is = { .url = (char *)ISS, .allow_eddsa = true };
	struct id_verifier v = { .audience = (char *)AUD, .leeway = 30, .max_token_age = 3600 };
	double pipe[BATCHES], raw[BATCHES];
	char err[256];
	size_t b, r;

	if (s->oidc) {
		is.keys = set;
		is.audience = (char *)AUD;
		v.issuers = &is;
		v.n_issuers = 1;
	} else {
		td.keys = set;
		v.domains = &td;
		v.n_domains = 1;
	}
	for (b = 0; b < BATCHES; b++) {
		double t0 = bench_now_ns();

		for (r = 0; r < BATCH; r++) {
			struct id_identity *id = NULL;

			if (id_verify_token(&v, s->token, strlen(s->token), (int64_t)s->t, &id, err,
					    sizeof(err)) != 0)
				die("verify", err);
			id_identity_free(id);
		}
		pipe[b] = (bench_now_ns() - t0) / BATCH / 1000.0;
		t0 = bench_now_ns();
		for (r = 0; r < BATCH; r++)
			if (!raw_verify(s->pkey, s->alg, (const unsigned char *)s->token, s->signed_len,
					s->sig, s->siglen))
				die("raw verify", NULL);
		raw[b] = (bench_now_ns() - t0) / BATCH / 1000.0;
	}
	qsort(pipe, BATCHES, sizeof(double), bench_cmp_double);
	qsort(raw, BATCHES, sizeof(double), bench_cmp_double);
	*pipe_us = pipe[BATCHES / 2];
	*raw_us = raw[BATCHES / 2];
}

#ifdef HAVE_LIBJWT
/* The public key of s in PEM, as libjwt takes it. */
static char *public_pem(EVP_PKEY *pkey, int *len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out;
	long n;

	if (bio == NULL || PEM_write_bio_PUBKEY(bio, pkey) != 1)
		die("public PEM", NULL);
	n = BIO_get_mem_data(bio, &data);
	out = malloc((size_t)n + 1);
	if (out == NULL)
		die("public PEM", "out of memory");
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	*len = (int)n;
	BIO_free(bio);
	return out;
}

/* The median of BATCHES batch means (us) of one of the three ways, w. */
static double versus_one(const struct subject *s, int w, const char *bundle, const char *pem,
			 int pem_len, const struct id_verifier *warm)
{
	double t[BATCHES];
	char err[256];
	size_t b, r;

	for (b = 0; b < BATCHES; b++) {
		double t0 = bench_now_ns();

		for (r = 0; r < BATCH; r++) {
			struct id_identity *id = NULL;

			if (w == 0) {
				jwt_t *jwt = NULL;

				if (jwt_decode(&jwt, s->token, (const unsigned char *)pem, pem_len) != 0)
					die("libjwt", "jwt_decode refused the token");
				jwt_free(jwt);
				continue;
			}
			if (w == 1) {
				struct id_trust_domain td = { .name = (char *)"example.org" };
				struct id_verifier v = *warm;

				td.keys = id_keyset_load(bundle, ID_KEYSET_SPIFFE, err, sizeof(err));
				if (td.keys == NULL)
					die("bundle", err);
				v.domains = &td;
				if (id_verify_token(&v, s->token, strlen(s->token), (int64_t)s->t, &id,
						    err, sizeof(err)) != 0)
					die("verify", err);
				id_keyset_free(td.keys);
			} else if (id_verify_token(warm, s->token, strlen(s->token), (int64_t)s->t, &id,
						   err, sizeof(err)) != 0) {
				die("verify", err);
			}
			id_identity_free(id);
		}
		t[b] = (bench_now_ns() - t0) / BATCH / 1000.0;
	}
	qsort(t, BATCHES, sizeof(double), bench_cmp_double);
	return t[BATCHES / 2];
}

/*
 * ES256, one key: libjwt 1.x's jwt_decode with the PEM public key (its
 * normal use: the key is parsed on every call; it checks the signature
 * only) against pam_agent cold (id_keyset_load of the bundle file, then
 * id_verify_token: signature and every claim) and warm (the bundle
 * loaded once).
 */
static void versus_libjwt(FILE *csv)
{
	static const char *const names[] = { "libjwt jwt_decode (PEM key parsed)",
					     "pam_agent cold (bundle load + verify)",
					     "pam_agent warm (verify)" };
	char bundle[] = "/tmp/pa-bench-bundle.XXXXXX", err[256];
	struct id_trust_domain td = { .name = (char *)"example.org" };
	struct id_verifier v = { .audience = (char *)AUD, .leeway = 30, .max_token_age = 3600 };
	struct subject s;
	double us[3];
	json_t *doc;
	char *pem;
	int fd, pem_len, w;

	subject_make(&s, ID_ALG_ES256);
	pem = public_pem(s.pkey, &pem_len);
	doc = json_pack("{s:[O]}", "keys", s.jwk);
	fd = mkstemp(bundle);
	if (fd < 0 || doc == NULL || json_dumpfd(doc, fd, JSON_COMPACT) != 0)
		die("bundle", NULL);
	close(fd);
	json_decref(doc);
	td.keys = id_keyset_load(bundle, ID_KEYSET_SPIFFE, err, sizeof(err));
	if (td.keys == NULL)
		die("bundle", err);
	v.domains = &td;
	v.n_domains = 1;
	for (w = 0; w < 3; w++)
		us[w] = versus_one(&s, w, bundle, pem, pem_len, &v);
	printf("\nES256, 1 key, against libjwt %s\n", "1.x (jwt_decode)");
	for (w = 0; w < 3; w++) {
		printf("%-40s %9.1f us  libjwt / this = %5.2f\n", names[w], us[w], us[0] / us[w]);
		if (csv != NULL)
			fprintf(csv, "\"%s\",1,%.1f,%.1f,%.3f\n", names[w], us[w], us[0],
				us[0] / us[w]);
	}
	id_keyset_free(td.keys);
	unlink(bundle);
	free(pem);
	subject_free(&s);
}
#else
static void versus_libjwt(FILE *csv)
{
	(void)csv;
	printf("\nES256 against libjwt: SKIPPED (libjwt-dev was not found by configure; "
	       "scripts/deps.sh installs it)\n");
}
#endif

int main(void)
{
	static const enum id_alg algs[] = { ID_ALG_RS256, ID_ALG_PS256, ID_ALG_ES256,
					    ID_ALG_ES384, ID_ALG_EDDSA };
	static const size_t key_counts[] = { 1, 100 };
	json_t *fill_spiffe[99], *fill_oidc[99];
	char err[256];
	FILE *csv = fopen("bench-verify.csv", "w");
	size_t a, k, i;

	for (i = 0; i < 99; i++) {
		struct id_signer *s = id_signer_generate(ID_ALG_ES256, err, sizeof(err));

		if (s == NULL)
			die("filler", err);
		fill_spiffe[i] = id_signer_public_jwk(s, "jwt-svid");
		fill_oidc[i] = id_signer_public_jwk(s, "sig");
		id_signer_free(s);
	}
	printf("%-6s %5s %14s %14s %7s\n", "alg", "keys", "pipeline_us", "raw_verify_us", "ratio");
	if (csv != NULL)
		fprintf(csv, "alg,keys,pipeline_us,raw_verify_us,ratio\n");
	for (a = 0; a < sizeof(algs) / sizeof(algs[0]); a++) {
		const char *only = getenv("PA_BENCH_ALG"); /* one algorithm, for perf */
		struct subject s;

		if (only != NULL && strcmp(only, id_alg_name(algs[a])) != 0)
			continue;
		subject_make(&s, algs[a]);
		for (k = 0; k < sizeof(key_counts) / sizeof(key_counts[0]); k++) {
			struct id_keyset *set = make_keyset(s.jwk, s.oidc ? fill_oidc : fill_spiffe,
							    key_counts[k] - 1,
							    s.oidc ? ID_KEYSET_OIDC : ID_KEYSET_SPIFFE);
			const char *name = id_alg_name(s.alg);
			double pipe, raw;

			measure(&s, set, &pipe, &raw);
			printf("%-6s %5zu %14.1f %14.1f %7.2f\n", name, key_counts[k], pipe, raw,
			       pipe / raw);
			if (csv != NULL)
				fprintf(csv, "%s,%zu,%.1f,%.1f,%.3f\n", name, key_counts[k], pipe, raw,
					pipe / raw);
			id_keyset_free(set);
		}
		subject_free(&s);
	}
	for (i = 0; i < 99; i++) {
		json_decref(fill_spiffe[i]);
		json_decref(fill_oidc[i]);
	}
	versus_libjwt(csv);
	if (csv != NULL)
		fclose(csv);
	return 0;
}
