/*
 * pop_client.c - the client's side of proof of possession
 * (docs/proof-of-possession.md): it loads the presenter's evidence (a
 * token, or an X.509-SVID's certificates) and key, and answers the
 * module's prompts, each on its own: the evidence in parts ("Agent token: ",
 * "Agent token (continued at N): "), and a challenge with a signature.
 * agent-run and pam-agent-askpass (one process per prompt, OpenSSH's
 * SSH_ASKPASS) answer through it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "identity.h"
#include "key_int.h"
#include "pa_json.h"
#include "util.h"

/* Longest PEM key file a client may hand over. */
#define POP_KEY_FILE_MAX (64 * 1024)

/* The algorithm a client's private key answers with (id_pop_alg's rule). */
static enum id_alg key_alg(EVP_PKEY *pkey)
{
	char group[64];
	size_t glen = 0;

	if (EVP_PKEY_is_a(pkey, "RSA"))
		return ID_ALG_PS256;
	if (EVP_PKEY_is_a(pkey, "ED25519"))
		return ID_ALG_EDDSA;
	if (EVP_PKEY_is_a(pkey, "EC") &&
	    EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) == 1)
		return strcmp(group, "prime256v1") == 0 ? ID_ALG_ES256 :
		       strcmp(group, "secp384r1") == 0 ? ID_ALG_ES384 : ID_ALG_NONE;
	return ID_ALG_NONE;
}

struct id_signer *id_pop_key_load(const char *path, uid_t owner, char *err, size_t errlen)
{
	const struct pa_file_rules rules = {
		.owner = owner, .or_root = true, .forbid_mode = 077, .max_size = POP_KEY_FILE_MAX,
	};
	char shown[PA_ESCAPE_MAX];
	EVP_PKEY *pkey;
	enum id_alg alg;

	pkey = id_pem_key_read(path, &rules, err, errlen);
	if (pkey == NULL)
		return NULL;
	pa_escape(path, strlen(path), shown, sizeof(shown));
	alg = key_alg(pkey);
	if (alg == ID_ALG_NONE) {
		EVP_PKEY_free(pkey);
		pa_err(err, errlen, "%s: not an EC P-256/P-384, Ed25519 or RSA key", shown);
		return NULL;
	}
	return id_signer_from_pkey(pkey, alg, err, errlen);
}

char *id_pem_certs_compact(const char *pem, size_t len, char *err, size_t errlen)
{
	BIO *bio = len <= ID_X509_CHAIN_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;
	char *out = NULL, *b64, *grown;
	size_t olen = 0, n = 0;
	X509 *cert;

	if (bio == NULL) {
		pa_err(err, errlen, "certificates over %d bytes", ID_X509_CHAIN_MAX);
		return NULL;
	}
	while ((cert = PEM_read_bio_X509(bio, NULL, NULL, (void *)"")) != NULL) {
		unsigned char *der = NULL;
		int dlen = i2d_X509(cert, &der);

		X509_free(cert);
		b64 = dlen > 0 ? id_b64url_encode(der, (size_t)dlen) : NULL;
		OPENSSL_free(der);
		grown = b64 != NULL ? realloc(out, olen + strlen(b64) + 2) : NULL;
		if (grown == NULL) {
			free(b64);
			free(out);
			BIO_free(bio);
			pa_err(err, errlen, "out of memory");
			return NULL;
		}
		out = grown;
		olen += (size_t)snprintf(out + olen, strlen(b64) + 2, "%s%s", n++ ? "." : "", b64);
		free(b64);
	}
	ERR_clear_error();
	BIO_free(bio);
	if (out == NULL)
		pa_err(err, errlen, "no PEM certificate");
	return out;
}

char *id_pop_answer(const struct id_signer *s, const char *challenge, char *err, size_t errlen)
{
	unsigned char *sig = NULL;
	size_t siglen = 0;
	char *out;

	if (strncmp(challenge, ID_POP_PREFIX, strlen(ID_POP_PREFIX)) != 0) {
		pa_err(err, errlen, "not a pam_agent challenge");
		return NULL;
	}
	if (id_signer_sign(s, challenge, strlen(challenge), &sig, &siglen, err, errlen) != 0)
		return NULL;
	out = id_b64url_encode(sig, siglen);
	free(sig);
	if (out == NULL)
		pa_err(err, errlen, "out of memory");
	return out;
}

/* Reads the PEM certificates of path (owner's or root's) into "x509:" and the compact chain. */
static char *svid_evidence(const char *path, uid_t owner, char *err, size_t errlen)
{
	const struct pa_file_rules rules = {
		.owner = owner, .or_root = true, .forbid_mode = 022, .max_size = ID_X509_CHAIN_MAX,
	};
	char *pem = NULL, *compact, *out = NULL;
	size_t len = 0;

	if (pa_read_file_safely(path, &rules, &pem, &len, err, errlen) != 0)
		return NULL;
	compact = id_pem_certs_compact(pem, len, err, errlen);
	free(pem);
	if (compact != NULL && (out = malloc(strlen(ID_X509_PREFIX) + strlen(compact) + 1)) != NULL)
		sprintf(out, "%s%s", ID_X509_PREFIX, compact);
	else if (compact != NULL)
		pa_err(err, errlen, "out of memory");
	free(compact);
	return out;
}

