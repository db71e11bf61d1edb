/*
 * bench_ledger.c - the decision with the task ledger against the decision
 * without it (not a test: it prints a table), in one run: pol_decide alone,
 * then what the account phase does for a task-bound request (open and lock
 * the task's ledger, pol_decide, pol_task_apply, pol_task_count, append one
 * entry, close) with 1, 100 and 10 000 entries already in the task. The
 * decision reads the ledger's fixed-size summary, never its entries, so the
 * time must not grow with them. Medians of RUNS calls (CLOCK_MONOTONIC).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "policy.h"

#define RUNS 2001

static const char conf[] =
	"[global]\naudience = spiffe://example.org/host/bench\n"
	"[service agent-read]\nclass = read\n"
	"[grant ro]\nclass = read\nsource = mint\naudience = https://x\nttl = 5m\n"
	"[agent spiffe://example.org/agents/bot]\nusers = svc\nservices = agent-read\n"
	"grants = ro\ntask.max_sessions = 100000000\ntask.max_write = 10\n"
	"task.forbid = escalate_after_read\n";

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* One account-phase decision of a task-bound request, with its ledger. */
static int decide_with_ledger(const struct pol_config *cfg, const struct pol_request *req,
			      const char *dir)
{
	struct pol_ledger *l = NULL;
	struct pol_decision d;
	struct pol_ledger_entry e = {.time = req->now, .event = "decision",
				     .service = req->service, .user = req->user};
	char err[512];
	int rc = -1;

	if (pol_ledger_open(dir, req->id->agent_id, req->id->task, true, 1000000, &l, err,
			    sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	if (pol_decide(cfg, req, &d) == 0 && pol_task_apply(cfg, req, pol_ledger_state(l), &d) == 0 &&
	    d.allow) {
		pol_task_count(pol_ledger_state(l), &d, req->now);
		e.cls = d.cls;
		e.result = "allow";
		rc = pol_ledger_append(l, &e, err, sizeof(err));
	}
	pol_decision_clear(&d);
	pol_ledger_close(l);
	return rc;
}

/* Median ns of RUNS decisions, with the ledger in dir (NULL: without one). */
static double median(const struct pol_config *cfg, const struct pol_request *req, const char *dir)
{
	static int64_t t[RUNS];
	struct pol_decision d;
	int i;

	for (i = 0; i < RUNS; i++) {
		int64_t t0 = now_ns();

		if (dir != NULL) {
			if (decide_with_ledger(cfg, req, dir) != 0)
				exit(1);
		} else {
			if (pol_decide(cfg, req, &d) != 0 || !d.allow)
				exit(1);
			pol_decision_clear(&d);
		}
		t[i] = now_ns() - t0;
	}
	qsort(t, RUNS, sizeof(t[0]), cmp_i64);
	return (double)t[RUNS / 2];
}

int main(void)
{
	static const long prior[] = { 1, 100, 10000 };
	struct pol_errors e = { 0 };
	struct pol_config *cfg = NULL;
	struct id_identity id;
	struct pol_request req;
	char dir[] = "/tmp/pa-bench-ledger.XXXXXX", task[32], cmd[128];
	char agent[] = "spiffe://example.org/agents/bot";
	double base;
	size_t i;
	long k;

	if (pol_config_parse_text("bench", conf, strlen(conf), &cfg, &e) != 0 ||
	    mkdtemp(dir) == NULL) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	memset(&id, 0, sizeof(id));
	id.agent_id = agent;
	id.claims = json_object();
	id.exp = 2000000000;
	memset(&req, 0, sizeof(req));
	req.id = &id;
	req.service = "agent-read";
	req.user = "svc";
	req.now = 1718013600;
	base = median(cfg, &req, NULL);
	printf("decision of a task-bound request, median of %d (us); the ledger in %s\n", RUNS,
	       dir);
	printf("%-34s %10s %8s\n", "", "us", "ratio");
	printf("%-34s %10.1f %8.2f\n", "pol_decide, no ledger", base / 1000, 1.0);
	for (i = 0; i < sizeof(prior) / sizeof(prior[0]); i++) {
		snprintf(task, sizeof(task), "T-%ld", prior[i]);
		id.task = task;
		for (k = 0; k < prior[i]; k++)
			if (decide_with_ledger(cfg, &req, dir) != 0)
				return 1;
		{
			double t = median(cfg, &req, dir);
			char label[64];

			snprintf(label, sizeof(label), "with ledger, %ld prior entries", prior[i]);
			printf("%-34s %10.1f %8.2f\n", label, t / 1000, t / base);
		}
	}
	json_decref(id.claims);
	pol_config_unref(cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}
