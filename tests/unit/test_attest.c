/*
 * test_attest.c - unit tests of caller attestation (identity.h, "caller
 * attestation"): a child this test starts, attested and compared with what
 * the test finds out by other means (getuid(), realpath(), sha256sum run
 * through popen, pa_proc_stat); a child that exits between the steps (the
 * window in which its pid could be reused) and a zombie; an executable
 * deleted while it runs (the cgroup, unit and invocation id are in
 * test_attest_cgroup.c); a pid that does not exist; another user's process, as non-root; no pidfd_open (a seccomp
 * filter makes it ENOSYS): refused; the JSON.
 *
 * Where pidfd_open is missing (valgrind 3.19 does not know it) the tests
 * that need it check that id_attest refuses, and skip visibly.
 *
 * Every test that starts a child or makes a file or cgroup leaves it to
 * tfx_att_teardown(), which runs however the test ends: the child is killed and
 * reaped first, then the cgroup directories and the files are removed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cmocka.h>
#include <jansson.h>

#include "attest_int.h"
#include "identity.h"
#include "tfx_attest.h"
#include "util.h"

#define SLEEP "/bin/sleep"

/*
 * A child: its ids, executable and its hash, its start time, its parent
 * (this process, hashed too); more parents, not hashed, each the parent
 * of the one before; depth 0 records none.
 */
static void test_child(void **state)
{
	char exe[PATH_MAX], self[PATH_MAX], hex[ID_SHA256_HEX + 1], err[256];
	struct pa_proc_stat ps, me;
	struct id_runtime rt;
	pid_t pid;
	size_t i;

	(void)state;
	tfx_att_need_pidfd();
	assert_non_null(realpath(SLEEP, exe));
	assert_non_null(realpath("/proc/self/exe", self));
	pid = tfx_att_spawn(SLEEP);
	assert_int_equal(id_attest(pid, 1, &rt, err, sizeof(err)), 0);
	assert_int_equal(rt.proc.pid, pid);
	assert_int_equal(rt.proc.ppid, getpid());
	assert_int_equal(rt.proc.uid, getuid());
	assert_int_equal(rt.proc.euid, geteuid());
	assert_int_equal(rt.proc.gid, getgid());
	assert_int_equal(rt.proc.egid, getegid());
	assert_string_equal(rt.proc.exe, exe);
	assert_false(rt.proc.exe_deleted);
	tfx_att_sha256sum(exe, hex);
	assert_string_equal(rt.proc.exe_sha256, hex);
	assert_int_equal(pa_proc_stat(pid, &ps), 0);
	assert_true(rt.proc.start == ps.start);
	assert_non_null(rt.proc.cgroup);
	assert_true(rt.proc.cgroup[0] == '/');

	assert_int_equal(rt.n_parents, 1);
	assert_int_equal(rt.parents[0].pid, getpid());
	assert_int_equal(rt.parents[0].ppid, getppid());
	assert_int_equal(pa_proc_stat(getpid(), &me), 0);
	assert_true(rt.parents[0].start == me.start);
	assert_non_null(rt.parents[0].exe);
	if (tfx_att_under_valgrind())
		print_message("      under valgrind: this process's executable is %s\n",
			      rt.parents[0].exe);
	else
		assert_string_equal(rt.parents[0].exe, self);
	tfx_att_sha256sum(rt.parents[0].exe, hex);
	assert_string_equal(rt.parents[0].exe_sha256, hex);
	id_runtime_clear(&rt);
	assert_null(rt.proc.exe);

	/* the whole chain: each the parent of the one before, only [0] hashed */
	assert_int_equal(id_attest(pid, ID_ATTEST_MAX_DEPTH + 5, &rt, err, sizeof(err)), 0);
	assert_true(rt.n_parents >= 1 && rt.n_parents <= ID_ATTEST_MAX_DEPTH);
	assert_int_equal(rt.parents[0].pid, getpid());
	assert_true(rt.parents[0].exe_sha256[0] != '\0');
	for (i = 1; i < rt.n_parents; i++) {
		assert_int_equal(rt.parents[i].pid, rt.parents[i - 1].ppid);
		assert_string_equal(rt.parents[i].exe_sha256, "");
	}
	if (rt.n_parents < ID_ATTEST_MAX_DEPTH && rt.parents[rt.n_parents - 1].ppid != 0) {
		/* ended early: at a parent that cannot be read */
		char link[64], target[PATH_MAX];

		snprintf(link, sizeof(link), "/proc/%ld/exe",
			 (long)rt.parents[rt.n_parents - 1].ppid);
		assert_int_equal(readlink(link, target, sizeof(target)), -1);
		print_message("      the chain ends below %s: %s\n", link, strerror(errno));
	}
	id_runtime_clear(&rt);

	/* depth 0: the process alone, hashed all the same */
	assert_int_equal(id_attest(pid, 0, &rt, err, sizeof(err)), 0);
	assert_int_equal(rt.n_parents, 0);
	tfx_att_sha256sum(exe, hex);
	assert_string_equal(rt.proc.exe_sha256, hex);
	id_runtime_clear(&rt);
}

