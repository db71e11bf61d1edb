/*
 * hp_client.c - the module's side of pam_agent_helper (session/helper.h):
 * the bounded child exchange (shared with the helper, which runs its
 * brokers the same way), hp_run, and the request builders and reply
 * parsers. No PAM headers: the module calls these from its session code.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helper.h"
#include "keyring.h"
#include "pa_json.h"
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

/*
 * Closes every descriptor from first to last (inclusive). Async-signal-safe:
 * close_range(2) when the kernel has it, else a loop up to limit.
 */
static void close_from(unsigned first, unsigned last, unsigned limit)
{
	unsigned fd;

	if (first > last)
		return;
#ifdef SYS_close_range
	if (syscall(SYS_close_range, first, last, 0) == 0)
		return;
#endif
	for (fd = first; fd <= last && fd < limit; fd++)
		close((int)fd);
}

/* What failed in the child, sent with errno on the exec pipe. */
enum { HP_CHILD_EXEC = 0, HP_CHILD_CHDIR = 1 };

/*
 * The child between fork and execve: only async-signal-safe calls. Never
 * returns; an execve failure is reported as errno on execfd.
 */
static void child_exec(const char *const argv[], char *const envp[], int in, int out,
		       int errfd, int execfd, unsigned fdlimit)
{
	struct sigaction dfl;
	sigset_t none;
	int sig, e[2] = { HP_CHILD_EXEC, 0 };

	setpgid(0, 0);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0)
		goto fail;
	/*
	 * Never in the caller's directory: under sudo or su that is the
	 * agent's, and a program run as root may load files relative to it
	 * (python3 -m NAME, ./x). Fail closed.
	 */
	if (chdir("/") != 0) {
		e[0] = HP_CHILD_CHDIR;
		goto fail;
	}
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL); /* SIGKILL/SIGSTOP/internal ones fail: fine */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	close_from(3, (unsigned)execfd - 1, fdlimit);
	close_from((unsigned)execfd + 1, ~0U, fdlimit);
	execve(argv[0], (char *const *)argv, envp);
fail:
	e[1] = errno;
	while (write(execfd, e, sizeof(e)) < 0 && errno == EINTR)
		;
	_exit(127);
}

/* Appends len bytes to x->out, growing it without leaving unwiped copies. */
static int out_append(struct hp_exchange *x, const char *buf, size_t len)
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
static void reap(pid_t pid, int64_t deadline, struct hp_exchange *x)
{
	bool killed = false;
	long pause_us = 50; /* doubles up to 5 ms: a quick helper is reaped quickly */
	int st = 0;

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
		{
			struct timespec ts = { 0, pause_us * 1000 };

			nanosleep(&ts, NULL);
			if (pause_us < 5000)
				pause_us *= 2;
		}
	}
	/*
	 * No kill of the group after the wait: once the child is reaped its
	 * pid may be reused. Every path that kills does so before waiting.
	 */
}

