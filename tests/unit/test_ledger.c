/*
 * test_ledger.c - the task ledger (policy/ledger.c) and a task's budgets
 * (policy/task.c): two processes appending 10 000 entries each to one
 * ledger lose and duplicate none; a ledger stays within its bound; a
 * corrupt summary fails; flag and enforce, sequences, the window,
 * max_concurrent at open, an ended task, and the token's task_limits
 * narrowing a budget and unable to widen it.
 */
#include "config.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "policy.h"

#define AGENT "spiffe://td/agent/a1"
#define NOW 1718013600
#define PER_PROC 10000

static char dir[] = "/tmp/pa_ledger_XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The path of the one ledger of task in dir (found through pol_ledger_each). */
static int first_path(const char *path, void *arg)
{
	snprintf(arg, 4600, "%s", path);
	return 0;
}

static void append_n(const char *task, int who, int n, int64_t max)
{
	char err[512], note[32];
	int i;

	for (i = 0; i < n; i++) {
		struct pol_ledger *l = NULL;
		struct pol_ledger_entry e = {.time = NOW, .event = "decision", .service = "ssh",
					     .cls = POL_CLASS_READ, .user = "u", .result = "allow",
					     .note = note};

		snprintf(note, sizeof(note), "%d-%d", who, i);
		if (pol_ledger_open(dir, AGENT, task, true, max, &l, err, sizeof(err)) != 0) {
			fprintf(stderr, "open: %s\n", err);
			_exit(2);
		}
		pol_ledger_state(l)->sessions++;
		if (pol_ledger_append(l, &e, err, sizeof(err)) != 0) {
			fprintf(stderr, "append: %s\n", err);
			_exit(3);
		}
		pol_ledger_close(l);
	}
}

static void test_two_processes(void **state)
{
	pid_t pids[2];
	int i, status;
	char err[512], path[4600] = "", line[1024];
	struct pol_ledger *l = NULL;
	unsigned char *seen = calloc(2 * PER_PROC, 1);
	size_t lines = 0;
	FILE *f;

	(void)state;
	assert_non_null(seen);
	for (i = 0; i < 2; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			append_n("T-many", i, PER_PROC, 1000000);
			_exit(0);
		}
	}
	for (i = 0; i < 2; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(pol_ledger_open(dir, AGENT, "T-many", false, 0, &l, err, sizeof(err)), 0);
	assert_int_equal(pol_ledger_state(l)->entries, 2 * PER_PROC);
	assert_int_equal(pol_ledger_state(l)->sessions, 2 * PER_PROC);
	pol_ledger_close(l);
	assert_int_equal(pol_ledger_each(dir, first_path, path, err, sizeof(err)), 0);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fseek(f, POL_LEDGER_HEADER, SEEK_SET), 0); /* past the summary */
	while (fgets(line, sizeof(line), f) != NULL) {
		json_t *o = json_loads(line, 0, NULL);
		int who, n;

		assert_non_null(o);
		assert_int_equal(sscanf(json_string_value(json_object_get(o, "note")), "%d-%d", &who, &n), 2);
		assert_true(who >= 0 && who < 2 && n >= 0 && n < PER_PROC);
		assert_int_equal(seen[who * PER_PROC + n], 0); /* no duplicate */
		seen[who * PER_PROC + n] = 1;
		lines++;
		json_decref(o);
	}
	fclose(f);
	assert_int_equal(lines, 2 * PER_PROC); /* none lost */
	free(seen);
}

/* Checks the size of the ledger of T-bounded: its summary and at most 50 short entries. */
static int bounded_size(const char *path, void *arg)
{
	struct pol_ledger *l = NULL;
	struct stat st;
	char err[512];

	assert_int_equal(pol_ledger_open_path(path, 50, &l, err, sizeof(err)), 0);
	if (strcmp(pol_ledger_task(l), "T-bounded") == 0) {
		assert_int_equal(stat(path, &st), 0);
		assert_true(st.st_size <= POL_LEDGER_HEADER + 50 * 200);
		(*(int *)arg)++;
	}
	pol_ledger_close(l);
	return 0;
}

