/*
 * test_identity.c - the identity engine's whole token pipeline
 * (id_verify_token): every rejection starts from a token that is accepted
 * and changes exactly one thing, then checks the reason names that thing.
 * The engine's pieces one by one are in test_identity_keys.c (base64url,
 * algorithms, SPIFFE IDs, JWKs, keys) and test_identity_sets.c (key sets,
 * JWS parsing, output, the verifier, tokens of an independent
 * implementation).
 *
 * Keys are generated at test time and tokens are signed with plain
 * OpenSSL EVP calls (tests/lib/tfx_jose.c), so these tests do not depend
 * on the project's signer.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "identity.h"
#include "util.h"
#include "tfx.h"
#include "tfx_jose.h"

/* ---- token cases: one accepted shape, one defect each ------------------ */

struct tok_case {
	const char *name;
	enum id_alg alg;		  /* signing algorithm */
	enum tfx_key key;		  /* signing key */
	const char *kid;		  /* kid in the default header */
	const char *header;		  /* whole header text instead of the default */
	void (*claims)(json_t *c);	  /* change to the default claims */
	char *(*claims_text)(char *text); /* change to the claims text (frees text) */
	void (*post)(char **tok);	  /* change to the finished token */
	int flags;
	const char *reason;		  /* NULL: accepted; else in the reason */
	const char *agent_id;		  /* accepted: expected agent id */
};

/* Builds the token of a case. */
static char *case_token(const struct tok_case *tc)
{
	json_t *claims = tfx_default_claims();
	char header[512], *text, *tok;

	if (tc->claims != NULL)
		tc->claims(claims);
	text = json_dumps(claims, JSON_COMPACT);
	assert_non_null(text);
	json_decref(claims);
	if (tc->claims_text != NULL)
		text = tc->claims_text(text);
	if (tc->header != NULL)
		snprintf(header, sizeof(header), "%s", tc->header);
	else
		snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}",
			 id_alg_name(tc->alg), tc->kid);
	tok = tfx_token(tc->alg, tfx_key(tc->key), header, text, tc->flags);
	free(text);
	if (tc->post != NULL)
		tc->post(&tok);
	return tok;
}

/* Runs one case through id_verify_token at TFX_NOW and checks the outcome. */
static void test_token_case(void **state)
{
	const struct tok_case *tc = *state;
	struct id_identity *id = (void *)1;
	char err[512] = "", *tok = case_token(tc);
	int rc = id_verify_token(&tfx_trust.v, tok, strlen(tok), TFX_NOW, &id, err, sizeof(err));

	if (tc->reason == NULL) {
		if (rc != 0)
			print_error("%s: rejected: %s\n", tc->name, err);
		assert_int_equal(rc, 0);
		assert_non_null(id);
		if (tc->agent_id != NULL)
			assert_string_equal(id->agent_id, tc->agent_id);
		assert_int_equal(id->alg, tc->alg);
		assert_int_equal(strlen(id->fingerprint), ID_FINGERPRINT_LEN);
		id_identity_free(id);
	} else {
		if (rc == 0 || strstr(err, tc->reason) == NULL)
			print_error("%s: rc %d, reason \"%s\", expected \"%s\"\n",
				    tc->name, rc, err, tc->reason);
		assert_int_equal(rc, -1);
		assert_null(id);
		assert_non_null(strstr(err, tc->reason));
	}
	free(tok);
}

/*
 * Changes to the default claims, one defect (or one accepted variation)
 * each; the names say what they change.
 */
