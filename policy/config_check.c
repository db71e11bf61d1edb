/*
 * config_check.c - the checks across sections and files, once every file
 * is parsed: required keys, the keys of each grant source, references of
 * agents to services and grants, run_as, a [global] section.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "config_int.h"

/* Required keys of a grant per source (on top of class, source, ttl). */
static const struct {
	enum pol_source source;
	const char *key;
} grant_required[] = {
	{ POL_SOURCE_MINT, "audience" },
	{ POL_SOURCE_EXEC, "command" },
	{ POL_SOURCE_FILE, "path" },
};

/* ---- checks across sections and files ---------------------------------------- */

/* Line of key name in rec, or 0 when the section does not set it. */
static unsigned key_line(const struct sect_rec *rec, const char *name)
{
	size_t i;

	for (i = 0; i < pol_cfg_kinds[rec->kind].n_keys; i++)
		if (strcmp(pol_cfg_kinds[rec->kind].keys[i].name, name) == 0 && (rec->seen & (1u << i)))
			return rec->key_line[i];
	return 0;
}

/*
 * The run_as words of agent a: each SERVICE:USER, the service one of the
 * rule's own services (a run-as right on a service the agent may not use
 * at all would never apply, and is most likely a typo), the user a name.
 */
static void check_run_as(struct parse_ctx *c, const struct sect_rec *rec,
			 const struct pol_agent *a)
{
	const char *f = rec->where.file;
	unsigned ln = key_line(rec, "run_as");
	size_t i;

	for (i = 0; i < a->run_as.n; i++) {
		const char *w = a->run_as.v[i];
		const char *colon = strchr(w, ':');
		char *service;

		if (colon == NULL || colon == w || colon[1] == '\0') {
			PERR(c, "%s:%u: [%s]: run_as \"%s\" is not SERVICE:USER (like sudo:root)", f,
			     ln, rec->label, w);
			continue;
		}
		if (strchr(colon + 1, ':') != NULL || strchr(colon + 1, '*') != NULL) {
			PERR(c, "%s:%u: [%s]: run_as \"%s\": the user is one user name (no ':', "
			     "no '*')", f, ln, rec->label, w);
			continue;
		}
		service = strndup(w, (size_t)(colon - w));
		if (service == NULL) {
			PERR(c, "%s:%u: out of memory", f, ln);
			return;
		}
		if (!pol_list_has(&a->services, service))
			PERR(c, "%s:%u: [%s]: run_as \"%s\" names service '%s', which is not in "
			     "its services", f, ln, rec->label, w, service);
		free(service);
	}
}

/* The task.* keys of agent a (docs/tasks.md): the mode and forbidden transitions. */
static void check_task(struct parse_ctx *c, const struct sect_rec *rec,
		       const struct pol_agent *a)
{
	size_t i;

	if (a->task_mode != NULL && strcmp(a->task_mode, "flag") != 0 &&
	    strcmp(a->task_mode, "enforce") != 0)
		PERR(c, "%s:%u: [%s]: task.mode is flag or enforce, not \"%s\"", rec->where.file,
		     key_line(rec, "task.mode"), rec->label, a->task_mode);
	for (i = 0; i < a->task_forbid.n; i++)
		if (strcmp(a->task_forbid.v[i], "escalate_after_read") != 0 &&
		    strcmp(a->task_forbid.v[i], "above_first_class") != 0)
			PERR(c, "%s:%u: [%s]: task.forbid \"%s\" is not escalate_after_read or "
			     "above_first_class", rec->where.file, key_line(rec, "task.forbid"),
			     rec->label, a->task_forbid.v[i]);
}

/*
 * Where `pam-agent bundle fetch` gets a trust domain's bundle or an
 * issuer's JWKS (docs/bundles.md): at most one source, an https:// URL,
 * a CA file only with the source it is for.
 */
static void check_fetch(struct parse_ctx *c, const struct sect_rec *rec)
{
	const char *f = rec->where.file;

	if (rec->kind == SEC_TRUST_DOMAIN) {
		const struct pol_trust_domain *d = &c->cfg->domains[rec->idx];
		const char *url = d->bundle_endpoint;

		if ((url != NULL) + (d->bundle_source_dir != NULL) +
		    (d->bundle_source_file != NULL) > 1)
			PERR(c, "%s:%u: [%s]: bundle_endpoint, bundle_source_dir and "
			     "bundle_source_file are alternatives: give one", f, rec->where.line,
			     rec->label);
		if (url != NULL && (strncmp(url, "https://", 8) != 0 || url[8] == '\0' ||
				    strpbrk(url, " \t#") != NULL))
			PERR(c, "%s:%u: [%s]: bundle_endpoint is an https:// URL without blanks or "
			     "'#' (the https_web profile; there is no plain http)", f,
			     key_line(rec, "bundle_endpoint"), rec->label);
		if (d->bundle_endpoint_ca != NULL && url == NULL)
			PERR(c, "%s:%u: [%s]: bundle_endpoint_ca without bundle_endpoint", f,
			     key_line(rec, "bundle_endpoint_ca"), rec->label);
	} else if (rec->kind == SEC_ISSUER) {
		const struct pol_issuer *is = &c->cfg->issuers[rec->idx];

		if (is->jwks_ca != NULL && !is->jwks_discovery)
			PERR(c, "%s:%u: [%s]: jwks_ca without jwks_discovery = yes", f,
			     key_line(rec, "jwks_ca"), rec->label);
	}
}

