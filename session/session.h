/*
 * session.h - pam_agent_helper: the protocol between the module and the
 * helper, the client side the module calls (ses_run and the request/reply
 * builders), the bounded child-process exchange both sides share, and the
 * grant sources of the helper program. No PAM headers here.
 *
 * The helper is spawned like unix_chkpwd: an empty environment (only a
 * fixed PATH), descriptors 0/1/2 = request pipe / reply pipe / error
 * pipe and nothing else, argv = { path, NULL }, a deadline after which it
 * is killed. Secrets travel only from the helper into the kernel keyring:
 * never in argv, the environment, the reply or an error message.
 *
 * Request (one JSON object on the helper's stdin, then EOF):
 *
 *   {"op":"open","sid":HEX,"ring":SERIAL,"agent":ID,"task":STR|null,
 *    "scope":STR|null,"act":{…}|null,"user":NAME,"uid":N,
 *    "max_session":SECONDS,"timeout":SECONDS,
 *    "grants":[{"name":N,"class":"read|write|escalate",
 *               "source":"mint|exec|file","audience":STR|null,
 *               "scope":STR|null,"ttl":SECONDS,"command":STR|null,
 *               "revoke":STR|null,"path":STR|null}, …],
 *    "broker":{"key":PATH|null,"issuer":STR,"jwks":PATH|null}}
 *
 *   {"op":"close","sid":HEX,"ring":SERIAL|0,"agent":ID|null,"timeout":SECONDS,
 *    "keys":[{"grant":N,"serial":SERIAL,"expires_at":T,"revoke":CMD|null,
 *             "handle":STR|null}, …]}
 *
 * Reply (one JSON object on the helper's stdout):
 *
 *   open:  {"ok":true,"keys":[{"grant":N,"serial":S,"expires_at":EPOCH,
 *                              "handle":STR|null,"revoke":CMD|null}, …]}
 *          {"ok":false,"error":REASON,"grant":N|null}
 *   close: {"ok":BOOL,"ring_revoked":BOOL,
 *           "results":[{"grant":N,"serial":S,"revoked":BOOL,
 *                       "broker":"ok"|"failed: REASON"|"none",
 *                       "note":STR (optional)}, …]}
 *
 *          Before revoking a serial the helper describes it: only a "user"
 *          key owned by its effective uid named "pam_agent:<grant>" (or the
 *          session's keyring "pam_agent:<sid>", a write-ahead entry) is
 *          revoked. A serial that now names another key (serials are
 *          reused once a key is garbage-collected) is left alone and counts
 *          as revoked (ours is gone); "note" says so.
 *
 * The helper exits 0 after an ok:true reply, 1 after an ok:false reply, 2
 * when it could not reply at all (terminal on stdin, bad usage).
 * docs/helper.md describes the protocol, the grant sources and the broker
 * contract in full.
 */
#ifndef PA_HELPER_H
#define PA_HELPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "identity.h"
#include "keyring.h"
#include "policy.h"

/* Largest request the helper reads, and largest reply the module reads. */
#define SES_REQUEST_MAX (1024 * 1024)
#define SES_REPLY_MAX (1024 * 1024)
/* Largest answer of an exec broker; more and the broker is killed. */
#define SES_BROKER_OUT_MAX (64 * 1024)
/* Longest time one broker command (issue or revoke) may take, in seconds. */
#define SES_BROKER_TIMEOUT 10
/* Largest file grant secret, in bytes. */
#define SES_FILE_MAX (64 * 1024)
/* Longest revoke handle a broker may return, in bytes. */
#define SES_HANDLE_MAX 4096
/* Most grants in one request, most words in one broker command. */
#define SES_GRANTS_MAX 256
#define SES_ARGV_MAX 64
/* The whole environment of the helper and of every broker it runs. */
#define SES_ENV_PATH "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
/* Bytes of a child's stderr kept for error messages. */
#define SES_ERRTEXT_MAX 512

/* ---- bounded exchange with a child program --------------------------------- */

/*
 * One run of a program: input written to its stdin (then EOF), stdout
 * collected up to out_max bytes, stderr collected (first SES_ERRTEXT_MAX
 * bytes) or sent to /dev/null, all within timeout_ms from the spawn.
 */
