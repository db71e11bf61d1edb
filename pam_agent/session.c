/*
 * session.c - the session phase: at open, the decision's grants become keys
 * in a per-session keyring (through pam_agent_helper), all or nothing; the
 * session is recorded on the handle and in STATE_DIR/sessions/<sid> for
 * `pam-agent sessions` and `reap`; at close every key is revoked in the
 * kernel and at the brokers, and the record removed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <security/pam_ext.h>

#include "audit.h"
#include "session.h"
#include "keyring.h"
#include "module.h"
#include "pa_json.h"

#define SESSION_MAGIC 0x70617373u /* "pass" */

static int session_close(struct pa_call *call, const struct pol_config *cfg,
			 struct pa_context *ctx, const char *why);

/*
 * pam_set_data destructor of the session state. A session still open at
 * pam_end without close_session is closed here: the credentials must not
 * outlive the handle. It is audited like a close, with the audit sink of
 * the configuration the session was opened with (config=), as it is now.
 * PAM_DATA_SILENT means a forked child is cleaning up its copy of the
 * handle: free memory, change nothing outside. The context this state
 * points to is still there: it was registered before (at the latest by
 * the open that made this state), and Linux-PAM destroys a handle's
 * entries newest first.
 */
static void session_destroy(pam_handle_t *pamh, void *data, int error_status)
{
	struct pa_session *s = data;

	if (s == NULL || s->magic != SESSION_MAGIC)
		return;
	if (s->open && s->ctx != NULL && (error_status & PAM_DATA_SILENT) == 0) {
		struct pa_call call;
		struct pol_config *cfg = NULL;

		memset(&call, 0, sizeof(call));
		call.pamh = pamh;
		call.phase = "session";
		call.args.config = s->config[0] != '\0' ? s->config : NULL;
		if (pa_config_load(&call, &cfg) != 0)
			cfg = NULL;
		session_close(&call, cfg, s->ctx,
			      "pam_end without close_session: revoked when the PAM handle ended");
		pol_config_unref(cfg);
	}
	ses_keys_clear(&s->keys);
	if (s->ctx != NULL && s->ctx->session == s)
		s->ctx->session = NULL;
	s->magic = 0;
	free(s);
}

/*
 * The session state of ctx, emptied for a new open: made and registered
 * (its own pam_set_data entry) at the first open of the handle. NULL when
 * it cannot be made.
 */
static struct pa_session *session_state(struct pa_call *call, struct pa_context *ctx)
{
	struct pa_session *s = ctx->session;

	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s == NULL)
			return NULL;
		if (pam_set_data(call->pamh, PA_DATA_SESSION, s, session_destroy) != PAM_SUCCESS) {
			free(s);
			return NULL;
		}
		ctx->session = s;
	}
	ses_keys_clear(&s->keys);
	memset(s, 0, sizeof(*s));
	s->magic = SESSION_MAGIC;
	s->ctx = ctx;
	return s;
}

/* Start time of this process in clock ticks since boot, or 0. */
static unsigned long long self_start_time(void)
{
	unsigned long long start;

	return pa_proc_self_start(&start) == 0 ? start : 0;
}

/* Makes dir (0700 when created) and checks it is ours and private enough. */
static int ensure_dir(const char *dir, mode_t mode, char *err, size_t errlen)
{
	struct stat st;

	/* there already, but for the first session: created only when missing */
	if (lstat(dir, &st) != 0) {
		if (errno != ENOENT)
			return pa_err(err, errlen, "%s: %s", dir, strerror(errno));
		if (mkdir(dir, mode) != 0 && errno != EEXIST)
			return pa_err(err, errlen, "%s: cannot create: %s", dir, strerror(errno));
		if (lstat(dir, &st) != 0)
			return pa_err(err, errlen, "%s: %s", dir, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) != 0)
		return pa_err(err, errlen, "%s: must be a directory owned by uid %lu, not "
			      "group/world-writable", dir, (unsigned long)geteuid());
	return 0;
}

/* STATE_DIR/sessions/<sid> into buf. */
static void state_path(const char *state_dir, const char *sid, char *buf, size_t len)
{
	snprintf(buf, len, "%s/sessions/%s", state_dir, sid);
}

