/*
 * handoff.c - identity across the processes of one application
 * (docs/handoff.md).
 *
 * sshd's keyboard-interactive authentication runs pam_authenticate and
 * pam_acct_mgmt in a forked child, which sends only its PAM environment
 * back to the monitor; pam_setcred and pam_open_session then run in the
 * monitor, where the identity kept with pam_set_data does not exist. So
 * an allowing account phase leaves a single-use, root-only record in
 * STATE_DIR/handoff and puts its handle into the PAM environment
 * (PAM_AGENT_HANDOFF); the first of setcred and open_session removes the
 * handle from the PAM environment (it never reaches the session) and, when
 * the handle of this process has no identity, takes the record, checks
 * what it is bound to and restores identity and decision. The record
 * engine is handoff/handoff.c (handoff/handoff.h).
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_ext.h>

#include "audit.h"
#include "handoff.h"
#include "module.h"

/* state_dir's default (policy/config.c) */
#define HO_DEFAULT_STATE_DIR "/run/pam_agent"

static bool same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int pa_handoff_offer(struct pa_call *call, const struct pol_config *cfg,
		     struct pa_context *ctx, const char *user)
{
	struct ho_record rec;
	char handle[HO_HANDLE_LEN + 1], env[sizeof(HO_ENV) + HO_HANDLE_LEN + 2], err[512];
	int64_t now = (int64_t)time(NULL);
	unsigned long long self_start;

	/* an earlier account phase's record on this handle goes first */
	pa_handoff_forget(call->pamh, ctx, false);
	if (ho_handle_new(handle) != 0) {
		pa_log(call, LOG_CRIT, "no random bytes for a hand-off handle");
		return -1;
	}
	memset(&rec, 0, sizeof(rec));
	rec.service = (char *)pa_item(call->pamh, PAM_SERVICE);
	rec.user = (char *)user;
	rec.rhost = (char *)pa_item(call->pamh, PAM_RHOST);
	rec.tty = (char *)pa_item(call->pamh, PAM_TTY);
	if (rec.service == NULL) {
		pa_log(call, LOG_ERR, "hand-off: no PAM_SERVICE");
		return -1;
	}
	rec.created = now;
	rec.expires = now + HO_TTL;
	rec.pid = (int64_t)getpid();
	rec.pid_start = pa_proc_self_start(&self_start) == 0 && self_start <= INT64_MAX
				? (int64_t)self_start
				: -1;
	rec.ppid = (int64_t)getppid();
	rec.ppid_start = ho_start_time(getppid());
	/* the binding is to processes, pid and start time: the pid alone would be
	 * a recycled pid's to take */
	if (rec.pid_start < 0 || rec.ppid_start < 0) {
		pa_log(call, LOG_ERR, "hand-off: cannot read the start time of process %lld (/proc)",
		       (long long)(rec.pid_start < 0 ? rec.pid : rec.ppid));
		return -1;
	}
	ho_decision_digest(&ctx->decision, rec.decision);
	rec.identity = ctx->identity;
	if (rec.decision[0] == '\0') {
		pa_log(call, LOG_CRIT, "hand-off: out of memory for the decision digest");
		return -1;
	}
	free(ctx->handoff_dir);
	ctx->handoff_dir = strdup(cfg->global.state_dir);
	if (ctx->handoff_dir == NULL) {
		pa_log(call, LOG_CRIT, "out of memory");
		return -1;
	}
	if (ho_write(cfg->global.state_dir, handle, &rec, err, sizeof(err)) != 0) {
		/*
		 * An application running as a user (a screen locker, pamtester
		 * as nobody) cannot write root's state directory, and could
		 * not open a session with credentials from it either: it goes
		 * on without a hand-off, and a session in another process
		 * finds no identity (refused). As root the record is part of
		 * the decision: fail closed.
		 */
		if (geteuid() != 0) {
			pa_debug(call, "no hand-off record (%s): not root, so a session opened in "
				 "another process will find no identity", err);
			pa_overwrite(handle, sizeof(handle));
			return 0;
		}
		pa_log(call, LOG_ERR, "hand-off record not written: %s", err);
		return -1;
	}
	snprintf(env, sizeof(env), HO_ENV "=%s", handle);
	if (pam_putenv(call->pamh, env) != PAM_SUCCESS) {
		ho_remove(cfg->global.state_dir, handle, rec.ppid, rec.ppid_start);
		pa_log(call, LOG_ERR, "cannot set " HO_ENV " in the PAM environment");
		pa_overwrite(env, sizeof(env));
		return -1;
	}
	pa_overwrite(env, sizeof(env));
	memcpy(ctx->handoff, handle, sizeof(ctx->handoff));
	ctx->handoff_pid = getpid();
	ctx->handoff_ppid = rec.ppid;
	ctx->handoff_ppid_start = rec.ppid_start;
	/* an allowing account phase in this process supersedes an earlier refused hand-off */
	ctx->handoff_refused = false;
	pa_overwrite(handle, sizeof(handle));
	pa_debug(call, "hand-off record written for the session phase (%.8s…)", ctx->handoff);
	return 0;
}