int hp_exchange_run(const char *const argv[], struct hp_exchange *x, char *err, size_t errlen)
{
	char path_env[] = HP_ENV_PATH;
	char *envp[] = { path_env, NULL };
	int inp[2] = { -1, -1 }, outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int execp[2] = { -1, -1 }, devnull = -1;
	sigset_t pipeset, oldmask, pending;
	bool masked = false, pipe_pending = false, got_epipe = false;
	const char *in = x->in;
	size_t inoff = 0, errlen_have = 0;
	struct rlimit rl;
	unsigned fdlimit = 65536;
	int64_t deadline;
	pid_t pid = -1;
	ssize_t n;
	int rc = -1, e[2] = { 0, 0 };

	x->out = NULL;
	x->outlen = x->outcap = 0;
	x->errtext[0] = '\0';
	x->timed_out = x->overflow = x->reaped = false;
	x->status = 0;
	if (argv == NULL || argv[0] == NULL || argv[0][0] != '/')
		return pa_err(err, errlen, "not an absolute program path");
	if (x->timeout_ms <= 0)
		return pa_err(err, errlen, "no time left to run the program");
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (1u << 20))
		fdlimit = (unsigned)rl.rlim_cur;
	if (pipe_high(inp) != 0 || pipe_high(outp) != 0 || pipe_high(execp) != 0 ||
	    (x->want_stderr && pipe_high(errp) != 0)) {
		pa_err(err, errlen, "cannot create a pipe: %s", strerror(errno));
		goto out;
	}
	if (!x->want_stderr) {
		devnull = fd_high(open("/dev/null", O_WRONLY | O_CLOEXEC));
		if (devnull < 0) {
			pa_err(err, errlen, "cannot open /dev/null: %s", strerror(errno));
			goto out;
		}
	}
	/* a reader that goes away must not kill the caller: SIGPIPE blocked here only */
	sigemptyset(&pipeset);
	sigaddset(&pipeset, SIGPIPE);
	if (pthread_sigmask(SIG_BLOCK, &pipeset, &oldmask) == 0) {
		masked = true;
		if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1)
			pipe_pending = true;
	}
	deadline = pa_mono_ms() + x->timeout_ms;
	pid = fork();
	if (pid < 0) {
		pa_err(err, errlen, "cannot fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		child_exec(argv, envp, inp[0], outp[1], x->want_stderr ? errp[1] : devnull,
			   execp[1], fdlimit);
	setpgid(pid, pid); /* also done by the child; whichever runs first */
	close_fd(&inp[0]);
	close_fd(&outp[1]);
	close_fd(&errp[1]);
	close_fd(&execp[1]);
	close_fd(&devnull);
	/* the exec pipe closes on a successful execve, else carries errno */
	do
		n = read(execp[0], e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close_fd(&execp[0]);
	if (n == (ssize_t)sizeof(e)) {
		reap(pid, deadline, x);
		pa_err(err, errlen, "%s: %s",
		       e[0] == HP_CHILD_CHDIR ? "cannot change directory to /" : "cannot execute",
		       strerror(e[1]));
		goto out;
	}
	if (x->inlen == 0)
		close_fd(&inp[1]);
	else if (fcntl(inp[1], F_SETFL, O_NONBLOCK) != 0)
		close_fd(&inp[1]);
	while (inp[1] >= 0 || outp[0] >= 0 || errp[0] >= 0) {
		struct pollfd fds[3];
		int nfds = 0, wi = -1, oi = -1, ei = -1, r;
		int64_t left = deadline - pa_mono_ms();
		char buf[4096];

		if (left <= 0) {
			x->timed_out = true;
			kill_child(pid);
			break;
		}
		if (inp[1] >= 0) {
			wi = nfds;
			fds[nfds++] = (struct pollfd){ .fd = inp[1], .events = POLLOUT };
		}
		if (outp[0] >= 0) {
			oi = nfds;
			fds[nfds++] = (struct pollfd){ .fd = outp[0], .events = POLLIN };
		}
		if (errp[0] >= 0) {
			ei = nfds;
			fds[nfds++] = (struct pollfd){ .fd = errp[0], .events = POLLIN };
		}
		r = poll(fds, (nfds_t)nfds, left > INT_MAX ? INT_MAX : (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			pa_err(err, errlen, "poll: %s", strerror(errno));
			kill_child(pid);
			reap(pid, deadline, x);
			goto out;
		}
		if (wi >= 0 && fds[wi].revents != 0) {
			if (fds[wi].revents & POLLOUT) {
				n = write(inp[1], in + inoff, x->inlen - inoff);
				if (n > 0) {
					inoff += (size_t)n;
					if (inoff == x->inlen)
						close_fd(&inp[1]);
				} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
					if (errno == EPIPE)
						got_epipe = true;
					close_fd(&inp[1]); /* the child stopped reading */
				}
			} else {
				close_fd(&inp[1]);
			}
		}
		if (oi >= 0 && fds[oi].revents != 0) {
			n = read(outp[0], buf, sizeof(buf));
			if (n > 0) {
				if (x->outlen + (size_t)n > x->out_max) {
					x->overflow = true;
					kill_child(pid);
					pa_overwrite(buf, sizeof(buf));
					break;
				}
				if (out_append(x, buf, (size_t)n) != 0) {
					pa_overwrite(buf, sizeof(buf));
					pa_err(err, errlen, "out of memory");
					kill_child(pid);
					reap(pid, deadline, x);
					goto out;
				}
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				close_fd(&outp[0]);
			}
			pa_overwrite(buf, sizeof(buf));
		}
		if (ei >= 0 && fds[ei].revents != 0) {
			n = read(errp[0], buf, sizeof(buf));
			if (n > 0) {
				size_t room = sizeof(x->errtext) - 1 - errlen_have;
				size_t take = (size_t)n < room ? (size_t)n : room;

				memcpy(x->errtext + errlen_have, buf, take);
				errlen_have += take;
				x->errtext[errlen_have] = '\0';
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				close_fd(&errp[0]);
			}
		}
	}
	close_fd(&inp[1]);
	close_fd(&outp[0]);
	close_fd(&errp[0]);
	reap(pid, deadline, x);
	rc = 0;
out:
	close_fd(&inp[0]);
	close_fd(&inp[1]);
	close_fd(&outp[0]);
	close_fd(&outp[1]);
	close_fd(&errp[0]);
	close_fd(&errp[1]);
	close_fd(&execp[0]);
	close_fd(&execp[1]);
	close_fd(&devnull);
	if (masked) {
		if (got_epipe && !pipe_pending) {
			static const struct timespec zero = { 0, 0 };

			while (sigtimedwait(&pipeset, NULL, &zero) < 0 && errno == EINTR)
				;
		}
		pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
	}
	return rc;
}

void hp_exchange_clear(struct hp_exchange *x)
{
	if (x->out != NULL)
		pa_free_secret_buf(x->out, x->outcap);
	x->out = NULL;
	x->outlen = x->outcap = 0;
	pa_overwrite(x->errtext, sizeof(x->errtext));
}

bool hp_exchange_ok(const struct hp_exchange *x)
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

const char *hp_exchange_describe(const struct hp_exchange *x, char *buf, size_t len)
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

/* The first line of a child's stderr, escaped for a log line ("" when none). */
static void first_line(const char *text, char *out, size_t outlen)
{
	size_t n = strcspn(text, "\n");

	pa_escape(text, n, out, outlen);
}

/* ---- hp_run ------------------------------------------------------------------- */

int hp_run(const char *helper_path, const json_t *request, int timeout_s, json_t **reply,
	   char *err, size_t errlen)
{
	struct hp_exchange x = { 0 };
	const char *argv[2] = { helper_path, NULL };
	char why[128], line[PA_ESCAPE_MAX], reason[300];
	json_error_t jerr;
	json_t *r = NULL;
	char *text = NULL;
	int rc = -1;

	*reply = NULL;
	if (helper_path == NULL || helper_path[0] != '/')
		return pa_err(err, errlen, "the helper path must be absolute");
	if (timeout_s <= 0 || timeout_s > 3600)
		return pa_err(err, errlen, "helper timeout %d s out of range", timeout_s);
	text = pa_json_dumps(request, JSON_COMPACT);
	if (text == NULL)
		return pa_err(err, errlen, "cannot encode the helper request");
	x.in = text;
	x.inlen = strlen(text);
	x.out_max = HP_REPLY_MAX;
	x.timeout_ms = timeout_s * 1000;
	x.want_stderr = true;
	if (hp_exchange_run(argv, &x, reason, sizeof(reason)) != 0) {
		pa_escape(helper_path, strlen(helper_path), line, sizeof(line));
		pa_err(err, errlen, "helper %s: %s", line, reason);
		goto out;
	}
	if (x.timed_out) {
		pa_err(err, errlen, "helper timed out after %ds", timeout_s);
		goto out;
	}
	if (x.overflow) {
		pa_err(err, errlen, "helper reply larger than %d bytes", HP_REPLY_MAX);
		goto out;
	}
	first_line(x.errtext, line, sizeof(line));
	hp_exchange_describe(&x, why, sizeof(why));
	if (x.outlen > 0)
		r = pa_json_loadb(x.out, x.outlen, JSON_REJECT_DUPLICATES, &jerr);
	if (r == NULL || !json_is_object(r) || !json_is_boolean(json_object_get(r, "ok"))) {
		if (r == NULL && x.outlen > 0)
			pa_escape(jerr.text, strlen(jerr.text), reason, sizeof(reason));
		else
			snprintf(reason, sizeof(reason), "%s",
				 x.outlen ? "not an object with \"ok\"" : "no reply");
		pa_err(err, errlen, "helper %s without a valid reply (%s)%s%s", why, reason,
		       line[0] ? ": " : "", line);
		goto out;
	}
	if (json_is_true(json_object_get(r, "ok")) && !hp_exchange_ok(&x) && x.reaped) {
		pa_err(err, errlen, "helper %s after an ok reply", why);
		goto out;
	}
	*reply = r;
	r = NULL;
	rc = 0;
out:
	json_decref(r);
	hp_exchange_clear(&x);
	free(text);
	return rc;
}

/* ---- requests ------------------------------------------------------------------ */

/* A JSON string, or null for NULL. */
static json_t *str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

/* Sets key to value in obj, taking the reference; counts a failure in *bad. */
static void put(json_t *obj, const char *key, json_t *value, bool *bad)
{
	if (value == NULL || json_object_set_new(obj, key, value) != 0)
		*bad = true;
}

/* The request form of one grant of a decision. */
static json_t *grant_to_json(const struct pol_grant *g)
{
	json_t *o = json_object();
	bool bad = o == NULL;

	if (bad)
		return NULL;
	put(o, "name", json_string(g->name), &bad);
	put(o, "class", json_string(pol_class_name(g->cls)), &bad);
	put(o, "source", json_string(pol_source_name(g->source)), &bad);
	put(o, "audience", str_or_null(g->audience), &bad);
	put(o, "scope", str_or_null(g->scope), &bad);
	put(o, "ttl", json_integer(g->ttl), &bad);
	put(o, "command", str_or_null(g->command), &bad);
	put(o, "revoke", str_or_null(g->revoke), &bad);
	put(o, "path", str_or_null(g->path), &bad);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *hp_open_request(const struct hp_open_args *a, char *err, size_t errlen)
{
	const struct pol_decision *d = a->decision;
	const struct pol_global *g = a->global;
	char host[256], issuer[300];
	json_t *req = NULL, *grants = NULL, *broker = NULL;
	bool bad = false;
	size_t i;

	if (a->sid == NULL || a->id == NULL || a->id->agent_id == NULL || a->user == NULL ||
	    d == NULL || g == NULL || a->ring <= 0) {
		pa_err(err, errlen, "incomplete session for the helper");
		return NULL;
	}
	if (g->broker_issuer != NULL) {
		snprintf(issuer, sizeof(issuer), "%s", g->broker_issuer);
	} else {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		snprintf(issuer, sizeof(issuer), "pam_agent:%s", host);
	}
	req = json_object();
	grants = json_array();
	broker = json_object();
	if (req == NULL || grants == NULL || broker == NULL) {
		bad = true;
		goto out;
	}
	put(req, "op", json_string("open"), &bad);
	put(req, "sid", json_string(a->sid), &bad);
	put(req, "ring", json_integer(a->ring), &bad);
	put(req, "agent", json_string(a->id->agent_id), &bad);
	put(req, "task", str_or_null(a->id->task), &bad);
	put(req, "scope", str_or_null(a->id->scope), &bad);
	put(req, "act", a->id->act != NULL ? json_deep_copy(a->id->act) : json_null(), &bad);
	put(req, "user", json_string(a->user), &bad);
	put(req, "uid", json_integer((json_int_t)a->uid), &bad);
	put(req, "max_session", json_integer(d->max_session), &bad);
	put(req, "timeout", json_integer(g->helper_timeout), &bad);
	for (i = 0; i < d->n_grants && !bad; i++)
		if (json_array_append_new(grants, grant_to_json(&d->grants[i])) != 0)
			bad = true;
	put(broker, "key", str_or_null(g->broker_key), &bad);
	put(broker, "issuer", json_string(issuer), &bad);
	put(broker, "jwks", str_or_null(g->broker_jwks), &bad);
	put(req, "grants", grants, &bad);
	grants = NULL;
	put(req, "broker", broker, &bad);
	broker = NULL;
out:
	json_decref(grants);
	json_decref(broker);
	if (bad) {
		json_decref(req);
		pa_err(err, errlen, "cannot build the helper request (out of memory or bad text)");
		return NULL;
	}
	return req;
}

json_t *hp_keys_to_json(const struct hp_keys *k)
{
	json_t *arr = json_array();
	bool bad = arr == NULL;
	size_t i;

	for (i = 0; !bad && i < k->n; i++) {
		const struct hp_key *key = &k->v[i];
		json_t *o = json_object();

		if (o == NULL) {
			bad = true;
			break;
		}
		put(o, "grant", json_string(key->grant), &bad);
		put(o, "serial", json_integer(key->serial), &bad);
		put(o, "expires_at", json_integer(key->expires_at), &bad);
		put(o, "revoke", str_or_null(key->revoke), &bad);
		put(o, "handle", str_or_null(key->handle), &bad);
		if (json_array_append_new(arr, o) != 0)
			bad = true;
	}
	if (bad) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

json_t *hp_close_request(const char *sid, int32_t ring, const char *agent,
			 const struct hp_keys *keys, int timeout_s)
{
	json_t *req = json_object();
	bool bad = req == NULL;

	if (bad)
		return NULL;
	put(req, "op", json_string("close"), &bad);
	put(req, "sid", sid ? json_string(sid) : NULL, &bad);
	put(req, "ring", json_integer(ring > 0 ? ring : 0), &bad);
	put(req, "agent", str_or_null(agent), &bad);
	put(req, "timeout", json_integer(timeout_s), &bad);
	put(req, "keys", hp_keys_to_json(keys), &bad);
	if (bad) {
		json_decref(req);
		return NULL;
	}
	return req;
}

/* ---- replies ------------------------------------------------------------------ */

void hp_keys_clear(struct hp_keys *k)
{
	size_t i;

	for (i = 0; i < k->n; i++) {
		free(k->v[i].grant);
		free(k->v[i].handle);
		free(k->v[i].revoke);
	}
	free(k->v);
	k->v = NULL;
	k->n = 0;
}

/*
 * Copies a reason the helper wrote into out: as it is when it is printable
 * ASCII (the helper escapes what it quotes), else escaped. Capped.
 */
static void reason_text(const char *in, size_t inlen, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; i < inlen; i++)
		if ((unsigned char)in[i] < 0x20 || (unsigned char)in[i] > 0x7e)
			break;
	if (i < inlen) {
		pa_escape(in, inlen, out, outlen);
		return;
	}
	snprintf(out, outlen, "%.*s", (int)(inlen < outlen ? inlen : outlen - 1), in);
}

int hp_check_members(const json_t *o, const char *what, const char *const names[], char *err,
		     size_t errlen)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)o, key, v) {
		size_t i;

		(void)v;
		for (i = 0; names[i] != NULL; i++)
			if (strcmp(names[i], key) == 0)
				break;
		if (names[i] == NULL) {
			char shown[PA_ESCAPE_MAX];

			pa_escape(key, strlen(key), shown, sizeof(shown));
			return pa_err(err, errlen, "%s: unknown member \"%s\"", what, shown);
		}
	}
	return 0;
}

