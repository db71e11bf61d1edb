/*
 * pam_ar_probe.so - a PAM module for the agent-run tests only (never
 * installed): it does, in the stack, what a foreign or hostile module of a
 * real stack could do to agent-run. Arguments:
 *   log=FILE          where it writes what it saw (appended)
 *   ask               auth: asks a hidden "Password: " prompt, as pam_unix
 *                     or an LDAP module would, and logs the answer it got
 *   getpwnam_root     session: calls getpwnam("root"), which overwrites the
 *                     static buffer a getpwnam() of the application shares
 *   setuser=NAME      session: changes PAM_USER to NAME
 *   expires=N         session: PAM_AGENT_EXPIRES=now+N in the PAM environment
 *   expires_raw=TEXT  session: PAM_AGENT_EXPIRES=TEXT
 * Every hook returns PAM_SUCCESS (auth: PAM_IGNORE) unless noted.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

static const char *arg(int argc, const char **argv, const char *name)
{
	size_t len = strlen(name);
	int i;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], name) == 0)
			return "";
		if (strncmp(argv[i], name, len) == 0 && argv[i][len] == '=')
			return argv[i] + len + 1;
	}
	return NULL;
}

static void note(int argc, const char **argv, const char *what, const char *value)
{
	const char *path = arg(argc, argv, "log");
	FILE *f;

	if (path == NULL || (f = fopen(path, "a")) == NULL)
		return;
	fprintf(f, "%s=%s\n", what, value != NULL ? value : "(none)");
	fclose(f);
}

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	char *resp = NULL;
	(void)flags;

	if (arg(argc, argv, "ask") != NULL) {
		int ret = pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, &resp, "Password: ");

		note(argc, argv, "password-prompt",
		     ret == PAM_SUCCESS ? (resp != NULL ? resp : "(empty)") : "conversation-failed");
		free(resp);
	}
	return PAM_IGNORE;
}

PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh, (void)flags, (void)argc, (void)argv;
	return PAM_SUCCESS;
}

PAM_EXTERN int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh, (void)flags, (void)argc, (void)argv;
	return PAM_SUCCESS;
}

PAM_EXTERN int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	const char *v;
	char env[256];
	(void)flags;

	if (arg(argc, argv, "getpwnam_root") != NULL) {
		struct passwd *pw = getpwnam("root");

		note(argc, argv, "getpwnam-root", pw != NULL ? pw->pw_name : NULL);
	}
	if ((v = arg(argc, argv, "setuser")) != NULL) {
		pam_set_item(pamh, PAM_USER, v);
		note(argc, argv, "setuser", v);
	}
	if ((v = arg(argc, argv, "expires")) != NULL) {
		snprintf(env, sizeof(env), "PAM_AGENT_EXPIRES=%lld",
			 (long long)time(NULL) + strtoll(v, NULL, 10));
		pam_putenv(pamh, env);
	}
	if ((v = arg(argc, argv, "expires_raw")) != NULL) {
		snprintf(env, sizeof(env), "PAM_AGENT_EXPIRES=%s", v);
		pam_putenv(pamh, env);
	}
	return PAM_SUCCESS;
}

PAM_EXTERN int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh, (void)flags;
	note(argc, argv, "close", "");
	return PAM_SUCCESS;
}
