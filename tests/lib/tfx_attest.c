/*
 * tfx_attest.c - what the caller attestation tests share (tfx_attest.h):
 * the child they attest, its cgroup and files, removed by
 * tfx_att_teardown however a test ends.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tfx_attest.h"

struct tfx_att tfx_att;

/* Kills the child and waits until it is reaped. */
void tfx_att_kill_child(void)
{
	int status;

	if (tfx_att.child > 0) {
		kill(tfx_att.child, SIGKILL);
		while (waitpid(tfx_att.child, &status, 0) < 0 && errno == EINTR)
			;
		tfx_att.child = 0;
	}
}

void tfx_att_remove_cgroup(const char *dir)
{
	int i;

	if (dir[0] == '\0')
		return;
	/* the cgroup of a reaped child can be busy a moment longer */
	for (i = 0; i < 200 && rmdir(dir) != 0 && errno == EBUSY; i++)
		usleep(5000);
	if (access(dir, F_OK) == 0)
		print_message("      tfx_att_teardown: cannot remove %s: %s\n", dir, strerror(errno));
}

int tfx_att_teardown(void **state)
{
	char path[PATH_MAX];

	(void)state;
	tfx_att_kill_child();
	tfx_att_remove_cgroup(tfx_att.cg_sub);
	tfx_att_remove_cgroup(tfx_att.cg_unit);
	if (tfx_att.tmpdir[0] != '\0') {
		snprintf(path, sizeof(path), "%s/sleep", tfx_att.tmpdir);
		unlink(path);
		rmdir(tfx_att.tmpdir);
	}
	memset(&tfx_att, 0, sizeof(tfx_att));
	return 0;
}

/*
 * Starts path with argument "30" and returns once it has exec'd (the
 * close-on-exec end of a pipe closes at the exec; a failed exec writes
 * errno there).
 */
pid_t tfx_att_spawn(const char *path)
{
	int p[2], e = 0;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *argv[] = { (char *)path, (char *)"30", NULL };

		close(p[0]);
		execv(path, argv);
		e = errno;
		if (write(p[1], &e, sizeof(e)) != (ssize_t)sizeof(e))
			_exit(126);
		_exit(127);
	}
	close(p[1]);
	tfx_att.child = pid;
	do
		n = read(p[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(p[0]);
	if (n != 0)
		fail_msg("exec %s: %s", path, strerror(e));
	return pid;
}

/* SHA-256 of the file at path, computed by sha256sum(1). */
void tfx_att_sha256sum(const char *path, char hex[ID_SHA256_HEX + 1])
{
	char cmd[PATH_MAX + 32], line[256];
	FILE *p;

	assert_null(strchr(path, '\''));
	snprintf(cmd, sizeof(cmd), "sha256sum -- '%s'", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(line, sizeof(line), p));
	assert_int_equal(pclose(p), 0);
	assert_true(strlen(line) > ID_SHA256_HEX && line[ID_SHA256_HEX] == ' ');
	memcpy(hex, line, ID_SHA256_HEX);
	hex[ID_SHA256_HEX] = '\0';
}

/*
 * Skips the test, visibly, where pidfd_open is missing (under valgrind
 * 3.19, which does not know the system call), once id_attest is seen to
 * refuse there.
 */
void tfx_att_need_pidfd(void)
{
	struct id_runtime rt;
	char err[256];
	int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);

	if (fd >= 0) {
		close(fd);
		return;
	}
	assert_int_equal(errno, ENOSYS);
	assert_int_equal(id_attest(getpid(), 0, &rt, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "pidfd_open"));
	print_message("      SKIP: no pidfd_open here (valgrind?); id_attest refuses: %s\n", err);
	skip();
}

/* Whether this test runs under valgrind (whose tool is then /proc/self/exe to the kernel). */
bool tfx_att_under_valgrind(void)
{
	const char *pre = getenv("LD_PRELOAD");

	return pre != NULL && strstr(pre, "vgpreload") != NULL;
}
