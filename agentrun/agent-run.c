/*
 * agent-run - the launcher an agent supervisor (root, like runuser) uses:
 * runs the PAM stack for the agent with its token, then CMD as the target
 * user inside the new PAM session, in a terminal session of its own (and a
 * pseudo-terminal of its own when agent-run's stdin is a terminal), with a
 * minimal environment, no inherited descriptors and a fixed umask; forwards
 * signals, ends CMD at the session's max_session, and when CMD ends kills
 * every process the session left behind, then closes the session (which
 * revokes its credentials) and exits with CMD's status. See agent-run(1).
 *
 * agent-run [--token-file F | --token-fd N] [--service S] [--user U]
 *           [--config DIR] [--env NAME=VALUE]... [--keep-env NAME]...
 *           [--umask MODE] -- CMD [ARG…]
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

#define EXIT_REFUSED 77	 /* authentication or account refused: CMD never ran */
#define EXIT_TROUBLE 125 /* agent-run itself failed */
#define TOKEN_MAX (64 * 1024)
/* the one prompt pam_agent asks (pam_agent/token.c, token_from_prompt) */
#define TOKEN_PROMPT "Agent token: "
/* how long CMD and the processes it left get between SIGTERM and SIGKILL */
#define GRACE_SECONDS 5
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
/* the session's end, put in the PAM environment by pam_agent's session */
#define EXPIRES_VAR "PAM_AGENT_EXPIRES"
/* the farthest session end agent-run accepts: 100 years from now */
#define MAX_LIMIT_SECONDS (100LL * 366 * 24 * 3600)

extern char **environ;

struct conv_state {
	const char *token;   /* the answer to the module's token prompt */
	char last_error[512]; /* the last PAM_ERROR_MSG, for the one-line reason */
};

/*
 * The conversation: pam_agent's own hidden prompt gets the token (no
 * 512-byte limit here); any other hidden prompt (pam_unix's "Password: ",
 * an LDAP module's) fails the conversation, so the token never reaches a
 * module that would take it for a password. Messages are kept or shown,
 * anything else is refused.
 */
