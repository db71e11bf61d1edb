/*
 * test_audit_file.c - the audit file (audit/sink.c): created 0600 and
 * only ever appended to, refusals reported to the caller, short writes
 * rolled back (RLIMIT_FSIZE, SIGXFSZ), a bounded wait for the lock, and
 * the same line to syslog. The line itself is in test_audit.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "audit.h"
#include "tfx.h"
#include "tfx_id.h"

static int setup(void **state)
{
	*state = tfx_file_new("audit", "audit.jsonl");
	return *state != NULL ? 0 : -1;
}

/* A fixed time: 2024-06-10T10:00:00.123Z */
static const struct timespec when = { 1718013600, 123456789 };

/* ---- the file ------------------------------------------------------------------------- */

static void test_file_created_0600(void **state)
{
	struct tfx_file *f = *state;
	char err[256];
	struct stat st;
	mode_t old = umask(0); /* the mode must come from open(), not the umask */

	assert_int_equal(aud_file_append(f->path, "{\"event\":\"x\"}", err, sizeof(err)), 0);
	umask(old);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
}

static void test_file_appends(void **state)
{
	struct tfx_file *f = *state;
	struct aud_sink sink = { f->path, true, NULL, NULL };
	struct aud_event *ev;
	char err[256], *text;
	int fd, i;

	/* existing content is kept */
	fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"event\":\"earlier\"}\n", 20), 20);
	close(fd);
	for (i = 0; i < 3; i++) {
		ev = aud_event_new(AUD_AUTHENTICATE, AUD_RESULT_OK, &when);
		assert_int_equal(aud_event_set_agent(ev, "spiffe://example.org/a"), 0);
		assert_int_equal(aud_emit(&sink, ev, err, sizeof(err)), 0);
		aud_event_free(ev);
	}
	text = tfx_read(f->path, NULL);
	assert_int_equal(strncmp(text, "{\"event\":\"earlier\"}\n", 20), 0);
	assert_int_equal(tfx_json_lines(text, "event"), 4);
	free(text);
}

