/*
 * policy.h - the policy engine: the configuration (pam_agent.conf and its
 * drop-ins, parsed with libinih), a re-read-when-changed cache, and the
 * request-time decision (allow/deny, class, session length, grants and
 * every reason), plus the text `pam-agent explain` prints.
 *
 * No PAM headers here: the module and the CLIs link the same code.
 * docs/configuration.md is the reference for the file format and for every
 * decision rule.
 */
#ifndef PA_POLICY_H
#define PA_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "identity.h"
#include "util.h"

/* Access classes, ordered: a higher value includes the lower ones. */
enum pol_class {
	POL_CLASS_NONE = 0, /* nothing: used for "no ceiling" results */
	POL_CLASS_READ = 1,
	POL_CLASS_WRITE = 2,
	POL_CLASS_ESCALATE = 3,
};

/* How a grant's credential is obtained (docs/helper.md). */
enum pol_source {
	POL_SOURCE_MINT = 1,
	POL_SOURCE_EXEC = 2,
	POL_SOURCE_FILE = 3,
};

/* "none", "read", "write" or "escalate". */
const char *pol_class_name(enum pol_class cls);
/* Parses "read", "write" or "escalate" (exactly). Returns 0 or -1. */
int pol_class_parse(const char *text, enum pol_class *cls);
/* "mint", "exec" or "file". */
const char *pol_source_name(enum pol_source source);

/* ---- configuration ------------------------------------------------------ */

/* Where a section or key was written. file points into the config. */
struct pol_where {
	const char *file;
	unsigned line;
};

/* A list value: words split on blanks, in the order written. */
struct pol_list {
	char **v;
	size_t n;
};

/* Whether s is one of the words of l (exact, case-sensitive). */
bool pol_list_has(const struct pol_list *l, const char *s);

struct pol_global {
	char *audience;		    /* required */
	int64_t clock_skew;	    /* seconds, default 30 */
	int64_t max_token_age;	    /* seconds, default 3600 */
	bool single_use;	    /* default no */
	char *audit_log;	    /* absolute path, or NULL */
	char *replay_dir;	    /* default /run/pam_agent */
	int64_t replay_max_entries; /* default 10000 */
	int64_t replay_agent_quota; /* percent of replay_max_entries one agent may hold, default 10 */
	int64_t escalate_max_age;   /* seconds, default 60 */
	int64_t max_delegation_depth; /* default 0 (no act chain allowed) */
	char *broker_key;	    /* absolute path of the mint signing key, or NULL */
	char *broker_issuer;	    /* "iss" of minted tokens, or NULL: "pam_agent:HOSTNAME" */
	char *broker_jwks;	    /* where the broker's public JWKS is written, or NULL */
	char *helper;		    /* pam_agent_helper, default PA_HELPER_PATH */
	char *state_dir;	    /* default /run/pam_agent */
	int64_t helper_timeout;	    /* seconds, default 30 */
	struct pol_where where;
};

struct pol_trust_domain {
	char *name;   /* "example.org" */
	char *bundle; /* absolute path */
	char *x509_authorities; /* absolute path of a PEM file, or NULL: the bundle's */
	struct pol_where where;
};

struct pol_issuer {
	char *url;	/* exact "iss", https://… */
	char *jwks;	/* absolute path */
	char *audience; /* or NULL: the global audience */
	bool allow_eddsa;
	/* per-issuer limits; when not given, the [global] ones apply */
	int64_t clock_skew, max_token_age;
	bool single_use;
	bool has_clock_skew, has_max_token_age, has_single_use;
	struct pol_where where;
};

struct pol_service {
	char *name;
	enum pol_class cls;
	struct pol_where where;
};

/* One time window of an agent rule, in UTC. */
struct pol_window {
	uint8_t days;	/* bit 0 = Monday … bit 6 = Sunday */
	uint16_t start; /* minutes after 00:00, inclusive */
	uint16_t end;	/* minutes after 00:00, exclusive, start < end <= 1440 */
};