/*
 * Writes the session record atomically (temporary file, rename), 0600.
 * Durably (fsync'ed) only when it names a broker lease, which outlives a
 * crash of the machine when state_dir does: a record of kernel keys must
 * outlive this process (the reaper acts on it when the application dies),
 * not the machine, whose keys a reboot ends (docs/performance.md,
 * "Durability").
 */
static int write_state(const char *state_dir, const json_t *record, const char *sid,
		       bool durable, char *err, size_t errlen)
{
	char dir[4200], path[4200];
	char *text = NULL;
	int ret;

	snprintf(dir, sizeof(dir), "%s/sessions", state_dir);
	if (ensure_dir(state_dir, 0755, err, errlen) != 0 || ensure_dir(dir, 0700, err, errlen) != 0)
		return -1;
	state_path(state_dir, sid, path, sizeof(path));
	text = pa_json_dumps(record, JSON_COMPACT | JSON_SORT_KEYS);
	if (text == NULL)
		return pa_err(err, errlen, "out of memory");
	/* SID.tmp: the name `pam-agent reap` knows as a temporary record */
	ret = durable ? pa_write_file_atomic(path, ".tmp", text, strlen(text), 0600, err, errlen) :
			pa_write_file_replace(path, ".tmp", text, strlen(text), 0600, err, errlen);
	free(text);
	return ret;
}

/* The session record of ctx (docs/sessions.md), or NULL when out of memory. */
static json_t *session_record(const struct pa_context *ctx, const char *user, uid_t uid,
			      time_t opened)
{
	struct ses_record rec = { .sid = ctx->session->sid, .agent = ctx->identity->agent_id,
				  .user = user, .task = ctx->identity->task, .uid = uid,
				  .pid = getpid(), .start_time = (int64_t)self_start_time(),
				  .opened = opened, .ring = ctx->session->ring,
				  .keys = ctx->session->keys };

	rec.expires = (int64_t)opened + ctx->decision.max_session;
	return ses_record_json(&rec);
}

/*
 * Write-ahead entries: one per exec grant with a revoke command, before any
 * broker is asked, so that a helper or an application killed during the
 * open leaves a record that close or `pam-agent reap` can act on. An entry
 * has no handle yet (the revoke command then gets null; sid and grant name
 * the lease) and carries the ring's serial as its key: that serial never
 * names a "user" key, so the reaper runs the broker revocation itself, and
 * the helper's close revokes the ring, which drops whatever was placed.
 */
static int pending_keys(const struct pa_context *ctx, struct ses_keys *out)
{
	size_t i;

	out->n = 0;
	out->v = calloc(ctx->decision.n_grants, sizeof(*out->v));
	if (out->v == NULL)
		return -1;
	for (i = 0; i < ctx->decision.n_grants; i++) {
		const struct pol_grant *g = &ctx->decision.grants[i];
		struct ses_key *k = &out->v[out->n];

		if (g->source != POL_SOURCE_EXEC || g->revoke == NULL)
			continue;
		out->n++;
		k->serial = ctx->session->ring;
		k->grant = strdup(g->name);
		k->revoke = strdup(g->revoke);
		if (k->grant == NULL || k->revoke == NULL) {
			ses_keys_clear(out);
			return -1;
		}
	}
	return 0;
}

/* Audits one event about the session's keys; -1 when it was not written. */
static int audit_keys(struct pa_call *call, const struct pol_config *cfg, enum aud_kind kind,
		      enum aud_result result, const struct pa_context *ctx, const char *reason)
{
	struct aud_event *ev = aud_event_new(kind, result, NULL);
	size_t i;

	if (ev == NULL)
		return pa_audit(call, cfg, NULL);
	if (ctx->identity != NULL)
		aud_event_set_identity(ev, ctx->identity);
	aud_event_set_session(ev, ctx->session->sid);
	if (ctx->have_decision)
		aud_event_set_class(ev, ctx->decision.cls);
	else if (ctx->session->cls != POL_CLASS_NONE)
		aud_event_set_class(ev, ctx->session->cls);
	for (i = 0; i < ctx->session->keys.n; i++)
		aud_event_add_key(ev, ctx->session->keys.v[i].grant, ctx->session->keys.v[i].serial);
	if (reason != NULL)
		aud_event_add_reason(ev, reason);
	return pa_audit(call, cfg, ev);
}

