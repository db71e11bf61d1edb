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
 *   its reason in the log and the audit file.
 *
 * One process, a lost handle and the other edges are test_handoff_edge.c;
 * the steps both take are tests/lib/handoff_fx.c.
 *
 * The clock is never waited for: a late record is one whose "expires" the
 * test moved into the past (the record is the test user's own here).
 */
#include "config.h"

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
#include "handoff_fx.h"

/* ---- helpers ------------------------------------------------------------------------- */

/* Rewrites the record's member name to value (in place, its mode kept). */
static void record_set(const char *name, json_int_t value)
{
	const char *path = hx_the_record();
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

/* Presents t's handle in a new handle of the parent, started as given; returns setcred's code. */
static int present(struct hx_txn *t, const char *service, const char *user, const char *rhost)
{
	struct hx_txn u;
	char env[128];
	int rv;

	hx_txn_start(&u, service, rhost);
	if (user != NULL)
		assert_int_equal(pam_set_item(u.pamh, PAM_USER, user), PAM_SUCCESS);
	snprintf(env, sizeof(env), "PAM_AGENT_HANDOFF=%s", t->handle);
	assert_int_equal(pam_putenv(u.pamh, env), PAM_SUCCESS);
	rv = pam_setcred(u.pamh, PAM_ESTABLISH_CRED);
	/* refused or not, the handle is gone from the PAM environment */
	assert_false(hx_env_has_handoff(u.pamh));
	/* a refused hand-off opens no session afterwards either */
	if (rv != PAM_SUCCESS)
		FX_EXPECT(pam_open_session(u.pamh, 0), PAM_PERM_DENIED);
	hx_txn_end(&u);
	return rv;
}

/* ---- the hand-off ----------------------------------------------------------------------- */

/* sshd keyboard-interactive: authenticated in a child, session in the parent. */
static void test_forked_authentication_places_credentials(void **state)
{
	struct hx_txn t;
	struct stat st;
	const char *rec;
	char dir[PATH_MAX], *sig;

	(void)state;
	hx_txn_start(&t, HX_SERVICE, HX_RHOST);
	hx_child_authenticates(&t);
	/* the record: 0600 in a 0700 directory, and no token in it */
	rec = hx_the_record();
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
		assert_true(fx_file_has(name, HX_BOT));
	}
	/* the file is named by a digest of the handle, not by the handle */
	hx_import_env(&t);
	assert_null(strstr(rec, t.handle));

	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_SUCCESS);
	assert_false(hx_env_has_handoff(t.pamh));
	fx_expect_log("identity handed over from the account phase of process");
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_SUCCESS);
	assert_non_null(pam_getenv(t.pamh, "PAM_AGENT_SESSION"));
	assert_false(hx_env_has_handoff(t.pamh));
	assert_int_equal(hx_audit_has("credential_placed", "ok", NULL), 1);
	/* taken: only the (empty) tombstone is left */
	assert_null(hx_the_record());
	assert_int_equal(hx_handoff_entries(), 1);
	FX_EXPECT(pam_close_session(t.pamh, 0), PAM_SUCCESS);
	FX_EXPECT(pam_setcred(t.pamh, PAM_DELETE_CRED), PAM_SUCCESS);
	hx_txn_end(&t);
	assert_true(fx_file_has("revoked.log", "h-1"));
}

/* open_session without setcred first takes the record itself */
static void test_open_without_setcred(void **state)
{
	struct hx_txn t;

	(void)state;
	hx_txn_start(&t, HX_SERVICE, HX_RHOST);
	hx_child_authenticates(&t);
	hx_import_env(&t);
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_SUCCESS);
	assert_false(hx_env_has_handoff(t.pamh));
	FX_EXPECT(pam_close_session(t.pamh, 0), PAM_SUCCESS);
	hx_txn_end(&t);
}

/* the same handle a second time: refused as a replay */
static void test_replayed_handle(void **state)
{
	struct hx_txn t;

	(void)state;
	hx_txn_start(&t, HX_SERVICE, HX_RHOST);
	hx_child_authenticates(&t);
	hx_import_env(&t);
	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_SUCCESS);
	pa_harness_log_reset();
	FX_EXPECT(present(&t, HX_SERVICE, NULL, HX_RHOST), PAM_PERM_DENIED);
	fx_expect_log("it was already used (a replay)");
	assert_int_equal(hx_audit_has("decision", "deny", "already used"), 1);
	hx_txn_end(&t);
}