static void set_int(json_t *c, const char *k, int64_t v)
{
	json_object_set_new(c, k, json_integer((json_int_t)v));
}
static void c_expired(json_t *c) { set_int(c, "iat", TFX_NOW - 400); set_int(c, "exp", TFX_NOW - TFX_LEEWAY); }
static void c_in_leeway(json_t *c) { set_int(c, "iat", TFX_NOW - 400); set_int(c, "exp", TFX_NOW - TFX_LEEWAY + 1); }
static void c_nbf_future(json_t *c) { set_int(c, "nbf", TFX_NOW + TFX_LEEWAY + 1); }
static void c_nbf_leeway(json_t *c) { set_int(c, "nbf", TFX_NOW + TFX_LEEWAY); }
static void c_iat_future(json_t *c) { set_int(c, "iat", TFX_NOW + TFX_LEEWAY + 1); }
static void c_lifetime(json_t *c) { set_int(c, "iat", TFX_NOW); set_int(c, "exp", TFX_NOW + TFX_MAX_AGE + 1); }
static void c_lifetime_max(json_t *c) { set_int(c, "iat", TFX_NOW); set_int(c, "exp", TFX_NOW + TFX_MAX_AGE); }
static void c_lifetime_noiat(json_t *c) { json_object_del(c, "iat"); set_int(c, "exp", TFX_NOW + TFX_MAX_AGE + 1); }
static void c_wrong_aud(json_t *c) { json_object_set_new(c, "aud", json_string("spiffe://example.org/host/web02")); }
static void c_aud_array(json_t *c) { json_object_set_new(c, "aud", json_pack("[s,s]", "x", TFX_AUD)); }
static void c_aud_array_miss(json_t *c) { json_object_set_new(c, "aud", json_pack("[s,s]", "x", "y")); }
static void c_aud_array_mixed(json_t *c) { json_object_set_new(c, "aud", json_pack("[s,i]", TFX_AUD, 1)); }
static void c_aud_number(json_t *c) { set_int(c, "aud", 1); }
static void c_no_aud(json_t *c) { json_object_del(c, "aud"); }
static void c_no_exp(json_t *c) { json_object_del(c, "exp"); }
static void c_exp_string(json_t *c) { json_object_set_new(c, "exp", json_string("1700000290")); }
static void c_exp_bool(json_t *c) { json_object_set_new(c, "exp", json_true()); }
static void c_exp_real(json_t *c) { json_object_set_new(c, "exp", json_real((double)TFX_NOW + 100.5)); }
static void c_exp_real_edge(json_t *c) { json_object_set_new(c, "exp", json_real((double)(TFX_NOW - TFX_LEEWAY) + 0.5)); }
static void c_nbf_real_edge(json_t *c) { json_object_set_new(c, "nbf", json_real((double)(TFX_NOW + TFX_LEEWAY) + 0.5)); }
static void c_nbf_string(json_t *c) { json_object_set_new(c, "nbf", json_string("0")); }
static void c_bad_sub(json_t *c) { json_object_set_new(c, "sub", json_string("spiffe://example.org/a//b")); }
static void c_sub_upper_td(json_t *c) { json_object_set_new(c, "sub", json_string("spiffe://Example.org/a")); }
static void c_sub_unknown_td(json_t *c) { json_object_set_new(c, "sub", json_string("spiffe://unknown.org/a")); }
static void c_no_sub(json_t *c) { json_object_del(c, "sub"); }
static void c_sub_number(json_t *c) { set_int(c, "sub", 5); }
static void c_jti_number(json_t *c) { set_int(c, "jti", 5); }
static void c_task_number(json_t *c) { set_int(c, "task", 5); }
static void c_task_empty(json_t *c) { json_object_set_new(c, "task", json_string("")); }
static void c_scope_array(json_t *c) { json_object_set_new(c, "scope", json_pack("[s]", "read")); }
static void c_act_string(json_t *c) { json_object_set_new(c, "act", json_string("spiffe://example.org/x")); }
static void c_iss_number(json_t *c) { set_int(c, "iss", 5); }
/* Pads the claims so the token exceeds ID_TOKEN_MAX. */
static void c_oversize(json_t *c)
{
	char *pad = malloc(ID_TOKEN_MAX);

	assert_non_null(pad);
	memset(pad, 'a', ID_TOKEN_MAX - 1);
	pad[ID_TOKEN_MAX - 1] = '\0';
	json_object_set_new(c, "pad", json_string(pad));
	free(pad);
}
/* Turns the claims into an ID token of TFX_IDP with its own audience. */
static void c_oidc(json_t *c)
{
	json_object_set_new(c, "iss", json_string(TFX_IDP));
	json_object_set_new(c, "sub", json_string("user-1"));
	json_object_set_new(c, "aud", json_string(TFX_IDP_AUD));
}
static void c_oidc_global_aud(json_t *c) { c_oidc(c); json_object_set_new(c, "aud", json_string(TFX_AUD)); }
static void c_oidc_slash(json_t *c) { c_oidc(c); json_object_set_new(c, "iss", json_string(TFX_IDP "/")); }
static void c_oidc_ctl_sub(json_t *c) { c_oidc(c); json_object_set_new(c, "sub", json_string("a\nb")); }
/* Turns the claims into an ID token of TFX_IDP2 (global audience). */
static void c_oidc2(json_t *c)
{
	json_object_set_new(c, "iss", json_string(TFX_IDP2));
	json_object_set_new(c, "sub", json_string("user-2"));
}

/* Changes to the claims text (each frees the text it is given). */
static char *t_prepend(char *text, const char *member)
{
	char *out = NULL;

	assert_true(asprintf(&out, "{%s,%s", member, text + 1) > 0);
	free(text);
	return out;
}
static char *t_dup_sub(char *text) { return t_prepend(text, "\"sub\":\"" TFX_SUB "\""); }
static char *t_nul(char *text) { return t_prepend(text, "\"task\":\"a\\u0000b\""); }
static char *t_trailing(char *text)
{
	char *out = NULL;

	assert_true(asprintf(&out, "%s x", text) > 0);
	free(text);
	return out;
}
static char *t_second_object(char *text)
{
	char *out = NULL;

	assert_true(asprintf(&out, "%s{}", text) > 0);
	free(text);
	return out;
}
static char *t_array(char *text)
{
	free(text);
	return strdup("[1]");
}

