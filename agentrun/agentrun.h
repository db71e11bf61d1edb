/*
 * agentrun.h - what the parts of agent-run share: agent-run.c (options,
 * the PAM conversation and transaction, CMD, supervision), env.c (the
 * target account and CMD's environment), tty.c (the operator's terminal,
 * CMD's pty, signals) and procs.c (ending the session's processes).
 */
#ifndef PA_AGENTRUN_H
#define PA_AGENTRUN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <security/pam_appl.h>

#define EXIT_REFUSED 77	 /* authentication or account refused: CMD never ran */
#define EXIT_TROUBLE 125 /* agent-run itself failed */
#define TOKEN_MAX (64 * 1024)
/* the one prompt pam_agent asks (pam_agent/token.c, token_from_prompt) */
/* how long CMD and the processes it left get between SIGTERM and SIGKILL */
#define GRACE_SECONDS 5
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
/* the session's end, put in the PAM environment by pam_agent's session */
#define EXPIRES_VAR "PAM_AGENT_EXPIRES"
/* the farthest session end agent-run accepts: 100 years from now */
#define MAX_LIMIT_SECONDS (100LL * 366 * 24 * 3600)

struct account {
	uid_t uid;
	gid_t gid;
	char *name, *dir, *shell;
};

struct envv {
	char **v;
	size_t n;
};

/* An --env or --keep-env option, in the order given. */
struct env_opt {
	bool keep;	 /* --keep-env NAME, else --env NAME=VALUE */
	const char *arg;
};

/* What the command line asks for. */
struct opts {
	const char *service, *user, *token_file, *confdir;
	/* proof of possession: an X.509-SVID and its key, or a token's key */
	const char *svid, *svid_key, *pop_key;
	char *svid_buf; /* --svid-dir's two paths */
	int token_fd;
	mode_t mask;
	struct env_opt *eopts;
	size_t n_eopts;
	char **cmd;
};

/* Parses the command line into *o: -1 to go on, else the exit code (options.c). */
int ar_parse_options(int argc, char **argv, struct opts *o);

extern unsigned ar_tty_fds;
extern int ar_term_fd;
extern int ar_sig_pipe[2];

void ar_account_free(struct account *a);
int ar_account_lookup(const char *name, uid_t uid, struct account *a);
bool ar_user_unchanged(pam_handle_t *pamh, const char *name, const char *step);
bool ar_env_name_ok(const char *s, size_t len);
void ar_env_free(struct envv *e);
/* exe: the path CMD was opened at (AGENT_RUN_EXE), or NULL */
int ar_build_env(struct envv *e, pam_handle_t *pamh, const struct account *a, const char *exe,
		     const struct env_opt *opts, size_t n_opts);
int ar_open_confdir(const char *dir);
void ar_find_terminals(void);
void ar_restore_tty(void);
void ar_raw_mode(void);
int ar_open_pty(int *master, int *slave);
void ar_drain_master(int *master);
int ar_catch_signals(void);
/*
 * Resolves CMD as execvp would (in the PATH of --env/--keep-env PATH, else
 * the default) and opens it: the descriptor, or -1 after one line with
 * *code 127 (not found) or 126 (not an executable file).
 */
int ar_open_cmd(const char *cmd, const struct env_opt *opts, size_t n_opts, int *code);
/*
 * In CMD's child: starts argv from exe as descriptor 3, every other
 * descriptor from 3 up closed; returns only when fexecve failed (errno).
 */
void ar_exec_measured(int exe, char **argv, char **env);
/* the PAM environment variable that names that descriptor to the module */
#define WORKLOAD_VAR "PAM_AGENT_WORKLOAD_FD"
bool ar_end_processes(pid_t cmd, int *status, bool *cmd_done, int *master, int64_t grace_ms);

#endif /* PA_AGENTRUN_H */