struct ses_exchange {
	/* filled by the caller */
	const void *in;
	size_t inlen;
	size_t out_max;
	int timeout_ms;
	bool want_stderr;
	/* filled by ses_exchange_run; cleared (wiped) by ses_exchange_clear */
	char *out;	   /* stdout, NUL-terminated, outlen bytes */
	size_t outlen;
	size_t outcap;
	char errtext[SES_ERRTEXT_MAX]; /* stderr, NUL-terminated (raw bytes) */
	bool timed_out;	   /* deadline passed: the process group was killed */
	bool overflow;	   /* more than out_max on stdout: killed */
	bool reaped;	   /* status is known (false: someone else reaped it) */
	int status;	   /* waitpid status when reaped */
};

/*
 * Runs argv[0] (an absolute path; no PATH search, no shell) with argv, the
 * working directory "/" (never the caller's; a failing chdir fails the
 * run), an environment of SES_ENV_PATH only, default signal dispositions, an empty
 * signal mask, its own process group, stdin/stdout/stderr as described
 * above and every other descriptor closed. Safe inside a PAM module: it
 * changes no signal disposition and no global state (SIGPIPE is blocked
 * only in the calling thread while it writes, and a SIGPIPE it caused is
 * consumed), and does not rely on SIGCHLD (a child reaped by someone else
 * leaves reaped false). On timeout or overflow the child's process group
 * is killed with SIGKILL. Returns 0 when the program ran (the outcome is
 * in *x), -1 with err when it could not be started. The caller always
 * calls ses_exchange_clear.
 */
int ses_exchange_run(const char *const argv[], struct ses_exchange *x, char *err, size_t errlen);

/* Wipes and frees the collected output; *x may be reused. */
void ses_exchange_clear(struct ses_exchange *x);

/*
 * Describes how the run ended ("exited with status 1", "was killed by
 * signal 9", "timed out after 10s", "wrote more than 65536 bytes") into
 * buf. Returns buf.
 */
const char *ses_exchange_describe(const struct ses_exchange *x, char *buf, size_t len);

/* Whether the run ended with exit status 0 (and no timeout or overflow). */
bool ses_exchange_ok(const struct ses_exchange *x);

/* ---- client side: what the module calls ------------------------------------ */

/*
 * Runs the helper at helper_path with request on its stdin and returns its
 * reply object in *reply (new reference, the caller decrefs): any object
 * with a boolean "ok", parsed with duplicate names rejected. Fails (-1,
 * *reply NULL) when the helper cannot run, times out ("helper timed out
 * after Ns"; it is killed), answers more than SES_REPLY_MAX bytes, answers
 * no valid reply (the reason names its exit status and the first line of
 * its stderr), or answers ok:true with a non-zero exit status.
 */
int ses_run(const char *helper_path, const json_t *request, int timeout_s, json_t **reply,
	   char *err, size_t errlen);

/*
 * ses_run over the unix socket of pam_agent_helperd (helper_socket in
 * [global]) instead of a spawned helper: the request written, the write
 * side shut, the reply read to EOF, all within timeout_s, at most
 * SES_REPLY_MAX bytes, parsed as ses_run does. Every failure (no
 * service, a refused peer, a timeout, no valid reply) is -1 with a reason
 * naming the socket; nothing is spawned instead.
 */
int ses_run_socket(const char *socket_path, const json_t *request, int timeout_s,
		   json_t **reply, char *err, size_t errlen);

/* ses_run_socket when helper_socket is set, else ses_run of helper_path. */
int ses_call(const char *helper_path, const char *helper_socket, const json_t *request,
	     int timeout_s, json_t **reply, char *err, size_t errlen);

/* What the module knows when it opens a session. */
struct ses_open_args {
	const char *sid;		 /* session id, lowercase hex */
	int32_t ring;			 /* the per-session keyring */
	const struct id_identity *id;	 /* agent id, task, scope, act */
	const char *user;		 /* PAM_USER */
	uid_t uid;			 /* its uid */
	const struct pol_decision *decision; /* grants and max_session */
	const struct pol_global *global; /* broker_*, helper_timeout */
};

