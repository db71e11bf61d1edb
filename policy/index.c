/*
 * index.c - hash tables over a loaded configuration, so that a decision
 * costs a handful of lookups however many rules there are: exact ids and
 * names are one lookup each, and prefix rules are found by looking up each
 * '/' or '#' boundary of the id, longest first.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "policy.h"

struct pol_slot {
	const char *key; /* NULL: empty; points into the configuration */
	size_t len;
	uint64_t hash;
	const void *val;
};

struct pol_map {
	struct pol_slot *slots;
	size_t cap; /* a power of two, or 0 */
};

struct pol_index {
	struct pol_map agent_exact, agent_prefix;
	struct pol_map deny_exact, deny_prefix;
	struct pol_map services, grants;
};

/* FNV-1a over len bytes of key. */
static uint64_t hash_bytes(const char *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Sizes m for n entries (load factor at most 1/2). Returns 0 or -1. */
static int map_init(struct pol_map *m, size_t n)
{
	size_t cap = 8;

	while (cap < n * 2) {
		if (cap > SIZE_MAX / 4)
			return -1;
		cap *= 2;
	}
	m->slots = calloc(cap, sizeof(*m->slots));
	if (m->slots == NULL)
		return -1;
	m->cap = cap;
	return 0;
}

/* Adds key -> val and returns NULL; a key already present keeps its first
 * value, which is returned. */
static const void *map_put(struct pol_map *m, const char *key, size_t len,
			   const void *val)
{
	uint64_t h = hash_bytes(key, len);
	size_t i = (size_t)h & (m->cap - 1);

	while (m->slots[i].key != NULL) {
		if (m->slots[i].hash == h && m->slots[i].len == len &&
		    memcmp(m->slots[i].key, key, len) == 0)
			return m->slots[i].val;
		i = (i + 1) & (m->cap - 1);
	}
	m->slots[i].key = key;
	m->slots[i].len = len;
	m->slots[i].hash = h;
	m->slots[i].val = val;
	return NULL;
}

/* Reports that the section at here repeats the one at first. */
static void report_dup(struct pol_errors *errors, const char *kind, const char *name,
		       const struct pol_where *here, const struct pol_where *first)
{
	if (errors == NULL)
		return;
	pol_errors_add(errors, "%s:%u: duplicate section [%s %s] (first at %s:%u)",
		       here->file, here->line, kind, name, first->file, first->line);
}

/* The value stored under the first len bytes of key, or NULL. */
static const void *map_get(const struct pol_map *m, const char *key, size_t len)
{
	uint64_t h;
	size_t i;

	if (m->cap == 0)
		return NULL;
	h = hash_bytes(key, len);
	i = (size_t)h & (m->cap - 1);
	while (m->slots[i].key != NULL) {
		if (m->slots[i].hash == h && m->slots[i].len == len &&
		    memcmp(m->slots[i].key, key, len) == 0)
			return m->slots[i].val;
		i = (i + 1) & (m->cap - 1);
	}
	return NULL;
}

void pol_index_free(struct pol_index *index)
{
	if (index == NULL)
		return;
	free(index->agent_exact.slots);
	free(index->agent_prefix.slots);
	free(index->deny_exact.slots);
	free(index->deny_prefix.slots);
	free(index->services.slots);
	free(index->grants.slots);
	free(index);
}

int pol_index_build(struct pol_config *cfg, struct pol_errors *errors)
{
	struct pol_index *ix = NULL;
	const struct pol_agent *a0;
	const struct pol_deny *d0;
	const struct pol_service *s0;
	const struct pol_grant *g0;
	size_t i;

	ix = calloc(1, sizeof(*ix));
	if (ix == NULL)
		goto fail;
	if (map_init(&ix->agent_exact, cfg->n_agents) != 0 ||
	    map_init(&ix->agent_prefix, cfg->n_agents) != 0 ||
	    map_init(&ix->deny_exact, cfg->n_denies) != 0 ||
	    map_init(&ix->deny_prefix, cfg->n_denies) != 0 ||
	    map_init(&ix->services, cfg->n_services) != 0 ||
	    map_init(&ix->grants, cfg->n_grants) != 0)
		goto fail;
	/* a prefix rule is stored under its text without the final '*' */
	for (i = 0; i < cfg->n_agents; i++) {
		const struct pol_agent *a = &cfg->agents[i];
		size_t len = strlen(a->pattern);

		if (a->prefix)
			a0 = map_put(&ix->agent_prefix, a->pattern, len - 1, a);
		else
			a0 = map_put(&ix->agent_exact, a->pattern, len, a);
		if (a0 != NULL)
			report_dup(errors, "agent", a->pattern, &a->where, &a0->where);
	}
	for (i = 0; i < cfg->n_denies; i++) {
		const struct pol_deny *d = &cfg->denies[i];
		size_t len = strlen(d->pattern);

		if (d->prefix)
			d0 = map_put(&ix->deny_prefix, d->pattern, len - 1, d);
		else
			d0 = map_put(&ix->deny_exact, d->pattern, len, d);
		if (d0 != NULL)
			report_dup(errors, "deny", d->pattern, &d->where, &d0->where);
	}
	for (i = 0; i < cfg->n_services; i++) {
		const struct pol_service *s = &cfg->services[i];

		s0 = map_put(&ix->services, s->name, strlen(s->name), s);
		if (s0 != NULL)
			report_dup(errors, "service", s->name, &s->where, &s0->where);
	}
	for (i = 0; i < cfg->n_grants; i++) {
		const struct pol_grant *g = &cfg->grants[i];

		g0 = map_put(&ix->grants, g->name, strlen(g->name), g);
		if (g0 != NULL)
			report_dup(errors, "grant", g->name, &g->where, &g0->where);
	}
	pol_index_free(cfg->index);
	cfg->index = ix;
	return 0;
fail:
	pol_index_free(ix);
	return -1;
}

/*
 * The value of the longest prefix rule in m matching id: each boundary
 * ('/' or '#') after the "scheme://" part, longest first, with at least one
 * byte of id after it.
 */
static const void *match_prefix(const struct pol_map *m, const char *id, size_t len)
{
	const char *scheme = strstr(id, "://");
	size_t first = scheme != NULL ? (size_t)(scheme - id) + 3 : 0;
	size_t i;

	if (m->cap == 0 || len < 2)
		return NULL;
	for (i = len - 1; i-- > first;) {
		if (id[i] == '/' || id[i] == '#') {
			const void *v = map_get(m, id, i + 1);

			if (v != NULL)
				return v;
		}
	}
	return NULL;
}

const struct pol_agent *pol_config_match_agent(const struct pol_config *cfg,
					       const char *id)
{
	const struct pol_agent *a;
	size_t len;

	if (cfg == NULL || cfg->index == NULL || id == NULL)
		return NULL;
	len = strlen(id);
	a = map_get(&cfg->index->agent_exact, id, len);
	if (a != NULL)
		return a;
	return match_prefix(&cfg->index->agent_prefix, id, len);
}

const struct pol_deny *pol_config_match_deny(const struct pol_config *cfg,
					     const char *id)
{
	const struct pol_deny *d;
	size_t len;

	if (cfg == NULL || cfg->index == NULL || id == NULL)
		return NULL;
	len = strlen(id);
	d = map_get(&cfg->index->deny_exact, id, len);
	if (d != NULL)
		return d;
	return match_prefix(&cfg->index->deny_prefix, id, len);
}

const struct pol_service *pol_config_find_service(const struct pol_config *cfg,
						  const char *name)
{
	if (cfg == NULL || cfg->index == NULL || name == NULL)
		return NULL;
	return map_get(&cfg->index->services, name, strlen(name));
}

const struct pol_grant *pol_config_find_grant(const struct pol_config *cfg,
					      const char *name)
{
	if (cfg == NULL || cfg->index == NULL || name == NULL)
		return NULL;
	return map_get(&cfg->index->grants, name, strlen(name));
}
