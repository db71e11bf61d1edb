/*
 * task.c - a task's budgets and sequences (docs/tasks.md): the limits of
 * the subject's [agent] rule (task.*), narrowed by the token's task_limits
 * claim, against the running counts of the task's ledger; beyond a limit a
 * request is flagged (task.mode = flag) or denied (enforce). An ended task
 * is denied whatever the mode.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

/* The lower of a and b, -1 meaning no limit. */
static int64_t narrower(int64_t a, int64_t b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

/* One limit of the claim: a whole number >= 0 (or absent). 0, or -1 with why. */
static int claim_limit(const json_t *tl, const char *key, int64_t *limit, char *why,
		       size_t whylen)
{
	const json_t *v = json_object_get(tl, key);

	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return pa_err(why, whylen, "task_limits.%s is not a whole number >= 0", key);
	*limit = narrower(*limit, (int64_t)json_integer_value(v));
	return 0;
}

/* The token's forbidden transitions, added to out. */
static int claim_forbid(const json_t *tl, struct pol_task_limits *out, char *why, size_t whylen)
{
	const json_t *f = json_object_get(tl, "forbid"), *w;
	size_t i;

	if (f == NULL)
		return 0;
	if (!json_is_array(f))
		return pa_err(why, whylen, "task_limits.forbid is not an array");
	json_array_foreach(f, i, w) {
		const char *s = json_is_string(w) ? json_string_value(w) : "";

		if (strcmp(s, "escalate_after_read") == 0)
			out->escalate_after_read = true;
		else if (strcmp(s, "above_first_class") == 0)
			out->above_first = true;
		else
			return pa_err(why, whylen, "task_limits.forbid names an unknown transition");
	}
	return 0;
}

int pol_task_limits(const struct pol_agent *a, const struct id_identity *id,
		    struct pol_task_limits *out, char *why, size_t whylen)
{
	const json_t *tl = id != NULL && id->claims != NULL
				   ? json_object_get(id->claims, "task_limits") : NULL;

	memset(out, 0, sizeof(*out));
	out->max_sessions = a != NULL && a->has_task_max_sessions ? a->task_max_sessions : -1;
	out->max_write = a != NULL && a->has_task_max_write ? a->task_max_write : -1;
	out->max_escalate = a != NULL && a->has_task_max_escalate ? a->task_max_escalate : -1;
	out->max_concurrent = a != NULL && a->has_task_max_concurrent ? a->task_max_concurrent : -1;
	out->window = a != NULL && a->has_task_window ? a->task_window : -1;
	out->end = -1;
	if (a != NULL) {
		out->escalate_after_read = pol_list_has(&a->task_forbid, "escalate_after_read");
		out->above_first = pol_list_has(&a->task_forbid, "above_first_class");
	}
	if (tl == NULL)
		return 0;
	if (!json_is_object(tl))
		return pa_err(why, whylen, "the task_limits claim is not a JSON object");
	if (claim_limit(tl, "max_sessions", &out->max_sessions, why, whylen) != 0 ||
	    claim_limit(tl, "max_write", &out->max_write, why, whylen) != 0 ||
	    claim_limit(tl, "max_escalate", &out->max_escalate, why, whylen) != 0 ||
	    claim_limit(tl, "max_concurrent", &out->max_concurrent, why, whylen) != 0 ||
	    claim_limit(tl, "window", &out->window, why, whylen) != 0 ||
	    claim_limit(tl, "end", &out->end, why, whylen) != 0)
		return -1;
	return claim_forbid(tl, out, why, whylen);
}

bool pol_task_limited(const struct pol_agent *a, const struct id_identity *id)
{
	return (a != NULL && (a->has_task_max_sessions || a->has_task_max_write ||
			      a->has_task_max_escalate || a->has_task_max_concurrent ||
			      a->has_task_window || a->task_forbid.n > 0)) ||
	       (id != NULL && id->claims != NULL &&
		json_object_get(id->claims, "task_limits") != NULL);
}

const char *pol_decision_add_reason(struct pol_decision *d, const char *fmt, ...)
{
	char *msg = NULL, **grown;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	grown = realloc(d->reasons, (d->n_reasons + 1) * sizeof(*grown));
	if (grown == NULL) {
		free(msg);
		return NULL;
	}
	d->reasons = grown;
	d->reasons[d->n_reasons++] = msg;
	return msg;
}

void pol_decision_deny(struct pol_decision *d, const char *msg)
{
	d->allow = false;
	if (d->denial == NULL)
		d->denial = msg;
	pol_decision_drop_grants(d);
}

/*
 * The first limit lim that this request (class cls at now) would go
 * beyond, given st, into what; false when none.
 */
static bool beyond(const struct pol_task_limits *lim, const struct pol_task_state *st,
		   enum pol_class cls, int64_t now, char *what, size_t len)
{
	if (lim->max_sessions >= 0 && st->sessions + 1 > lim->max_sessions)
		snprintf(what, len, "max_sessions %lld (%lld already)", (long long)lim->max_sessions,
			 (long long)st->sessions);
	else if (cls == POL_CLASS_WRITE && lim->max_write >= 0 &&
		 st->by_class[POL_CLASS_WRITE] + 1 > lim->max_write)
		snprintf(what, len, "max_write %lld (%lld already)", (long long)lim->max_write,
			 (long long)st->by_class[POL_CLASS_WRITE]);
	else if (cls == POL_CLASS_ESCALATE && lim->max_escalate >= 0 &&
		 st->by_class[POL_CLASS_ESCALATE] + 1 > lim->max_escalate)
		snprintf(what, len, "max_escalate %lld (%lld already)",
			 (long long)lim->max_escalate, (long long)st->by_class[POL_CLASS_ESCALATE]);
	else if (lim->max_concurrent >= 0 && st->open + 1 > lim->max_concurrent)
		snprintf(what, len, "max_concurrent %lld (%lld open)",
			 (long long)lim->max_concurrent, (long long)st->open);
	else if (lim->window >= 0 && st->first > 0 && now > st->first + lim->window)
		snprintf(what, len, "window %llds (the task began %llds ago)",
			 (long long)lim->window, (long long)(now - st->first));
	else if (lim->escalate_after_read && cls == POL_CLASS_ESCALATE &&
		 (st->classes_seen & (1u << POL_CLASS_READ)))
		snprintf(what, len, "forbidden transition escalate_after_read (read was used)");
	else if (lim->above_first && st->first_class > 0 && (int)cls > st->first_class)
		snprintf(what, len, "forbidden transition above_first_class (the first was %s)",
			 pol_class_name((enum pol_class)st->first_class));
	else
		return false;
	return true;
}

int pol_task_apply(const struct pol_config *cfg, const struct pol_request *req,
		   const struct pol_task_state *st, struct pol_decision *d)
{
	const struct pol_agent *a = NULL;
	struct pol_task_limits lim;
	char why[256], what[256];
	const char *msg;
	bool enforce;

	if (cfg == NULL || req->id == NULL || req->id->agent_id == NULL ||
	    req->id->task == NULL || req->id->task[0] == '\0')
		return 0;
	a = pol_config_match_agent(cfg, req->id->agent_id);
	enforce = a == NULL || a->task_mode == NULL || strcmp(a->task_mode, "flag") != 0;
	if (st->ended > 0) {
		msg = pol_decision_add_reason(d, "task ended: %s; no new session of it is allowed",
				 st->ended_why[0] ? st->ended_why : "ended");
		if (msg == NULL)
			return -1;
		pol_decision_deny(d, msg);
		return 0;
	}
	if (pol_task_limits(a, req->id, &lim, why, sizeof(why)) != 0) {
		msg = pol_decision_add_reason(d, "task_limits refused: %s", why);
		if (msg == NULL)
			return -1;
		pol_decision_deny(d, msg);
		return 0;
	}
	if (lim.end >= 0 && req->now >= lim.end) {
		msg = pol_decision_add_reason(d, "task ended: its end time %lld has passed (task_limits.end)",
				 (long long)lim.end);
		if (msg == NULL)
			return -1;
		pol_decision_deny(d, msg);
		return 0;
	}
	if (!d->allow)
		return 0; /* already refused: nothing of the task changes it */
	if (!beyond(&lim, st, d->cls, req->now, what, sizeof(what))) {
		if (pol_task_limited(a, req->id) &&
		    pol_decision_add_reason(d, "task within its budgets: %lld session(s), %lld write, "
			       "%lld escalate, %lld open", (long long)st->sessions,
			       (long long)st->by_class[POL_CLASS_WRITE],
			       (long long)st->by_class[POL_CLASS_ESCALATE],
			       (long long)st->open) == NULL)
			return -1;
		return 0;
	}
	d->task_exceeded = strdup(what);
	msg = pol_decision_add_reason(d, "task_budget_exceeded: %s of [agent %s] (task.mode %s)", what,
			 a != NULL ? a->pattern : "(none)", enforce ? "enforce" : "flag");
	if (d->task_exceeded == NULL || msg == NULL)
		return -1;
	d->task_enforced = enforce;
	if (enforce)
		pol_decision_deny(d, msg);
	return 0;
}

int pol_task_open(const struct pol_config *cfg, const struct id_identity *id,
		  struct pol_task_state *st, char *why, size_t whylen)
{
	const struct pol_agent *a = id != NULL && id->agent_id != NULL
					    ? pol_config_match_agent(cfg, id->agent_id) : NULL;
	struct pol_task_limits lim;
	bool enforce = a == NULL || a->task_mode == NULL || strcmp(a->task_mode, "flag") != 0;

	if (st->ended > 0)
		return pa_err(why, whylen, "task ended: %s; no new session of it is allowed",
			      st->ended_why[0] ? st->ended_why : "ended");
	if (pol_task_limits(a, id, &lim, why, whylen) != 0)
		return -1;
	if (lim.max_concurrent >= 0 && st->open + 1 > lim.max_concurrent) {
		if (enforce)
			return pa_err(why, whylen, "task_budget_exceeded: max_concurrent %lld (%lld "
				      "open) of [agent %s] (task.mode enforce)",
				      (long long)lim.max_concurrent, (long long)st->open,
				      a != NULL ? a->pattern : "(none)");
		st->flagged++;
	}
	st->open++;
	return 0;
}

void pol_task_count(struct pol_task_state *st, const struct pol_decision *d, int64_t now)
{
	if (st->first == 0)
		st->first = now;
	st->last = now;
	if (!d->allow) {
		st->denied++;
		return;
	}
	if (d->task_exceeded != NULL)
		st->flagged++;
	st->sessions++;
	if (d->cls >= POL_CLASS_READ && d->cls <= POL_CLASS_ESCALATE) {
		st->by_class[d->cls]++;
		st->classes_seen |= 1u << d->cls;
		if (st->first_class == 0)
			st->first_class = (int)d->cls;
	}
}
