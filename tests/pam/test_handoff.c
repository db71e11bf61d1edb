/*
 * test_handoff.c - identity across the processes of one application
 * (docs/handoff.md), through the real
 * Linux-PAM library, the real helper and a broker:
 *
 * - what sshd does with keyboard-interactive: pam_start in the parent,
 *   pam_authenticate and pam_acct_mgmt in a forked child, which sends its
 *   pam_getenvlist back through a pipe and _exit()s without pam_end; the
 *   parent pam_putenv()s them into its own handle, then pam_setcred and
 *   pam_open_session. The credentials are placed, the handle never reaches
 *   the session's PAM environment, the record holds no token;
 * - the attacks: a handle used twice, late, for another user, service or
 *   rhost, by a process that is not the writer's parent, forged, or whose
 *   record is a link, has group/other bits or (as root) another owner; a
 *   configuration changed between the two processes. Each is refused with
 *   its reason in the log and the audit file;
 * - in one process (sudo, su, sshd with passwords) the record is removed
 *   at once, and at pam_end when no session was opened.
 *
 * The clock is never waited for: a late record is one whose "expires" the
 * test moved into the past (the record is the test user's own here).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#ifndef PA_NO_PAMTEST
#include <jansson.h>
#include <security/pam_appl.h>

#include "fixtures.h"
#include "harness.h"

#define BOT "spiffe://example.org/agents/bot"
#define SERVICE "pa-handoff"
#define OTHER_SERVICE "pa-handoff-other"
#define OPTIONAL_SERVICE "pa-handoff-optional"
#define BADARGS_SERVICE "pa-handoff-badargs"
#define RHOST "192.0.2.7"
#define STACK "auth required @MODULE@ config=@DIR@/policy.conf\n" \
	      "account required @MODULE@ config=@DIR@/policy.conf\n" \
	      "session required @MODULE@ config=@DIR@/policy.conf\n"

static const struct pa_service services[] = {
	{ SERVICE, STACK },
	{ OTHER_SERVICE, STACK },
	/* pam_permit after pam_agent: setcred answers what pam_agent decides, and
	 * PAM_SUCCESS where pam_agent ignores the handle (no identity) */
	{ OPTIONAL_SERVICE, "auth required @MODULE@ config=@DIR@/policy.conf\n"
			    "auth optional pam_permit.so\n"
			    "account required @MODULE@ config=@DIR@/policy.conf optional\n"
			    "session required @MODULE@ config=@DIR@/policy.conf optional\n"
			    "session required pam_permit.so\n" },
	/* the session line's options are refused (a typo in the service file) */
	{ BADARGS_SERVICE, "auth required @MODULE@ config=@DIR@/policy.conf\n"
			   "account required @MODULE@ config=@DIR@/policy.conf\n"
			   "session required @MODULE@ config=@DIR@/policy.conf no_such_option\n" },
	{ NULL, NULL },
};

/* %s: the helper; %s: the grant's ttl */
static const char policy[] =
	"[global]\n"
	"audience = " FX_AUDIENCE "\n"
	"audit_log = @DIR@/audit.jsonl\n"
	"helper = %s\n"
	"state_dir = @DIR@/state\n"
	FX_EXAMPLE_TRUST
	"[service " SERVICE "]\n"
	"class = read\n"
	"[service " OTHER_SERVICE "]\n"
	"class = read\n"
	"[service " OPTIONAL_SERVICE "]\n"
	"class = read\n"
	"[service " BADARGS_SERVICE "]\n"
	"class = read\n"
	"[agent spiffe://example.org/agents/*]\n"
	"users = @USER@\n"
	"services = " SERVICE " " OTHER_SERVICE " " OPTIONAL_SERVICE " " BADARGS_SERVICE "\n"
	"grants = lease\n"
	"[grant lease]\n"
	"class = read\n"
	"source = exec\n"
	"command = @DIR@/issue.sh\n"
	"revoke = @DIR@/revoke.sh\n"
	"ttl = %s\n";

static const char *helper; /* fx_helper() */

/* ---- helpers ------------------------------------------------------------------------- */

static void write_policy(const char *ttl)
{
	char text[PATH_MAX + 2048];

	snprintf(text, sizeof(text), policy, helper, ttl);
	fx_file("policy.conf", text, 0644);
}

