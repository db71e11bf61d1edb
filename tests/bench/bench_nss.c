/*
 * bench_nss.c - getpwnam_r and getpwuid_r through libnss_agent.so.2 (the
 * built library, $PA_NSS_MODULE, reading its configured database path)
 * against the same lookups through glibc's nss_files (libnss_files.so.2,
 * reading /etc/passwd) for the last account of a 50-line passwd file,
 * with 10 and 10 000 agent accounts: the median of single calls, in ns,
 * and the ratio (docs/nss.md, "Performance").
 *
 * Needs root: it runs in a mount namespace of its own where a 50-line
 * passwd file is bind-mounted on /etc/passwd and a tmpfs holds the
 * database's directory, so neither the host's files nor its database are
 * touched. Part of `make bench`, never of `make check`.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <nss.h>
#include <pwd.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nssdb.h"

#define SAMPLES 20001

typedef enum nss_status (*byname_fn)(const char *, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*byuid_fn)(uid_t, struct passwd *, char *, size_t, int *);

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int64_t samples[SAMPLES];

/* Median ns of one call (by name, else by uid); exits when a lookup fails. */
static int64_t median(byname_fn byname, byuid_fn byuid, bool by_name, const char *name,
		      uid_t uid)
{
	char buf[1024];
	struct passwd pw;
	int e, i;

	for (i = -100; i < SAMPLES; i++) {
		int64_t t0 = now_ns();
		enum nss_status s = by_name ? byname(name, &pw, buf, sizeof(buf), &e)
					    : byuid(uid, &pw, buf, sizeof(buf), &e);
		int64_t t1 = now_ns();

		if (s != NSS_STATUS_SUCCESS || pw.pw_uid != uid) {
			fprintf(stderr, "bench_nss: lookup of %s (%lu) failed: %d\n", name,
				(unsigned long)uid, (int)s);
			exit(1);
		}
		if (i >= 0)
			samples[i] = t1 - t0;
	}
	qsort(samples, SAMPLES, sizeof(samples[0]), cmp64);
	return samples[SAMPLES / 2];
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, data, len) != (ssize_t)len || close(fd) != 0) {
		perror(path);
		exit(1);
	}
}

/* /etc/passwd and the database's directory, private to this process. */
static int private_files(const char *passwd)
{
	char dir[4096];

	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount(passwd, "/etc/passwd", NULL, MS_BIND, NULL) != 0)
		return -1;
	snprintf(dir, sizeof(dir), "%s", PA_NSS_DB);
	dirname(dir);
	if (access(dir, F_OK) == 0)
		return mount("tmpfs", dir, "tmpfs", 0, "mode=0755");
	{
		char parent[4096];

		snprintf(parent, sizeof(parent), "%s", dir);
		dirname(parent);
		if (mount("tmpfs", parent, "tmpfs", 0, "mode=0755") != 0)
			return -1;
		return mkdir(dir, 0755);
	}
}

static void write_db(size_t n)
{
	struct nssdb_in_user *u = calloc(n, sizeof(*u));
	char (*names)[32] = calloc(n, sizeof(*names));
	struct nssdb_in_group g = { "agents", 61000, NULL, 0 };
	unsigned char *img;
	size_t len, i;
	char err[256];

	if (u == NULL || names == NULL)
		exit(1);
	for (i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "agent-%05zu", i);
		u[i] = (struct nssdb_in_user){ names[i], "example.org/agents/x", "/nonexistent",
					       "/usr/sbin/nologin", (uint32_t)(100000 + i), 61000 };
	}
	if (nssdb_build(u, n, &g, 1, &img, &len, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_nss: %s\n", err);
		exit(1);
	}
	write_file(PA_NSS_DB, img, len);
	free(img);
	free(u);
	free(names);
}

int main(void)
{
	const char *mod = getenv("PA_NSS_MODULE");
	char passwd[] = "/tmp/bench_nss.passwd.XXXXXX", text[8192];
	void *agent, *files;
	byname_fn a_nam, f_nam;
	byuid_fn a_uid, f_uid;
	size_t off = 0, sizes[] = { 10, 10000 }, k;
	int i, fd;

	if (geteuid() != 0) {
		printf("bench_nss: SKIP (needs root: a private /etc/passwd and database)\n");
		return 0;
	}
	for (i = 1; i <= 50; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"user%02d:x:%d:%d:User %d:/home/user%02d:/bin/sh\n", i,
					2000 + i, 2000 + i, i, i);
	fd = mkstemp(passwd);
	if (fd < 0 || close(fd) != 0)
		return 1;
	write_file(passwd, text, off);
	if (private_files(passwd) != 0) {
		printf("bench_nss: SKIP (no private mount namespace: %s)\n", strerror(errno));
		unlink(passwd);
		return 0;
	}
	agent = dlopen(mod != NULL ? mod : "libnss_agent.so.2", RTLD_NOW);
	files = dlopen("libnss_files.so.2", RTLD_NOW);
	if (agent == NULL || files == NULL) {
		fprintf(stderr, "bench_nss: %s\n", dlerror());
		return 1;
	}
	a_nam = (byname_fn)dlsym(agent, "_nss_agent_getpwnam_r");
	a_uid = (byuid_fn)dlsym(agent, "_nss_agent_getpwuid_r");
	f_nam = (byname_fn)dlsym(files, "_nss_files_getpwnam_r");
	f_uid = (byuid_fn)dlsym(files, "_nss_files_getpwuid_r");
	if (a_nam == NULL || a_uid == NULL || f_nam == NULL || f_uid == NULL)
		return 1;
	printf("median ns of one call (%d calls each); nss_files: line 50 of a 50-line passwd\n",
	       SAMPLES);
	printf("%-8s %-12s %12s %16s %8s\n", "accounts", "call", "nss_agent", "nss_files",
	       "ratio");
	for (k = 0; k < 2; k++) {
		int64_t an, fn, au, fu;
		char name[32];

		write_db(sizes[k]);
		snprintf(name, sizeof(name), "agent-%05zu", sizes[k] / 2);
		an = median(a_nam, a_uid, true, name, (uid_t)(100000 + sizes[k] / 2));
		au = median(a_nam, a_uid, false, name, (uid_t)(100000 + sizes[k] / 2));
		fn = median(f_nam, f_uid, true, "user50", 2050);
		fu = median(f_nam, f_uid, false, "user50", 2050);
		printf("%-8zu %-12s %12lld %16lld %8.2f\n", sizes[k], "getpwnam_r", (long long)an,
		       (long long)fn, (double)an / (double)fn);
		printf("%-8zu %-12s %12lld %16lld %8.2f\n", sizes[k], "getpwuid_r", (long long)au,
		       (long long)fu, (double)au / (double)fu);
	}
	unlink(passwd);
	return 0;
}
