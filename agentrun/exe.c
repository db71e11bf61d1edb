/*
 * exe.c - CMD's executable, opened once (docs/attestation.md): agent-run
 * resolves CMD before the PAM transaction, hands the descriptor to the
 * module to measure (PAM_AGENT_WORKLOAD_FD) and starts CMD with fexecve
 * of that same descriptor, so what was measured is what runs.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agentrun.h"

/* The PATH CMD is looked up in: the last --env PATH= or --keep-env PATH, else the default. */
static const char *cmd_path(const struct env_opt *opts, size_t n_opts)
{
	const char *path = DEFAULT_PATH;
	size_t i;

	for (i = 0; i < n_opts; i++) {
		if (opts[i].keep && strcmp(opts[i].arg, "PATH") == 0)
			path = getenv("PATH") != NULL ? getenv("PATH") : DEFAULT_PATH;
		else if (!opts[i].keep && strncmp(opts[i].arg, "PATH=", 5) == 0)
			path = opts[i].arg + 5;
	}
	return path;
}

/* Opens file when it is an executable regular file; -1 with errno otherwise. */
static int open_exe(const char *file)
{
	struct stat st;
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0) {
		close(fd);
		errno = EACCES;
		return -1;
	}
	return fd;
}

int ar_open_cmd(const char *cmd, const struct env_opt *opts, size_t n_opts, int *code)
{
	const char *p = cmd_path(opts, n_opts);
	bool denied = false;
	char file[PATH_MAX];

	if (strchr(cmd, '/') != NULL) {
		int fd = open_exe(cmd);

		if (fd < 0) {
			*code = errno == ENOENT ? 127 : 126;
			fprintf(stderr, "agent-run: %s: %s\n", cmd, strerror(errno));
		}
		return fd;
	}
	while (*p != '\0') {
		size_t len = strcspn(p, ":");
		int fd;

		/* an empty element is the current directory, as for execvp */
		if (snprintf(file, sizeof(file), "%.*s%s%s", (int)len, len ? p : ".", "/", cmd) <
		    (int)sizeof(file)) {
			fd = open_exe(file);
			if (fd >= 0)
				return fd;
			denied |= errno == EACCES;
		}
		p += len;
		if (*p == ':')
			p++;
	}
	*code = denied ? 126 : 127;
	fprintf(stderr, "agent-run: %s: %s\n", cmd,
		denied ? "found, but not an executable file" : "command not found");
	return -1;
}

/* Closes every descriptor from low up (close_range, else one by one). */
static void close_from(int low)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)low, ~0U, 0U) == 0)
		return;
#endif
	{
		long max = sysconf(_SC_OPEN_MAX);
		int fd;

		if (max < 0 || max > 1024 * 1024)
			max = 1024 * 1024;
		for (fd = low; fd < max; fd++)
			close(fd);
	}
}

/*
 * Starts CMD from exe (the descriptor the module measured) as descriptor
 * 3: a script's interpreter reads it there (/dev/fd/3), so it stays open
 * across the exec; a binary's closes at the exec.
 */
void ar_exec_measured(int exe, char **argv, char **env)
{
	char magic[2];

	if (dup2(exe, 3) != 3)
		return;
	close_from(4);
	if (pread(3, magic, 2, 0) == 2 && magic[0] == '#' && magic[1] == '!')
		fcntl(3, F_SETFD, 0);
	else
		fcntl(3, F_SETFD, FD_CLOEXEC);
	fexecve(3, argv, env);
}