/* One handle: the parent's (the monitor's in sshd). */
struct txn {
	pam_handle_t *pamh;
	char *token;
	char handle[64]; /* PAM_AGENT_HANDOFF as the child sent it */
	char env[4096];	 /* every string the child sent, NUL-separated */
	size_t envlen;
};

static void txn_start(struct txn *t, const char *service, const char *rhost)
{
	memset(t, 0, sizeof(*t));
	t->token = fx_mint(&fx_example, BOT, FX_AUDIENCE, fx_now, fx_now + 300, NULL);
	t->pamh = fx_start(service, t->token);
	/* as sshd sets them at pam_start */
	if (rhost != NULL)
		assert_int_equal(pam_set_item(t->pamh, PAM_RHOST, rhost), PAM_SUCCESS);
	assert_int_equal(pam_set_item(t->pamh, PAM_TTY, "ssh"), PAM_SUCCESS);
}

static void txn_end(struct txn *t)
{
	assert_int_equal(pam_end(t->pamh, PAM_SUCCESS), PAM_SUCCESS);
	free(t->token);
	t->pamh = NULL;
}

/*
 * sshd's sshpam_thread: authenticate and account in a forked child on its
 * copy of the handle; on success it writes its PAM environment to the pipe
 * and _exit()s without pam_end. The parent reads it and keeps it in t.
 */
static void child_authenticates(struct txn *t)
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

/* sshd's import_environments: each string into the parent's handle. */
static void import_env(struct txn *t)
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

/* Whether the handle's PAM environment has PAM_AGENT_HANDOFF. */
static int env_has_handoff(pam_handle_t *pamh)
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

/* The path of the one untaken record in DIR/state/handoff, NULL when none. */
static const char *the_record(void)
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

/* Number of entries (records and tombstones) in DIR/state/handoff. */
static int handoff_entries(void)
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

/* Rewrites the record's member name to value (in place, its mode kept). */
static void record_set(const char *name, json_int_t value)
{
	const char *path = the_record();
	json_error_t jerr;
	json_t *o;
	FILE *fp;

	assert_non_null(path);
	o = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	assert_non_null(o);
	assert_int_equal(json_object_set_new(o, name, json_integer(value)), 0);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(json_dumpf(o, fp, JSON_COMPACT), 0);
	assert_int_equal(fclose(fp), 0);
	json_decref(o);
}

/* Lines of the audit file with event and result whose text has needle. */
static int audit_has(const char *event, const char *result, const char *needle)
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

static int reset(void **state)
{
	char cmd[PATH_MAX + 64];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/state' '%s/audit.jsonl' '%s/revoked.log'",
		 pa_harness_dir(), pa_harness_dir(), pa_harness_dir());
	assert_int_equal(system(cmd), 0);
	write_policy("5m");
	pa_harness_log_reset();
	return 0;
}

/* Presents t's handle in a new handle of the parent, started as given; returns setcred's code. */
static int present(struct txn *t, const char *service, const char *user, const char *rhost)
{
	struct txn u;
	char env[128];
	int rv;

	txn_start(&u, service, rhost);
	if (user != NULL)
		assert_int_equal(pam_set_item(u.pamh, PAM_USER, user), PAM_SUCCESS);
	snprintf(env, sizeof(env), "PAM_AGENT_HANDOFF=%s", t->handle);
	assert_int_equal(pam_putenv(u.pamh, env), PAM_SUCCESS);
	rv = pam_setcred(u.pamh, PAM_ESTABLISH_CRED);
	/* refused or not, the handle is gone from the PAM environment */
	assert_false(env_has_handoff(u.pamh));
	/* a refused hand-off opens no session afterwards either */
	if (rv != PAM_SUCCESS)
		FX_EXPECT(pam_open_session(u.pamh, 0), PAM_PERM_DENIED);
	txn_end(&u);
	return rv;
}

/* ---- the hand-off ----------------------------------------------------------------------- */

