/*
 * config_schema.c - what pam_agent.conf may hold: the sections, their
 * names, their keys (with types and bounds) and where each lives in struct
 * pol_config; and the opening of a section, which every kind does through
 * that one table.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"

#define DAY (24 * 3600)
#define G(f) offsetof(struct pol_global, f)
static const struct key_def global_keys[] = {
	{ "audience", VT_STR, G(audience), K_REQUIRED, 0, 0, -1 },
	{ "clock_skew", VT_DUR, G(clock_skew), 0, 0, 3600, -1 },
	{ "max_token_age", VT_DUR, G(max_token_age), 0, 1, 7 * DAY, -1 },
	{ "single_use", VT_BOOL, G(single_use), 0, 0, 0, -1 },
	{ "audit_log", VT_PATH, G(audit_log), 0, 0, 0, -1 },
	{ "replay_dir", VT_PATH, G(replay_dir), 0, 0, 0, -1 },
	{ "replay_max_entries", VT_COUNT, G(replay_max_entries), 0, 1, 10000000, -1 },
	{ "replay_agent_quota", VT_COUNT, G(replay_agent_quota), 0, 1, 100, -1 },
	{ "escalate_max_age", VT_DUR, G(escalate_max_age), 0, 1, DAY, -1 },
	{ "max_delegation_depth", VT_COUNT, G(max_delegation_depth), 0, 0,
	  POL_DELEGATION_MAX, -1 },
	{ "broker_key", VT_PATH, G(broker_key), 0, 0, 0, -1 },
	{ "broker_issuer", VT_STR, G(broker_issuer), 0, 0, 0, -1 },
	{ "broker_jwks", VT_PATH, G(broker_jwks), 0, 0, 0, -1 },
	{ "helper", VT_PATH, G(helper), 0, 0, 0, -1 },
	{ "helper_socket", VT_PATH, G(helper_socket), 0, 0, 0, -1 },
	{ "state_dir", VT_PATH, G(state_dir), 0, 0, 0, -1 },
	{ "helper_timeout", VT_DUR, G(helper_timeout), 0, 1, 600, -1 },
	{ "uid_range", VT_STR, G(uid_range), 0, 0, 0, -1 },
	{ "agent_group", VT_STR, G(agent_group), 0, 0, 0, -1 },
	{ "agent_gid", VT_UID, G(agent_gid), 0, 0, 0, G(has_agent_gid) },
	{ "agent_home", VT_PATH, G(agent_home), 0, 0, 0, -1 },
	{ "agent_shell", VT_PATH, G(agent_shell), 0, 0, 0, -1 },
	{ "task_ledger_max_entries", VT_COUNT, G(task_ledger_max_entries), 0, 1, 1000000, -1 },
	{ "task_expire", VT_DUR, G(task_expire), 0, 1, 365 * DAY, -1 },
};
#undef G

#define T(f) offsetof(struct pol_trust_domain, f)
static const struct key_def trust_domain_keys[] = {
	{ "bundle", VT_PATH, T(bundle), K_REQUIRED, 0, 0, -1 },
	{ "x509_authorities", VT_PATH, T(x509_authorities), 0, 0, 0, -1 },
	{ "bundle_endpoint", VT_STR, T(bundle_endpoint), 0, 0, 0, -1 },
	{ "bundle_endpoint_ca", VT_PATH, T(bundle_endpoint_ca), 0, 0, 0, -1 },
	{ "bundle_source_dir", VT_PATH, T(bundle_source_dir), 0, 0, 0, -1 },
	{ "bundle_source_file", VT_PATH, T(bundle_source_file), 0, 0, 0, -1 },
	{ "max_bundle_age", VT_DUR, T(max_bundle_age), 0, 60, 365 * DAY, T(has_max_bundle_age) },
	{ "require_pop", VT_BOOL, T(require_pop), 0, 0, 0, -1 },
};
#undef T

#define I(f) offsetof(struct pol_issuer, f)
static const struct key_def issuer_keys[] = {
	{ "jwks", VT_PATH, I(jwks), K_REQUIRED, 0, 0, -1 },
	{ "audience", VT_STR, I(audience), 0, 0, 0, -1 },
	{ "allow_eddsa", VT_BOOL, I(allow_eddsa), 0, 0, 0, -1 },
	{ "require_pop", VT_BOOL, I(require_pop), 0, 0, 0, -1 },
	{ "clock_skew", VT_DUR, I(clock_skew), 0, 0, 3600, I(has_clock_skew) },
	{ "max_token_age", VT_DUR, I(max_token_age), 0, 1, 7 * DAY, I(has_max_token_age) },
	{ "single_use", VT_BOOL, I(single_use), 0, 0, 0, I(has_single_use) },
	{ "jwks_discovery", VT_BOOL, I(jwks_discovery), 0, 0, 0, -1 },
	{ "jwks_ca", VT_PATH, I(jwks_ca), 0, 0, 0, -1 },
	{ "max_bundle_age", VT_DUR, I(max_bundle_age), 0, 60, 365 * DAY, I(has_max_bundle_age) },
};
#undef I

static const struct key_def service_keys[] = {
	{ "class", VT_CLASS, offsetof(struct pol_service, cls), K_REQUIRED, 0, 0, -1 },
};

#define A(f) offsetof(struct pol_agent, f)
static const struct key_def agent_keys[] = {
	{ "users", VT_LIST, A(users), K_REQUIRED, 0, 0, -1 },
	{ "services", VT_LIST, A(services), K_REQUIRED, 0, 0, -1 },
	{ "rhosts", VT_LIST, A(rhosts), 0, 0, 0, A(has_rhosts) },
	{ "max_class", VT_CLASS, A(max_class), 0, 0, 0, -1 },
	{ "max_session", VT_DUR, A(max_session), 0, 1, 7 * DAY, -1 },
	{ "require_task", VT_BOOL, A(require_task), 0, 0, 0, -1 },
	{ "require_pop", VT_BOOL, A(require_pop), 0, 0, 0, -1 },
	{ "hours", VT_HOURS, 0, 0, 0, 0, -1 },
	{ "grants", VT_LIST, A(grants), 0, 0, 0, -1 },
	{ "run_as", VT_LIST, A(run_as), 0, 0, 0, -1 },
	{ "runtime.unit", VT_STR, A(runtime_unit), 0, 0, 0, -1 },
	{ "runtime.exe", VT_PATH, A(runtime_exe), 0, 0, 0, -1 },
	{ "runtime.exe_sha256", VT_SHA256S, A(runtime_exe_sha256), 0, 0, 0, -1 },
	{ "runtime.parent_exe_sha256", VT_SHA256S, A(runtime_parent_sha256), 0, 0, 0, -1 },
	{ "runtime.allow_deleted_exe", VT_BOOL, A(runtime_allow_deleted), 0, 0, 0, -1 },
	{ "runtime.uid", VT_UID, A(runtime_uid), 0, 0, 0, A(has_runtime_uid) },
	{ "account", VT_STR, A(account), 0, 0, 0, -1 },
	{ "uid", VT_UID, A(uid), 0, 0, 0, A(has_uid) },
	{ "task.max_sessions", VT_COUNT, A(task_max_sessions), 0, 0, 1000000000,
	  A(has_task_max_sessions) },
	{ "task.max_write", VT_COUNT, A(task_max_write), 0, 0, 1000000000, A(has_task_max_write) },
	{ "task.max_escalate", VT_COUNT, A(task_max_escalate), 0, 0, 1000000000,
	  A(has_task_max_escalate) },
	{ "task.max_concurrent", VT_COUNT, A(task_max_concurrent), 0, 0, 1000000000,
	  A(has_task_max_concurrent) },
	{ "task.window", VT_DUR, A(task_window), 0, 1, 365 * DAY, A(has_task_window) },
	{ "task.forbid", VT_LIST, A(task_forbid), 0, 0, 0, -1 },
	{ "task.mode", VT_STR, A(task_mode), 0, 0, 0, -1 },
};
#undef A

static const struct key_def deny_keys[] = {
	{ "reason", VT_TEXT, offsetof(struct pol_deny, reason), K_REQUIRED, 0, 0, -1 },
};

#define GR(f) offsetof(struct pol_grant, f)
static const struct key_def grant_keys[] = {
	{ "class", VT_CLASS, GR(cls), K_REQUIRED | K_SOURCES, 0, 0, -1 },
	{ "source", VT_SOURCE, GR(source), K_REQUIRED | K_SOURCES, 0, 0, -1 },
	{ "ttl", VT_DUR, GR(ttl), K_REQUIRED | K_SOURCES, 1, 7 * DAY, -1 },
	{ "audience", VT_STR, GR(audience), K_MINT, 0, 0, -1 },
	{ "scope", VT_TEXT, GR(scope), K_MINT, 0, 0, -1 },
	{ "command", VT_COMMAND, GR(command), K_EXEC, 0, 0, -1 },
	{ "revoke", VT_COMMAND, GR(revoke), K_EXEC, 0, 0, -1 },
	{ "path", VT_PATH, GR(path), K_FILE, 0, 0, -1 },
};
#undef GR

/* ---- section names -------------------------------------------------------------- */