/* Refuses the open: logged, told to the application, audited. */
static void refuse(struct pa_call *call, const struct pol_config *cfg,
		   const struct pa_context *ctx, const char *reason)
{
	pa_log_failure(call, ctx->identity->agent_id, reason);
	pa_tell(call, reason);
	(void)audit_keys(call, cfg, AUD_CREDENTIAL_PLACED, AUD_RESULT_FAILED, ctx, reason);
}

/* A new session state for ctx: a random id, and what close needs later. */
static int session_begin(struct pa_call *call, const struct pol_config *cfg,
			 struct pa_context *ctx)
{
	unsigned char rnd[16];
	struct pa_session *st = session_state(call, ctx);
	size_t i;

	if (st == NULL) {
		pa_log(call, LOG_CRIT, "out of memory");
		return -1;
	}
	st->cls = ctx->decision.cls;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		pa_log(call, LOG_CRIT, "no random bytes for a session id");
		return -1;
	}
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(st->sid + 2 * i, 3, "%02x", rnd[i]);
	snprintf(st->helper, sizeof(st->helper), "%s", cfg->global.helper);
	st->helper_socket[0] = '\0';
	if (cfg->global.helper_socket != NULL &&
	    snprintf(st->helper_socket, sizeof(st->helper_socket), "%s",
		     cfg->global.helper_socket) >= (int)sizeof(st->helper_socket)) {
		pa_log(call, LOG_ERR, "helper_socket %s: longer than %zu bytes",
		       cfg->global.helper_socket, sizeof(st->helper_socket) - 1);
		return -1;
	}
	snprintf(st->state_dir, sizeof(st->state_dir), "%s", cfg->global.state_dir);
	st->timeout = (int)cfg->global.helper_timeout;
	snprintf(st->config, sizeof(st->config), "%s",
		 call->args.config != NULL ? call->args.config : "");
	st->task_max_entries = cfg->global.task_ledger_max_entries;
	return 0;
}

/* Releases the session's place among its task's open sessions (docs/tasks.md). */
static void task_release(struct pa_call *call, struct pa_context *ctx)
{
	struct pa_session *st = ctx->session;
	char err[512];

	if (st == NULL || !st->task_open)
		return;
	st->task_open = false;
	if (pa_task_session(NULL, st->state_dir, st->task_max_entries, ctx->identity, st->sid,
			    NULL, st->cls, err, sizeof(err)) != 0 && call != NULL)
		pa_log(call, LOG_ERR, "session %s: task ledger: %s", st->sid, err);
}

/* Records the open in the task's ledger: refused when the task has ended or is at max_concurrent. */
static int task_open(struct pa_call *call, const struct pol_config *cfg,
		     struct pa_context *ctx, const char *user)
{
	char err[512], reason[600];

	if (pa_task_session(cfg, ctx->session->state_dir, ctx->session->task_max_entries,
			    ctx->identity, ctx->session->sid, user, ctx->session->cls, err,
			    sizeof(err)) == 0) {
		/* counted open: the close (or the reaper) releases it */
		ctx->session->task_open = ctx->identity->task != NULL &&
					  ctx->identity->task[0] != '\0';
		return 0;
	}
	snprintf(reason, sizeof(reason), "task ledger: %s: session refused", err);
	refuse(call, cfg, ctx, reason);
	return -1;
}

/*
 * What must still hold when the session opens: the token has not expired,
 * a run-as target is allowed, the decision is the one the account phase
 * made, the uid is not shared above its ceiling; then the process gets a
 * new session keyring. -1 when the open is refused (already reported).
 */
