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
#include <sys/wait.h>
#include <syslog.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "identity.h"
#include "util.h"

#include "agentrun.h"

struct conv_state {
	const char *token;   /* the answer to the module's token prompt */
	struct id_pop_client pop; /* proof of possession: an X.509-SVID, a token's key */
	char last_error[512]; /* the last PAM_ERROR_MSG, for the one-line reason */
};

/* A hidden prompt of pam_agent's (docs/proof-of-possession.md). */
static bool ours(const char *prompt)
{
	return prompt != NULL && (strcmp(prompt, ID_TOKEN_PROMPT) == 0 ||
				  strncmp(prompt, ID_MORE_PROMPT, strlen(ID_MORE_PROMPT)) == 0 ||
				  strncmp(prompt, ID_POP_PROMPT, strlen(ID_POP_PROMPT)) == 0);
}

/*
 * The conversation: pam_agent's own hidden prompt gets the token (no
 * 512-byte limit here), or the X.509-SVID in parts, and its challenge the
 * signature (id_pop_client_respond); any other hidden prompt (pam_unix's "Password: ",
 * an LDAP module's) fails the conversation, so the token never reaches a
 * module that would take it for a password. Messages are kept or shown,
 * anything else is refused.
 */
static int conversation(int n, const struct pam_message **msg, struct pam_response **resp,
			void *data)
{
	struct conv_state *st = data;
	struct pam_response *r;
	char err[256];
	int i;

	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	r = calloc((size_t)n, sizeof(*r));
	if (r == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			if (!ours(msg[i]->msg))
				goto fail;
			if (st->token != NULL && strcmp(msg[i]->msg, ID_TOKEN_PROMPT) == 0)
				r[i].resp = strdup(st->token);
			else if (st->pop.evidence != NULL)
				r[i].resp = id_pop_client_respond(&st->pop, msg[i]->msg, err,
								  sizeof(err));
			if (r[i].resp == NULL)
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

/* ---- the child: CMD ---- */

static _Noreturn void run_cmd(const struct account *a, int exe, int slave, mode_t mask, char **env,
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
			if ((ar_tty_fds & (1U << fd)) && dup2(slave, fd) != fd)
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
	ar_exec_measured(exe, argv, env);
	fprintf(stderr, "agent-run: %s: %s\n", argv[0], strerror(errno));
	_exit(126);
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
	bool in_open = *master >= 0 && (ar_tty_fds & 1U);

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
		p[np] = (struct pollfd){ .fd = ar_sig_pipe[0], .events = POLLIN };
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
			ssize_t n = read(ar_sig_pipe[0], sigs, sizeof(sigs)), k;

			for (k = 0; k < n; k++) {
				int sig = sigs[k];

				if (sig == SIGCHLD) {
					if (waitpid(pid, status, WNOHANG) == pid)
						return true;
				} else if (sig == SIGWINCH) {
					struct winsize ws;

					if (*master >= 0 && ioctl(ar_term_fd, TIOCGWINSZ, &ws) == 0)
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
			ar_drain_master(master);
		/* CMD may have ended without its SIGCHLD read yet (pipe full) */
		if (waitpid(pid, status, WNOHANG) == pid)
			return true;
	}
}

/* The PAM transaction and what it holds. */
struct run {
	struct conv_state st;
	struct pam_conv conv;
	pam_handle_t *pamh;
	struct account acct;
	char *token;
	int ret, conf_fd;
	int exe_fd;		/* CMD's executable, measured and then run */
	char exe_var[32];	/* WORKLOAD_VAR=N, as put in the PAM environment */
	bool session_open, cred_set;
	bool own; /* root without --user: the agent's own account (docs/nss.md) */
};

/* Reads the token of --token-file or --token-fd into r->token; 0 or -1 (reported). */
static int take_token(const struct opts *o, struct run *r)
{
	if (o->token_file != NULL) {
		int fd = open(o->token_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

		if (fd < 0) {
			fprintf(stderr, "agent-run: %s: %s\n", o->token_file, strerror(errno));
			return -1;
		}
		r->token = read_token(fd);
		close(fd);
	} else if (o->token_fd >= 0) {
		r->token = read_token(o->token_fd);
		close(o->token_fd);
		/* CMD then reads /dev/null there, never a descriptor opened later */
		if (o->token_fd <= 2 && !reopen_null(o->token_fd)) {
			fprintf(stderr, "agent-run: cannot open /dev/null: %s\n", strerror(errno));
			return -1;
		}
	}
	if ((o->token_file != NULL || o->token_fd >= 0) && r->token == NULL) {
		fprintf(stderr, "agent-run: cannot read the token\n");
		return -1;
	}
	r->st.token = r->token;
	return 0;
}

/* Loads --svid/--svid-key or --pop-key (the account's files or root's); 0 or -1 (reported). */
static int take_pop(const struct opts *o, struct run *r)
{
	const char *key = o->svid_key != NULL ? o->svid_key : o->pop_key;
	char err[512];

	if (key == NULL)
		return 0;
	if (id_pop_client_load(&r->st.pop, o->svid != NULL ? NULL : r->token, o->svid, key,
			       r->acct.uid, err, sizeof(err)) != 0) {
		fprintf(stderr, "agent-run: %s\n", err);
		return -1;
	}
	return 0;
}

/* pam_start, from --config DIR when given (trusted service files only). */
static int start_pam(const struct opts *o, struct run *r)
{
	r->conv = (struct pam_conv){ conversation, &r->st };
	if (o->confdir != NULL) {
		char path[64];

		r->conf_fd = ar_open_confdir(o->confdir);
		if (r->conf_fd < 0)
			return -1;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", r->conf_fd);
		r->ret = pam_start_confdir(o->service, r->own ? NULL : r->acct.name, &r->conv,
					   path, &r->pamh);
	} else {
		r->ret = pam_start(o->service, r->own ? NULL : r->acct.name, &r->conv, &r->pamh);
	}
	if (r->ret != PAM_SUCCESS) {
		/* pam_start leaves no handle to ask pam_strerror with */
		fprintf(stderr, "agent-run: pam_start for service %s failed (PAM error %d); "
			"see the system log\n", o->service, r->ret);
		return -1;
	}
	/* the module measures CMD's executable on this descriptor */
	snprintf(r->exe_var, sizeof(r->exe_var), "%s=%d", WORKLOAD_VAR, r->exe_fd);
	r->ret = pam_putenv(r->pamh, r->exe_var);
	if (r->ret != PAM_SUCCESS) {
		fprintf(stderr, "agent-run: pam_putenv: %s\n", pam_strerror(r->pamh, r->ret));
		return -1;
	}
	return 0;
}

/*
 * After the session opened: the descriptor the module measured must be
 * the one named at the start (no module of the stack changed the
 * variable), and CMD's environment does not get it. 0, or the exit code.
 */
static int take_back_workload(struct run *r)
{
	const char *v = pam_getenv(r->pamh, WORKLOAD_VAR);

	if (v == NULL || strcmp(v, r->exe_var + strlen(WORKLOAD_VAR) + 1) != 0) {
		fprintf(stderr, "agent-run: session refused: a module of the PAM stack changed %s\n",
			WORKLOAD_VAR);
		return EXIT_REFUSED;
	}
	r->ret = pam_putenv(r->pamh, WORKLOAD_VAR);
	if (r->ret != PAM_SUCCESS) {
		fprintf(stderr, "agent-run: pam_putenv: %s\n", pam_strerror(r->pamh, r->ret));
		return EXIT_TROUBLE;
	}
	return 0;
}

/*
 * Root without --user: PAM started with no user, and pam_agent's
 * authentication set PAM_USER to the agent's own account (docs/nss.md);
 * that is the account CMD runs as. Never root. 0, or the exit code.
 */
static int take_own_account(struct run *r)
{
	const void *item = NULL;

	if (pam_get_item(r->pamh, PAM_USER, &item) != PAM_SUCCESS || item == NULL ||
	    *(const char *)item == '\0') {
		fprintf(stderr, "agent-run: authentication refused: no --user and the PAM stack "
			"gave the agent no account of its own\n");
		return EXIT_REFUSED;
	}
	if (ar_account_lookup(item, 0, &r->acct) != 0) {
		fprintf(stderr, "agent-run: authentication refused: the agent's account %s is "
			"unknown to the name service\n", (const char *)item);
		return EXIT_REFUSED;
	}
	if (r->acct.uid == 0) {
		fprintf(stderr, "agent-run: authentication refused: the agent's own account %s "
			"is root\n", r->acct.name);
		return EXIT_REFUSED;
	}
	return 0;
}

/*
 * Authentication, account, credentials and session, in sshd's order,
 * checking after each that PAM_USER is still the account: 0, or the exit
 * code.
 */
static int pam_phases(struct run *r)
{
	r->ret = pam_authenticate(r->pamh, PAM_DISALLOW_NULL_AUTHTOK);
	if (r->ret != PAM_SUCCESS)
		return refused(r->pamh, "authentication", r->ret, &r->st);
	/* the token is no longer needed in this process */
	pa_free_secret(r->token);
	r->token = NULL;
	r->st.token = NULL;
	id_pop_client_clear(&r->st.pop);
	if (r->own) {
		int code = take_own_account(r);

		if (code != 0)
			return code;
	}
	if (!ar_user_unchanged(r->pamh, r->acct.name, "authentication"))
		return EXIT_REFUSED;
	r->ret = pam_acct_mgmt(r->pamh, 0);
	if (r->ret != PAM_SUCCESS)
		return refused(r->pamh, "account", r->ret, &r->st);
	if (!ar_user_unchanged(r->pamh, r->acct.name, "account"))
		return EXIT_REFUSED;
	r->ret = pam_setcred(r->pamh, PAM_ESTABLISH_CRED);
	if (r->ret != PAM_SUCCESS)
		return refused(r->pamh, "credentials", r->ret, &r->st);
	r->cred_set = true;
	r->ret = pam_open_session(r->pamh, 0);
	if (r->ret != PAM_SUCCESS)
		return refused(r->pamh, "session", r->ret, &r->st);
	r->session_open = true;
	if (!ar_user_unchanged(r->pamh, r->acct.name, "session"))
		return EXIT_REFUSED;
	return take_back_workload(r);
}

/* The path the kernel names CMD's descriptor by, or NULL. */
static const char *exe_path(const struct run *r, char *buf, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", r->exe_fd);
	n = readlink(link, buf, len - 1);
	if (n <= 0 || (size_t)n >= len - 1)
		return NULL;
	buf[n] = '\0';
	return buf;
}

/*
 * Runs CMD in the open session: its environment, a pty when any of fds 0-2
 * is a terminal, supervision until it ends or the session's time is up,
 * then every process it left ended. Returns the exit code.
 */
static int run_session(const struct opts *o, struct run *r)
{
	char path[4096];
	struct envv env = { 0 };
	const char *sid = pam_getenv(r->pamh, "PAM_AGENT_SESSION");
	int master = -1, slave = -1, status = 0, code = EXIT_TROUBLE;
	bool cmd_done = false, max_reached = false;
	int64_t limit_ms;
	long long expires;
	pid_t pid;

	sid = sid != NULL ? sid : "(no PAM_AGENT_SESSION)";
	if (session_limit(r->pamh, &limit_ms, &expires) != 0)
		return EXIT_REFUSED;
	if (limit_ms == 0) {
		fprintf(stderr, "agent-run: session refused: session %s is already past its "
			"max_session (%s=%lld)\n", sid, EXPIRES_VAR, expires);
		return EXIT_REFUSED;
	}
	if (ar_build_env(&env, r->pamh, &r->acct, exe_path(r, path, sizeof(path)), o->eopts,
			 o->n_eopts) != 0) {
		fprintf(stderr, "agent-run: out of memory for CMD's environment\n");
		goto out;
	}
	/*
	 * a pty as soon as any of fds 0-2 is a terminal: with stdin elsewhere
	 * (--token-fd 0, < file), CMD must not get the operator's terminal on
	 * stdout or stderr, where it could read the operator's keys
	 */
	ar_find_terminals();
	if (ar_tty_fds != 0 && ar_open_pty(&master, &slave) != 0) {
		fprintf(stderr, "agent-run: cannot open a pseudo-terminal for CMD: %s\n",
			strerror(errno));
		goto out;
	}
	/* processes CMD leaves (double fork, setsid) are re-parented to us */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0 || ar_catch_signals() != 0) {
		fprintf(stderr, "agent-run: cannot supervise CMD: %s\n", strerror(errno));
		goto out;
	}
	/* raw mode only when agent-run relays the keys typed on stdin */
	if (master >= 0 && (ar_tty_fds & 1U)) {
		fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
		ar_raw_mode();
	}
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "agent-run: fork: %s\n", strerror(errno));
		ar_restore_tty();
		goto out;
	}
	if (pid == 0)
		run_cmd(&r->acct, r->exe_fd, slave, o->mask, env.v, o->cmd);
	if (slave >= 0)
		close(slave);
	slave = -1;
	cmd_done = supervise(pid, &master, limit_ms, &status, &max_reached, sid);
	/* CMD and every process it left, whatever ended it */
	ar_drain_master(&master);
	ar_end_processes(pid, &status, &cmd_done, &master, GRACE_SECONDS * 1000);
	ar_drain_master(&master);
	ar_restore_tty();
	/* the close's own children (the module's helper) are the module's */
	signal(SIGCHLD, SIG_DFL);
	signal(SIGWINCH, SIG_DFL);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	if (max_reached)
		syslog(LOG_NOTICE, "session %s ended at its max_session", sid);
	if (cmd_done)
		code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	/* else end_processes said why; the session is closed all the same */
out:
	if (master >= 0)
		close(master);
	if (slave >= 0)
		close(slave);
	ar_env_free(&env);
	return code;
}

/* Closes what the transaction opened: the session (revoking), the credentials, PAM. */
static void end_pam(struct run *r)
{
	if (r->session_open) {
		r->ret = pam_close_session(r->pamh, 0);
		if (r->ret != PAM_SUCCESS)
			fprintf(stderr, "agent-run: closing the session: %s\n",
				pam_strerror(r->pamh, r->ret));
	}
	if (r->cred_set)
		pam_setcred(r->pamh, PAM_DELETE_CRED);
	if (r->pamh != NULL)
		pam_end(r->pamh, r->ret);
	if (r->conf_fd >= 0)
		close(r->conf_fd);
	if (r->exe_fd >= 0)
		close(r->exe_fd);
}

int main(int argc, char **argv)
{
	struct opts o = { .service = "agent-run", .token_fd = -1, .mask = 022 };
	struct run r = { .ret = PAM_SYSTEM_ERR, .conf_fd = -1, .exe_fd = -1 };
	int c, code;

	/*
	 * 0, 1 and 2 open (on /dev/null when the supervisor closed them): a
	 * descriptor agent-run or a module opens must never become CMD's
	 * standard input or output
	 */
	for (c = 0; c <= 2; c++)
		if (fcntl(c, F_GETFD) < 0 && (errno != EBADF || !reopen_null(c)))
			return EXIT_TROUBLE;
	o.eopts = calloc((size_t)argc, sizeof(*o.eopts));
	if (o.eopts == NULL)
		return EXIT_TROUBLE;
	code = ar_parse_options(argc, argv, &o);
	r.own = o.user == NULL && getuid() == 0;
	if (code < 0 && !r.own && ar_account_lookup(o.user, getuid(), &r.acct) != 0) {
		fprintf(stderr, "agent-run: unknown user %s%s%s\n",
			o.user != NULL ? o.user : "(current)", errno != 0 ? ": " : "",
			errno != 0 ? strerror(errno) : "");
		code = EXIT_TROUBLE;
	}
	if (code < 0) {
		openlog("agent-run", LOG_PID, LOG_AUTHPRIV);
		code = EXIT_TROUBLE;
		r.exe_fd = ar_open_cmd(o.cmd[0], o.eopts, o.n_eopts, &code);
		if (r.exe_fd >= 0 && take_token(&o, &r) == 0 && take_pop(&o, &r) == 0 &&
		    start_pam(&o, &r) == 0) {
			code = pam_phases(&r);
			if (code == 0)
				code = run_session(&o, &r);
		}
		end_pam(&r);
	}
	ar_account_free(&r.acct);
	free(o.eopts);
	free(o.svid_buf);
	id_pop_client_clear(&r.st.pop);
	pa_free_secret(r.token);
	pa_scrub_stack(PA_SCRUB_PROGRAM);
	return code;
}