void pa_handoff_drop(pam_handle_t *pamh)
{
	if (pam_getenv(pamh, HO_ENV) != NULL)
		(void)pam_putenv(pamh, HO_ENV);
}

void pa_handoff_forget(pam_handle_t *pamh, struct pa_context *ctx, bool silent)
{
	const char *value;

	if (ctx->handoff[0] == '\0')
		return;
	if (ctx->handoff_dir != NULL && !silent && ctx->handoff_pid == getpid())
		ho_remove(ctx->handoff_dir, ctx->handoff, ctx->handoff_ppid,
			  ctx->handoff_ppid_start);
	/* and its handle, when it still names this record */
	if (pamh != NULL && (value = pam_getenv(pamh, HO_ENV)) != NULL &&
	    strcmp(value, ctx->handoff) == 0)
		(void)pam_putenv(pamh, HO_ENV);
	pa_overwrite(ctx->handoff, sizeof(ctx->handoff));
	ctx->handoff_pid = 0;
	ctx->handoff_ppid = 0;
}

/* Logs and audits a refused hand-off; the reason names the handle's first 8 digits. */
static int refuse(struct pa_call *call, const struct pol_config *cfg,
		  const struct id_identity *id, const char *handle, const char *why)
{
	struct aud_event *ev = aud_event_new(AUD_DECISION, AUD_RESULT_DENY, NULL);
	char reason[900];

	snprintf(reason, sizeof(reason), "identity hand-off %.8s… refused: %s", handle, why);
	pa_log_failure(call, id != NULL ? id->agent_id : NULL, reason);
	pa_tell(call, "identity hand-off refused");
	if (ev != NULL) {
		if (id != NULL)
			aud_event_set_identity(ev, id);
		aud_event_add_reason(ev, reason);
	}
	pa_audit(call, cfg, ev);
	return PAM_PERM_DENIED;
}

/* What binds the record, against this handle and process; 0 or -1 with why. */
static int check_binding(struct pa_call *call, const struct pol_config *cfg,
			 const struct ho_record *rec, int64_t now, char *why, size_t len)
{
	const char *service = pa_item(call->pamh, PAM_SERVICE);
	const char *user = pa_item(call->pamh, PAM_USER);
	const char *rhost = pa_item(call->pamh, PAM_RHOST);
	const char *tty = pa_item(call->pamh, PAM_TTY);
	char a[PA_ESCAPE_MAX], b[PA_ESCAPE_MAX];
	pid_t me = getpid();
	int64_t start = ho_start_time(me);

#define SHOW(s, buf) ((s) == NULL ? "(unset)" : pa_escape((s), strlen(s), (buf), sizeof(buf)))
	if (now >= rec->expires)
		return pa_err(why, len, "expired %llds ago (a record is good for %d s)",
			      (long long)(now - rec->expires), HO_TTL);
	if (!same_str(rec->service, service))
		return pa_err(why, len, "written for service %s, presented to service %s",
			      SHOW(rec->service, a), SHOW(service, b));
	if (!same_str(rec->user, user))
		return pa_err(why, len, "written for user %s, presented for user %s",
			      SHOW(rec->user, a), SHOW(user, b));
	if (!same_str(rec->rhost, rhost))
		return pa_err(why, len, "written for rhost %s, presented from rhost %s",
			      SHOW(rec->rhost, a), SHOW(rhost, b));
	if (!same_str(rec->tty, tty))
		return pa_err(why, len, "written for tty %s, presented on tty %s",
			      SHOW(rec->tty, a), SHOW(tty, b));
#undef SHOW
	/* the parent of the process that wrote it: the writer itself has the
	 * identity in its own handle, or dropped it (a failed re-authentication) */
	if (start < 0 || rec->ppid_start < 0)
		return pa_err(why, len, "the start time of process %ld cannot be read (/proc), so "
			      "it cannot be told from an earlier process with the same pid",
			      (long)me);
	if (me != (pid_t)rec->ppid || start != rec->ppid_start)
		return pa_err(why, len,
			      "presented by process %ld, which is not the parent (process %lld) "
			      "of the process that wrote it (%lld)",
			      (long)me, (long long)rec->ppid, (long long)rec->pid);
	if (now >= rec->identity->exp + cfg->global.clock_skew)
		return pa_err(why, len, "token expired since authentication");
	return 0;
}