static int session_checks(struct pa_call *call, const struct pol_config *cfg,
			  const struct pa_context *ctx, const char *user, uid_t uid, bool run_as)
{
	char err[512], reason[768];
	bool run_as_denied = false;

	/* the token's lifetime bounds every phase, not only auth and account */
	if ((int64_t)time(NULL) >= ctx->identity->exp + cfg->global.clock_skew) {
		refuse(call, cfg, ctx, "token expired since authentication: session refused");
		return -1;
	}
	/*
	 * A run-as request: the application opens the session for another user
	 * than the one the account phase decided for (sudo switches PAM_USER to
	 * its run-as user; docs/applications.md). The decided user must be the
	 * invoking one (PAM_RUSER, when the application set it), and the
	 * decision is made again with the target: run_as must allow it.
	 */
	if (run_as && pa_run_as_invoker(call, ctx, user, err, sizeof(err)) != 0) {
		refuse(call, cfg, ctx, err);
		return -1;
	}
	if (pa_decision_holds(call, cfg, ctx, run_as ? user : NULL, &run_as_denied, err,
			   sizeof(err)) != 0) {
		if (run_as_denied)
			snprintf(reason, sizeof(reason), "session refused: %s", err);
		else
			snprintf(reason, sizeof(reason),
				 "decision changed since the account phase (configuration or "
				 "clock: %s): session refused",
				 err);
		refuse(call, cfg, ctx, reason);
		return -1;
	}
	if (ctx->decision.n_grants > 0 &&
	    pa_shared_uid_boundary(call, cfg, &ctx->decision, user, uid, err, sizeof(err)) != 0) {
		snprintf(reason, sizeof(reason), "session refused: %s", err);
		refuse(call, cfg, ctx, reason);
		return -1;
	}
	/*
	 * Every agent session, granted anything or not, starts from a new
	 * session keyring owned by root (the module's effective uid) with
	 * possessor-only permissions (kr_session_keyring_new): it inherits
	 * nothing from the caller's (a root login's keys, root's @u linked by
	 * pam_keyinit, an earlier session's grants), is charged to root's key
	 * quota, and cannot be linked into the user's keyrings.
	 */
	if (kr_session_keyring_new(err, sizeof(err)) < 0) {
		snprintf(reason, sizeof(reason), "no session keyring, session refused: %s", err);
		refuse(call, cfg, ctx, reason);
		return -1;
	}
	return 0;
}

/*
 * The open the helper did not complete: with no answer naming a grant (the
 * helper crashed, was killed or timed out) what it acquired is unknown, so
 * the session is closed, telling every exec grant's broker, the record
 * staying for the reaper if that fails; otherwise the helper rolled its
 * grants back, and whatever it placed goes with the ring.
 */
static void open_failed(struct pa_call *call, const struct pol_config *cfg,
			struct pa_context *ctx, bool answered)
{
	struct pa_session *st = ctx->session;
	struct ses_keys pending = st->keys;
	char revoke_err[256], path[4200];

	memset(&st->keys, 0, sizeof(st->keys));
	if (!answered) {
		st->keys = pending;
		st->open = true;
		session_close(call, cfg, ctx, "open failed: no answer from the helper");
		return;
	}
	ses_keys_clear(&pending);
	if (kr_session_revoke(st->ring, revoke_err, sizeof(revoke_err)) != 0) {
		/* the record (with its pending entries) stays for the reaper */
		pa_log(call, LOG_ERR, "session %s: %s; record kept for pam-agent reap", st->sid,
		       revoke_err);
		return;
	}
	state_path(st->state_dir, st->sid, path, sizeof(path));
	if (unlink(path) != 0 && errno != ENOENT)
		pa_log(call, LOG_ERR, "session %s: cannot remove %s: %s", st->sid, path,
		       strerror(errno));
}

/*
 * Places the decision's grants: the session's own keyring, a record with
 * the write-ahead entries before any broker is asked, then the helper.
 * -1 when the open is refused (reported, and nothing left half-done).
 */
static int place_grants(struct pa_call *call, const struct pol_config *cfg,
			struct pa_context *ctx, const char *user, uid_t uid, time_t opened)
{
	struct pa_session *st = ctx->session;
	struct ses_open_args args;
	struct ses_keys placed = { 0 };
	char err[512], failed[128], revoke_err[256], reason[768];
	json_t *record;