int id_pop_client_load(struct id_pop_client *c, const char *token, const char *svid,
		       const char *key, uid_t owner, char *err, size_t errlen)
{
	json_t *jwk;
	char *text;

	memset(c, 0, sizeof(*c));
	if ((token == NULL) == (svid == NULL) || (svid != NULL && key == NULL))
		return pa_err(err, errlen, "a token, or an X.509-SVID with its key");
	if (key != NULL && (c->key = id_pop_key_load(key, owner, err, errlen)) == NULL)
		return -1;
	c->evidence = token != NULL ? strdup(token) : svid_evidence(svid, owner, err, errlen);
	if (c->evidence == NULL) {
		if (token != NULL)
			pa_err(err, errlen, "out of memory");
		id_pop_client_clear(c);
		return -1;
	}
	if (c->key == NULL)
		return 0;
	/* a key-bound token's answers carry the public key */
	jwk = id_signer_public_jwk(c->key, NULL);
	text = jwk != NULL ? pa_json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(jwk);
	c->jwk = text != NULL ? id_b64url_encode((unsigned char *)text, strlen(text)) : NULL;
	free(text);
	if (c->jwk == NULL) {
		id_pop_client_clear(c);
		return pa_err(err, errlen, "out of memory");
	}
	return 0;
}

void id_pop_client_clear(struct id_pop_client *c)
{
	id_signer_free(c->key);
	pa_free_secret(c->evidence);
	free(c->jwk);
	free(c->audience);
	memset(c, 0, sizeof(*c));
}

/* The evidence from offset off: at most ID_PART_MAX characters, '+' when more follows. */
static char *part(const struct id_pop_client *c, size_t off, char *err, size_t errlen)
{
	size_t len = strlen(c->evidence), n = len - off > ID_PART_MAX ? ID_PART_MAX : len - off;
	char *out = malloc(n + 2);

	if (out == NULL) {
		pa_err(err, errlen, "out of memory");
		return NULL;
	}
	memcpy(out, c->evidence + off, n);
	out[n] = off + n < len ? '+' : '\0';
	out[n + 1] = '\0';
	return out;
}

/* N of a continuation prompt that ends in "(continued at N): "; -1 when it is none. */
static long long continued_at(const char *prompt)
{
	const char *at = strstr(prompt, ID_MORE_PROMPT);
	char *end;
	long long n;

	if (at == NULL)
		return -1;
	at += strlen(ID_MORE_PROMPT);
	if (*at < '1' || *at > '9')
		return -1;
	n = strtoll(at, &end, 10);
	return strcmp(end, "): ") == 0 ? n : -1;
}

/* The challenge of prompt (heap), checked to be for c's audience. NULL with err. */
static char *challenge_of(const struct id_pop_client *c, const char *prompt, char *err,
			  size_t errlen)
{
	static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				     "0123456789-_";
	const char *start = strstr(prompt, ID_POP_PREFIX), *p;
	unsigned char *raw = NULL;
	size_t n, rawlen = 0;
	json_error_t jerr;
	const char *aud;
	json_t *o;
	int ok;

	if (start == NULL) {
		pa_err(err, errlen, "the prompt holds no %s challenge", ID_POP_PREFIX);
		return NULL;
	}
	p = start + strlen(ID_POP_PREFIX);
	n = strspn(p, b64url);
	if (id_b64url_decode(p, n, &raw, &rawlen) != 0) {
		pa_err(err, errlen, "the challenge is not base64url");
		return NULL;
	}
	o = pa_json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, &jerr);
	free(raw);
	aud = json_string_value(json_object_get(o, "aud"));
	if (aud == NULL)
		pa_err(err, errlen, "the challenge is not base64url JSON with an \"aud\"");
	else if (c->audience != NULL && strcmp(aud, c->audience) != 0)
		pa_err(err, errlen, "the challenge is for audience \"%.200s\", not \"%.200s\": a "
		       "client signs only the challenges of the host it means to log in to",
		       aud, c->audience);
	ok = aud != NULL && (c->audience == NULL || strcmp(aud, c->audience) == 0);
	json_decref(o);
	if (!ok)
		return NULL;
	return strndup(start, strlen(ID_POP_PREFIX) + n);
}

/* The signed answer to the challenge in prompt: "JWK.SIGNATURE" for a token's key. */
static char *sign_answer(const struct id_pop_client *c, const char *prompt, char *err,
			 size_t errlen)
{
	char *chal, *sig, *out;

	if (c->key == NULL) {
		pa_err(err, errlen, "a proof of possession was asked for, and no key was given");
		return NULL;
	}
	chal = challenge_of(c, prompt, err, errlen);
	sig = chal != NULL ? id_pop_answer(c->key, chal, err, errlen) : NULL;
	free(chal);
	if (sig == NULL || strstr(prompt, ID_POP_PROMPT ID_POP_TOKEN_KEY) == NULL)
		return sig;
	out = malloc(strlen(c->jwk) + strlen(sig) + 2);
	if (out != NULL)
		sprintf(out, "%s.%s", c->jwk, sig);
	else
		pa_err(err, errlen, "out of memory");
	free(sig);
	return out;
}

char *id_pop_client_respond(const struct id_pop_client *c, const char *prompt, char *err,
			    size_t errlen)
{
	size_t plen = prompt != NULL ? strlen(prompt) : 0, tlen = strlen(ID_TOKEN_PROMPT);
	long long at;

	if (prompt == NULL || c->evidence == NULL) {
		pa_err(err, errlen, "nothing to answer with");
		return NULL;
	}
	if (strstr(prompt, ID_POP_PROMPT) != NULL)
		return sign_answer(c, prompt, err, errlen);
	if (plen >= tlen && strcmp(prompt + plen - tlen, ID_TOKEN_PROMPT) == 0)
		return part(c, 0, err, errlen);
	at = continued_at(prompt);
	if (at > 0 && (unsigned long long)at < strlen(c->evidence))
		return part(c, (size_t)at, err, errlen);
	pa_err(err, errlen, at > 0 ? "the prompt asks for the evidence past its end" :
	       "not a pam_agent prompt");
	return NULL;
}