struct pol_agent {
	char *pattern;		/* as written: an id, or a prefix ending in / * or # * */
	bool prefix;		/* pattern ends in "*" */
	struct pol_list users;	/* required: PAM_USER must be one of them */
	/* "SERVICE:USER" words: the users an application may switch PAM_USER
	 * to after the account phase (sudo's run-as user), per service */
	struct pol_list run_as;
	struct pol_list services; /* required: PAM service names */
	struct pol_list rhosts;	/* when has_rhosts: PAM_RHOST must match */
	bool has_rhosts;
	struct pol_list grants; /* grant names, all defined */
	enum pol_class max_class; /* default read */
	int64_t max_session;	  /* seconds, default 3600 */
	bool require_task;
	struct pol_window *hours; /* n_hours == 0: any time */
	size_t n_hours;
	/* what the attested caller must be (docs/attestation.md) */
	char *runtime_unit;		     /* systemd unit, exact or glob, or NULL */
	char *runtime_exe;		     /* executable path, or NULL */
	struct pol_list runtime_exe_sha256;    /* one of these, when any */
	struct pol_list runtime_parent_sha256; /* the parent's executable: one of these */
	bool runtime_allow_deleted; /* an executable whose path is "(deleted)" may match */
	bool has_runtime_uid;
	uid_t runtime_uid;
	struct pol_where where;
};

struct pol_deny {
	char *pattern;
	bool prefix;
	char *reason; /* required */
	struct pol_where where;
};

struct pol_grant {
	char *name;
	enum pol_class cls;
	enum pol_source source;
	char *audience; /* mint (required) */
	char *scope;	/* mint (optional) */
	char *command;	/* exec (required) */
	char *revoke;	/* exec (optional) */
	char *path;	/* file (required, absolute) */
	int64_t ttl;	/* required, seconds > 0 */
	struct pol_where where; /* file is NULL in a decision's copy */
};

struct pol_index; /* hash tables for the lookups below */

/*
 * A complete, validated configuration. Read-only once loaded; shared by
 * reference count (pol_config_ref / pol_config_unref), so a cache can
 * replace it while a caller still holds the old one.
 */
struct pol_config {
	struct pol_global global;
	struct pol_trust_domain *domains;
	size_t n_domains;
	struct pol_issuer *issuers;
	size_t n_issuers;
	struct pol_service *services;
	size_t n_services;
	struct pol_agent *agents;
	size_t n_agents;
	struct pol_deny *denies;
	size_t n_denies;
	struct pol_grant *grants;
	size_t n_grants;
	char **files; /* every file read, in the order read */
	size_t n_files;
	struct pol_index *index;
	unsigned long refs;
};

/* Problems found while loading, each "FILE:LINE: message" or "FILE: message". */
struct pol_errors {
	char **msgs;
	size_t n;
	size_t dropped; /* messages beyond POL_ERRORS_MAX, counted only */
};

#define POL_ERRORS_MAX 200
/* Largest configuration file accepted, in bytes. */
#define POL_FILE_MAX (8 * 1024 * 1024)
/* Most drop-in files read from the drop-in directory. */
#define POL_DROPINS_MAX 1024
/* Hard upper bound of max_delegation_depth, and of act nesting parsed. */
#define POL_DELEGATION_MAX 8

/* Appends one formatted message (bounded; never fails loudly). */
void pol_errors_add(struct pol_errors *e, const char *fmt, ...) PA_PRINTF(2, 3);
/* Frees every message; e is empty and reusable afterwards. */
void pol_errors_clear(struct pol_errors *e);
/* Moves every message of from to the end of to; from is left empty. */
void pol_errors_move(struct pol_errors *to, struct pol_errors *from);

/*
 * Reads main_path and then dropin_dir/ *.conf in strcmp order (dropin_dir
 * may be NULL; a missing directory means no drop-ins). Every file must be a
 * regular file, not a symlink, owned by root or by the effective uid, not
 * group/world-writable and at most POL_FILE_MAX bytes; the drop-in
 * directory must be owned likewise and not group/world-writable.
 * On success returns 0 and *out (one reference). On any problem returns -1,
 * *out NULL, and every problem found appended to errors.
 */