/* A copy of an optional string member (NULL for null/absent); -1 when of another type. */
static int opt_string(const json_t *o, const char *name, char **out)
{
	const json_t *v = json_object_get(o, name);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	*out = strdup(json_string_value(v));
	return *out != NULL ? 0 : -1;
}

/* A serial member: an integer in 1..INT32_MAX. */
static int get_serial(const json_t *o, const char *name, int32_t *out)
{
	const json_t *v = json_object_get(o, name);

	if (!json_is_integer(v) || json_integer_value(v) <= 0 ||
	    json_integer_value(v) > INT32_MAX)
		return -1;
	*out = (int32_t)json_integer_value(v);
	return 0;
}

/* Reads one key object (reply or state form) into *key. */
static int key_from_json(const json_t *o, struct hp_key *key, char *err, size_t errlen)
{
	static const char *const names[] = { "grant", "serial", "expires_at", "handle",
					     "revoke", NULL };
	const json_t *exp;

	if (!json_is_object(o))
		return pa_err(err, errlen, "a key is not an object");
	if (hp_check_members(o, "key", names, err, errlen) != 0)
		return -1;
	if (!json_is_string(json_object_get(o, "grant")) ||
	    json_string_length(json_object_get(o, "grant")) == 0 ||
	    json_string_length(json_object_get(o, "grant")) > KR_NAME_MAX)
		return pa_err(err, errlen, "a key has no valid \"grant\"");
	if (get_serial(o, "serial", &key->serial) != 0)
		return pa_err(err, errlen, "a key has no valid \"serial\"");
	exp = json_object_get(o, "expires_at");
	if (exp != NULL && !json_is_integer(exp))
		return pa_err(err, errlen, "a key has a bad \"expires_at\"");
	key->expires_at = exp != NULL ? json_integer_value(exp) : 0;
	key->grant = strdup(json_string_value(json_object_get(o, "grant")));
	if (key->grant == NULL)
		return pa_err(err, errlen, "out of memory");
	if (opt_string(o, "handle", &key->handle) != 0 ||
	    opt_string(o, "revoke", &key->revoke) != 0)
		return pa_err(err, errlen, "a key has a bad \"handle\" or \"revoke\"");
	return 0;
}

