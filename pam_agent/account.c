/*
 * account.c - the account phase: the request-time decision for this
 * identity, service, user and host, made from the configuration as it is
 * now, kept on the handle for the session phase.
 */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "module.h"

/* Logs and audits a denial with one reason. */
static int deny(struct pa_call *call, const struct pol_config *cfg,
		const struct id_identity *id, const char *reason, int pamret)
{
	struct aud_event *ev = aud_event_new(AUD_DECISION, AUD_RESULT_DENY, NULL);

	pa_log_failure(call, id != NULL ? id->agent_id : NULL, reason);
	pa_tell(call, reason);
	if (ev != NULL) {
		if (id != NULL)
			aud_event_set_identity(ev, id);
		aud_event_add_reason(ev, reason);
	}
	pa_audit(call, cfg, ev);
	return pamret;
}

/*
 * The task's ledger (docs/tasks.md): counts the decision, which it may
 * flag or deny; a ledger that fails denies (fail closed): -1, reported.
 */
static int task_step(struct pa_call *call, const struct pol_config *cfg,
		     const struct id_identity *id, const struct pol_request *req,
		     struct pol_decision *d)
{
	char err[512], line[700];

	if (pa_task_decide(call, cfg, req, d, err, sizeof(err)) != 0) {
		snprintf(line, sizeof(line), "task ledger: %s", err);
		(void)deny(call, cfg, id, line, PAM_PERM_DENIED);
		return -1;
	}
	pa_task_audit(call, cfg, id, d);
	return 0;
}

int pa_account(struct pa_call *call)
{
	struct pa_context *ctx = pa_context_peek(call->pamh);
	struct pol_config *cfg = NULL;
	struct pol_decision decision;
	struct pol_request req;
	struct aud_event *ev;
	struct passwd pw, *pwp = NULL;
	const char *user = NULL;
	char pwbuf[4096], reasons[1024];
	int64_t now = (int64_t)time(NULL);
	size_t i, o = 0;
	int ret;

	memset(&decision, 0, sizeof(decision));
	if (ctx == NULL || ctx->identity == NULL) {
		if (call->args.optional) {
			pa_debug(call, "no agent identity on this handle; ignoring (optional)");
			return PAM_IGNORE;
		}
		return deny(call, NULL, NULL,
			    "no verified agent identity on this PAM handle (did the auth "
			    "phase run pam_agent and succeed?)", PAM_AUTH_ERR);
	}
	/* an earlier allowing decision on this handle never outlives a new
	 * account phase: only this one's allow may stand */
	pol_decision_clear(&ctx->decision);
	ctx->have_decision = false;
	pa_handoff_forget(call->pamh, ctx, false);
	if (pam_get_item(call->pamh, PAM_USER, (const void **)&user) != PAM_SUCCESS ||
	    user == NULL || getpwnam_r(user, &pw, pwbuf, sizeof(pwbuf), &pwp) != 0 || pwp == NULL)
		return deny(call, NULL, ctx->identity, "target user unknown", PAM_USER_UNKNOWN);
	if (pa_config_load(call, &cfg) != 0)
		return deny(call, NULL, ctx->identity, "configuration refused", PAM_PERM_DENIED);
	if (now >= ctx->identity->exp + cfg->global.clock_skew) {
		ret = deny(call, cfg, ctx->identity, "token expired since authentication",
			   PAM_PERM_DENIED);
		goto out;
	}

	pa_request_fill(call, cfg, ctx->identity, user, now, &req);
	if (pol_decide(cfg, &req, &decision) != 0) {
		ret = deny(call, cfg, ctx->identity, "out of memory while deciding", PAM_BUF_ERR);
		goto out;
	}
	if (task_step(call, cfg, ctx->identity, &req, &decision) != 0) {
		ret = PAM_PERM_DENIED;
		goto out;
	}
	ev = aud_event_new(AUD_DECISION, decision.allow ? AUD_RESULT_ALLOW : AUD_RESULT_DENY, NULL);
	if (ev != NULL) {
		aud_event_set_identity(ev, ctx->identity);
		aud_event_set_decision(ev, &decision);
	}
	if (pa_audit(call, cfg, ev) != 0) {
		ret = PAM_PERM_DENIED;
		goto out;
	}
	reasons[0] = '\0';
	for (i = 0; i < decision.n_reasons && o + 3 < sizeof(reasons); i++) {
		int n = snprintf(reasons + o, sizeof(reasons) - o, "%s%s", i > 0 ? "; " : "",
				 decision.reasons[i]);

		if (n < 0)
			break;
		o += (size_t)n;
	}
	if (!decision.allow) {
		/* the decisive reason first; all of them are in the audit event */
		char line[1400];

		snprintf(line, sizeof(line), "%s (all reasons: %s)",
			 decision.denial != NULL ? decision.denial : "denied", reasons);
		pa_log_failure(call, ctx->identity->agent_id, line);
		pa_tell(call, decision.denial != NULL ? decision.denial : "denied");
		ret = PAM_PERM_DENIED;
		goto out;
	}
	pa_log(call, LOG_INFO, "allowed: class %s, %zu grant(s), max session %llds: %s",
	       pol_class_name(decision.cls), decision.n_grants,
	       (long long)decision.max_session, reasons);
	pol_decision_clear(&ctx->decision);
	ctx->decision = decision;
	ctx->have_decision = true;
	memset(&decision, 0, sizeof(decision));
	/* for a session opened in another process (sshd's keyboard-interactive) */
	if (pa_handoff_offer(call, cfg, ctx, user) != 0) {
		pol_decision_clear(&ctx->decision);
		ctx->have_decision = false;
		ret = deny(call, cfg, ctx->identity, "identity hand-off record not written",
			   PAM_PERM_DENIED);
		goto out;
	}
	ret = PAM_SUCCESS;
out:
	pol_decision_clear(&decision);
	pol_config_unref(cfg);
	return ret;
}