/* Takes the record of handle and restores identity and decision into ctx. */
static int restore(struct pa_call *call, struct pa_context *ctx, const char *handle)
{
	struct pol_config *cfg = NULL;
	struct pol_decision d;
	struct pol_request req;
	struct ho_record rec;
	struct aud_event *ev;
	char err[512], digest[65], reason[700];
	int64_t now = (int64_t)time(NULL);
	int r, ret;

	memset(&d, 0, sizeof(d));
	memset(&rec, 0, sizeof(rec));
	if (pa_config_load(call, &cfg) != 0)
		return refuse(call, NULL, NULL, handle, "configuration refused");
	r = ho_take(cfg->global.state_dir, handle, &rec, err, sizeof(err));
	if (r != HO_TAKEN) {
		snprintf(reason, sizeof(reason), "%s%s", err,
			 r == HO_MISSING ? " (forged, or expired and removed)"
			 : r == HO_USED	 ? " (a replay)"
					 : "");
		ret = refuse(call, cfg, NULL, handle, reason);
		goto out;
	}
	if (check_binding(call, cfg, &rec, now, err, sizeof(err)) != 0) {
		ret = refuse(call, cfg, rec.identity, handle, err);
		goto out;
	}
	/* the account phase's decision, made again here: the same or nothing */
	memset(&req, 0, sizeof(req));
	req.id = rec.identity;
	req.service = rec.service;
	req.user = rec.user;
	req.rhost = rec.rhost;
	req.tty = rec.tty;
	req.now = now;
	req.runtime = pa_runtime(call, cfg);
	if (pol_decide(cfg, &req, &d) != 0) {
		ret = refuse(call, cfg, rec.identity, handle, "out of memory while deciding");
		goto out;
	}
	ho_decision_digest(&d, digest);
	if (!d.allow || digest[0] == '\0' || strcmp(digest, rec.decision) != 0) {
		snprintf(reason, sizeof(reason),
			 "decision changed since the account phase in process %lld (configuration "
			 "or clock: %s)",
			 (long long)rec.pid,
			 !d.allow ? (d.denial != NULL ? d.denial : "it now denies")
				  : "class, length or grants differ");
		ret = refuse(call, cfg, rec.identity, handle, reason);
		goto out;
	}
	snprintf(reason, sizeof(reason),
		 "identity handed over from the account phase of process %lld (hand-off %.8s…)",
		 (long long)rec.pid, handle);
	ev = aud_event_new(AUD_DECISION, AUD_RESULT_ALLOW, NULL);
	if (ev != NULL) {
		aud_event_set_identity(ev, rec.identity);
		aud_event_set_decision(ev, &d);
		aud_event_add_reason(ev, reason);
	}
	if (pa_audit(call, cfg, ev) != 0) {
		ret = PAM_PERM_DENIED;
		goto out;
	}
	id_identity_free(ctx->identity);
	ctx->identity = rec.identity;
	rec.identity = NULL;
	pol_decision_clear(&ctx->decision);
	ctx->decision = d;
	ctx->have_decision = true;
	memset(&d, 0, sizeof(d));
	pa_log(call, LOG_INFO, "%s", reason);
	ret = PAM_SUCCESS;
out:
	pol_decision_clear(&d);
	ho_record_clear(&rec);
	pol_config_unref(cfg);
	return ret;
}

/*
 * No handle in the PAM environment and no identity on this handle: was an
 * identity handed to this process all the same? A module, a user's
 * ~/.pam_environment (pam_env user_readenv=1) or the application may have
 * dropped PAM_AGENT_HANDOFF on its way from the authenticating child; the
 * session would then open without the account phase's keys, limits and
 * audit. ho_write left a marker named after this process (pid and start
 * time) next to the record: while it is there, no session without the
 * identity. PAM_SUCCESS when nothing waits, else a logged refusal.
 */
