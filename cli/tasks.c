/*
 * tasks.c - the task ledger in the CLI (docs/tasks.md): `pam-agent revoke`
 * (--task, --agent, --session: marks the matching tasks ended, then
 * revokes every live credential of the matching sessions through the
 * reaper's close path), `pam-agent tasks` (counts, budgets, state), and
 * the expiry of ended tasks' ledgers that `pam-agent reap` runs.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "pa_json.h"
#include "policy.h"
#include "session.h"
#include "util.h"

/* What revoke matches: any field NULL matches everything. */
struct revoke_ctx {
	struct cli_run *run;
	const char *task, *agent, *sid;
	char why[1200];
	int64_t now;
	size_t ended, failed;
};

/* Whether a task of agent matches the revoke (--session alone ends no task). */
static bool task_matches(const struct revoke_ctx *x, const char *agent, const char *task)
{
	if (x->task == NULL && x->agent == NULL)
		return false;
	return (x->task == NULL || (task != NULL && strcmp(x->task, task) == 0)) &&
	       (x->agent == NULL || (agent != NULL && strcmp(x->agent, agent) == 0));
}

/* Ends the task of ledger l (when not ended yet): no new session of it. */
static int end_ledger(struct revoke_ctx *x, struct pol_ledger *l)
{
	struct pol_task_state *st = pol_ledger_state(l);
	struct pol_ledger_entry e = {.time = x->now, .event = "end", .cls = POL_CLASS_NONE,
				     .result = "ok", .note = x->why};
	char err[512], a[PA_ESCAPE_MAX], t[PA_ESCAPE_MAX];

	if (st->ended > 0)
		return 0;
	st->ended = x->now;
	snprintf(st->ended_why, sizeof(st->ended_why), "%.150s", x->why);
	if (pol_ledger_append(l, &e, err, sizeof(err)) != 0) {
		fprintf(stderr, "pam-agent: task %s of %s: not marked ended: %s\n",
			cli_show(pol_ledger_task(l), t, sizeof(t)),
			cli_show(pol_ledger_agent(l), a, sizeof(a)), err);
		x->failed++;
		return -1;
	}
	printf("ended task %s of %s\n", cli_show(pol_ledger_task(l), t, sizeof(t)),
	       cli_show(pol_ledger_agent(l), a, sizeof(a)));
	x->ended++;
	return 0;
}

static int end_one(const char *path, void *arg)
{
	struct revoke_ctx *x = arg;
	struct pol_ledger *l = NULL;
	char err[512];
	int rc = 0;

	if (pol_ledger_open_path(path, x->run->cfg->global.task_ledger_max_entries, &l, err,
				 sizeof(err)) != 0) {
		fprintf(stderr, "pam-agent: %s: %s\n", path, err);
		x->failed++;
		return -1;
	}
	if (task_matches(x, pol_ledger_agent(l), pol_ledger_task(l)))
		rc = end_ledger(x, l);
	pol_ledger_close(l);
	return rc;
}

/* Marks every matching task ended; with --agent and --task, even one never seen. */
static void end_tasks(struct revoke_ctx *x)
{
	const struct pol_global *g = &x->run->cfg->global;
	struct pol_ledger *l = NULL;
	char err[512];

	if (x->task != NULL && x->agent != NULL) {
		if (pol_ledger_open(g->state_dir, x->agent, x->task, true, g->task_ledger_max_entries,
				    &l, err, sizeof(err)) != 0) {
			fprintf(stderr, "pam-agent: task ledger: %s\n", err);
			x->failed++;
			return;
		}
		(void)end_ledger(x, l);
		pol_ledger_close(l);
		return;
	}
	if (pol_ledger_each(g->state_dir, end_one, x, err, sizeof(err)) != 0 && err[0] != '\0')
		fprintf(stderr, "pam-agent: task ledgers: %s\n", err);
}

