/*
 * bench_x509.c - X.509-SVID chain verification next to one ES256 JWT-SVID
 * verification, in one process and run, against one trust domain whose
 * bundle holds both the X.509 authority and the jwt-svid key. The chain
 * is tests/data/x509/ok-ec-p256.pem (an EC P-256 leaf and intermediate
 * under an EC P-256 root, made by Python cryptography), read from
 * $PA_TEST_DATA/x509 (default tests/data/x509) and verified at the time of
 * its cases; then the module's side of proof of possession (the challenge
 * and the check of its answer), and their sum, an X.509-SVID login's
 * verification. Not a test: prints a table and writes bench-x509.csv.
 * Figures are medians of batch means.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "identity.h"
#include "bench.h"

#define AUD "spiffe://example.org/host/bench"
#define SUB "spiffe://example.org/agents/bench"
#define X509_NOW 1800000000
#define BATCH 20
#define BATCHES 41

static void die(const char *what, const char *err)
{
	fprintf(stderr, "bench_x509: %s: %s\n", what, err != NULL ? err : "failed");
	exit(1);
}

/* The whole file at path (NUL-terminated), its length in *len. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = malloc(ID_BUNDLE_MAX + 1);

	if (f == NULL || buf == NULL)
		die("read", path);
	*len = fread(buf, 1, ID_BUNDLE_MAX, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* What is measured: the chain text, the token, and the verifier of both. */
struct bench {
	char *chain;
	size_t chain_len;
	struct id_x509_chain *parsed;
	char *token;
	int64_t token_now;
	struct id_trust_domain td;
	struct id_verifier v;
	struct id_signer *client; /* an EC P-256 key like the leaf's: the challenge's answers */
	struct id_key *client_pub;
};

/* The bundle of dir with the signer's jwt-svid key added, as the trust domain's keys. */
static void bench_make(struct bench *b, const char *dir)
{
	char path[1100], err[256], *text;
	struct id_signer *s = id_signer_generate(ID_ALG_ES256, err, sizeof(err));
	json_t *doc, *claims;
	size_t len;

	if (s == NULL)
		die("signer", err);
	snprintf(path, sizeof(path), "%s/bundle.json", dir);
	text = slurp(path, &len);
	doc = json_loads(text, 0, NULL);
	free(text);
	if (doc == NULL)
		die("bundle", path);
	json_array_append_new(json_object_get(doc, "keys"), id_signer_public_jwk(s, "jwt-svid"));
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	b->td.name = (char *)"example.org";
	b->td.keys = id_keyset_parse(text, strlen(text), ID_KEYSET_SPIFFE, err, sizeof(err));
	free(text);
	if (b->td.keys == NULL || id_keyset_x509_count(b->td.keys) != 1)
		die("keyset", err);
	b->v = (struct id_verifier){ .audience = (char *)AUD, .leeway = 30,
				     .max_token_age = 3600, .domains = &b->td, .n_domains = 1 };
	b->token_now = (int64_t)time(NULL);
	claims = json_pack("{s:s, s:s, s:I, s:I, s:s}", "sub", SUB, "aud", AUD, "iat",
			   (json_int_t)b->token_now, "exp", (json_int_t)b->token_now + 300,
			   "jti", "bench");
	b->token = id_sign_jwt(s, claims, err, sizeof(err));
	json_decref(claims);
	id_signer_free(s);
	if (b->token == NULL)
		die("sign", err);
	snprintf(path, sizeof(path), "%s/ok-ec-p256.pem", dir);
	b->chain = slurp(path, &b->chain_len);
	if (id_x509_chain_parse(b->chain, b->chain_len, &b->parsed, err, sizeof(err)) != 0)
		die("chain", err);
	b->client = id_signer_generate(ID_ALG_ES256, err, sizeof(err));
	doc = b->client != NULL ? id_signer_public_jwk(b->client, NULL) : NULL;
	b->client_pub = doc != NULL ? id_key_from_jwk(doc, err, sizeof(err)) : NULL;
	json_decref(doc);
	if (b->client_pub == NULL)
		die("client key", err);
}

/* Time spent in a batch on what is not measured (the client's signature). */
static double bench_skip_ns;

enum what { PARSE_VERIFY, VERIFY_ONLY, CHALLENGE, JWT, N_WHAT };

