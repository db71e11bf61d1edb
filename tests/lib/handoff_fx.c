/*
 * handoff_fx.c - see handoff_fx.h.
 */
#include "config.h"

#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixtures.h"
#include "handoff_fx.h"

#define STACK "auth required @MODULE@ config=@DIR@/policy.conf\n" \
	      "account required @MODULE@ config=@DIR@/policy.conf\n" \
	      "session required @MODULE@ config=@DIR@/policy.conf\n"

const struct pa_service hx_services[] = {
	{ HX_SERVICE, STACK },
	{ HX_OTHER_SERVICE, STACK },
	/* pam_permit after pam_agent: setcred answers what pam_agent decides, and
	 * PAM_SUCCESS where pam_agent ignores the handle (no identity) */
	{ HX_OPTIONAL_SERVICE, "auth required @MODULE@ config=@DIR@/policy.conf\n"
			       "auth optional pam_permit.so\n"
			       "account required @MODULE@ config=@DIR@/policy.conf optional\n"
			       "session required @MODULE@ config=@DIR@/policy.conf optional\n"
			       "session required pam_permit.so\n" },
	/* the session line's options are refused (a typo in the service file) */
	{ HX_BADARGS_SERVICE, "auth required @MODULE@ config=@DIR@/policy.conf\n"
			      "account required @MODULE@ config=@DIR@/policy.conf\n"
			      "session required @MODULE@ config=@DIR@/policy.conf no_such_option\n" },
	{ NULL, NULL },
};

/* %s: the helper; %s: the grant's ttl */
static const char policy[] =
	FX_POLICY_GLOBAL
	"helper = %s\n"
	"state_dir = @DIR@/state\n"
	FX_EXAMPLE_TRUST
	"[service " HX_SERVICE "]\n"
	"class = read\n"
	"[service " HX_OTHER_SERVICE "]\n"
	"class = read\n"
	"[service " HX_OPTIONAL_SERVICE "]\n"
	"class = read\n"
	"[service " HX_BADARGS_SERVICE "]\n"
	"class = read\n"
	"[agent spiffe://example.org/agents/*]\n"
	"users = @USER@\n"
	"services = " HX_SERVICE " " HX_OTHER_SERVICE " " HX_OPTIONAL_SERVICE " "
	HX_BADARGS_SERVICE "\n"
	"grants = lease\n"
	FX_EXEC_LEASE
	"ttl = %s\n";

static const char *helper; /* fx_helper() */

void hx_write_policy(const char *ttl)
{
	char text[PATH_MAX + 2048];

	snprintf(text, sizeof(text), policy, helper, ttl);
	fx_file("policy.conf", text, 0644);
}

void hx_txn_start(struct hx_txn *t, const char *service, const char *rhost)
{
	memset(t, 0, sizeof(*t));
	t->token = fx_mint(&fx_example, HX_BOT, FX_AUDIENCE, fx_now, fx_now + 300, NULL);
	t->pamh = fx_start(service, t->token);
	/* as sshd sets them at pam_start */
	if (rhost != NULL)
		assert_int_equal(pam_set_item(t->pamh, PAM_RHOST, rhost), PAM_SUCCESS);
	assert_int_equal(pam_set_item(t->pamh, PAM_TTY, "ssh"), PAM_SUCCESS);
}

void hx_txn_end(struct hx_txn *t)
{
	assert_int_equal(pam_end(t->pamh, PAM_SUCCESS), PAM_SUCCESS);
	free(t->token);
	t->pamh = NULL;
}

void hx_child_authenticates(struct hx_txn *t)
{
	int fds[2], status;
	pid_t pid;
	ssize_t n;

	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char **env;
		size_t i;

		close(fds[0]);
		if (pam_authenticate(t->pamh, 0) != PAM_SUCCESS || pam_acct_mgmt(t->pamh, 0) != PAM_SUCCESS)
			_exit(1);
		env = pam_getenvlist(t->pamh);
		for (i = 0; env != NULL && env[i] != NULL; i++)
			if (write(fds[1], env[i], strlen(env[i]) + 1) < 0)
				_exit(2);
		_exit(0); /* no pam_end: sshd's child does not call it */
	}
	close(fds[1]);
	t->envlen = 0;
	while ((n = read(fds[0], t->env + t->envlen, sizeof(t->env) - 1 - t->envlen)) > 0)
		t->envlen += (size_t)n;
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("the authenticating child failed (%d); log:\n%s", status, pa_harness_log());
	t->env[t->envlen] = '\0';
}

void hx_import_env(struct hx_txn *t)
{
	size_t o = 0;

	while (o < t->envlen) {
		const char *s = t->env + o;

		if (strncmp(s, "PAM_AGENT_HANDOFF=", 18) == 0)
			snprintf(t->handle, sizeof(t->handle), "%s", s + 18);
		assert_int_equal(pam_putenv(t->pamh, s), PAM_SUCCESS);
		o += strlen(s) + 1;
	}
	assert_int_equal(strlen(t->handle), 32);
}

int hx_env_has_handoff(pam_handle_t *pamh)
{
	char **env = pam_getenvlist(pamh);
	int found = 0;
	size_t i;

	for (i = 0; env != NULL && env[i] != NULL; i++) {
		if (strncmp(env[i], "PAM_AGENT_HANDOFF", 17) == 0)
			found = 1;
		free(env[i]);
	}
	free(env);
	return found || pam_getenv(pamh, "PAM_AGENT_HANDOFF") != NULL;
}

const char *hx_the_record(void)
{
	static char path[PATH_MAX + 300];
	char dir[PATH_MAX];
	struct dirent *e;
	const char *found = NULL;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/state/handoff", pa_harness_dir());
	d = opendir(dir);
	if (d == NULL)
		return NULL;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || strchr(e->d_name, '.') != NULL)
			continue;
		assert_null(found); /* one at a time */
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		found = path;
	}
	closedir(d);
	return found;
}

int hx_handoff_entries(void)
{
	char dir[PATH_MAX];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/state/handoff", pa_harness_dir());
	d = opendir(dir);
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

int hx_audit_has(const char *event, const char *result, const char *needle)
{
	char path[PATH_MAX], *line = NULL, want[128];
	size_t cap = 0;
	int n = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/audit.jsonl", pa_harness_dir());
	snprintf(want, sizeof(want), "\"event\":\"%s\",\"result\":\"%s\"", event, result);
	fp = fopen(path, "r");
	if (fp == NULL)
		return 0;
	while (getline(&line, &cap, fp) > 0)
		n += strstr(line, want) != NULL && (needle == NULL || strstr(line, needle) != NULL);
	free(line);
	fclose(fp);
	return n;
}

int hx_reset(void **state)
{
	char cmd[PATH_MAX + 64];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/state' '%s/audit.jsonl' '%s/revoked.log'",
		 pa_harness_dir(), pa_harness_dir(), pa_harness_dir());
	assert_int_equal(system(cmd), 0);
	hx_write_policy("5m");
	pa_harness_log_reset();
	return 0;
}

int hx_setup(void **state)
{
	helper = fx_helper();
	if (helper == NULL)
		return -1;
	fx_setup(state);
	fx_exec_broker();
	return 0;
}
