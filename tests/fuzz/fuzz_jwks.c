/*
 * fuzz_jwks.c - libFuzzer target for key sets: id_keyset_parse on the
 * input as a SPIFFE trust bundle and as an OIDC JWKS (keyset.c, and every
 * JWK through id_key_from_jwk in jwk.c). For every key a set accepted,
 * the key/alg binding (id_key_allows) and a signature check over a fixed
 * message with a wrong signature (id_sig_verify) run too, so keys the
 * parser lets through are exercised by the code that uses them; a wrong
 * signature must never verify. A set with no key is accepted (an empty
 * bundle revokes its trust domain), and every ignored element's notice
 * must name its key.
 * Built and run by `make fuzz` / `make fuzz-run` (docs/fuzzing.md).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const enum id_alg all_algs[] = {
	ID_ALG_NONE,  ID_ALG_RS256, ID_ALG_RS384, ID_ALG_RS512, ID_ALG_PS256, ID_ALG_PS384,
	ID_ALG_PS512, ID_ALG_ES256, ID_ALG_ES384, ID_ALG_ES512, ID_ALG_EDDSA,
};

/* A plausible signature length for alg (wrong content, right size). */
static size_t sig_len_for(enum id_alg alg)
{
	switch (alg) {
	case ID_ALG_ES256:
	case ID_ALG_EDDSA:
		return 64;
	case ID_ALG_ES384:
		return 96;
	case ID_ALG_ES512:
		return 132;
	default:
		return 256; /* RSA 2048; other sizes are refused on length */
	}
}

/* Exercises every key of set that the document names by kid. */
static void use_keys(const struct id_keyset *set, const uint8_t *data, size_t size)
{
	static const unsigned char msg[] = "eyJhbGciOiJFUzI1NiJ9.e30";
	unsigned char sig[512];
	json_t *doc, *keys, *jwk;
	size_t i, a;
	char err[256];

	doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	keys = json_object_get(doc, "keys");
	memset(sig, 0x5a, sizeof(sig));
	json_array_foreach(keys, i, jwk) {
		const char *kid = json_string_value(json_object_get(jwk, "kid"));
		const struct id_key *key = kid != NULL ? id_keyset_find(set, kid) : NULL;

		if (key == NULL)
			continue;
		if (id_key_kid(key) == NULL || strcmp(id_key_kid(key), kid) != 0) {
			fprintf(stderr, "fuzz_jwks: id_keyset_find returned another kid\n");
			abort();
		}
		for (a = 0; a < sizeof(all_algs) / sizeof(all_algs[0]); a++) {
			enum id_alg alg = all_algs[a];

			if (!id_key_allows(key, alg))
				continue;
			if (alg == ID_ALG_NONE) {
				fprintf(stderr, "fuzz_jwks: a key allows alg none\n");
				abort();
			}
			if (id_sig_verify(key, alg, msg, sizeof(msg) - 1, sig, sig_len_for(alg),
					  err, sizeof(err)) == 0) {
				fprintf(stderr, "fuzz_jwks: a wrong signature verified\n");
				abort();
			}
		}
	}
	json_decref(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum id_keyset_kind kinds[] = { ID_KEYSET_SPIFFE, ID_KEYSET_OIDC };
	char err[512];
	size_t k;

	if (size > ID_BUNDLE_MAX)
		return 0;
	for (k = 0; k < 2; k++) {
		struct id_keyset *set;

		err[0] = '\0';
		set = id_keyset_parse((const char *)data, size, kinds[k], err, sizeof(err));
		if (set == NULL) {
			if (err[0] == '\0') {
				fprintf(stderr, "fuzz_jwks: refused without a reason\n");
				abort();
			}
			continue;
		}
		/* an empty set is a revocation (§4.1.3); every notice names its key */
		for (size_t i = 0; id_keyset_notice(set, i) != NULL; i++) {
			if (strncmp(id_keyset_notice(set, i), "key ", 4) != 0 ||
			    i >= id_keyset_ignored(set)) {
				fprintf(stderr, "fuzz_jwks: bad notice %zu\n", i);
				abort();
			}
		}
		use_keys(set, data, size);
		id_keyset_free(set);
	}
	return 0;
}
