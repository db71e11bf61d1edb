/*
 * tfx.c - see tfx.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cmocka.h>

#include "tfx.h"
#include "util.h"

/* ---- temporary directories --------------------------------------------------------------- */

int tfx_dir_new(char dir[TFX_DIR_MAX], const char *name)
{
	int n = snprintf(dir, TFX_DIR_MAX, "/tmp/pa_test_%s.XXXXXX", name);

	if (n < 0 || n >= TFX_DIR_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

int tfx_dir_remove(const char *dir)
{
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

void *tfx_tmp_new(size_t size, const char *name)
{
	struct tfx_tmp *t;

	if (size < sizeof(*t))
		return NULL;
	t = calloc(1, size);
	if (t == NULL)
		return NULL;
	if (tfx_dir_new(t->dir, name) != 0) {
		free(t);
		return NULL;
	}
	return t;
}

int tfx_tmp_free(void *fixture)
{
	struct tfx_tmp *t = fixture;
	int rc;

	if (t == NULL)
		return 0;
	rc = tfx_dir_remove(t->dir);
	free(t);
	return rc;
}

int tfx_tmp_teardown(void **state)
{
	return tfx_tmp_free(*state);
}

struct tfx_file *tfx_file_new(const char *name, const char *file)
{
	struct tfx_file *f = tfx_tmp_new(sizeof(*f), name);
	int n;

	if (f == NULL)
		return NULL;
	n = snprintf(f->path, sizeof(f->path), "%s/%s", f->tmp.dir, file);
	if (n < 0 || (size_t)n >= sizeof(f->path)) {
		tfx_tmp_free(f);
		return NULL;
	}
	return f;
}

/* ---- files ------------------------------------------------------------------------------- */

void tfx_write(const char *path, const char *text, mode_t mode)
{
	size_t len = strlen(text);
	int fd;

	if (unlink(path) != 0 && errno != ENOENT)
		fail_msg("unlink %s: %s", path, strerror(errno));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		fail_msg("create %s: %s", path, strerror(errno));
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

const char *tfx_write_at(const char *dir, const char *name, const char *text, mode_t mode)
{
	static char path[512];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, name);

	assert_true(n > 0 && (size_t)n < sizeof(path));
	tfx_write(path, text, mode);
	return path;
}

char *tfx_read(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rbe");
	char *buf;
	long n;

	if (fp == NULL)
		print_error("open %s: %s\n", path, strerror(errno));
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

off_t tfx_file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* ---- text -------------------------------------------------------------------------------- */

void tfx_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

void tfx_lacks(const char *hay, const char *needle)
{
	if (strstr(hay, needle) != NULL)
		fail_msg("\"%s\" contains \"%s\"", hay, needle);
}

/* ---- randomness -------------------------------------------------------------------------- */

uint64_t tfx_prng(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

/* ---- child processes --------------------------------------------------------------------- */

int tfx_child_run(tfx_child_fn fn, void *arg, char *msg, size_t msglen)
{
	int fds[2], status = 0;
	ssize_t n;
	pid_t pid;

	msg[0] = '\0';
	if (pipe(fds) != 0)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		int rc;

		close(fds[0]);
		rc = fn(arg, msg, msglen);
		if (write(fds[1], msg, strlen(msg)) < 0)
			rc = 2;
		_exit(rc);
	}
	close(fds[1]);
	n = read(fds[0], msg, msglen - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

void tfx_in_child(tfx_child_fn fn, void *arg)
{
	char msg[1024] = "";
	int status = tfx_child_run(fn, arg, msg, sizeof(msg));

	if (status < 0)
		fail_msg("cannot run a child: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("child failed (status 0x%x): %s", status, msg);
}

bool tfx_process_gone(pid_t pid)
{
	char path[64], stat[256];
	FILE *fp;
	bool gone = true;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fp = fopen(path, "r");
	if (fp == NULL)
		return true;
	if (fgets(stat, sizeof(stat), fp) != NULL) {
		const char *p = strrchr(stat, ')');

		gone = p != NULL && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
	}
	fclose(fp);
	return gone;
}

int tfx_become_nobody(char *msg, size_t msglen)
{
	TFX_CHILD_CHECK(setgroups(0, NULL) == 0, "setgroups: %s", strerror(errno));
	TFX_CHILD_CHECK(setresgid(TFX_NOBODY, TFX_NOBODY, TFX_NOBODY) == 0, "setresgid: %s",
			strerror(errno));
	TFX_CHILD_CHECK(setresuid(TFX_NOBODY, TFX_NOBODY, TFX_NOBODY) == 0, "setresuid: %s",
			strerror(errno));
	return 0;
}

int tfx_block_keyrings(int err)
{
	/* No arch check: this only ever runs on the build architecture. */
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_keyctl, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_add_key, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_request_key, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
	};
	struct sock_fprog prog = { .len = (unsigned short)PA_ARRAY_SIZE(f), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}
