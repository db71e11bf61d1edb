/*
 * options.c - agent-run's command line (man/agent-run.1).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentrun.h"

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
		   "                 [--umask MODE] [--svid CERT --svid-key KEY | --svid-dir DIR]\n"
		   "                 [--pop-key KEY] -- CMD [ARG...]\n"
		   "Runs the PAM stack of service S (default agent-run) for user U with the\n"
		   "agent's token, then CMD as U inside the new session. Without --user:\n"
		   "as root, the PAM stack starts with no user and U is the agent's own\n"
		   "account, which pam_agent sets (docs/nss.md; never root); otherwise U\n"
		   "is the current user. CMD runs inside the new\n"
		   "session (a terminal session of its own, a pseudo-terminal in place of\n"
		   "any of stdin, stdout, stderr that is a terminal, a minimal environment,\n"
		   "umask 022, in U's home); ends it at the\n"
		   "session's max_session; when CMD ends, kills what it left running, closes\n"
		   "the session (revoking its credentials) and exits with CMD's status.\n"
		   "Refusals print one line and exit %d.\n"
		   "--config DIR reads the PAM service files from DIR instead of /etc/pam.d\n"
		   "(DIR and its files: owned by root or you, not group/world-writable, no\n"
		   "symbolic links).\n"
		   "--svid/--svid-key (or --svid-dir DIR: DIR/svid.pem, DIR/svid_key.pem, as\n"
		   "spiffe-helper writes them) present an X.509-SVID instead of a token and\n"
		   "answer the module's challenge with its key; --pop-key answers it for a\n"
		   "token whose cnf binds that key, or a WIT-SVID (docs/proof-of-possession.md).\n",
		EXIT_REFUSED);
	return code;
}

/* --svid-dir DIR: spiffe-helper's files in DIR. 0, or -1 after one line. */
static int svid_dir(const char *dir, struct opts *o)
{
	size_t n = strlen(dir) + sizeof("/svid_key.pem");

	o->svid_buf = realloc(o->svid_buf, 2 * n);
	if (o->svid_buf == NULL) {
		fprintf(stderr, "agent-run: out of memory\n");
		return -1;
	}
	snprintf(o->svid_buf, n, "%s/svid.pem", dir);
	snprintf(o->svid_buf + n, n, "%s/svid_key.pem", dir);
	o->svid = o->svid_buf;
	o->svid_key = o->svid_buf + n;
	return 0;
}

/* One option of the environment (--env, --keep-env) or --umask; -1 when refused. */
static int parse_value_option(int c, const char *arg, struct opts *o)
{
	unsigned long m;
	char *end;

	switch (c) {
	case 'e':
		if (!ar_env_name_ok(arg, strcspn(arg, "=")) || strchr(arg, '=') == NULL) {
			fprintf(stderr, "agent-run: --env wants NAME=VALUE, not %s\n", arg);
			return -1;
		}
		o->eopts[o->n_eopts++] = (struct env_opt){ false, arg };
		return 0;
	case 'k':
		if (!ar_env_name_ok(arg, strlen(arg))) {
			fprintf(stderr, "agent-run: --keep-env wants a variable name, not %s\n", arg);
			return -1;
		}
		o->eopts[o->n_eopts++] = (struct env_opt){ true, arg };
		return 0;
	default: /* 'm' */
		errno = 0;
		m = strtoul(arg, &end, 8);
		if (errno != 0 || end == arg || *end != '\0' || m > 0777) {
			fprintf(stderr, "agent-run: --umask wants an octal mode, not %s\n", arg);
			return -1;
		}
		o->mask = (mode_t)m;
		return 0;
	}
}

/* Parses the command line into *o: -1 to go on, else the exit code. */
int ar_parse_options(int argc, char **argv, struct opts *o)
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
		{ "svid", required_argument, NULL, 'S' },
		{ "svid-key", required_argument, NULL, 'K' },
		{ "svid-dir", required_argument, NULL, 'D' },
		{ "pop-key", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'f': o->token_file = optarg; break;
		case 'd': o->token_fd = fd_arg(optarg); break;
		case 's': o->service = optarg; break;
		case 'u': o->user = optarg; break;
		case 'c': o->confdir = optarg; break;
		case 'S': o->svid = optarg; break;
		case 'K': o->svid_key = optarg; break;
		case 'P': o->pop_key = optarg; break;
		case 'D':
			if (svid_dir(optarg, o) != 0)
				return EXIT_TROUBLE;
			break;
		case 'e': case 'k': case 'm':
			if (parse_value_option(c, optarg, o) != 0)
				return EXIT_TROUBLE;
			break;
		case 'h': return usage(stdout, 0);
		default: return usage(stderr, EXIT_TROUBLE);
		}
	}
	if (o->token_fd == -2) {
		fprintf(stderr, "agent-run: --token-fd wants a file descriptor number\n");
		return EXIT_TROUBLE;
	}
	if (o->service == NULL || *o->service == '\0' || optind >= argc ||
	    (o->token_file != NULL && o->token_fd >= 0))
		return usage(stderr, EXIT_TROUBLE);
	/* an X.509-SVID with its key, or a token (with --pop-key when key-bound) */
	if ((o->svid == NULL) != (o->svid_key == NULL) ||
	    (o->svid != NULL && (o->token_file != NULL || o->token_fd >= 0 || o->pop_key != NULL))) {
		fprintf(stderr, "agent-run: --svid goes with --svid-key, and with no token or "
			"--pop-key\n");
		return EXIT_TROUBLE;
	}
	/* a service is a file name in the PAM directory, never a path */
	if (strchr(o->service, '/') != NULL || strcmp(o->service, ".") == 0 ||
	    strcmp(o->service, "..") == 0) {
		fprintf(stderr, "agent-run: --service %s: not a service name\n", o->service);
		return EXIT_TROUBLE;
	}
	o->cmd = argv + optind;
	return -1;
}
