/*
 * test_common.c - the shared helpers in common/util.c.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "util.h"
#include "tfx.h"

static void test_duration(void **state)
{
	static const struct {
		const char *text;
		int ok;
		int64_t seconds;
	} cases[] = {
		{ "0", 0, 0 },	     { "90", 0, 90 },	   { "90s", 0, 90 },
		{ "15m", 0, 900 },   { "2h", 0, 7200 },	   { "1d", 0, 86400 },
		{ "", -1, 0 },	     { "s", -1, 0 },	   { "-5s", -1, 0 },
		{ "5 s", -1, 0 },    { "5sec", -1, 0 },	   { "1.5h", -1, 0 },
		{ "5ms", -1, 0 },    { " 5", -1, 0 },	   { "5M", -1, 0 },
		{ "9223372036854775807", 0, INT64_MAX },
		{ "9223372036854775808", -1, 0 },
		{ "106751991167301d", -1, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < PA_ARRAY_SIZE(cases); i++) {
		int64_t v = -1;
		int r = pa_parse_duration(cases[i].text, &v);

		if (r != cases[i].ok)
			fail_msg("\"%s\": got %d, expected %d", cases[i].text, r, cases[i].ok);
		if (r == 0 && v != cases[i].seconds)
			fail_msg("\"%s\": got %lld s", cases[i].text, (long long)v);
	}
	assert_int_equal(pa_parse_duration(NULL, NULL), -1);
}

static void test_bool(void **state)
{
	bool b = false;

	(void)state;
	assert_int_equal(pa_parse_bool("yes", &b), 0);
	assert_true(b);
	assert_int_equal(pa_parse_bool("off", &b), 0);
	assert_false(b);
	assert_int_equal(pa_parse_bool("Yes", &b), -1);
	assert_int_equal(pa_parse_bool("", &b), -1);
}

static void test_dropin_dir(void **state)
{
	char out[64];

	(void)state;
	assert_string_equal(pa_dropin_dir("/etc/security/pam_agent.conf", out, sizeof(out)),
			    "/etc/security/pam_agent.d");
	assert_string_equal(pa_dropin_dir("/tmp/policy", out, sizeof(out)), "/tmp/policy.d");
	assert_string_equal(pa_dropin_dir("/x/.conf", out, sizeof(out)), "/x/.d");
}

static void test_escape(void **state)
{
	char out[PA_ESCAPE_MAX];
	char big[1000];

	(void)state;
	assert_string_equal(pa_escape("plain", 5, out, sizeof(out)), "plain");
	assert_string_equal(pa_escape("a\nb\"c\\", 6, out, sizeof(out)),
			    "a\\x0ab\\x22c\\x5c");
	assert_string_equal(pa_escape("\x1b[31m\xff", 6, out, sizeof(out)),
			    "\\x1b[31m\\xff");
	assert_string_equal(pa_escape("a\0b", 3, out, sizeof(out)), "a\\x00b");
	/* capped, marked with "...", always terminated */
	memset(big, 'x', sizeof(big));
	pa_escape(big, sizeof(big), out, sizeof(out));
	assert_int_equal(strlen(out), sizeof(out) - 1);
	assert_memory_equal(out + sizeof(out) - 4, "...", 3);
	pa_escape("abcdef", 6, out, 5);
	assert_string_equal(out, "a...");
	pa_escape("abcd", 4, out, 5);
	assert_string_equal(out, "abcd");
	memset(big, '\n', sizeof(big));
	pa_escape(big, sizeof(big), out, sizeof(out));
	assert_true(strlen(out) < sizeof(out));
	assert_non_null(strstr(out, "..."));
}

static char dir[TFX_DIR_MAX];