/* Revokes the sessions of STATE_DIR/sessions that match. */
static void revoke_sessions(struct revoke_ctx *x, size_t *matched, size_t *revoked)
{
	struct cli_run *r = x->run;
	char **names = NULL, err[512];
	size_t i, n = 0;

	if (r->dirfd < 0 || cli_list_records(r, &names, &n) != 0)
		return;
	for (i = 0; i < n; i++) {
		struct ses_record rec;

		if (cli_record_read(r->dirfd, names[i], &rec, err, sizeof(err)) != 0) {
			cli_problem(r, NULL, names[i], err);
			continue;
		}
		if ((x->sid == NULL || strcmp(rec.sid, x->sid) == 0) &&
		    (x->task == NULL || (rec.task != NULL && strcmp(rec.task, x->task) == 0)) &&
		    (x->agent == NULL || strcmp(rec.agent, x->agent) == 0)) {
			(*matched)++;
			if (cli_reap_one(r, &rec, x->why) == 0)
				(*revoked)++;
		}
		ses_record_clear(&rec);
	}
	cli_free_names(names, n);
}

static int revoke_usage(FILE *f, int code)
{
	fprintf(f,
		"usage: pam-agent revoke [--config FILE] [--reason TEXT]\n"
		"                        (--task ID | --agent AGENT-ID | --session SID)...\n"
		"\n"
		"Revokes, now, every live credential of the matching sessions (their keys in\n"
		"the kernel and each exec grant's broker lease, through the helper as\n"
		"`pam-agent reap` does), with key_revoked and session_closed audit events\n"
		"per session. --task and --agent also mark the matching tasks ended: no new\n"
		"session of them is allowed (a new task of the agent still is: add a [deny]\n"
		"rule for that). Given together they all must match. Exit 0 when everything\n"
		"matched was revoked, 1 when something failed, 2 on usage or configuration\n"
		"errors. Configuration: %s unless --config. See docs/tasks.md.\n",
		PA_DEFAULT_CONFIG);
	return code;
}

int cmd_revoke(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "task", required_argument, NULL, 't' },
		{ "agent", required_argument, NULL, 'a' },
		{ "session", required_argument, NULL, 's' },
		{ "reason", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = PA_DEFAULT_CONFIG, *reason = NULL;
	struct cli_run r = { .dirfd = -1 };
	struct revoke_ctx x = { .run = &r, .now = (int64_t)time(NULL) };
	size_t matched = 0, revoked = 0;
	int c, ret = CLI_USAGE;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 't': x.task = optarg; break;
		case 'a': x.agent = optarg; break;
		case 's': x.sid = optarg; break;
		case 'r': reason = optarg; break;
		case 'h': return revoke_usage(stdout, CLI_OK);
		default: return revoke_usage(stderr, CLI_USAGE);
		}
	}
	if (optind != argc || (x.task == NULL && x.agent == NULL && x.sid == NULL))
		return revoke_usage(stderr, CLI_USAGE);
	snprintf(x.why, sizeof(x.why), "revoked by pam-agent revoke%s%s%s%s%s%s%s%s",
		 x.task ? " --task " : "", x.task ? x.task : "", x.agent ? " --agent " : "",
		 x.agent ? x.agent : "", x.sid ? " --session " : "", x.sid ? x.sid : "",
		 reason ? ": " : "", reason ? reason : "");
	if (cli_load_config(config, &r.cfg) != 0)
		return CLI_USAGE;
	r.state_dir = r.cfg->global.state_dir;
	/* first no new session, then the live ones go */
	end_tasks(&x);
	if (cli_open_state(&r) != 0)
		goto out;
	/* one reaper or revoker at a time, so no broker hears of a session twice */
	if (r.dirfd >= 0 && flock(r.dirfd, LOCK_EX) != 0) {
		fprintf(stderr, "pam-agent: %s: cannot lock: %s\n", r.sessions_dir, strerror(errno));
		goto out;
	}
	revoke_sessions(&x, &matched, &revoked);
	printf("%zu task(s) ended, %zu session(s) matched, %zu revoked\n", x.ended, matched,
	       revoked);
	ret = r.problems > 0 || x.failed > 0 || revoked < matched ? CLI_REJECT : CLI_OK;
