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

int main(int argc, char **argv)
{
	const char *dir, *resdir;
	unsigned procs, jtis, kills, seconds, spawned = 0, killed = 0, i, k;
	size_t max;
	pid_t pids[MAX_PROCS];
	unsigned *accepted = NULL;
	unsigned long n_acc = 0, n_rep = 0, n_full = 0, n_other = 0, dup = 0;
	unsigned long post_rep = 0, post_new = 0, post_err = 0, lost = 0;
	double start, deadline;
	int live, fails = 0;
	uint64_t cap = 1;
	struct stat st;
	char path[4096];

	if (argc != 8) {
		fprintf(stderr, "usage: replay_hammer DIR RESULTS-DIR PROCS JTIS MAX_ENTRIES KILLS "
				"SECONDS\n");
		return 2;
	}
	dir = argv[1];
	resdir = argv[2];
	procs = (unsigned)strtoul(argv[3], NULL, 10);
	jtis = (unsigned)strtoul(argv[4], NULL, 10);
	max = (size_t)strtoul(argv[5], NULL, 10);
	kills = (unsigned)strtoul(argv[6], NULL, 10);
	seconds = (unsigned)strtoul(argv[7], NULL, 10);
	if (procs == 0 || procs > MAX_PROCS || jtis == 0 || max == 0 || seconds == 0) {
		fprintf(stderr, "replay_hammer: bad arguments\n");
		return 2;
	}
	start = now_s();
	deadline = start + seconds;
	srand((unsigned)getpid());
	for (i = 0; i < procs; i++) {
		pids[i] = spawn(dir, resdir, spawned++, jtis, max, deadline);
		if (pids[i] < 0) {
			perror("fork");
			return 2;
		}
	}
	/* random kills, each replaced by a new worker */
	while (killed < kills && now_s() < deadline) {
		struct timespec ts = { 0, (long)(rand() % 40 + 5) * 1000000L };

		nanosleep(&ts, NULL);
		i = (unsigned)rand() % procs;
		if (pids[i] > 0 && kill(pids[i], SIGKILL) == 0) {
			int status;

			waitpid(pids[i], &status, 0);
			if (WIFSIGNALED(status))
				killed++;
			pids[i] = spawn(dir, resdir, spawned++, jtis, max, deadline);
		}
	}
	for (live = 0, i = 0; i < procs; i++) {
		int status;

		if (pids[i] > 0 && waitpid(pids[i], &status, 0) > 0 &&
		    !(WIFEXITED(status) && WEXITSTATUS(status) == 0) && !WIFSIGNALED(status))
			live++;
	}
	if (live > 0) {
		printf("FAIL: %d worker(s) could not run\n", live);
		fails++;
	}

	/* collect: every acceptance, per jti */
	accepted = calloc(jtis, sizeof(*accepted));
	if (accepted == NULL)
		return 2;
	for (k = 0; k < spawned; k++) {
		FILE *f;
		char line[700];

		snprintf(path, sizeof(path), "%s/worker.%u", resdir, k);
		f = fopen(path, "re");
		if (f == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL) {
			unsigned j = (unsigned)strtoul(line + 2, NULL, 10);

			if (j >= jtis)
				continue;
			if (line[0] == 'A') {
				n_acc++;
				if (accepted[j]++ > 0)
					dup++;
			} else if (line[0] == 'R') {
				n_rep++;
			} else if (strstr(line, ": full (") != NULL) {
				n_full++;
			} else {
				if (n_other < 5)
					printf("  error: %s", line);
				n_other++;
			}
		}
		fclose(f);
	}
	printf("replay: %u processes (%u spawned, %u killed), %u jtis, max_entries %zu, "
	       "%.1f s: %lu accepted, %lu replays refused, %lu refused full, %lu other errors\n",
	       procs, spawned, killed, jtis, max, now_s() - start, n_acc, n_rep, n_full, n_other);
	if (dup > 0) {
		printf("FAIL: %lu jti(s) accepted more than once\n", dup);
		fails++;
	} else {
		printf("PASS: no jti accepted twice\n");
	}
	if (n_other > 0) {
		printf("FAIL: %lu errors other than \"full\"\n", n_other);
		fails++;
	}
	if (n_acc > max) {
		printf("FAIL: %lu accepted, more than max_entries %zu\n", n_acc, max);
		fails++;
	}

	/* reopen: every accepted jti is a replay now; nothing reads as damaged */
	for (k = 0; k < jtis; k++) {
		char jti[64], err[512];
		int64_t now = (int64_t)time(NULL);
		int r;

		jti_name(k, jti, sizeof(jti));
		r = id_replay_check(dir, ISSUER, jti, now + 600, now, max, err, sizeof(err));
		if (r == 1) {
			post_rep++;
		} else if (r == 0) {
			post_new++;
			if (accepted[k] > 0)
				lost++;
		} else {
			if (strstr(err, ": full (") == NULL || accepted[k] > 0) {
				if (post_err < 3)
					printf("  after the run, jti %u: %s\n", k, err);
				post_err++;
			}
		}
	}
	printf("reopen: %lu replays, %lu new, %lu unexpected errors\n", post_rep, post_new,
	       post_err);
	if (lost > 0 || post_err > 0) {
		printf("FAIL: after the run %lu accepted jti(s) were forgotten, %lu checks failed\n",
		       lost, post_err);
		fails++;
	} else {
		printf("PASS: the cache reopens intact: every accepted jti is refused as a replay\n");
	}
	if (max >= jtis && killed == 0 && n_acc != jtis) {
		printf("FAIL: %lu of %u jtis accepted without kills or limit\n", n_acc, jtis);
		fails++;
	}
	if (max < jtis) {
		if (n_full == 0 && post_err == 0) {
			printf("FAIL: max_entries %zu < %u jtis but nothing was refused as full\n",
			       max, jtis);
			fails++;
		} else {
			printf("PASS: full cache fails closed (%lu accepted <= %zu)\n", n_acc, max);
		}
	}
	while (cap < 2 * (uint64_t)max)
		cap <<= 1;
	snprintf(path, sizeof(path), "%s/replay.db", dir);
	/* the header, cap slots of 32 bytes and cap agent entries of 32 bytes */
	if (stat(path, &st) != 0 || (uint64_t)st.st_size != 64 + 64 * cap) {
		printf("FAIL: %s is %lld bytes, expected %llu\n", path, (long long)st.st_size,
		       (unsigned long long)(64 + 64 * cap));
		fails++;
	} else {
		printf("PASS: %s is %lld bytes (64 + (32 + 32) x %llu slots)\n", path,
		       (long long)st.st_size, (unsigned long long)cap);
	}
	free(accepted);
	return fails == 0 ? 0 : 1;
}
