/*
 * pam-agent.c - the administrator's CLI: one binary, one subcommand each,
 * linking the same engines as the module.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "identity.h"
#include "util.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "bundle", cmd_bundle, "fetch, show and check the trust bundles and JWKS (their age)" },
	{ "check", cmd_check, "validate the configuration, bundles and permissions" },
	{ "attest", cmd_attest, "print what attestation sees of a process (JSON)" },
	{ "explain", cmd_explain, "explain the policy decision for an agent, service and user" },
	{ "reap", cmd_reap, "revoke the sessions whose owner process is gone" },
	{ "revoke", cmd_revoke, "revoke the sessions of a task, agent or session now" },
	{ "sessions", cmd_sessions, "list live sessions and their keys" },
	{ "tasks", cmd_tasks, "list tasks: counts, budgets, state" },
	{ "testca", cmd_testca, "a local test trust domain: make a bundle, mint tokens" },
	{ "verify", cmd_verify, "verify a token exactly as the module does" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: pam-agent COMMAND [OPTIONS]\n\ncommands:\n");
	for (i = 0; i < PA_ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'pam-agent COMMAND --help' describes each command.\n");
}

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("pam-agent: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_USAGE;
}

int cli_parse_epoch(const char *text, int64_t *out)
{
	char *end = NULL;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || v < 0)
		return -1;
	*out = v;
	return 0;
}

char *cli_read_token(const char *path, int *code)
{
	/* what the module's token_file= reads: the token and a trailing newline */
	size_t cap = ID_TOKEN_MAX + 3, len = 0, start = 0;
	FILE *f = stdin;
	char *buf, *tok, extra;
	bool more = false;

	*code = CLI_USAGE;
	/* an administrator's own file: read, not trusted, so no owner rule */
	if (strcmp(path, "-") != 0 && (f = fopen(path, "re")) == NULL) {
		fprintf(stderr, "pam-agent: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	buf = malloc(cap);
	/* unbuffered: no copy of the token in a stdio buffer that is never wiped */
	setvbuf(f, NULL, _IONBF, 0);
	if (buf != NULL) {
		len = fread(buf, 1, cap - 1, f);
		more = len == cap - 1 && fread(&extra, 1, 1, f) == 1;
	}
	if (f != stdin)
		fclose(f);
	if (buf == NULL) {
		fprintf(stderr, "pam-agent: out of memory\n");
		return NULL;
	}
	*code = CLI_REJECT;
	/*
	 * The module's token_file= and agent-run refuse a NUL anywhere, and
	 * so does this: the token is what the whole input says, never what a
	 * strlen() of it says.
	 */
	if (memchr(buf, '\0', len) != NULL) {
		fprintf(stderr, "rejected: the token contains a NUL byte\n");
		pa_free_secret_buf(buf, cap);
		return NULL;
	}
	while (start < len && strchr(" \t\r\n", buf[start]) != NULL)
		start++;
	while (len > start && strchr(" \t\r\n", buf[len - 1]) != NULL)
		len--;
	if (more || len - start > ID_TOKEN_MAX) {
		fprintf(stderr, "rejected: token longer than %d bytes\n", ID_TOKEN_MAX);
		pa_free_secret_buf(buf, cap);
		return NULL;
	}
	tok = strndup(buf + start, len - start);
	pa_free_secret_buf(buf, cap);
	if (tok == NULL) {
		*code = CLI_USAGE;
		fprintf(stderr, "pam-agent: out of memory\n");
	}
	return tok;
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return CLI_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("pam-agent %s\n", PACKAGE_VERSION);
		return CLI_OK;
	}
	for (i = 0; i < PA_ARRAY_SIZE(commands); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "pam-agent: unknown command \"%s\"\n\n", argv[1]);
	usage(stderr);
	return CLI_USAGE;
}
