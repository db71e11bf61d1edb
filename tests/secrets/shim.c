/*
 * shim.c - LD_PRELOAD library of tests/secrets/test_secrets.py (never
 * installed, never linked into anything that ships).
 *
 * PA_SECRETS_STOP=NAME   when the program's argv[0] ends in "/NAME" (or is
 *                        NAME), it stops itself with SIGSTOP right after
 *                        main returned, before any atexit handler or
 *                        library destructor ran, so that its parent can
 *                        read the memory the program finished with
 *                        (/proc/PID/mem); on SIGCONT it exits with main's
 *                        status.
 * PA_SECRETS_PLANT=FILE  the positive control: before stopping, FILE's
 *                        bytes are read into a heap block that is freed
 *                        without being wiped - the very mistake the scan
 *                        must find.
 * PA_SECRETS_SYSLOG=FILE syslog(3) lines (those of libpam's pam_syslog
 *                        included) are appended to FILE instead of going to
 *                        /dev/log, so the test can read every log line.
 *
 * The environment is read when main is entered: pam_agent_helper clears
 * its environment in main.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

typedef int (*main_fn)(int, char **, char **);
typedef int (*start_fn)(main_fn, int, char **, void (*)(void), void (*)(void),
			void (*)(void), void *);

static main_fn real_main;
static int stop_here;
static char plant_path[PATH_MAX];

/* Whether argv0 names the program name (a path ending in "/name", or name). */
static int names_program(const char *argv0, const char *name)
{
	const char *base = strrchr(argv0, '/');

	base = base != NULL ? base + 1 : argv0;
	return name[0] != '\0' && strcmp(base, name) == 0;
}

/* Reads the file at path into a heap block and frees it unwiped. */
static void plant(const char *path)
{
	char *buf = malloc(65536);
	ssize_t n;
	int fd;

	if (buf == NULL)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, 65536);
		(void)n;
		close(fd);
	}
	free(buf);
}

static int shim_main(int argc, char **argv, char **envp)
{
	const char *stop = getenv("PA_SECRETS_STOP");
	const char *plant_env = getenv("PA_SECRETS_PLANT");
	int rc;

	stop_here = stop != NULL && argc > 0 && names_program(argv[0], stop);
	if (stop_here && plant_env != NULL)
		snprintf(plant_path, sizeof(plant_path), "%s", plant_env);
	rc = real_main(argc, argv, envp);
	if (stop_here) {
		if (plant_path[0] != '\0')
			plant(plant_path);
		raise(SIGSTOP);
	}
	return rc;
}

int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void),
		      void (*fini)(void), void (*rtld_fini)(void), void *stack_end);

int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void),
		      void (*fini)(void), void (*rtld_fini)(void), void *stack_end)
{
	start_fn real = (start_fn)dlsym(RTLD_NEXT, "__libc_start_main");

	if (real == NULL)
		abort();
	real_main = main;
	return real(shim_main, argc, argv, init, fini, rtld_fini, stack_end);
}

/* ---- syslog capture ------------------------------------------------------- */

static void capture(int pri, const char *fmt, va_list ap)
{
	const char *path = getenv("PA_SECRETS_SYSLOG");
	char line[8192];
	int fd, n, m;

	if (path == NULL) {
		void (*real)(int, const char *, va_list) =
			(void (*)(int, const char *, va_list))dlsym(RTLD_NEXT, "vsyslog");

		if (real != NULL)
			real(pri, fmt, ap);
		return;
	}
	n = snprintf(line, sizeof(line), "<%d> [%ld] ", pri, (long)getpid());
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0) {
		ssize_t w = write(fd, line, (size_t)n);

		(void)w;
		close(fd);
	}
}

void vsyslog(int pri, const char *fmt, va_list ap)
{
	capture(pri, fmt, ap);
}

void syslog(int pri, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	capture(pri, fmt, ap);
	va_end(ap);
}

void __vsyslog_chk(int pri, int flag, const char *fmt, va_list ap);
void __syslog_chk(int pri, int flag, const char *fmt, ...);

void __vsyslog_chk(int pri, int flag, const char *fmt, va_list ap)
{
	(void)flag;
	capture(pri, fmt, ap);
}

void __syslog_chk(int pri, int flag, const char *fmt, ...)
{
	va_list ap;

	(void)flag;
	va_start(ap, fmt);
	capture(pri, fmt, ap);
	va_end(ap);
}