out:
	if (r.dirfd >= 0)
		close(r.dirfd);
	pol_config_unref(r.cfg);
	return ret;
}

/* ---- pam-agent tasks ---------------------------------------------------------------- */

struct tasks_ctx {
	const struct pol_config *cfg;
	json_t *list;
	bool json;
	size_t problems;
};

/* The budgets of the rule of agent, as "max_sessions 3, max_write 1, …" or "(none)". */
static void budgets_text(const struct pol_config *cfg, const char *agent, char *buf, size_t len)
{
	const struct pol_agent *a = pol_config_match_agent(cfg, agent);
	struct pol_task_limits lim;
	char why[128];
	size_t o = 0;

	buf[0] = '\0';
	if (a == NULL || pol_task_limits(a, NULL, &lim, why, sizeof(why)) != 0) {
		snprintf(buf, len, "(no rule)");
		return;
	}
#define ADD(cond, ...)                                                                      \
	do {                                                                                \
		if ((cond) && o < len)                                                      \
			o += (size_t)snprintf(buf + o, len - o, __VA_ARGS__);               \
	} while (0)
	ADD(lim.max_sessions >= 0, " max_sessions %lld", (long long)lim.max_sessions);
	ADD(lim.max_write >= 0, " max_write %lld", (long long)lim.max_write);
	ADD(lim.max_escalate >= 0, " max_escalate %lld", (long long)lim.max_escalate);
	ADD(lim.max_concurrent >= 0, " max_concurrent %lld", (long long)lim.max_concurrent);
	ADD(lim.window >= 0, " window %llds", (long long)lim.window);
	ADD(lim.escalate_after_read, " forbid escalate_after_read");
	ADD(lim.above_first, " forbid above_first_class");
	ADD(o > 0, " (mode %s)", a->task_mode != NULL ? a->task_mode : "enforce");
#undef ADD
	if (o == 0)
		snprintf(buf, len, " (none)");
}

static int list_one(const char *path, void *arg)
{
	struct tasks_ctx *x = arg;
	struct pol_ledger *l = NULL;
	const struct pol_task_state *st;
	char err[512], budgets[512], a[PA_ESCAPE_MAX], t[PA_ESCAPE_MAX], t1[32];

	if (pol_ledger_open_path(path, 0, &l, err, sizeof(err)) != 0) {
		fprintf(stderr, "pam-agent: %s: %s\n", path, err);
		x->problems++;
		return -1;
	}
	st = pol_ledger_state(l);
	budgets_text(x->cfg, pol_ledger_agent(l), budgets, sizeof(budgets));
	if (x->json) {
		json_t *o = pol_task_state_json(st);

		if (o != NULL) {
			json_object_set_new(o, "agent", json_string(pol_ledger_agent(l)));
			json_object_set_new(o, "task", json_string(pol_ledger_task(l)));
			json_object_set_new(o, "state", json_string(st->ended > 0 ? "ended" : "live"));
			json_object_set_new(o, "budgets", json_string(budgets + 1));
			json_array_append_new(x->list, o);
		}
	} else {
		printf("task %s\n  agent:    %s\n", cli_show(pol_ledger_task(l), t, sizeof(t)),
		       cli_show(pol_ledger_agent(l), a, sizeof(a)));
		printf("  state:    %s", st->ended > 0 ? "ended at " : "live");
		if (st->ended > 0)
			printf("%s (%s)", cli_utc(st->ended, t1, sizeof(t1)), st->ended_why);
		printf("\n  sessions: %lld (read %lld, write %lld, escalate %lld), %lld open\n",
		       (long long)st->sessions, (long long)st->by_class[POL_CLASS_READ],
		       (long long)st->by_class[POL_CLASS_WRITE],
		       (long long)st->by_class[POL_CLASS_ESCALATE], (long long)st->open);
		printf("  denied:   %lld, flagged %lld\n", (long long)st->denied,
		       (long long)st->flagged);
		printf("  budgets: %s\n", budgets);
		printf("  ledger:   %lld entries, %lld dropped\n", (long long)st->entries,
		       (long long)st->dropped);
	}
	pol_ledger_close(l);
	return 0;
}

