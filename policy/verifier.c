/*
 * verifier.c - what the identity engine needs from the configuration:
 * audience, leeway, token age, trust domains and OIDC issuers.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "policy.h"

/* Frees what pol_config_to_verifier put into v (no key sets yet). */
static void verifier_undo(struct id_verifier *v)
{
	size_t i;

	free(v->audience);
	for (i = 0; v->domains != NULL && i < v->n_domains; i++) {
		free(v->domains[i].name);
		free(v->domains[i].bundle_path);
		free(v->domains[i].x509_authorities_path);
	}
	free(v->domains);
	for (i = 0; v->issuers != NULL && i < v->n_issuers; i++) {
		free(v->issuers[i].url);
		free(v->issuers[i].jwks_path);
		free(v->issuers[i].audience);
	}
	free(v->issuers);
	memset(v, 0, sizeof(*v));
}

bool pol_single_use(const struct pol_config *cfg, const char *issuer)
{
	size_t i;

	for (i = 0; issuer != NULL && i < cfg->n_issuers; i++)
		if (strcmp(cfg->issuers[i].url, issuer) == 0 && cfg->issuers[i].has_single_use)
			return cfg->issuers[i].single_use;
	return cfg->global.single_use;
}

bool pol_trust_domain_fetched(const struct pol_trust_domain *d)
{
	return d->bundle_endpoint != NULL || d->bundle_source_dir != NULL ||
	       d->bundle_source_file != NULL;
}

/*
 * The verifier's max_bundle_age (docs/bundles.md): the configured one;
 * else, for a key set `pam-agent bundle fetch` keeps fresh, the default
 * (ID_BUNDLE_AGE_AUTO); else none: nothing is known to refresh the file.
 */
int64_t pol_bundle_age(bool has, int64_t configured, bool fetched)
{
	if (has)
		return configured;
	return fetched ? ID_BUNDLE_AGE_AUTO : 0;
}

int pol_config_to_verifier(const struct pol_config *cfg, struct id_verifier *v,
			   char *err, size_t errlen)
{
	size_t i;

	memset(v, 0, sizeof(*v));
	v->leeway = cfg->global.clock_skew;
	v->max_token_age = cfg->global.max_token_age;
	v->audience = strdup(cfg->global.audience);
	if (v->audience == NULL)
		goto nomem;
	if (cfg->n_domains > 0) {
		v->domains = calloc(cfg->n_domains, sizeof(*v->domains));
		if (v->domains == NULL)
			goto nomem;
	}
	for (i = 0; i < cfg->n_domains; i++) {
		struct id_trust_domain *t = &v->domains[v->n_domains++];

		t->name = strdup(cfg->domains[i].name);
		t->bundle_path = strdup(cfg->domains[i].bundle);
		t->x509_authorities_path = cfg->domains[i].x509_authorities != NULL ?
			strdup(cfg->domains[i].x509_authorities) : NULL;
		t->max_bundle_age = pol_bundle_age(cfg->domains[i].has_max_bundle_age,
						   cfg->domains[i].max_bundle_age,
						   pol_trust_domain_fetched(&cfg->domains[i]));
		if (t->name == NULL || t->bundle_path == NULL ||
		    (cfg->domains[i].x509_authorities != NULL && t->x509_authorities_path == NULL))
			goto nomem;
	}
	if (cfg->n_issuers > 0) {
		v->issuers = calloc(cfg->n_issuers, sizeof(*v->issuers));
		if (v->issuers == NULL)
			goto nomem;
	}
	for (i = 0; i < cfg->n_issuers; i++) {
		const struct pol_issuer *src = &cfg->issuers[i];
		struct id_issuer *is = &v->issuers[v->n_issuers++];

		is->url = strdup(src->url);
		is->jwks_path = strdup(src->jwks);
		is->audience = src->audience ? strdup(src->audience) : NULL;
		is->allow_eddsa = src->allow_eddsa;
		is->has_leeway = src->has_clock_skew;
		is->leeway = src->clock_skew;
		is->has_max_token_age = src->has_max_token_age;
		is->max_token_age = src->max_token_age;
		is->max_bundle_age = pol_bundle_age(src->has_max_bundle_age, src->max_bundle_age,
						    src->jwks_discovery);
		if (is->url == NULL || is->jwks_path == NULL || (src->audience && !is->audience))
			goto nomem;
	}
	return 0;
nomem:
	verifier_undo(v);
	return pa_err(err, errlen, "out of memory");
}