	if ((st->ring = kr_session_create(st->sid, ctx->decision.max_session, err,
					  sizeof(err))) < 0) {
		st->ring = 0;
		pa_log_failure(call, ctx->identity->agent_id, err);
		pa_tell(call, err);
		return -1;
	}
	record = pending_keys(ctx, &st->keys) == 0 ? session_record(ctx, user, uid, opened) : NULL;
	if (record == NULL || write_state(st->state_dir, record, st->sid,
					  ses_keys_need_broker(&st->keys), err, sizeof(err)) != 0) {
		/* nothing was asked of any broker yet */
		ses_keys_clear(&st->keys);
		if (kr_session_revoke(st->ring, revoke_err, sizeof(revoke_err)) != 0)
			pa_log(call, LOG_ERR, "session %s: %s", st->sid, revoke_err);
		snprintf(reason, sizeof(reason), "session record not written, session refused: %s",
			 record == NULL ? "out of memory" : err);
		refuse(call, cfg, ctx, reason);
		json_decref(record);
		return -1;
	}
	json_decref(record);
	memset(&args, 0, sizeof(args));
	args.sid = st->sid;
	args.ring = st->ring;
	args.id = ctx->identity;
	args.user = user;
	args.uid = uid;
	args.decision = &ctx->decision;
	args.global = &cfg->global;
	failed[0] = '\0';
	if (ses_open(&args, &placed, failed, sizeof(failed), err, sizeof(err)) != 0) {
		snprintf(reason, sizeof(reason), "credentials not placed, session refused: %s", err);
		refuse(call, cfg, ctx, reason);
		open_failed(call, cfg, ctx, failed[0] != '\0');
		ses_keys_clear(&placed);
		return -1;
	}
	ses_keys_clear(&st->keys);
	st->keys = placed;
	return 0;
}

/*
 * Makes the placed session known: its record, the audit event (an action
 * that cannot be audited is not allowed, docs/audit.md), PAM_AGENT_SESSION
 * and PAM_AGENT_EXPIRES in the PAM environment, the log line. -1 when any
 * of it fails (reported; the caller undoes the session).
 */
static int session_publish(struct pa_call *call, const struct pol_config *cfg,
			   struct pa_context *ctx, const char *user, uid_t uid, time_t opened,
			   bool run_as)
{
	struct pa_session *st = ctx->session;
	char err[512], env[128], note[2 * PA_ESCAPE_MAX + 32] = "";
	json_t *record = session_record(ctx, user, uid, opened);

	if (record == NULL || write_state(st->state_dir, record, st->sid,
					  ses_keys_need_broker(&st->keys), err, sizeof(err)) != 0) {
		pa_log_failure(call, ctx->identity->agent_id,
			       record == NULL ? "out of memory for the session record" : err);
		json_decref(record);
		return -1;
	}
	json_decref(record);
	/* a run-as session says for whom it runs: the event's user is the target */
	if (run_as) {
		char e1[PA_ESCAPE_MAX], e2[PA_ESCAPE_MAX];

		snprintf(note, sizeof(note), "run as %s for %s (run_as)",
			 pa_escape(user, strlen(user), e1, sizeof(e1)),
			 pa_escape(ctx->decision.user, strlen(ctx->decision.user), e2, sizeof(e2)));
	}
	if (audit_keys(call, cfg, AUD_CREDENTIAL_PLACED, AUD_RESULT_OK, ctx,
		       run_as ? note : NULL) != 0) {
		pa_log_failure(call, ctx->identity->agent_id,
			       "audit event not written: credentials revoked, session refused");
		pa_tell(call, "audit event not written: session refused");
		return -1;
	}
	snprintf(env, sizeof(env), "PAM_AGENT_SESSION=%s", st->sid);
	if (pam_putenv(call->pamh, env) != PAM_SUCCESS) {
		pa_log(call, LOG_ERR, "cannot set PAM_AGENT_SESSION");
		return -1;
	}
	/* the session's end, for a launcher that ends CMD there (agent-run) */
	snprintf(env, sizeof(env), "PAM_AGENT_EXPIRES=%lld",
		 (long long)opened + (long long)ctx->decision.max_session);
	if (pam_putenv(call->pamh, env) != PAM_SUCCESS) {
		pa_log(call, LOG_ERR, "cannot set PAM_AGENT_EXPIRES");
		return -1;
	}
	st->open = true;
	pa_log(call, LOG_INFO, "session %s opened%s%s: %zu credential(s) in keyring %d, max %llds",
	       st->sid, run_as ? ", " : "", note, st->keys.n, (int)st->ring,
	       (long long)ctx->decision.max_session);
	return 0;
}