/*
 * The module's read (flags 0): ids and parent from status, cgroup, the
 * executable's path; no hash, no start time (stat), no invocation id.
 */
static void test_lean_read(void **state)
{
	char exe[PATH_MAX], hex[ID_SHA256_HEX + 1], err[256];
	struct id_attest_handle *h = NULL;
	struct id_proc p;
	pid_t pid;

	(void)state;
	tfx_att_need_pidfd();
	assert_non_null(realpath(SLEEP, exe));
	pid = tfx_att_spawn(SLEEP);
	assert_int_equal(id_attest_open(pid, &h, err, sizeof(err)), 0);
	assert_int_equal(id_attest_read(h, 0, &p, err, sizeof(err)), 0);
	assert_int_equal(id_attest_confirm(h, err, sizeof(err)), 0);
	assert_int_equal(p.pid, pid);
	assert_int_equal(p.ppid, getpid());
	assert_int_equal(p.uid, getuid());
	assert_int_equal(p.euid, geteuid());
	assert_int_equal(p.gid, getgid());
	assert_int_equal(p.egid, getegid());
	assert_string_equal(p.exe, exe);
	assert_string_equal(p.exe_sha256, "");
	assert_true(p.start == 0);
	assert_null(p.invocation_id);
	assert_non_null(p.cgroup);
	id_proc_clear(&p);
	/* with the hash only */
	assert_int_equal(id_attest_read(h, ID_ATTEST_HASH, &p, err, sizeof(err)), 0);
	tfx_att_sha256sum(exe, hex);
	assert_string_equal(p.exe_sha256, hex);
	assert_true(p.start == 0);
	id_proc_clear(&p);
	id_attest_close(h);
}

/* The window in which the pid could be reused: exited after open, before read. */
static void test_exited_before_read(void **state)
{
	struct id_attest_handle *h = NULL;
	struct id_proc p;
	char err[256];
	pid_t pid;

	(void)state;
	tfx_att_need_pidfd();
	pid = tfx_att_spawn(SLEEP);
	assert_int_equal(id_attest_open(pid, &h, err, sizeof(err)), 0);
	tfx_att_kill_child();
	assert_int_equal(id_attest_read(h, ID_ATTEST_FULL | ID_ATTEST_HASH, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "exited"));
	assert_null(p.exe);
	err[0] = '\0';
	assert_int_equal(id_attest_confirm(h, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "exited"));
	id_attest_close(h);
}