/* sshd keyboard-interactive: authenticated in a child, session in the parent. */
static void test_forked_authentication_places_credentials(void **state)
{
	struct txn t;
	struct stat st;
	const char *rec;
	char dir[PATH_MAX], *sig;

	(void)state;
	txn_start(&t, SERVICE, RHOST);
	child_authenticates(&t);
	/* the record: 0600 in a 0700 directory, and no token in it */
	rec = the_record();
	assert_non_null(rec);
	assert_int_equal(lstat(rec, &st), 0);
	assert_true(S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0600);
	snprintf(dir, sizeof(dir), "%s/state/handoff", pa_harness_dir());
	assert_int_equal(lstat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	sig = strrchr(t.token, '.');
	assert_non_null(sig);
	{
		char name[PATH_MAX];

		snprintf(name, sizeof(name), "state/handoff/%s", strrchr(rec, '/') + 1);
		assert_false(fx_file_has(name, sig + 1));
		assert_false(fx_file_has(name, t.token));
		assert_true(fx_file_has(name, BOT));
	}
	/* the file is named by a digest of the handle, not by the handle */
	import_env(&t);
	assert_null(strstr(rec, t.handle));

	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_SUCCESS);
	assert_false(env_has_handoff(t.pamh));
	fx_expect_log("identity handed over from the account phase of process");
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_SUCCESS);
	assert_non_null(pam_getenv(t.pamh, "PAM_AGENT_SESSION"));
	assert_false(env_has_handoff(t.pamh));
	assert_int_equal(audit_has("credential_placed", "ok", NULL), 1);
	/* taken: only the (empty) tombstone is left */
	assert_null(the_record());
	assert_int_equal(handoff_entries(), 1);
	FX_EXPECT(pam_close_session(t.pamh, 0), PAM_SUCCESS);
	FX_EXPECT(pam_setcred(t.pamh, PAM_DELETE_CRED), PAM_SUCCESS);
	txn_end(&t);
	assert_true(fx_file_has("revoked.log", "h-1"));
}

/* open_session without setcred first takes the record itself */
static void test_open_without_setcred(void **state)
{
	struct txn t;

	(void)state;
	txn_start(&t, SERVICE, RHOST);
	child_authenticates(&t);
	import_env(&t);
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_SUCCESS);
	assert_false(env_has_handoff(t.pamh));
	FX_EXPECT(pam_close_session(t.pamh, 0), PAM_SUCCESS);
	txn_end(&t);
}

/* the same handle a second time: refused as a replay */
static void test_replayed_handle(void **state)
{
	struct txn t;

	(void)state;
	txn_start(&t, SERVICE, RHOST);
	child_authenticates(&t);
	import_env(&t);
	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_SUCCESS);
	pa_harness_log_reset();
	FX_EXPECT(present(&t, SERVICE, NULL, RHOST), PAM_PERM_DENIED);
	fx_expect_log("it was already used (a replay)");
	assert_int_equal(audit_has("decision", "deny", "already used"), 1);
	txn_end(&t);
}

/* a record past its expiry: refused as late */
static void test_late_handle(void **state)
{
	struct txn t;

	(void)state;
	txn_start(&t, SERVICE, RHOST);
	child_authenticates(&t);
	import_env(&t);
	record_set("expires", (json_int_t)time(NULL) - 5);
	pa_harness_log_reset();
	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_PERM_DENIED);
	fx_expect_log("refused: expired");
	assert_false(env_has_handoff(t.pamh));
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_PERM_DENIED);
	assert_int_equal(audit_has("credential_placed", "ok", NULL), 0);
	txn_end(&t);
}

/* forged handles: well-formed but unknown, and malformed */
static void test_forged_handle(void **state)
{
	struct txn t, u;

	(void)state;
	txn_start(&t, SERVICE, RHOST);
	snprintf(t.handle, sizeof(t.handle), "0123456789abcdef0123456789abcdef");
	FX_EXPECT(present(&t, SERVICE, NULL, RHOST), PAM_PERM_DENIED);
	fx_expect_log("no such hand-off record");
	snprintf(t.handle, sizeof(t.handle), "../../../../etc/passwd");
	pa_harness_log_reset();
	FX_EXPECT(present(&t, SERVICE, NULL, RHOST), PAM_PERM_DENIED);
	fx_expect_log("not a hand-off handle (forged)");
	txn_end(&t);
	/* a forged handle is ignored (and removed) on a handle with its own identity */
	txn_start(&u, SERVICE, RHOST);
	FX_EXPECT(pam_authenticate(u.pamh, 0), PAM_SUCCESS);
	FX_EXPECT(pam_acct_mgmt(u.pamh, 0), PAM_SUCCESS);
	assert_int_equal(pam_putenv(u.pamh, "PAM_AGENT_HANDOFF=0123456789abcdef0123456789abcdef"),
			 PAM_SUCCESS);
	FX_EXPECT(pam_setcred(u.pamh, PAM_ESTABLISH_CRED), PAM_SUCCESS);
	assert_false(env_has_handoff(u.pamh));
	txn_end(&u);
}