/*
 * A task ended by `pam-agent revoke` while this session opened (after
 * task_open, before its record was there to be found): the session ends
 * itself, as revoke would have ended it. -1 when it did (reported).
 */
static int task_still_live(struct pa_call *call, const struct pol_config *cfg,
			   struct pa_context *ctx)
{
	char err[512], reason[600];

	if (pa_task_live(ctx->session->state_dir, ctx->session->task_max_entries, ctx->identity,
			 err, sizeof(err)) == 0)
		return 0;
	snprintf(reason, sizeof(reason), "task ledger: %s: session refused", err);
	pa_log_failure(call, ctx->identity->agent_id, reason);
	pa_tell(call, reason);
	session_close(call, cfg, ctx, reason);
	return -1;
}

static int open_session(struct pa_call *call, struct pa_context *ctx)
{
	struct pol_config *cfg = NULL;
	struct passwd pw, *pwp = NULL;
	char pwbuf[4096];
	const char *user = NULL;
	const time_t opened = time(NULL);
	bool run_as;
	/* never PAM_SESSION_ERR: sudo runs the command after that one
	 * (docs/applications.md); every refusal of an open must stop it */
	int ret = PAM_PERM_DENIED;

	if (pam_get_item(call->pamh, PAM_USER, (const void **)&user) != PAM_SUCCESS ||
	    user == NULL || getpwnam_r(user, &pw, pwbuf, sizeof(pwbuf), &pwp) != 0 || pwp == NULL) {
		pa_log_failure(call, ctx->identity->agent_id, "target user unknown");
		return PAM_USER_UNKNOWN;
	}
	if (pa_config_load(call, &cfg) != 0) {
		pa_log_failure(call, ctx->identity->agent_id, "configuration refused");
		pa_tell(call, "configuration refused");
		return PAM_PERM_DENIED;
	}
	run_as = ctx->decision.user == NULL || strcmp(user, ctx->decision.user) != 0;
	if (session_begin(call, cfg, ctx) != 0 ||
	    session_checks(call, cfg, ctx, user, pw.pw_uid, run_as) != 0 ||
	    task_open(call, cfg, ctx, user) != 0 ||
	    (ctx->decision.n_grants > 0 &&
	     place_grants(call, cfg, ctx, user, pw.pw_uid, opened) != 0))
		goto out;
	if (session_publish(call, cfg, ctx, user, pw.pw_uid, opened, run_as) != 0) {
		/* nothing half-done: the keys go, and the brokers hear of it */
		ctx->session->open = true;
		session_close(call, cfg, ctx, "session refused");
		goto out;
	}
	if (task_still_live(call, cfg, ctx) != 0)
		goto out;
	ret = PAM_SUCCESS;
out:
	if (ret != PAM_SUCCESS)
		task_release(call, ctx);
	pol_config_unref(cfg);
	return ret;
}

int pa_no_identity(struct pa_call *call, const struct pa_context *ctx)
{
	char line[400];

	/*
	 * A session-only caller (cron, or any stack whose authentication was
	 * not pam_agent's): no agent identity on the handle, so there is no
	 * agent session to open and nothing to refuse, with or without
	 * "optional". Quiet: such stacks run all the time.
	 */
	if (ctx == NULL || !ctx->auth_failed) {
		pa_debug(call, "no agent identity on this handle (no pam_agent authentication): "
			 "not an agent session; ignoring");
		return PAM_IGNORE;
	}
	/*
	 * pam_agent's authentication ran on this handle and failed, and the
	 * application goes on (a fallback after "sufficient", an application
	 * that ignores the result, a failed re-authentication that dropped an
	 * earlier identity): not a session-only caller. Refused, unless this
	 * line says "optional" (a stack for humans and agents alike, whose
	 * other modules decide; the failure was already refused and logged by
	 * the auth phase).
	 */
	snprintf(line, sizeof(line), "pam_agent authentication failed on this handle: %s",
		 ctx->auth_failure);
	if (call->args.optional) {
		pa_log(call, LOG_NOTICE, "%s; not an agent session, ignoring (optional)", line);
		return PAM_IGNORE;
	}
	pa_log_failure(call, NULL, line);
	pa_tell(call, "the authentication failed on this handle: refused");
	return PAM_PERM_DENIED;
}