/* Read while alive, exited before the confirmation: refused. */
static void test_exited_before_confirm(void **state)
{
	struct id_attest_handle *h = NULL;
	struct id_proc p;
	char err[256];
	pid_t pid;

	(void)state;
	tfx_att_need_pidfd();
	pid = tfx_att_spawn(SLEEP);
	assert_int_equal(id_attest_open(pid, &h, err, sizeof(err)), 0);
	assert_int_equal(id_attest_read(h, ID_ATTEST_FULL | ID_ATTEST_HASH, &p, err, sizeof(err)), 0);
	assert_int_equal(id_attest_confirm(h, err, sizeof(err)), 0);
	tfx_att_kill_child();
	assert_int_equal(id_attest_confirm(h, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "exited"));
	id_proc_clear(&p);
	id_attest_close(h);
}

/* A zombie (exited, not yet reaped) has exited too. */
static void test_zombie(void **state)
{
	struct id_attest_handle *h = NULL;
	struct pa_proc_stat ps;
	struct id_runtime rt;
	struct id_proc p;
	char err[256];
	pid_t pid;
	int i;

	(void)state;
	tfx_att_need_pidfd();
	pid = tfx_att_spawn(SLEEP);
	assert_int_equal(id_attest_open(pid, &h, err, sizeof(err)), 0);
	kill(pid, SIGKILL);
	for (i = 0; i < 5000 && pa_proc_stat(pid, &ps) == 0 && ps.state != 'Z'; i++)
		usleep(1000);
	assert_int_equal(ps.state, 'Z');
	assert_int_equal(id_attest_confirm(h, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "exited"));
	assert_int_equal(id_attest_read(h, ID_ATTEST_FULL, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "exited"));
	/* the module's read sees it in status */
	err[0] = '\0';
	assert_int_equal(id_attest_read(h, 0, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "exited"));
	assert_null(p.exe);
	id_attest_close(h);
	assert_int_equal(id_attest(pid, 1, &rt, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "exited"));
	assert_null(rt.proc.exe);
	assert_int_equal(rt.n_parents, 0);
}

/* Copies src to dst, mode 0755. */
static void copy_file(const char *src, const char *dst)
{
	char buf[65536];
	ssize_t n;
	int in = open(src, O_RDONLY | O_CLOEXEC);
	int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);

	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	assert_int_equal(n, 0);
	assert_int_equal(fchmod(out, 0755), 0);
	assert_int_equal(close(out), 0);
	close(in);
}

/* An executable unlinked while it runs: marked deleted, its content still hashed. */
static void test_deleted(void **state)
{
	char dir[PATH_MAX], path[PATH_MAX + 8], hex[ID_SHA256_HEX + 1], err[256];
	struct id_runtime rt;
	pid_t pid;

	(void)state;
	tfx_att_need_pidfd();
	snprintf(tfx_att.tmpdir, sizeof(tfx_att.tmpdir), "/tmp/pa-attest.XXXXXX");
	assert_non_null(mkdtemp(tfx_att.tmpdir));
	assert_non_null(realpath(tfx_att.tmpdir, dir));
	snprintf(path, sizeof(path), "%s/sleep", dir);
	copy_file(SLEEP, path);
	tfx_att_sha256sum(path, hex);
	pid = tfx_att_spawn(path);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(id_attest(pid, 0, &rt, err, sizeof(err)), 0);
	assert_true(rt.proc.exe_deleted);
	assert_string_equal(rt.proc.exe, path);
	assert_string_equal(rt.proc.exe_sha256, hex);
	id_runtime_clear(&rt);
}

/* A pid that no process has, and pids that are none. */
static void test_no_such_pid(void **state)
{
	static char not_null;
	struct id_attest_handle *h = (struct id_attest_handle *)&not_null;
	struct id_runtime rt;
	char err[256];
	pid_t pid;
	long max = 32768;
	FILE *f;

	(void)state;
	assert_int_equal(id_attest(0, 1, &rt, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "invalid pid"));
	assert_int_equal(id_attest(-1, 1, &rt, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "invalid pid"));
	tfx_att_need_pidfd();
	f = fopen("/proc/sys/kernel/pid_max", "r");
	if (f != NULL) {
		if (fscanf(f, "%ld", &max) != 1)
			max = 32768;
		fclose(f);
	}
	for (pid = (pid_t)max - 1; pid > 300 && (kill(pid, 0) == 0 || errno != ESRCH); pid--)
		;
	assert_true(pid > 300);
	err[0] = '\0';
	assert_int_equal(id_attest(pid, 1, &rt, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "does not exist"));
	assert_null(rt.proc.exe);
	assert_int_equal(id_attest_open(pid, &h, err, sizeof(err)), -1);
	assert_null(h);
}

