/*
 * fuzz_x509.c - libFuzzer target for presented X.509-SVID chains:
 * id_x509_chain_parse (PEM or the compact form), then
 * id_x509_chain_sha256, id_x509_leaf_key and id_x509_verify against a
 * fixed in-memory verifier, two ways: the raw bytes as the presented
 * text; and, when the input starts with a DER SEQUENCE (0x30), the bytes
 * as concatenated DER certificates (read one after the other with
 * d2i_X509), joined into the compact form, so the fuzzer mutates the
 * certificates and not their encoding.
 * The verifier trusts the X.509 authorities of tests/data/x509 (trust
 * domains example.org and other.test, embedded below), leeway 30 s, at
 * the fixed time of its cases (1800000000).
 * Built and run by `make fuzz` / `make fuzz-run` (docs/fuzzing.md).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "identity.h"

#define FUZZ_NOW 1800000000
#define FUZZ_LEEWAY 30

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* tests/data/x509/bundle.json (trust domain example.org) */
static const char example_bundle[] =
	"{\"keys\":[{\"use\":\"x509-svid\",\"kty\":\"EC\",\"x5c\":[\"MIIBezCCASKgAwIBAgIUFJLIUl8Yxy"
	"9Li7slW3A+HNLAO4QwCgYIKoZIzj0EAwIwGzEZMBcGA1UEAwwQZXhhbXBsZS5vcmcgcm9vdDAeFw0yNjAxMTUwODAw"
	"MDBaFw0yODAxMTUwODAwMDBaMBsxGTAXBgNVBAMMEGV4YW1wbGUub3JnIHJvb3QwWTATBgcqhkjOPQIBBggqhkjOPQ"
	"MBBwNCAASIl16qscSqeneVVzoEEeLVOJgjnUbNnr5gUd4dM58VD6FOedmcX2YnKUWHDTJtZYBfgvWN8BpYrbtHUo+p"
	"63GEo0QwQjAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwIBBjAfBgNVHREEGDAWhhRzcGlmZmU6Ly9leGFtcG"
	"xlLm9yZzAKBggqhkjOPQQDAgNHADBEAiAXgilT6Qtqc79XQgccNAHTpp0n3Fw4y8XVRA8yQFnorAIgBGzFTgIjiTX1"
	"EBUVUn7gbKL4EStTCngWpBWTLEONxho=\"]}],\"spiffe_refresh_hint\":300,\"spiffe_sequence\":1}";

/* tests/data/x509/other.json (trust domain other.test) */
static const char other_bundle[] =
	"{\"keys\":[{\"use\":\"x509-svid\",\"kty\":\"EC\",\"x5c\":[\"MIIBejCCAR+gAwIBAgIUOTG/9x8hyA"
	"aYWyujlD476WdZ3ZswCgYIKoZIzj0EAwIwGjEYMBYGA1UEAwwPb3RoZXIudGVzdCByb290MB4XDTI2MDExNTA4MDAw"
	"MFoXDTI4MDExNTA4MDAwMFowGjEYMBYGA1UEAwwPb3RoZXIudGVzdCByb290MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQ"
	"cDQgAE0t++0omqrwQt2KaPWJl6HNY54VcdErwAO05WXX3yuOWuhf6ED+0fXSq5N1AA2ad1BpR7UFZpIC6zyhYyU6nO"
	"56NDMEEwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwHgYDVR0RBBcwFYYTc3BpZmZlOi8vb3RoZXIudG"
	"VzdDAKBggqhkjOPQQDAgNJADBGAiEApV9iAksE5NQEr0yiRs1RJOietsBPeAR/2WgkN99HYaECIQDAUS7DLZbZQf5b"
	"ZHEQo8KYKWuKspB5Q0RSM3ucQMNfow==\"]}],\"spiffe_refresh_hint\":300,\"spiffe_sequence\":1}";

static struct id_verifier verifier;

static void die(const char *what, const char *err)
{
	fprintf(stderr, "fuzz_x509: %s: %s\n", what, err != NULL ? err : "");
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const names[] = { "example.org", "other.test" };
	const char *bundles[] = { example_bundle, other_bundle };
	char err[512];
	size_t i;

	(void)argc;
	(void)argv;
	verifier.audience = strdup("spiffe://example.org/host/test");
	verifier.leeway = FUZZ_LEEWAY;
	verifier.max_token_age = 600;
	verifier.n_domains = 2;
	verifier.domains = calloc(2, sizeof(*verifier.domains));
	if (verifier.audience == NULL || verifier.domains == NULL)
		die("init", "out of memory");
	for (i = 0; i < 2; i++) {
		verifier.domains[i].name = strdup(names[i]);
		verifier.domains[i].keys = id_keyset_parse(bundles[i], strlen(bundles[i]),
							   ID_KEYSET_SPIFFE, err, sizeof(err));
		if (verifier.domains[i].keys == NULL ||
		    id_keyset_x509_count(verifier.domains[i].keys) != 1)
			die("embedded bundle", err);
	}
	return 0;
}

