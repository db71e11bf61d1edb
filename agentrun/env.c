/*
 * env.c - agent-run: the target account, copied at once, and the
 * environment CMD gets (agentrun.h).
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "util.h"

#include "agentrun.h"

/* ---- the target account, copied at once (getpwnam's buffer is shared) ---- */


void ar_account_free(struct account *a)
{
	free(a->name);
	free(a->dir);
	free(a->shell);
	memset(a, 0, sizeof(*a));
}

/*
 * Looks up name (or uid when name is NULL) with the reentrant calls into a
 * buffer of our own and copies what is used: a PAM module that calls
 * getpwnam() later cannot change it. Returns 0, or -1 (errno 0: no such
 * user).
 */
int ar_account_lookup(const char *name, uid_t uid, struct account *a)
{
	struct passwd pwbuf, *pw = NULL;
	long max = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t len = max > 0 ? (size_t)max : 16384;
	char *buf;
	int err;

	memset(a, 0, sizeof(*a));
	for (;;) {
		buf = malloc(len);
		if (buf == NULL)
			return -1;
		err = name != NULL ? getpwnam_r(name, &pwbuf, buf, len, &pw)
				   : getpwuid_r(uid, &pwbuf, buf, len, &pw);
		if (err != ERANGE || len >= 1024 * 1024)
			break;
		free(buf);
		len *= 2;
	}
	if (pw == NULL) {
		free(buf);
		errno = err;
		return -1;
	}
	a->uid = pw->pw_uid;
	a->gid = pw->pw_gid;
	a->name = strdup(pw->pw_name);
	a->dir = strdup(pw->pw_dir != NULL && pw->pw_dir[0] != '\0' ? pw->pw_dir : "/");
	a->shell = strdup(pw->pw_shell != NULL && pw->pw_shell[0] != '\0' ? pw->pw_shell
									   : "/bin/sh");
	free(buf);
	if (a->name == NULL || a->dir == NULL || a->shell == NULL) {
		ar_account_free(a);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/*
 * PAM_USER must still name the account agent-run resolved and authorized:
 * a module that changes it would otherwise have CMD run as one user in a
 * session opened for another. agent-run refuses instead of following it.
 */
bool ar_user_unchanged(pam_handle_t *pamh, const char *name, const char *step)
{
	const void *item = NULL;

	if (pam_get_item(pamh, PAM_USER, &item) == PAM_SUCCESS && item != NULL &&
	    strcmp(item, name) == 0)
		return true;
	fprintf(stderr, "agent-run: %s refused: the PAM stack changed PAM_USER from %s to %s\n",
		step, name, item != NULL ? (const char *)item : "(none)");
	return false;
}

/* ---- CMD's environment ---- */


bool ar_env_name_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (i = 1; i < len; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

/* Sets NAME=VALUE (one string, copied), replacing an earlier NAME. */
static int env_put(struct envv *e, const char *entry)
{
	size_t len = strcspn(entry, "="), i;
	char *copy, **v;

	if (entry[len] != '=')
		return -1;
	copy = strdup(entry);
	if (copy == NULL)
		return -1;
	for (i = 0; i < e->n; i++) {
		if (strncmp(e->v[i], entry, len + 1) == 0) {
			free(e->v[i]);
			e->v[i] = copy;
			return 0;
		}
	}
	v = realloc(e->v, (e->n + 2) * sizeof(*v));
	if (v == NULL) {
		free(copy);
		return -1;
	}
	e->v = v;
	e->v[e->n++] = copy;
	e->v[e->n] = NULL;
	return 0;
}

static int env_set(struct envv *e, const char *name, const char *value)
{
	size_t len = strlen(name) + strlen(value) + 2;
	char *entry = malloc(len);
	int ret;

	if (entry == NULL)
		return -1;
	snprintf(entry, len, "%s=%s", name, value);
	ret = env_put(e, entry);
	free(entry);
	return ret;
}

void ar_env_free(struct envv *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
	e->v = NULL;
	e->n = 0;
}


/*
 * CMD's environment, built from nothing: PATH (a default), TERM when set,
 * the PAM environment, HOME, USER, LOGNAME and SHELL of the account,
 * AGENT_RUN_EXE (the path CMD was found at: a script started from the
 * measured descriptor sees /dev/fd/3 as its $0), then
 * the --keep-env and --env options in order. Nothing else of agent-run's
 * own environment (a supervisor's API keys, SSH_AUTH_SOCK, KRB5CCNAME, …).
 */
int ar_build_env(struct envv *e, pam_handle_t *pamh, const struct account *a, const char *exe,
		     const struct env_opt *opts, size_t n_opts)
{
	const char *term = getenv("TERM");
	char **pamenv = pam_getenvlist(pamh), **p;
	size_t i;
	int ret = 0;

	if (env_set(e, "PATH", DEFAULT_PATH) != 0 ||
	    (term != NULL && env_set(e, "TERM", term) != 0))
		ret = -1;
	for (p = pamenv; p != NULL && *p != NULL; p++) {
		if (ret == 0 && env_put(e, *p) != 0)
			ret = -1;
		free(*p);
	}
	free(pamenv);
	if (ret != 0 || env_set(e, "HOME", a->dir) != 0 || env_set(e, "USER", a->name) != 0 ||
	    env_set(e, "LOGNAME", a->name) != 0 || env_set(e, "SHELL", a->shell) != 0 ||
	    (exe != NULL && env_set(e, "AGENT_RUN_EXE", exe) != 0))
		return -1;
	for (i = 0; i < n_opts; i++) {
		if (opts[i].keep) {
			const char *v = getenv(opts[i].arg);

			if (v != NULL && env_set(e, opts[i].arg, v) != 0)
				return -1;
		} else if (env_put(e, opts[i].arg) != 0) {
			return -1;
		}
	}
	return 0;
}

/* ---- --config DIR ---- */

/* A directory or file that may say which modules root loads. */
static bool trusted_stat(const struct stat *st)
{
	return (st->st_uid == 0 || st->st_uid == geteuid()) && (st->st_mode & 022) == 0;
}

/*
 * Opens DIR without following a symbolic link and checks it, and every
 * entry in it (the service file, "other", and any file an include names),
 * on what was opened: the directory and each entry must belong to root or
 * the effective uid and not be group- or world-writable, and every entry
 * must be a regular file (not a symbolic link). Returns the directory's
 * descriptor, which pam_start_confdir then reads through /proc/self/fd so
 * that the directory checked is the one used; or -1 after one line.
 */
int ar_open_confdir(const char *dir)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	int fd, fd2, bad = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode) || !trusted_stat(&st)) {
		fprintf(stderr, "agent-run: --config %s: must be a directory (not a symbolic link) "
			"owned by root or you, not group/world-writable%s%s\n", dir,
			fd < 0 ? ": " : "", fd < 0 ? strerror(errno) : "");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fd2 = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	d = fd2 >= 0 ? fdopendir(fd2) : NULL;
	if (d == NULL) {
		fprintf(stderr, "agent-run: --config %s: %s\n", dir, strerror(errno));
		if (fd2 >= 0)
			close(fd2);
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode) || !trusted_stat(&st)) {
			fprintf(stderr, "agent-run: --config %s: %s must be a regular file (not a "
				"symbolic link) owned by root or you, not group/world-writable\n",
				dir, de->d_name);
			bad = 1;
			break;
		}
	}
	closedir(d);
	if (bad) {
		close(fd);
		return -1;
	}
	return fd;
}
