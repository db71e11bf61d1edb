/*
 * cli.h - internals shared by the subcommands of the pam-agent admin CLI.
 */
#ifndef PA_CLI_H
#define PA_CLI_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "identity.h"
#include "keyring.h"
#include "policy.h"
#include "session.h"

/* Exit codes of every subcommand. */
enum {
	CLI_OK = 0,	/* valid / allowed / done */
	CLI_REJECT = 1, /* token rejected, request denied, problems found */
	CLI_USAGE = 2,	/* usage or configuration error */
};

/* Prints "pam-agent: " + message to stderr; returns CLI_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Reads a token from path ("-" = stdin), at most the identity engine's cap,
 * without surrounding whitespace; a NUL byte anywhere or more input than
 * the cap is a rejected token, as for the module's token_file=. Returns a
 * heap string the caller wipes (pa_free_secret), or NULL after printing
 * why, with *code CLI_REJECT (the input is not a usable token) or
 * CLI_USAGE (it could not be read).
 */
char *cli_read_token(const char *path, int *code);

/* Parses --now EPOCH; returns 0 or -1. */
int cli_parse_epoch(const char *text, int64_t *out);

/* ---- sessions and reap (cli/records.c) ---- */

enum owner { OWNER_ALIVE, OWNER_GONE, OWNER_UNKNOWN };

enum kstate {
	K_LIVE,	   /* the key we placed, still there */
	K_REVOKED, /* revoked (by close_session or an earlier reap) */
	K_EXPIRED, /* its timeout passed */
	K_GONE,	   /* no key has this serial any more */
	K_OTHER,   /* the serial now names another key: ours is gone */
	K_UNKNOWN, /* describing it failed otherwise */
};

/* One run of `sessions` or `reap`. */
struct cli_run {
	struct pol_config *cfg;
	const char *state_dir;
	char sessions_dir[4200];
	int dirfd; /* STATE_DIR/sessions, or -1 when it does not exist */
	bool json;
	bool dry_run;
	bool verbose;
	bool reaping;	 /* reap: also removes stale temporary files */
	size_t problems; /* records that could not be read or reaped */
};

int cli_load_config(const char *path, struct pol_config **out);
int cli_open_state(struct cli_run *r);
int cli_list_records(struct cli_run *r, char ***names, size_t *n);
void cli_free_names(char **names, size_t n);
int cli_record_read(int dirfd, const char *name, struct ses_record *rec, char *err,
		       size_t errlen);
const char *cli_owner_name(enum owner o);
enum owner cli_owner_state(const struct ses_record *rec, char *why, size_t len);
const char *cli_kstate_name(enum kstate s);
enum kstate cli_ring_state(const struct ses_record *rec);
enum kstate cli_cred_state(const struct ses_key *k);
const char *cli_show(const char *s, char *buf, size_t len);
const char *cli_utc(int64_t t, char *buf, size_t len);
void cli_problem(struct cli_run *r, json_t *problems, const char *name, const char *err);
/*
 * Revokes one session (reap.c): its keys and ring through the helper, the
 * broker revocations, audited with why; removes the record when all went
 * well, else keeps in it what is left. 0 or -1 (reported).
 */
int cli_reap_one(struct cli_run *r, const struct ses_record *rec, const char *why);

/* ---- tasks (cli/tasks.c, docs/tasks.md) ---- */

/* Removes the ledgers of tasks ended task_expire ago; returns how many. */
long cli_tasks_expire(const struct pol_config *cfg, int64_t now);
/* Counts a reaped session of a task as closed in its ledger. */
void cli_task_closed(const struct pol_config *cfg, const struct ses_record *rec);

/* ---- runtime: pam-agent attest, explain's --runtime-* (cli/runtime.c) ---- */

/* explain's runtime options (getopt values) */
enum {
	CLI_RT_PID = 1000,
	CLI_RT_UID,
	CLI_RT_EXE,
	CLI_RT_SHA256,
	CLI_RT_PARENT_SHA256,
	CLI_RT_UNIT,
	CLI_RT_WORKLOAD,
};