static int conversation(int n, const struct pam_message **msg, struct pam_response **resp,
			void *data)
{
	struct conv_state *st = data;
	struct pam_response *r;
	int i;

	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	r = calloc((size_t)n, sizeof(*r));
	if (r == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			if (st->token == NULL || msg[i]->msg == NULL ||
			    strcmp(msg[i]->msg, TOKEN_PROMPT) != 0 ||
			    (r[i].resp = strdup(st->token)) == NULL)
				goto fail;
			break;
		case PAM_ERROR_MSG:
			snprintf(st->last_error, sizeof(st->last_error), "%s", msg[i]->msg);
			break;
		case PAM_TEXT_INFO:
			fprintf(stderr, "agent-run: %s\n", msg[i]->msg);
			break;
		default: /* PAM_PROMPT_ECHO_ON: nobody is there to answer */
			goto fail;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
fail:
	for (i = 0; i < n; i++)
		pa_free_secret(r[i].resp);
	free(r);
	return PAM_CONV_ERR;
}

/* Reads the whole token from fd (trailing whitespace dropped). */
static char *read_token(int fd)
{
	char *buf = malloc(TOKEN_MAX + 1);
	size_t len = 0;
	ssize_t n;

	if (buf == NULL)
		return NULL;
	while (len < TOKEN_MAX && (n = read(fd, buf + len, TOKEN_MAX - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pa_free_secret_buf(buf, TOKEN_MAX + 1);
			return NULL;
		}
		len += (size_t)n;
	}
	while (len > 0 && strchr(" \t\r\n", buf[len - 1]) != NULL)
		len--;
	/* a NUL would hide the rest of the token from pa_free_secret's wipe */
	if (memchr(buf, '\0', len) != NULL) {
		pa_free_secret_buf(buf, TOKEN_MAX + 1);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

/* ---- the target account, copied at once (getpwnam's buffer is shared) ---- */

struct account {
	uid_t uid;
	gid_t gid;
	char *name, *dir, *shell;
};

static void account_free(struct account *a)
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
static int account_lookup(const char *name, uid_t uid, struct account *a)
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
		account_free(a);
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
static bool user_unchanged(pam_handle_t *pamh, const char *name, const char *step)
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

struct envv {
	char **v;
	size_t n;
};

static bool env_name_ok(const char *s, size_t len)
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

static void env_free(struct envv *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
	e->v = NULL;
	e->n = 0;
}

/* An --env or --keep-env option, in the order given. */
struct env_opt {
	bool keep;	 /* --keep-env NAME, else --env NAME=VALUE */
	const char *arg;
};

/*
 * CMD's environment, built from nothing: PATH (a default), TERM when set,
 * the PAM environment, HOME, USER, LOGNAME and SHELL of the account, then
 * the --keep-env and --env options in order. Nothing else of agent-run's
 * own environment (a supervisor's API keys, SSH_AUTH_SOCK, KRB5CCNAME, …).
 */
static int build_env(struct envv *e, pam_handle_t *pamh, const struct account *a,
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
	    env_set(e, "LOGNAME", a->name) != 0 || env_set(e, "SHELL", a->shell) != 0)
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
static int open_confdir(const char *dir)
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

/* ---- the terminal ---- */

static struct termios saved_tio;
static bool tio_saved;
/*
 * The operator's terminal: which of fds 0-2 are terminals (bit i for fd
 * i), the first of them (its settings and window size are CMD's), and
 * where what CMD writes to its own terminal goes (the first terminal of
 * fds 1-2, else stdout). A terminal of the operator's is never CMD's
 * descriptor: CMD gets its pty's slave in its place.
 */
static unsigned tty_fds;
static int term_fd = -1;
static int out_fd = STDOUT_FILENO;

static void find_terminals(void)
{
	int fd;

	for (fd = 2; fd >= 0; fd--) {
		if (isatty(fd)) {
			tty_fds |= 1U << fd;
			term_fd = fd;
			if (fd > 0)
				out_fd = fd;
		}
	}
}

/* Puts the operator's terminal back the way agent-run found it. */
static void restore_tty(void)
{
	if (tio_saved) {
		tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_tio);
		tio_saved = false;
	}
}

/*
 * A pseudo-terminal for CMD, like `su --pty`: its slave gets the
 * operator's terminal settings and window size. Returns 0 with *master and
 * *slave open (close-on-exec), or -1.
 */
static int open_pty(int *master, int *slave)
{
	struct termios tio;
	struct winsize ws;
	char name[128];

	*slave = -1;
	*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*master < 0)
		return -1;
	if (grantpt(*master) != 0 || unlockpt(*master) != 0 ||
	    ptsname_r(*master, name, sizeof(name)) != 0 ||
	    (*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		close(*master);
		*master = -1;
		return -1;
	}
	if (tcgetattr(term_fd, &tio) == 0)
		tcsetattr(*slave, TCSANOW, &tio);
	if (ioctl(term_fd, TIOCGWINSZ, &ws) == 0)
		ioctl(*slave, TIOCSWINSZ, &ws);
	return 0;
}

static bool write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno == EAGAIN) {
				struct pollfd p = { .fd = fd, .events = POLLOUT };

				poll(&p, 1, -1);
				continue;
			}
			return false;
		}
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* Copies what CMD's terminal has written, without waiting, to out_fd. */
static void drain_master(int *master)
{
	char buf[4096];
	ssize_t n;

	while (*master >= 0) {
		n = read(*master, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) { /* EIO: no process has the slave open any more */
			close(*master);
			*master = -1;
			return;
		}
		write_all(out_fd, buf, (size_t)n);
	}
}

/* ---- signals, through a pipe into the loop ---- */

static int sig_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char c = (unsigned char)sig;

	if (write(sig_pipe[1], &c, 1) < 0) {
		/* full pipe: the loop has signals to read anyway */
	}
	errno = saved;
}

static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