static void test_file_refused(void **state)
{
	struct tfx_file *f = *state;
	char err[256], want[300], target[128];
	int fd;

	/* a symbolic link, even to a good file */
	snprintf(target, sizeof(target), "%s/real.jsonl", f->tmp.dir);
	fd = open(target, O_WRONLY | O_CREAT, 0600);
	close(fd);
	assert_int_equal(symlink(target, f->path), 0);
	assert_int_equal(aud_file_append(f->path, "{}", err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: is a symbolic link", f->path);
	assert_string_equal(err, want);
	unlink(f->path);

	/* group- or world-writable */
	fd = open(f->path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	assert_int_equal(chmod(f->path, 0620), 0);
	assert_int_equal(aud_file_append(f->path, "{}", err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: mode 0620 is too open (must not have any of 0022)",
		 f->path);
	assert_string_equal(err, want);
	/* nothing was written to it */
	{
		struct stat st;

		assert_int_equal(stat(f->path, &st), 0);
		assert_int_equal(st.st_size, 0);
	}
	/* a readable-by-group log is fine (0640) */
	assert_int_equal(chmod(f->path, 0640), 0);
	assert_int_equal(aud_file_append(f->path, "{}", err, sizeof(err)), 0);
	unlink(f->path);

	/* not a regular file */
	assert_int_equal(mkdir(f->path, 0700), 0);
	assert_int_equal(aud_file_append(f->path, "{}", err, sizeof(err)), -1);
	rmdir(f->path);

	/* a directory that does not exist */
	snprintf(target, sizeof(target), "%s/missing/audit.jsonl", f->tmp.dir);
	assert_int_equal(aud_file_append(target, "{}", err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", target);
	assert_string_equal(err, want);
}

static void test_file_owner(void **state)
{
	struct tfx_file *f = *state;
	char err[256], want[300];
	int fd;

	if (geteuid() != 0)
		skip();
	fd = open(f->path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	assert_int_equal(chown(f->path, 65534, 65534), 0);
	assert_int_equal(aud_file_append(f->path, "{}", err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: owned by uid 65534, must be owned by root", f->path);
	assert_string_equal(err, want);
}

static void test_emit_reports_failure(void **state)
{
	struct tfx_file *f = *state;
	char path[128], err[256];
	struct aud_sink sink = { path, true, NULL, NULL };
	struct aud_event *ev = aud_event_new(AUD_DECISION, AUD_RESULT_ALLOW, &when);

	snprintf(path, sizeof(path), "%s/no/such/dir/audit.jsonl", f->tmp.dir);
	err[0] = '\0';
	assert_int_equal(aud_emit(&sink, ev, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot open"));
	/* no file configured: nothing to fail */
	sink.file = NULL;
	assert_int_equal(aud_emit(&sink, ev, err, sizeof(err)), 0);
	aud_event_free(ev);
}

/* Emits one authenticate event for agent to path. */
static int emit_one(const char *path, const char *agent, char *err, size_t errlen)
{
	struct aud_sink sink = { path, true, NULL, NULL };
	struct aud_event *ev = aud_event_new(AUD_AUTHENTICATE, AUD_RESULT_OK, &when);
	int rc;

	if (ev == NULL || aud_event_set_agent(ev, agent) != 0)
		return -2;
	rc = aud_emit(&sink, ev, err, errlen);
	aud_event_free(ev);
	return rc;
}

/* How a short_write_child treats SIGXFSZ. */
enum xfsz {
	XFSZ_IGNORED, /* SIG_IGN: what a full file system does with ENOSPC */
	XFSZ_DEFAULT, /* SIG_DFL and unblocked: what su or sshd inherit, kills */
	XFSZ_PENDING, /* SIG_DFL, blocked, one already pending (the host's own) */
};

/*
 * In a child (the file size limit is per process): limits files to room
 * bytes past the current size of path, emits a line that does not fit,
 * and exits 0 only when the call failed with want and want2 in its error,
 * the file is then extra bytes longer than before, and the signal state
 * is as it was (nothing of ours pending, the mask restored). The parent
 * sees a child killed by SIGXFSZ as a signal status.
 */
static pid_t short_write_child(const char *path, enum xfsz mode, off_t room, const char *want,
			       const char *want2, off_t extra)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		off_t before = tfx_file_size(path);
		sigset_t set, mask, pending;
		struct rlimit rl;
		char err[512];

		sigemptyset(&set);
		sigaddset(&set, SIGXFSZ);
		signal(SIGXFSZ, mode == XFSZ_IGNORED ? SIG_IGN : SIG_DFL);
		if (sigprocmask(mode == XFSZ_PENDING ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL) != 0)
			_exit(9);
		if (mode == XFSZ_PENDING && raise(SIGXFSZ) != 0)
			_exit(9);
		if (getrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(10);
		rl.rlim_cur = (rlim_t)(before + room);
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(11);
		if (emit_one(path, "spiffe://example.org/second", err, sizeof(err)) != -1)
			_exit(12);
		if (strstr(err, want) == NULL || strstr(err, want2) == NULL) {
			fprintf(stderr, "unexpected error: %s\n", err);
			_exit(13);
		}
		if (tfx_file_size(path) != before + extra) {
			fprintf(stderr, "size %lld, was %lld\n", (long long)tfx_file_size(path),
				(long long)before);
			_exit(14);
		}
		if (sigprocmask(SIG_BLOCK, NULL, &mask) != 0 || sigpending(&pending) != 0)
			_exit(15);
		if (sigismember(&mask, SIGXFSZ) != (mode == XFSZ_PENDING)) {
			fprintf(stderr, "the signal mask was not restored\n");
			_exit(16);
		}
		if (mode == XFSZ_PENDING) {
			/* the host's own signal is still there, once */
			static const struct timespec now = { 0, 0 };

			if (sigismember(&pending, SIGXFSZ) != 1) {
				fprintf(stderr, "the pending SIGXFSZ was taken\n");
				_exit(17);
			}
			if (sigtimedwait(&set, NULL, &now) != SIGXFSZ || sigpending(&pending) != 0)
				_exit(18);
		}
		if (sigismember(&pending, SIGXFSZ) != 0) {
			fprintf(stderr, "a SIGXFSZ was left pending\n");
			_exit(19);
		}
		_exit(0);
	}
	return pid;
}

/* Waits for a short_write_child; fails the test unless it exited 0. */
static void child_ok(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("the writer was killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/*
 * L3: a short write (here from RLIMIT_FSIZE) is reported and its partial
 * line taken back out; the next event is a line of its own. With SIGXFSZ
 * ignored (what a full file system does with ENOSPC) and with its default
 * action, which kills the process unless the writer blocks it: an agent
 * can `ulimit -f` before su, and su (which keeps the limit) must survive
 * to close the session. Also with no room at all (the write fails).
 */
static void test_short_write_rolled_back(void **state)
{
	struct tfx_file *f = *state;
	char err[512];

	assert_int_equal(emit_one(f->path, "spiffe://example.org/first", err, sizeof(err)), 0);
	/* room for 40 more bytes: the next line is cut in the middle */
	child_ok(short_write_child(f->path, XFSZ_IGNORED, 40, "short write (40 of ",
				   "the partial line was removed", 0));
	child_ok(short_write_child(f->path, XFSZ_DEFAULT, 40, "short write (40 of ",
				   "the partial line was removed", 0));
	child_ok(short_write_child(f->path, XFSZ_DEFAULT, 0, "write failed: File too large",
				   "", 0));
	/* with room again, the next event is a whole, parseable line */
	assert_int_equal(emit_one(f->path, "spiffe://example.org/third", err, sizeof(err)), 0);
	{
		char *text = tfx_read(f->path, NULL);

		assert_int_equal(tfx_json_lines(text, "event"), 2);
		assert_null(strstr(text, "second"));
		assert_non_null(strstr(text, "spiffe://example.org/third"));
		free(text);
	}
}

/*
 * The writer blocks SIGXFSZ only around its write and takes back only the
 * SIGXFSZ its write raised: one the application had pending (blocked)
 * before stays pending, and its mask is restored.
 */
static void test_sigxfsz_of_the_host_kept(void **state)
{
	struct tfx_file *f = *state;
	char err[512];

	assert_int_equal(emit_one(f->path, "spiffe://example.org/first", err, sizeof(err)), 0);
	child_ok(short_write_child(f->path, XFSZ_PENDING, 40, "short write (40 of ",
				   "the partial line was removed", 0));
}

/*
 * Without the lock (someone holds it past the bounded wait) a short write
 * is reported but the file is not cut: the size checked before ftruncate
 * could change in between, and the cut take another writer's line. The
 * fragment stays, and the next line still starts on a line of its own.
 */
static void test_short_write_without_lock_not_cut(void **state)
{
	struct tfx_file *f = *state;
	char err[512], *text, *nl;
	off_t before;
	int fd;

	assert_int_equal(emit_one(f->path, "spiffe://example.org/first", err, sizeof(err)), 0);
	before = tfx_file_size(f->path);
	fd = open(f->path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	child_ok(short_write_child(f->path, XFSZ_IGNORED, 40, "short write (40 of ",
				   "the partial line could not be removed: the file's lock could "
				   "not be taken", 40));
	close(fd);
	assert_int_equal(tfx_file_size(f->path), before + 40);
	assert_int_equal(emit_one(f->path, "spiffe://example.org/third", err, sizeof(err)), 0);
	text = tfx_read(f->path, NULL);
	/* first line, the 40-byte fragment on a line of its own, the third line */
	nl = strchr(text, '\n');
	assert_non_null(nl);
	assert_int_equal(nl + 1 - text, before);
	assert_int_equal(text[before + 40], '\n');
	assert_int_equal(tfx_json_lines(text + before + 41, "event"), 1);
	assert_non_null(strstr(text + before + 41, "spiffe://example.org/third"));
	free(text);
}

/* L3: a fragment left by a crash mid-line stays a line of its own. */
static void test_partial_tail_gets_newline(void **state)
{
	static const char frag[] = "{\"v\":1,\"event\":\"authent";
	struct tfx_file *f = *state;
	char err[256], *text, *nl;
	int fd;

	fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, frag, sizeof(frag) - 1), (ssize_t)sizeof(frag) - 1);
	close(fd);
	assert_int_equal(emit_one(f->path, "spiffe://example.org/after", err, sizeof(err)), 0);
	assert_int_equal(emit_one(f->path, "spiffe://example.org/again", err, sizeof(err)), 0);
	text = tfx_read(f->path, NULL);
	/* the fragment is kept as its own line, and every line after it parses */
	assert_int_equal(strncmp(text, frag, sizeof(frag) - 1), 0);
	assert_int_equal(text[sizeof(frag) - 1], '\n');
	nl = text + sizeof(frag);
	assert_int_equal(tfx_json_lines(nl, "event"), 2);
	free(text);
}

/* Milliseconds on the monotonic clock. */
static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The lock is flock(2), which any reader of a 0640 log could take: a
 * writer waits a bounded time for it (2 s), then writes anyway (still one
 * O_APPEND write), so a reader cannot stall logins for longer. That the
 * lock is tried at all shows in the time the call takes while a holder
 * keeps it: at least the 2 s (a lower bound only, no upper one).
 */
static void test_lock_holder_cannot_stall(void **state)
{
	struct tfx_file *f = *state;
	char err[256], *text;
	long long t0, took;
	int fd;

	fd = open(f->path, O_RDONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	t0 = now_ms();
	assert_int_equal(emit_one(f->path, "spiffe://example.org/a", err, sizeof(err)), 0);
	took = now_ms() - t0;
	if (took < 2000)
		fail_msg("the writer took %lld ms with the lock held: it did not wait for it",
			 took);
	close(fd);
	text = tfx_read(f->path, NULL);
	assert_int_equal(tfx_json_lines(text, "event"), 1);
	free(text);
}

struct captured {
	int priority;
	char *line;
	int calls;
};

static void capture(int priority, const char *line, void *ctx)
{
	struct captured *c = ctx;

	c->priority = priority;
	free(c->line);
	c->line = strdup(line);
	c->calls++;
}

static void test_syslog_line(void **state)
{
	struct tfx_file *f = *state;
	struct captured c = { 0, NULL, 0 };
	struct aud_sink sink = { f->path, false, capture, &c };
	struct aud_event *ev = aud_event_new(AUD_DECISION, AUD_RESULT_DENY, &when);
	char err[256], *text;

	assert_int_equal(aud_emit(&sink, ev, err, sizeof(err)), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.priority, LOG_AUTHPRIV | LOG_INFO);
	/* syslog and the file get the same line */
	text = tfx_read(f->path, NULL);
	assert_int_equal(strlen(text), strlen(c.line) + 1);
	assert_memory_equal(text, c.line, strlen(c.line));
	free(text);
	free(c.line);
	/* no_syslog: not called */
	sink.no_syslog = true;
	assert_int_equal(aud_emit(&sink, ev, err, sizeof(err)), 0);
	assert_int_equal(c.calls, 1);
	aud_event_free(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_file_created_0600, setup, tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_file_appends, setup, tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_file_refused, setup, tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_file_owner, setup, tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_emit_reports_failure, setup, tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_short_write_rolled_back, setup,
						tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_sigxfsz_of_the_host_kept, setup,
						tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_short_write_without_lock_not_cut, setup,
						tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_partial_tail_gets_newline, setup,
						tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_lock_holder_cannot_stall, setup,
						tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_syslog_line, setup, tfx_tmp_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