/*
 * As another user (root drops to nobody in a child; a user who is not root
 * already is one): a process of root is refused with the reason; a process
 * of one's own is attested, the chain ending at its parent of root.
 */
static void test_other_user(void **state)
{
	struct id_runtime rt;
	char err[256];
	int status;
	pid_t pid, target;

	(void)state;
	tfx_att_need_pidfd();
	target = getpid();
	if (geteuid() != 0) {
		target = 1;
		if (pa_proc_stat(1, &(struct pa_proc_stat){ 0 }) != 0) {
			print_message("      SKIP: not root and no pid 1 to look at\n");
			skip();
		}
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (geteuid() == 0 && (setgroups(0, NULL) != 0 || setgid(65534) != 0 ||
				       setuid(65534) != 0))
			_exit(2);
		if (id_attest(target, 0, &rt, err, sizeof(err)) != -1 ||
		    strstr(err, "permission denied") == NULL) {
			fprintf(stderr, "attest of root's %ld as nobody: %s\n", (long)target, err);
			_exit(3);
		}
		if (id_attest(getpid(), 1, &rt, err, sizeof(err)) != 0) {
			fprintf(stderr, "attest of itself: %s\n", err);
			_exit(4);
		}
		if (rt.proc.uid != getuid() || rt.proc.exe_sha256[0] == '\0' ||
		    (target != 1 && rt.n_parents != 0)) {
			fprintf(stderr, "attest of itself: uid %ld, %zu parents\n",
				(long)rt.proc.uid, rt.n_parents);
			_exit(5);
		}
		id_runtime_clear(&rt);
		_exit(0);
	}
	tfx_att.child = pid;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	tfx_att.child = 0;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/*
 * Without pidfd_open (a seccomp filter in a child makes it ENOSYS, as on a
 * kernel before 5.3): refused with the reason, never attested without it.
 */
static void test_no_pidfd_fails_closed(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sock_filter filter[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_open, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = { .len = PA_ARRAY_SIZE(filter), .filter = filter };
		struct id_runtime rt;
		char err[256];

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
			_exit(77);
		if (id_attest(getpid(), 1, &rt, err, sizeof(err)) != -1 ||
		    strstr(err, "pidfd_open") == NULL || strstr(err, "ENOSYS") == NULL) {
			fprintf(stderr, "without pidfd_open: %s\n", err);
			_exit(1);
		}
		if (rt.proc.exe != NULL || rt.proc.pid != 0)
			_exit(2);
		_exit(0);
	}
	tfx_att.child = pid;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	tfx_att.child = 0;
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77) {
		print_message("      SKIP: no seccomp filter could be installed\n");
		skip();
	}
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void check_keys(const json_t *o, bool with_parents)
{
	static const char *const keys[] = { "pid",	 "uid",	       "euid",	 "gid",
					    "egid",	 "exe",	       "exe_deleted", "exe_sha256",
					    "cgroup", "unit",	       "invocation_id", "start" };
	size_t i;

	assert_true(json_is_object(o));
	for (i = 0; i < PA_ARRAY_SIZE(keys); i++)
		if (json_object_get(o, keys[i]) == NULL)
			fail_msg("no \"%s\" in the JSON", keys[i]);
	assert_int_equal(json_object_get(o, "parents") != NULL, with_parents);
	assert_int_equal(json_object_size(o), PA_ARRAY_SIZE(keys) + (with_parents ? 1 : 0));
}

static void test_json(void **state)
{
	struct id_proc p = { .pid = 7, .uid = 1000, .start = 123456789012ULL };
	struct id_runtime rt;
	char err[256];
	json_t *o, *parents;
	pid_t pid;

	(void)state;
	tfx_att_need_pidfd();
	pid = tfx_att_spawn(SLEEP);
	assert_int_equal(id_attest(pid, 1, &rt, err, sizeof(err)), 0);
	o = id_runtime_to_json(&rt);
	check_keys(o, true);
	assert_int_equal(json_integer_value(json_object_get(o, "pid")), pid);
	assert_string_equal(json_string_value(json_object_get(o, "exe")), rt.proc.exe);
	assert_string_equal(json_string_value(json_object_get(o, "exe_sha256")),
			    rt.proc.exe_sha256);
	assert_true(json_is_false(json_object_get(o, "exe_deleted")));
	assert_true(json_integer_value(json_object_get(o, "start")) == (json_int_t)rt.proc.start);
	parents = json_object_get(o, "parents");
	assert_int_equal(json_array_size(parents), 1);
	check_keys(json_array_get(parents, 0), false);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(parents, 0), "pid")),
			 getpid());
	json_decref(o);
	id_runtime_clear(&rt);

	/* absent values are null; bytes that are not UTF-8 are escaped */
	o = id_proc_to_json(&p);
	check_keys(o, false);
	assert_true(json_is_null(json_object_get(o, "exe")));
	assert_true(json_is_null(json_object_get(o, "exe_sha256")));
	assert_true(json_is_null(json_object_get(o, "unit")));
	assert_true(json_integer_value(json_object_get(o, "start")) == 123456789012LL);
	json_decref(o);
	p.exe = (char *)"/opt/\xff\xfe\"x";
	o = id_proc_to_json(&p);
	assert_string_equal(json_string_value(json_object_get(o, "exe")), "/opt/\\xff\\xfe\\x22x");
	json_decref(o);
	/* UTF-8 stays as it is; overlong forms and surrogates are not UTF-8 */
	p.exe = (char *)"/opt/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80";
	o = id_proc_to_json(&p);
	assert_string_equal(json_string_value(json_object_get(o, "exe")), p.exe);
	json_decref(o);
	p.exe = (char *)"/\xc0\xaf/\xed\xa0\x80";
	o = id_proc_to_json(&p);
	assert_string_equal(json_string_value(json_object_get(o, "exe")),
			    "/\\xc0\\xaf/\\xed\\xa0\\x80");
	json_decref(o);
}

