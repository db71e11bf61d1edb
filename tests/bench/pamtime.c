/*
 * pamtime.c - an LD_PRELOAD shim for bench_sshd.sh: times libpam's entry
 * points inside an application (pam_start .. pam_end, the module loading
 * that pam_start does included) and appends one line per call to the file
 * $PA_PAMTIME_OUT: "LOGIN PID CALL MICROSECONDS", where LOGIN is the pid
 * of the process that called pam_start and PID the caller's thread id (a
 * thread or a child forked after pam_start, such as sshd's
 * keyboard-interactive authentication, reports its own PID under the same
 * LOGIN). Not a
 * test: bench_sshd.sh sums the calls of each login.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

static pid_t login_pid;
/* read at load: sshd empties the environment of its authentication child */
static char out[4096];

__attribute__((constructor)) static void init(void)
{
	const char *o = getenv("PA_PAMTIME_OUT");

	if (o != NULL && strlen(o) < sizeof(out))
		strcpy(out, o);
}

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* One line, appended with one write(2) (O_APPEND: lines never mix). */
static void note(const char *call, double us)
{
	char line[128];
	int fd, n;

	if (out[0] == '\0')
		return;
	n = snprintf(line, sizeof(line), "%ld %ld %s %.1f\n", (long)login_pid, (long)gettid(), call,
		     us);
	fd = open(out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (n > 0)
		(void)!write(fd, line, (size_t)n); /* a lost line shows as a missing login */
	close(fd);
}

static void *next(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (f == NULL)
		abort();
	return f;
}

int pam_start(const char *service, const char *user, const struct pam_conv *conv,
	      pam_handle_t **pamh)
{
	int (*f)(const char *, const char *, const struct pam_conv *, pam_handle_t **) =
		next("pam_start");
	double t0 = now_us();
	int r = f(service, user, conv, pamh);

	login_pid = getpid();
	note("pam_start", now_us() - t0);
	return r;
}

/* the calls that take (handle, flags) */
#define TIMED(name)                                                    \
	int name(pam_handle_t *pamh, int flags)                        \
	{                                                              \
		int (*f)(pam_handle_t *, int) = next(#name);           \
		double t0 = now_us();                                  \
		int r = f(pamh, flags);                                \
                                                                       \
		note(#name, now_us() - t0);                            \
		return r;                                              \
	}
TIMED(pam_authenticate)
TIMED(pam_acct_mgmt)
TIMED(pam_setcred)
TIMED(pam_open_session)
TIMED(pam_close_session)

int pam_end(pam_handle_t *pamh, int status)
{
	int (*f)(pam_handle_t *, int) = next("pam_end");
	double t0 = now_us();
	int r = f(pamh, status);

	note("pam_end", now_us() - t0);
	return r;
}