/* a record past its expiry: refused as late */
static void test_late_handle(void **state)
{
	struct hx_txn t;

	(void)state;
	hx_txn_start(&t, HX_SERVICE, HX_RHOST);
	hx_child_authenticates(&t);
	hx_import_env(&t);
	record_set("expires", (json_int_t)time(NULL) - 5);
	pa_harness_log_reset();
	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_PERM_DENIED);
	fx_expect_log("refused: expired");
	assert_false(hx_env_has_handoff(t.pamh));
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_PERM_DENIED);
	assert_int_equal(hx_audit_has("credential_placed", "ok", NULL), 0);
	hx_txn_end(&t);
}

/* forged handles: well-formed but unknown, and malformed */
static void test_forged_handle(void **state)
{
	struct hx_txn t, u;

	(void)state;
	hx_txn_start(&t, HX_SERVICE, HX_RHOST);
	snprintf(t.handle, sizeof(t.handle), "0123456789abcdef0123456789abcdef");
	FX_EXPECT(present(&t, HX_SERVICE, NULL, HX_RHOST), PAM_PERM_DENIED);
	fx_expect_log("no such hand-off record");
	snprintf(t.handle, sizeof(t.handle), "../../../../etc/passwd");
	pa_harness_log_reset();
	FX_EXPECT(present(&t, HX_SERVICE, NULL, HX_RHOST), PAM_PERM_DENIED);
	fx_expect_log("not a hand-off handle (forged)");
	hx_txn_end(&t);
	/* a forged handle is ignored (and removed) on a handle with its own identity */
	hx_txn_start(&u, HX_SERVICE, HX_RHOST);
	FX_EXPECT(pam_authenticate(u.pamh, 0), PAM_SUCCESS);
	FX_EXPECT(pam_acct_mgmt(u.pamh, 0), PAM_SUCCESS);
	assert_int_equal(pam_putenv(u.pamh, "PAM_AGENT_HANDOFF=0123456789abcdef0123456789abcdef"),
			 PAM_SUCCESS);
	FX_EXPECT(pam_setcred(u.pamh, PAM_ESTABLISH_CRED), PAM_SUCCESS);
	assert_false(hx_env_has_handoff(u.pamh));
	hx_txn_end(&u);
}

/*
 * "optional" on the session line, and an application that ignores a failed
 * setcred (sudo does): a refused hand-off still opens no session, where a
 * handle without any identity would be ignored
 */
static void test_refused_handoff_is_not_ignored(void **state)
{
	struct hx_txn t;

	(void)state;
	hx_txn_start(&t, HX_OPTIONAL_SERVICE, HX_RHOST);
	assert_int_equal(pam_putenv(t.pamh, "PAM_AGENT_HANDOFF=0123456789abcdef0123456789abcdef"),
			 PAM_SUCCESS);
	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_PERM_DENIED);
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_PERM_DENIED);
	fx_expect_log("was refused: no session");
	hx_txn_end(&t);
	/* the same stack without any hand-off: pam_agent ignores it, as before */
	hx_txn_start(&t, HX_OPTIONAL_SERVICE, HX_RHOST);
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_SUCCESS);
	FX_EXPECT(pam_close_session(t.pamh, 0), PAM_SUCCESS);
	hx_txn_end(&t);
}

/* presented for another user, service or rhost: refused, and used up */
static void test_handle_bound_to_user_service_rhost(void **state)
{
	struct hx_txn t;
	const char *other;
	char want[128];

	(void)state;
	hx_txn_start(&t, HX_SERVICE, HX_RHOST);
	hx_child_authenticates(&t);
	hx_import_env(&t);
	/* another user that exists: root, or nobody when the tests run as root */
	other = strcmp(fx_user(), "root") == 0 ? "nobody" : "root";
	snprintf(want, sizeof(want), "presented for user %s", other);
	FX_EXPECT(present(&t, HX_SERVICE, other, HX_RHOST), PAM_PERM_DENIED);
	fx_expect_log(want);
	hx_txn_end(&t);

	hx_txn_start(&t, HX_SERVICE, HX_RHOST);
	hx_child_authenticates(&t);
	hx_import_env(&t);
	pa_harness_log_reset();
	FX_EXPECT(present(&t, HX_OTHER_SERVICE, NULL, HX_RHOST), PAM_PERM_DENIED);
	fx_expect_log("presented to service " HX_OTHER_SERVICE);
	hx_txn_end(&t);

	hx_txn_start(&t, HX_SERVICE, HX_RHOST);
	hx_child_authenticates(&t);
	hx_import_env(&t);
	pa_harness_log_reset();
	FX_EXPECT(present(&t, HX_SERVICE, NULL, "198.51.100.9"), PAM_PERM_DENIED);
	fx_expect_log("presented from rhost 198.51.100.9");
	/* the refusal used it up: the rightful parent is refused too */
	pa_harness_log_reset();
	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_PERM_DENIED);
	fx_expect_log("already used");
	hx_txn_end(&t);
	assert_int_equal(hx_audit_has("decision", "deny", "identity hand-off"), 4);
}