/* Changes to the finished token text. */
static void p_append(char **tok, const char *s)
{
	char *out = NULL;

	assert_true(asprintf(&out, "%s%s", *tok, s) > 0);
	free(*tok);
	*tok = out;
}
static void p_pad_sig(char **tok) { p_append(tok, "=="); }
static void p_four(char **tok) { p_append(tok, ".e30"); }
static void p_five(char **tok) { p_append(tok, ".e30.e30"); }
static void p_two(char **tok) { *strrchr(*tok, '.') = '\0'; }
/* Adds a '=' pad character to the header segment. */
static void p_pad_header(char **tok)
{
	char *dot = strchr(*tok, '.'), *out = NULL;

	*dot = '\0';
	assert_true(asprintf(&out, "%s=.%s", *tok, dot + 1) > 0);
	free(*tok);
	*tok = out;
}
/* sets an unused low bit in the last character of the signature */
static void p_trailing_bits(char **tok)
{
	static const char alpha[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char *last = *tok + strlen(*tok) - 1;
	size_t v = (size_t)(strchr(alpha, *last) - alpha);

	assert_int_equal(strlen(strrchr(*tok, '.') + 1) % 4, 2); /* 4 unused bits */
	assert_int_equal(v & 0xf, 0);
	*last = alpha[v | 1];
}
/* Replaces the payload with other claims, keeping the old signature. */
static void p_swap_payload(char **tok)
{
	json_t *c = tfx_default_claims();
	char *text, *p64, *out = NULL, *d1 = strchr(*tok, '.'), *d2 = strrchr(*tok, '.');

	json_object_set_new(c, "task", json_string("rm -rf"));
	text = json_dumps(c, JSON_COMPACT);
	p64 = tfx_b64u(text, strlen(text));
	*d1 = '\0';
	assert_true(asprintf(&out, "%s.%s%s", *tok, p64, d2) > 0);
	free(text);
	free(p64);
	json_decref(c);
	free(*tok);
	*tok = out;
}

#define HDR(alg, kid, extra) "{\"alg\":\"" alg "\",\"kid\":\"" kid "\"" extra "}"

static const struct tok_case token_cases[] = {
	/* accepted: every algorithm, both paths */
	{ "accept RS256", ID_ALG_RS256, TFX_K_RSA, "rsa1", .agent_id = TFX_SUB },
	{ "accept RS384", ID_ALG_RS384, TFX_K_RSA, "rsa1", .agent_id = TFX_SUB },
	{ "accept RS512", ID_ALG_RS512, TFX_K_RSA, "rsa1", .agent_id = TFX_SUB },
	{ "accept PS256", ID_ALG_PS256, TFX_K_RSA, "rsa1", .agent_id = TFX_SUB },
	{ "accept PS384", ID_ALG_PS384, TFX_K_RSA, "rsa1", .agent_id = TFX_SUB },
	{ "accept PS512", ID_ALG_PS512, TFX_K_RSA, "rsa1", .agent_id = TFX_SUB },
	{ "accept ES256", ID_ALG_ES256, TFX_K_EC256, "ec256", .agent_id = TFX_SUB },
	{ "accept ES384", ID_ALG_ES384, TFX_K_EC384, "ec384", .agent_id = TFX_SUB },
	{ "accept ES512", ID_ALG_ES512, TFX_K_EC521, "ec521", .agent_id = TFX_SUB },
	{ "accept EdDSA on the OIDC path with allow_eddsa", ID_ALG_EDDSA, TFX_K_ED, "ed1",
	  .claims = c_oidc, .agent_id = TFX_IDP "#user-1" },
	{ "accept RS256 on the OIDC path", ID_ALG_RS256, TFX_K_RSA, "rsa-oidc",
	  .claims = c_oidc, .agent_id = TFX_IDP "#user-1" },
	{ "accept OIDC issuer without own audience (global one)", ID_ALG_RS256, TFX_K_RSA_B, "rsa2",
	  .claims = c_oidc2, .agent_id = TFX_IDP2 "#user-2" },
	{ "accept RS256 with a JWK bound to RS256", ID_ALG_RS256, TFX_K_RSA_B, "rsa-rs256", .agent_id = TFX_SUB },
	{ "accept typ absent", ID_ALG_ES256, TFX_K_EC256, .header = HDR("ES256", "ec256", ""), .agent_id = TFX_SUB },
	{ "accept typ jwt (any case)", ID_ALG_ES256, TFX_K_EC256, .header = HDR("ES256", "ec256", ",\"typ\":\"jwt\""), .agent_id = TFX_SUB },
	{ "accept typ JOSE", ID_ALG_ES256, TFX_K_EC256, .header = HDR("ES256", "ec256", ",\"typ\":\"JOSE\""), .agent_id = TFX_SUB },
	{ "accept typ application/jwt", ID_ALG_ES256, TFX_K_EC256, .header = HDR("ES256", "ec256", ",\"typ\":\"application/jwt\""), .agent_id = TFX_SUB },
	{ "accept exp inside the leeway", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims = c_in_leeway, .agent_id = TFX_SUB },
	{ "accept nbf at the leeway edge", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims = c_nbf_leeway, .agent_id = TFX_SUB },
	{ "accept lifetime equal to the maximum", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims = c_lifetime_max, .agent_id = TFX_SUB },
	{ "accept real exp", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims = c_exp_real, .agent_id = TFX_SUB },
	{ "accept aud array", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims = c_aud_array, .agent_id = TFX_SUB },

	/* algorithms that are never accepted, and key confusion */
	{ "reject alg none", ID_ALG_ES256, TFX_K_EC256, .header = "{\"alg\":\"none\",\"kid\":\"ec256\"}",
	  .flags = TFX_SIG_EMPTY, .reason = "alg \"none\"" },
	{ "reject alg None with a signature", ID_ALG_ES256, TFX_K_EC256,
	  .header = "{\"alg\":\"None\",\"kid\":\"ec256\"}", .reason = "alg \"None\"" },
	{ "reject HS256 keyed with the RSA public key", ID_ALG_RS256, TFX_K_RSA,
	  .header = "{\"alg\":\"HS256\",\"kid\":\"rsa1\",\"typ\":\"JWT\"}", .flags = TFX_SIGN_HS_PUB,
	  .reason = "alg \"HS256\"" },
	{ "reject unknown alg ES256K", ID_ALG_ES256, TFX_K_EC256, .header = HDR("ES256K", "ec256", ""),
	  .reason = "alg \"ES256K\" is not allowed" },
	{ "reject alg of wrong case es256", ID_ALG_ES256, TFX_K_EC256, .header = HDR("es256", "ec256", ""),
	  .reason = "alg \"es256\" is not allowed" },
	{ "reject alg not a string", ID_ALG_ES256, TFX_K_EC256, .header = "{\"alg\":1,\"kid\":\"ec256\"}",
	  .reason = "\"alg\" is not a string" },
	{ "reject no alg", ID_ALG_ES256, TFX_K_EC256, .header = "{\"kid\":\"ec256\"}", .reason = "no \"alg\"" },
	{ "reject RS256 header on an EC key", ID_ALG_RS256, TFX_K_RSA, "ec256", .reason = "may not verify RS256" },
	{ "reject ES384 header on a P-256 key", ID_ALG_ES384, TFX_K_EC384, "ec256", .reason = "may not verify ES384" },
	{ "reject PS256 on a JWK bound to RS256", ID_ALG_PS256, TFX_K_RSA_B, "rsa-rs256", .reason = "may not verify PS256" },
	{ "reject EdDSA on the SPIFFE path", ID_ALG_EDDSA, TFX_K_ED, "ed-td", .reason = "EdDSA is not accepted for JWT-SVIDs" },
	{ "reject EdDSA on OIDC without allow_eddsa", ID_ALG_EDDSA, TFX_K_ED, "ed2", .claims = c_oidc2,
	  .reason = "EdDSA is not enabled for issuer " TFX_IDP2 },

	/* signatures */
	{ "reject DER-encoded ECDSA signature", ID_ALG_ES256, TFX_K_EC256, "ec256", .flags = TFX_SIGN_DER,
	  .reason = "expected 64 (raw r||s)" },
	{ "reject ECDSA r = s = 0", ID_ALG_ES256, TFX_K_EC256, "ec256", .flags = TFX_SIG_ZERO, .reason = "out of range" },
	{ "reject ECDSA r = n", ID_ALG_ES256, TFX_K_EC256, "ec256", .flags = TFX_SIG_R_IS_N, .reason = "out of range" },
	{ "reject PS256 with salt length 0", ID_ALG_PS256, TFX_K_RSA, "rsa1", .flags = TFX_SIGN_SALT0,
	  .reason = "signature does not verify" },
	{ "reject RSA signature with a leading zero byte", ID_ALG_RS256, TFX_K_RSA, "rsa1",
	  .flags = TFX_SIG_RSA_PAD0, .reason = "RSA signature is 257 bytes, expected 256" },
	{ "reject modified RS256 signature", ID_ALG_RS256, TFX_K_RSA, "rsa1", .flags = TFX_SIG_FLIP,
	  .reason = "signature does not verify" },
	{ "reject modified ES512 signature", ID_ALG_ES512, TFX_K_EC521, "ec521", .flags = TFX_SIG_FLIP,
	  .reason = "signature verification failed" },
	{ "reject modified payload", ID_ALG_ES256, TFX_K_EC256, "ec256", .post = p_swap_payload,
	  .reason = "signature does not verify" },
	{ "reject empty signature", ID_ALG_ES256, TFX_K_EC256, "ec256", .flags = TFX_SIG_EMPTY,
	  .reason = "signature segment is empty" },

	/* key selection */
	{ "reject kid of a key in another trust domain", ID_ALG_ES256, TFX_K_OTHER, "other-ec",
	  .reason = "unknown kid \"other-ec\" among the jwt-svid keys of trust domain example.org" },
	{ "reject unknown kid", ID_ALG_ES256, TFX_K_EC256, "nope", .reason = "unknown kid \"nope\" among the jwt-svid keys of trust domain example.org" },
	{ "reject missing kid", ID_ALG_ES256, TFX_K_EC256, .header = "{\"alg\":\"ES256\"}", .reason = "no \"kid\"" },
	{ "reject kid not a string", ID_ALG_ES256, TFX_K_EC256, .header = "{\"alg\":\"ES256\",\"kid\":7}",
	  .reason = "\"kid\" is not a string" },
	{ "reject SPIFFE key for an OIDC issuer", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims = c_oidc,
	  .reason = "unknown kid \"ec256\" for issuer " TFX_IDP },
	{ "reject sub in an unconfigured trust domain", ID_ALG_ES256, TFX_K_EC256, "ec256",
	  .claims = c_sub_unknown_td, .reason = "trust domain unknown.org is not configured" },

	/* claims */
	{ "reject expired", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims = c_expired,
	  .reason = "token expired at 1699999970 (now 1700000000, leeway 30s)" },
	{ "reject nbf in the future", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims = c_nbf_future,
	  .reason = "not valid before 1700000031" },
	{ "reject iat in the future", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims = c_iat_future,
	  .reason = "issued in the future at 1700000031" },
	{ "reject lifetime over the maximum", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims = c_lifetime,
	  .reason = "lifetime of 601s is longer than the maximum of 600s" },
	{ "reject lifetime over the maximum without iat", ID_ALG_ES256, TFX_K_EC256, "ec256",
	  .claims = c_lifetime_noiat, .reason = "lifetime of 601s" },
	{ "reject wrong aud", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims = c_wrong_aud,
	  .reason = "audience mismatch: token aud does not contain \"" TFX_AUD "\"" },
	{ "reject aud array without the audience", ID_ALG_ES256, TFX_K_EC256, "ec256",
	  .claims = c_aud_array_miss, .reason = "audience mismatch" },
	{ "reject aud array with a number", ID_ALG_ES256, TFX_K_EC256, "ec256",
	  .claims = c_aud_array_mixed, .reason = "not a string" },
	{ "reject aud a number", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims = c_aud_number,
	  .reason = "\"aud\" is not a string or an array of strings" },
	{ "reject no aud", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims = c_no_aud, .reason = "no \"aud\"" },
	{ "reject OIDC token with the global audience", ID_ALG_RS256, TFX_K_RSA, "rsa-oidc",
	  .claims = c_oidc_global_aud, .reason = "does not contain \"" TFX_IDP_AUD "\"" },
	{ "reject OIDC iss that differs by a slash", ID_ALG_EDDSA, TFX_K_ED, "ed1", .claims = c_oidc_slash,
	  .reason = "\"sub\" is not a valid SPIFFE ID" },
	{ "reject OIDC sub with a control character", ID_ALG_RS256, TFX_K_RSA, "rsa-oidc",
	  .claims = c_oidc_ctl_sub, .reason = "control characters" },
	{ "reject missing exp", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims = c_no_exp, .reason = "no \"exp\"" },
	{ "reject exp a string", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims = c_exp_string,
	  .reason = "\"exp\" is not a number" },
	{ "reject exp a boolean", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims = c_exp_bool,
	  .reason = "\"exp\" is not a number" },
	{ "reject real exp half a second past the leeway (rounded down)", ID_ALG_ES256, TFX_K_EC256, "ec256",
	  .claims = c_exp_real_edge, .reason = "token expired at 1699999970" },
	{ "reject real nbf half a second past the leeway (rounded up)", ID_ALG_ES256, TFX_K_EC256, "ec256",
	  .claims = c_nbf_real_edge, .reason = "not valid before 1700000031" },
	{ "reject nbf a string", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims = c_nbf_string,
	  .reason = "\"nbf\" is not a number" },
	{ "reject bad SPIFFE ID in sub", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims = c_bad_sub,
	  .reason = "\"sub\" is not a valid SPIFFE ID: SPIFFE ID path has an empty segment" },
	{ "reject uppercase trust domain in sub", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims = c_sub_upper_td,
	  .reason = "\"sub\" is not a valid SPIFFE ID" },
	{ "reject missing sub", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims = c_no_sub, .reason = "no \"sub\"" },
	{ "reject sub a number", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims = c_sub_number, .reason = "no \"sub\"" },
	{ "reject jti a number", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims = c_jti_number,
	  .reason = "\"jti\" is not a string" },
	{ "reject task a number", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims = c_task_number,
	  .reason = "\"task\" is not a string" },
	/* a session record with task "" is one `pam-agent reap` never accepts */
	{ "reject task empty", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims = c_task_empty,
	  .reason = "\"task\" claim is empty (omit it, or name the task)" },
	{ "reject scope an array", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims = c_scope_array,
	  .reason = "\"scope\" is not a string" },
	{ "reject act a string", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims = c_act_string,
	  .reason = "\"act\" is not an object" },
	{ "reject iss a number on the SPIFFE path", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims = c_iss_number,
	  .reason = "\"iss\" is not a string" },

	/* JSON */
	{ "reject duplicate names in the header", ID_ALG_ES256, TFX_K_EC256,
	  .header = "{\"alg\":\"ES256\",\"kid\":\"ec256\",\"kid\":\"ec256\"}", .reason = "header is not valid JSON" },
	{ "reject duplicate names in the claims", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims_text = t_dup_sub,
	  .reason = "claims is not valid JSON" },
	{ "reject trailing bytes after the header", ID_ALG_ES256, TFX_K_EC256,
	  .header = HDR("ES256", "ec256", "") " x", .reason = "header is not valid JSON" },
	{ "reject trailing bytes after the claims", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims_text = t_trailing,
	  .reason = "claims is not valid JSON" },
	{ "reject a second object after the claims", ID_ALG_ES256, TFX_K_EC256, "ec256",
	  .claims_text = t_second_object, .reason = "claims is not valid JSON" },
	{ "reject NUL inside a claim string", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims_text = t_nul,
	  .reason = "claims is not valid JSON" },
	{ "reject header not an object", ID_ALG_ES256, TFX_K_EC256, .header = "[\"ES256\"]",
	  .reason = "header is not a JSON object" },
	{ "reject claims not an object", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims_text = t_array,
	  .reason = "claims is not a JSON object" },

	/* header parameters */
	{ "reject typ at+jwt", ID_ALG_ES256, TFX_K_EC256, .header = HDR("ES256", "ec256", ",\"typ\":\"at+jwt\""),
	  .reason = "\"typ\" is \"at+jwt\"" },
	{ "reject typ not a string", ID_ALG_ES256, TFX_K_EC256, .header = HDR("ES256", "ec256", ",\"typ\":1"),
	  .reason = "\"typ\" is not a string" },
	{ "reject header jwk", ID_ALG_ES256, TFX_K_EC256, .header = HDR("ES256", "ec256", ",\"jwk\":{\"kty\":\"EC\"}"),
	  .reason = "parameter \"jwk\" is not allowed" },
	{ "reject header jku", ID_ALG_ES256, TFX_K_EC256, .header = HDR("ES256", "ec256", ",\"jku\":\"https://evil.example/k\""),
	  .reason = "parameter \"jku\" is not allowed" },
	{ "reject header x5u", ID_ALG_ES256, TFX_K_EC256, .header = HDR("ES256", "ec256", ",\"x5u\":\"https://evil.example/c\""),
	  .reason = "parameter \"x5u\" is not allowed" },
	{ "reject header x5c", ID_ALG_ES256, TFX_K_EC256, .header = HDR("ES256", "ec256", ",\"x5c\":[\"MIIB\"]"),
	  .reason = "parameter \"x5c\" is not allowed" },
	{ "reject header x5t", ID_ALG_ES256, TFX_K_EC256, .header = HDR("ES256", "ec256", ",\"x5t\":\"abc\""),
	  .reason = "parameter \"x5t\" is not allowed" },
	{ "reject header x5t#S256", ID_ALG_ES256, TFX_K_EC256, .header = HDR("ES256", "ec256", ",\"x5t#S256\":\"abc\""),
	  .reason = "parameter \"x5t#S256\" is not allowed" },
	{ "reject header crit", ID_ALG_ES256, TFX_K_EC256, .header = HDR("ES256", "ec256", ",\"crit\":[\"exp\"]"),
	  .reason = "parameter \"crit\" is not allowed" },
	{ "reject header b64", ID_ALG_ES256, TFX_K_EC256, .header = HDR("ES256", "ec256", ",\"b64\":false"),
	  .reason = "parameter \"b64\" is not allowed" },
	{ "reject header zip", ID_ALG_ES256, TFX_K_EC256, .header = HDR("ES256", "ec256", ",\"zip\":\"DEF\""),
	  .reason = "parameter \"zip\" is not allowed" },
	{ "reject header enc", ID_ALG_ES256, TFX_K_EC256, .header = HDR("ES256", "ec256", ",\"enc\":\"A256GCM\""),
	  .reason = "parameter \"enc\" is not allowed" },
	{ "reject header cty (nested JWT)", ID_ALG_ES256, TFX_K_EC256, .header = HDR("ES256", "ec256", ",\"cty\":\"JWT\""),
	  .reason = "parameter \"cty\" is not allowed" },

	/* compact serialization */
	{ "reject padding in the signature", ID_ALG_ES256, TFX_K_EC256, "ec256", .post = p_pad_sig,
	  .reason = "signature is not strict base64url" },
	{ "reject padding in the header", ID_ALG_ES256, TFX_K_EC256, .header = HDR("ES256", "ec256", ""),
	  .post = p_pad_header, .reason = "header is not strict base64url" },
	{ "reject non-zero trailing bits", ID_ALG_ES256, TFX_K_EC256, "ec256", .post = p_trailing_bits,
	  .reason = "signature is not strict base64url" },
	{ "reject 2 segments", ID_ALG_ES256, TFX_K_EC256, "ec256", .post = p_two, .reason = "token has 2 segments" },
	{ "reject 4 segments", ID_ALG_ES256, TFX_K_EC256, "ec256", .post = p_four, .reason = "token has 4 segments" },
	{ "reject 5 segments (JWE)", ID_ALG_ES256, TFX_K_EC256, "ec256", .post = p_five, .reason = "JWE" },
	{ "reject oversize token", ID_ALG_ES256, TFX_K_EC256, "ec256", .claims = c_oversize,
	  .reason = "larger than the limit of 16384" },
};

/* A token of claims c (consumed), signed with key k under header. */
static char *claims_token(json_t *c, enum id_alg alg, enum tfx_key k, const char *header)
{
	char *text = json_dumps(c, JSON_COMPACT), *tok;

	json_decref(c);
	tok = tfx_token(alg, tfx_key(k), header, text, 0);
	free(text);
	return tok;
}

/* The identity of a verified token, and its JSON rendering. */
static void test_identity_to_json(void **state)
{
	json_t *c = tfx_default_claims(), *out;
	char *text, *tok, err[256] = "";
	struct id_identity *id = NULL;
	unsigned char md[32];
	char hex[65];
	size_t i;

	(void)state;
	json_object_set_new(c, "task", json_string("TICKET-7"));
	json_object_set_new(c, "scope", json_string("tickets:read read"));
	json_object_set_new(c, "act", json_pack("{s:s}", "sub", "spiffe://example.org/agents/orchestrator"));
	set_int(c, "nbf", TFX_NOW - 5);
	tok = claims_token(c, ID_ALG_ES384, TFX_K_EC384,
			   "{\"alg\":\"ES384\",\"kid\":\"ec384\",\"typ\":\"JWT\"}");
	assert_int_equal(id_verify_token(&tfx_trust.v, tok, strlen(tok), TFX_NOW, &id, err, sizeof(err)), 0);
	assert_int_equal(id->kind, ID_KIND_SPIFFE);
	assert_string_equal(id->trust_domain, "example.org");
	assert_null(id->issuer);
	assert_string_equal(id->kid, "ec384");
	assert_int_equal(id->exp, TFX_NOW + 290);
	assert_int_equal(id->iat, TFX_NOW - 10);
	assert_int_equal(id->nbf, TFX_NOW - 5);
	assert_int_equal(SHA256((const unsigned char *)tok, strlen(tok), md) != NULL, 1);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	assert_string_equal(id->fingerprint, hex);

	out = id_identity_to_json(id);
	assert_non_null(out);
	assert_string_equal(json_string_value(json_object_get(out, "kind")), "spiffe");
	assert_string_equal(json_string_value(json_object_get(out, "agent_id")), TFX_SUB);
	assert_string_equal(json_string_value(json_object_get(out, "subject")), TFX_SUB);
	assert_string_equal(json_string_value(json_object_get(out, "trust_domain")), "example.org");
	assert_string_equal(json_string_value(json_object_get(out, "jti")), "jti-1");
	assert_string_equal(json_string_value(json_object_get(out, "task")), "TICKET-7");
	assert_string_equal(json_string_value(json_object_get(out, "scope")), "tickets:read read");
	assert_string_equal(json_string_value(json_object_get(out, "kid")), "ec384");
	assert_string_equal(json_string_value(json_object_get(out, "alg")), "ES384");
	assert_string_equal(json_string_value(json_object_get(out, "fingerprint")), hex);
	assert_int_equal(json_integer_value(json_object_get(out, "exp")), TFX_NOW + 290);
	assert_int_equal(json_integer_value(json_object_get(out, "iat")), TFX_NOW - 10);
	assert_int_equal(json_integer_value(json_object_get(out, "nbf")), TFX_NOW - 5);
	assert_null(json_object_get(out, "issuer"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(out, "act"), "sub")),
			    "spiffe://example.org/agents/orchestrator");
	assert_string_equal(json_string_value(json_object_get(json_object_get(out, "claims"), "aud")), TFX_AUD);
	/* the output is a copy: changing it leaves the identity alone */
	json_object_set_new(json_object_get(out, "act"), "sub", json_string("changed"));
	assert_string_equal(json_string_value(json_object_get(id->act, "sub")),
			    "spiffe://example.org/agents/orchestrator");
	text = json_dumps(out, JSON_COMPACT);
	assert_null(strstr(text, tok));	/* never the token itself */
	free(text);
	json_decref(out);
	id_identity_free(id);
	id = NULL;
	free(tok);

	/* OIDC identity */
	c = tfx_default_claims();
	c_oidc(c);
	tok = claims_token(c, ID_ALG_EDDSA, TFX_K_ED, "{\"alg\":\"EdDSA\",\"kid\":\"ed1\"}");
	assert_int_equal(id_verify_token(&tfx_trust.v, tok, strlen(tok), TFX_NOW, &id, err, sizeof(err)), 0);
	out = id_identity_to_json(id);
	assert_string_equal(json_string_value(json_object_get(out, "kind")), "oidc");
	assert_string_equal(json_string_value(json_object_get(out, "agent_id")), TFX_IDP "#user-1");
	assert_string_equal(json_string_value(json_object_get(out, "issuer")), TFX_IDP);
	assert_null(json_object_get(out, "trust_domain"));
	assert_null(json_object_get(out, "task"));
	assert_string_equal(json_string_value(json_object_get(out, "alg")), "EdDSA");
	json_decref(out);
	id_identity_free(id);
	free(tok);
	assert_null(id_identity_to_json(NULL));
	id_identity_free(NULL);
}

