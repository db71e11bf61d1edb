/*
 * fuzz_pop.c - libFuzzer target for proof of possession's answers and
 * prompts (identity/pop.c, identity/pop_client.c,
 * docs/proof-of-possession.md). The input, as a string, is
 *  - an answer to a fixed challenge: id_pop_check (an X.509-SVID's key)
 *    and id_pop_check_bound ("JWK.SIGNATURE" for a key-bound token) must
 *    refuse it with a reason (a fresh nonce makes a matching signature
 *    impossible to find);
 *  - a prompt to a client (id_pop_client_respond) holding 1000 characters
 *    of evidence, an EC P-256 key and an audience: an answer it gives is a
 *    part of the evidence (at most ID_PART_MAX characters, '+' when more
 *    follows), or a signature over the challenge the prompt holds that the
 *    module's own check accepts.
 * Built and run by `make fuzz` / `make fuzz-run` (docs/fuzzing.md).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"

#define FUZZ_AUD "spiffe://fuzz.example/host/h"
#define FUZZ_NOW 1800000000

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct id_pop_client client;
static struct id_key *key;
static char jkt[ID_JKT_LEN + 1], *challenge;

static void die(const char *what, const char *err)
{
	fprintf(stderr, "fuzz_pop: %s: %s\n", what, err != NULL ? err : "");
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256], *text, ev[1001];
	json_t *jwk;
	size_t i;

	(void)argc;
	(void)argv;
	client.key = id_signer_generate(ID_ALG_ES256, err, sizeof(err));
	if (client.key == NULL)
		die("key", err);
	jwk = id_signer_public_jwk(client.key, NULL);
	key = jwk != NULL ? id_key_from_jwk(jwk, err, sizeof(err)) : NULL;
	if (key == NULL || id_jwk_thumbprint(jwk, jkt, err, sizeof(err)) != 0)
		die("public key", err);
	text = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(jwk);
	client.jwk = text != NULL ? id_b64url_encode((unsigned char *)text, strlen(text)) : NULL;
	free(text);
	for (i = 0; i < 1000; i++)
		ev[i] = "abcdefghijklmnopqrstuvwxyz.-_0123456789"[i % 39];
	ev[1000] = '\0';
	client.evidence = strdup(ev);
	client.audience = strdup(FUZZ_AUD);
	challenge = id_pop_challenge(FUZZ_AUD, "sshd", "00", FUZZ_NOW, err, sizeof(err));
	if (client.jwk == NULL || client.evidence == NULL || client.audience == NULL ||
	    challenge == NULL)
		die("setup", err);
	return 0;
}

/* An answer the client gave to prompt: a part of the evidence, or a signature the module accepts. */
static void check_answer(const char *prompt, const char *out)
{
	static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				     "0123456789-_";
	const char *c = strstr(prompt, ID_POP_PREFIX);
	char err[256], *chal;
	size_t n = strlen(out);

	if (strstr(prompt, ID_POP_PROMPT) == NULL) {
		if (n > 0 && out[n - 1] == '+')
			n--;
		if (n == 0 || n > ID_PART_MAX ||
		    memmem(client.evidence, strlen(client.evidence), out, n) == NULL)
			die("a part that is not of the evidence", out);
		return;
	}
	if (c == NULL)
		die("a signature without a challenge", prompt);
	chal = strndup(c, strlen(ID_POP_PREFIX) + strspn(c + strlen(ID_POP_PREFIX), b64url));
	if (chal == NULL)
		die("oom", NULL);
	if (strstr(prompt, ID_POP_PROMPT ID_POP_TOKEN_KEY) != NULL ?
	    id_pop_check_bound(jkt, chal, out, err, sizeof(err)) != 0 :
	    id_pop_check(key, chal, out, err, sizeof(err)) != 0)
		die("the module refuses the client's own answer", err);
	free(chal);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], *text = malloc(size + 1), *out;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	err[0] = '\0';
	if (id_pop_check(key, challenge, text, err, sizeof(err)) == 0 || err[0] == '\0')
		die("an answer to the challenge accepted", text);
	err[0] = '\0';
	if (id_pop_check_bound(jkt, challenge, text, err, sizeof(err)) == 0 || err[0] == '\0')
		die("a key-bound answer to the challenge accepted", text);
	err[0] = '\0';
	out = id_pop_client_respond(&client, text, err, sizeof(err));
	if (out != NULL)
		check_answer(text, out);
	else if (err[0] == '\0')
		die("a prompt refused without a reason", text);
	free(out);
	free(text);
	return 0;
}