/*
 * "optional" on the session line, and an application that ignores a failed
 * setcred (sudo does): a refused hand-off still opens no session, where a
 * handle without any identity would be ignored
 */
static void test_refused_handoff_is_not_ignored(void **state)
{
	struct txn t;

	(void)state;
	txn_start(&t, OPTIONAL_SERVICE, RHOST);
	assert_int_equal(pam_putenv(t.pamh, "PAM_AGENT_HANDOFF=0123456789abcdef0123456789abcdef"),
			 PAM_SUCCESS);
	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_PERM_DENIED);
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_PERM_DENIED);
	fx_expect_log("was refused: no session");
	txn_end(&t);
	/* the same stack without any hand-off: pam_agent ignores it, as before */
	txn_start(&t, OPTIONAL_SERVICE, RHOST);
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_SUCCESS);
	FX_EXPECT(pam_close_session(t.pamh, 0), PAM_SUCCESS);
	txn_end(&t);
}

/* presented for another user, service or rhost: refused, and used up */
static void test_handle_bound_to_user_service_rhost(void **state)
{
	struct txn t;
	const char *other;
	char want[128];

	(void)state;
	txn_start(&t, SERVICE, RHOST);
	child_authenticates(&t);
	import_env(&t);
	/* another user that exists: root, or nobody when the tests run as root */
	other = strcmp(fx_user(), "root") == 0 ? "nobody" : "root";
	snprintf(want, sizeof(want), "presented for user %s", other);
	FX_EXPECT(present(&t, SERVICE, other, RHOST), PAM_PERM_DENIED);
	fx_expect_log(want);
	txn_end(&t);

	txn_start(&t, SERVICE, RHOST);
	child_authenticates(&t);
	import_env(&t);
	pa_harness_log_reset();
	FX_EXPECT(present(&t, OTHER_SERVICE, NULL, RHOST), PAM_PERM_DENIED);
	fx_expect_log("presented to service " OTHER_SERVICE);
	txn_end(&t);

	txn_start(&t, SERVICE, RHOST);
	child_authenticates(&t);
	import_env(&t);
	pa_harness_log_reset();
	FX_EXPECT(present(&t, SERVICE, NULL, "198.51.100.9"), PAM_PERM_DENIED);
	fx_expect_log("presented from rhost 198.51.100.9");
	/* the refusal used it up: the rightful parent is refused too */
	pa_harness_log_reset();
	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_PERM_DENIED);
	fx_expect_log("already used");
	txn_end(&t);
	assert_int_equal(audit_has("decision", "deny", "identity hand-off"), 4);
}

/* a process that is not the writer's parent (a sibling here) is refused */
static void test_not_the_parent(void **state)
{
	struct txn t;
	pid_t pid;
	int status;

	(void)state;
	txn_start(&t, SERVICE, RHOST);
	child_authenticates(&t);
	import_env(&t);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(pam_setcred(t.pamh, PAM_ESTABLISH_CRED) == PAM_PERM_DENIED ? 0 : 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fx_expect_log("which is not the parent");
	txn_end(&t);
}

/* a record with group/other bits, a link, or (as root) another owner */
static void test_untrusted_record(void **state)
{
	struct txn t;
	char copy[PATH_MAX];
	const char *rec;

	(void)state;
	txn_start(&t, SERVICE, RHOST);
	child_authenticates(&t);
	import_env(&t);
	assert_int_equal(chmod(the_record(), 0640), 0);
	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_PERM_DENIED);
	fx_expect_log("group or other bits");
	txn_end(&t);

	txn_start(&t, SERVICE, RHOST);
	child_authenticates(&t);
	import_env(&t);
	rec = the_record();
	snprintf(copy, sizeof(copy), "%s/record-copy", pa_harness_dir());
	assert_int_equal(rename(rec, copy), 0);
	assert_int_equal(symlink(copy, rec), 0);
	pa_harness_log_reset();
	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_PERM_DENIED);
	fx_expect_log("a symbolic link");
	txn_end(&t);

	if (geteuid() != 0) {
		printf("# SKIP part: a record owned by another uid needs root to chown\n");
		return;
	}
	txn_start(&t, SERVICE, RHOST);
	child_authenticates(&t);
	import_env(&t);
	assert_int_equal(chown(the_record(), 65534, 65534), 0);
	pa_harness_log_reset();
	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_PERM_DENIED);
	fx_expect_log("owned by uid 65534");
	txn_end(&t);
}