int pol_config_load(const char *main_path, const char *dropin_dir,
		    struct pol_config **out, struct pol_errors *errors);

/*
 * Parses one in-memory document named name (no file checks), with the same
 * rules and messages as pol_config_load. For tests and fuzzing.
 */
int pol_config_parse_text(const char *name, const char *text, size_t len,
			  struct pol_config **out, struct pol_errors *errors);

/* Takes one more reference; returns cfg. NULL is fine. */
struct pol_config *pol_config_ref(struct pol_config *cfg);
/* Drops one reference; frees everything on the last. NULL is fine. */
void pol_config_unref(struct pol_config *cfg);

/* The most specific [agent] rule for id (exact, else longest prefix), or NULL. */
const struct pol_agent *pol_config_match_agent(const struct pol_config *cfg,
					       const char *id);
/* The most specific [deny] rule matching id, or NULL when none matches. */
const struct pol_deny *pol_config_match_deny(const struct pol_config *cfg,
					     const char *id);
/* The [service NAME] section, or NULL. */
const struct pol_service *pol_config_find_service(const struct pol_config *cfg,
						  const char *name);
/* The [grant NAME] section, or NULL. */
const struct pol_grant *pol_config_find_grant(const struct pol_config *cfg,
					      const char *name);

/* Whether tokens of issuer (NULL: a JWT-SVID) are single-use: its own
 * single_use when given, else [global] single_use. */
bool pol_single_use(const struct pol_config *cfg, const char *issuer);

/*
 * Fills *v (which the caller zeroed) with copies of what the identity
 * engine needs: audience, leeway, max token age, trust domains, issuers.
 * Key sets are not loaded (that is id_verifier_load's job). On failure *v
 * holds nothing. The caller clears it with id_verifier_clear.
 */
int pol_config_to_verifier(const struct pol_config *cfg, struct id_verifier *v,
			   char *err, size_t errlen);

/* ---- cache: re-read when changed ------------------------------------------ */

struct pol_cache;

/* A new, empty cache, or NULL when out of memory. */
struct pol_cache *pol_cache_new(void);
/* Frees the cache and drops its reference to the cached config. */
void pol_cache_free(struct pol_cache *cache);

/*
 * Returns 0 and a new reference in *cfg_ref to the configuration as the
 * files are now: the cached one when the main file, the drop-in directory
 * and every drop-in are unchanged (device, inode, size, mode, owner,
 * mtime and ctime in ns), else a freshly parsed one that replaces it.
 * When the files are refused, returns -1, *cfg_ref NULL and the problems in
 * errors; the previous configuration is dropped, never handed out.
 * Thread-safe.
 */
int pol_config_cache_get(struct pol_cache *cache, const char *main_path,
			 const char *dropin_dir, struct pol_config **cfg_ref,
			 struct pol_errors *errors);

/* ---- decision ------------------------------------------------------------- */

/*
 * What attestation found (docs/attestation.md): of the requesting process,
 * and for agent-run of the workload it starts (exe, exe_sha256 of the
 * measured executable; parent_exe_sha256 of the requesting process).
 */
struct pol_runtime {
	const char *absent;	       /* non-NULL: why nothing was attested
					  (a remote login, a failed attestation) */
	const char *subject;	       /* "caller" or "workload": whose exe is below */
	const char *unit;	       /* systemd unit, or NULL when none */
	const char *exe;	       /* executable path, or NULL when unknown */
	const char *exe_sha256;	       /* hex SHA-256 of its content, or NULL */
	bool exe_deleted;	       /* its path is marked "(deleted)" */
	const char *exe_mutable;       /* non-NULL: why its content may still change
					  before it runs (a workload not root-owned) */
	const char *parent_exe_sha256; /* of the parent (the requesting process for
					  the workload), or NULL */
	bool has_uid;
	uid_t uid;
};