int hp_keys_from_json(const json_t *arr, struct hp_keys *out, char *err, size_t errlen)
{
	size_t i, n;

	out->v = NULL;
	out->n = 0;
	if (!json_is_array(arr))
		return pa_err(err, errlen, "\"keys\" is not an array");
	n = json_array_size(arr);
	if (n > HP_GRANTS_MAX)
		return pa_err(err, errlen, "too many keys");
	if (n == 0)
		return 0;
	out->v = calloc(n, sizeof(*out->v));
	if (out->v == NULL)
		return pa_err(err, errlen, "out of memory");
	for (i = 0; i < n; i++) {
		out->n = i + 1;
		if (key_from_json(json_array_get(arr, i), &out->v[i], err, errlen) != 0) {
			hp_keys_clear(out);
			return -1;
		}
	}
	return 0;
}

/* Whether two optional strings are equal (NULL only equals NULL). */
static bool same_opt(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int hp_open_reply_parse(const json_t *reply, const struct pol_decision *d, struct hp_keys *out,
			char *failed, size_t failedlen, char *err, size_t errlen)
{
	static const char *const ok_names[] = { "ok", "keys", NULL };
	static const char *const fail_names[] = { "ok", "error", "grant", NULL };
	char why[512], shown[PA_ESCAPE_MAX];
	const json_t *v;
	size_t i;

	out->v = NULL;
	out->n = 0;
	if (failed != NULL && failedlen > 0)
		failed[0] = '\0';
	if (!json_is_object(reply) || !json_is_boolean(json_object_get(reply, "ok")))
		return pa_err(err, errlen, "helper reply: not an object with \"ok\"");
	if (json_is_false(json_object_get(reply, "ok"))) {
		const char *e;

		if (hp_check_members(reply, "refusal", fail_names, why, sizeof(why)) != 0)
			return pa_err(err, errlen, "helper reply: %s", why);
		v = json_object_get(reply, "error");
		/* an empty reason would leave err empty: the caller logs nothing */
		e = json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) :
								      "no reason given";
		v = json_object_get(reply, "grant");
		if (json_is_string(v)) {
			pa_escape(json_string_value(v), json_string_length(v), shown,
				  sizeof(shown));
			if (failed != NULL && failedlen > 0)
				snprintf(failed, failedlen, "%s", shown);
			reason_text(e, strlen(e), why, sizeof(why));
			return pa_err(err, errlen, "grant %s: %s", shown, why);
		}
		reason_text(e, strlen(e), why, sizeof(why));
		return pa_err(err, errlen, "%s", why);
	}
	if (hp_check_members(reply, "open", ok_names, why, sizeof(why)) != 0)
		return pa_err(err, errlen, "helper reply: %s", why);
	if (hp_keys_from_json(json_object_get(reply, "keys"), out, why, sizeof(why)) != 0)
		return pa_err(err, errlen, "helper reply: %s", why);
	if (out->n != d->n_grants) {
		pa_err(err, errlen, "helper reply: %zu keys for %zu grants", out->n, d->n_grants);
		goto fail;
	}
	for (i = 0; i < out->n; i++) {
		const struct pol_grant *g = &d->grants[i];
		const char *want_revoke = g->source == POL_SOURCE_EXEC ? g->revoke : NULL;

		if (strcmp(out->v[i].grant, g->name) != 0 ||
		    !same_opt(out->v[i].revoke, want_revoke)) {
			pa_escape(out->v[i].grant, strlen(out->v[i].grant), shown, sizeof(shown));
			pa_err(err, errlen, "helper reply: key %zu (%s) does not match grant %s", i,
			       shown, g->name);
			goto fail;
		}
	}
	return 0;
fail:
	hp_keys_clear(out);
	return -1;
}

