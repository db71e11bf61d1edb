/*
 * config.c - pam_agent.conf and its drop-ins: safe reading, INI parsing
 * through libinih, validation of every section and key, and the checks
 * across files (references, duplicates, required keys). The whole
 * configuration is refused on any problem, and every problem is reported
 * as "FILE:LINE: message".
 *
 * libinih (r55 as Debian 12 builds it) is driven through
 * ini_parse_stream() with a reader of our own over the buffer read from
 * the checked descriptor. The reader sees every raw line before libinih
 * does, which gives exact line numbers (the library is built without
 * INI_HANDLER_LINENO) and lets us refuse what libinih would silently
 * misread: lines longer than its buffer (split in two), section names
 * longer than 49 bytes (truncated), text after "]" (ignored), control
 * bytes, and indented lines that libinih glues to the previous key.
 * docs/configuration.md lists each of these.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "policy.h"

#ifndef PA_HELPER_PATH
#error "PA_HELPER_PATH (the installed pam_agent_helper) must be defined by the build"
#endif

/* ---- small shared helpers ------------------------------------------------- */

static const char *const class_names[] = { "none", "read", "write", "escalate" };

const char *pol_class_name(enum pol_class cls)
{
	if ((unsigned)cls < PA_ARRAY_SIZE(class_names))
		return class_names[cls];
	return "none";
}

int pol_class_parse(const char *text, enum pol_class *cls)
{
	unsigned i;

	for (i = POL_CLASS_READ; i <= POL_CLASS_ESCALATE; i++) {
		if (strcmp(text, class_names[i]) == 0) {
			*cls = (enum pol_class)i;
			return 0;
		}
	}
	return -1;
}

const char *pol_source_name(enum pol_source source)
{
	switch (source) {
	case POL_SOURCE_MINT: return "mint";
	case POL_SOURCE_EXEC: return "exec";
	case POL_SOURCE_FILE: return "file";
	}
	return "unknown";
}