static int catch_signals(void)
{
	struct sigaction sa;
	size_t i;

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaction(forwarded[i], &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	/* a closed stdout must not kill agent-run before the session is closed */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* ---- the session's processes ---- */

/*
 * The parent's pid and the start time (clock ticks since boot) of pid,
 * which with the pid name one process. False when there is no such
 * process (or its stat cannot be read).
 */
static bool proc_stat(pid_t pid, pid_t *ppid, unsigned long long *start)
{
	struct pa_proc_stat ps;

	if (pa_proc_stat(pid, &ps) != 0)
		return false;
	*ppid = ps.ppid;
	*start = ps.start;
	return true;
}

/*
 * Sends sig to the process pid that was seen as ppid's child, started at
 * start, and to no other: a pidfd names the process that has the pid now,
 * /proc then confirms that it is still the one seen (same start time, same
 * parent, or agent-run when its parent has gone: agent-run is their
 * subreaper), and the signal goes through the pidfd. A process seen that
 * has since been reaped (its pid free, perhaps already an unrelated
 * process's) gets nothing. Returns true when sig was sent.
 */
static bool signal_process(pid_t pid, pid_t ppid, unsigned long long start, int sig)
{
	pid_t now_ppid;
	unsigned long long now_start;
	bool same;
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (pidfd < 0 && errno != ENOSYS)
		return false; /* ESRCH: gone */
	same = proc_stat(pid, &now_ppid, &now_start) && now_start == start &&
	       (now_ppid == ppid || now_ppid == getpid());
	if (pidfd < 0) /* a kernel before 5.3: no pidfd, the check just made */
		return same && kill(pid, sig) == 0;
	same = same && syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) == 0;
	close(pidfd);
	return same;
}

/*
 * Sends sig to every process that descends from agent-run, found through
 * /proc (parent links). agent-run is a child subreaper, so a process CMD
 * left behind (double fork, setsid) is re-parented to agent-run rather
 * than to init and still descends from it. Each one gets the signal
 * through signal_process: never a pid that has changed hands since the
 * scan. Returns how many were sent.
 */
static size_t signal_descendants(int sig)
{
	struct proc {
		pid_t pid, ppid;
		unsigned long long start;
		bool mine;
	} *v = NULL, *nv;
	size_t n = 0, cap = 0, i, sent = 0;
	bool more = true;
	struct dirent *de;
	DIR *d = opendir("/proc");
	pid_t self = getpid();

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		pid_t ppid;
		unsigned long long start;
		long pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = strtol(de->d_name, NULL, 10);
		if (pid <= 0 || pid > INT_MAX || !proc_stat((pid_t)pid, &ppid, &start))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL)
				break;
			v = nv;
		}
		v[n].pid = (pid_t)pid;
		v[n].ppid = ppid;
		v[n].start = start;
		v[n].mine = v[n].ppid == self;
		n++;
	}
	closedir(d);
	while (more) {
		more = false;
		for (i = 0; i < n; i++) {
			size_t j;

			if (v[i].mine)
				continue;
			for (j = 0; j < n; j++) {
				if (v[j].mine && v[j].pid == v[i].ppid) {
					v[i].mine = more = true;
					break;
				}
			}
		}
	}
	for (i = 0; i < n; i++)
		if (v[i].mine && v[i].pid != self &&
		    signal_process(v[i].pid, v[i].ppid, v[i].start, sig))
			sent++;
	free(v);
	return sent;
}

/*
 * Reaps every child that has ended; CMD's status goes to *status. Returns
 * true when agent-run has no child left at all.
 */
static bool reap(pid_t cmd, int *status, bool *cmd_done)
{
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);

		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0)
			return errno == ECHILD;
		if (p == 0)
			return false;
		if (p == cmd) {
			*status = st;
			*cmd_done = true;
		}
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * Ends every process of the session: SIGTERM to CMD's process group and
 * to every descendant, up to grace_ms for them to go, then SIGKILL until
 * none is left. Returns false (after a message) when some could not be
 * ended.
 */
static bool end_processes(pid_t cmd, int *status, bool *cmd_done, int *master, int64_t grace_ms)
{
	int64_t deadline = pa_mono_ms() + grace_ms, give_up;

	if (reap(cmd, status, cmd_done))
		return true;
	if (!*cmd_done)
		kill(-cmd, SIGTERM);
	signal_descendants(SIGTERM);
	while (pa_mono_ms() < deadline) {
		drain_master(master);
		if (reap(cmd, status, cmd_done))
			return true;
		sleep_ms(20);
	}
	give_up = pa_mono_ms() + 10000;
	while (pa_mono_ms() < give_up) {
		if (!*cmd_done)
			kill(-cmd, SIGKILL);
		signal_descendants(SIGKILL);
		drain_master(master);
		if (reap(cmd, status, cmd_done))
			return true;
		sleep_ms(10);
	}
	fprintf(stderr, "agent-run: processes of the session are still running after SIGKILL\n");
	syslog(LOG_ERR, "processes of the session are still running after SIGKILL");
	return false;
}

