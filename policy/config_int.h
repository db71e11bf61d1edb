/*
 * config_int.h - what the parts of the configuration parser share:
 * the section and key tables (config_schema.c), value parsing
 * (config_values.c), the libinih reader and handler (config_ini.c), the
 * checks across sections (config_check.c) and files and the public API
 * (config.c). Used inside policy/ only.
 */
#ifndef PA_POLICY_CONFIG_INT_H
#define PA_POLICY_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

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
	VT_SHA256S, /* hex SHA-256 digests (stored lower-case); indented lines add more */
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

/* The keys of a section, and how that section lives in struct pol_config. */
struct kind_def {
	const char *name;
	const struct key_def *keys;
	size_t n_keys;
	/*
	 * Every kind but [global] is an array of elem_size elements at arr_off
	 * in struct pol_config, counted at n_off, its capacity at cap_off in
	 * struct parse_ctx; name_off and where_off are the element's name and
	 * struct pol_where.
	 */
	size_t arr_off, n_off, cap_off, elem_size, name_off, where_off;
	/* why the name in [KIND NAME] is refused, or NULL */
	const char *(*check_name)(const char *name);
	bool unique_name; /* a second section of the name is reported here */
	/* defaults of a new element beyond its name and where, or NULL */
	void (*init)(void *element);
};

#define MAX_KEYS 32 /* sect_rec.seen has 32 bits */

extern const struct kind_def pol_cfg_kinds[];

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

/* config.c */
void pol_cfg_oom(struct parse_ctx *c);
void *pol_cfg_grow(void *arr, size_t *cap, size_t n, size_t sz);

/* config_values.c */
bool pol_cfg_chars_ok(const char *s, const char *extra);
void pol_cfg_set_value(struct parse_ctx *c, void *base, const struct key_def *kd,
		       const char *value, bool cont);

/* config_schema.c */
void *pol_cfg_section_base(struct parse_ctx *c, const struct sect_rec *rec);
void pol_cfg_open_section(struct parse_ctx *c, const char *text);

/* config_ini.c */
void pol_cfg_parse_buffer(struct parse_ctx *c, const char *file, const char *buf, size_t len);

/* config_check.c */
struct pol_config *pol_cfg_finish(struct parse_ctx *c, const char *main_name);

#endif /* PA_POLICY_CONFIG_INT_H */
