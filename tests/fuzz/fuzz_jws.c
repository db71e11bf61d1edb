/*
 * fuzz_jws.c - libFuzzer target for compact JWS tokens: id_jws_parse
 * (jws.c, b64url.c) and the whole pipeline id_verify_token (verify.c,
 * jwk.c signature checks, spiffe_id.c) against a fixed in-memory verifier.
 *
 * Every input is tried three ways:
 *
 *   raw     the bytes as a compact token: parsed (with and without claims)
 *           and verified at the fixed time FUZZ_NOW;
 *   split   when the input holds a NUL byte: HEADER \0 PAYLOAD [\0 SIG],
 *           each part base64url-encoded and joined with dots, so the
 *           fuzzer mutates header JSON, claims JSON and signature bytes
 *           directly instead of their base64url;
 *   claims  when the input is a JSON object: signed as claims with an
 *           ES256 and an Ed25519 key the verifier trusts (generated at
 *           start-up), as a JWT and as a WIT-SVID (typ wit+jwt; both
 *           keys are wit-svid keys of both trust domains too), then
 *           verified: the claim checks after a good signature (times,
 *           audience, sub, iss, act, cnf…) get fuzzed too.
 *
 * The verifier is the configuration of tests/data/independent/cases.json:
 * audience spiffe://example.org/host/test, leeway 30 s, max token age
 * 600 s, trust domain example.org with bundle.json, issuer
 * https://idp.example.test with oidc_jwks.json and EdDSA allowed; plus
 * trust domain fuzz.example (the test CA of tests/fuzz/testca, whose
 * tokens are seeds) and issuer https://issuer.fuzz.example (audience
 * pam-agent-fuzz, no EdDSA). Copies of the key sets are embedded below.
 * Built and run by `make fuzz` / `make fuzz-run` (docs/fuzzing.md).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The "now" of every verification: the cases' now. */
#define FUZZ_NOW INT64_C(1700000100)

/* tests/data/independent/bundle.json */
static const char example_bundle[] =
	"{\"keys\":[{\"kty\":\"RSA\",\"n\":\"qK4VWO0ZARtlnFMoZkyQhjL5jR2lGj3EQDHa6Wof7thesLgTTERS5rnzuFbR3"
	"CAz_tIT5a5zHwoP_9PrNxd4DrQBPiAcn63EZHMtQYXmA5FsZswAtE2I3Fgngcyb8Ft_MOBkHt-66P8mC0VqNZ9QW"
	"SDeDfX9mO8Hzk6zCaALpLrNRn6_TBpd3JSU7lP1h8R8DbDO-4S2f4aFqwCA4ajYY7bDYajcSaufXp0yZMAmrLQoU"
	"uv-zkoefZ2D5wdGhE1RH7nmhTRgaNIwoHgagLvEb8Cq3uedrzoIvqtFOmal4PxLNAtWwxO3_Yg68GF3Mo0tjY-xq"
	"j-1mzCRUL1c2Pgq0w\",\"e\":\"AQAB\",\"kid\":\"rs256-key\",\"use\":\"jwt-svid\",\"alg\":\"RS256\"},{\"kty\":\""
	"RSA\",\"n\":\"1K5mh8lZqYbcB5TKmkOONGx-Y5zZi-ubqhqoBXQIGcxE8V9e9JMACKVkX2bagWx8x7kW_3HNq4AyXc"
	"N11vX8nw0fNQuFlT4MV_gHT0Bn62qzdP3liA_w2M4PRiukJZbqB3MQAwNeLc8toNVop2LoCDxA-kN9KmgQey_TMk"
	"PV7R7tLUqgQM7p9g5vmxRjoRAUIwso6yzT5PI7rfvYUP3AGWKnQMi04jlJakE7NLYxgsAZgbtTSJROzv-flIlQEA"
	"UyTDXaInTBgS0qtmr7FJR-hZ3NA7odWb2PiwMRV0tOqBWbx-tNFPCvZ42we4SyB2QABqqURSc5Ad8W2mvYC0ONfQ"
	"\",\"e\":\"AQAB\",\"kid\":\"ps256-key\",\"use\":\"jwt-svid\",\"alg\":\"PS256\"},{\"kty\":\"EC\",\"crv\":\"P-256\""
	",\"x\":\"6bF5uqMZYt9NHrVixyogg3v_y1DyCLArEH-WKW-aceE\",\"y\":\"4YvVd6ODW6qSMSOPGQYPRXAeSrpM-hBa"
	"ymO1HgYOAZU\",\"kid\":\"es256-key\",\"use\":\"jwt-svid\",\"alg\":\"ES256\"},{\"kty\":\"EC\",\"crv\":\"P-384\""
	",\"x\":\"UjNLXH2avVjjwLg87v2OwJVlUn6mMKDB3Qjqh_Z6Q1QRbSDQgBnF5-wwIlzipIwN\",\"y\":\"bAtO7VwSUJH"
	"63AP5-s4gDQfBvT-SgS8gLGCBG4EIVlteDUkBA1rsJWPiE020C0nO\",\"kid\":\"es384-key\",\"use\":\"jwt-svid"
	"\",\"alg\":\"ES384\"},{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"AHBbP_z3hcds0bX2dxVYi_mgJQzWBOxhgpnNJWGs"
	"3QDbTq4YQbbAroqG7X76NbJT4-jZts0Yg00OvQSX8tbtFq0Q\",\"y\":\"AG2IT0WlAuOAwg2sEr2EdT-sBfDn_AEcm"
	"6CewO-YhVc-7o5ZfXRhobZA-sco6Eaqn59ZrjJmETZ0VONB9LLfPWKh\",\"kid\":\"es512-key\",\"use\":\"jwt-sv"
	"id\",\"alg\":\"ES512\"}],\"spiffe_refresh_hint\":300,\"spiffe_sequence\":1}";