/* Whether s is n lowercase hex digits. */
static bool is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[n] == '\0';
}

/* The properties of an accepted X.509-SVID. */
static void check_identity(const struct id_identity *id)
{
	char prefix[64];

	if (id->kind != ID_KIND_SPIFFE || id->agent_id == NULL || id->subject == NULL ||
	    id->trust_domain == NULL || id->claims == NULL)
		die("accepted", "incomplete identity");
	if (strcmp(id->trust_domain, "example.org") != 0 &&
	    strcmp(id->trust_domain, "other.test") != 0)
		die("accepted", "a trust domain that is not configured");
	snprintf(prefix, sizeof(prefix), "spiffe://%s/", id->trust_domain);
	if (strncmp(id->agent_id, prefix, strlen(prefix)) != 0 &&
	    strcmp(id->agent_id, prefix) != 0)
		die("accepted", "a SPIFFE ID of another trust domain");
	if (strcmp(id->agent_id, id->subject) != 0 ||
	    !json_is_string(json_object_get(id->claims, "x5t#S256")))
		die("accepted", "subject or claims");
	if (id->exp < FUZZ_NOW - FUZZ_LEEWAY || id->nbf > FUZZ_NOW + FUZZ_LEEWAY)
		die("accepted", "outside its validity");
	if (!is_hex(id->fingerprint, ID_FINGERPRINT_LEN))
		die("accepted", "fingerprint");
}

/* Parses text as a presented chain and runs everything on it. */
static void one_chain(const char *text, size_t len)
{
	struct id_x509_chain *c = NULL;
	struct id_identity *id = NULL;
	char err[512] = "", hex[ID_SHA256_HEX + 1];
	struct id_key *key;

	if (id_x509_chain_parse(text, len, &c, err, sizeof(err)) != 0) {
		if (err[0] == '\0' || c != NULL)
			die("parse", "refused without a reason, or left a chain");
		return;
	}
	if (id_x509_chain_sha256(c, hex, err, sizeof(err)) != 0 || !is_hex(hex, ID_SHA256_HEX))
		die("chain hash", err);
	key = id_x509_leaf_key(c, err, sizeof(err));
	if (key != NULL && !id_key_allows(key, ID_ALG_ES256) &&
	    !id_key_allows(key, ID_ALG_ES384) && !id_key_allows(key, ID_ALG_EDDSA) &&
	    !id_key_allows(key, ID_ALG_PS256))
		die("leaf key", "allows none of its algorithms");
	id_key_free(key);
	err[0] = '\0';
	if (id_x509_verify(&verifier, c, FUZZ_NOW, &id, err, sizeof(err)) == 0) {
		check_identity(id);
		id_identity_free(id);
	} else if (err[0] == '\0' || id != NULL) {
		die("verify", "refused without a reason, or left an identity");
	}
	id_x509_chain_free(c);
}

/* The input as concatenated DER certificates, joined into the compact form. */
static void der_chain(const uint8_t *data, size_t size)
{
	const unsigned char *p = data, *end = data + size;
	char *compact = NULL, *seg, *next;
	size_t len = 0, n = 0;

	while (p < end && n < ID_X509_MAX_CHAIN + 1) {
		const unsigned char *start = p;
		X509 *cert = d2i_X509(NULL, &p, (long)(end - p));

		if (cert == NULL)
			break;
		X509_free(cert);
		seg = id_b64url_encode(start, (size_t)(p - start));
		if (seg == NULL)
			break;
		next = realloc(compact, len + strlen(seg) + 2);
		if (next == NULL) {
			free(seg);
			break;
		}
		compact = next;
		len += (size_t)sprintf(compact + len, "%s%s", n > 0 ? "." : "", seg);
		free(seg);
		n++;
	}
	ERR_clear_error();
	if (compact != NULL)
		one_chain(compact, len);
	free(compact);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > ID_X509_CHAIN_MAX + 16)
		return 0;
	one_chain((const char *)data, size);
	if (size > 0 && data[0] == 0x30)
		der_chain(data, size);
	return 0;
}