bool pol_list_has(const struct pol_list *l, const char *s)
{
	size_t i;

	if (s == NULL)
		return false;
	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

/* Frees the words of l; l is empty afterwards. */
static void list_clear(struct pol_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* ---- freeing ---------------------------------------------------------------- */

/* Frees what an [agent] rule owns (not the struct). */
static void agent_clear(struct pol_agent *a)
{
	free(a->pattern);
	list_clear(&a->users);
	list_clear(&a->run_as);
	list_clear(&a->services);
	list_clear(&a->rhosts);
	list_clear(&a->grants);
	free(a->hours);
	free(a->runtime_unit);
	free(a->runtime_exe);
}

/* Frees what a [grant] owns (not the struct). */
static void grant_clear(struct pol_grant *g)
{
	free(g->name);
	free(g->audience);
	free(g->scope);
	free(g->command);
	free(g->revoke);
	free(g->path);
}

/* Frees everything cfg owns and cfg itself. */
static void config_free(struct pol_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	free(cfg->global.audience);
	free(cfg->global.audit_log);
	free(cfg->global.replay_dir);
	free(cfg->global.broker_key);
	free(cfg->global.broker_issuer);
	free(cfg->global.broker_jwks);
	free(cfg->global.helper);
	free(cfg->global.state_dir);
	for (i = 0; i < cfg->n_domains; i++) {
		free(cfg->domains[i].name);
		free(cfg->domains[i].bundle);
	}
	free(cfg->domains);
	for (i = 0; i < cfg->n_issuers; i++) {
		free(cfg->issuers[i].url);
		free(cfg->issuers[i].jwks);
		free(cfg->issuers[i].audience);
	}
	free(cfg->issuers);
	for (i = 0; i < cfg->n_services; i++)
		free(cfg->services[i].name);
	free(cfg->services);
	for (i = 0; i < cfg->n_agents; i++)
		agent_clear(&cfg->agents[i]);
	free(cfg->agents);
	for (i = 0; i < cfg->n_denies; i++) {
		free(cfg->denies[i].pattern);
		free(cfg->denies[i].reason);
	}
	free(cfg->denies);
	for (i = 0; i < cfg->n_grants; i++)
		grant_clear(&cfg->grants[i]);
	free(cfg->grants);
	for (i = 0; i < cfg->n_files; i++)
		free(cfg->files[i]);
	free(cfg->files);
	pol_index_free(cfg->index);
	free(cfg);
}

struct pol_config *pol_config_ref(struct pol_config *cfg)
{
	if (cfg != NULL)
		__atomic_add_fetch(&cfg->refs, 1, __ATOMIC_RELAXED);
	return cfg;
}

void pol_config_unref(struct pol_config *cfg)
{
	if (cfg != NULL && __atomic_sub_fetch(&cfg->refs, 1, __ATOMIC_ACQ_REL) == 0)
		config_free(cfg);
}

/* ---- the key tables ----------------------------------------------------------- */

enum sec_kind {
	SEC_GLOBAL,
	SEC_TRUST_DOMAIN,
	SEC_ISSUER,
	SEC_SERVICE,
	SEC_AGENT,
	SEC_DENY,
	SEC_GRANT,
};

enum vtype {
	VT_STR,	    /* one word or phrase, single line */
	VT_TEXT,    /* free text; indented lines continue it (joined by a space) */
	VT_PATH,    /* absolute path without blanks */
	VT_COMMAND, /* a command line whose first word is an absolute path */
	VT_DUR,	    /* pa_parse_duration, within [min, max] seconds */
	VT_BOOL,
	VT_CLASS,
	VT_COUNT, /* decimal integer within [min, max] */
	VT_LIST,  /* words; indented lines add more */
	VT_SOURCE,
	VT_HOURS, /* time windows; indented lines add more */
	VT_UID,
};

#define K_REQUIRED 0x01u
#define K_MINT 0x10u /* grant keys: the sources a key applies to */
#define K_EXEC 0x20u
#define K_FILE 0x40u
#define K_SOURCES (K_MINT | K_EXEC | K_FILE)

struct key_def {
	const char *name;
	enum vtype type;
	size_t off;	/* of the field in the section's struct */
	unsigned flags;
	int64_t min, max; /* VT_DUR, VT_COUNT */
	ptrdiff_t has_off; /* bool set when the key is given, or -1 */
};

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
	{ "state_dir", VT_PATH, G(state_dir), 0, 0, 0, -1 },
	{ "helper_timeout", VT_DUR, G(helper_timeout), 0, 1, 600, -1 },
};
#undef G

static const struct key_def trust_domain_keys[] = {
	{ "bundle", VT_PATH, offsetof(struct pol_trust_domain, bundle), K_REQUIRED, 0, 0, -1 },
};

#define I(f) offsetof(struct pol_issuer, f)
static const struct key_def issuer_keys[] = {
	{ "jwks", VT_PATH, I(jwks), K_REQUIRED, 0, 0, -1 },
	{ "audience", VT_STR, I(audience), 0, 0, 0, -1 },
	{ "allow_eddsa", VT_BOOL, I(allow_eddsa), 0, 0, 0, -1 },
	{ "clock_skew", VT_DUR, I(clock_skew), 0, 0, 3600, I(has_clock_skew) },
	{ "max_token_age", VT_DUR, I(max_token_age), 0, 1, 7 * DAY, I(has_max_token_age) },
	{ "single_use", VT_BOOL, I(single_use), 0, 0, 0, I(has_single_use) },
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
	{ "hours", VT_HOURS, 0, 0, 0, 0, -1 },
	{ "grants", VT_LIST, A(grants), 0, 0, 0, -1 },
	{ "run_as", VT_LIST, A(run_as), 0, 0, 0, -1 },
	{ "runtime.unit", VT_STR, A(runtime_unit), 0, 0, 0, -1 },
	{ "runtime.exe", VT_PATH, A(runtime_exe), 0, 0, 0, -1 },
	{ "runtime.uid", VT_UID, A(runtime_uid), 0, 0, 0, A(has_runtime_uid) },
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

struct kind_def {
	const char *name;
	const struct key_def *keys;
	size_t n_keys;
};

static const struct kind_def kinds[] = {
	[SEC_GLOBAL] = { "global", global_keys, PA_ARRAY_SIZE(global_keys) },
	[SEC_TRUST_DOMAIN] = { "trust_domain", trust_domain_keys, PA_ARRAY_SIZE(trust_domain_keys) },
	[SEC_ISSUER] = { "issuer", issuer_keys, PA_ARRAY_SIZE(issuer_keys) },
	[SEC_SERVICE] = { "service", service_keys, PA_ARRAY_SIZE(service_keys) },
	[SEC_AGENT] = { "agent", agent_keys, PA_ARRAY_SIZE(agent_keys) },
	[SEC_DENY] = { "deny", deny_keys, PA_ARRAY_SIZE(deny_keys) },
	[SEC_GRANT] = { "grant", grant_keys, PA_ARRAY_SIZE(grant_keys) },
};

/* Required keys of a grant per source (on top of class, source, ttl). */
static const struct {
	enum pol_source source;
	const char *key;
} grant_required[] = {
	{ POL_SOURCE_MINT, "audience" },
	{ POL_SOURCE_EXEC, "command" },
	{ POL_SOURCE_FILE, "path" },
};

#define MAX_KEYS 16
_Static_assert(PA_ARRAY_SIZE(global_keys) <= MAX_KEYS, "raise MAX_KEYS");
_Static_assert(PA_ARRAY_SIZE(agent_keys) <= MAX_KEYS, "raise MAX_KEYS");
_Static_assert(PA_ARRAY_SIZE(grant_keys) <= MAX_KEYS, "raise MAX_KEYS");

/* One section as written: where, and which keys it set on which line. */
struct sect_rec {
	enum sec_kind kind;
	size_t idx; /* into the config's array of that kind */
	char *label; /* "agent spiffe://…", for messages */
	struct pol_where where;
	uint32_t seen;
	unsigned key_line[MAX_KEYS];
};

enum line_kind {
	LK_NONE,    /* blank or comment: libinih calls nothing */
	LK_BAD,	    /* refused by us (already reported) */
	LK_SECTION, /* a section header */
	LK_KEY,	    /* name = value */
	LK_CONT,    /* an indented line libinih appends to the previous key */
};

struct parse_ctx {
	struct pol_config *cfg;
	struct pol_errors *errors;
	/* the file being parsed */
	const char *file; /* owned by cfg->files */
	const char *buf;
	size_t len, pos;
	unsigned lineno;
	enum line_kind kind; /* of the line last handed to libinih */
	bool bad_cont;	     /* that line is a refused continuation */
	bool handled;	     /* the handler ran for that line */
	bool ini_prev_name;  /* mirrors libinih's "previous name" state */
	/* the open section */
	struct sect_rec *recs;
	size_t n_recs, cap_recs;
	long cur;     /* index into recs, or -1 */
	bool cur_bad; /* the header was refused: ignore its keys quietly */
	const struct key_def *prev_key; /* what an indented line continues */
	size_t cap_domains, cap_issuers, cap_services, cap_agents, cap_denies, cap_grants;
	bool has_global;
	bool unreadable; /* a file could not be read: skip "no [global]" */
	bool global_seen; /* a [global …] header, even a refused one */
	struct pol_where global_where;
};

#define PERR(c, ...) pol_errors_add((c)->errors, __VA_ARGS__)

/* Reports running out of memory at the current line. */
static void oom(struct parse_ctx *c)
{
	PERR(c, "%s:%u: out of memory", c->file, c->lineno);
}

/*
 * Returns arr (of elements of size sz, *cap allocated, n used) grown to
 * hold n + 1, new elements zeroed; NULL when out of memory (arr is kept).
 */
static void *grow_array(void *arr, size_t *cap, size_t n, size_t sz)
{
	void *p;
	size_t ncap;

	if (n < *cap)
		return arr;
	ncap = *cap ? *cap * 2 : 8;
	if (ncap > SIZE_MAX / sz)
		return NULL;
	p = realloc(arr, ncap * sz);
	if (p == NULL)
		return NULL;
	memset((char *)p + *cap * sz, 0, (ncap - *cap) * sz);
	*cap = ncap;
	return p;
}

/* ---- values ------------------------------------------------------------------- */

/* Whether ch separates list words (space or tab). */
static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Whether s has a '#' right after a blank: a comment that is not one. */
static bool has_hash_comment(const char *s)
{
	const char *p;

	for (p = s; (p = strchr(p, '#')) != NULL; p++)
		if (p > s && is_blank(p[-1]))
			return true;
	return false;
}

/* Whether every byte of s is in the set [A-Za-z0-9] plus extra. */
static bool chars_ok(const char *s, const char *extra)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && strchr(extra, *s) == NULL)
			return false;
	return true;
}