/* the configuration changed between the two processes: the decision is not carried over */
static void test_decision_changed(void **state)
{
	struct txn t;

	(void)state;
	txn_start(&t, SERVICE, RHOST);
	child_authenticates(&t);
	import_env(&t);
	write_policy("10m");
	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_PERM_DENIED);
	fx_expect_log("decision changed since the account phase in process");
	txn_end(&t);
}

/* ---- one process ---------------------------------------------------------------------- */

/* sudo, su, sshd with passwords: the record goes at once, and the handle never reaches the session */
static void test_same_process_no_litter(void **state)
{
	struct txn t;

	(void)state;
	txn_start(&t, SERVICE, NULL);
	FX_EXPECT(pam_authenticate(t.pamh, 0), PAM_SUCCESS);
	FX_EXPECT(pam_acct_mgmt(t.pamh, 0), PAM_SUCCESS);
	assert_non_null(the_record());
	assert_true(env_has_handoff(t.pamh));
	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_SUCCESS);
	assert_int_equal(handoff_entries(), 0);
	assert_false(env_has_handoff(t.pamh));
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_SUCCESS);
	assert_false(env_has_handoff(t.pamh));
	FX_EXPECT(pam_close_session(t.pamh, 0), PAM_SUCCESS);
	txn_end(&t);

	/* authenticate and account only (a screen locker): removed at pam_end */
	txn_start(&t, SERVICE, NULL);
	FX_EXPECT(pam_authenticate(t.pamh, 0), PAM_SUCCESS);
	FX_EXPECT(pam_acct_mgmt(t.pamh, 0), PAM_SUCCESS);
	assert_int_equal(handoff_entries(), 2); /* the record and its taker's marker */
	txn_end(&t);
	assert_int_equal(handoff_entries(), 0);
}

/*
 * The handle removed from the PAM environment on its way to the parent (a
 * user's ~/.pam_environment with pam_env user_readenv=1, a module that
 * rebuilds the environment, sshd ignoring a failed pam_putenv): the parent
 * has no identity and no handle, but a record was handed to it. Without
 * the marker it opened the agent's session as a non-agent one (PAM_IGNORE,
 * so "optional" and pam_permit let it through with no keys, no
 * max_session, no audit); now setcred and open refuse.
 */
static void test_handle_removed_from_environment(void **state)
{
	struct txn t;

	(void)state;
	txn_start(&t, OPTIONAL_SERVICE, RHOST);
	child_authenticates(&t);
	import_env(&t);
	assert_int_equal(pam_putenv(t.pamh, "PAM_AGENT_HANDOFF"), PAM_SUCCESS); /* deletes it */
	assert_false(env_has_handoff(t.pamh));
	pa_harness_log_reset();
	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_PERM_DENIED);
	fx_expect_log("an agent identity was handed to this process, but its hand-off handle is "
		      "missing from the PAM environment");
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_PERM_DENIED);
	assert_null(pam_getenv(t.pamh, "PAM_AGENT_SESSION"));
	assert_int_equal(audit_has("credential_placed", "ok", NULL), 0);
	assert_int_equal(audit_has("decision", "deny", "hand-off handle is missing"), 1);
	txn_end(&t);

	/* open_session without setcred, on a new handle of the same process: refused too */
	txn_start(&t, OPTIONAL_SERVICE, RHOST);
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_PERM_DENIED);
	txn_end(&t);

	/* a record taken with its handle leaves no marker: sessions of this
	 * process without an identity are not agent sessions again */
	{
		char cmd[PATH_MAX + 64];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s/state'", pa_harness_dir());
		assert_int_equal(system(cmd), 0);
	}
	txn_start(&t, OPTIONAL_SERVICE, RHOST);
	child_authenticates(&t);
	import_env(&t);
	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_SUCCESS);
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_SUCCESS);
	FX_EXPECT(pam_close_session(t.pamh, 0), PAM_SUCCESS);
	txn_end(&t);
	txn_start(&t, OPTIONAL_SERVICE, RHOST);
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_SUCCESS); /* pam_agent ignores; pam_permit */
	FX_EXPECT(pam_close_session(t.pamh, 0), PAM_SUCCESS);
	txn_end(&t);
}