/* Required keys, per-source keys of grants, and references of agents. */
static void check_sections(struct parse_ctx *c)
{
	struct pol_config *cfg = c->cfg;
	size_t r, i;

	for (r = 0; r < c->n_recs; r++) {
		const struct sect_rec *rec = &c->recs[r];
		const struct kind_def *k = &pol_cfg_kinds[rec->kind];
		const char *f = rec->where.file;

		for (i = 0; i < k->n_keys; i++)
			if ((k->keys[i].flags & K_REQUIRED) && !(rec->seen & (1u << i)))
				PERR(c, "%s:%u: [%s] has no '%s' (required)", f, rec->where.line,
				     rec->label, k->keys[i].name);
		check_fetch(c, rec);
		if (rec->kind == SEC_GRANT) {
			const struct pol_grant *g = &cfg->grants[rec->idx];
			unsigned bit = g->source == POL_SOURCE_MINT ? K_MINT
				       : g->source == POL_SOURCE_EXEC ? K_EXEC
				       : g->source == POL_SOURCE_FILE ? K_FILE : 0;

			if (bit == 0)
				continue; /* no valid source: already reported */
			for (i = 0; i < k->n_keys; i++)
				if ((rec->seen & (1u << i)) && !(k->keys[i].flags & bit))
					PERR(c, "%s:%u: '%s' does not apply to source = %s",
					     f, rec->key_line[i], k->keys[i].name,
					     pol_source_name(g->source));
			for (i = 0; i < PA_ARRAY_SIZE(grant_required); i++)
				if (grant_required[i].source == g->source &&
				    key_line(rec, grant_required[i].key) == 0)
					PERR(c, "%s:%u: [%s] with source = %s has no '%s' (required)",
					     f, rec->where.line, rec->label,
					     pol_source_name(g->source), grant_required[i].key);
		}
		if (rec->kind == SEC_AGENT) {
			const struct pol_agent *a = &cfg->agents[rec->idx];

			for (i = 0; i < a->services.n; i++)
				if (pol_config_find_service(cfg, a->services.v[i]) == NULL)
					PERR(c, "%s:%u: [%s] lists service '%s', which has no "
					     "[service %s] section", f, key_line(rec, "services"),
					     rec->label, a->services.v[i], a->services.v[i]);
			check_run_as(c, rec, a);
			check_task(c, rec, a);
			for (i = 0; i < a->grants.n; i++)
				if (pol_config_find_grant(cfg, a->grants.v[i]) == NULL)
					PERR(c, "%s:%u: [%s] references grant '%s', which is not "
					     "defined", f, key_line(rec, "grants"), rec->label,
					     a->grants.v[i]);
		}
	}
}

/*
 * Agent accounts (docs/nss.md): uid_range, the group, and each rule's
 * account and uid. Collisions are not errors here (they depend on the
 * host, and only keep the accounts concerned from being served: pam-agent
 * check reports them); a value that can never be right is.
 */
static void check_accounts(struct parse_ctx *c)
{
	struct pol_global *g = &c->cfg->global;
	const char *f = g->where.file != NULL ? g->where.file : "[global]";
	size_t r;

	if (g->uid_range != NULL && pol_uid_range_parse(g->uid_range, &g->uid_min, &g->uid_max))
		PERR(c, "%s:%u: uid_range \"%s\" is not LOW-HIGH (uids, 0 < LOW < HIGH < 2^31)",
		     f, g->where.line, g->uid_range);
	if (!pol_account_name_ok(g->agent_group))
		PERR(c, "%s:%u: agent_group \"%s\" is not a group name ([a-z_][a-z0-9_-]*, at "
		     "most %d bytes)", f, g->where.line, g->agent_group, POL_ACCOUNT_NAME_MAX);
	for (r = 0; r < c->n_recs; r++) {
		const struct sect_rec *rec = &c->recs[r];
		const struct pol_agent *a;

		if (rec->kind != SEC_AGENT)
			continue;
		a = &c->cfg->agents[rec->idx];
		f = rec->where.file;
		if ((a->account != NULL || a->has_uid) && g->uid_range == NULL)
			PERR(c, "%s:%u: [%s]: account and uid need uid_range in [global]", f,
			     rec->where.line, rec->label);
		if (a->account != NULL && !pol_account_name_ok(a->account))
			PERR(c, "%s:%u: [%s]: account \"%s\" is not an account name "
			     "([a-z_][a-z0-9_-]*, at most %d bytes)", f, key_line(rec, "account"),
			     rec->label, a->account, POL_ACCOUNT_NAME_MAX);
		if (a->has_uid && g->uid_range != NULL && g->uid_max > g->uid_min &&
		    (a->uid <= g->uid_min || a->uid > g->uid_max))
			PERR(c, "%s:%u: [%s]: uid %lu is outside uid_range %lu-%lu (the first uid of "
			     "the range is the agents' group's)", f, key_line(rec, "uid"), rec->label,
			     (unsigned long)a->uid, (unsigned long)g->uid_min,
			     (unsigned long)g->uid_max);
		if (a->has_uid && a->prefix && a->account == NULL)
			PERR(c, "%s:%u: [%s]: a prefix rule has an account only when it names one",
			     f, key_line(rec, "uid"), rec->label);
	}
}

/* Finishes a parse: cross-file checks; returns the config or NULL. */
struct pol_config *pol_cfg_finish(struct parse_ctx *c, const char *main_name)
{
	size_t before;

	if (!c->has_global && !c->unreadable && !c->global_seen)
		PERR(c, "%s: no [global] section (it must set audience)", main_name);
	before = c->errors->n;
	if (pol_index_build(c->cfg, c->errors) != 0) {
		PERR(c, "%s: out of memory", main_name);
		return NULL;
	}
	/* references are looked up only in an index without duplicates */
	if (c->errors->n == before)
		check_sections(c);
	check_accounts(c);
	if (c->errors->n > 0 || c->errors->dropped > 0)
		return NULL;
	return c->cfg;
}
