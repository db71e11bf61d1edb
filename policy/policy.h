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
	char *helper_socket;	    /* pam_agent_helperd's socket, or NULL: spawn the helper */
	char *state_dir;	    /* default /run/pam_agent */
	int64_t helper_timeout;	    /* seconds, default 30 */
	/* agent accounts (docs/nss.md): none unless uid_range is set */
	char *uid_range;	    /* "LO-HI" as written, or NULL */
	uid_t uid_min, uid_max;	    /* parsed from uid_range */
	char *agent_group;	    /* the agents' primary group, default "agents" */
	uid_t agent_gid;	    /* default uid_min */
	bool has_agent_gid;
	char *agent_home;	    /* default /nonexistent; "%n" is the account name */
	char *agent_shell;	    /* default /usr/sbin/nologin */
	int64_t task_ledger_max_entries; /* entries kept per task ledger, default 10000 */
	int64_t task_expire;	    /* seconds an ended task's ledger is kept, default 1 day */
	struct pol_where where;
};

struct pol_trust_domain {
	char *name;   /* "example.org" */
	char *bundle; /* absolute path */
	char *x509_authorities; /* absolute path of a PEM file, or NULL: the bundle's */
	bool require_pop; /* its identities only proven by possession (docs/proof-of-possession.md) */
	/* where `pam-agent bundle fetch` gets the bundle (docs/bundles.md): at most one */
	char *bundle_endpoint;	  /* https:// SPIFFE bundle endpoint (https_web) */
	char *bundle_endpoint_ca; /* PEM roots for it, or NULL: the system's */
	char *bundle_source_dir;  /* spiffe-helper's cert_dir */
	char *bundle_source_file; /* a SPIFFE bundle document (spire-server bundle show) */
	int64_t max_bundle_age;	  /* seconds, with has_max_bundle_age */
	bool has_max_bundle_age;
	struct pol_where where;
};

struct pol_issuer {
	char *url;	/* exact "iss", https://… */
	char *jwks;	/* absolute path */
	char *audience; /* or NULL: the global audience */
	bool allow_eddsa;
	bool require_pop; /* its tokens only with proof of possession */
	/* per-issuer limits; when not given, the [global] ones apply */
	int64_t clock_skew, max_token_age;
	bool single_use;
	bool has_clock_skew, has_max_token_age, has_single_use;
	/* `pam-agent bundle fetch`: OpenID discovery from url, then jwks_uri */
	bool jwks_discovery;
	char *jwks_ca;		/* PEM roots for it, or NULL: the system's */
	int64_t max_bundle_age; /* seconds, with has_max_bundle_age */
	bool has_max_bundle_age;
	struct pol_where where;
};

struct pol_service {
	char *name;
	enum pol_class cls;
	struct pol_where where;
};

/*
 * The budgets and sequences of a task (docs/tasks.md): of an [agent] rule
 * (task.* keys), narrowed by the token's task_limits claim. -1: no limit.
 */