/* What explain was told of the runtime, and what it attested. */
struct cli_runtime {
	bool given;	    /* any --runtime-* option */
	pid_t pid;	    /* --runtime-pid, 0: none */
	const char *exe, *exe_sha256, *parent_sha256, *unit, *workload;
	bool has_uid;
	uid_t uid;
	struct id_runtime att; /* of pid */
	char workload_sha256[ID_SHA256_HEX + 1];
	char mutable_why[160];
	char absent[320];
};

/* One --runtime-* option: -1 to go on, else the exit code. */
int cli_runtime_option(struct cli_runtime *r, int c, const char *arg);
/*
 * The runtime the module would see: remote (rhost) or attested (pid,
 * workload), then the explicit values. 0, or -1 with err.
 */
int cli_runtime_build(struct cli_runtime *r, const char *rhost, struct pol_runtime *out,
		      char *err, size_t errlen);
void cli_runtime_clear(struct cli_runtime *r);

int cmd_attest(int argc, char **argv);
/* nss.c: the agent accounts part of check (docs/nss.md) */
struct cli_nss_opts {
	const char *db;		 /* the database (default PA_NSS_DB) */
	bool write;		 /* --write-nss-db: compile and replace it */
	const char *passwd_file; /* NULL: /etc/passwd */
	const char *group_file;	 /* NULL: /etc/group */
};
/*
 * Adds to errors every account that is not served and why, and whether
 * the database is missing, corrupt or stale; with o->write, writes it.
 * *n_served: the accounts served. Returns 0, or -1 when nothing could be
 * computed (also in errors).
 */
int cli_check_accounts(const struct pol_config *cfg, const struct cli_nss_opts *o,
		       struct pol_errors *errors, size_t *n_served);

/* ---- bundle fetch|show|check (cli/bundle.c, cli/bundle_src.c, docs/bundles.md) ---- */

/* A trust domain's bundle or an issuer's JWKS, and where it is fetched from. */
struct cli_bundle {
	const char *what;	/* "trust domain" or "issuer" */
	const char *name;	/* its name, or the issuer URL */
	enum id_keyset_kind kind;
	const char *path;	/* the file the module reads */
	const char *endpoint;	/* SPIFFE bundle endpoint (https_web), or NULL */
	const char *issuer_url; /* OpenID discovery from it, or NULL */
	const char *ca;		/* PEM roots for HTTPS, or NULL: the system's */
	const char *source_dir;	 /* spiffe-helper's cert_dir, or NULL */
	const char *source_file; /* a SPIFFE bundle document, or NULL */
	int64_t max_bundle_age;	 /* the verifier's (0, ID_BUNDLE_AGE_AUTO, seconds) */
};

/* What b is fetched from (a URL or path, for messages), or NULL: no source. */
const char *cli_bundle_source(const struct cli_bundle *b);
/*
 * Gets b's document from its source into a heap buffer (at most
 * ID_BUNDLE_MAX bytes): HTTPS through libcurl, or the local files.
 * Returns 0, or -1 with err naming the source and what went wrong.
 */
int cli_bundle_get(const struct cli_bundle *b, char **out, size_t *outlen, char *err,
		   size_t errlen);

enum cli_age { CLI_AGE_FRESH, CLI_AGE_WARN, CLI_AGE_STALE };
/*
 * How old the file of keys is against max_bundle_age at now: fresh, past
 * 3/4 of the limit (warn), or over it (stale: the module refuses its
 * tokens); msg says it in words.
 */
enum cli_age cli_bundle_age(const struct id_keyset *keys, int64_t max_bundle_age, int64_t now,
			    char *msg, size_t len);

int cmd_bundle(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_reap(int argc, char **argv);
int cmd_revoke(int argc, char **argv);
int cmd_tasks(int argc, char **argv);
int cmd_sessions(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_testca(int argc, char **argv);

#endif
