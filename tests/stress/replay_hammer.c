/*
 * replay_hammer - the replay cache (id_replay_check) under concurrent use
 * from many processes, with random SIGKILLs of those processes.
 *
 *   replay_hammer DIR PROCS JTIS MAX_ENTRIES KILLS SECONDS
 *
 * PROCS processes each present the same JTIS jtis, each in its own random
 * order, for at most SECONDS (a killed process is replaced by a new one,
 * KILLS times in all, at random moments). Every acceptance (0) is written
 * at once, with one write(2), to a per-process file. Afterwards:
 *  - no jti was accepted twice (by any two processes, or one twice);
 *  - the file is not damaged: a fresh pass over every jti never answers -1
 *    for a jti that is recorded, and answers 1 (replay) for each accepted one;
 *  - the file size is the documented fixed size (header + capacity slots);
 *  - when MAX_ENTRIES < JTIS: at most MAX_ENTRIES were accepted and the
 *    others were refused with "full" (fail closed), never accepted.
 * Prints the figures; exit 0 when every check holds, 1 otherwise.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "identity.h"

#define ISSUER "spiffe://example.org"
#define MAX_PROCS 256

static void jti_name(unsigned k, char *buf, size_t len)
{
	snprintf(buf, len, "stress-jti-%06u", k);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One worker: every jti once in a random order; "A k" / "F" / "E reason" lines. */