/* One key the helper placed, as the module keeps it. Owns its strings. */
struct ses_key {
	char *grant;
	int32_t serial;
	int64_t expires_at; /* epoch seconds */
	char *handle;	    /* broker revoke handle, or NULL */
	char *revoke;	    /* revoke command of an exec grant, or NULL */
};

struct ses_keys {
	struct ses_key *v;
	size_t n;
};

/* Frees what k owns; k is empty afterwards. */
void ses_keys_clear(struct ses_keys *k);

/*
 * The open request for a, or NULL with err. broker.issuer is
 * global->broker_issuer or, when unset, "pam_agent:" + the host name.
 */
json_t *ses_open_request(const struct ses_open_args *a, char *err, size_t errlen);

/*
 * Checks an open reply against the decision it answers. ok:true must list
 * exactly the decision's grants, in order, each with a serial > 0; they are
 * copied into *out. ok:false gives -1 with err "grant NAME: REASON" (or
 * REASON alone) and the grant name in failed (size failedlen, may be 0;
 * "" when none). A malformed reply is -1 with err too.
 */
int ses_open_reply_parse(const json_t *reply, const struct pol_decision *d, struct ses_keys *out,
			char *failed, size_t failedlen, char *err, size_t errlen);

/* The keys as the JSON array of the close request and the state file. */
json_t *ses_keys_to_json(const struct ses_keys *k);
/* Reads such an array back (strictly). Returns 0 or -1 with err. */
int ses_keys_from_json(const json_t *arr, struct ses_keys *out, char *err, size_t errlen);

/* The close request (agent may be NULL; ring 0 when unknown), or NULL. */
json_t *ses_close_request(const char *sid, int32_t ring, const char *agent,
			 const struct ses_keys *keys, int timeout_s);

/* What close did for one key. */
struct ses_close_result {
	char *grant;
	int32_t serial;
	bool revoked;
	char *broker; /* "ok", "failed: …" or "none" */
	char *note;   /* why the key was not revoked in the kernel, or NULL */
};

struct ses_close_results {
	struct ses_close_result *v;
	size_t n;
	bool ok;	   /* everything revoked, every broker told */
	bool ring_revoked;
};

void ses_close_results_clear(struct ses_close_results *r);

/* Parses a close reply strictly into *out. Returns 0 or -1 with err. */
int ses_close_reply_parse(const json_t *reply, struct ses_close_results *out, char *err,
			 size_t errlen);

/*
 * The whole open: builds the request, runs global->helper (or asks the
 * service at global->helper_socket, ses_call) with global->helper_timeout, parses the reply into *out. Returns 0, or -1
 * with err (and failed as in ses_open_reply_parse). When it fails for any
 * reason other than an ok:false reply (timeout, crash), the helper may
 * have placed keys before it died: the caller revokes the per-session
 * keyring (kr_session_revoke) in every failure case.
 */
int ses_open(const struct ses_open_args *a, struct ses_keys *out, char *failed, size_t failedlen,
	    char *err, size_t errlen);

/*
 * The whole close: revokes keys and ring and tells the brokers through the
 * helper. Returns 0 when the helper answered (results in *out, out->ok
 * says whether everything worked), -1 with err when it did not.
 */
int ses_close(const char *helper_path, int timeout_s, const char *sid, int32_t ring,
	     const char *agent, const struct ses_keys *keys, struct ses_close_results *out,
	     char *err, size_t errlen);
/* ses_close through the service at helper_socket when it is not NULL (ses_call). */
int ses_close_at(const char *helper_path, const char *helper_socket, int timeout_s,
		 const char *sid, int32_t ring, const char *agent, const struct ses_keys *keys,
		 struct ses_close_results *out, char *err, size_t errlen);

/* ---- the kernel side of a close (session/revoke.c) ------------------------------ */

/*
 * What the session's keyring held when close began (a keyring's payload is
 * the list of the serials linked in it): the ring is revoked only after the
 * keys, so this is what close checks keys against.
 */
struct ses_ring_view {
	int32_t ring; /* 0 when none was named */
	int32_t *ids; /* what is linked in it */
	size_t n;
	int err; /* errno of reading it, 0 when it was read */
};