void hp_close_results_clear(struct hp_close_results *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->v[i].grant);
		free(r->v[i].broker);
		free(r->v[i].note);
	}
	free(r->v);
	r->v = NULL;
	r->n = 0;
	r->ok = r->ring_revoked = false;
}

int hp_close_reply_parse(const json_t *reply, struct hp_close_results *out, char *err,
			 size_t errlen)
{
	static const char *const names[] = { "ok", "ring_revoked", "results", "error",
					     "grant", NULL };
	static const char *const rnames[] = { "grant", "serial", "revoked", "broker", "note",
					      NULL };
	const json_t *res, *o, *nt;
	char why[512];
	size_t i, n;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(reply) || !json_is_boolean(json_object_get(reply, "ok")))
		return pa_err(err, errlen, "helper reply: not an object with \"ok\"");
	if (hp_check_members(reply, "close", names, why, sizeof(why)) != 0)
		return pa_err(err, errlen, "helper reply: %s", why);
	res = json_object_get(reply, "results");
	if (!json_is_array(res) || !json_is_boolean(json_object_get(reply, "ring_revoked"))) {
		o = json_object_get(reply, "error");
		if (json_is_string(o) && json_string_length(o) > 0) {
			reason_text(json_string_value(o), json_string_length(o), why, sizeof(why));
			return pa_err(err, errlen, "%s", why);
		}
		return pa_err(err, errlen, "helper reply: no \"results\" or \"ring_revoked\"");
	}
	n = json_array_size(res);
	if (n > HP_GRANTS_MAX)
		return pa_err(err, errlen, "helper reply: too many results");
	out->ok = json_is_true(json_object_get(reply, "ok"));
	out->ring_revoked = json_is_true(json_object_get(reply, "ring_revoked"));
	if (n > 0 && (out->v = calloc(n, sizeof(*out->v))) == NULL)
		return pa_err(err, errlen, "out of memory");
	for (i = 0; i < n; i++) {
		struct hp_close_result *r = &out->v[i];

		out->n = i + 1;
		o = json_array_get(res, i);
		if (!json_is_object(o) || hp_check_members(o, "result", rnames, why, sizeof(why)) != 0 ||
		    !json_is_string(json_object_get(o, "grant")) ||
		    get_serial(o, "serial", &r->serial) != 0 ||
		    !json_is_boolean(json_object_get(o, "revoked")) ||
		    !json_is_string(json_object_get(o, "broker")) ||
		    ((nt = json_object_get(o, "note")) != NULL && !json_is_string(nt))) {
			pa_err(err, errlen, "helper reply: result %zu is malformed", i);
			hp_close_results_clear(out);
			return -1;
		}
		r->revoked = json_is_true(json_object_get(o, "revoked"));
		r->grant = strdup(json_string_value(json_object_get(o, "grant")));
		r->broker = strdup(json_string_value(json_object_get(o, "broker")));
		r->note = nt != NULL ? strdup(json_string_value(nt)) : NULL;
		if (r->grant == NULL || r->broker == NULL || (nt != NULL && r->note == NULL)) {
			hp_close_results_clear(out);
			return pa_err(err, errlen, "out of memory");
		}
	}
	return 0;
}

