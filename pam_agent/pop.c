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
	snprintf(prompt, sizeof(prompt), "%s%s): %s\nSignature: ", ID_POP_PROMPT, what, *chal);
	answer = ask(call, prompt, err, errlen);
	if (answer != NULL && (int64_t)time(NULL) > asked + ID_POP_TTL) {
		free(answer);
		pa_err(err, errlen, "the answer came after the challenge expired (%ds)", ID_POP_TTL);
		return NULL;
	}
	return answer;
}

int pa_pop_x509(struct pa_call *call, const struct pol_config *cfg, const struct id_verifier *v,
		const char *text, int64_t now, struct id_identity **id, char *err, size_t errlen)
{
	struct id_x509_chain *chain = NULL;
	struct id_key *key = NULL;
	char ev[ID_SHA256_HEX + 1], *chal = NULL, *answer = NULL;
	int rc = -1;

	*id = NULL;
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
	free(chal);
	pa_free_secret(answer);
	id_key_free(key);
	id_x509_chain_free(chain);
	return rc;
}

/* A WIT-SVID: a challenge its cnf.jwk must answer (its key is in the token). */
static int pop_wit(struct pa_call *call, const struct pol_config *cfg, struct id_identity *id,
		   char *err, size_t errlen)
{
	struct id_key *key = id_wit_cnf_key(id->claims, err, errlen);
	char *chal = NULL, *answer = NULL;
	int rc = -1;

	if (key == NULL)
		return -1;
	answer = challenge(call, cfg, id->fingerprint, "WIT-SVID key", &chal, err, errlen);
	if (answer != NULL && id_pop_check(key, chal, answer, err, errlen) == 0) {
		id->pop = true;
		rc = 1;
	}
	free(chal);
	pa_free_secret(answer);
	id_key_free(key);
	return rc;
}

int pa_pop_token(struct pa_call *call, const struct pol_config *cfg, struct id_identity *id,
		 char *err, size_t errlen)
{
	const json_t *cnf = json_object_get(id->claims, "cnf");
	const char *jkt = json_string_value(json_object_get(cnf, "jkt"));
	char *chal = NULL, *answer = NULL;
	int rc = -1;

	if (id->wit)
		return pop_wit(call, cfg, id, err, errlen);
	if (cnf == NULL)
		return 0; /* a bearer token */
	if (!json_is_object(cnf) || jkt == NULL || strlen(jkt) != ID_JKT_LEN ||
	    json_object_size(cnf) != 1)
		return pa_err(err, errlen, "the token's cnf is not {\"jkt\": thumbprint}: only "
			      "RFC 9449 key thumbprints are accepted");
	answer = challenge(call, cfg, id->fingerprint, ID_POP_TOKEN_KEY, &chal, err, errlen);
	if (answer != NULL && id_pop_check_bound(jkt, chal, answer, err, errlen) == 0) {
		id->pop = true;
		rc = 1;
	}
	free(chal);
	pa_free_secret(answer);
	return rc;
}