/* tests/data/independent/oidc_jwks.json */
static const char idp_jwks[] =
	"{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"gYy8XMuXRI7XBVEQf6V-kRXIDo5UVa92-Qf2dbUm65c\","
	"\"kid\":\"ed25519-key\",\"use\":\"sig\",\"alg\":\"EdDSA\"},{\"kty\":\"RSA\",\"n\":\"jU6d7RiFCklbcDFN2tDBcdG"
	"ZdVx4ic67BzX7y39qTEPAL05iEvdc5QhpYvwcdFkH6jZBK_Z91n5VX_ywjn8fNZHYPVefVU6YTctFNuqakiJ-VJV"
	"zDebAvvI2IK07ta0RshhT5osH-3ah50DJ3F4Ul7XprFxxpDBKBTEBCZLDeSfHKkircILDoazCU3YBvmJLRY8j0Uf"
	"nPeYU4dbUnV9emXdSgdtwRLoapV2JQqro7f4xt2D1_5OKi2CnG4btOAyfrP2BgaQ0lSqf3MtU0yCBQ4eNToK7_2-"
	"e_9PlVRWsnXw0eG2AWg1EQxh1YKaxRjbWp4LanRKw46u2lvsIZc_JeQ\",\"e\":\"AQAB\",\"kid\":\"oidc-enc\",\"us"
	"e\":\"enc\",\"alg\":\"RSA-OAEP\"}]}";

/* tests/fuzz/testca/bundle.json (trust domain fuzz.example) */
static const char testca_bundle[] =
	"{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"5geAb_ZNOjf-ihhddyUpd4Rij6t7Adiv9O8wCBldNBw\",\"y\""
	":\"jdvobnhq4R6RIQijzShMvuQiEqc2h6vwqSEb2gWJzAo\",\"kid\":\"KVmm2oP2q3UTlVy4-mibrEmyXd1gvxoz_8"
	"k_9caJ_rs\",\"alg\":\"ES256\",\"use\":\"jwt-svid\"}],\"spiffe_refresh_hint\":300,\"spiffe_sequence\":"
	"1}";

static struct id_verifier verifier;
static struct id_signer *es_signer, *ed_signer;

static void die(const char *what, const char *err)
{
	fprintf(stderr, "fuzz_jws: %s: %s\n", what, err != NULL ? err : "");
	abort();
}

