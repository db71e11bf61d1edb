/*
 * cli.h - internals shared by the subcommands of the pam-agent admin CLI.
 */
#ifndef PA_CLI_H
#define PA_CLI_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "helper.h"
#include "keyring.h"

/* Exit codes of every subcommand. */
enum {
	CLI_OK = 0,	/* valid / allowed / done */
	CLI_REJECT = 1, /* token rejected, request denied, problems found */
	CLI_USAGE = 2,	/* usage or configuration error */
};

/* Prints "pam-agent: " + message to stderr; returns CLI_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Reads a token from path ("-" = stdin), at most the identity engine's cap,
 * without surrounding whitespace; a NUL byte anywhere or more input than
 * the cap is a rejected token, as for the module's token_file=. Returns a
 * heap string the caller wipes (pa_free_secret), or NULL after printing
 * why, with *code CLI_REJECT (the input is not a usable token) or
 * CLI_USAGE (it could not be read).
 */
char *cli_read_token(const char *path, int *code);

/* Parses --now EPOCH; returns 0 or -1. */
int cli_parse_epoch(const char *text, int64_t *out);

int cmd_check(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_reap(int argc, char **argv);
int cmd_sessions(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_testca(int argc, char **argv);

#endif