/* ---- the child: CMD ---- */

/* Closes every descriptor from 3 up (close_range, else one by one). */
static void close_from_3(void)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0)
		return;
#endif
	{
		long max = sysconf(_SC_OPEN_MAX);
		int fd;

		if (max < 0 || max > 1024 * 1024)
			max = 1024 * 1024;
		for (fd = 3; fd < max; fd++)
			close(fd);
	}
}

static _Noreturn void run_cmd(const struct account *a, int slave, mode_t mask, char **env,
			      char **argv)
{
	sigset_t none;
	int sig;

	/*
	 * the handlers, the ignored signals (agent-run's, or a supervisor's
	 * nohup) and the blocked set are not CMD's: every signal to its default
	 */
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* a session of its own: no controlling terminal of the operator's */
	if (setsid() < 0) {
		fprintf(stderr, "agent-run: setsid: %s\n", strerror(errno));
		_exit(EXIT_TROUBLE);
	}
	/*
	 * the pty's slave in place of every descriptor that is the operator's
	 * terminal (the others, files or pipes, stay CMD's own)
	 */
	if (slave >= 0) {
		int fd;

		if (ioctl(slave, TIOCSCTTY, 0) != 0)
			goto no_tty;
		for (fd = 0; fd <= 2; fd++)
			if ((tty_fds & (1U << fd)) && dup2(slave, fd) != fd)
				goto no_tty;
	}
	/* become the user; nothing to switch when we already are (tests) */
	if ((geteuid() != a->uid || getegid() != a->gid) &&
	    (setgid(a->gid) != 0 || initgroups(a->name, a->gid) != 0 || setuid(a->uid) != 0)) {
		fprintf(stderr, "agent-run: cannot become %s: %s\n", a->name, strerror(errno));
		_exit(EXIT_TROUBLE);
	}
	if (a->uid != 0 && setuid(0) == 0) { /* must not be able to get root back */
		fprintf(stderr, "agent-run: could regain root after becoming %s\n", a->name);
		_exit(EXIT_TROUBLE);
	}
	umask(mask);
	if (chdir(a->dir) != 0) {
		fprintf(stderr, "agent-run: cannot change to the home directory %s (%s): "
			"starting in /\n", a->dir, strerror(errno));
		if (chdir("/") != 0)
			_exit(EXIT_TROUBLE);
	}
	/* last, so that what the lookups above opened (NSS) goes too */
	close_from_3();
	environ = env;
	execvp(argv[0], argv);
	fprintf(stderr, "agent-run: %s: %s\n", argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
no_tty:
	fprintf(stderr, "agent-run: cannot give CMD its terminal: %s\n", strerror(errno));
	_exit(EXIT_TROUBLE);
}

/* Opens /dev/null on fd (which must be free and the lowest free one). */
static bool reopen_null(int fd)
{
	int n = open("/dev/null", O_RDWR);

	if (n == fd)
		return true;
	if (n >= 0) {
		if (dup2(n, fd) == fd) {
			close(n);
			return true;
		}
		close(n);
	}
	return false;
}

/* A --token-fd argument: a descriptor number, or -2 when it is not one. */
static int fd_arg(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > INT_MAX)
		return -2;
	return (int)v;
}

static int usage(FILE *f, int code)
{
	fprintf(f, "usage: agent-run [--token-file F | --token-fd N] [--service S] [--user U]\n"
		   "                 [--config DIR] [--env NAME=VALUE]... [--keep-env NAME]...\n"
		   "                 [--umask MODE] -- CMD [ARG...]\n"
		   "Runs the PAM stack of service S (default agent-run) for user U (default\n"
		   "the current one) with the agent's token, then CMD as U inside the new\n"
		   "session (a terminal session of its own, a pseudo-terminal in place of\n"
		   "any of stdin, stdout, stderr that is a terminal, a minimal environment,\n"
		   "umask 022, in U's home); ends it at the\n"
		   "session's max_session; when CMD ends, kills what it left running, closes\n"
		   "the session (revoking its credentials) and exits with CMD's status.\n"
		   "Refusals print one line and exit %d.\n"
		   "--config DIR reads the PAM service files from DIR instead of /etc/pam.d\n"
		   "(DIR and its files: owned by root or you, not group/world-writable, no\n"
		   "symbolic links).\n",
		EXIT_REFUSED);
	return code;
}