/* Appends a copy of word to l unless already there. Returns 0, 1 (dup) or -1. */
static int list_add(struct pol_list *l, const char *word, size_t len)
{
	char **grown;
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strlen(l->v[i]) == len && memcmp(l->v[i], word, len) == 0)
			return 1;
	grown = realloc(l->v, (l->n + 1) * sizeof(*grown));
	if (grown == NULL)
		return -1;
	l->v = grown;
	l->v[l->n] = strndup(word, len);
	if (l->v[l->n] == NULL)
		return -1;
	l->n++;
	return 0;
}

static const char *const day_names[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };

/* Day index 0..6 of a three-letter name of len bytes, or -1. */
static int day_index(const char *s, size_t len)
{
	int i;

	for (i = 0; i < 7; i++)
		if (len == 3 && memcmp(s, day_names[i], 3) == 0)
			return i;
	return -1;
}

/* Parses "HH:MM" (HH 00..24, 24 only as 24:00) into minutes. */
static int parse_hhmm(const char *s, size_t len, unsigned *minutes)
{
	unsigned h, m;

	if (len != 5 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
	    s[2] != ':' || !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
		return -1;
	h = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
	m = (unsigned)(s[3] - '0') * 10 + (unsigned)(s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && m != 0))
		return -1;
	*minutes = h * 60 + m;
	return 0;
}

/*
 * Parses one window "DAYS HH:MM-HH:MM" of len bytes (already trimmed):
 * DAYS is "*", a day ("Mon") or a range ("Mon-Fri", may wrap: "Fri-Mon").
 */
static int parse_window(const char *s, size_t len, struct pol_window *w)
{
	const char *sp = memchr(s, ' ', len);
	const char *days, *times, *dash;
	size_t dlen, tlen;
	unsigned start, end;
	int d1, d2;

	if (sp == NULL)
		return -1;
	days = s;
	dlen = (size_t)(sp - s);
	times = sp + 1;
	while (times < s + len && *times == ' ')
		times++;
	tlen = (size_t)(s + len - times);
	if (dlen == 1 && days[0] == '*') {
		w->days = 0x7f;
	} else if (dlen == 3) {
		if ((d1 = day_index(days, 3)) < 0)
			return -1;
		w->days = (uint8_t)(1u << d1);
	} else if (dlen == 7 && days[3] == '-') {
		d1 = day_index(days, 3);
		d2 = day_index(days + 4, 3);
		if (d1 < 0 || d2 < 0)
			return -1;
		w->days = 0;
		for (;;) {
			w->days |= (uint8_t)(1u << d1);
			if (d1 == d2)
				break;
			d1 = (d1 + 1) % 7;
		}
	} else {
		return -1;
	}
	dash = memchr(times, '-', tlen);
	if (dash == NULL || parse_hhmm(times, (size_t)(dash - times), &start) != 0 ||
	    parse_hhmm(dash + 1, (size_t)(times + tlen - dash - 1), &end) != 0 ||
	    start >= end)
		return -1;
	w->start = (uint16_t)start;
	w->end = (uint16_t)end;
	return 0;
}

