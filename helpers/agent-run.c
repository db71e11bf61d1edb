/*
 * agent-run - the launcher an agent supervisor (root, like runuser) uses:
 * runs the PAM stack for the agent with its token, then CMD as the target
 * user inside the new PAM session, forwards signals, and when CMD ends
 * closes the session (which revokes its credentials) and exits with CMD's
 * status.
 *
 * agent-run [--token-file F | --token-fd N] [--service S] [--user U]
 *           [--config DIR] -- CMD [ARG…]
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "util.h"

#define EXIT_REFUSED 77	 /* authentication or account refused: CMD never ran */
#define EXIT_TROUBLE 125 /* agent-run itself failed */
#define TOKEN_MAX (64 * 1024)

struct conv_state {
	const char *token;   /* the answer to the module's token prompt */
	char last_error[512]; /* the last PAM_ERROR_MSG, for the one-line reason */
};

/*
 * The conversation: the first hidden prompt gets the token (no 512-byte
 * limit here), messages are kept or shown, anything else is refused.
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
			if (st->token == NULL || (r[i].resp = strdup(st->token)) == NULL)
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

static volatile sig_atomic_t child_pid;

/* Passes the signals a supervisor sends on to CMD. */
static void forward(int sig)
{
	if (child_pid > 0)
		kill((pid_t)child_pid, sig);
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
		   "                 [--config DIR] -- CMD [ARG...]\n"
		   "Runs the PAM stack of service S (default agent-run) for user U (default\n"
		   "the current one) with the agent's token, then CMD as U inside the new\n"
		   "session; closes the session (revoking its credentials) when CMD ends and\n"
		   "exits with CMD's status. Refusals print one line and exit %d.\n"
		   "--config DIR reads the PAM service files from DIR instead of /etc/pam.d\n"
		   "(it must be owned by root or the caller and not group/world-writable).\n",
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

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "token-file", required_argument, NULL, 'f' },
		{ "token-fd", required_argument, NULL, 'd' },
		{ "service", required_argument, NULL, 's' },
		{ "user", required_argument, NULL, 'u' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *service = "agent-run", *user = NULL, *token_file = NULL, *confdir = NULL;
	struct conv_state st = { 0 };
	struct pam_conv conv = { conversation, &st };
	pam_handle_t *pamh = NULL;
	struct passwd *pw;
	char *token = NULL, **env;
	int token_fd = -1, c, ret = PAM_SYSTEM_ERR, status = 0, code = EXIT_TROUBLE;
	bool session_open = false, cred_set = false;
	struct sigaction sa;
	pid_t pid;

	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'f': token_file = optarg; break;
		case 'd': token_fd = fd_arg(optarg); break;
		case 's': service = optarg; break;
		case 'u': user = optarg; break;
		case 'c': confdir = optarg; break;
		case 'h': return usage(stdout, 0);
		default: return usage(stderr, EXIT_TROUBLE);
		}
	}
	if (token_fd == -2) {
		fprintf(stderr, "agent-run: --token-fd wants a file descriptor number\n");
		return EXIT_TROUBLE;
	}
	if (service == NULL || *service == '\0' || optind >= argc ||
	    (token_file != NULL && token_fd >= 0))
		return usage(stderr, EXIT_TROUBLE);
	pw = user != NULL ? getpwnam(user) : getpwuid(getuid());
	if (pw == NULL) {
		fprintf(stderr, "agent-run: unknown user %s\n", user != NULL ? user : "(current)");
		return EXIT_TROUBLE;
	}
	if (token_file != NULL) {
		int fd = open(token_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

		if (fd < 0) {
			fprintf(stderr, "agent-run: %s: %s\n", token_file, strerror(errno));
			return EXIT_TROUBLE;
		}
		token = read_token(fd);
		close(fd);
	} else if (token_fd >= 0) {
		token = read_token(token_fd);
		close(token_fd);
	}
	if ((token_file != NULL || token_fd >= 0) && token == NULL) {
		fprintf(stderr, "agent-run: cannot read the token\n");
		return EXIT_TROUBLE;
	}
	st.token = token;

	if (confdir != NULL) {
		struct stat dir;

		/* service files name modules to load: only trusted ones */
		if (stat(confdir, &dir) != 0 || !S_ISDIR(dir.st_mode) ||
		    (dir.st_uid != 0 && dir.st_uid != geteuid()) || (dir.st_mode & 022) != 0) {
			fprintf(stderr, "agent-run: --config %s: must be a directory owned by root "
				"or you, not group/world-writable\n", confdir);
			goto out;
		}
	}
	ret = confdir != NULL ? pam_start_confdir(service, pw->pw_name, &conv, confdir, &pamh)
			      : pam_start(service, pw->pw_name, &conv, &pamh);
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
	ret = pam_acct_mgmt(pamh, 0);
	if (ret != PAM_SUCCESS) {
		code = refused(pamh, "account", ret, &st);
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

	env = pam_getenvlist(pamh);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "agent-run: fork: %s\n", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		/* become the user; nothing to switch when we already are (tests) */
		if ((geteuid() != pw->pw_uid || getegid() != pw->pw_gid) &&
		    (setgid(pw->pw_gid) != 0 || initgroups(pw->pw_name, pw->pw_gid) != 0 ||
		     setuid(pw->pw_uid) != 0)) {
			fprintf(stderr, "agent-run: cannot become %s: %s\n", pw->pw_name,
				strerror(errno));
			_exit(EXIT_TROUBLE);
		}
		if (chdir(pw->pw_dir) != 0 && chdir("/") != 0)
			_exit(EXIT_TROUBLE);
		if (env != NULL) {
			char **e;

			for (e = env; *e != NULL; e++)
				putenv(*e);
		}
		setenv("USER", pw->pw_name, 1);
		setenv("LOGNAME", pw->pw_name, 1);
		setenv("HOME", pw->pw_dir, 1);
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "agent-run: %s: %s\n", argv[optind], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	child_pid = pid;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "agent-run: waitpid: %s\n", strerror(errno));
			break;
		}
	}
	child_pid = 0;
	if (env != NULL) {
		char **e;

		for (e = env; *e != NULL; e++)
			free(*e);
		free(env);
	}
	code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
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
	pa_free_secret(token);
	pa_scrub_stack(PA_SCRUB_PROGRAM);
	return code;
}
