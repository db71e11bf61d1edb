/*
 * sink.c - where audit lines go: syslog (LOG_AUTHPRIV) and the append-only
 * audit file. A line that cannot be written whole to the file is an error
 * for the caller, who fails closed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "audit.h"

int aud_file_append(const char *path, const char *line, char *err, size_t errlen)
{
	struct stat st;
	size_t len = strlen(line);
	char *buf = NULL;
	ssize_t n;
	int fd, rc = -1;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		if (errno == ELOOP)
			return pa_err(err, errlen, "%s: is a symbolic link", path);
		return pa_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) != 0) {
		pa_err(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		pa_err(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		pa_err(err, errlen, "%s: owned by uid %lu, must be owned by root%s", path,
		       (unsigned long)st.st_uid, geteuid() != 0 ? " or the effective uid" : "");
		goto out;
	}
	if ((st.st_mode & 022) != 0) {
		pa_err(err, errlen, "%s: mode %04o is too open (must not have any of 0022)", path,
		       (unsigned)(st.st_mode & 07777));
		goto out;
	}
	buf = malloc(len + 1);
	if (buf == NULL) {
		pa_err(err, errlen, "%s: out of memory", path);
		goto out;
	}
	memcpy(buf, line, len);
	buf[len] = '\n';
	/* one write: O_APPEND keeps concurrent lines whole */
	do
		n = write(fd, buf, len + 1);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		pa_err(err, errlen, "%s: write failed: %s", path, strerror(errno));
		goto out;
	}
	if ((size_t)n != len + 1) {
		pa_err(err, errlen, "%s: short write (%zd of %zu bytes)", path, n, len + 1);
		goto out;
	}
	rc = 0;
out:
	free(buf);
	if (close(fd) != 0 && rc == 0)
		rc = pa_err(err, errlen, "%s: close failed: %s", path, strerror(errno));
	return rc;
}

int aud_emit(const struct aud_sink *sink, const struct aud_event *ev, char *err, size_t errlen)
{
	char *line = aud_event_to_json(ev);
	int rc = 0;

	if (line == NULL)
		return pa_err(err, errlen, "cannot build the audit line (out of memory)");
	if (!sink->no_syslog) {
		if (sink->syslog_fn != NULL)
			sink->syslog_fn(LOG_AUTHPRIV | LOG_INFO, line, sink->syslog_ctx);
		else
			syslog(LOG_AUTHPRIV | LOG_INFO, "pam_agent audit: %s", line);
	}
	if (sink->file != NULL)
		rc = aud_file_append(sink->file, line, err, errlen);
	free(line);
	return rc;
}