/* Adds the comma-separated windows of value to agent a. */
static void set_hours(struct parse_ctx *c, struct pol_agent *a, const char *key,
		      const char *value)
{
	const char *p = value;

	while (*p) {
		const char *comma = strchr(p, ',');
		const char *e = comma ? comma : p + strlen(p);
		const char *b = p;
		struct pol_window w, *grown;

		while (b < e && is_blank(*b))
			b++;
		while (e > b && is_blank(e[-1]))
			e--;
		if (parse_window(b, (size_t)(e - b), &w) != 0) {
			PERR(c, "%s:%u: '%s': \"%.*s\" is not a window like \"Mon-Fri 08:00-18:00\"",
			     c->file, c->lineno, key, (int)(e - b), b);
			return;
		}
		grown = realloc(a->hours, (a->n_hours + 1) * sizeof(*grown));
		if (grown == NULL) {
			oom(c);
			return;
		}
		a->hours = grown;
		a->hours[a->n_hours++] = w;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
}

/* Parses a decimal integer within [min, max]. */
static int parse_count(const char *s, int64_t min, int64_t max, int64_t *out)
{
	int64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s) || v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Replaces the string at *field by a copy of value (or appends it after a space). */
static void set_string(struct parse_ctx *c, char **field, const char *value, bool append)
{
	char *s = NULL;

	if (append && *field != NULL) {
		if (asprintf(&s, "%s %s", *field, value) < 0)
			s = NULL;
	} else {
		s = strdup(value);
	}
	if (s == NULL) {
		oom(c);
		return;
	}
	free(*field);
	*field = s;
}

/* Checks and stores one value (or a continuation of one) of key kd into base. */
static void set_value(struct parse_ctx *c, void *base, const struct key_def *kd,
		      const char *value, bool cont)
{
	void *field = (char *)base + kd->off;
	const char *f = c->file;
	unsigned ln = c->lineno;
	enum pol_class cls;
	int64_t n;
	bool b;

	if (*value == '\0') {
		PERR(c, "%s:%u: '%s' has an empty value", f, ln, kd->name);
		return;
	}
	if (has_hash_comment(value)) {
		PERR(c, "%s:%u: '%s': '#' after a blank is not a comment here "
		     "(comments are whole lines starting with '#' or ';', or \" ;\" after a value)",
		     f, ln, kd->name);
		return;
	}
	switch (kd->type) {
	case VT_STR:
	case VT_TEXT:
		set_string(c, field, value, cont);
		break;
	case VT_PATH:
		if (value[0] != '/' || strpbrk(value, " \t") != NULL) {
			PERR(c, "%s:%u: '%s' must be an absolute path without blanks", f, ln, kd->name);
			return;
		}
		set_string(c, field, value, false);
		break;
	case VT_COMMAND:
		if (value[0] != '/') {
			PERR(c, "%s:%u: '%s' must start with the absolute path of a program",
			     f, ln, kd->name);
			return;
		}
		set_string(c, field, value, false);
		break;
	case VT_DUR:
		if (pa_parse_duration(value, &n) != 0) {
			PERR(c, "%s:%u: '%s' = \"%s\" is not a duration (like 90s, 15m, 2h, 1d)",
			     f, ln, kd->name, value);
			return;
		}
		if (n < kd->min || n > kd->max) {
			PERR(c, "%s:%u: '%s' must be between %llds and %llds", f, ln, kd->name,
			     (long long)kd->min, (long long)kd->max);
			return;
		}
		*(int64_t *)field = n;
		break;
	case VT_BOOL:
		if (pa_parse_bool(value, &b) != 0) {
			PERR(c, "%s:%u: '%s' must be yes or no", f, ln, kd->name);
			return;
		}
		*(bool *)field = b;
		break;
	case VT_CLASS:
		if (pol_class_parse(value, &cls) != 0) {
			PERR(c, "%s:%u: '%s' = \"%s\" is not a class (read, write or escalate)",
			     f, ln, kd->name, value);
			return;
		}
		*(enum pol_class *)field = cls;
		break;
	case VT_COUNT:
		if (parse_count(value, kd->min, kd->max, &n) != 0) {
			PERR(c, "%s:%u: '%s' must be a whole number from %lld to %lld", f, ln,
			     kd->name, (long long)kd->min, (long long)kd->max);
			return;
		}
		*(int64_t *)field = n;
		break;
	case VT_UID:
		if (parse_count(value, 0, (int64_t)(uid_t)-2, &n) != 0) {
			PERR(c, "%s:%u: '%s' must be a numeric uid", f, ln, kd->name);
			return;
		}
		*(uid_t *)field = (uid_t)n;
		break;
	case VT_SOURCE:
		if (strcmp(value, "mint") == 0)
			*(enum pol_source *)field = POL_SOURCE_MINT;
		else if (strcmp(value, "exec") == 0)
			*(enum pol_source *)field = POL_SOURCE_EXEC;
		else if (strcmp(value, "file") == 0)
			*(enum pol_source *)field = POL_SOURCE_FILE;
		else
			PERR(c, "%s:%u: '%s' must be mint, exec or file", f, ln, kd->name);
		break;
	case VT_HOURS:
		set_hours(c, base, kd->name, value);
		break;
	case VT_LIST: {
		const char *p = value;

		while (*p) {
			size_t len;
			int r;

			while (is_blank(*p))
				p++;
			len = strcspn(p, " \t");
			if (len == 0)
				break;
			r = list_add(field, p, len);
			if (r < 0) {
				oom(c);
				return;
			}
			if (r > 0)
				PERR(c, "%s:%u: '%s' lists \"%.*s\" twice", f, ln, kd->name,
				     (int)len, p);
			p += len;
		}
		break;
	}
	}
	if (kd->has_off >= 0)
		*(bool *)((char *)base + kd->has_off) = true;
}

/* ---- sections ------------------------------------------------------------------ */

/* The struct of the section recorded in rec. */
static void *section_base(struct parse_ctx *c, const struct sect_rec *rec)
{
	struct pol_config *cfg = c->cfg;

	switch (rec->kind) {
	case SEC_GLOBAL: return &cfg->global;
	case SEC_TRUST_DOMAIN: return &cfg->domains[rec->idx];
	case SEC_ISSUER: return &cfg->issuers[rec->idx];
	case SEC_SERVICE: return &cfg->services[rec->idx];
	case SEC_AGENT: return &cfg->agents[rec->idx];
	case SEC_DENY: return &cfg->denies[rec->idx];
	case SEC_GRANT: return &cfg->grants[rec->idx];
	}
	return NULL;
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

/* Adds a zeroed element for a new section of kind; returns it, or NULL. */
static void *add_element(struct parse_ctx *c, enum sec_kind kind, size_t *idx)
{
	struct pol_config *cfg = c->cfg;
	void *p;

#define ADD(arr, n, cap)                                                        \
	do {                                                                    \
		p = grow_array(cfg->arr, &c->cap, cfg->n, sizeof(*cfg->arr));   \
		if (p == NULL)                                                  \
			return NULL;                                            \
		cfg->arr = p;                                                   \
		*idx = cfg->n++;                                                \
		return &cfg->arr[*idx];                                         \
	} while (0)

	switch (kind) {
	case SEC_TRUST_DOMAIN: ADD(domains, n_domains, cap_domains);
	case SEC_ISSUER: ADD(issuers, n_issuers, cap_issuers);
	case SEC_SERVICE: ADD(services, n_services, cap_services);
	case SEC_AGENT: ADD(agents, n_agents, cap_agents);
	case SEC_DENY: ADD(denies, n_denies, cap_denies);
	case SEC_GRANT: ADD(grants, n_grants, cap_grants);
	default: return NULL;
	}
#undef ADD
}

/* Opens the section whose header text (inside the brackets) is text. */
static void open_section(struct parse_ctx *c, const char *text)
{
	const char *f = c->file;
	unsigned ln = c->lineno;
	const char *sp = strchr(text, ' ');
	size_t klen = sp ? (size_t)(sp - text) : strlen(text);
	const char *arg = sp ? sp + 1 : NULL;
	const char *why;
	struct sect_rec *rec;
	struct pol_where where = { f, ln };
	enum sec_kind kind;
	size_t i, idx = 0;
	char *name = NULL;
	void *el;

	c->cur = -1;
	c->cur_bad = true;
	c->prev_key = NULL;
	for (i = 0; i < PA_ARRAY_SIZE(kinds); i++)
		if (strlen(kinds[i].name) == klen && memcmp(text, kinds[i].name, klen) == 0)
			break;
	if (i == PA_ARRAY_SIZE(kinds)) {
		PERR(c, "%s:%u: unknown section [%s] (sections are global, trust_domain, "
		     "issuer, service, agent, deny and grant)", f, ln, text);
		return;
	}
	kind = (enum sec_kind)i;
	if (kind == SEC_GLOBAL)
		c->global_seen = true;
	if (strpbrk(text, "\t") != NULL || (arg != NULL && (*arg == '\0' || strpbrk(arg, " \t")))) {
		PERR(c, "%s:%u: [%s]: write the section as [%s NAME] with one space and no other blanks",
		     f, ln, text, kinds[kind].name);
		return;
	}
	if (kind == SEC_GLOBAL) {
		if (arg != NULL) {
			PERR(c, "%s:%u: [global] takes no name", f, ln);
			return;
		}
		if (c->has_global) {
			PERR(c, "%s:%u: duplicate section [global] (first at %s:%u)", f, ln,
			     c->global_where.file, c->global_where.line);
			return;
		}
		c->has_global = true;
		c->global_where = where;
		c->cfg->global.where = where;
	} else {
		if (arg == NULL) {
			PERR(c, "%s:%u: [%s] needs a name: [%s NAME]", f, ln, text, text);
			return;
		}
		switch (kind) {
		case SEC_TRUST_DOMAIN:
			why = (chars_ok(arg, ".-_") && strlen(arg) <= 255 &&
			       !strpbrk(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
				      ? NULL : "a trust domain name allows only [a-z0-9.-_]";
			for (i = 0; why == NULL && i < c->cfg->n_domains; i++)
				if (strcmp(c->cfg->domains[i].name, arg) == 0) {
					PERR(c, "%s:%u: duplicate section [%s] (first at %s:%u)", f, ln,
					     text, c->cfg->domains[i].where.file,
					     c->cfg->domains[i].where.line);
					return;
				}
			break;
		case SEC_ISSUER:
			why = (strncmp(arg, "https://", 8) == 0 && arg[8] != '\0' &&
			       strchr(arg, '#') == NULL)
				      ? NULL : "an issuer is an https:// URL without '#'";
			for (i = 0; why == NULL && i < c->cfg->n_issuers; i++)
				if (strcmp(c->cfg->issuers[i].url, arg) == 0) {
					PERR(c, "%s:%u: duplicate section [%s] (first at %s:%u)", f, ln,
					     text, c->cfg->issuers[i].where.file,
					     c->cfg->issuers[i].where.line);
					return;
				}
			break;
		case SEC_SERVICE:
			/*
			 * Linux-PAM lower-cases the service name in pam_start and
			 * pam_set_item(PAM_SERVICE): a rule with an upper-case
			 * letter could never match a request.
			 */
			why = !chars_ok(arg, "._+-")
				? "a service name allows only [a-z0-9._+-]"
				: strpbrk(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != NULL
				? "a service name has no upper-case letters: Linux-PAM lower-cases "
				  "the service name, so this section could never match"
				: NULL;
			break;
		case SEC_GRANT:
			why = chars_ok(arg, "._-") && strlen(arg) <= 64 ? NULL
				: "a grant name allows only [A-Za-z0-9._-], at most 64 bytes";
			break;
		default: {
			bool prefix;

			why = check_pattern(arg, &prefix);
			break;
		}
		}
		if (why != NULL) {
			PERR(c, "%s:%u: [%s]: %s", f, ln, text, why);
			return;
		}
	}
	rec = grow_array(c->recs, &c->cap_recs, c->n_recs, sizeof(*c->recs));
	if (rec == NULL)
		goto nomem;
	c->recs = rec;
	if (kind != SEC_GLOBAL) {
		name = strdup(arg);
		if (name == NULL)
			goto nomem;
		el = add_element(c, kind, &idx);
		if (el == NULL)
			goto nomem;
		switch (kind) {
		case SEC_TRUST_DOMAIN: {
			struct pol_trust_domain *t = el;

			t->name = name;
			t->where = where;
			break;
		}
		case SEC_ISSUER: {
			struct pol_issuer *is = el;

			is->url = name;
			is->where = where;
			break;
		}
		case SEC_SERVICE: {
			struct pol_service *s = el;

			s->name = name;
			s->where = where;
			break;
		}
		case SEC_AGENT: {
			struct pol_agent *a = el;

			a->pattern = name;
			a->prefix = name[strlen(name) - 1] == '*';
			a->max_class = POL_CLASS_READ;
			a->max_session = 3600;
			a->where = where;
			break;
		}
		case SEC_DENY: {
			struct pol_deny *d = el;

			d->pattern = name;
			d->prefix = name[strlen(name) - 1] == '*';
			d->where = where;
			break;
		}
		case SEC_GRANT: {
			struct pol_grant *g = el;

			g->name = name;
			g->where = where;
			break;
		}
		default:
			break;
		}
		name = NULL; /* owned by the element now */
	}
	rec = &c->recs[c->n_recs];
	memset(rec, 0, sizeof(*rec));
	rec->label = strdup(text);
	if (rec->label == NULL)
		goto nomem;
	rec->kind = kind;
	rec->idx = idx;
	rec->where = where;
	c->cur = (long)c->n_recs++;
	c->cur_bad = false;
	return;
nomem:
	free(name);
	oom(c);
}

/* ---- the libinih reader and handler ---------------------------------------------- */

/*
 * libinih's inline comment rule: the first ';' preceded by a blank (or any
 * byte of chars, when chars is not NULL) ends the scan.
 */
static char *find_chars_or_comment(char *s, const char *chars)
{
	bool was_space = false;

	while (*s && (chars == NULL || strchr(chars, *s) == NULL) && !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

/* Cuts trailing whitespace off s in place; returns s. */
static char *rstrip(char *s)
{
	char *e = s + strlen(s);

	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/*
 * Classifies one raw line (without its newline) exactly as libinih will,
 * opening sections as they come, since libinih never reports a section
 * that has no keys. Sets c->kind.
 */
static void classify(struct parse_ctx *c, char *line)
{
	char *start = line, *end, *p;

	if (c->lineno == 1 && (unsigned char)line[0] == 0xef && (unsigned char)line[1] == 0xbb &&
	    (unsigned char)line[2] == 0xbf)
		start += 3;
	while (*start && isspace((unsigned char)*start))
		start++;
	rstrip(start);
	if (*start == '\0' || *start == ';' || *start == '#') {
		c->kind = LK_NONE;
	} else if (c->ini_prev_name && start > line) {
		c->kind = LK_CONT;
		/* libinih r55 keeps " ;" on such a line as part of the value
		 * (later versions strip it): refused either way */
		if (*find_chars_or_comment(start, NULL) == ';') {
			PERR(c, "%s:%u: indented line with a \" ;\" comment (libinih versions "
			     "disagree on whether it is a comment; put it on a line of its own)",
			     c->file, c->lineno);
			c->kind = LK_BAD;
			c->bad_cont = true;
		}
	} else if (*start == '[') {
		end = find_chars_or_comment(start + 1, "]");
		if (*end != ']') {
			PERR(c, "%s:%u: section header without a closing ']'", c->file, c->lineno);
			c->kind = LK_BAD;
			c->cur = -1;
			c->cur_bad = true;
			return;
		}
		c->ini_prev_name = false;
		c->kind = LK_SECTION;
		*end = '\0';
		for (p = end + 1; *p && isspace((unsigned char)*p); p++)
			;
		if (*p != '\0' && !(*p == ';' && p > end + 1)) {
			PERR(c, "%s:%u: text after ']' (libinih would ignore it)", c->file, c->lineno);
			c->cur = -1;
			c->cur_bad = true;
			return;
		}
		open_section(c, start + 1);
	} else {
		end = find_chars_or_comment(start, "=:");
		if (*end == '=' || *end == ':') {
			char sep = *end;

			*end = '\0';
			/* libinih remembers the name for continuation lines */
			c->ini_prev_name = *rstrip(start) != '\0';
			c->kind = LK_KEY;
			if (sep == ':') {
				PERR(c, "%s:%u: write \"key = value\" (with '=', not ':')",
				     c->file, c->lineno);
				c->kind = LK_BAD;
			}
		} else {
			PERR(c, "%s:%u: expected \"key = value\"", c->file, c->lineno);
			c->kind = LK_BAD;
		}
	}
}

/*
 * The ini_reader: hands libinih one line of the buffer at a time, after
 * classifying it. Lines that libinih could not hold whole, or that carry
 * control bytes, are reported and replaced by an empty line.
 */
static char *reader(char *str, int num, void *stream)
{
	struct parse_ctx *c = stream;
	const char *p, *nl;
	size_t linelen, i, content;
	char *copy;

	if (c->pos >= c->len || num < 3)
		return NULL;
	p = c->buf + c->pos;
	nl = memchr(p, '\n', c->len - c->pos);
	linelen = nl != NULL ? (size_t)(nl - p) + 1 : c->len - c->pos;
	c->pos += linelen;
	c->lineno++;
	c->handled = false;
	c->bad_cont = false;
	c->kind = LK_BAD;
	content = nl != NULL ? linelen - 1 : linelen;
	if (content > 0 && p[content - 1] == '\r')
		content--;
	if (linelen > (size_t)num - 1) {
		PERR(c, "%s:%u: line longer than %d bytes", c->file, c->lineno, num - 2);
		goto blank;
	}
	for (i = 0; i < content; i++) {
		unsigned char ch = (unsigned char)p[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			PERR(c, "%s:%u: control byte 0x%02x", c->file, c->lineno, ch);
			goto blank;
		}
	}
	memcpy(str, p, linelen);
	str[linelen] = '\0';
	copy = strndup(p, content);
	if (copy == NULL) {
		oom(c);
		goto blank;
	}
	classify(c, copy);
	free(copy);
	return str;
blank:
	c->kind = LK_NONE;
	str[0] = '\n';
	str[1] = '\0';
	return str;
}

/* Finds key name of the current section's kind. */
static const struct key_def *find_key(enum sec_kind kind, const char *name, size_t *pos)
{
	size_t i;

	for (i = 0; i < kinds[kind].n_keys; i++) {
		if (strcmp(kinds[kind].keys[i].name, name) == 0) {
			*pos = i;
			return &kinds[kind].keys[i];
		}
	}
	return NULL;
}

/* Whether libinih's section name is ours, possibly cut short by libinih. */
static bool same_section(const char *ini, const char *ours)
{
	size_t n = strlen(ini);

	return strncmp(ini, ours, n) == 0 && (ours[n] == '\0' || n >= 49);
}

/* The ini_handler: one key, or one continuation line, of the open section. */
static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *c = user;
	const struct key_def *kd;
	struct sect_rec *rec;
	const char *f = c->file;
	unsigned ln = c->lineno;
	size_t pos = 0;

	/* libinih's section name is ours cut at 49 bytes; we use ours */
	if (c->handled || (c->kind != LK_KEY && c->kind != LK_CONT && c->kind != LK_BAD) ||
	    (c->cur >= 0 && !same_section(section, c->recs[c->cur].label))) {
		PERR(c, "%s:%u: libinih and pam_agent read this line differently", f, ln);
		c->handled = true;
		return 1;
	}
	c->handled = true;
	if (c->kind == LK_BAD) {
		if (!c->bad_cont)
			c->prev_key = NULL;
		return 1;
	}
	if (c->cur < 0) {
		if (!c->cur_bad)
			PERR(c, "%s:%u: key '%s' outside of any section", f, ln, name);
		c->prev_key = NULL;
		return 1;
	}
	rec = &c->recs[c->cur];
	if (c->kind == LK_CONT) {
		kd = c->prev_key;
		if (kd == NULL)
			return 1; /* continues a key already reported */
		if (kd->type != VT_LIST && kd->type != VT_HOURS && kd->type != VT_TEXT) {
			PERR(c, "%s:%u: indented line: libinih reads it as more of '%s', which "
			     "takes one value (remove the indentation)", f, ln, kd->name);
			return 1;
		}
		if (value[0] == '[' || (kd->type == VT_LIST && strchr(value, '=') != NULL)) {
			PERR(c, "%s:%u: indented line: libinih reads it as more of '%s', not as a "
			     "%s (remove the indentation)", f, ln, kd->name,
			     value[0] == '[' ? "section header" : "key");
			return 1;
		}
		set_value(c, section_base(c, rec), kd, value, true);
		return 1;
	}
	kd = find_key(rec->kind, name, &pos);
	c->prev_key = NULL;
	if (kd == NULL) {
		PERR(c, "%s:%u: unknown key '%s' in [%s]", f, ln, name, rec->label);
		return 1;
	}
	if (rec->seen & (1u << pos)) {
		PERR(c, "%s:%u: duplicate key '%s' in [%s] (first at line %u)", f, ln, name,
		     rec->label, rec->key_line[pos]);
		return 1;
	}
	rec->seen |= 1u << pos;
	rec->key_line[pos] = ln;
	c->prev_key = kd;
	set_value(c, section_base(c, rec), kd, value, false);
	return 1;
}

/* Parses one document (buf, len bytes) named file into c->cfg. */
static void parse_buffer(struct parse_ctx *c, const char *file, const char *buf, size_t len)
{
	size_t before = c->errors->n + c->errors->dropped;
	char *name;
	char **grown;
	int r;

	name = strdup(file);
	grown = name ? realloc(c->cfg->files, (c->cfg->n_files + 1) * sizeof(*grown)) : NULL;
	if (grown == NULL) {
		free(name);
		PERR(c, "%s: out of memory", file);
		return;
	}
	c->cfg->files = grown;
	c->cfg->files[c->cfg->n_files++] = name;
	c->file = name;
	c->buf = buf;
	c->len = len;
	c->pos = 0;
	c->lineno = 0;
	c->ini_prev_name = false;
	c->cur = -1;
	c->cur_bad = false;
	c->prev_key = NULL;
	r = ini_parse_stream(reader, c, handler, c);
	if (r != 0 && c->errors->n + c->errors->dropped == before) {
		/* libinih saw a problem we did not: never accept silently */
		if (r > 0)
			PERR(c, "%s:%d: syntax error", name, r);
		else
			PERR(c, "%s: libinih failed (%d)", name, r);
	}
}

/* ---- checks across sections and files ---------------------------------------- */

/* Line of key name in rec, or 0 when the section does not set it. */
static unsigned key_line(const struct sect_rec *rec, const char *name)
{
	size_t i;

	for (i = 0; i < kinds[rec->kind].n_keys; i++)
		if (strcmp(kinds[rec->kind].keys[i].name, name) == 0 && (rec->seen & (1u << i)))
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

/* Required keys, per-source keys of grants, and references of agents. */
static void check_sections(struct parse_ctx *c)
{
	struct pol_config *cfg = c->cfg;
	size_t r, i;

	for (r = 0; r < c->n_recs; r++) {
		const struct sect_rec *rec = &c->recs[r];
		const struct kind_def *k = &kinds[rec->kind];
		const char *f = rec->where.file;

		for (i = 0; i < k->n_keys; i++)
			if ((k->keys[i].flags & K_REQUIRED) && !(rec->seen & (1u << i)))
				PERR(c, "%s:%u: [%s] has no '%s' (required)", f, rec->where.line,
				     rec->label, k->keys[i].name);
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
			for (i = 0; i < a->grants.n; i++)
				if (pol_config_find_grant(cfg, a->grants.v[i]) == NULL)
					PERR(c, "%s:%u: [%s] references grant '%s', which is not "
					     "defined", f, key_line(rec, "grants"), rec->label,
					     a->grants.v[i]);
		}
	}
}

/* Finishes a parse: cross-file checks; returns the config or NULL. */
static struct pol_config *finish(struct parse_ctx *c, const char *main_name)
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
	if (c->errors->n > 0 || c->errors->dropped > 0)
		return NULL;
	return c->cfg;
}

/* Frees what c owns (not the config). */
static void ctx_clear(struct parse_ctx *c)
{
	size_t i;

	for (i = 0; i < c->n_recs; i++)
		free(c->recs[i].label);
	free(c->recs);
	c->recs = NULL;
	c->n_recs = 0;
}

/* A new, empty configuration with the [global] defaults. */
static struct pol_config *config_new(void)
{
	struct pol_config *cfg = calloc(1, sizeof(*cfg));

	if (cfg == NULL)
		return NULL;
	cfg->refs = 1;
	cfg->global.clock_skew = 30;
	cfg->global.max_token_age = 3600;
	cfg->global.replay_max_entries = 10000;
	cfg->global.replay_agent_quota = 10;
	cfg->global.escalate_max_age = 60;
	cfg->global.max_delegation_depth = 0;
	cfg->global.helper_timeout = 30;
	cfg->global.replay_dir = strdup("/run/pam_agent");
	cfg->global.state_dir = strdup("/run/pam_agent");
	cfg->global.helper = strdup(PA_HELPER_PATH);
	if (cfg->global.replay_dir == NULL || cfg->global.state_dir == NULL ||
	    cfg->global.helper == NULL) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

int pol_config_parse_text(const char *name, const char *text, size_t len,
			  struct pol_config **out, struct pol_errors *errors)
{
	struct pol_errors local = { 0 };
	struct parse_ctx c;
	struct pol_config *cfg = NULL;

	*out = NULL;
	memset(&c, 0, sizeof(c));
	c.errors = &local;
	c.cfg = config_new();
	if (c.cfg == NULL) {
		pol_errors_add(errors, "%s: out of memory", name);
		return -1;
	}
	parse_buffer(&c, name, text, len);
	cfg = finish(&c, name);
	ctx_clear(&c);
	if (cfg == NULL) {
		config_free(c.cfg);
		pol_errors_move(errors, &local);
		return -1;
	}
	*out = cfg;
	return 0;
}

/* ---- files ------------------------------------------------------------------------ */

/* Reads path with the file checks and parses it. */
static void parse_file(struct parse_ctx *c, const char *path)
{
	struct pa_file_rules rules = { .owner = geteuid(), .or_root = true,
				       .forbid_mode = 022, .max_size = POL_FILE_MAX };
	char err[512];
	char *buf = NULL;
	size_t len = 0;

	if (pa_read_file_safely(path, &rules, &buf, &len, err, sizeof(err)) != 0) {
		PERR(c, "%s", err);
		c->unreadable = true;
		return;
	}
	parse_buffer(c, path, buf, len);
	free(buf);
}

/* qsort order of drop-in paths: strcmp. */
static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether name is a drop-in: "*.conf", not hidden, something before ".conf". */
static bool is_dropin(const char *name)
{
	size_t len = strlen(name);

	return name[0] != '.' && len > 5 && strcmp(name + len - 5, ".conf") == 0;
}

/* Parses every drop-in of dir in strcmp order; a missing dir is fine. */
static void parse_dropins(struct parse_ctx *c, const char *dir)
{
	char **names = NULL;
	size_t n = 0, i;
	struct dirent *de;
	struct stat st;
	DIR *d = NULL;
	int fd;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return;
		PERR(c, "%s: cannot open the drop-in directory: %s", dir,
		     errno == ELOOP || errno == ENOTDIR ? "not a directory (or a symbolic link)"
							: strerror(errno));
		return;
	}
	if (fstat(fd, &st) != 0) {
		PERR(c, "%s: cannot stat: %s", dir, strerror(errno));
		close(fd);
		return;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		PERR(c, "%s: owned by uid %lu, must be owned by root%s", dir,
		     (unsigned long)st.st_uid, geteuid() != 0 ? " or the effective uid" : "");
		close(fd);
		return;
	}
	if ((st.st_mode & 022) != 0) {
		PERR(c, "%s: mode %04o is too open (must not have any of 0022)", dir,
		     (unsigned)(st.st_mode & 07777));
		close(fd);
		return;
	}
	d = fdopendir(fd);
	if (d == NULL) {
		PERR(c, "%s: cannot read: %s", dir, strerror(errno));
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char **grown;

		if (!is_dropin(de->d_name))
			continue;
		if (n >= POL_DROPINS_MAX) {
			PERR(c, "%s: more than %d drop-in files", dir, POL_DROPINS_MAX);
			goto out;
		}
		grown = realloc(names, (n + 1) * sizeof(*grown));
		if (grown == NULL || asprintf(&grown[n], "%s/%s", dir, de->d_name) < 0) {
			if (grown != NULL)
				names = grown;
			PERR(c, "%s: out of memory", dir);
			goto out;
		}
		names = grown;
		n++;
	}
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n; i++)
		parse_file(c, names[i]);
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
}

int pol_config_load(const char *main_path, const char *dropin_dir,
		    struct pol_config **out, struct pol_errors *errors)
{
	struct pol_errors local = { 0 };
	struct pol_config *cfg = NULL;
	struct parse_ctx c;

	*out = NULL;
	memset(&c, 0, sizeof(c));
	c.errors = &local;
	c.cfg = config_new();
	if (c.cfg == NULL) {
		pol_errors_add(errors, "%s: out of memory", main_path);
		return -1;
	}
	parse_file(&c, main_path);
	if (dropin_dir != NULL)
		parse_dropins(&c, dropin_dir);
	cfg = finish(&c, main_path);
	ctx_clear(&c);
	if (cfg == NULL) {
		config_free(c.cfg);
		pol_errors_move(errors, &local);
		return -1;
	}
	*out = cfg;
	return 0;
}