/*
 * The module's side of the challenge after the chain verified
 * (pam_agent/pop.c): the chain's hash and leaf key, a fresh challenge, and
 * the check of its answer (the answer is signed outside the clock: it is
 * the client's work). The answer checks against a P-256 key of the same
 * kind as the leaf's, whose private key the benchmark holds.
 */
static int challenge_once(const struct bench *b, char *err, size_t errlen)
{
	char ev[ID_SHA256_HEX + 1], *chal = NULL, *answer = NULL;
	struct id_key *leaf = NULL;
	double paused;
	int rc = -1;

	if (id_x509_chain_sha256(b->parsed, ev, err, errlen) == 0 &&
	    (leaf = id_x509_leaf_key(b->parsed, err, errlen)) != NULL &&
	    (chal = id_pop_challenge(AUD, "sshd", ev, X509_NOW, err, errlen)) != NULL) {
		paused = bench_now_ns();
		answer = id_pop_answer(b->client, chal, err, errlen);
		bench_skip_ns += bench_now_ns() - paused;
		if (answer != NULL)
			rc = id_pop_check(b->client_pub, chal, answer, err, errlen);
	}
	id_key_free(leaf);
	free(chal);
	free(answer);
	return rc;
}

/* One run of what. */
static void run_one(const struct bench *b, enum what what)
{
	struct id_x509_chain *c = NULL;
	struct id_identity *id = NULL;
	char err[256];
	int rc;

	if (what == CHALLENGE) {
		rc = challenge_once(b, err, sizeof(err));
	} else if (what == JWT) {
		rc = id_verify_token(&b->v, b->token, strlen(b->token), b->token_now, &id, err,
				     sizeof(err));
	} else if (what == VERIFY_ONLY) {
		rc = id_x509_verify(&b->v, b->parsed, X509_NOW, &id, err, sizeof(err));
	} else {
		rc = id_x509_chain_parse(b->chain, b->chain_len, &c, err, sizeof(err));
		if (rc == 0)
			rc = id_x509_verify(&b->v, c, X509_NOW, &id, err, sizeof(err));
		id_x509_chain_free(c);
	}
	if (rc != 0)
		die("verify", err);
	id_identity_free(id);
}

int main(void)
{
	static const char *const names[] = { "x509 parse+verify (PEM, leaf+intermediate, P-256)",
					     "x509 verify (parsed chain)",
					     "challenge: hash, leaf key, challenge, check",
					     "jwt-svid ES256 verify (id_verify_token)",
					     "x509 login: parse+verify + challenge" };
	const char *base = getenv("PA_TEST_DATA");
	double t[N_WHAT][BATCHES], med[N_WHAT + 1];
	FILE *csv = fopen("bench-x509.csv", "w");
	struct bench b;
	char dir[1024];
	size_t i, n, w;

	memset(&b, 0, sizeof(b));
	snprintf(dir, sizeof(dir), "%s/x509", base != NULL ? base : "tests/data");
	bench_make(&b, dir);
	/* interleaved batches, so load on the machine touches all three alike */
	for (n = 0; n < BATCHES; n++) {
		for (w = 0; w < N_WHAT; w++) {
			double t0;

			bench_skip_ns = 0;
			t0 = bench_now_ns();
			for (i = 0; i < BATCH; i++)
				run_one(&b, (enum what)w);
			t[w][n] = (bench_now_ns() - t0 - bench_skip_ns) / BATCH / 1000.0;
		}
	}
	printf("%-52s %10s %8s\n", "what", "median_us", "x jwt");
	if (csv != NULL)
		fprintf(csv, "what,median_us,ratio_to_jwt\n");
	for (w = 0; w < N_WHAT; w++) {
		qsort(t[w], BATCHES, sizeof(double), bench_cmp_double);
		med[w] = t[w][BATCHES / 2];
	}
	/* the module's whole work for an X.509-SVID login, from the medians */
	med[N_WHAT] = med[PARSE_VERIFY] + med[CHALLENGE];
	for (w = 0; w <= N_WHAT; w++) {
		printf("%-52s %10.1f %8.2f\n", names[w], med[w], med[w] / med[JWT]);
		if (csv != NULL)
			fprintf(csv, "\"%s\",%.1f,%.3f\n", names[w], med[w], med[w] / med[JWT]);
	}
	if (csv != NULL)
		fclose(csv);
	id_key_free(b.client_pub);
	id_signer_free(b.client);
	id_x509_chain_free(b.parsed);
	id_keyset_free(b.td.keys);
	free(b.token);
	free(b.chain);
	return 0;
}