/* Prints the one refusal line: the module's own message when it sent one. */
static int refused(pam_handle_t *pamh, const char *step, int ret, const struct conv_state *st)
{
	fprintf(stderr, "agent-run: %s refused: %s%s%s\n", step, pam_strerror(pamh, ret),
		st->last_error[0] != '\0' ? ": " : "", st->last_error);
	return EXIT_REFUSED;
}

/*
 * The session's end from PAM_AGENT_EXPIRES (seconds since the epoch):
 * *limit_ms is how long CMD may run from now, or -1 when the stack set no
 * end. Returns -1 after a message when the value is not a time (agent-run
 * then does not start CMD: a limit it cannot read is not dropped).
 */
static int session_limit(pam_handle_t *pamh, int64_t *limit_ms, long long *expires)
{
	const char *v = pam_getenv(pamh, EXPIRES_VAR);
	char *end;
	long long t;

	*limit_ms = -1;
	*expires = 0;
	if (v == NULL && pam_getenv(pamh, "PAM_AGENT_SESSION") != NULL) {
		fprintf(stderr, "agent-run: session refused: pam_agent opened a session but set no "
			"%s; not running CMD without its limit\n", EXPIRES_VAR);
		return -1;
	}
	if (v == NULL)
		return 0;
	errno = 0;
	t = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || t <= 0) {
		fprintf(stderr, "agent-run: session refused: %s=%s is not a time; not running CMD "
			"without its limit\n", EXPIRES_VAR, v);
		return -1;
	}
	/*
	 * t and now are both positive: t - now cannot overflow. An end past
	 * MAX_LIMIT_SECONDS from now is no session's max_session (and its
	 * milliseconds could overflow into a negative "no limit"): refused.
	 */
	*expires = t;
	t -= (long long)time(NULL);
	if (t > MAX_LIMIT_SECONDS) {
		fprintf(stderr, "agent-run: session refused: %s=%s is more than 100 years away, "
			"not a session's end; not running CMD without its limit\n", EXPIRES_VAR, v);
		return -1;
	}
	*limit_ms = t > 0 ? (int64_t)t * 1000 : 0;
	return 0;
}

/*
 * Runs CMD (already forked as pid) to its end: forwards the operator's
 * terminal both ways when there is a pty, window size changes, the
 * supervisor's signals (to CMD's process group); at the session's end
 * (limit_ms) or a grace period after SIGTERM, SIGINT or SIGHUP, returns so
 * that the caller ends every process. Returns true when CMD has ended by
 * itself, false when it must be ended.
 */
