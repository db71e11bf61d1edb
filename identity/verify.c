/*
 * verify.c - the whole token pipeline: key selection from the configured
 * trust domains and issuers, signature first, then the claims (RFC 7519,
 * RFC 8725, SPIFFE JWT-SVID), producing an identity.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "identity.h"
#include "key_int.h"
#include "util.h"
#include "x509_int.h"

/* Largest trust domain name (SPIFFE ID spec §2.1) plus NUL. */
#define TD_BUF 256

/* a + b, saturated to the int64_t range. */
static int64_t sat_add(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/* a - b, saturated to the int64_t range. */
static int64_t sat_sub(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_sub_overflow(a, b, &r))
		return b < 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/* Frees an identity and everything it owns. NULL is fine. */
void id_identity_free(struct id_identity *id)
{
	if (id == NULL)
		return;
	free(id->agent_id);
	free(id->issuer);
	free(id->subject);
	free(id->trust_domain);
	free(id->jti);
	free(id->task);
	free(id->scope);
	free(id->kid);
	json_decref(id->act);
	json_decref(id->claims);
	free(id);
}

/* Frees everything v owns and leaves it empty (v itself stays). */
void id_verifier_clear(struct id_verifier *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->n_domains; i++) {
		free(v->domains[i].name);
		free(v->domains[i].bundle_path);
		free(v->domains[i].x509_authorities_path);
		free(v->domains[i].load_error);
		id_keyset_free(v->domains[i].keys);
	}
	free(v->domains);
	for (i = 0; i < v->n_issuers; i++) {
		free(v->issuers[i].url);
		free(v->issuers[i].jwks_path);
		free(v->issuers[i].audience);
		free(v->issuers[i].load_error);
		id_keyset_free(v->issuers[i].keys);
	}
	free(v->issuers);
	free(v->audience);
	memset(v, 0, sizeof(*v));
}

/* Whether name is a valid SPIFFE trust domain name. */
static bool td_name_valid(const char *name)
{
	char id[TD_BUF + 16], td[TD_BUF];
	int n;

	if (name == NULL)
		return false;
	n = snprintf(id, sizeof(id), "spiffe://%s", name);
	if (n < 0 || (size_t)n >= sizeof(id))
		return false;
	if (id_spiffe_id_parse(id, td, sizeof(td), NULL, 0) != 0)
		return false;
	return strcmp(td, name) == 0;
}

/*
 * Loads the key set at path into *keys; when it cannot be used, keeps the
 * reason in *load_error instead. -1 only when out of memory.
 */
static int load_keys(const char *path, enum id_keyset_kind kind, struct id_keyset **keys,
		     char **load_error, char *err, size_t errlen)
{
	char why[512];

	id_keyset_free(*keys);
	free(*load_error);
	*load_error = NULL;
	*keys = id_keyset_load(path, kind, why, sizeof(why));
	if (*keys != NULL)
		return 0;
	*load_error = strdup(why);
	return *load_error != NULL ? 0 : pa_err(err, errlen, "out of memory");
}

/*
 * Replaces the X.509 authorities of d's bundle with those of its
 * x509_authorities file. When the file cannot be used the whole trust
 * domain is refused with the reason (load_error); others are unaffected.
 * -1 only when out of memory.
 */
static int load_x509_authorities(struct id_trust_domain *d, char *err, size_t errlen)
{
	char why[512], *line = NULL;

	if (d->x509_authorities_path == NULL || d->keys == NULL)
		return 0;
	if (id_keyset_x509_load_pem(d->keys, d->x509_authorities_path, why, sizeof(why)) == 0)
		return 0;
	id_keyset_free(d->keys);
	d->keys = NULL;
	if (asprintf(&line, "x509_authorities: %s", why) < 0)
		return pa_err(err, errlen, "out of memory");
	d->load_error = line;
	return 0;
}