static const char *check_trust_domain(const char *name)
{
	return pol_cfg_chars_ok(name, ".-_") && strlen(name) <= 255 &&
			       !strpbrk(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
		       ? NULL : "a trust domain name allows only [a-z0-9.-_]";
}

static const char *check_issuer(const char *name)
{
	return strncmp(name, "https://", 8) == 0 && name[8] != '\0' && strchr(name, '#') == NULL
		       ? NULL : "an issuer is an https:// URL without '#'";
}

/*
 * Linux-PAM lower-cases the service name in pam_start and
 * pam_set_item(PAM_SERVICE): a rule with an upper-case letter could never
 * match a request.
 */
static const char *check_service(const char *name)
{
	if (!pol_cfg_chars_ok(name, "._+-"))
		return "a service name allows only [a-z0-9._+-]";
	if (strpbrk(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != NULL)
		return "a service name has no upper-case letters: Linux-PAM lower-cases the "
		       "service name, so this section could never match";
	return NULL;
}

static const char *check_grant(const char *name)
{
	return pol_cfg_chars_ok(name, "._-") && strlen(name) <= 64
		       ? NULL : "a grant name allows only [A-Za-z0-9._-], at most 64 bytes";
}

/*
 * Validates an [agent]/[deny] pattern: a SPIFFE ID ("spiffe://td/path"),
 * or an OIDC identity "https://issuer#subject"; a final slash-star (or "#*"
 * after an issuer) makes it a prefix. '*' anywhere else is refused.
 */
static const char *check_pattern(const char *p, bool *prefix)
{
	size_t len = strlen(p);
	const char *star = strchr(p, '*');
	const char *body, *end;

	*prefix = false;
	if (star != NULL) {
		if (star != p + len - 1 || len < 2 || (p[len - 2] != '/' && p[len - 2] != '#'))
			return "'*' is only allowed as a final \"/*\" or \"#*\"";
		*prefix = true;
	}
	end = *prefix ? p + len - 1 : p + len; /* the part before '*' */
	if (strncmp(p, "spiffe://", 9) == 0) {
		const char *seg;

		body = p + 9;
		seg = body;
		/* trust domain */
		while (seg < end && *seg != '/') {
			if (!islower((unsigned char)*seg) && !isdigit((unsigned char)*seg) &&
			    strchr(".-_", *seg) == NULL)
				return "the trust domain of a SPIFFE ID allows only [a-z0-9.-_]";
			seg++;
		}
		if (seg == body)
			return "a SPIFFE ID needs a trust domain";
		if (*prefix && p[len - 2] != '/')
			return "a SPIFFE prefix ends in \"/*\"";
		/* path segments */
		while (seg < end) {
			const char *s = seg + 1, *e = s;

			while (e < end && *e != '/')
				e++;
			if (e == s) {
				if (e == end && *prefix)
					break; /* the '/' before '*' */
				return "a SPIFFE ID has no empty path segment";
			}
			if ((e - s == 1 && s[0] == '.') || (e - s == 2 && s[0] == '.' && s[1] == '.'))
				return "a SPIFFE ID has no \".\" or \"..\" segment";
			for (; s < e; s++)
				if (!isalnum((unsigned char)*s) && strchr(".-_", *s) == NULL)
					return "SPIFFE ID path segments allow only [A-Za-z0-9.-_]";
			seg = e;
		}
		return NULL;
	}
	if (strncmp(p, "https://", 8) == 0) {
		const char *hash = strchr(p, '#');

		if (hash == NULL || hash == p + 8)
			return "an OIDC identity is written ISSUER#SUBJECT";
		if (hash + 1 == end && !*prefix)
			return "an OIDC identity needs a subject after '#'";
		return NULL;
	}
	return "an agent is a SPIFFE ID (spiffe://…) or an OIDC ISSUER#SUBJECT (https://…#…)";
}

static const char *check_agent(const char *name)
{
	bool prefix;

	return check_pattern(name, &prefix);
}

static void init_agent(void *element)
{
	struct pol_agent *a = element;

	a->prefix = a->pattern[strlen(a->pattern) - 1] == '*';
	a->max_class = POL_CLASS_READ;
	a->max_session = 3600;
}

static void init_deny(void *element)
{
	struct pol_deny *d = element;

	d->prefix = d->pattern[strlen(d->pattern) - 1] == '*';
}

/* ---- the sections ----------------------------------------------------------------- */

#define ARRAY(type, arr, n, cap, name)                                                   \
	offsetof(struct pol_config, arr), offsetof(struct pol_config, n),                   \
		offsetof(struct parse_ctx, cap), sizeof(type), offsetof(type, name),        \
		offsetof(type, where)

const struct kind_def pol_cfg_kinds[] = {
	[SEC_GLOBAL] = { "global", global_keys, PA_ARRAY_SIZE(global_keys),
			 0, 0, 0, 0, 0, 0, NULL, false, NULL },
	[SEC_TRUST_DOMAIN] = { "trust_domain", trust_domain_keys, PA_ARRAY_SIZE(trust_domain_keys),
			       ARRAY(struct pol_trust_domain, domains, n_domains, cap_domains, name),
			       check_trust_domain, true, NULL },
	[SEC_ISSUER] = { "issuer", issuer_keys, PA_ARRAY_SIZE(issuer_keys),
			 ARRAY(struct pol_issuer, issuers, n_issuers, cap_issuers, url),
			 check_issuer, true, NULL },
	[SEC_SERVICE] = { "service", service_keys, PA_ARRAY_SIZE(service_keys),
			  ARRAY(struct pol_service, services, n_services, cap_services, name),
			  check_service, false, NULL },
	[SEC_AGENT] = { "agent", agent_keys, PA_ARRAY_SIZE(agent_keys),
			ARRAY(struct pol_agent, agents, n_agents, cap_agents, pattern),
			check_agent, false, init_agent },
	[SEC_DENY] = { "deny", deny_keys, PA_ARRAY_SIZE(deny_keys),
		       ARRAY(struct pol_deny, denies, n_denies, cap_denies, pattern),
		       check_agent, false, init_deny },
	[SEC_GRANT] = { "grant", grant_keys, PA_ARRAY_SIZE(grant_keys),
			ARRAY(struct pol_grant, grants, n_grants, cap_grants, name),
			check_grant, false, NULL },
};
#undef ARRAY

_Static_assert(PA_ARRAY_SIZE(global_keys) <= MAX_KEYS, "raise MAX_KEYS");
_Static_assert(PA_ARRAY_SIZE(agent_keys) <= MAX_KEYS, "raise MAX_KEYS");
_Static_assert(PA_ARRAY_SIZE(grant_keys) <= MAX_KEYS, "raise MAX_KEYS");

/* The field at off of the struct at base, as a T. */
#define FIELD(T, base, off) ((T)(void *)((char *)(base) + (off)))

/* Element i of the array of kind k in cfg. */
static void *element(struct pol_config *cfg, const struct kind_def *k, size_t i)
{
	return *FIELD(char **, cfg, k->arr_off) + i * k->elem_size;
}

void *pol_cfg_section_base(struct parse_ctx *c, const struct sect_rec *rec)
{
	if (rec->kind == SEC_GLOBAL)
		return &c->cfg->global;
	return element(c->cfg, &pol_cfg_kinds[rec->kind], rec->idx);
}

/* Adds a zeroed element for a new section of kind k; returns it, or NULL. */
static void *add_element(struct parse_ctx *c, const struct kind_def *k, size_t *idx)
{
	void **arr = FIELD(void **, c->cfg, k->arr_off);
	size_t *n = FIELD(size_t *, c->cfg, k->n_off);
	void *p = pol_cfg_grow(*arr, FIELD(size_t *, c, k->cap_off), *n, k->elem_size);

	if (p == NULL)
		return NULL;
	*arr = p;
	*idx = (*n)++;
	return element(c->cfg, k, *idx);
}

/* The kind of the header text (up to its first blank), or -1 (reported). */
static int section_kind(struct parse_ctx *c, const char *text, size_t klen)
{
	size_t i;

	for (i = 0; i < SEC_GRANT + 1; i++)
		if (strlen(pol_cfg_kinds[i].name) == klen &&
		    memcmp(text, pol_cfg_kinds[i].name, klen) == 0)
			return (int)i;
	PERR(c, "%s:%u: unknown section [%s] (sections are global, trust_domain, issuer, "
	     "service, agent, deny and grant)", c->file, c->lineno, text);
	return -1;
}

/* Whether [global] may open here; records it. */
static bool open_global(struct parse_ctx *c, const char *arg, struct pol_where where)
{
	if (arg != NULL) {
		PERR(c, "%s:%u: [global] takes no name", where.file, where.line);
		return false;
	}
	if (c->has_global) {
		PERR(c, "%s:%u: duplicate section [global] (first at %s:%u)", where.file,
		     where.line, c->global_where.file, c->global_where.line);
		return false;
	}
	c->has_global = true;
	c->global_where = where;
	c->cfg->global.where = where;
	return true;
}

/* Whether the name of [text] (arg, of kind k) is acceptable and not taken. */
static bool name_ok(struct parse_ctx *c, const struct kind_def *k, const char *text,
		    const char *arg, struct pol_where where)
{
	const char *why;
	size_t i;

	if (arg == NULL) {
		PERR(c, "%s:%u: [%s] needs a name: [%s NAME]", where.file, where.line, text, text);
		return false;
	}
	why = k->check_name(arg);
	if (why != NULL) {
		PERR(c, "%s:%u: [%s]: %s", where.file, where.line, text, why);
		return false;
	}
	for (i = 0; k->unique_name && i < *FIELD(size_t *, c->cfg, k->n_off); i++) {
		void *el = element(c->cfg, k, i);
		const struct pol_where *first = FIELD(const struct pol_where *, el, k->where_off);

		if (strcmp(*FIELD(char **, el, k->name_off), arg) == 0) {
			PERR(c, "%s:%u: duplicate section [%s] (first at %s:%u)", where.file,
			     where.line, text, first->file, first->line);
			return false;
		}
	}
	return true;
}

/* Makes the element of a named section: its name, where, defaults. */
static int new_element(struct parse_ctx *c, const struct kind_def *k, const char *arg,
		       struct pol_where where, size_t *idx)
{
	char *name = arg != NULL ? strdup(arg) : NULL; /* name_ok refused a missing one */
	void *el;

	if (name == NULL)
		return -1;
	el = add_element(c, k, idx);
	if (el == NULL) {
		free(name);
		return -1;
	}
	*FIELD(char **, el, k->name_off) = name;
	*FIELD(struct pol_where *, el, k->where_off) = where;
	if (k->init != NULL)
		k->init(el);
	return 0;
}

/* Opens the section whose header text (inside the brackets) is text. */
void pol_cfg_open_section(struct parse_ctx *c, const char *text)
{
	const char *sp = strchr(text, ' ');
	size_t klen = sp ? (size_t)(sp - text) : strlen(text);
	const char *arg = sp ? sp + 1 : NULL;
	struct pol_where where = { c->file, c->lineno };
	struct sect_rec *rec;
	const struct kind_def *k;
	size_t idx = 0;
	int kind;

	c->cur = -1;
	c->cur_bad = true;
	c->prev_key = NULL;
	kind = section_kind(c, text, klen);
	if (kind < 0)
		return;
	k = &pol_cfg_kinds[kind];
	if (kind == SEC_GLOBAL)
		c->global_seen = true;
	if (strpbrk(text, "\t") != NULL || (arg != NULL && (*arg == '\0' || strpbrk(arg, " \t")))) {
		PERR(c, "%s:%u: [%s]: write the section as [%s NAME] with one space and no other blanks",
		     where.file, where.line, text, k->name);
		return;
	}
	if (kind == SEC_GLOBAL ? !open_global(c, arg, where) : !name_ok(c, k, text, arg, where))
		return;
	rec = pol_cfg_grow(c->recs, &c->cap_recs, c->n_recs, sizeof(*c->recs));
	if (rec == NULL)
		goto nomem;
	c->recs = rec;
	if (kind != SEC_GLOBAL && new_element(c, k, arg, where, &idx) != 0)
		goto nomem;
	rec = &c->recs[c->n_recs];
	memset(rec, 0, sizeof(*rec));
	rec->label = strdup(text);
	if (rec->label == NULL)
		goto nomem;
	rec->kind = (enum sec_kind)kind;
	rec->idx = idx;
	rec->where = where;
	c->cur = (long)c->n_recs++;
	c->cur_bad = false;
	return;
nomem:
	pol_cfg_oom(c);
}