static void test_open_safely(void **state)
{
	struct pa_file_rules rules = { .owner = geteuid(), .forbid_mode = 022, .max_size = 16 };
	char err[256], link[300];
	char *buf = NULL;
	size_t len = 0;
	const char *path;

	(void)state;
	path = tfx_write_at(dir, "ok", "hello", 0644);
	assert_int_equal(pa_read_file_safely(path, &rules, &buf, &len, err, sizeof(err)), 0);
	assert_int_equal(len, 5);
	assert_string_equal(buf, "hello");
	free(buf);

	path = tfx_write_at(dir, "groupw", "x", 0664);
	assert_int_equal(pa_open_safely(path, &rules, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "mode 0664 is too open"));

	path = tfx_write_at(dir, "big", "0123456789abcdefg", 0600);
	assert_int_equal(pa_open_safely(path, &rules, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "larger than the limit of 16"));

	rules.owner = geteuid() + 1;
	path = tfx_write_at(dir, "owner", "x", 0600);
	assert_int_equal(pa_open_safely(path, &rules, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "must be owned by uid"));
	rules.owner = geteuid();

	snprintf(link, sizeof(link), "%s/link", dir);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(pa_open_safely(link, &rules, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is a symbolic link"));
	unlink(link);

	assert_int_equal(pa_open_safely(dir, &rules, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));

	snprintf(link, sizeof(link), "%s/missing", dir);
	assert_int_equal(pa_open_safely(link, &rules, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot open"));
}

/* Runs pa_scrub_stack(PA_SCRUB_MODULE) at the top of a thread. */
static void *scrub_thread(void *arg)
{
	(void)arg;
	pa_scrub_stack(PA_SCRUB_MODULE);
	return (void *)1;
}

/*
 * A PAM application may run the module on a thread whose stack is smaller
 * than the module's wipe (32 KiB): the wipe must stay inside the stack
 * rather than run into the guard page (which would kill the process), on
 * the smallest stack a thread may have and on a roomy one.
 */
static void test_scrub_small_thread_stack(void **state)
{
	const size_t sizes[] = { (size_t)PTHREAD_STACK_MIN, 2 * (size_t)PTHREAD_STACK_MIN, 256 * 1024 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		pthread_attr_t attr;
		pthread_t t;
		void *ret = NULL;

		assert_int_equal(pthread_attr_init(&attr), 0);
		assert_int_equal(pthread_attr_setstacksize(&attr, sizes[i]), 0);
		assert_int_equal(pthread_create(&t, &attr, scrub_thread, NULL), 0);
		assert_int_equal(pthread_join(t, &ret), 0);
		assert_ptr_equal(ret, (void *)1);
		pthread_attr_destroy(&attr);
	}
	/* and the main thread, whose stack grows */
	pa_scrub_stack(PA_SCRUB_PROGRAM);
}

static void test_overwrite(void **state)
{
	char buf[8] = "secret!";
	char *s = strdup("another secret");

	(void)state;
	pa_overwrite(buf, sizeof(buf));
	assert_memory_equal(buf, "\0\0\0\0\0\0\0\0", 8);
	pa_free_secret(s);
	pa_free_secret(NULL);
	pa_overwrite(NULL, 3);
}

static int setup(void **state)
{
	(void)state;
	return tfx_dir_new(dir, "common");
}

static int teardown(void **state)
{
	(void)state;
	return tfx_dir_remove(dir);
}

/*
 * pa_proc_stat: this process, a child whose name holds ") (" and spaces
 * (the command name is not a delimiter), a zombie, a pid that is free;
 * pa_proc_stat_at the same through a /proc/PID directory held open, which
 * fails once its process is gone.
 */
static void test_proc_stat(void **state)
{
	struct pa_proc_stat me, again, child;
	int fds[2], status, dirfd;
	char c, path[64];
	pid_t pid;
	int64_t t0;

	(void)state;
	assert_int_equal(pa_proc_stat(getpid(), &me), 0);
	assert_int_equal(me.state, 'R');
	assert_int_equal(me.ppid, getppid());
	assert_true(me.start > 0);
	assert_int_equal(pa_proc_stat(getpid(), &again), 0);
	assert_true(again.start == me.start);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_NAME, "a) b (9 Z 1", 0, 0, 0);
		close(fds[0]);
		if (write(fds[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	assert_int_equal(pa_proc_stat(pid, &child), 0);
	assert_int_equal(child.ppid, getpid());
	assert_true(child.start >= me.start);
	assert_true(child.state == 'S' || child.state == 'R');
	snprintf(path, sizeof(path), "/proc/%ld", (long)pid);
	dirfd = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	assert_true(dirfd >= 0);
	assert_int_equal(pa_proc_stat_at(dirfd, &again), 0);
	assert_int_equal(again.ppid, child.ppid);
	assert_true(again.start == child.start);
	kill(pid, SIGKILL);
	/* a zombie until reaped: still there, state Z, same start */
	t0 = pa_mono_ms();
	while (pa_proc_stat(pid, &again) == 0 && again.state != 'Z' && pa_mono_ms() - t0 < 5000)
		usleep(1000);
	assert_int_equal(again.state, 'Z');
	assert_true(again.start == child.start);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(fds[0]);
	errno = 0;
	assert_int_equal(pa_proc_stat(pid, &again), -1);
	assert_true(errno == ENOENT || errno == ESRCH);
	errno = 0;
	assert_int_equal(pa_proc_stat_at(dirfd, &again), -1);
	assert_true(errno == ENOENT || errno == ESRCH);
	close(dirfd);
	assert_true(pa_mono_ms() >= t0);
}

/*
 * pa_proc_self_start: this process's start time as /proc says it, the same
 * when asked again, and in a child of fork (which inherits the cache) the
 * child's own.
 */
static void test_proc_self_start(void **state)
{
	struct pa_proc_stat me, parent;
	unsigned long long start = 0, again = 0;
	int fds[2], status;
	pid_t pid;

	(void)state;
	assert_int_equal(pa_proc_self_start(&start), 0);
	assert_int_equal(pa_proc_stat(getpid(), &me), 0);
	assert_true(start == me.start);
	assert_int_equal(pa_proc_self_start(&again), 0);
	assert_true(again == start);
	/* a child started later than its parent's start: its own start time */
	usleep(20000);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		unsigned long long c = 0;
		struct pa_proc_stat ps;
		char ok = pa_proc_self_start(&c) == 0 && pa_proc_stat(getpid(), &ps) == 0 &&
				  c == ps.start && c > start
			      ? 'y'
			      : 'n';

		(void)!write(fds[1], &ok, 1);
		_exit(0);
	}
	close(fds[1]);
	{
		char ok = 0;

		assert_int_equal(read(fds[0], &ok, 1), 1);
		assert_int_equal(ok, 'y');
	}
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(pa_proc_stat(getpid(), &parent), 0);
	assert_true(parent.start == start);
}

/*
 * pa_write_file_atomic: new content replaces old whole, with the mode asked
 * for whatever the umask; no temporary file stays, on success or failure;
 * a failure (the name is a directory) leaves what was there.
 */
static void test_write_atomic(void **state)
{
	char top[TFX_DIR_MAX], path[256], sub[256], err[512], buf[64];
	struct stat st;
	mode_t old_umask;
	FILE *f;
	size_t n;

	(void)state;
	assert_int_equal(tfx_dir_new(top, "atomic"), 0);
	snprintf(path, sizeof(path), "%s/state", top);
	assert_int_equal(pa_write_file_atomic(path, NULL, "first", 5, 0600, err, sizeof(err)), 0);
	old_umask = umask(077);
	assert_int_equal(pa_write_file_atomic(path, ".tmp", "second!", 7, 0644, err, sizeof(err)),
			 0);
	umask(old_umask);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_int_equal(n, 7);
	assert_memory_equal(buf, "second!", 7);
	/* a directory where the file should go: refused, named, nothing left */
	snprintf(sub, sizeof(sub), "%s/adir", top);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(pa_write_file_atomic(sub, ".tmp", "x", 1, 0600, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "adir"));
	assert_int_equal(stat(sub, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	snprintf(sub, sizeof(sub), "%s/adir.tmp", top);
	assert_int_equal(access(sub, F_OK), -1);
	/* only the file and the directory are there */
	{
		DIR *d = opendir(top);
		struct dirent *e;
		int entries = 0;

		assert_non_null(d);
		while ((e = readdir(d)) != NULL)
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
				entries++;
		closedir(d);
		assert_int_equal(entries, 2);
	}
	/* no such directory */
	snprintf(sub, sizeof(sub), "%s/none/file", top);
	assert_int_equal(pa_write_file_atomic(sub, NULL, "x", 1, 0600, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "none"));
	unlink(path);
	snprintf(sub, sizeof(sub), "%s/adir", top);
	rmdir(sub);
	assert_int_equal(rmdir(top), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_dropin_dir),
		cmocka_unit_test(test_open_safely),
		cmocka_unit_test(test_overwrite),
		cmocka_unit_test(test_scrub_small_thread_stack),
		cmocka_unit_test(test_proc_stat),
		cmocka_unit_test(test_proc_self_start),
		cmocka_unit_test(test_write_atomic),
	};

	return cmocka_run_group_tests_name("common", tests, setup, teardown);
}