/*
 * A key set from base (a JWKS document), with use rewritten to use on
 * every key when use is not NULL, plus the public keys of the signers.
 */
static struct id_keyset *make_keyset(const char *base, enum id_keyset_kind kind,
				     const char *use, bool add_signers)
{
	json_t *doc = json_loads(base, 0, NULL), *keys, *k;
	struct id_keyset *set;
	char err[512], *text;
	size_t i;

	keys = json_object_get(doc, "keys");
	if (!json_is_array(keys))
		die("embedded key set", base);
	if (use != NULL)
		json_array_foreach(keys, i, k)
			json_object_set_new(k, "use", json_string(use));
	if (add_signers) {
		const char *suse = kind == ID_KEYSET_SPIFFE ? "jwt-svid" : "sig";

		json_array_append_new(keys, id_signer_public_jwk(es_signer, suse));
		if (kind == ID_KEYSET_OIDC)
			json_array_append_new(keys, id_signer_public_jwk(ed_signer, suse));
		/* WIT-SVID keys: both signers (WIT-SVIDs may be EdDSA) */
		if (kind == ID_KEYSET_SPIFFE) {
			json_array_append_new(keys, id_signer_public_jwk(es_signer, "wit-svid"));
			json_array_append_new(keys, id_signer_public_jwk(ed_signer, "wit-svid"));
		}
	}
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (text == NULL)
		die("make_keyset", "out of memory");
	set = id_keyset_parse(text, strlen(text), kind, err, sizeof(err));
	free(text);
	if (set == NULL)
		die("embedded key set refused", err);
	return set;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[512];

	(void)argc;
	(void)argv;
	es_signer = id_signer_generate(ID_ALG_ES256, err, sizeof(err));
	ed_signer = id_signer_generate(ID_ALG_EDDSA, err, sizeof(err));
	if (es_signer == NULL || ed_signer == NULL)
		die("signer", err);

	verifier.audience = strdup("spiffe://example.org/host/test");
	verifier.leeway = 30;
	verifier.max_token_age = 600;
	verifier.n_domains = 2;
	verifier.domains = calloc(2, sizeof(*verifier.domains));
	verifier.n_issuers = 2;
	verifier.issuers = calloc(2, sizeof(*verifier.issuers));
	if (verifier.audience == NULL || verifier.domains == NULL || verifier.issuers == NULL)
		die("init", "out of memory");
	verifier.domains[0].name = strdup("example.org");
	verifier.domains[0].keys = make_keyset(example_bundle, ID_KEYSET_SPIFFE, NULL, true);
	verifier.domains[1].name = strdup("fuzz.example");
	verifier.domains[1].keys = make_keyset(testca_bundle, ID_KEYSET_SPIFFE, NULL, true);
	verifier.issuers[0].url = strdup("https://idp.example.test");
	verifier.issuers[0].allow_eddsa = true;
	verifier.issuers[0].keys = make_keyset(idp_jwks, ID_KEYSET_OIDC, NULL, true);
	verifier.issuers[1].url = strdup("https://issuer.fuzz.example");
	verifier.issuers[1].audience = strdup("pam-agent-fuzz");
	verifier.issuers[1].keys = make_keyset(testca_bundle, ID_KEYSET_OIDC, "sig", true);
	return 0;
}

/* Checks what a successful verification returned. */
static void check_identity(const struct id_identity *id)
{
	json_t *j;

	if (id->agent_id == NULL || id->subject == NULL || id->kid == NULL ||
	    id->claims == NULL || strlen(id->fingerprint) != ID_FINGERPRINT_LEN)
		die("accepted token", "identity incomplete");
	if (id->kind == ID_KIND_SPIFFE && id->trust_domain == NULL)
		die("accepted token", "SPIFFE identity without a trust domain");
	if (id->kind == ID_KIND_SPIFFE && id->alg == ID_ALG_EDDSA && !id->wit)
		die("accepted token", "EdDSA JWT-SVID");
	if (id->wit) {
		struct id_key *k = id_wit_cnf_key(id->claims, NULL, 0);

		if (id->kind != ID_KIND_SPIFFE || json_object_get(id->claims, "aud") != NULL ||
		    k == NULL)
			die("accepted WIT-SVID", "not SPIFFE, with an aud, or without a cnf key");
		id_key_free(k);
	}
	if (id->exp <= FUZZ_NOW - verifier.leeway)
		die("accepted token", "expired");
	j = id_identity_to_json(id);
	if (j == NULL)
		die("id_identity_to_json", "NULL");
	json_decref(j);
}