/* ---- the whole round trips ------------------------------------------------------ */

int hp_open(const struct hp_open_args *a, struct hp_keys *out, char *failed, size_t failedlen,
	    char *err, size_t errlen)
{
	json_t *req = NULL, *reply = NULL;
	int rc = -1;

	out->v = NULL;
	out->n = 0;
	if (failed != NULL && failedlen > 0)
		failed[0] = '\0';
	req = hp_open_request(a, err, errlen);
	if (req == NULL)
		goto out;
	if (hp_run(a->global->helper, req, (int)a->global->helper_timeout, &reply, err,
		   errlen) != 0)
		goto out;
	rc = hp_open_reply_parse(reply, a->decision, out, failed, failedlen, err, errlen);
out:
	json_decref(req);
	json_decref(reply);
	return rc;
}

int hp_close(const char *helper_path, int timeout_s, const char *sid, int32_t ring,
	     const char *agent, const struct hp_keys *keys, struct hp_close_results *out,
	     char *err, size_t errlen)
{
	json_t *req = NULL, *reply = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	req = hp_close_request(sid, ring, agent, keys, timeout_s);
	if (req == NULL) {
		pa_err(err, errlen, "cannot build the helper request");
		goto out;
	}
	if (hp_run(helper_path, req, timeout_s, &reply, err, errlen) != 0)
		goto out;
	rc = hp_close_reply_parse(reply, out, err, errlen);
out:
	json_decref(req);
	json_decref(reply);
	return rc;
}
