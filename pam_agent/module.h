/*
 * module.h - internals of the PAM module pam_agent.so: options, logging,
 * per-handle state. Only the sources in pam_agent/ include this; the engines never do.
 */
#ifndef PA_MODULE_H
#define PA_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

#include <security/pam_modules.h>

#include "session.h"
#include "identity.h"
#include "policy.h"
#include "util.h"

#ifndef PA_DEFAULT_CONFIG
#define PA_DEFAULT_CONFIG "/etc/security/pam_agent.conf"
#endif

/* Name under which the per-handle state is stored with pam_set_data. */
#define PA_DATA_CONTEXT "pam_agent_context"
#define PA_DATA_SESSION "pam_agent_session"

/* Module options from one line of a PAM service file. Owns its strings. */
struct pa_args {
	/* agent_run=PATH: the agent-run whose workload measurement
	 * (PAM_AGENT_WORKLOAD_FD) the module accepts; default the installed one */
	char *agent_run;
	char *config;	     /* config=FILE */
	bool debug;	     /* debug */
	bool optional;	     /* optional: PAM_IGNORE for handles without an agent identity */
	bool quiet;	     /* quiet: no informational log or messages */
	/* passwd_file=PATH: the users of the [agent] rules are looked up in
	 * this passwd(5) file instead of the name service, for the shared-uid
	 * boundary only; for the tests (a root-owned or own file, like config=) */
	char *passwd_file;
	char *token_file;    /* token_file=TEMPLATE (%u = user) */
	bool try_first_pass; /* try_first_pass */
	bool use_first_pass; /* use_first_pass */
};

/*
 * Parses the module arguments into args (cleared first). Unknown options,
 * values on flags, missing values and conflicting options are errors:
 * returns -1 with a message naming the option in err.
 */
int pa_args_parse(int argc, const char **argv, struct pa_args *args,
		  char *err, size_t errlen);
/* Frees the strings args owns and clears it. */
void pa_args_clear(struct pa_args *args);

/* What one call of a pam_sm_* function works with. */
struct pa_call {
	pam_handle_t *pamh;
	const char *phase; /* "auth", "account", ... for log lines */
	int flags;	   /* the pam_sm_* flags (PAM_SILENT) */
	struct pa_args args;
};

/* Logs through pam_syslog at prio; debug messages only with "debug". */
void pa_log(const struct pa_call *call, int prio, const char *fmt, ...)
	PA_PRINTF(3, 4);
void pa_debug(const struct pa_call *call, const char *fmt, ...)
	PA_PRINTF(2, 3);
/* Like pa_log, adding ": " and pam_strerror(pamret). */
void pa_log_pam(const struct pa_call *call, int prio, int pamret,
		const char *fmt, ...) PA_PRINTF(4, 5);
/*
 * The one standard failure line: phase, result, service, user, rhost,
 * agent (all escaped and capped) and the reason.
 */
void pa_log_failure(const struct pa_call *call, const char *agent,
		    const char *reason);
/*
 * Tells the application why, as one PAM_ERROR_MSG "pam_agent: REASON",
 * unless PAM_SILENT or the quiet option. The reason must hold no secret.
 */
void pa_tell(const struct pa_call *call, const char *reason);

/*
 * Starts a call: fills call and parses argv. On a bad option logs the
 * reason at LOG_ERR and returns PAM_SERVICE_ERR; otherwise PAM_SUCCESS.
 * pa_call_end() must follow in both cases.
 */
int pa_call_begin(struct pa_call *call, pam_handle_t *pamh, const char *phase,
		  int flags, int argc, const char **argv);
void pa_call_end(struct pa_call *call);

/* An open pam_agent session (open_session .. close_session). */
struct pa_context;

/*
 * The session phase's own per-handle state (pam_agent/session.c): its own
 * pam_set_data entry, made at the first open, whose destructor revokes a
 * session still open at pam_end. The context (older, so destroyed after
 * it: Linux-PAM destroys entries newest first) only points to it.
 */
struct pa_session {
	unsigned int magic;
	struct pa_context *ctx; /* the handle's context, which points back here */
	bool open;
	char sid[33];	      /* 16 random bytes, hex */
	int32_t ring;	      /* the per-session keyring, 0 when none */
	enum pol_class cls;   /* the decision's class (the decision is gone once open) */
	struct ses_keys keys;  /* what the helper placed */
	char helper[4096];    /* what close needs even when the config changed */
	char helper_socket[108]; /* pam_agent_helperd's socket, "" when the helper is spawned */
	char state_dir[4096];
	int timeout;
	/* the config= of the open, so a pam_end without close_session can
	 * load the audit sink (empty: the default configuration) */
	char config[4096];
	/* the task ledger counts this session as open (docs/tasks.md) */
	bool task_open;
	int64_t task_max_entries;
};