static void test_bounded(void **state)
{
	char err[512];
	struct pol_ledger *l = NULL;
	struct stat st;
	char path[4600];
	int found = 0;

	(void)state;
	append_n("T-bounded", 0, 500, 50);
	assert_int_equal(pol_ledger_open(dir, AGENT, "T-bounded", false, 50, &l, err, sizeof(err)), 0);
	assert_int_equal(pol_ledger_state(l)->entries, 50);
	assert_int_equal(pol_ledger_state(l)->dropped, 450);
	assert_int_equal(pol_ledger_state(l)->sessions, 500); /* the counts go on */
	pol_ledger_close(l);
	assert_int_equal(pol_ledger_each(dir, bounded_size, &found, err, sizeof(err)), 0);
	assert_int_equal(found, 1);
	snprintf(path, sizeof(path), "%s/tasks", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
}

/* Writes bytes over the start of the ledger of task; returns its path. */
static void corrupt(const char *task, const char *bytes, off_t truncate_to)
{
	char err[512];
	struct pol_ledger *l = NULL;
	char cmd[5000];
	int fd;

	append_n(task, 0, 1, 100);
	assert_int_equal(pol_ledger_open(dir, AGENT, task, false, 100, &l, err, sizeof(err)), 0);
	pol_ledger_close(l);
	/* find it: the newest ledger file */
	snprintf(cmd, sizeof(cmd), "ls -t %s/tasks/*.ledger | head -1 > %s/newest", dir, dir);
	assert_int_equal(system(cmd), 0);
	{
		char p[4600], path[4600];
		FILE *f;

		snprintf(p, sizeof(p), "%s/newest", dir);
		f = fopen(p, "r");
		assert_non_null(f);
		assert_non_null(fgets(path, sizeof(path), f));
		fclose(f);
		path[strcspn(path, "\n")] = '\0';
		fd = open(path, O_WRONLY);
		assert_true(fd >= 0);
		if (bytes != NULL)
			assert_int_equal(pwrite(fd, bytes, strlen(bytes), 0), (ssize_t)strlen(bytes));
		if (truncate_to >= 0)
			assert_int_equal(ftruncate(fd, truncate_to), 0);
		close(fd);
	}
}

static void test_corrupt_fails(void **state)
{
	char err[512];
	struct pol_ledger *l = NULL;

	(void)state;
	corrupt("T-garbage", "xx{not json", -1);
	assert_int_equal(pol_ledger_open(dir, AGENT, "T-garbage", true, 100, &l, err, sizeof(err)), -1);
	assert_null(l);
	assert_non_null(strstr(err, "corrupt"));
	corrupt("T-short", NULL, 100);
	assert_int_equal(pol_ledger_open(dir, AGENT, "T-short", true, 100, &l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "corrupt"));
	/* a negative count is corrupt too */
	corrupt("T-neg", "{\"agent\":\"" AGENT "\",\"sessions\":-1,\"task\":\"T-neg\",\"v\":1}  ", -1);
	assert_int_equal(pol_ledger_open(dir, AGENT, "T-neg", true, 100, &l, err, sizeof(err)), -1);
}

/* ---- budgets --------------------------------------------------------------------------------- */

static const char conf[] =
	"[global]\n"
	"audience = a\n"
	"[service ssh]\nclass = read\n"
	"[service deploy]\nclass = write\n"
	"[service sudo]\nclass = escalate\n"
	"[agent spiffe://td/enforce]\nusers = u\nservices = ssh deploy sudo\nmax_class = escalate\n"
	"task.max_sessions = 3\ntask.max_write = 1\ntask.forbid = escalate_after_read\n"
	"[agent spiffe://td/flag]\nusers = u\nservices = ssh\ntask.max_sessions = 2\n"
	"task.mode = flag\n"
	"[agent spiffe://td/seq]\nusers = u\nservices = ssh deploy\nmax_class = write\n"
	"task.forbid = above_first_class\ntask.window = 1h\ntask.max_concurrent = 1\n";

static struct pol_config *cfg;

static struct id_identity *ident(const char *agent, const char *task, const char *limits)
{
	struct id_identity *id = calloc(1, sizeof(*id));

	assert_non_null(id);
	id->kind = ID_KIND_SPIFFE;
	id->agent_id = strdup(agent);
	id->subject = strdup(agent);
	id->task = strdup(task);
	id->iat = NOW;
	id->exp = NOW + 300;
	id->claims = limits != NULL ? json_pack("{s:o}", "task_limits", json_loads(limits, 0, NULL))
				    : json_object();
	return id;
}

static void idfree(struct id_identity *id)
{
	free(id->agent_id);
	free(id->subject);
	free(id->task);
	json_decref(id->claims);
	free(id);
}

/* Decides service for id with the task state st; returns allow, fills *d. */
static bool decide(struct id_identity *id, const char *service, struct pol_task_state *st,
		   struct pol_decision *d)
{
	struct pol_request req = {.id = id, .service = service, .user = "u", .now = NOW};

	assert_int_equal(pol_decide(cfg, &req, d), 0);
	assert_int_equal(pol_task_apply(cfg, &req, st, d), 0);
	pol_task_count(st, d, NOW);
	return d->allow;
}

static void test_enforce_and_flag(void **state)
{
	struct pol_errors e = {0};
	struct pol_task_state st = {0};
	struct pol_decision d;
	struct id_identity *id;
	int i;

	(void)state;
	assert_int_equal(pol_config_parse_text("c", conf, strlen(conf), &cfg, &e), 0);
	id = ident("spiffe://td/enforce", "T1", NULL);
	assert_true(decide(id, "deploy", &st, &d));
	pol_decision_clear(&d);
	assert_false(decide(id, "deploy", &st, &d)); /* max_write 1 */
	assert_non_null(strstr(d.denial, "task_budget_exceeded: max_write 1"));
	assert_true(d.task_enforced);
	pol_decision_clear(&d);
	assert_true(decide(id, "ssh", &st, &d));
	pol_decision_clear(&d);
	assert_false(decide(id, "sudo", &st, &d)); /* escalate after read */
	assert_non_null(strstr(d.denial, "escalate_after_read"));
	pol_decision_clear(&d);
	assert_true(decide(id, "ssh", &st, &d)); /* the third session */
	pol_decision_clear(&d);
	assert_false(decide(id, "ssh", &st, &d)); /* the fourth: max_sessions 3 */
	assert_non_null(strstr(d.denial, "max_sessions 3"));
	pol_decision_clear(&d);
	idfree(id);

	memset(&st, 0, sizeof(st));
	id = ident("spiffe://td/flag", "T2", NULL);
	for (i = 0; i < 4; i++) {
		assert_true(decide(id, "ssh", &st, &d));
		assert_true((d.task_exceeded != NULL) == (i >= 2));
		assert_false(d.task_enforced);
		pol_decision_clear(&d);
	}
	assert_int_equal(st.flagged, 2);
	assert_int_equal(st.sessions, 4);
	/* an ended task is denied, flag mode or not */
	st.ended = NOW - 1;
	snprintf(st.ended_why, sizeof(st.ended_why), "revoked");
	assert_false(decide(id, "ssh", &st, &d));
	assert_non_null(strstr(d.denial, "task ended"));
	pol_decision_clear(&d);
	idfree(id);
}

static void test_task_limits_claim(void **state)
{
	struct pol_task_state st = {0};
	struct pol_decision d;
	struct id_identity *id;

	(void)state;
	/* narrows max_sessions 3 to 1 */
	id = ident("spiffe://td/enforce", "T3", "{\"max_sessions\":1}");
	assert_true(decide(id, "ssh", &st, &d));
	pol_decision_clear(&d);
	assert_false(decide(id, "ssh", &st, &d));
	assert_non_null(strstr(d.denial, "max_sessions 1"));
	pol_decision_clear(&d);
	idfree(id);
	/* cannot widen it to 10 */
	memset(&st, 0, sizeof(st));
	id = ident("spiffe://td/enforce", "T4", "{\"max_sessions\":10}");
	for (int i = 0; i < 3; i++) {
		assert_true(decide(id, "ssh", &st, &d));
		pol_decision_clear(&d);
	}
	assert_false(decide(id, "ssh", &st, &d));
	assert_non_null(strstr(d.denial, "max_sessions 3"));
	pol_decision_clear(&d);
	idfree(id);
	/* a malformed claim denies; an end time passed denies */
	memset(&st, 0, sizeof(st));
	id = ident("spiffe://td/enforce", "T5", "{\"max_sessions\":\"many\"}");
	assert_false(decide(id, "ssh", &st, &d));
	pol_decision_clear(&d);
	idfree(id);
	id = ident("spiffe://td/enforce", "T6", "{\"end\":1000}");
	assert_false(decide(id, "ssh", &st, &d));
	assert_non_null(strstr(d.denial, "end time"));
	pol_decision_clear(&d);
	idfree(id);
	pol_config_unref(cfg);
}

static void test_sequences_window_concurrent(void **state)
{
	struct pol_errors e = {0};
	struct pol_task_state st = {0};
	struct pol_decision d;
	struct id_identity *id;
	char why[256];

	(void)state;
	assert_int_equal(pol_config_parse_text("c", conf, strlen(conf), &cfg, &e), 0);
	id = ident("spiffe://td/seq", "T7", NULL);
	assert_true(decide(id, "ssh", &st, &d)); /* the first class: read */
	pol_decision_clear(&d);
	assert_false(decide(id, "deploy", &st, &d)); /* write is above it */
	assert_non_null(strstr(d.denial, "above_first_class (the first was read)"));
	pol_decision_clear(&d);
	/* one session open at once */
	assert_int_equal(pol_task_open(cfg, id, &st, why, sizeof(why)), 0);
	assert_int_equal(pol_task_open(cfg, id, &st, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "max_concurrent 1 (1 open)"));
	assert_false(decide(id, "ssh", &st, &d)); /* the decision sees it too */
	pol_decision_clear(&d);
	st.open = 0;
	/* an hour after its first decision the task's window is closed */
	st.first = NOW - 3601;
	assert_false(decide(id, "ssh", &st, &d));
	assert_non_null(strstr(d.denial, "window 3600s"));
	pol_decision_clear(&d);
	/* an ended task opens no session */
	st.ended = NOW;
	assert_int_equal(pol_task_open(cfg, id, &st, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "task ended"));
	idfree(id);
	pol_config_unref(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_processes),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_corrupt_fails),
		cmocka_unit_test(test_enforce_and_flag),
		cmocka_unit_test(test_task_limits_claim),
		cmocka_unit_test(test_sequences_window_concurrent),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
