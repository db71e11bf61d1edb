/*
 * exchange.c - the bounded exchange with a child program (session/session.h,
 * ses_exchange_run): stdin written, stdout and stderr read under one
 * deadline and one size bound, in a process group of its own that is
 * killed on timeout, with an empty environment but PATH, in /, and no
 * descriptor of ours. The module runs the helper this way, and the helper
 * its brokers.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "session.h"
#include "util.h"

/* ---- the bounded exchange ------------------------------------------------------ */

/* Moves fd to a descriptor >= 3 (close-on-exec). Returns it, or -1 (fd closed). */
static int fd_high(int fd)
{
	int nfd;

	if (fd < 0 || fd >= 3)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

/* A close-on-exec pipe whose two ends are both >= 3. Returns 0 or -1. */
static int pipe_high(int p[2])
{
	if (pipe2(p, O_CLOEXEC) != 0) {
		p[0] = p[1] = -1;
		return -1;
	}
	p[0] = fd_high(p[0]);
	p[1] = fd_high(p[1]);
	if (p[0] < 0 || p[1] < 0) {
		if (p[0] >= 0)
			close(p[0]);
		if (p[1] >= 0)
			close(p[1]);
		p[0] = p[1] = -1;
		return -1;
	}
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* Appends len bytes to x->out, growing it without leaving unwiped copies. */
static int out_append(struct ses_exchange *x, const char *buf, size_t len)
{
	if (x->outlen + len + 1 > x->outcap) {
		size_t cap = x->outcap ? x->outcap : 4096;
		char *n;

		while (cap < x->outlen + len + 1)
			cap *= 2;
		n = malloc(cap);
		if (n == NULL)
			return -1;
		if (x->out != NULL) {
			memcpy(n, x->out, x->outlen);
			pa_free_secret_buf(x->out, x->outcap);
		}
		x->out = n;
		x->outcap = cap;
	}
	memcpy(x->out + x->outlen, buf, len);
	x->outlen += len;
	x->out[x->outlen] = '\0';
	return 0;
}

/* Kills the child's process group (and the child, should setpgid have failed). */
static void kill_child(pid_t pid)
{
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
}

/*
 * Waits for pid until deadline (monotonic ms), then kills its group and
 * waits for good. Fills x->reaped/status; ECHILD (reaped elsewhere, e.g.
 * SIGCHLD ignored by the application) leaves reaped false.
 */
static void reap(pid_t pid, int64_t deadline, struct ses_exchange *x)
{
	bool killed = false;
	long pause_us = 50; /* doubles up to 5 ms: a quick helper is reaped quickly */
	int st = 0, pidfd = -1;

#ifdef SYS_pidfd_open
	/*
	 * Woken when the child exits, not on the next tick of a sleep. The
	 * pid is still ours (not reaped) unless the application has SIGCHLD
	 * ignored; then it may name another process by now, so each wait on
	 * it is bounded and waitpid's ECHILD still ends the loop.
	 */
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif

	for (;;) {
		pid_t r = waitpid(pid, &st, killed ? 0 : WNOHANG);

		if (r == pid) {
			x->reaped = true;
			x->status = st;
			break;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break; /* ECHILD: someone else reaped it */
		if (pa_mono_ms() >= deadline) {
			x->timed_out = true;
			kill_child(pid);
			killed = true;
			continue;
		}
		if (pidfd >= 0) {
			struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
			int64_t left = deadline - pa_mono_ms();

			(void)poll(&pfd, 1, left < 10 ? (int)(left > 0 ? left : 0) : 10);
		} else {
			struct timespec ts = { 0, pause_us * 1000 };

			nanosleep(&ts, NULL);
			if (pause_us < 5000)
				pause_us *= 2;
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	/*
	 * No kill of the group after the wait: once the child is reaped its
	 * pid may be reused. Every path that kills does so before waiting.
	 */
}

/* The descriptors and progress of one exchange. */
struct xrun {
	int inp[2], outp[2], errp[2], devnull;
	size_t inoff, errhave;
	bool got_epipe;
	pid_t pid;
	int64_t deadline;
};

/* Closes every descriptor of r still open. */
static void xrun_close(struct xrun *r)
{
	close_fd(&r->inp[0]);
	close_fd(&r->inp[1]);
	close_fd(&r->outp[0]);
	close_fd(&r->outp[1]);
	close_fd(&r->errp[0]);
	close_fd(&r->errp[1]);
	close_fd(&r->devnull);
}

/*
 * The child's setup, done by posix_spawn between its clone and execve:
 * stdin, stdout and stderr on in, out and errfd, the working directory
 * "/" (never the caller's: under sudo or su that is the agent's, and a
 * program run as root may load files relative to it, python3 -m NAME or
 * ./x), every other descriptor closed, a process group of its own, every
 * signal at its default disposition and none blocked.
 */
static int spawn_setup(posix_spawn_file_actions_t *fa, posix_spawnattr_t *at, int in, int out,
		       int errfd)
{
	sigset_t all, none;

	sigfillset(&all);
	sigemptyset(&none);
	if (posix_spawn_file_actions_adddup2(fa, in, 0) != 0 ||
	    posix_spawn_file_actions_adddup2(fa, out, 1) != 0 ||
	    posix_spawn_file_actions_adddup2(fa, errfd, 2) != 0 ||
	    posix_spawn_file_actions_addchdir_np(fa, "/") != 0 ||
	    posix_spawn_file_actions_addclosefrom_np(fa, 3) != 0)
		return -1;
	if (posix_spawnattr_setflags(at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
					     POSIX_SPAWN_SETSIGMASK) != 0 ||
	    posix_spawnattr_setpgroup(at, 0) != 0 || posix_spawnattr_setsigdefault(at, &all) != 0 ||
	    posix_spawnattr_setsigmask(at, &none) != 0)
		return -1;
	return 0;
}

/*
 * Starts argv with stdin, stdout (and stderr when wanted) on pipes of r,
 * under the deadline of x: 0 when it runs, -1 with err when it could not
 * be started (a failed execve or chdir is posix_spawn's error). glibc's
 * posix_spawn clones with CLONE_VM | CLONE_VFORK: the application's
 * memory is not copied, which is most of a fork's cost in a large process
 * (sshd), and nothing of ours runs in the child.
 */
static int xrun_spawn(const char *const argv[], struct ses_exchange *x, struct xrun *r,
		      char *err, size_t errlen)
{
	char path_env[] = SES_ENV_PATH;
	char *envp[] = { path_env, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int e;

	if (pipe_high(r->inp) != 0 || pipe_high(r->outp) != 0 ||
	    (x->want_stderr && pipe_high(r->errp) != 0))
		return pa_err(err, errlen, "cannot create a pipe: %s", strerror(errno));
	if (!x->want_stderr) {
		r->devnull = fd_high(open("/dev/null", O_WRONLY | O_CLOEXEC));
		if (r->devnull < 0)
			return pa_err(err, errlen, "cannot open /dev/null: %s", strerror(errno));
	}
	if (posix_spawn_file_actions_init(&fa) != 0)
		return pa_err(err, errlen, "out of memory");
	if (posix_spawnattr_init(&at) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return pa_err(err, errlen, "out of memory");
	}
	e = spawn_setup(&fa, &at, r->inp[0], r->outp[1], x->want_stderr ? r->errp[1] : r->devnull);
	r->deadline = pa_mono_ms() + x->timeout_ms;
	if (e == 0)
		e = posix_spawn(&r->pid, argv[0], &fa, &at, (char *const *)argv, envp);
	else
		e = ENOMEM;
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (e != 0) {
		r->pid = -1;
		return pa_err(err, errlen, "cannot execute: %s", strerror(e));
	}
	setpgid(r->pid, r->pid); /* also done in the child; whichever runs first */
	close_fd(&r->inp[0]);
	close_fd(&r->outp[1]);
	close_fd(&r->errp[1]);
	close_fd(&r->devnull);
	if (x->inlen == 0)
		close_fd(&r->inp[1]);
	else if (fcntl(r->inp[1], F_SETFL, O_NONBLOCK) != 0)
		close_fd(&r->inp[1]);
	return 0;
}

/* Writes what the child's stdin takes of x->in; closes it when done or refused. */
static void xrun_feed(struct ses_exchange *x, struct xrun *r, short revents)
{
	ssize_t n;

	if (!(revents & POLLOUT)) {
		close_fd(&r->inp[1]);
		return;
	}
	n = write(r->inp[1], (const char *)x->in + r->inoff, x->inlen - r->inoff);
	if (n > 0) {
		r->inoff += (size_t)n;
		if (r->inoff == x->inlen)
			close_fd(&r->inp[1]);
	} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
		if (errno == EPIPE)
			r->got_epipe = true;
		close_fd(&r->inp[1]); /* the child stopped reading */
	}
}

/*
 * Reads the child's stdout into x (wiping the buffer it used): 0, 1 when
 * it wrote more than x->out_max (the child is killed), -1 when out of
 * memory (err; the child is killed and reaped).
 */
static int xrun_drain(struct ses_exchange *x, struct xrun *r, char *err, size_t errlen)
{
	char buf[4096];
	ssize_t n = read(r->outp[0], buf, sizeof(buf));
	int rc = 0;

	if (n > 0) {
		if (x->outlen + (size_t)n > x->out_max) {
			x->overflow = true;
			kill_child(r->pid);
			rc = 1;
		} else if (out_append(x, buf, (size_t)n) != 0) {
			pa_err(err, errlen, "out of memory");
			kill_child(r->pid);
			reap(r->pid, r->deadline, x);
			rc = -1;
		}
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		close_fd(&r->outp[0]);
	}
	pa_overwrite(buf, sizeof(buf));
	return rc;
}

/* Keeps the start of what the child writes on stderr in x->errtext. */
static void xrun_stderr(struct ses_exchange *x, struct xrun *r)
{
	char buf[4096];
	ssize_t n = read(r->errp[0], buf, sizeof(buf));

	if (n > 0) {
		size_t room = sizeof(x->errtext) - 1 - r->errhave;
		size_t take = (size_t)n < room ? (size_t)n : room;

		memcpy(x->errtext + r->errhave, buf, take);
		r->errhave += take;
		x->errtext[r->errhave] = '\0';
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		close_fd(&r->errp[0]);
	}
}

/*
 * One wait for the child's pipes, and what they have: 0 to go on, 1 when
 * the exchange stops early (time is up, or too much output: the child is
 * killed), -1 with err (the child is killed and reaped).
 */
static int xrun_pump(struct ses_exchange *x, struct xrun *r, char *err, size_t errlen)
{
	struct pollfd fds[3];
	int nfds = 0, wi = -1, oi = -1, ei = -1, n;
	int64_t left = r->deadline - pa_mono_ms();

	if (left <= 0) {
		x->timed_out = true;
		kill_child(r->pid);
		return 1;
	}
	if (r->inp[1] >= 0) {
		wi = nfds;
		fds[nfds++] = (struct pollfd){ .fd = r->inp[1], .events = POLLOUT };
	}
	if (r->outp[0] >= 0) {
		oi = nfds;
		fds[nfds++] = (struct pollfd){ .fd = r->outp[0], .events = POLLIN };
	}
	if (r->errp[0] >= 0) {
		ei = nfds;
		fds[nfds++] = (struct pollfd){ .fd = r->errp[0], .events = POLLIN };
	}
	n = poll(fds, (nfds_t)nfds, left > INT_MAX ? INT_MAX : (int)left);
	if (n < 0 && errno == EINTR)
		return 0;
	if (n < 0) {
		pa_err(err, errlen, "poll: %s", strerror(errno));
		kill_child(r->pid);
		reap(r->pid, r->deadline, x);
		return -1;
	}
	if (wi >= 0 && fds[wi].revents != 0)
		xrun_feed(x, r, fds[wi].revents);
	if (oi >= 0 && fds[oi].revents != 0) {
		n = xrun_drain(x, r, err, errlen);
		if (n != 0)
			return n;
	}
	if (ei >= 0 && fds[ei].revents != 0)
		xrun_stderr(x, r);
	return 0;
}

int ses_exchange_run(const char *const argv[], struct ses_exchange *x, char *err, size_t errlen)
{
	struct xrun r = { .inp = { -1, -1 }, .outp = { -1, -1 }, .errp = { -1, -1 },
			  .devnull = -1, .pid = -1 };
	sigset_t pipeset, oldmask, pending;
	bool masked = false, pipe_pending = false;
	int rc = -1, step = 0;

	x->out = NULL;
	x->outlen = x->outcap = 0;
	x->errtext[0] = '\0';
	x->timed_out = x->overflow = x->reaped = false;
	x->status = 0;
	if (argv == NULL || argv[0] == NULL || argv[0][0] != '/')
		return pa_err(err, errlen, "not an absolute program path");
	if (x->timeout_ms <= 0)
		return pa_err(err, errlen, "no time left to run the program");
	/* a reader that goes away must not kill the caller: SIGPIPE blocked here only */
	sigemptyset(&pipeset);
	sigaddset(&pipeset, SIGPIPE);
	if (pthread_sigmask(SIG_BLOCK, &pipeset, &oldmask) == 0) {
		masked = true;
		if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1)
			pipe_pending = true;
	}
	if (xrun_spawn(argv, x, &r, err, errlen) != 0)
		goto out;
	while (step == 0 && (r.inp[1] >= 0 || r.outp[0] >= 0 || r.errp[0] >= 0))
		step = xrun_pump(x, &r, err, errlen);
	if (step < 0)
		goto out;
	xrun_close(&r);
	reap(r.pid, r.deadline, x);
	rc = 0;
out:
	xrun_close(&r);
	if (masked) {
		if (r.got_epipe && !pipe_pending) {
			static const struct timespec zero = { 0, 0 };

			while (sigtimedwait(&pipeset, NULL, &zero) < 0 && errno == EINTR)
				;
		}
		pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
	}
	return rc;
}

void ses_exchange_clear(struct ses_exchange *x)
{
	if (x->out != NULL)
		pa_free_secret_buf(x->out, x->outcap);
	x->out = NULL;
	x->outlen = x->outcap = 0;
	pa_overwrite(x->errtext, sizeof(x->errtext));
}

bool ses_exchange_ok(const struct ses_exchange *x)
{
	return !x->timed_out && !x->overflow && x->reaped && WIFEXITED(x->status) &&
	       WEXITSTATUS(x->status) == 0;
}

/* "10s" for whole seconds, else "2.5s". */
static void format_seconds(int ms, char *buf, size_t len)
{
	if (ms % 1000 == 0)
		snprintf(buf, len, "%ds", ms / 1000);
	else
		snprintf(buf, len, "%d.%03ds", ms / 1000, ms % 1000);
}

const char *ses_exchange_describe(const struct ses_exchange *x, char *buf, size_t len)
{
	char secs[32];

	if (x->timed_out) {
		format_seconds(x->timeout_ms, secs, sizeof(secs));
		snprintf(buf, len, "timed out after %s", secs);
	} else if (x->overflow) {
		snprintf(buf, len, "wrote more than %zu bytes", x->out_max);
	} else if (!x->reaped) {
		snprintf(buf, len, "ended with an unknown status (reaped elsewhere)");
	} else if (WIFEXITED(x->status)) {
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(x->status));
	} else if (WIFSIGNALED(x->status)) {
		snprintf(buf, len, "was killed by signal %d", WTERMSIG(x->status));
	} else {
		snprintf(buf, len, "ended with wait status 0x%x", (unsigned)x->status);
	}
	return buf;
}