struct pol_request {
	const struct id_identity *id; /* verified identity (NULL: none) */
	const char *service;	      /* PAM_SERVICE */
	const char *user;	      /* PAM_USER at authentication and account:
					 the user the agent logs in as */
	const char *rhost;	      /* PAM_RHOST, NULL or "" when local */
	const char *tty;	      /* PAM_TTY (recorded, not a rule input) */
	int64_t now;		      /* seconds since the epoch */
	const struct pol_runtime *runtime; /* NULL: not attested */
	/*
	 * The user the application runs the session as, when it differs from
	 * user (sudo sets PAM_USER to its run-as user before open_session):
	 * the service must be allowed to switch to it by the run_as of every
	 * party's rule. NULL (or equal to user): no run-as request.
	 */
	const char *run_as;
};

struct pol_decision {
	bool allow;
	enum pol_class cls;	 /* the session's class (the service's) */
	int64_t max_session;	 /* seconds: min over subject and actors */
	struct pol_grant *grants; /* copies of the grants to issue */
	size_t n_grants;
	char **reasons;		 /* ordered sentences, untrusted bytes escaped */
	size_t n_reasons;
	char *rule;		 /* pattern of the subject's [agent] rule, or NULL */
	size_t depth;		 /* act chain length */
	bool escalate;		 /* an escalate session: inherits nothing */
	const char *denial;	 /* on deny: the first reason that denied (in reasons) */
	bool run_as_denied;	 /* on deny: that reason is a run-as target not allowed */
	char *user;		 /* copy of the request's user (who was decided for) */
	char *run_as;		 /* copy of the request's run-as user, or NULL */
};

/*
 * Decides req under cfg (cfg NULL = a refused configuration: deny).
 * Always fills *out (which need not be initialised); default deny. Returns
 * 0, or -1 when memory ran out (then out->allow is false). The caller
 * releases *out with pol_decision_clear.
 */
int pol_decide(const struct pol_config *cfg, const struct pol_request *req,
	       struct pol_decision *out);
/* Frees what *d owns and leaves it a zeroed deny. */
void pol_decision_clear(struct pol_decision *d);

/*
 * Whether two grants give the same credential: every field but where
 * (the place in the configuration says nothing about what is granted).
 * tests/unit/test_policy.c stops compiling when a field is added to struct
 * pol_grant, until it is compared here and tested there.
 */
bool pol_grant_equal(const struct pol_grant *a, const struct pol_grant *b);

/*
 * The text `pam-agent explain` prints: the request, the decision, class,
 * session length, grants and every reason, one per line. Heap string, or
 * NULL when out of memory.
 */
char *pol_explain(const struct pol_request *req, const struct pol_decision *d);

/* ---- accounts: the shared-uid boundary (docs/sessions.md) ---------------- */

/*
 * The highest class of credentials the sessions of rule a can hold: the
 * highest class among its services that max_class allows (a service above
 * max_class is refused). POL_CLASS_NONE: the rule can open no session.
 * Classes are the policy's trust levels: an agent entitled to sessions of
 * class C is entitled to credentials of class C, whatever its own grants.
 */
enum pol_class pol_rule_ceiling(const struct pol_config *cfg, const struct pol_agent *a);

/*
 * The uid of login name: through the system's name service (getpwnam_r)
 * when passwd_file is NULL, else from that passwd(5) file (a regular file
 * owned by root or the effective uid, not group/world-writable; for the
 * tests). Returns 0 and *uid; 1 when there is no such user; -1 with err
 * when the lookup failed (a name service that did not answer, an
 * unreadable file): then nobody can tell which uid name is.
 */
int pol_user_uid(const char *passwd_file, const char *name, uid_t *uid, char *err,
		 size_t errlen);

/* ---- internal to the policy engine (shared between its files) -------- */

/*
 * Builds cfg->index from the arrays. When errors is not NULL, a second
 * [agent], [deny], [service] or [grant] section with the same name is
 * reported there ("FILE:LINE: duplicate section …"). Returns 0, or -1 when
 * memory ran out.
 */
int pol_index_build(struct pol_config *cfg, struct pol_errors *errors);
void pol_index_free(struct pol_index *index);

#endif /* PA_POLICY_H */
