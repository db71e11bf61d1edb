/*
 * task.c - the task ledger in the module (docs/tasks.md): the account
 * phase counts every decision of a task-bound request in its task's
 * ledger, whose state may flag or deny it; the session phase records the
 * open (refused when the task ended in between) and the close. A ledger
 * that cannot be opened, locked, read or written denies: fail closed.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "module.h"

/* Whether id is bound to a task. */
static bool task_bound(const struct id_identity *id)
{
	return id != NULL && id->task != NULL && id->task[0] != '\0';
}

int pa_task_decide(struct pa_call *call, const struct pol_config *cfg,
		   const struct pol_request *req, struct pol_decision *d, char *err,
		   size_t errlen)
{
	struct pol_ledger *l = NULL;
	struct pol_ledger_entry e;
	int rc;

	(void)call;
	if (!task_bound(req->id))
		return 0;
	if (pol_ledger_open(cfg->global.state_dir, req->id->agent_id, req->id->task, true,
			    cfg->global.task_ledger_max_entries, &l, err, errlen) != 0)
		return -1;
	if (pol_task_apply(cfg, req, pol_ledger_state(l), d) != 0) {
		pol_ledger_close(l);
		return pa_err(err, errlen, "out of memory");
	}
	pol_task_count(pol_ledger_state(l), d, req->now);
	memset(&e, 0, sizeof(e));
	e.time = req->now;
	e.event = "decision";
	e.service = req->service;
	e.cls = d->cls;
	e.user = req->user;
	e.result = !d->allow ? "deny" : d->task_exceeded != NULL ? "flag" : "allow";
	e.note = d->allow ? d->task_exceeded : d->denial;
	rc = pol_ledger_append(l, &e, err, errlen);
	pol_ledger_close(l);
	return rc;
}

/* Audits task_budget_exceeded for a flagged or enforced decision. */
void pa_task_audit(struct pa_call *call, const struct pol_config *cfg,
		   const struct id_identity *id, const struct pol_decision *d)
{
	struct aud_event *ev;
	char reason[512];

	if (d->task_exceeded == NULL)
		return;
	ev = aud_event_new(AUD_TASK_BUDGET_EXCEEDED,
			   d->allow ? AUD_RESULT_ALLOW : AUD_RESULT_DENY, NULL);
	if (ev == NULL)
		return;
	aud_event_set_identity(ev, id);
	snprintf(reason, sizeof(reason), "task_budget_exceeded: %s of [agent %s] (%s)",
		 d->task_exceeded, d->rule != NULL ? d->rule : "(none)",
		 d->task_enforced ? "enforced: denied" : "flagged: allowed");
	aud_event_add_reason(ev, reason);
	(void)pa_audit(call, cfg, ev);
}

int pa_task_session(const struct pol_config *cfg, const char *state_dir, int64_t max_entries,
		    const struct id_identity *id, const char *sid, const char *user,
		    enum pol_class cls, char *err, size_t errlen)
{
	struct pol_ledger *l = NULL;
	struct pol_task_state *st;
	struct pol_ledger_entry e;
	bool opening = cfg != NULL;
	int rc;

	if (!task_bound(id))
		return 0;
	rc = pol_ledger_open(state_dir, id->agent_id, id->task, opening, max_entries, &l, err,
			     errlen);
	if (rc == 1)
		return 0; /* closing a session whose ledger is gone (expired) */
	if (rc != 0)
		return -1;
	st = pol_ledger_state(l);
	if (opening && pol_task_open(cfg, id, st, err, errlen) != 0) {
		pol_ledger_close(l);
		return -1;
	}
	if (!opening && st->open > 0)
		st->open--;
	memset(&e, 0, sizeof(e));
	e.time = (int64_t)time(NULL);
	e.event = opening ? "open" : "close";
	e.cls = cls;
	e.user = user;
	e.result = "ok";
	e.sid = sid;
	rc = pol_ledger_append(l, &e, err, errlen);
	pol_ledger_close(l);
	return rc;
}

int pa_task_live(const char *state_dir, int64_t max_entries, const struct id_identity *id,
		 char *err, size_t errlen)
{
	struct pol_ledger *l = NULL;
	int rc;

	if (!task_bound(id))
		return 0;
	rc = pol_ledger_open(state_dir, id->agent_id, id->task, false, max_entries, &l, err,
			     errlen);
	if (rc == 1)
		return pa_err(err, errlen, "the task's ledger is gone");
	if (rc != 0)
		return -1;
	if (pol_ledger_state(l)->ended > 0) {
		pa_err(err, errlen, "task ended: %s", pol_ledger_state(l)->ended_why);
		rc = -1;
	}
	pol_ledger_close(l);
	return rc;
}