/* Loads every bundle and JWKS of v after checking the configuration. */
int id_verifier_load(struct id_verifier *v, char *err, size_t errlen)
{
	bool have_audience;
	size_t i, j;

	if (v == NULL)
		return pa_err(err, errlen, "no verifier");
	have_audience = v->audience != NULL && v->audience[0] != '\0';
	if (v->n_domains == 0 && v->n_issuers == 0)
		return pa_err(err, errlen, "no trust domain and no issuer configured");
	if (v->leeway < 0 || v->max_token_age < 0)
		return pa_err(err, errlen, "clock skew and maximum token age must not be negative");
	if (v->n_domains > 0 && !have_audience)
		return pa_err(err, errlen, "no audience configured for JWT-SVIDs");
	for (i = 0; i < v->n_domains; i++) {
		struct id_trust_domain *d = &v->domains[i];

		if (!td_name_valid(d->name))
			return pa_err(err, errlen, "trust domain \"%s\" is not a valid trust domain name",
				      d->name != NULL ? d->name : "");
		for (j = 0; j < i; j++)
			if (strcmp(v->domains[j].name, d->name) == 0)
				return pa_err(err, errlen, "trust domain %s is configured twice",
					      d->name);
		if (d->bundle_path == NULL)
			return pa_err(err, errlen, "trust domain %s has no bundle", d->name);
		if (load_keys(d->bundle_path, ID_KEYSET_SPIFFE, &d->keys, &d->load_error,
			      err, errlen) != 0 ||
		    load_x509_authorities(d, err, errlen) != 0)
			return -1;
	}
	for (i = 0; i < v->n_issuers; i++) {
		struct id_issuer *is = &v->issuers[i];

		if (is->url == NULL || is->url[0] == '\0')
			return pa_err(err, errlen, "issuer without a URL");
		for (j = 0; j < i; j++)
			if (strcmp(v->issuers[j].url, is->url) == 0)
				return pa_err(err, errlen, "issuer %s is configured twice", is->url);
		if (is->jwks_path == NULL)
			return pa_err(err, errlen, "issuer %s has no JWKS", is->url);
		if ((is->has_leeway && is->leeway < 0) ||
		    (is->has_max_token_age && is->max_token_age < 0))
			return pa_err(err, errlen, "issuer %s: clock skew and maximum token age "
				      "must not be negative", is->url);
		if ((is->audience == NULL || is->audience[0] == '\0') && !have_audience)
			return pa_err(err, errlen, "issuer %s has no audience and there is no global one",
				      is->url);
		if (load_keys(is->jwks_path, ID_KEYSET_OIDC, &is->keys, &is->load_error,
			      err, errlen) != 0)
			return -1;
	}
	return 0;
}

/*
 * Reads the NumericDate claim name (integer or real). A real is rounded
 * toward the strict side: down for exp, up for nbf/iat (round_up).
 * Returns 1 when present, 0 when absent, -1 when not a usable number.
 */
int id_claim_time(const json_t *claims, const char *name, bool round_up,
		  int64_t *out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(claims, name);
	double d;

	*out = 0;
	if (v == NULL)
		return 0;
	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
		return 1;
	}
	if (!json_is_real(v))
		return pa_err(err, errlen, "\"%s\" is not a number", name);
	d = json_real_value(v);
	if (!(d >= -9.0e18 && d <= 9.0e18)) /* also false for NaN */
		return pa_err(err, errlen, "\"%s\" is out of range", name);
	*out = (int64_t)d; /* toward zero, then to the strict side */
	if (round_up && (double)*out < d)
		(*out)++;
	else if (!round_up && (double)*out > d)
		(*out)--;
	return 1;
}

/* Reads the optional string claim name: 1 present, 0 absent, -1 bad type. */
int id_claim_string(const json_t *claims, const char *name,
		    const char **out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(claims, name);

	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return pa_err(err, errlen, "\"%s\" is not a string", name);
	*out = json_string_value(v);
	return 1;
}