/*
 * Verifying JWT-SVIDs never parses the bundle's x509-svid certificates
 * (id_keyset_parse): example.org's fake one is still pending after a
 * verification, and ignored with its notice once the authorities are read.
 */
static void test_jwt_leaves_x509_unparsed(void **state)
{
	struct id_keyset *keys = tfx_trust.v.domains[0].keys;
	char *tok, err[256] = "";
	struct id_identity *id = NULL;
	size_t i;
	bool noticed = false;

	(void)state;
	tok = claims_token(tfx_default_claims(), ID_ALG_ES256, TFX_K_EC256,
			   "{\"alg\":\"ES256\",\"kid\":\"ec256\"}");
	assert_int_equal(id_verify_token(&tfx_trust.v, tok, strlen(tok), TFX_NOW, &id, err, sizeof(err)), 0);
	id_identity_free(id);
	free(tok);
	assert_int_equal(id_keyset_x509_pending(keys), 1);
	assert_int_equal(id_keyset_x509_count(keys), 0);
	assert_int_equal(id_keyset_x509_pending(keys), 0);
	for (i = 0; id_keyset_notice(keys, i) != NULL; i++)
		noticed |= strstr(id_keyset_notice(keys, i), "x509-svid element whose \"x5c\" is not "
					"a DER certificate") != NULL;
	assert_true(noticed);
}

/* ---- main ---------------------------------------------------------------- */

#define T(f) { #f, f, NULL, NULL, NULL }

/* One test per token case, then the fixed tests, in one group. */
int main(void)
{
	static const struct CMUnitTest fixed[] = {
		T(test_identity_to_json),
		T(test_jwt_leaves_x509_unparsed),
	};
	size_t n_cases = PA_ARRAY_SIZE(token_cases), n = PA_ARRAY_SIZE(fixed) + n_cases, i;
	struct CMUnitTest *tests = calloc(n, sizeof(*tests));
	int rc;

	if (tests == NULL)
		return 1;
	for (i = 0; i < n_cases; i++) {
		tests[i].name = token_cases[i].name;
		tests[i].test_func = test_token_case;
		tests[i].initial_state = (void *)&token_cases[i];
	}
	memcpy(tests + n_cases, fixed, sizeof(fixed));
	rc = _cmocka_run_group_tests("identity", tests, n, tfx_trust_setup, tfx_trust_teardown);
	free(tests);
	return rc;
}
