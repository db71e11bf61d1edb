/*
 * syslog_capture.so - LD_PRELOAD shim for the stress tests: every syslog
 * message of the process (pam_syslog included) is appended, one line, to
 * the file named by PA_STRESS_SYSLOG, so a test can check that a failure
 * was logged with its cause on a machine without a syslog daemon. Test
 * use only; never installed.
 */
#include "config.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

void syslog(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vsyslog(int priority, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void __syslog_chk(int priority, int flag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void __vsyslog_chk(int priority, int flag, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void capture(int priority, const char *fmt, va_list ap)
{
	const char *path = getenv("PA_STRESS_SYSLOG");
	char line[8192];
	int n, o, fd;

	if (path == NULL)
		return;
	o = snprintf(line, sizeof(line), "<%d> [%ld] ", priority, (long)getpid());
	if (o < 0)
		return;
	n = vsnprintf(line + o, sizeof(line) - (size_t)o - 1, fmt, ap);
	if (n < 0)
		return;
	n += o;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) < 0) {
		/* nothing to do: a test log */
	}
	close(fd);
}

void vsyslog(int priority, const char *fmt, va_list ap)
{
	capture(priority, fmt, ap);
}

void __vsyslog_chk(int priority, int flag, const char *fmt, va_list ap)
{
	(void)flag;
	capture(priority, fmt, ap);
}

void syslog(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	capture(priority, fmt, ap);
	va_end(ap);
}

void __syslog_chk(int priority, int flag, const char *fmt, ...)
{
	va_list ap;

	(void)flag;
	va_start(ap, fmt);
	capture(priority, fmt, ap);
	va_end(ap);
}