void ses_ring_view_read(struct ses_ring_view *v, int32_t ring);
void ses_ring_view_clear(struct ses_ring_view *v);

/* What a serial of a close names now. */
enum ses_kcheck {
	SES_KC_OURS,	/* the key placed: "user", our euid, "pam_agent:<grant>", in the ring */
	SES_KC_RING,	/* the session's keyring (a write-ahead entry of the module) */
	SES_KC_GONE,	/* revoked, expired or no key: nothing to revoke */
	SES_KC_OTHER,	/* another key: ours is gone, its serial was reused */
	SES_KC_UNKNOWN, /* cannot tell: not revoked */
};

/*
 * Describes serial before close revokes it. Serials are handed out again
 * once a key is garbage-collected, so a recorded serial may now name
 * someone else's key: only what matches the record — type, owner (the
 * effective uid, as every key placed) and description — and is linked in
 * this session's keyring counts as ours (the description carries no
 * session). why (always set, "" when there is nothing to say) says what
 * else was found.
 */
enum ses_kcheck ses_key_check(int32_t serial, const char *grant, const char *sid,
			      const struct ses_ring_view *ring, char *why, size_t whylen);

/*
 * ses_key_check, then kr_revoke when the serial is ours. Whether the key
 * counts as revoked (gone, or another key now: ours no longer exists);
 * note says why not, or what the serial names now ("" when nothing).
 */
bool ses_key_revoke(int32_t serial, const char *grant, const char *sid,
		    const struct ses_ring_view *ring, char *note, size_t notelen);

/* Whether a key has a broker revoke command (an exec grant): the helper must close. */
bool ses_keys_need_broker(const struct ses_keys *keys);

/*
 * The close of a session whose credentials only the kernel holds (no key
 * with a broker revoke command; -1 otherwise), in the calling process: the
 * same checks and revocations as the helper's close, then the ring. The
 * caller must have the helper's privileges over the keys (the same
 * effective uid). Returns 0 with the results in *out (out->ok says whether
 * everything was revoked), -1 with err when out of memory (every
 * revocation was still attempted).
 */
int ses_close_local(const char *sid, int32_t ring, const struct ses_keys *keys,
		    struct ses_close_results *out, char *err, size_t errlen);

/* ---- helper program internals (session/grants.c) ----------------------------- */

/* The context of an open request that every grant source sees. */
struct ses_grant_ctx {
	const char *sid;
	const char *agent;
	const char *task;  /* or NULL */
	const char *scope; /* the token's scope, or NULL */
	const char *user;
	const json_t *act; /* or NULL */
	int64_t max_session;
	int64_t now; /* epoch seconds at the start of the request */
	const char *broker_key;
	const char *broker_issuer;
	const char *broker_jwks;
	struct id_signer *signer; /* loaded on the first mint grant */
};

/* One grant of an open request. Strings point into the request. */
struct ses_grant {
	const char *name;
	enum pol_source source;
	const char *audience;
	const char *scope;
	const char *command;
	const char *revoke;
	const char *path;
	int64_t ttl;
};

/* An acquired credential. Owns its strings; ses_cred_clear wipes them. */
struct ses_cred {
	char *secret;
	size_t len;
	int64_t expires_at; /* epoch seconds, 0 when the source gave none */
	char *handle;	    /* exec: revoke handle, or NULL */
};

void ses_cred_clear(struct ses_cred *c);

/* The lifetime a grant may have at ctx->now: min(ttl, max_session). */
int64_t ses_grant_ttl(const struct ses_grant_ctx *ctx, const struct ses_grant *g);

/*
 * mint: a JWT signed with the broker key (ES256, P-256 PEM key owned by
 * the effective uid, mode 0600), claims iss, sub, aud, scope, iat, exp =
 * iat + ses_grant_ttl, jti, sid, task, act. Loads the key into ctx->signer
 * on first use and then (re)writes ctx->broker_jwks when set.
 */
int ses_grant_mint(struct ses_grant_ctx *ctx, const struct ses_grant *g, struct ses_cred *out,
		  char *err, size_t errlen);