/* a process that is not the writer's parent (a sibling here) is refused */
static void test_not_the_parent(void **state)
{
	struct hx_txn t;
	pid_t pid;
	int status;

	(void)state;
	hx_txn_start(&t, HX_SERVICE, HX_RHOST);
	hx_child_authenticates(&t);
	hx_import_env(&t);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(pam_setcred(t.pamh, PAM_ESTABLISH_CRED) == PAM_PERM_DENIED ? 0 : 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fx_expect_log("which is not the parent");
	hx_txn_end(&t);
}

/* a record with group/other bits, a link, or (as root) another owner */
static void test_untrusted_record(void **state)
{
	struct hx_txn t;
	char copy[PATH_MAX];
	const char *rec;

	(void)state;
	hx_txn_start(&t, HX_SERVICE, HX_RHOST);
	hx_child_authenticates(&t);
	hx_import_env(&t);
	assert_int_equal(chmod(hx_the_record(), 0640), 0);
	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_PERM_DENIED);
	fx_expect_log("group or other bits");
	hx_txn_end(&t);

	hx_txn_start(&t, HX_SERVICE, HX_RHOST);
	hx_child_authenticates(&t);
	hx_import_env(&t);
	rec = hx_the_record();
	snprintf(copy, sizeof(copy), "%s/record-copy", pa_harness_dir());
	assert_int_equal(rename(rec, copy), 0);
	assert_int_equal(symlink(copy, rec), 0);
	pa_harness_log_reset();
	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_PERM_DENIED);
	fx_expect_log("a symbolic link");
	hx_txn_end(&t);

	if (geteuid() != 0) {
		printf("# SKIP part: a record owned by another uid needs root to chown\n");
		return;
	}
	hx_txn_start(&t, HX_SERVICE, HX_RHOST);
	hx_child_authenticates(&t);
	hx_import_env(&t);
	assert_int_equal(chown(hx_the_record(), 65534, 65534), 0);
	pa_harness_log_reset();
	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_PERM_DENIED);
	fx_expect_log("owned by uid 65534");
	hx_txn_end(&t);
}

/* the configuration changed between the two processes: the decision is not carried over */
static void test_decision_changed(void **state)
{
	struct hx_txn t;

	(void)state;
	hx_txn_start(&t, HX_SERVICE, HX_RHOST);
	hx_child_authenticates(&t);
	hx_import_env(&t);
	hx_write_policy("10m");
	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_PERM_DENIED);
	fx_expect_log("decision changed since the account phase in process");
	hx_txn_end(&t);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_forked_authentication_places_credentials, hx_reset),
		cmocka_unit_test_setup(test_open_without_setcred, hx_reset),
		cmocka_unit_test_setup(test_replayed_handle, hx_reset),
		cmocka_unit_test_setup(test_late_handle, hx_reset),
		cmocka_unit_test_setup(test_forged_handle, hx_reset),
		cmocka_unit_test_setup(test_refused_handoff_is_not_ignored, hx_reset),
		cmocka_unit_test_setup(test_handle_bound_to_user_service_rhost, hx_reset),
		cmocka_unit_test_setup(test_not_the_parent, hx_reset),
		cmocka_unit_test_setup(test_untrusted_record, hx_reset),
		cmocka_unit_test_setup(test_decision_changed, hx_reset),
	};

	return FX_MAIN(argc, argv, hx_services, "handoff", tests, hx_setup, fx_teardown);
}

#endif /* PA_NO_PAMTEST */