struct pol_task_limits {
	int64_t max_sessions;	/* allowed decisions of the task */
	int64_t max_write;	/* of them, of class write */
	int64_t max_escalate;	/* of them, of class escalate */
	int64_t max_concurrent; /* open sessions at once */
	int64_t window;		/* seconds after the task's first decision */
	int64_t end;		/* the task's end time (epoch), from the token */
	bool escalate_after_read; /* forbid: escalate once read was used */
	bool above_first;	  /* forbid: any class above the first one used */
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
	bool require_pop; /* only identities proven by possession (docs/proof-of-possession.md) */
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
	/* the agent's own account (docs/nss.md): explicit name and uid, or NULL/none */
	char *account;
	bool has_uid;
	uid_t uid;
	/* the task's budgets (docs/tasks.md): task.* keys */
	int64_t task_max_sessions, task_max_write, task_max_escalate, task_max_concurrent;
	int64_t task_window;
	bool has_task_max_sessions, has_task_max_write, has_task_max_escalate,
		has_task_max_concurrent, has_task_window;
	struct pol_list task_forbid; /* escalate_after_read, above_first_class */
	char *task_mode;	     /* "flag" or "enforce" (NULL: enforce) */
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
/* Whether `pam-agent bundle fetch` has a source for d (docs/bundles.md). */
bool pol_trust_domain_fetched(const struct pol_trust_domain *d);
/* The verifier's max_bundle_age of a key set (seconds, 0, or ID_BUNDLE_AGE_AUTO). */
int64_t pol_bundle_age(bool has, int64_t configured, bool fetched);

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
	char *task_exceeded;	 /* a budget or sequence the task went beyond (flag or
				    enforce: docs/tasks.md), or NULL */
	bool task_enforced;	 /* task_exceeded denied the request */
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
/* A deny carries no grants and no session length: drops d's. */
void pol_decision_drop_grants(struct pol_decision *d);
/* Appends a reason to d (printf-style); returns it, or NULL when out of memory. */
const char *pol_decision_add_reason(struct pol_decision *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * Turns d into a deny whose decisive reason is msg (one of its reasons;
 * NULL when adding it ran out of memory: d denies all the same).
 */
void pol_decision_deny(struct pol_decision *d, const char *msg);

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

/* ---- tasks: ledger, budgets, sequences (policy/ledger.c, policy/task.c) ---- */

/* What the ledger knows of one task: running counts, never a scan. */
struct pol_task_state {
	int64_t first, last;	/* times of its first and last decision, 0: none */
	int64_t sessions;	/* allowed decisions */
	int64_t by_class[4];	/* allowed decisions by class (enum pol_class) */
	int64_t open;		/* sessions opened and not yet closed */
	int64_t denied, flagged;
	int first_class;	/* class of its first allowed decision, 0: none */
	unsigned classes_seen;	/* bit (1 << class) for every class allowed */
	int64_t ended;		/* when it ended (revoke, end time), 0: live */
	char ended_why[160];
	int64_t entries, dropped; /* entries written, entries not kept (bound) */
};

/* One ledger entry (docs/tasks.md). */
struct pol_ledger_entry {
	int64_t time;
	const char *event;   /* "decision", "open", "close", "end" */
	const char *service; /* or NULL */
	enum pol_class cls;
	const char *user;    /* the target user, or NULL */
	const char *result;  /* "allow", "deny", "flag", "ok" */
	const char *sid;     /* or NULL */
	const char *note;    /* or NULL */
};

struct pol_ledger;

/* Header size of a ledger file: the summary, padded. */
#define POL_LEDGER_HEADER 4096

/*
 * Opens and locks (flock, exclusive) the ledger of task of agent in
 * STATE_DIR/tasks (root-only), creating it when create. Returns 0 and
 * *out; 1 when it does not exist and !create; -1 with err when it cannot
 * be made, opened, locked or read, or its summary is corrupt.
 */
int pol_ledger_open(const char *state_dir, const char *agent, const char *task, bool create,
		    int64_t max_entries, struct pol_ledger **out, char *err, size_t errlen);
/* Opens and locks the ledger file path (as pam-agent tasks lists them). */
int pol_ledger_open_path(const char *path, int64_t max_entries, struct pol_ledger **out,
			 char *err, size_t errlen);
/* The summary of an open ledger (changed by pol_ledger_append). */
struct pol_task_state *pol_ledger_state(struct pol_ledger *l);
const char *pol_ledger_agent(const struct pol_ledger *l);
const char *pol_ledger_task(const struct pol_ledger *l);
/*
 * Appends e (dropped, and counted, beyond max_entries) and writes the
 * summary (*pol_ledger_state, which the caller updated). 0 or -1 with err.
 */
int pol_ledger_append(struct pol_ledger *l, const struct pol_ledger_entry *e, char *err,
		      size_t errlen);
/* Unlocks, closes and frees. NULL is fine. */
void pol_ledger_close(struct pol_ledger *l);
/* STATE_DIR/tasks into buf. */
void pol_ledger_dir(const char *state_dir, char *buf, size_t len);
/* Calls fn for every ledger file of STATE_DIR/tasks (its full path). */
int pol_ledger_each(const char *state_dir, int (*fn)(const char *path, void *arg), void *arg,
		    char *err, size_t errlen);
/* Parses a summary object (explain's --task-state). 0 or -1 with err. */
int pol_task_state_parse(const char *json, struct pol_task_state *st, char *err, size_t errlen);
/* The summary as a new JSON object, or NULL. */
json_t *pol_task_state_json(const struct pol_task_state *st);

/*
 * The limits of a task: rule a's task.* narrowed by the token's
 * task_limits claim (a limit can only be lowered, a forbidden transition
 * only added). 0, or -1 with why (a malformed claim: deny).
 */
int pol_task_limits(const struct pol_agent *a, const struct id_identity *id,
		    struct pol_task_limits *out, char *why, size_t whylen);
/*
 * The ledger's effect on decision d (made by pol_decide for req) given the
 * task's state st: an ended task is denied; a budget or sequence beyond
 * its limit denies (mode enforce) or is flagged (mode flag) in
 * d->task_exceeded; reasons are added. 0, or -1 when memory ran out.
 */
int pol_task_apply(const struct pol_config *cfg, const struct pol_request *req,
		   const struct pol_task_state *st, struct pol_decision *d);
/*
 * A session of the task opens (id's task, state st): refused (-1 with why)
 * when the task ended, its task_limits are malformed, or max_concurrent
 * is reached in enforce mode; else counted open (flagged in flag mode).
 */
int pol_task_open(const struct pol_config *cfg, const struct id_identity *id,
		  struct pol_task_state *st, char *why, size_t whylen);
/* Counts decision d into st (at time now); sessions are counted open by pol_task_open. */
void pol_task_count(struct pol_task_state *st, const struct pol_decision *d, int64_t now);
/* Whether rule a (or the token) sets any task limit. */
bool pol_task_limited(const struct pol_agent *a, const struct id_identity *id);

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

/* ---- agent accounts (docs/nss.md) ------------------------------------------ */

/* Longest account name, bytes (useradd's limit). */
#define POL_ACCOUNT_NAME_MAX 32

/* One agent account, as the NSS database serves it. */
struct pol_account {
	const struct pol_agent *rule; /* the [agent] rule it belongs to */
	char name[POL_ACCOUNT_NAME_MAX + 1];
	uid_t uid;
	gid_t gid;
	char *home; /* agent_home with %n replaced */
	const char *shell; /* cfg's agent_shell */
	bool derived_name, derived_uid;
	char *problem; /* NULL: served; else why it is not (an error of pam-agent check) */
};

struct pol_accounts {
	struct pol_account *v;
	size_t n;
	const char *group; /* cfg's agent_group */
	gid_t gid;
	char *group_problem; /* NULL: the group is served; else why not */
};

/*
 * Whether s is a valid account or group name: [a-z_][a-z0-9_-]*, at most
 * POL_ACCOUNT_NAME_MAX bytes.
 */
bool pol_account_name_ok(const char *s);
/* Parses "LO-HI" (decimal uids, 0 < LO < HI < 2^31). Returns 0 or -1. */
int pol_uid_range_parse(const char *s, uid_t *lo, uid_t *hi);

/*
 * The accounts of cfg (none without uid_range): one per exact [agent]
 * rule (its account, or a name derived from its identity) and per prefix
 * rule that names an account; each with its uid (explicit, or derived
 * from a SHA-256 of the rule's identity into the range). Accounts that
 * collide with each other, and, when check_host, with a name or id of
 * passwd_file or group_file (NULL: /etc/passwd, /etc/group, read as files,
 * never through NSS), get a problem. Returns 0, or -1 with err (out of
 * memory, an unreadable file). The caller frees with pol_accounts_clear.
 */
int pol_accounts_compute(const struct pol_config *cfg, bool check_host, const char *passwd_file,
			 const char *group_file, struct pol_accounts *out, char *err,
			 size_t errlen);
void pol_accounts_clear(struct pol_accounts *acc);

/*
 * The account of rule a under cfg when it has one without a collision
 * inside the configuration: 0 with name (POL_ACCOUNT_NAME_MAX + 1 bytes)
 * and *uid; 1 when it has none (or a colliding one); -1 when memory ran out.
 */
int pol_agent_account(const struct pol_config *cfg, const struct pol_agent *a, char *name,
		      uid_t *uid);

/*
 * Whether user is one of the users of rule a: a name written there, or,
 * for the word "self", the rule's own account (pol_agent_account) when the
 * name service gives that name that account's uid (a real account of the
 * name is never taken for it). "self" is never a user called self.
 */
bool pol_user_allowed(const struct pol_config *cfg, const struct pol_agent *a, const char *user);

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