/* id_sha256_fd: known digests, the offset left alone, not a regular file. */
static void test_sha256_fd(void **state)
{
	char path[] = "/tmp/pa-attest-sha.XXXXXX", hex[ID_SHA256_HEX + 1], err[256];
	int fd = mkstemp(path), p[2];

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(id_sha256_fd(fd, hex, err, sizeof(err)), 0);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(write(fd, "abc", 3), 3);
	assert_int_equal(id_sha256_fd(fd, hex, err, sizeof(err)), 0);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 3);
	close(fd);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(id_sha256_fd(p[0], hex, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));
	assert_string_equal(hex, "");
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_child, tfx_att_teardown),
		cmocka_unit_test_teardown(test_lean_read, tfx_att_teardown),
		cmocka_unit_test_teardown(test_exited_before_read, tfx_att_teardown),
		cmocka_unit_test_teardown(test_exited_before_confirm, tfx_att_teardown),
		cmocka_unit_test_teardown(test_zombie, tfx_att_teardown),
		cmocka_unit_test_teardown(test_deleted, tfx_att_teardown),
		cmocka_unit_test(test_no_such_pid),
		cmocka_unit_test_teardown(test_other_user, tfx_att_teardown),
		cmocka_unit_test_teardown(test_no_pidfd_fails_closed, tfx_att_teardown),
		cmocka_unit_test_teardown(test_json, tfx_att_teardown),
		cmocka_unit_test(test_sha256_fd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
