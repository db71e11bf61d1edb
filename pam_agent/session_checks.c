/*
 * session_checks.c - what must still hold when a session opens, decided
 * again at that moment: the account phase's decision under the
 * configuration as it is now, a run-as target, and the boundary of a uid
 * that several agent rules share (docs/sessions.md).
 */
#include "config.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <security/pam_ext.h>

#include "module.h"

/*
 * The account phase's decision, made again under the configuration as it
 * is now (docs/configuration.md, "Changed during a transaction"): 0 when
 * it is the same decision, -1 with what differs. A configuration changed
 * between account and session never gives the session a grant, a class or
 * a length that the account phase did not decide, nor one that the new
 * configuration no longer allows: the session is refused and starts again.
 */
int pa_decision_holds(struct pa_call *call, const struct pol_config *cfg,
			  const struct pa_context *ctx, const char *run_as, bool *run_as_denied,
			  char *err, size_t errlen)
{
	const struct pol_decision *was = &ctx->decision;
	struct pol_decision now;
	struct pol_request req;
	size_t i;
	int ret = -1;

	*run_as_denied = false;
	pa_request_fill(call, cfg, ctx->identity, was->user, (int64_t)time(NULL), &req);
	req.run_as = run_as;
	if (pol_decide(cfg, &req, &now) != 0) {
		pol_decision_clear(&now);
		return pa_err(err, errlen, "out of memory while deciding");
	}
	if (!now.allow) {
		/* a run-as target the rules do not allow is not a change: say so as is */
		*run_as_denied = now.run_as_denied;
		if (now.run_as_denied)
			pa_err(err, errlen, "%s", now.denial);
		else
			pa_err(err, errlen, "it now denies: %s",
			       now.denial != NULL ? now.denial : "denied");
		goto out;
	}
	if (now.cls != was->cls || now.max_session != was->max_session ||
	    now.n_grants != was->n_grants) {
		pa_err(err, errlen, "class %s, max session %llds, %zu grant(s) now instead of "
		       "%s, %llds, %zu", pol_class_name(now.cls), (long long)now.max_session,
		       now.n_grants, pol_class_name(was->cls), (long long)was->max_session,
		       was->n_grants);
		goto out;
	}
	for (i = 0; i < was->n_grants; i++) {
		const struct pol_grant *a = &was->grants[i], *b = &now.grants[i];

		if (!pol_grant_equal(a, b)) {
			pa_err(err, errlen, "grant %s is no longer granted as it was", a->name);
			goto out;
		}
	}
	ret = 0;
out:
	pol_decision_clear(&now);
	return ret;
}

/*
 * The shared-uid boundary (docs/sessions.md, "Who can read a session's
 * keys"). Every process of a uid can read what any other holds, whatever
 * kernel.yama.ptrace_scope says: /proc/PID/fd/N and /proc/PID/environ need
 * only PTRACE_MODE_READ, which Yama does not restrict; the processes share
 * $HOME, so one plants ~/.profile, ~/.bashrc or usercustomize.py for the
 * next session to run while it holds its keys; and ptrace itself where
 * Yama allows it. A uid is one principal. So, until each agent has an
 * account of its own, credentials of a class above what another [agent]
 * rule that may log in as the same uid can be given (pol_rule_ceiling) are
 * never placed: compared by uid (each of that rule's users looked up,
 * since two names can be one uid), not by name. A name that is no user
 * cannot log in and is skipped; a lookup that fails refuses (nobody can
 * tell whether it is this uid). Returns 0 when the session may go on, -1
 * with the reason in err.
 */
int pa_shared_uid_boundary(const struct pa_call *call, const struct pol_config *cfg,
			       const struct pol_decision *d, const char *user, uid_t uid,
			       char *err, size_t errlen)
{
	enum pol_class mine = POL_CLASS_NONE;
	const char *top = NULL;
	char others[1536], why[512];
	size_t i, k, used = 0, n_others = 0;

	others[0] = '\0';
	for (i = 0; i < d->n_grants; i++)
		if (top == NULL || d->grants[i].cls > mine) {
			mine = d->grants[i].cls;
			top = d->grants[i].name;
		}
	for (i = 0; i < cfg->n_agents; i++) {
		const struct pol_agent *a = &cfg->agents[i];
		enum pol_class c = pol_rule_ceiling(cfg, a);

		/* the session's own rule; a rule that opens no session; one
		 * that may hold credentials of this class anyway */
		if ((d->rule != NULL && strcmp(a->pattern, d->rule) == 0) ||
		    c == POL_CLASS_NONE || c >= mine)
			continue;
		for (k = 0; k < a->users.n; k++) {
			const char *name = a->users.v[k];
			uid_t other;
			int rc = pol_user_uid(call->args.passwd_file, name, &other, why,
					      sizeof(why));

			if (rc < 0)
				return pa_err(err, errlen,
					      "cannot tell whether user %s of [agent %s] (%s:%u, "
					      "at most %s) is uid %lu (%s): %s credentials (grant "
					      "%s) not placed for user %s",
					      name, a->pattern, a->where.file, a->where.line,
					      pol_class_name(c), (unsigned long)uid, why,
					      pol_class_name(mine), top, user);
			if (rc != 0 || other != uid)
				continue;
			n_others++;
			if (used < sizeof(others))
				used += (size_t)snprintf(others + used, sizeof(others) - used,
							 "%s[agent %s] (%s:%u) as user %s, at most %s",
							 n_others > 1 ? "; " : "", a->pattern,
							 a->where.file, a->where.line, name,
							 pol_class_name(c));
			break;
		}
	}
	if (n_others == 0)
		return 0;
	return pa_err(err, errlen,
		      "uid %lu (user %s) is shared with %s; one uid is one principal (its "
		      "processes read each other's /proc/PID/fd, environ, home files): %s "
		      "credentials (grant %s) are not placed on it; give each agent an "
		      "account of its own",
		      (unsigned long)uid, user, others, pol_class_name(mine), top);
}

/*
 * The invoking side of a run-as request (PAM_USER at open is not the user
 * the account phase decided for): the account decision must name its user,
 * and that user must be the application's PAM_RUSER when it set one (sudo
 * and su set it to the invoking user's name). Returns 0, or -1 with the
 * reason in err.
 */
int pa_run_as_invoker(struct pa_call *call, const struct pa_context *ctx, const char *user,
			  char *err, size_t errlen)
{
	const char *ruser = pa_item(call->pamh, PAM_RUSER);
	const char *was = ctx->decision.user;
	char e1[PA_ESCAPE_MAX], e2[PA_ESCAPE_MAX], e3[PA_ESCAPE_MAX];

	if (was == NULL)
		return pa_err(err, errlen, "session refused: the account phase's decision names no "
			      "user, so a session as %s cannot be checked against it",
			      pa_escape(user, strlen(user), e1, sizeof(e1)));
	if (ruser != NULL && ruser[0] != '\0' && strcmp(ruser, was) != 0)
		return pa_err(err, errlen, "session refused: run as %s requested, but PAM_RUSER %s "
			      "is not %s, the user the account phase decided for",
			      pa_escape(user, strlen(user), e1, sizeof(e1)),
			      pa_escape(ruser, strlen(ruser), e2, sizeof(e2)),
			      pa_escape(was, strlen(was), e3, sizeof(e3)));
	return 0;
}