/*
 * An allowing decision is good for one open: whatever the open's outcome,
 * it is cleared afterwards, so neither a second open on the handle nor an
 * open after close places keys without a new account phase (which checks
 * the token's expiry again).
 */
int pa_open_session(struct pa_call *call)
{
	struct pa_context *ctx;
	int ret = pa_handoff_claim(call);

	if (ret != PAM_SUCCESS)
		return ret;
	ctx = pa_context_peek(call->pamh);
	if (ctx != NULL && ctx->session != NULL && ctx->session->open) {
		pa_log(call, LOG_ERR, "session %s is already open on this handle", ctx->session->sid);
		return PAM_PERM_DENIED;
	}
	/* a session-only caller, or a failed pam_agent authentication */
	if (ctx == NULL || ctx->identity == NULL)
		return pa_no_identity(call, ctx);
	if (!ctx->have_decision) {
		pa_log_failure(call, ctx->identity->agent_id,
			       "no allowing policy decision on this handle (the account phase must "
			       "run pam_agent first, once for each session)");
		pa_tell(call, "no policy decision for this session");
		return PAM_PERM_DENIED;
	}
	ret = open_session(call, ctx);
	pol_decision_clear(&ctx->decision);
	ctx->have_decision = false;
	return ret;
}

/*
 * Whether the session's record is gone: `pam-agent revoke` (or reap) has
 * revoked its keys and told its brokers already, so they are not told
 * twice; its keyring is revoked here again all the same (nothing if it
 * already is).
 */
static bool revoked_elsewhere(struct pa_call *call, const struct pa_context *ctx,
			      const char *path)
{
	char kerr[256];

	if (access(path, F_OK) == 0 || errno != ENOENT)
		return false;
	if (ctx->session->ring > 0 &&
	    kr_session_revoke(ctx->session->ring, kerr, sizeof(kerr)) != 0 && call != NULL)
		pa_log(call, LOG_DEBUG, "session %s: %s", ctx->session->sid, kerr);
	return true;
}

/*
 * Revokes the session's keys: here, spawning nothing, when only the kernel
 * holds them (this process has the helper's privileges over them: it is
 * what spawns the helper); through the helper when a broker must be told
 * (exec grants with a revoke command), so that broker commands never run
 * in the application. Returns ses_close's result.
 */
static int close_keys(struct pa_call *call, const struct pa_context *ctx,
		      struct ses_close_results *results, char *err, size_t errlen)
{
	const struct pa_session *st = ctx->session;
	size_t i;

	if (ses_keys_need_broker(&st->keys))
		return ses_close_at(st->helper, st->helper_socket[0] ? st->helper_socket : NULL,
				    st->timeout, st->sid, st->ring,
				    ctx->identity != NULL ? ctx->identity->agent_id : NULL,
				    &st->keys, results, err, errlen);
	if (ses_close_local(st->sid, st->ring, &st->keys, results, err, errlen) != 0)
		return -1;
	for (i = 0; call != NULL && i < results->n; i++)
		if (results->v[i].note != NULL)
			pa_log(call, LOG_WARNING, "session %s, grant %s: %s", st->sid,
			       results->v[i].grant, results->v[i].note);
	return 0;
}

/*
 * Revokes the session's keys (kernel and brokers, through the helper; the
 * kernel alone when the helper fails), removes its record, audits and logs
 * when call is not NULL. Returns 0 when everything was revoked, -1
 * otherwise.
 */
