/*
 * sink.c - where audit lines go: the journal (journal.c) or else syslog
 * (LOG_AUTHPRIV), and the append-only audit file. A line that cannot be
 * written whole to the file is an error for the caller, who fails closed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"

/* How long to wait for the audit file's lock, and how often to try. */
#define AUD_LOCK_WAIT_MS 2000
#define AUD_LOCK_STEP_MS 5

/*
 * Takes the exclusive flock of fd, waiting at most AUD_LOCK_WAIT_MS.
 * Returns whether it got it. The wait is bounded because flock(2) needs
 * only a descriptor: a reader of a 0640 log could otherwise hold the
 * lock and stall every login (it can still add up to AUD_LOCK_WAIT_MS to
 * each line: docs/audit.md). The lock makes our own writers' repairs
 * (below) safe; without it a line is still written whole by one O_APPEND
 * write, but a short write is not cut back out.
 */
static bool lock_file(int fd)
{
	const struct timespec step = { 0, AUD_LOCK_STEP_MS * 1000000L };
	int waited = 0;

	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return true;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return false;
		if (waited >= AUD_LOCK_WAIT_MS)
			return false;
		nanosleep(&step, NULL);
		waited += AUD_LOCK_STEP_MS;
	}
}

/*
 * Whether the file (of size size) ends in a newline, i.e. the next line
 * starts fresh. 1 yes (or empty), 0 no, -1 read error.
 */
static int ends_with_newline(int fd, off_t size)
{
	char last;
	ssize_t r;

	if (size == 0)
		return 1;
	do
		r = pread(fd, &last, 1, size - 1);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return 1; /* cut in the meantime (logrotate's copytruncate): nothing to end */
	if (r != 1)
		return -1;
	return last == '\n';
}

/*
 * One write(2) of buf, with SIGXFSZ blocked: a write past RLIMIT_FSIZE
 * raises it, and its default action kills the process - an agent could
 * set `ulimit -f` before su and have su die at close, its keys and leases
 * left behind. Blocked, the write just fails or is short (EFBIG). A
 * SIGXFSZ our write left pending is taken back out (sigtimedwait, no
 * wait) - only when none was pending before, so the application's own
 * signals stay as they were - and the old mask is restored. Returns what
 * write returned, with its errno.
 */
static ssize_t write_no_sigxfsz(int fd, const void *buf, size_t len)
{
	static const struct timespec now = { 0, 0 };
	sigset_t xfsz, old, pending;
	bool was_pending;
	ssize_t n;
	int e;

	sigemptyset(&xfsz);
	sigaddset(&xfsz, SIGXFSZ);
	e = pthread_sigmask(SIG_BLOCK, &xfsz, &old);
	if (e != 0) {
		errno = e;
		return -1; /* not written: better an error than a dead process */
	}
	was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGXFSZ) == 1;
	do
		n = write(fd, buf, len);
	while (n < 0 && errno == EINTR);
	e = errno;
	if (!was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGXFSZ) == 1)
		while (sigtimedwait(&xfsz, NULL, &now) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return n;
}

int aud_file_append(const char *path, const char *line, char *err, size_t errlen)
{
	const struct pa_file_rules rules = {
		.owner = geteuid(), .or_root = true, .forbid_mode = 022, .max_size = SIZE_MAX,
	};
	struct stat st;
	size_t len = strlen(line), total, done, lead;
	char *buf = NULL;
	const char *what;
	bool locked;
	off_t end;
	ssize_t n;
	int fd, rc = -1, nl;

	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		if (errno == ELOOP)
			return pa_err(err, errlen, "%s: is a symbolic link", path);
		return pa_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
	}
	if (pa_check_fd(fd, path, &rules, &st, err, errlen) != 0)
		goto out;
	locked = lock_file(fd); /* released by close() */
	/* the size now, under the lock if we have it: where our line goes */
	if (fstat(fd, &st) != 0) {
		pa_err(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
		goto out;
	}
	/*
	 * A file that does not end in a newline (a writer that crashed or
	 * lost power mid-line) gets one first: the fragment stays as the
	 * (unparseable) line it is, and ours starts on a line of its own.
	 * Without the lock too: this only adds a byte, and at worst (another
	 * writer ended the line in the meantime) makes an empty line, while
	 * leaving it out would glue our line onto the fragment.
	 */
	nl = ends_with_newline(fd, st.st_size);
	if (nl < 0) {
		pa_err(err, errlen, "%s: cannot read its last byte: %s", path, strerror(errno));
		goto out;
	}
	lead = nl ? 0 : 1;
	total = lead + len + 1;
	buf = malloc(total);
	if (buf == NULL) {
		pa_err(err, errlen, "%s: out of memory", path);
		goto out;
	}
	buf[0] = '\n';
	memcpy(buf + lead, line, len);
	buf[lead + len] = '\n';
	/*
	 * One write: O_APPEND keeps concurrent lines whole. A short write
	 * (full file system, file size limit) is not continued: the rest
	 * would only fail the same way (and, for the size limit, raise
	 * SIGXFSZ again).
	 */
	n = write_no_sigxfsz(fd, buf, total);
	if (n < 0 || n == 0) {
		pa_err(err, errlen, "%s: write failed: %s", path,
		       n < 0 ? strerror(errno) : "nothing written");
		goto out;
	}
	done = (size_t)n;
	if (done == total) {
		rc = 0;
		goto out;
	}
	/*
	 * A short write: take our partial line back out, so that the next
	 * line is not glued onto it - only under the lock (the size we check
	 * could change before ftruncate otherwise, and the cut take another
	 * writer's line with it), and only when nothing was appended after it
	 * (all our writers take the lock, but the lock is advisory).
	 */
	end = lseek(fd, 0, SEEK_CUR);
	if (!locked) {
		what = "the file's lock could not be taken, and cutting the file without it "
		       "could cut another writer's line";
	} else if (end < (off_t)done || fstat(fd, &st) != 0) {
		what = strerror(errno);
	} else if (st.st_size != end) {
		what = "the file grew after it";
	} else if (ftruncate(fd, end - (off_t)done) != 0) {
		what = strerror(errno);
	} else {
		pa_err(err, errlen, "%s: short write (%zu of %zu bytes: file size limit or file "
		       "system full); the partial line was removed", path, done, total);
		goto out;
	}
	pa_err(err, errlen, "%s: short write (%zu of %zu bytes: file size limit or file system "
	       "full); the partial line could not be removed: %s", path, done, total, what);
out:
	free(buf);
	if (close(fd) != 0 && rc == 0)
		rc = pa_err(err, errlen, "%s: close failed: %s", path, strerror(errno));
	return rc;
}

int aud_emit(const struct aud_sink *sink, const struct aud_event *ev, char *err, size_t errlen)
{
	char *line = NULL;
	int rc = 0, sent = -1;

	/* the journal when it listens (the line comes with the entry); syslog
	 * when not, or when it refused the entry */
	if (!sink->no_syslog && aud_journal_present())
		sent = aud_journal_send(ev, &line);
	if (line == NULL)
		line = aud_event_to_json(ev);
	if (line == NULL)
		return pa_err(err, errlen, "cannot build the audit line (out of memory)");
	if (!sink->no_syslog && sent != 0) {
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