static void worker(const char *dir, const char *out, unsigned jtis, size_t max, unsigned seed,
		   double deadline)
{
	unsigned *order = malloc(jtis * sizeof(*order));
	unsigned i;
	int fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	if (order == NULL || fd < 0)
		_exit(3);
	srand(seed);
	for (i = 0; i < jtis; i++)
		order[i] = i;
	for (i = jtis - 1; i > 0; i--) {
		unsigned j = (unsigned)rand() % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (i = 0; i < jtis && now_s() < deadline; i++) {
		char jti[64], err[512], line[640];
		int64_t now = (int64_t)time(NULL);
		int r, n;

		jti_name(order[i], jti, sizeof(jti));
		r = id_replay_check(dir, ISSUER, jti, now + 600, now, max, err, sizeof(err));
		if (r == 0)
			n = snprintf(line, sizeof(line), "A %u\n", order[i]);
		else if (r == 1)
			n = snprintf(line, sizeof(line), "R %u\n", order[i]);
		else
			n = snprintf(line, sizeof(line), "E %u %s\n", order[i], err);
		if (n > 0 && write(fd, line, (size_t)n) != n)
			_exit(3);
	}
	_exit(0);
}

static pid_t spawn(const char *dir, const char *resdir, unsigned idx, unsigned jtis, size_t max,
		   double deadline)
{
	char out[4096];
	pid_t pid;

	snprintf(out, sizeof(out), "%s/worker.%u", resdir, idx);
	pid = fork();
	if (pid == 0)
		worker(dir, out, jtis, max, (unsigned)getpid() ^ (idx * 2654435761u), deadline);
	return pid;
}

/* One run: its arguments, and what the workers and the reopen found. */
struct run {
	const char *dir, *resdir;
	unsigned procs, jtis, kills, seconds, spawned, killed;
	size_t max;
	double start, deadline;
	unsigned *accepted; /* per jti: how many times it was accepted */
	unsigned long n_acc, n_rep, n_full, n_other, dup;
	unsigned long post_rep, post_new, post_err, lost;
	int fails;
};

/* 0, or 2 after saying what is wrong. */
static int parse_args(struct run *r, int argc, char **argv)
{
	if (argc != 8) {
		fprintf(stderr, "usage: replay_hammer DIR RESULTS-DIR PROCS JTIS MAX_ENTRIES KILLS "
				"SECONDS\n");
		return 2;
	}
	r->dir = argv[1];
	r->resdir = argv[2];
	r->procs = (unsigned)strtoul(argv[3], NULL, 10);
	r->jtis = (unsigned)strtoul(argv[4], NULL, 10);
	r->max = (size_t)strtoul(argv[5], NULL, 10);
	r->kills = (unsigned)strtoul(argv[6], NULL, 10);
	r->seconds = (unsigned)strtoul(argv[7], NULL, 10);
	if (r->procs == 0 || r->procs > MAX_PROCS || r->jtis == 0 || r->max == 0 ||
	    r->seconds == 0) {
		fprintf(stderr, "replay_hammer: bad arguments\n");
		return 2;
	}
	return 0;
}

/* The workers, the random kills (each replaced by a new worker), the wait; 2 when fork fails. */
static int hammer(struct run *r)
{
	pid_t pids[MAX_PROCS];
	unsigned i;
	int live;

	r->start = now_s();
	r->deadline = r->start + r->seconds;
	srand((unsigned)getpid());
	for (i = 0; i < r->procs; i++) {
		pids[i] = spawn(r->dir, r->resdir, r->spawned++, r->jtis, r->max, r->deadline);
		if (pids[i] < 0) {
			perror("fork");
			return 2;
		}
	}
	while (r->killed < r->kills && now_s() < r->deadline) {
		struct timespec ts = { 0, (long)(rand() % 40 + 5) * 1000000L };

		nanosleep(&ts, NULL);
		i = (unsigned)rand() % r->procs;
		if (pids[i] > 0 && kill(pids[i], SIGKILL) == 0) {
			int status;

			waitpid(pids[i], &status, 0);
			if (WIFSIGNALED(status))
				r->killed++;
			pids[i] = spawn(r->dir, r->resdir, r->spawned++, r->jtis, r->max, r->deadline);
		}
	}
	for (live = 0, i = 0; i < r->procs; i++) {
		int status;

		if (pids[i] > 0 && waitpid(pids[i], &status, 0) > 0 &&
		    !(WIFEXITED(status) && WEXITSTATUS(status) == 0) && !WIFSIGNALED(status))
			live++;
	}
	if (live > 0) {
		printf("FAIL: %d worker(s) could not run\n", live);
		r->fails++;
	}
	return 0;
}

/* Every acceptance, per jti, from the workers' files; then what they add up to. */
static void collect(struct run *r)
{
	char path[4096];
	unsigned k;

	for (k = 0; k < r->spawned; k++) {
		FILE *f;
		char line[700];

		snprintf(path, sizeof(path), "%s/worker.%u", r->resdir, k);
		f = fopen(path, "re");
		if (f == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL) {
			unsigned j = (unsigned)strtoul(line + 2, NULL, 10);

			if (j >= r->jtis)
				continue;
			if (line[0] == 'A') {
				r->n_acc++;
				if (r->accepted[j]++ > 0)
					r->dup++;
			} else if (line[0] == 'R') {
				r->n_rep++;
			} else if (strstr(line, ": full (") != NULL) {
				r->n_full++;
			} else {
				if (r->n_other < 5)
					printf("  error: %s", line);
				r->n_other++;
			}
		}
		fclose(f);
	}
	printf("replay: %u processes (%u spawned, %u killed), %u jtis, max_entries %zu, "
	       "%.1f s: %lu accepted, %lu replays refused, %lu refused full, %lu other errors\n",
	       r->procs, r->spawned, r->killed, r->jtis, r->max, now_s() - r->start, r->n_acc,
	       r->n_rep, r->n_full, r->n_other);
	if (r->dup > 0) {
		printf("FAIL: %lu jti(s) accepted more than once\n", r->dup);
		r->fails++;
	} else {
		printf("PASS: no jti accepted twice\n");
	}
	if (r->n_other > 0) {
		printf("FAIL: %lu errors other than \"full\"\n", r->n_other);
		r->fails++;
	}
	if (r->n_acc > r->max) {
		printf("FAIL: %lu accepted, more than max_entries %zu\n", r->n_acc, r->max);
		r->fails++;
	}
}

/* Reopen: every accepted jti is a replay now; nothing reads as damaged. */
static void reopen(struct run *r)
{
	unsigned k;

	for (k = 0; k < r->jtis; k++) {
		char jti[64], err[512];
		int64_t now = (int64_t)time(NULL);
		int c;

		jti_name(k, jti, sizeof(jti));
		c = id_replay_check(r->dir, ISSUER, jti, now + 600, now, r->max, err, sizeof(err));
		if (c == 1) {
			r->post_rep++;
		} else if (c == 0) {
			r->post_new++;
			if (r->accepted[k] > 0)
				r->lost++;
		} else {
			if (strstr(err, ": full (") == NULL || r->accepted[k] > 0) {
				if (r->post_err < 3)
					printf("  after the run, jti %u: %s\n", k, err);
				r->post_err++;
			}
		}
	}
	printf("reopen: %lu replays, %lu new, %lu unexpected errors\n", r->post_rep, r->post_new,
	       r->post_err);
	if (r->lost > 0 || r->post_err > 0) {
		printf("FAIL: after the run %lu accepted jti(s) were forgotten, %lu checks failed\n",
		       r->lost, r->post_err);
		r->fails++;
	} else {
		printf("PASS: the cache reopens intact: every accepted jti is refused as a replay\n");
	}
}

/* All accepted without kills or limit; with a limit, the cache fails closed. */
static void check_limit(struct run *r)
{
	if (r->max >= r->jtis && r->killed == 0 && r->n_acc != r->jtis) {
		printf("FAIL: %lu of %u jtis accepted without kills or limit\n", r->n_acc, r->jtis);
		r->fails++;
	}
	if (r->max < r->jtis) {
		if (r->n_full == 0 && r->post_err == 0) {
			printf("FAIL: max_entries %zu < %u jtis but nothing was refused as full\n",
			       r->max, r->jtis);
			r->fails++;
		} else {
			printf("PASS: full cache fails closed (%lu accepted <= %zu)\n", r->n_acc,
			       r->max);
		}
	}
}

/* The file has the documented fixed size. */
static void check_size(struct run *r)
{
	uint64_t cap = 1;
	struct stat st;
	char path[4096];

	while (cap < 2 * (uint64_t)r->max)
		cap <<= 1;
	snprintf(path, sizeof(path), "%s/replay.db", r->dir);
	/* the header, cap slots of 32 bytes and cap agent entries of 32 bytes */
	if (stat(path, &st) != 0 || (uint64_t)st.st_size != 64 + 64 * cap) {
		printf("FAIL: %s is %lld bytes, expected %llu\n", path, (long long)st.st_size,
		       (unsigned long long)(64 + 64 * cap));
		r->fails++;
	} else {
		printf("PASS: %s is %lld bytes (64 + (32 + 32) x %llu slots)\n", path,
		       (long long)st.st_size, (unsigned long long)cap);
	}
}

int main(int argc, char **argv)
{
	struct run r;

	memset(&r, 0, sizeof(r));
	if (parse_args(&r, argc, argv) != 0 || hammer(&r) != 0)
		return 2;
	r.accepted = calloc(r.jtis, sizeof(*r.accepted));
	if (r.accepted == NULL)
		return 2;
	collect(&r);
	reopen(&r);
	check_limit(&r);
	check_size(&r);
	free(r.accepted);
	return r.fails == 0 ? 0 : 1;
}