/*
 * A PAM_RHOST of "" (as the account phase saw it) is written and read back
 * as "": the hand-off no longer refuses its own record as malformed.
 */
static void test_empty_rhost(void **state)
{
	struct txn t;

	(void)state;
	txn_start(&t, SERVICE, "");
	child_authenticates(&t);
	import_env(&t);
	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_SUCCESS);
	fx_expect_log("identity handed over from the account phase of process");
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_SUCCESS);
	FX_EXPECT(pam_close_session(t.pamh, 0), PAM_SUCCESS);
	txn_end(&t);
}

/*
 * The session line's options are refused (PAM_SERVICE_ERR before the
 * module looks at anything): the handle the account phase put into the
 * PAM environment is removed all the same, so it never reaches the
 * session (sudo and su copy the PAM environment into the command's).
 */
static void test_refused_options_drop_the_handle(void **state)
{
	struct txn t;

	(void)state;
	txn_start(&t, BADARGS_SERVICE, NULL);
	FX_EXPECT(pam_authenticate(t.pamh, 0), PAM_SUCCESS);
	FX_EXPECT(pam_acct_mgmt(t.pamh, 0), PAM_SUCCESS);
	assert_true(env_has_handoff(t.pamh));
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_SERVICE_ERR);
	fx_expect_log("unknown option");
	assert_false(env_has_handoff(t.pamh));
	txn_end(&t);
}

/*
 * A hand-off directory that cannot be trusted (a symbolic link): as root the
 * account phase refuses; as a user the account phase goes on without a
 * record (it could not write root's state directory in production either)
 */
static void test_record_not_written(void **state)
{
	struct txn t;
	char dir[PATH_MAX], target[PATH_MAX];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/state", pa_harness_dir());
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(dir, sizeof(dir), "%s/state/handoff", pa_harness_dir());
	snprintf(target, sizeof(target), "%s", pa_harness_dir());
	assert_int_equal(symlink(target, dir), 0);
	txn_start(&t, SERVICE, NULL);
	FX_EXPECT(pam_authenticate(t.pamh, 0), PAM_SUCCESS);
	if (geteuid() == 0) {
		FX_EXPECT(pam_acct_mgmt(t.pamh, 0), PAM_PERM_DENIED);
		fx_expect_log("hand-off record not written");
		FX_EXPECT(pam_open_session(t.pamh, 0), PAM_PERM_DENIED);
	} else {
		printf("# not root: the account phase goes on without a record\n");
		FX_EXPECT(pam_acct_mgmt(t.pamh, 0), PAM_SUCCESS);
	}
	assert_false(env_has_handoff(t.pamh));
	txn_end(&t);
}

static int setup_all(void **state)
{
	helper = fx_helper();
	if (helper == NULL)
		return -1;
	fx_setup(state);
	fx_exec_broker();
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_forked_authentication_places_credentials, reset),
		cmocka_unit_test_setup(test_open_without_setcred, reset),
		cmocka_unit_test_setup(test_replayed_handle, reset),
		cmocka_unit_test_setup(test_late_handle, reset),
		cmocka_unit_test_setup(test_forged_handle, reset),
		cmocka_unit_test_setup(test_refused_handoff_is_not_ignored, reset),
		cmocka_unit_test_setup(test_handle_bound_to_user_service_rhost, reset),
		cmocka_unit_test_setup(test_not_the_parent, reset),
		cmocka_unit_test_setup(test_untrusted_record, reset),
		cmocka_unit_test_setup(test_decision_changed, reset),
		cmocka_unit_test_setup(test_same_process_no_litter, reset),
		cmocka_unit_test_setup(test_record_not_written, reset),
		cmocka_unit_test_setup(test_handle_removed_from_environment, reset),
		cmocka_unit_test_setup(test_empty_rhost, reset),
		cmocka_unit_test_setup(test_refused_options_drop_the_handle, reset),
	};

	return FX_MAIN(argc, argv, services, "handoff", tests, setup_all, fx_teardown);
}

#endif /* PA_NO_PAMTEST */