/* State kept across the phases of one PAM handle (pam_set_data). */
/*
 * Who asks (docs/attestation.md): the requesting process, and for
 * agent-run the workload it starts; attested once per handle, at the
 * first decision, by runtime.c.
 */
struct pa_runtime {
	bool done;
	unsigned needs;		  /* what it was attested for (runtime.c's NEED_*) */
	char absent[320];	  /* why nothing was attested, "" when attested */
	struct id_runtime caller; /* the requesting process (and its parent) */
	bool workload;		  /* agent-run handed a measured executable */
	char workload_exe[4096];
	bool workload_deleted;
	char workload_sha256[ID_SHA256_HEX + 1];
	char workload_mutable[160]; /* why its content may change, "" when it cannot */
	struct pol_runtime pol;	    /* what the policy sees; points into the above */
};

struct pa_context {
	unsigned int magic;
	struct id_identity *identity; /* set by a successful auth phase */
	bool have_decision;	      /* set by an allowing account phase */
	struct pol_decision decision;
	struct pa_session *session; /* NULL before the first open (session.c owns it) */
	/* the hand-off record this handle wrote (docs/handoff.md): its
	 * handle, where, and by which process */
	char handoff[33];
	char *handoff_dir;
	pid_t handoff_pid;
	int64_t handoff_ppid, handoff_ppid_start; /* whom its marker names */
	/* a hand-off presented to this handle was refused: no session, even
	 * with "optional" (an application may ignore a failed setcred) */
	bool handoff_refused;
	/* pam_agent's auth phase ran on this handle and failed (no token, a
	 * token the verifier or the policy refused): setcred and open_session
	 * refuse instead of treating the handle as a session-only caller
	 * (docs/configuration.md). The first failure's reason, no secret in it. A
	 * successful authentication clears both. */
	bool auth_failed;
	char auth_failure[256];
	struct pa_runtime runtime;
};

/*
 * The context of this handle, created and registered on first use; NULL
 * (logged) when memory or pam_set_data fails.
 */
struct pa_context *pa_context_get(struct pa_call *call);
/* The context if one exists, without creating it. */
struct pa_context *pa_context_peek(pam_handle_t *pamh);

/*
 * Gets the token for user from PAM_AUTHTOK (use_first_pass/try_first_pass),
 * token_file= or a conversation prompt. *token is a heap string the caller
 * wipes (pa_free_secret); *maybe_cut is set when it came through a channel
 * that cuts at PAM_MAX_RESP_SIZE and has that length. Returns 0 or -1 with
 * a reason in err.
 */
int pa_token_get(struct pa_call *call, const char *user, char **token,
		 bool *maybe_cut, char *err, size_t errlen);

/*
 * Loads the configuration (config= or the default, plus its drop-ins) as
 * the files are now. Returns 0 and a reference, or -1 after logging every
 * problem (the caller denies).
 */
int pa_config_load(struct pa_call *call, struct pol_config **cfg);
/* The same without logging (a caller with its own fallback). */
int pa_config_load_quiet(struct pa_call *call, struct pol_config **cfg);

/* A string PAM item (PAM_SERVICE, PAM_USER, …), or NULL when unset. */
const char *pa_item(pam_handle_t *pamh, int type);

/*
 * The policy request of this call: id, the PAM service, user, rhost and
 * tty of the handle, now; everything else empty (the one place the three
 * phases build it).
 */
void pa_request_fill(const struct pa_call *call, const struct pol_config *cfg,
		     const struct id_identity *id, const char *user, int64_t now,
		     struct pol_request *req);

/*
 * What the policy's runtime.* rules see for this handle: attests the
 * requesting process (and reads agent-run's workload) at the first call,
 * hashing executables only when cfg has a rule that needs a hash.
 * NULL only without a context (out of memory): the rules then deny.
 */
const struct pol_runtime *pa_runtime(const struct pa_call *call, const struct pol_config *cfg);
void pa_runtime_clear(struct pa_runtime *rt);

struct aud_event;
/*
 * Adds the PAM items to ev and writes it (syslog through pam_syslog, and
 * the audit file of cfg when set). Returns 0, or -1 after logging when the
 * audit file could not be written: the caller fails closed. Frees ev.
 */
int pa_audit(struct pa_call *call, const struct pol_config *cfg, struct aud_event *ev);

/* The phases, each returning the PAM code (public.c maps nothing more). */
/*
 * Proof of possession (pop.c, docs/proof-of-possession.md). pa_pop_x509:
 * the X.509-SVID of the compact chain text, verified with v at now, then a
 * challenge its leaf key must answer: 0 with *id (pop set), or -1 with err.
 * pa_pop_token: for a verified token with a "cnf", a challenge the key it
 * binds must answer: 1 proven (id->pop set), 0 no cnf (a bearer token),
 * -1 refused with err.
 */
