/*
 * pop.c - proof of possession in the auth phase
 * (docs/proof-of-possession.md): an X.509-SVID chain read in parts through
 * the conversation, and a fresh challenge the presenter answers with the
 * key its evidence names: the X.509-SVID's leaf key, or the key a token's
 * "cnf" binds by its thumbprint (RFC 7800, RFC 9449 "jkt").
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <security/pam_ext.h>

#include "identity.h"
#include "module.h"
#include "pa_json.h"

/* Most parts a chain may come in, and the prompt that asks for the next. */
#define POP_MAX_PARTS 64
#define POP_MORE_PROMPT "X.509-SVID (continued): "
/* Largest public JWK accepted in an answer. */
#define POP_JWK_MAX 4096

/* One answer through the conversation; NULL with err. */
static char *ask(struct pa_call *call, const char *prompt, char *err, size_t errlen)
{
	char *resp = NULL;
	int ret = pam_prompt(call->pamh, PAM_PROMPT_ECHO_OFF, &resp, "%s", prompt);

	if (ret != PAM_SUCCESS || resp == NULL) {
		pa_free_secret(resp);
		pa_err(err, errlen, "the PAM conversation gave no answer to \"%.40s\"", prompt);
		return NULL;
	}
	return resp;
}

/*
 * The chain as presented: first, then while a part ends in '+', the next
 * part asked for. Heap string, or NULL with err.
 */
static char *collect(struct pa_call *call, const char *first, char *err, size_t errlen)
{
	size_t len = strlen(first), n = 1;
	char *all = strdup(first), *part, *grown;

	while (all != NULL && len > 0 && all[len - 1] == '+') {
		all[--len] = '\0';
		if (++n > POP_MAX_PARTS) {
			free(all);
			pa_err(err, errlen, "an X.509-SVID in more than %d parts", POP_MAX_PARTS);
			return NULL;
		}
		part = ask(call, POP_MORE_PROMPT, err, errlen);
		if (part == NULL) {
			free(all);
			return NULL;
		}
		if (len + strlen(part) > ID_X509_CHAIN_MAX) {
			free(part);
			free(all);
			pa_err(err, errlen, "an X.509-SVID chain over %d bytes", ID_X509_CHAIN_MAX);
			return NULL;
		}
		grown = realloc(all, len + strlen(part) + 1);
		if (grown != NULL) {
			memcpy(grown + len, part, strlen(part) + 1);
			len += strlen(part);
		} else {
			free(all);
		}
		all = grown;
		free(part);
	}
	if (all == NULL)
		pa_err(err, errlen, "out of memory");
	return all;
}

/*
 * Sends a fresh challenge for evidence ev and returns the answer (heap),
 * refusing one that came after the challenge's time; *chal is the
 * challenge (heap). NULL with err.
 */
static char *challenge(struct pa_call *call, const struct pol_config *cfg, const char *ev,
		       const char *what, char **chal, char *err, size_t errlen)
{
	const char *service = pa_item(call->pamh, PAM_SERVICE);
	int64_t asked = (int64_t)time(NULL);
	char prompt[1024], *answer;

	*chal = id_pop_challenge(cfg->global.audience, service != NULL ? service : "", ev, asked,
				 err, errlen);
	if (*chal == NULL)
		return NULL;
	snprintf(prompt, sizeof(prompt), "pam_agent proof of possession (%s): %s\nSignature: ",
		 what, *chal);
	answer = ask(call, prompt, err, errlen);
	if (answer != NULL && (int64_t)time(NULL) > asked + ID_POP_TTL) {
		free(answer);
		pa_err(err, errlen, "the answer came after the challenge expired (%ds)", ID_POP_TTL);
		return NULL;
	}
	return answer;
}

int pa_pop_x509(struct pa_call *call, const struct pol_config *cfg, const struct id_verifier *v,
		const char *first, int64_t now, struct id_identity **id, char *err, size_t errlen)
{
	struct id_x509_chain *chain = NULL;
	struct id_key *key = NULL;
	char ev[ID_SHA256_HEX + 1], *text, *chal = NULL, *answer = NULL;
	int rc = -1;

	*id = NULL;
	text = collect(call, first, err, errlen);
	if (text == NULL)
		return -1;
	if (id_x509_chain_parse(text, strlen(text), &chain, err, errlen) != 0 ||
	    id_x509_verify(v, chain, now, id, err, errlen) != 0 ||
	    id_x509_chain_sha256(chain, ev, err, errlen) != 0 ||
	    (key = id_x509_leaf_key(chain, err, errlen)) == NULL)
		goto out;
	answer = challenge(call, cfg, ev, "X.509-SVID key", &chal, err, errlen);
	if (answer == NULL || id_pop_check(key, chal, answer, err, errlen) != 0)
		goto out;
	(*id)->pop = true;
	rc = 0;
out:
	if (rc != 0) {
		id_identity_free(*id);
		*id = NULL;
	}
	free(text);
	free(chal);
	pa_free_secret(answer);
	id_key_free(key);
	id_x509_chain_free(chain);
	return rc;
}

/* The public key of a "JWK.SIGNATURE" answer, checked against jkt; the signature in *sig. */
static struct id_key *answer_key(const char *answer, const char *jkt, const char **sig,
				 char *err, size_t errlen)
{
	const char *dot = strchr(answer, '.');
	unsigned char *raw = NULL;
	size_t rawlen = 0;
	char tp[ID_JKT_LEN + 1];
	struct id_key *key = NULL;
	json_error_t jerr;
	json_t *jwk = NULL;

	if (dot == NULL || dot == answer || (size_t)(dot - answer) > POP_JWK_MAX ||
	    id_b64url_decode(answer, (size_t)(dot - answer), &raw, &rawlen) != 0) {
		pa_err(err, errlen, "the answer is not JWK.SIGNATURE in base64url");
		return NULL;
	}
	jwk = pa_json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, &jerr);
	free(raw);
	if (!json_is_object(jwk)) {
		pa_err(err, errlen, "the answer's key is not a JSON object");
	} else if (id_jwk_thumbprint(jwk, tp, err, errlen) == 0) {
		if (strcmp(tp, jkt) != 0)
			pa_err(err, errlen, "the answer's key is not the one the token's cnf binds "
			       "(thumbprint %s, not %s)", tp, jkt);
		else
			key = id_key_from_jwk(jwk, err, errlen);
	}
	json_decref(jwk);
	*sig = dot + 1;
	return key;
}

int pa_pop_token(struct pa_call *call, const struct pol_config *cfg, struct id_identity *id,
		 char *err, size_t errlen)
{
	const json_t *cnf = json_object_get(id->claims, "cnf");
	const char *jkt = json_string_value(json_object_get(cnf, "jkt"));
	char *chal = NULL, *answer = NULL;
	const char *sig = NULL;
	struct id_key *key = NULL;
	int rc = -1;

	if (cnf == NULL)
		return 0; /* a bearer token */
	if (!json_is_object(cnf) || jkt == NULL || strlen(jkt) != ID_JKT_LEN ||
	    json_object_size(cnf) != 1)
		return pa_err(err, errlen, "the token's cnf is not {\"jkt\": thumbprint}: only "
			      "RFC 9449 key thumbprints are accepted");
	answer = challenge(call, cfg, id->fingerprint, "token key", &chal, err, errlen);
	if (answer != NULL && (key = answer_key(answer, jkt, &sig, err, errlen)) != NULL &&
	    id_pop_check(key, chal, sig, err, errlen) == 0) {
		id->pop = true;
		rc = 1;
	}
	free(chal);
	pa_free_secret(answer);
	id_key_free(key);
	return rc;
}