/* Checks that aud (a string or an array of strings) contains want. */
static int check_audience(const json_t *claims, const char *want,
			  char *err, size_t errlen)
{
	const json_t *aud = json_object_get(claims, "aud"), *a;
	char esc[PA_ESCAPE_MAX];
	bool found = false;
	size_t i;

	if (want == NULL || want[0] == '\0')
		return pa_err(err, errlen, "no audience configured");
	if (aud == NULL)
		return pa_err(err, errlen, "token has no \"aud\"");
	if (json_is_string(aud)) {
		found = strcmp(json_string_value(aud), want) == 0;
	} else if (json_is_array(aud)) {
		json_array_foreach(aud, i, a) {
			if (!json_is_string(a))
				return pa_err(err, errlen, "\"aud\" has a member that is not a string");
			if (strcmp(json_string_value(a), want) == 0)
				found = true;
		}
	} else {
		return pa_err(err, errlen, "\"aud\" is not a string or an array of strings");
	}
	if (!found)
		return pa_err(err, errlen, "audience mismatch: token aud does not contain \"%s\"",
			      pa_escape(want, strlen(want), esc, sizeof(esc)));
	return 0;
}

/* Whether s is non-empty and free of control characters. */
bool id_subject_printable(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (*p == '\0')
		return false;
	for (; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/*
 * Checks the time claims of a verified token at now and fills the times
 * of id: exp required, exp > now - leeway, nbf/iat <= now + leeway, and
 * the lifetime bound.
 */
static int check_times(int64_t leeway, int64_t max_token_age, const json_t *claims,
		       int64_t now, struct id_identity *id, char *err, size_t errlen)
{
	int64_t life;
	int has_iat, has_nbf, has_exp;

	has_exp = id_claim_time(claims, "exp", false, &id->exp, err, errlen);
	if (has_exp < 0)
		return -1;
	if (has_exp == 0)
		return pa_err(err, errlen, "token has no \"exp\"");
	has_nbf = id_claim_time(claims, "nbf", true, &id->nbf, err, errlen);
	has_iat = id_claim_time(claims, "iat", true, &id->iat, err, errlen);
	if (has_nbf < 0 || has_iat < 0)
		return -1;
	if (id->exp <= sat_sub(now, leeway))
		return pa_err(err, errlen, "token expired at %" PRId64 " (now %" PRId64
			      ", leeway %" PRId64 "s)", id->exp, now, leeway);
	if (has_nbf && id->nbf > sat_add(now, leeway))
		return pa_err(err, errlen, "token not valid before %" PRId64 " (now %" PRId64
			      ", leeway %" PRId64 "s)", id->nbf, now, leeway);
	if (has_iat && id->iat > sat_add(now, leeway))
		return pa_err(err, errlen, "token issued in the future at %" PRId64
			      " (now %" PRId64 ", leeway %" PRId64 "s)", id->iat, now, leeway);
	if (max_token_age > 0) {
		life = sat_sub(id->exp, has_iat ? id->iat : now);
		if (life > max_token_age)
			return pa_err(err, errlen, "token lifetime of %" PRId64
				      "s is longer than the maximum of %" PRId64 "s",
				      life, max_token_age);
	}
	return 0;
}

/* strdup that treats NULL as NULL and reports failure through *ok. */
static char *dup_or_null(const char *s, bool *ok)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		*ok = false;
	return d;
}

/* Hex SHA-256 of the token bytes into out (ID_FINGERPRINT_LEN + 1). */
static int fingerprint(const char *token, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	if (EVP_Digest(token, len, md, &mdlen, id_sha256(), NULL) != 1 || mdlen != 32)
		return -1;
	for (i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[2 * mdlen] = '\0';
	return 0;
}

/* The configured issuer whose URL is exactly iss, or NULL. */
static const struct id_issuer *find_issuer(const struct id_verifier *v,
					   const char *iss)
{
	size_t i;

	if (iss == NULL)
		return NULL;
	for (i = 0; i < v->n_issuers; i++)
		if (v->issuers[i].url != NULL && strcmp(v->issuers[i].url, iss) == 0)
			return &v->issuers[i];
	return NULL;
}

/* The configured trust domain named td, or NULL. */
static const struct id_trust_domain *find_domain(const struct id_verifier *v,
						 const char *td)
{
	size_t i;

	for (i = 0; i < v->n_domains; i++)
		if (v->domains[i].name != NULL && strcmp(v->domains[i].name, td) == 0)
			return &v->domains[i];
	return NULL;
}

/*
 * Checks the non-time claims of a verified token and copies them into id:
 * aud (none in a WIT-SVID), sub, iss, jti, task, scope (strings) and act
 * (an object).
 */
static int check_claims(const json_t *claims, const char *want_aud, bool wit,
			struct id_identity *id, char *err, size_t errlen)
{
	const char *sub = NULL, *iss = NULL, *jti = NULL, *task = NULL, *scope = NULL;
	json_t *act;
	bool ok = true;

	/* a WIT-SVID names no audience: its proof of possession is for one */
	if (wit && json_object_get(claims, "aud") != NULL)
		return pa_err(err, errlen, "a WIT-SVID has an \"aud\" (WIT-SVIDs carry none: the "
			      "proof of possession names the audience)");
	if (!wit && check_audience(claims, want_aud, err, errlen) != 0)
		return -1;
	if (id_claim_string(claims, "sub", &sub, err, errlen) < 0 ||
	    id_claim_string(claims, "iss", &iss, err, errlen) < 0 ||
	    id_claim_string(claims, "jti", &jti, err, errlen) < 0 ||
	    id_claim_string(claims, "task", &task, err, errlen) < 0 ||
	    id_claim_string(claims, "scope", &scope, err, errlen) < 0)
		return -1;
	if (sub == NULL)
		return pa_err(err, errlen, "token has no \"sub\"");
	/*
	 * An empty task is no task: require_task counts it as missing, and a
	 * session record holding it is one `pam-agent reap` refuses to read.
	 */
	if (task != NULL && task[0] == '\0')
		return pa_err(err, errlen, "\"task\" claim is empty (omit it, or name the task)");
	if (!id_subject_printable(sub))
		return pa_err(err, errlen, "\"sub\" is empty or has control characters");
	act = json_object_get(claims, "act");
	if (act != NULL && !json_is_object(act))
		return pa_err(err, errlen, "\"act\" is not an object");
	id->subject = dup_or_null(sub, &ok);
	id->issuer = dup_or_null(iss, &ok);
	id->jti = dup_or_null(jti, &ok);
	id->task = dup_or_null(task, &ok);
	id->scope = dup_or_null(scope, &ok);
	id->act = json_incref(act);
	if (!ok)
		return pa_err(err, errlen, "out of memory");
	return 0;
}

/* What key selection found for a token: where it belongs, how to check it. */
struct selection {
	const struct id_issuer *issuer;	     /* OIDC path, or NULL */
	const struct id_trust_domain *dom;   /* SPIFFE path, or NULL */
	const struct id_key *key;
	const char *audience;
	int64_t leeway, max_token_age;
};

/*
 * The key set of a trust domain or issuer (what, name; use names the keys
 * it should publish), or -1 with the reason its
 * tokens are all refused: its key set could not be loaded, its file is
 * older than max_bundle_age at now (docs/bundles.md), or it has no usable
 * key (for a trust domain: it has revoked its keys, Trust Domain and
 * Bundle §4.1.3).
 */
static int usable_keys(const struct id_keyset *keys, const char *load_error,
		       int64_t max_bundle_age, int64_t now, const char *what, const char *name,
		       const char *use, char *err, size_t errlen)
{
	char why[512];

	if (keys == NULL)
		return pa_err(err, errlen, "%s %s cannot be used, so none of its tokens is "
			      "accepted: %s", what, name,
			      load_error != NULL ? load_error : "not loaded");
	if (id_bundle_check_age(keys, max_bundle_age, now, why, sizeof(why)) != 0)
		return pa_err(err, errlen, "%s %s cannot be used, so none of its tokens is "
			      "accepted: %s", what, name, why);
	/* WIT-SVID §6.2: a bundle without wit-svid keys issues no WIT-SVIDs */
	if (strcmp(use, "wit-svid") == 0 && id_keyset_wit_count(keys) == 0)
		return pa_err(err, errlen, "%s %s publishes no wit-svid key, so it issues no "
			      "WIT-SVIDs (or has revoked them all)", what, name);
	if (strcmp(use, "wit-svid") != 0 && id_keyset_count(keys) == 0)
		return pa_err(err, errlen, "%s %s publishes no usable %s key, so every token "
			      "of it is invalid (an empty key set revokes them all)", what, name,
			      use);
	return 0;
}

/* Key selection on the OIDC path: the issuer's own keys and limits. */
static int select_oidc(const struct id_verifier *v, const struct id_issuer *is,
		       const struct id_jws *jws, const char *kid, int64_t now,
		       struct selection *sel, char *err, size_t errlen)
{
	char esc[PA_ESCAPE_MAX];

	if (jws->alg == ID_ALG_EDDSA && !is->allow_eddsa)
		return pa_err(err, errlen, "EdDSA is not enabled for issuer %s", is->url);
	if (usable_keys(is->keys, is->load_error, is->max_bundle_age, now, "issuer", is->url,
			"signature", err, errlen) != 0)
		return -1;
	sel->key = id_keyset_find(is->keys, kid);
	if (sel->key == NULL)
		return pa_err(err, errlen, "unknown kid \"%s\" for issuer %s",
			      pa_escape(kid, strlen(kid), esc, sizeof(esc)), is->url);
	sel->issuer = is;
	sel->audience = is->audience != NULL && is->audience[0] != '\0' ? is->audience : v->audience;
	sel->leeway = is->has_leeway ? is->leeway : v->leeway;
	sel->max_token_age = is->has_max_token_age ? is->max_token_age : v->max_token_age;
	return 0;
}

/* Key selection on the SPIFFE path: the trust domain of the unverified sub. */
static int select_spiffe(const struct id_verifier *v, const struct id_jws *jws,
			 const char *kid, int64_t now, struct selection *sel, char *err,
			 size_t errlen)
{
	const char *sub = json_string_value(json_object_get(jws->claims, "sub"));
	char td[TD_BUF], kerr[256], esc[PA_ESCAPE_MAX];
	const struct id_trust_domain *dom;

	if (sub == NULL)
		return pa_err(err, errlen, "token has no \"sub\" string");
	if (id_spiffe_id_parse(sub, td, sizeof(td), kerr, sizeof(kerr)) != 0)
		return pa_err(err, errlen, "\"sub\" is not a valid SPIFFE ID: %s", kerr);
	dom = find_domain(v, td);
	if (dom == NULL)
		return pa_err(err, errlen, "trust domain %s is not configured",
			      pa_escape(td, strlen(td), esc, sizeof(esc)));
	if (jws->alg == ID_ALG_EDDSA && !jws->wit)
		return pa_err(err, errlen, "EdDSA is not accepted for JWT-SVIDs");
	if (usable_keys(dom->keys, dom->load_error, dom->max_bundle_age, now, "trust domain",
			dom->name, jws->wit ? "wit-svid" : "jwt-svid", err, errlen) != 0)
		return -1;
	/* a WIT-SVID only by a wit-svid key, a JWT-SVID only by a jwt-svid key */
	sel->key = jws->wit ? id_keyset_find_wit(dom->keys, kid) : id_keyset_find(dom->keys, kid);
	if (sel->key == NULL)
		return pa_err(err, errlen, "unknown kid \"%s\" among the %s keys of trust domain %s",
			      pa_escape(kid, strlen(kid), esc, sizeof(esc)),
			      jws->wit ? "wit-svid" : "jwt-svid", dom->name);
	sel->dom = dom;
	sel->audience = v->audience;
	sel->leeway = v->leeway;
	sel->max_token_age = v->max_token_age;
	return 0;
}

/*
 * The certificate thumbprint headers x5t and x5t#S256 (RFC 7515
 * §4.1.7-4.1.8): never allowed in a JWT-SVID (JWT-SVID §2 admits no other
 * header); in an OIDC token a hint that must equal the selected JWK's
 * member when the JWK has one, and is otherwise ignored. Never used to
 * find or build a key.
 */
static int check_thumbprints(const json_t *hdr, const struct selection *sel,
			     char *err, size_t errlen)
{
	static const char *const names[] = { "x5t", "x5t#S256" };
	const char *mine;
	size_t i;

	for (i = 0; i < PA_ARRAY_SIZE(names); i++) {
		const json_t *h = json_object_get(hdr, names[i]);

		if (h == NULL)
			continue;
		if (sel->issuer == NULL)
			return pa_err(err, errlen, "token header parameter \"%s\" is not allowed in "
				      "a JWT-SVID", names[i]);
		if (!json_is_string(h))
			return pa_err(err, errlen, "token header \"%s\" is not a string", names[i]);
		mine = id_key_x5t(sel->key, i == 1);
		if (mine != NULL && strcmp(mine, json_string_value(h)) != 0)
			return pa_err(err, errlen, "token header \"%s\" does not match the one of key "
				      "\"%s\"", names[i], id_key_kid(sel->key));
	}
	return 0;
}

/* Names the verified identity: agent id, trust domain, kid, fingerprint. */
static int name_identity(const struct selection *sel, const struct id_jws *jws,
			 const char *kid, const char *token, size_t len,
			 struct id_identity *id, char *err, size_t errlen)
{
	id->kind = sel->issuer != NULL ? ID_KIND_OIDC : ID_KIND_SPIFFE;
	id->alg = jws->alg;
	id->kid = strdup(kid);
	if (sel->issuer != NULL) {
		if (asprintf(&id->agent_id, "%s#%s", sel->issuer->url, id->subject) < 0)
			id->agent_id = NULL;
	} else {
		id->agent_id = strdup(id->subject);
		id->trust_domain = strdup(sel->dom->name);
	}
	if (id->kid == NULL || id->agent_id == NULL ||
	    (sel->issuer == NULL && id->trust_domain == NULL))
		return pa_err(err, errlen, "out of memory");
	if (fingerprint(token, len, id->fingerprint) != 0)
		return pa_err(err, errlen, "cannot compute the token fingerprint");
	id->claims = json_incref(jws->claims);
	return 0;
}

/* A WIT-SVID's cnf binds a usable key; the identity is marked to need its proof. */
static int check_wit(const json_t *claims, struct id_identity *id, char *err, size_t errlen)
{
	char why[256];
	struct id_key *key = id_wit_cnf_key(claims, why, sizeof(why));

	if (key == NULL)
		return pa_err(err, errlen, "WIT-SVID refused: %s", why);
	id_key_free(key);
	id->wit = true;
	return 0;
}

/* Parses, verifies and checks a token at time now (see identity.h). */
int id_verify_token(const struct id_verifier *v, const char *token,
		    size_t len, int64_t now, struct id_identity **out,
		    char *err, size_t errlen)
{
	struct selection sel = { 0 };
	struct id_identity *id = NULL;
	const struct id_issuer *issuer;
	struct id_jws jws;
	const char *kid;
	char kerr[256];
	int rc = -1;

	*out = NULL;
	if (v == NULL)
		return pa_err(err, errlen, "no verifier");
	if (id_jws_parse(token, len, true, &jws, err, errlen) != 0)
		return -1;
	kid = json_string_value(json_object_get(jws.header, "kid"));
	if (kid == NULL) {
		pa_err(err, errlen, "token header has no \"kid\"");
		goto out;
	}
	/*
	 * key selection from the unverified iss/sub; nothing else is trusted
	 * yet. A WIT-SVID is a SPIFFE credential: its sub picks the trust
	 * domain, whatever its iss says.
	 */
	issuer = jws.wit ? NULL : find_issuer(v, json_string_value(json_object_get(jws.claims,
										 "iss")));
	if ((issuer != NULL ? select_oidc(v, issuer, &jws, kid, now, &sel, err, errlen) :
			      select_spiffe(v, &jws, kid, now, &sel, err, errlen)) != 0 ||
	    check_thumbprints(jws.header, &sel, err, errlen) != 0)
		goto out;
	if (id_jws_verify(&jws, sel.key, kerr, sizeof(kerr)) != 0) {
		pa_err(err, errlen, "signature verification failed: %s", kerr);
		goto out;
	}
	/* from here on the claims are authentic */
	id = calloc(1, sizeof(*id));
	if (id == NULL) {
		pa_err(err, errlen, "out of memory");
		goto out;
	}
	if (check_times(sel.leeway > 0 ? sel.leeway : 0, sel.max_token_age, jws.claims, now,
			id, err, errlen) != 0 ||
	    check_claims(jws.claims, sel.audience, jws.wit, id, err, errlen) != 0 ||
	    name_identity(&sel, &jws, kid, token, len, id, err, errlen) != 0 ||
	    (jws.wit && check_wit(jws.claims, id, err, errlen) != 0))
		goto out;
	*out = id;
	id = NULL;
	rc = 0;
out:
	id_identity_free(id);
	id_jws_clear(&jws);
	return rc;
}

/* Adds key: string s to obj when s is not NULL. Returns 0 or -1. */
static int set_string(json_t *obj, const char *key, const char *s)
{
	if (s == NULL)
		return 0;
	return json_object_set_new(obj, key, json_string(s));
}

/* Adds key: n to obj when n is not 0. Returns 0 or -1. */
static int set_time(json_t *obj, const char *key, int64_t n)
{
	if (n == 0)
		return 0;
	return json_object_set_new(obj, key, json_integer((json_int_t)n));
}

/* The identity as a new JSON object for output (see identity.h). */
json_t *id_identity_to_json(const struct id_identity *id)
{
	json_t *obj;
	int rc = 0;

	if (id == NULL)
		return NULL;
	obj = json_object();
	if (obj == NULL)
		return NULL;
	rc |= set_string(obj, "kind", id->kind == ID_KIND_OIDC ? "oidc" : "spiffe");
	if (id->wit)
		rc |= json_object_set_new(obj, "wit", json_true());
	rc |= set_string(obj, "agent_id", id->agent_id);
	rc |= set_string(obj, "issuer", id->issuer);
	rc |= set_string(obj, "subject", id->subject);
	rc |= set_string(obj, "trust_domain", id->trust_domain);
	rc |= set_string(obj, "jti", id->jti);
	rc |= set_string(obj, "task", id->task);
	rc |= set_string(obj, "scope", id->scope);
	rc |= set_string(obj, "kid", id->kid);
	rc |= set_string(obj, "alg", id_alg_name(id->alg));
	rc |= set_time(obj, "exp", id->exp);
	rc |= set_time(obj, "iat", id->iat);
	rc |= set_time(obj, "nbf", id->nbf);
	if (id->act != NULL)
		rc |= json_object_set_new(obj, "act", json_deep_copy(id->act));
	rc |= set_string(obj, "fingerprint", id->fingerprint);
	if (id->claims != NULL)
		rc |= json_object_set_new(obj, "claims", json_deep_copy(id->claims));
	if (rc != 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}