static int session_close(struct pa_call *call, const struct pol_config *cfg,
			 struct pa_context *ctx, const char *why)
{
	struct ses_close_results results;
	char err[512], path[4200];
	size_t i;
	int ret = 0;

	if (ctx->session == NULL || !ctx->session->open)
		return 0;
	memset(&results, 0, sizeof(results));
	state_path(ctx->session->state_dir, ctx->session->sid, path, sizeof(path));
	if (revoked_elsewhere(call, ctx, path)) {
		why = "already revoked by pam-agent revoke or reap (record gone)";
	} else if (ctx->session->keys.n > 0 || ctx->session->ring > 0) {
		if (close_keys(call, ctx, &results, err, sizeof(err)) != 0) {
			/* the kernel part does not need the helper */
			char kerr[256];
			const char *what = ses_keys_need_broker(&ctx->session->keys) ?
						   "helper failed" : "revocation failed";

			ret = -1;
			if (call != NULL)
				pa_log(call, LOG_ERR, "session %s: %s at close (%s); "
				       "revoking in the kernel only", ctx->session->sid, what, err);
			if (kr_session_revoke(ctx->session->ring, kerr, sizeof(kerr)) != 0 &&
			    call != NULL)
				pa_log(call, LOG_ERR, "session %s: %s", ctx->session->sid, kerr);
			if (call != NULL)
				audit_keys(call, cfg, AUD_REVOKE_FAILED, AUD_RESULT_FAILED, ctx, err);
		} else {
			for (i = 0; i < results.n; i++) {
				const struct ses_close_result *r = &results.v[i];
				bool good = r->revoked && strncmp(r->broker, "failed", 6) != 0;

				if (!good) {
					ret = -1;
					if (call != NULL)
						pa_log(call, LOG_ERR, "session %s: grant %s (key %d): "
						       "%s, broker %s", ctx->session->sid, r->grant,
						       (int)r->serial,
						       r->revoked ? "revoked" : "NOT revoked", r->broker);
				}
			}
			if (call != NULL)
				audit_keys(call, cfg, results.ok ? AUD_KEY_REVOKED : AUD_REVOKE_FAILED,
					   results.ok ? AUD_RESULT_OK : AUD_RESULT_FAILED, ctx, why);
		}
	}
	/* a revocation that failed, or a helper that gave no answer: the
	 * record stays, and `pam-agent reap` retries once this process is gone */
	if (ret != 0) {
		if (call != NULL)
			pa_log(call, LOG_ERR, "session %s: record %s kept for pam-agent reap",
			       ctx->session->sid, path);
	} else if (unlink(path) != 0 && errno != ENOENT && call != NULL) {
		pa_log(call, LOG_ERR, "session %s: cannot remove %s: %s", ctx->session->sid, path,
		       strerror(errno));
	}
	if (call != NULL) {
		audit_keys(call, cfg, AUD_SESSION_CLOSED, ret == 0 ? AUD_RESULT_OK : AUD_RESULT_FAILED,
			   ctx, why);
		pa_log(call, ret == 0 ? LOG_INFO : LOG_ERR, "session %s closed (%s)%s",
		       ctx->session->sid, why, ret == 0 ? "" : ": some revocations failed");
	}
	ses_close_results_clear(&results);
	ses_keys_clear(&ctx->session->keys);
	ctx->session->open = false;
	task_release(call, ctx);
	return ret;
}

int pa_close_session(struct pa_call *call)
{
	struct pa_context *ctx = pa_context_peek(call->pamh);
	struct pol_config *cfg = NULL;
	int ret;

	if (ctx == NULL || ctx->session == NULL || !ctx->session->open) {
		pa_debug(call, "no open pam_agent session on this handle");
		return PAM_IGNORE;
	}
	/* the audit file of the configuration as it is now; a refused one
	 * must not stop the revocation */
	if (pa_config_load(call, &cfg) != 0)
		cfg = NULL;
	ret = session_close(call, cfg, ctx, "close_session");
	pol_config_unref(cfg);
	return ret == 0 ? PAM_SUCCESS : PAM_SESSION_ERR;
}
