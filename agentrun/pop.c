/*
 * pop.c - agent-run's side of proof of possession
 * (docs/proof-of-possession.md): it presents an X.509-SVID in parts
 * ("x509:" and the compact chain, each part but the last ending in '+')
 * and answers the module's challenge with the SVID's key, or, for a token
 * whose "cnf" binds a key, with that key ("JWK.SIGNATURE").
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentrun.h"
#include "identity.h"
#include "util.h"

/* Characters of the chain per answer: well under PAM_MAX_RESP_SIZE (512). */
#define PART_MAX 400
#define MORE_PROMPT "X.509-SVID (continued): "
#define POP_PROMPT "pam_agent proof of possession ("

/* Reads a whole small file (the SVID's certificates); NULL after one line. */
static char *read_certs(const char *path, uid_t owner, size_t *len)
{
	const struct pa_file_rules rules = {
		.owner = owner, .or_root = true, .forbid_mode = 022, .max_size = ID_X509_CHAIN_MAX,
	};
	char err[512], *buf = NULL;

	if (pa_read_file_safely(path, &rules, &buf, len, err, sizeof(err)) != 0) {
		fprintf(stderr, "agent-run: %s\n", err);
		return NULL;
	}
	return buf;
}

int ar_pop_load(struct ar_pop *p, const char *svid, const char *key, uid_t owner)
{
	char err[512], *pem;
	size_t len = 0;

	memset(p, 0, sizeof(*p));
	p->key = id_pop_key_load(key, owner, err, sizeof(err));
	if (p->key == NULL) {
		fprintf(stderr, "agent-run: %s\n", err);
		return -1;
	}
	if (svid == NULL) {
		/* a key-bound token: the answer carries the public key */
		json_t *jwk = id_signer_public_jwk(p->key, NULL);
		char *text = jwk != NULL ? json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

		json_decref(jwk);
		p->jwk = text != NULL ? id_b64url_encode((unsigned char *)text, strlen(text)) : NULL;
		free(text);
		if (p->jwk == NULL) {
			fprintf(stderr, "agent-run: out of memory\n");
			return -1;
		}
		return 0;
	}
	pem = read_certs(svid, owner, &len);
	if (pem == NULL)
		return -1;
	p->chain = id_pem_certs_compact(pem, len, err, sizeof(err));
	free(pem);
	if (p->chain == NULL) {
		fprintf(stderr, "agent-run: %s: %s\n", svid, err);
		return -1;
	}
	return 0;
}

void ar_pop_free(struct ar_pop *p)
{
	id_signer_free(p->key);
	free(p->chain);
	free(p->jwk);
	memset(p, 0, sizeof(*p));
}

/* The next part of the chain, "+" when more follows; "x509:" before the first. */
static char *next_part(struct ar_pop *p)
{
	size_t left = strlen(p->chain) - p->sent, n = left > PART_MAX ? PART_MAX : left;
	const char *pre = p->sent == 0 ? "x509:" : "";
	char *out = malloc(strlen(pre) + n + 2);

	if (out == NULL)
		return NULL;
	snprintf(out, strlen(pre) + n + 2, "%s%.*s%s", pre, (int)n, p->chain + p->sent,
		 n < left ? "+" : "");
	p->sent += n;
	return out;
}

/* The signed answer to the challenge in prompt, or NULL. */
static char *answer(struct ar_pop *p, const char *prompt)
{
	const char *c = strstr(prompt, ID_POP_PREFIX);
	char err[256], *chal, *sig, *out;
	size_t n;

	if (c == NULL)
		return NULL;
	n = strspn(c + strlen(ID_POP_PREFIX),
		   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
	chal = strndup(c, strlen(ID_POP_PREFIX) + n);
	sig = chal != NULL ? id_pop_answer(p->key, chal, err, sizeof(err)) : NULL;
	free(chal);
	if (sig == NULL || p->jwk == NULL)
		return sig;
	out = malloc(strlen(p->jwk) + strlen(sig) + 2);
	if (out != NULL)
		snprintf(out, strlen(p->jwk) + strlen(sig) + 2, "%s.%s", p->jwk, sig);
	free(sig);
	return out;
}

char *ar_pop_respond(struct ar_pop *p, const char *prompt)
{
	if (p->key == NULL || prompt == NULL)
		return NULL;
	if (strncmp(prompt, POP_PROMPT, strlen(POP_PROMPT)) == 0)
		return answer(p, prompt);
	if (p->chain == NULL)
		return NULL;
	if ((strcmp(prompt, TOKEN_PROMPT) == 0 && p->sent == 0) ||
	    (strcmp(prompt, MORE_PROMPT) == 0 && p->sent > 0 && p->sent < strlen(p->chain)))
		return next_part(p);
	return NULL;
}