static bool supervise(pid_t pid, int *master, int64_t limit_ms, int *status, bool *max_reached,
		      const char *sid)
{
	int64_t start = pa_mono_ms(), grace_end = -1;
	char in[4096];
	size_t in_len = 0, in_off = 0;
	/* the operator's keys: only from a terminal on stdin */
	bool in_open = *master >= 0 && (tty_fds & 1U);

	for (;;) {
		struct pollfd p[3];
		nfds_t np = 0;
		int64_t now = pa_mono_ms(), wait = -1;
		int i_sig = -1, i_in = -1, i_m = -1;

		if (limit_ms >= 0) {
			if (now - start >= limit_ms) {
				*max_reached = true;
				fprintf(stderr, "agent-run: session %s reached its max_session: ending "
					"CMD (SIGTERM, SIGKILL after %d s)\n", sid, GRACE_SECONDS);
				syslog(LOG_NOTICE, "session %s reached its max_session: ending CMD "
					"(pid %d)", sid, (int)pid);
				return false;
			}
			wait = limit_ms - (now - start);
		}
		if (grace_end >= 0) {
			if (now >= grace_end)
				return false;
			if (wait < 0 || grace_end - now < wait)
				wait = grace_end - now;
		}
		p[np] = (struct pollfd){ .fd = sig_pipe[0], .events = POLLIN };
		i_sig = (int)np++;
		if (*master >= 0) {
			if (in_open && in_len == 0) {
				p[np] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
				i_in = (int)np++;
			}
			p[np] = (struct pollfd){ .fd = *master,
						 .events = (short)(POLLIN | (in_len ? POLLOUT : 0)) };
			i_m = (int)np++;
		}
		if (poll(p, np, wait > INT_MAX ? INT_MAX : (int)wait) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "agent-run: poll: %s\n", strerror(errno));
			return false;
		}
		if (p[i_sig].revents & POLLIN) {
			unsigned char sigs[64];
			ssize_t n = read(sig_pipe[0], sigs, sizeof(sigs)), k;

			for (k = 0; k < n; k++) {
				int sig = sigs[k];

				if (sig == SIGCHLD) {
					if (waitpid(pid, status, WNOHANG) == pid)
						return true;
				} else if (sig == SIGWINCH) {
					struct winsize ws;

					if (*master >= 0 && ioctl(term_fd, TIOCGWINSZ, &ws) == 0)
						ioctl(*master, TIOCSWINSZ, &ws);
				} else {
					if (kill(-pid, sig) != 0)
						kill(pid, sig);
					if ((sig == SIGTERM || sig == SIGINT || sig == SIGHUP) &&
					    grace_end < 0)
						grace_end = pa_mono_ms() + GRACE_SECONDS * 1000;
				}
			}
		}
		if (i_in >= 0 && (p[i_in].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = read(STDIN_FILENO, in, sizeof(in));

			if (n > 0) {
				in_len = (size_t)n;
				in_off = 0;
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				in_open = false;
			}
		}
		if (i_m >= 0 && (p[i_m].revents & POLLOUT) && in_len > 0) {
			ssize_t n = write(*master, in + in_off, in_len);

			if (n > 0) {
				in_off += (size_t)n;
				in_len -= (size_t)n;
			}
		}
		if (i_m >= 0 && (p[i_m].revents & (POLLIN | POLLHUP | POLLERR)))
			drain_master(master);
		/* CMD may have ended without its SIGCHLD read yet (pipe full) */
		if (waitpid(pid, status, WNOHANG) == pid)
			return true;
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "token-file", required_argument, NULL, 'f' },
		{ "token-fd", required_argument, NULL, 'd' },
		{ "service", required_argument, NULL, 's' },
		{ "user", required_argument, NULL, 'u' },
		{ "config", required_argument, NULL, 'c' },
		{ "env", required_argument, NULL, 'e' },
		{ "keep-env", required_argument, NULL, 'k' },
		{ "umask", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *service = "agent-run", *user = NULL, *token_file = NULL, *confdir = NULL;
	struct conv_state st = { 0 };
	struct pam_conv conv = { conversation, &st };
	pam_handle_t *pamh = NULL;
	struct account acct = { 0 };
	struct envv env = { 0 };
	struct env_opt *eopts;
	size_t n_eopts = 0;
	char *token = NULL, *end;
	int token_fd = -1, c, ret = PAM_SYSTEM_ERR, status = 0, code = EXIT_TROUBLE;
	int conf_fd = -1, master = -1, slave = -1;
	bool session_open = false, cred_set = false, cmd_done = false, max_reached = false;
	mode_t mask = 022;
	int64_t limit_ms;
	long long expires;
	const char *sid;
	pid_t pid;

	/*
	 * 0, 1 and 2 open (on /dev/null when the supervisor closed them): a
	 * descriptor agent-run or a module opens must never become CMD's
	 * standard input or output
	 */
	for (c = 0; c <= 2; c++)
		if (fcntl(c, F_GETFD) < 0 && (errno != EBADF || !reopen_null(c)))
			return EXIT_TROUBLE;
	eopts = calloc((size_t)argc, sizeof(*eopts));
	if (eopts == NULL)
		return EXIT_TROUBLE;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'f': token_file = optarg; break;
		case 'd': token_fd = fd_arg(optarg); break;
		case 's': service = optarg; break;
		case 'u': user = optarg; break;
		case 'c': confdir = optarg; break;
		case 'e':
			if (!env_name_ok(optarg, strcspn(optarg, "=")) || strchr(optarg, '=') == NULL) {
				fprintf(stderr, "agent-run: --env wants NAME=VALUE, not %s\n", optarg);
				free(eopts);
				return EXIT_TROUBLE;
			}
			eopts[n_eopts++] = (struct env_opt){ false, optarg };
			break;
		case 'k':
			if (!env_name_ok(optarg, strlen(optarg))) {
				fprintf(stderr, "agent-run: --keep-env wants a variable name, not %s\n",
					optarg);
				free(eopts);
				return EXIT_TROUBLE;
			}
			eopts[n_eopts++] = (struct env_opt){ true, optarg };
			break;
		case 'm': {
			unsigned long m;

			errno = 0;
			m = strtoul(optarg, &end, 8);
			if (errno != 0 || end == optarg || *end != '\0' || m > 0777) {
				fprintf(stderr, "agent-run: --umask wants an octal mode, not %s\n",
					optarg);
				free(eopts);
				return EXIT_TROUBLE;
			}
			mask = (mode_t)m;
			break;
		}
		case 'h': free(eopts); return usage(stdout, 0);
		default: free(eopts); return usage(stderr, EXIT_TROUBLE);
		}
	}
	if (token_fd == -2) {
		fprintf(stderr, "agent-run: --token-fd wants a file descriptor number\n");
		free(eopts);
		return EXIT_TROUBLE;
	}
	if (service == NULL || *service == '\0' || optind >= argc ||
	    (token_file != NULL && token_fd >= 0)) {
		free(eopts);
		return usage(stderr, EXIT_TROUBLE);
	}
	/* a service is a file name in the PAM directory, never a path */
	if (strchr(service, '/') != NULL || strcmp(service, ".") == 0 ||
	    strcmp(service, "..") == 0) {
		fprintf(stderr, "agent-run: --service %s: not a service name\n", service);
		free(eopts);
		return EXIT_TROUBLE;
	}
	if (account_lookup(user, getuid(), &acct) != 0) {
		fprintf(stderr, "agent-run: unknown user %s%s%s\n", user != NULL ? user : "(current)",
			errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "");
		free(eopts);
		return EXIT_TROUBLE;
	}
	openlog("agent-run", LOG_PID, LOG_AUTHPRIV);
	if (token_file != NULL) {
		int fd = open(token_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

		if (fd < 0) {
			fprintf(stderr, "agent-run: %s: %s\n", token_file, strerror(errno));
			goto out;
		}
		token = read_token(fd);
		close(fd);
	} else if (token_fd >= 0) {
		token = read_token(token_fd);
		close(token_fd);
		/* CMD then reads /dev/null there, never a descriptor opened later */
		if (token_fd <= 2 && !reopen_null(token_fd)) {
			fprintf(stderr, "agent-run: cannot open /dev/null: %s\n", strerror(errno));
			goto out;
		}
	}
	if ((token_file != NULL || token_fd >= 0) && token == NULL) {
		fprintf(stderr, "agent-run: cannot read the token\n");
		goto out;
	}
	st.token = token;

	if (confdir != NULL) {
		char path[64];

		/* service files name modules to load: only trusted ones */
		conf_fd = open_confdir(confdir);
		if (conf_fd < 0)
			goto out;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", conf_fd);
		ret = pam_start_confdir(service, acct.name, &conv, path, &pamh);
	} else {
		ret = pam_start(service, acct.name, &conv, &pamh);
	}
	if (ret != PAM_SUCCESS) {
		/* pam_start leaves no handle to ask pam_strerror with */
		fprintf(stderr, "agent-run: pam_start for service %s failed (PAM error %d); "
			"see the system log\n", service, ret);
		goto out;
	}
	ret = pam_authenticate(pamh, PAM_DISALLOW_NULL_AUTHTOK);
	if (ret != PAM_SUCCESS) {
		code = refused(pamh, "authentication", ret, &st);
		goto out;
	}
	/* the token is no longer needed in this process */
	pa_free_secret(token);
	token = NULL;
	st.token = NULL;
	if (!user_unchanged(pamh, acct.name, "authentication")) {
		code = EXIT_REFUSED;
		goto out;
	}
	ret = pam_acct_mgmt(pamh, 0);
	if (ret != PAM_SUCCESS) {
		code = refused(pamh, "account", ret, &st);
		goto out;
	}
	if (!user_unchanged(pamh, acct.name, "account")) {
		code = EXIT_REFUSED;
		goto out;
	}
	/* sshd's order: credentials first, then the session */
	ret = pam_setcred(pamh, PAM_ESTABLISH_CRED);
	if (ret != PAM_SUCCESS) {
		code = refused(pamh, "credentials", ret, &st);
		goto out;
	}
	cred_set = true;
	ret = pam_open_session(pamh, 0);
	if (ret != PAM_SUCCESS) {
		code = refused(pamh, "session", ret, &st);
		goto out;
	}
	session_open = true;
	if (!user_unchanged(pamh, acct.name, "session")) {
		code = EXIT_REFUSED;
		goto out;
	}
	sid = pam_getenv(pamh, "PAM_AGENT_SESSION");
	sid = sid != NULL ? sid : "(no PAM_AGENT_SESSION)";
	if (session_limit(pamh, &limit_ms, &expires) != 0) {
		code = EXIT_REFUSED;
		goto out;
	}
	if (limit_ms == 0) {
		fprintf(stderr, "agent-run: session refused: session %s is already past its "
			"max_session (%s=%lld)\n", sid, EXPIRES_VAR, expires);
		code = EXIT_REFUSED;
		goto out;
	}
	if (build_env(&env, pamh, &acct, eopts, n_eopts) != 0) {
		fprintf(stderr, "agent-run: out of memory for CMD's environment\n");
		goto out;
	}
	/*
	 * a pty as soon as any of fds 0-2 is a terminal: with stdin elsewhere
	 * (--token-fd 0, < file), CMD must not get the operator's terminal on
	 * stdout or stderr, where it could read the operator's keys
	 */
	find_terminals();
	if (tty_fds != 0 && open_pty(&master, &slave) != 0) {
		fprintf(stderr, "agent-run: cannot open a pseudo-terminal for CMD: %s\n",
			strerror(errno));
		goto out;
	}
	/* processes CMD leaves (double fork, setsid) are re-parented to us */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0 || catch_signals() != 0) {
		fprintf(stderr, "agent-run: cannot supervise CMD: %s\n", strerror(errno));
		goto out;
	}
	/* raw mode only when agent-run relays the keys typed on stdin */
	if (master >= 0 && (tty_fds & 1U)) {
		struct termios raw;

		fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
		if (tcgetattr(STDIN_FILENO, &saved_tio) == 0) {
			raw = saved_tio;
			cfmakeraw(&raw);
			tio_saved = true;
			atexit(restore_tty);
			tcsetattr(STDIN_FILENO, TCSANOW, &raw);
		}
	}
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "agent-run: fork: %s\n", strerror(errno));
		restore_tty();
		goto out;
	}
	if (pid == 0)
		run_cmd(&acct, slave, mask, env.v, argv + optind);
	if (slave >= 0)
		close(slave);
	slave = -1;
	cmd_done = supervise(pid, &master, limit_ms, &status, &max_reached, sid);
	/* CMD and every process it left, whatever ended it */
	drain_master(&master);
	end_processes(pid, &status, &cmd_done, &master, GRACE_SECONDS * 1000);
	drain_master(&master);
	restore_tty();
	/* the close's own children (the module's helper) are the module's */
	signal(SIGCHLD, SIG_DFL);
	signal(SIGWINCH, SIG_DFL);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	if (max_reached)
		syslog(LOG_NOTICE, "session %s ended at its max_session", sid);
	if (cmd_done)
		code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	else /* end_processes said why; the session is closed all the same */
		code = EXIT_TROUBLE;
out:
	if (session_open) {
		ret = pam_close_session(pamh, 0);
		if (ret != PAM_SUCCESS)
			fprintf(stderr, "agent-run: closing the session: %s\n", pam_strerror(pamh, ret));
	}
	if (cred_set)
		pam_setcred(pamh, PAM_DELETE_CRED);
	if (pamh != NULL)
		pam_end(pamh, ret);
	if (master >= 0)
		close(master);
	if (slave >= 0)
		close(slave);
	if (conf_fd >= 0)
		close(conf_fd);
	env_free(&env);
	account_free(&acct);
	free(eopts);
	pa_free_secret(token);
	pa_scrub_stack(PA_SCRUB_PROGRAM);
	return code;
}