int cmd_tasks(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = PA_DEFAULT_CONFIG;
	struct pol_config *cfg = NULL;
	struct tasks_ctx x = { 0 };
	char err[512] = "";
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'j': x.json = true; break;
		case 'h':
			printf("usage: pam-agent tasks [--config FILE] [--json]\n\nLists the tasks "
			       "of STATE_DIR/tasks: their counts, the budgets of their rule, live or "
			       "ended (docs/tasks.md).\n");
			return CLI_OK;
		default: return cli_usage_error("usage: pam-agent tasks [--config FILE] [--json]");
		}
	}
	if (optind != argc)
		return cli_usage_error("usage: pam-agent tasks [--config FILE] [--json]");
	if (cli_load_config(config, &cfg) != 0)
		return CLI_USAGE;
	x.cfg = cfg;
	x.list = json_array();
	if (pol_ledger_each(cfg->global.state_dir, list_one, &x, err, sizeof(err)) != 0 &&
	    err[0] != '\0') {
		fprintf(stderr, "pam-agent: %s\n", err);
		x.problems++;
	}
	if (x.json) {
		char *text = pa_json_dumps(x.list, JSON_INDENT(2));

		if (text != NULL)
			printf("%s\n", text);
		free(text);
	}
	json_decref(x.list);
	pol_config_unref(cfg);
	return x.problems > 0 ? CLI_REJECT : CLI_OK;
}

/* ---- expiry (pam-agent reap) ----------------------------------------------------------- */

struct expire_ctx {
	int64_t now, keep, max_entries;
	long removed;
};

static int expire_one(const char *path, void *arg)
{
	struct expire_ctx *x = arg;
	struct pol_ledger *l = NULL;
	char err[512];
	const struct pol_task_state *st;

	if (pol_ledger_open_path(path, x->max_entries, &l, err, sizeof(err)) != 0) {
		fprintf(stderr, "pam-agent: %s: %s; left alone\n", path, err);
		return -1;
	}
	st = pol_ledger_state(l);
	if (st->ended > 0 && st->ended + x->keep <= x->now) {
		if (unlink(path) == 0)
			x->removed++;
		else
			fprintf(stderr, "pam-agent: %s: cannot remove: %s\n", path, strerror(errno));
	}
	pol_ledger_close(l);
	return 0;
}

long cli_tasks_expire(const struct pol_config *cfg, int64_t now)
{
	struct expire_ctx x = { .now = now, .keep = cfg->global.task_expire,
				.max_entries = cfg->global.task_ledger_max_entries };
	char err[512] = "";

	if (pol_ledger_each(cfg->global.state_dir, expire_one, &x, err, sizeof(err)) != 0 &&
	    err[0] != '\0')
		fprintf(stderr, "pam-agent: task ledgers: %s\n", err);
	return x.removed;
}

void cli_task_closed(const struct pol_config *cfg, const struct ses_record *rec)
{
	struct pol_ledger *l = NULL;
	struct pol_ledger_entry e = { .time = (int64_t)time(NULL), .event = "close",
				      .result = "ok", .sid = rec->sid, .user = rec->user,
				      .note = "reaped" };
	char err[512];

	if (rec->task == NULL || rec->task[0] == '\0')
		return;
	if (pol_ledger_open(cfg->global.state_dir, rec->agent, rec->task, false,
			    cfg->global.task_ledger_max_entries, &l, err, sizeof(err)) != 0)
		return;
	if (pol_ledger_state(l)->open > 0)
		pol_ledger_state(l)->open--;
	if (pol_ledger_append(l, &e, err, sizeof(err)) != 0)
		fprintf(stderr, "pam-agent: task ledger of session %s: %s\n", rec->sid, err);
	pol_ledger_close(l);
}