/* Parses and verifies one token. */
static void try_token(const char *token, size_t len)
{
	struct id_jws jws;
	struct id_identity *id = NULL;
	char err[512];
	int parsed, parsed_claims;

	parsed = id_jws_parse(token, len, false, &jws, err, sizeof(err));
	id_jws_clear(&jws);
	parsed_claims = id_jws_parse(token, len, true, &jws, err, sizeof(err));
	if (parsed_claims == 0 && parsed != 0)
		die("id_jws_parse", "claims mode accepted what plain mode refused");
	if (parsed_claims == 0 && (jws.header == NULL || jws.claims == NULL || jws.sig == NULL ||
				   jws.alg == ID_ALG_NONE))
		die("id_jws_parse", "accepted token incomplete");
	id_jws_clear(&jws);

	err[0] = '\0';
	if (id_verify_token(&verifier, token, len, FUZZ_NOW, &id, err, sizeof(err)) == 0) {
		if (parsed_claims != 0)
			die("id_verify_token", "accepted what id_jws_parse refused");
		check_identity(id);
		id_identity_free(id);
	} else if (id != NULL || err[0] == '\0') {
		die("id_verify_token", "refusal without a reason or with an identity");
	}
}

/* HEADER \0 PAYLOAD [\0 SIG]: encodes the parts and joins them with dots. */
static void try_split(const uint8_t *data, size_t size, const uint8_t *nul)
{
	const uint8_t *p = nul + 1, *s;
	size_t plen, slen;
	char *h64, *p64, *s64, *token;
	size_t tlen;

	s = memchr(p, '\0', size - (size_t)(p - data));
	if (s != NULL) {
		plen = (size_t)(s - p);
		s++;
		slen = size - (size_t)(s - data);
	} else {
		plen = size - (size_t)(p - data);
		s = (const uint8_t *)"";
		slen = 0;
	}
	h64 = id_b64url_encode(data, (size_t)(nul - data));
	p64 = id_b64url_encode(p, plen);
	s64 = id_b64url_encode(s, slen);
	if (h64 == NULL || p64 == NULL || s64 == NULL)
		die("id_b64url_encode", "NULL");
	tlen = strlen(h64) + strlen(p64) + strlen(s64) + 2;
	token = malloc(tlen + 1);
	if (token == NULL)
		die("try_split", "out of memory");
	snprintf(token, tlen + 1, "%s.%s.%s", h64, p64, s64);
	try_token(token, tlen);
	free(token);
	free(h64);
	free(p64);
	free(s64);
}

/* Signs a JSON object input as claims with both signers, as a JWT and as a WIT-SVID, then verifies. */
static void try_claims(const uint8_t *data, size_t size)
{
	json_t *claims = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	struct id_signer *signers[2] = { es_signer, ed_signer };
	char err[512];
	size_t i;

	if (!json_is_object(claims)) {
		json_decref(claims);
		return;
	}
	for (i = 0; i < 4; i++) {
		char *token = id_sign_jws(signers[i % 2], i < 2 ? "JWT" : "wit+jwt", claims, err,
					  sizeof(err));

		if (token == NULL)
			continue; /* too large */
		try_token(token, strlen(token));
		free(token);
	}
	json_decref(claims);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul;

	if (size > ID_TOKEN_MAX + 1024)
		return 0;
	try_token((const char *)data, size);
	nul = size > 0 ? memchr(data, '\0', size) : NULL;
	if (nul != NULL)
		try_split(data, size, nul);
	else if (size > 0 && data[0] == '{')
		try_claims(data, size);
	return 0;
}