static int check_pending(struct pa_call *call)
{
	struct pol_config *cfg = NULL;
	struct pa_context *ctx;
	struct aud_event *ev;
	char err[512], reason[700];
	const char *state_dir = HO_DEFAULT_STATE_DIR;
	int64_t start;
	int r;

	/*
	 * A session-only caller (cron) may run pam_agent with no configuration
	 * at all; it is not refused for that, and not logged at each run. A
	 * configuration that does not load (no account phase could write a
	 * record with it) leaves the default state directory to look in.
	 */
	if (pa_config_load_quiet(call, &cfg) == 0)
		state_dir = cfg->global.state_dir;
	start = ho_start_time(getpid());
	if (start < 0) {
		snprintf(err, sizeof(err), "the start time of process %ld cannot be read (/proc)",
			 (long)getpid());
		r = -1;
	} else {
		r = ho_pending(state_dir, getpid(), start, err, sizeof(err));
	}
	if (r == 0 || (r < 0 && geteuid() != 0)) {
		/* not root: root's state directory is not ours to check, and no
		 * record of root's is meant for a process that is not root */
		if (r < 0)
			pa_debug(call, "no identity hand-off checked (%s): not root", err);
		pol_config_unref(cfg);
		return PAM_SUCCESS;
	}
	if (r > 0)
		snprintf(reason, sizeof(reason),
			 "identity hand-off refused: an agent identity was handed to this process, but "
			 "its hand-off handle is missing from the PAM environment (removed by a module, "
			 "a ~/.pam_environment, or the application)");
	else
		snprintf(reason, sizeof(reason),
			 "identity hand-off refused: cannot tell whether an agent identity was handed "
			 "to this process: %s", err);
	ctx = pa_context_get(call);
	if (ctx != NULL)
		ctx->handoff_refused = true;
	pa_log_failure(call, NULL, reason);
	pa_tell(call, "identity hand-off refused");
	ev = aud_event_new(AUD_DECISION, AUD_RESULT_DENY, NULL);
	if (ev != NULL)
		aud_event_add_reason(ev, reason);
	(void)pa_audit(call, cfg, ev); /* refused already: a failed audit changes nothing */
	pol_config_unref(cfg);
	return PAM_PERM_DENIED;
}

int pa_handoff_claim(struct pa_call *call)
{
	struct pa_context *ctx = pa_context_peek(call->pamh);
	const char *value = pam_getenv(call->pamh, HO_ENV);
	char handle[HO_HANDLE_LEN + 1], shown[PA_ESCAPE_MAX];
	int ret;

	if (value == NULL) {
		if (ctx != NULL && ctx->handoff_refused) {
			pa_log_failure(call, NULL, "the identity hand-off presented to this handle "
				       "was refused: no session");
			return PAM_PERM_DENIED;
		}
		if (ctx != NULL && ctx->identity != NULL)
			return PAM_SUCCESS;
		return check_pending(call);
	}
	if (!ho_handle_valid(value)) {
		pa_escape(value, strlen(value), shown, sizeof(shown));
		if (pam_putenv(call->pamh, HO_ENV) != PAM_SUCCESS) {
			pa_log(call, LOG_CRIT, "cannot remove " HO_ENV " from the PAM environment");
			return PAM_SYSTEM_ERR;
		}
		if (ctx != NULL && ctx->identity != NULL) {
			pa_log(call, LOG_NOTICE, "ignoring a malformed " HO_ENV " (\"%.8s…\"): "
			       "this handle has its own identity", shown);
			return PAM_SUCCESS;
		}
		ctx = pa_context_get(call);
		if (ctx != NULL)
			ctx->handoff_refused = true;
		return refuse(call, NULL, NULL, shown, "not a hand-off handle (forged)");
	}
	memcpy(handle, value, sizeof(handle));
	/* never into the session's environment, whatever happens next */
	if (pam_putenv(call->pamh, HO_ENV) != PAM_SUCCESS) {
		pa_log(call, LOG_CRIT, "cannot remove " HO_ENV " from the PAM environment");
		pa_overwrite(handle, sizeof(handle));
		return PAM_SYSTEM_ERR;
	}
	if (ctx != NULL && ctx->identity != NULL) {
		/* one process: the identity is here; the record is litter */
		if (strcmp(ctx->handoff, handle) == 0) {
			pa_handoff_forget(NULL, ctx, false);
			pa_debug(call, "hand-off not needed: the account phase ran in this process");
		} else {
			pa_log(call, LOG_NOTICE, "ignoring hand-off %.8s…, which this handle did "
			       "not write: it has its own identity", handle);
		}
		pa_overwrite(handle, sizeof(handle));
		return PAM_SUCCESS;
	}
	ctx = pa_context_get(call);
	if (ctx == NULL) {
		pa_overwrite(handle, sizeof(handle));
		return PAM_BUF_ERR;
	}
	ret = restore(call, ctx, handle);
	if (ret != PAM_SUCCESS)
		ctx->handoff_refused = true;
	pa_overwrite(handle, sizeof(handle));
	return ret;
}
