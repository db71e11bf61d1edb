/*
 * bench_policy.c - decision time against the number of agent rules (not a
 * test: it prints a table). For 10, 1 000 and 10 000 [agent] rules in a
 * generated configuration it reports the load time and the median time of
 * pol_decide over many runs for: an exact rule, a prefix rule, no rule
 * (default deny), and an act chain of depth 2. Times from
 * clock_gettime(CLOCK_MONOTONIC).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "policy.h"

#define RUNS 20001

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

/* A configuration with n agent rules: nine exact ids for every prefix rule. */
static char *generate(size_t n)
{
	char *text = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return NULL;
	fprintf(f, "[global]\naudience = spiffe://example.org/host/bench\n"
		   "max_delegation_depth = 2\n"
		   "[service agent-read]\nclass = read\n[service sshd]\nclass = write\n"
		   "[grant ro]\nclass = read\nsource = mint\naudience = https://x\nttl = 5m\n"
		   "[grant rw]\nclass = write\nsource = exec\ncommand = /bin/b\nttl = 5m\n"
		   "[deny spiffe://example.org/agents/experimental/*]\nreason = no\n");
	for (i = 0; i < n; i++) {
		if (i % 10 == 9)
			fprintf(f, "[agent spiffe://example.org/teams/team-%zu/*]\n", i);
		else
			fprintf(f, "[agent spiffe://example.org/agents/bot-%zu]\n", i);
		fprintf(f, "users = svc agent-%zu\nservices = agent-read sshd\n"
			   "max_class = write\nmax_session = 15m\ngrants = ro rw\n", i);
	}
	fclose(f);
	return text;
}

/* Median ns of pol_decide for agent (with an act chain when act != NULL). */
static double median_decide(const struct pol_config *cfg, const char *agent, json_t *act,
			    bool want)
{
	static int64_t t[RUNS];
	struct id_identity id;
	struct pol_request r;
	size_t i;

	memset(&id, 0, sizeof(id));
	id.kind = ID_KIND_SPIFFE;
	id.agent_id = (char *)agent;
	id.act = act;
	id.iat = 1718013590;
	memset(&r, 0, sizeof(r));
	r.id = &id;
	r.service = "sshd";
	r.user = "svc";
	r.now = 1718013600;
	for (i = 0; i < RUNS; i++) {
		struct pol_decision d;
		int64_t t0 = now_ns();

		pol_decide(cfg, &r, &d);
		t[i] = now_ns() - t0;
		if (d.allow != want) {
			fprintf(stderr, "unexpected decision for %s\n", agent);
			exit(1);
		}
		pol_decision_clear(&d);
	}
	qsort(t, RUNS, sizeof(t[0]), cmp_i64);
	return (double)t[RUNS / 2];
}

int main(void)
{
	static const size_t sizes[] = { 10, 1000, 10000 };
	FILE *csv = fopen("bench-policy.csv", "w");
	size_t s;

	if (csv != NULL)
		fprintf(csv, "rules,load_ms,exact_ns,prefix_ns,no_rule_ns,act_depth2_ns\n");

	printf("pol_decide, median of %d runs (ns); load = pol_config_parse_text (ms)\n", RUNS);
	printf("%8s %9s %10s %10s %10s %10s\n", "rules", "load_ms", "exact", "prefix", "no_rule",
	       "act_depth2");
	for (s = 0; s < PA_ARRAY_SIZE(sizes); s++) {
		size_t n = sizes[s];
		struct pol_errors e = { 0 };
		struct pol_config *cfg = NULL;
		char *text = generate(n);
		char exact[128], prefix[128];
		json_t *act;
		int64_t t0, t1;

		if (text == NULL)
			return 1;
		t0 = now_ns();
		if (pol_config_parse_text("bench.conf", text, strlen(text), &cfg, &e) != 0) {
			fprintf(stderr, "%s\n", e.n ? e.msgs[0] : "refused");
			return 1;
		}
		t1 = now_ns();
		/* n is a multiple of 10: rule n - 1 is a prefix, n - 2 the last exact one */
		snprintf(exact, sizeof(exact), "spiffe://example.org/agents/bot-%zu", n - 2);
		snprintf(prefix, sizeof(prefix),
			 "spiffe://example.org/teams/team-%zu/a/b/c/worker", n - 1);
		act = json_pack("{s:s,s:{s:s}}", "sub", exact, "act", "sub", exact);
		{
			double m[4];

			m[0] = median_decide(cfg, exact, NULL, true);
			m[1] = median_decide(cfg, prefix, NULL, true);
			m[2] = median_decide(cfg, "spiffe://example.org/agents/unknown/x", NULL, false);
			m[3] = median_decide(cfg, exact, act, true);
			printf("%8zu %9.2f %10.0f %10.0f %10.0f %10.0f\n", n,
			       (double)(t1 - t0) / 1e6, m[0], m[1], m[2], m[3]);
			if (csv != NULL)
				fprintf(csv, "%zu,%.2f,%.0f,%.0f,%.0f,%.0f\n", n,
					(double)(t1 - t0) / 1e6, m[0], m[1], m[2], m[3]);
		}
		json_decref(act);
		pol_config_unref(cfg);
		free(text);
	}
	if (csv != NULL)
		fclose(csv);
	return 0;
}