int pa_pop_x509(struct pa_call *call, const struct pol_config *cfg, const struct id_verifier *v,
		const char *text, int64_t now, struct id_identity **id, char *err, size_t errlen);
int pa_pop_token(struct pa_call *call, const struct pol_config *cfg, struct id_identity *id,
		 char *err, size_t errlen);

int pa_authenticate(struct pa_call *call);
int pa_account(struct pa_call *call);
int pa_open_session(struct pa_call *call);
/*
 * What setcred and open_session answer for a handle without an agent
 * identity (ctx may be NULL): PAM_IGNORE, quietly, when pam_agent's auth
 * never failed on it (a session-only caller such as cron); when it did,
 * PAM_PERM_DENIED with the first failure's reason, or PAM_IGNORE with a
 * notice under "optional".
 */
int pa_no_identity(struct pa_call *call, const struct pa_context *ctx);
int pa_close_session(struct pa_call *call);

/*
 * The identity hand-off (pam_agent/handoff.c, docs/handoff.md).
 * pa_handoff_offer, at the end of an allowing account
 * phase: writes the record and puts its handle into the PAM environment;
 * returns 0, or -1 after logging (the account phase then refuses).
 * pa_handoff_claim, first thing in setcred and open_session: removes the
 * handle from the PAM environment; when this handle has no identity of its
 * own, takes the record and restores identity and decision into the
 * context; with neither identity nor handle, refuses when a record's
 * marker names this process (the handle was removed on its way).
 * Returns PAM_SUCCESS (nothing to do, done, or restored), or the
 * PAM code of a refusal it logged and audited. pa_handoff_forget, from
 * the pam_set_data destructor: removes an untaken record this process
 * wrote, unless silent (a forked child's pam_end).
 */
int pa_handoff_offer(struct pa_call *call, const struct pol_config *cfg,
		     struct pa_context *ctx, const char *user);
int pa_handoff_claim(struct pa_call *call);
void pa_handoff_forget(pam_handle_t *pamh, struct pa_context *ctx, bool silent);
/* Removes PAM_AGENT_HANDOFF from the PAM environment, whatever it holds
 * (setcred and open_session when their options are refused). */
void pa_handoff_drop(pam_handle_t *pamh);

/* pam_agent/task.c: the task ledger (docs/tasks.md) */

/*
 * Counts decision d of req in its task's ledger (nothing when req has no
 * task), which may flag or deny it. 0, or -1 with err when the ledger
 * cannot be opened, locked, read or written: the caller denies.
 */
int pa_task_decide(struct pa_call *call, const struct pol_config *cfg,
		   const struct pol_request *req, struct pol_decision *d, char *err,
		   size_t errlen);
/* Audits task_budget_exceeded when d went beyond a task limit. */
void pa_task_audit(struct pa_call *call, const struct pol_config *cfg,
		   const struct id_identity *id, const struct pol_decision *d);
/*
 * Records the open of session sid in id's task ledger (cfg: refused, -1
 * with err, when the task ended, max_concurrent is reached or the ledger
 * fails), or its close (cfg NULL).
 */
int pa_task_session(const struct pol_config *cfg, const char *state_dir, int64_t max_entries,
		    const struct id_identity *id, const char *sid, const char *user,
		    enum pol_class cls, char *err, size_t errlen);

/*
 * Whether id's task still lives (0), checked again once the session's
 * record is written: `pam-agent revoke` marks a task ended before it looks
 * for its sessions, so an open it did not see ends itself here. -1 with
 * err when the task ended or its ledger cannot be read.
 */
int pa_task_live(const char *state_dir, int64_t max_entries, const struct id_identity *id,
		 char *err, size_t errlen);

/* pam_agent/session_checks.c, used by the session phase (session.c) */

/*
 * Whether the account phase's decision still holds under cfg, made again
 * for run_as (NULL: no run-as): 0, or -1 with what changed in err
 * (*run_as_denied when the run-as target alone is refused).
 */
int pa_decision_holds(struct pa_call *call, const struct pol_config *cfg,
		      const struct pa_context *ctx, const char *run_as, bool *run_as_denied,
		      char *err, size_t errlen);
/*
 * Whether a run-as open of user comes from the user the account phase
 * decided for (PAM_RUSER, when the application set it): 0 or -1 with err.
 */
int pa_run_as_invoker(struct pa_call *call, const struct pa_context *ctx, const char *user,
		      char *err, size_t errlen);
/*
 * Refuses (-1 with err) grants above the lowest ceiling of the other
 * agent rules that may log in as uid: one uid is one principal.
 */
int pa_shared_uid_boundary(const struct pa_call *call, const struct pol_config *cfg,
			   const struct pol_decision *d, const char *user, uid_t uid, char *err,
			   size_t errlen);

#endif /* PA_MODULE_H */
