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

/*
 * A session record, STATE_DIR/sessions/<sid>: written by the module
 * (pam_agent/session.c), read by `pam-agent sessions` and `reap`
 * (session/record.c has the format; docs/sessions.md).
 */
struct cli_record {
	char name[KR_SID_MAX + 1]; /* the file name it was read from */
	json_t *root;
	const char *sid, *agent, *user, *task; /* point into root; task may be NULL */
	int64_t uid, pid, start_time, opened, expires;
	int32_t ring; /* 0: none */
	struct hp_keys keys;
};

/*
 * Parses the len bytes of the record read from the file name (need not be
 * NUL-terminated) into *rec. Returns 0 (free it with cli_record_clear), or
 * -1 with a one-line reason in err and *rec empty but for its name.
 */
int cli_record_parse(const char *buf, size_t len, const char *name, struct cli_record *rec,
		     char *err, size_t errlen);

/* Frees what rec owns; rec is empty afterwards. */
void cli_record_clear(struct cli_record *rec);

int cmd_check(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_reap(int argc, char **argv);
int cmd_sessions(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_testca(int argc, char **argv);

#endif