/*
 * exec: runs the grant's command (split on blanks, no shell) with the JSON
 * context {"agent","task","scope","ttl","sid","grant","user"} on stdin
 * and reads {"secret": STR, "expires_at": EPOCH|RFC3339|null,
 * "revoke_handle": STR|null} from its stdout (at most SES_BROKER_OUT_MAX),
 * within timeout_ms. Non-zero exit, a timeout, too much output, not a JSON
 * object, no non-empty "secret" string or a bad member are failures. Even
 * on failure out->handle is set when the answer carried a revoke handle,
 * so the caller can revoke what was issued. Error messages never quote
 * the broker's output.
 */
int ses_grant_exec(const struct ses_grant_ctx *ctx, const struct ses_grant *g, int timeout_ms,
		  struct ses_cred *out, char *err, size_t errlen);

/*
 * file: the secret in g->path (owned by the effective uid, no group/other
 * permission bits, at most SES_FILE_MAX bytes), one trailing newline
 * removed; an empty secret is a failure.
 */
int ses_grant_file(const struct ses_grant_ctx *ctx, const struct ses_grant *g, struct ses_cred *out,
		  char *err, size_t errlen);

/*
 * Runs a broker revoke command with {"handle","sid","agent","grant"} on
 * stdin within timeout_ms; success is exit status 0 (output ignored).
 * Returns 0 or -1 with err.
 */
int ses_revoke_run(const char *command, const char *handle, const char *sid, const char *agent,
		  const char *grant, int timeout_ms, char *err, size_t errlen);

/*
 * Splits a command line on blanks into a NULL-terminated argv of at most
 * SES_ARGV_MAX words; the first must be an absolute path. The caller frees
 * it with ses_argv_free. Returns 0 or -1 with err.
 */
int ses_split_command(const char *command, char ***argv, char *err, size_t errlen);
void ses_argv_free(char **argv);

/*
 * Parses an expiry: a JSON integer (epoch seconds, > 0) or an RFC 3339
 * string ("2024-06-10T10:00:00Z", optional fraction, "Z" or "+HH:MM").
 * Returns 0 or -1.
 */
int ses_parse_expiry(const json_t *v, int64_t *out);

/*
 * Writes {"keys":[public JWK of s, "use":"sig"]} to path atomically
 * (temporary file in the same directory, mode 0644, fsync, rename).
 * Returns 0 or -1 with err.
 */
int ses_write_jwks(const char *path, const struct id_signer *s, char *err, size_t errlen);

/*
 * Refuses a member of the object o (a request or a reply, or a part of
 * one, named what in the reason) that is not one of the NULL-terminated
 * names: both sides of the protocol check what they are sent this way.
 * Returns 0 or -1 with err.
 */
int ses_check_members(const json_t *o, const char *what, const char *const names[], char *err,
		     size_t errlen);

/*
 * A session record, STATE_DIR/sessions/<sid>: written by the module
 * (pam_agent/session.c), read by `pam-agent sessions` and `reap`
 * (session/record.c has the format; docs/sessions.md).
 */
struct ses_record {
	char name[KR_SID_MAX + 1]; /* the file name it was read from */
	json_t *root;
	const char *sid, *agent, *user, *task; /* point into root; task may be NULL */
	int64_t uid, pid, start_time, opened, expires;
	int32_t ring; /* 0: none */
	struct ses_keys keys;
};

/*
 * Parses the len bytes of the record read from the file name (need not be
 * NUL-terminated) into *rec. Returns 0 (free it with ses_record_clear), or
 * -1 with a one-line reason in err and *rec empty but for its name.
 */
int ses_record_parse(const char *buf, size_t len, const char *name, struct ses_record *rec,
		     char *err, size_t errlen);

/* Frees what rec owns; rec is empty afterwards. */
void ses_record_clear(struct ses_record *rec);

/*
 * The document of the record rec describes (root and name unused; keys may
 * be borrowed), as the module writes it (json_dumps with JSON_COMPACT |
 * JSON_SORT_KEYS: docs/sessions.md), or NULL when out of memory or a
 * string is missing (but task) or not UTF-8.
 */
json_t *ses_record_json(const struct ses_record *rec);

#endif /* PA_HELPER_H */
