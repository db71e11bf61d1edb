/*
 * test_handoff_edge.c - the identity hand-off (docs/handoff.md) off sshd's
 * two-process path, through the real Linux-PAM library, the real helper
 * and a broker:
 *
 * - in one process (sudo, su, sshd with passwords) the record is removed
 *   at once, and at pam_end when no session was opened;
 * - the handle removed from the PAM environment on its way to the parent:
 *   setcred and open refuse, the login is no non-agent session;
 * - a PAM_RHOST of "", the session line's options refused, a hand-off
 *   directory that cannot be trusted.
 *
 * The forked hand-off and the attacks on it are test_handoff.c; the steps
 * both take are tests/lib/handoff_fx.c.
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
#include <unistd.h>

#include <cmocka.h>

#ifndef PA_NO_PAMTEST
#include <security/pam_appl.h>

#include "fixtures.h"
#include "handoff_fx.h"

/* sudo, su, sshd with passwords: the record goes at once, and the handle never reaches the session */
static void test_same_process_no_litter(void **state)
{
	struct hx_txn t;

	(void)state;
	hx_txn_start(&t, HX_SERVICE, NULL);
	FX_EXPECT(pam_authenticate(t.pamh, 0), PAM_SUCCESS);
	FX_EXPECT(pam_acct_mgmt(t.pamh, 0), PAM_SUCCESS);
	assert_non_null(hx_the_record());
	assert_true(hx_env_has_handoff(t.pamh));
	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_SUCCESS);
	assert_int_equal(hx_handoff_entries(), 0);
	assert_false(hx_env_has_handoff(t.pamh));
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_SUCCESS);
	assert_false(hx_env_has_handoff(t.pamh));
	FX_EXPECT(pam_close_session(t.pamh, 0), PAM_SUCCESS);
	hx_txn_end(&t);

	/* authenticate and account only (a screen locker): removed at pam_end */
	hx_txn_start(&t, HX_SERVICE, NULL);
	FX_EXPECT(pam_authenticate(t.pamh, 0), PAM_SUCCESS);
	FX_EXPECT(pam_acct_mgmt(t.pamh, 0), PAM_SUCCESS);
	assert_int_equal(hx_handoff_entries(), 2); /* the record and its taker's marker */
	hx_txn_end(&t);
	assert_int_equal(hx_handoff_entries(), 0);
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
	struct hx_txn t;

	(void)state;
	hx_txn_start(&t, HX_OPTIONAL_SERVICE, HX_RHOST);
	hx_child_authenticates(&t);
	hx_import_env(&t);
	assert_int_equal(pam_putenv(t.pamh, "PAM_AGENT_HANDOFF"), PAM_SUCCESS); /* deletes it */
	assert_false(hx_env_has_handoff(t.pamh));
	pa_harness_log_reset();
	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_PERM_DENIED);
	fx_expect_log("an agent identity was handed to this process, but its hand-off handle is "
		      "missing from the PAM environment");
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_PERM_DENIED);
	assert_null(pam_getenv(t.pamh, "PAM_AGENT_SESSION"));
	assert_int_equal(hx_audit_has("credential_placed", "ok", NULL), 0);
	assert_int_equal(hx_audit_has("decision", "deny", "hand-off handle is missing"), 1);
	hx_txn_end(&t);

	/* open_session without setcred, on a new handle of the same process: refused too */
	hx_txn_start(&t, HX_OPTIONAL_SERVICE, HX_RHOST);
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_PERM_DENIED);
	hx_txn_end(&t);

	/* a record taken with its handle leaves no marker: sessions of this
	 * process without an identity are not agent sessions again */
	{
		char cmd[PATH_MAX + 64];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s/state'", pa_harness_dir());
		assert_int_equal(system(cmd), 0);
	}
	hx_txn_start(&t, HX_OPTIONAL_SERVICE, HX_RHOST);
	hx_child_authenticates(&t);
	hx_import_env(&t);
	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_SUCCESS);
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_SUCCESS);
	FX_EXPECT(pam_close_session(t.pamh, 0), PAM_SUCCESS);
	hx_txn_end(&t);
	hx_txn_start(&t, HX_OPTIONAL_SERVICE, HX_RHOST);
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_SUCCESS); /* pam_agent ignores; pam_permit */
	FX_EXPECT(pam_close_session(t.pamh, 0), PAM_SUCCESS);
	hx_txn_end(&t);
}

/*
 * A PAM_RHOST of "" (as the account phase saw it) is written and read back
 * as "": the hand-off no longer refuses its own record as malformed.
 */
static void test_empty_rhost(void **state)
{
	struct hx_txn t;

	(void)state;
	hx_txn_start(&t, HX_SERVICE, "");
	hx_child_authenticates(&t);
	hx_import_env(&t);
	FX_EXPECT(pam_setcred(t.pamh, PAM_ESTABLISH_CRED), PAM_SUCCESS);
	fx_expect_log("identity handed over from the account phase of process");
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_SUCCESS);
	FX_EXPECT(pam_close_session(t.pamh, 0), PAM_SUCCESS);
	hx_txn_end(&t);
}

/*
 * The session line's options are refused (PAM_SERVICE_ERR before the
 * module looks at anything): the handle the account phase put into the
 * PAM environment is removed all the same, so it never reaches the
 * session (sudo and su copy the PAM environment into the command's).
 */
static void test_refused_options_drop_the_handle(void **state)
{
	struct hx_txn t;

	(void)state;
	hx_txn_start(&t, HX_BADARGS_SERVICE, NULL);
	FX_EXPECT(pam_authenticate(t.pamh, 0), PAM_SUCCESS);
	FX_EXPECT(pam_acct_mgmt(t.pamh, 0), PAM_SUCCESS);
	assert_true(hx_env_has_handoff(t.pamh));
	FX_EXPECT(pam_open_session(t.pamh, 0), PAM_SERVICE_ERR);
	fx_expect_log("unknown option");
	assert_false(hx_env_has_handoff(t.pamh));
	hx_txn_end(&t);
}

/*
 * A hand-off directory that cannot be trusted (a symbolic link): as root the
 * account phase refuses; as a user the account phase goes on without a
 * record (it could not write root's state directory in production either)
 */
static void test_record_not_written(void **state)
{
	struct hx_txn t;
	char dir[PATH_MAX], target[PATH_MAX];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/state", pa_harness_dir());
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(dir, sizeof(dir), "%s/state/handoff", pa_harness_dir());
	snprintf(target, sizeof(target), "%s", pa_harness_dir());
	assert_int_equal(symlink(target, dir), 0);
	hx_txn_start(&t, HX_SERVICE, NULL);
	FX_EXPECT(pam_authenticate(t.pamh, 0), PAM_SUCCESS);
	if (geteuid() == 0) {
		FX_EXPECT(pam_acct_mgmt(t.pamh, 0), PAM_PERM_DENIED);
		fx_expect_log("hand-off record not written");
		FX_EXPECT(pam_open_session(t.pamh, 0), PAM_PERM_DENIED);
	} else {
		printf("# not root: the account phase goes on without a record\n");
		FX_EXPECT(pam_acct_mgmt(t.pamh, 0), PAM_SUCCESS);
	}
	assert_false(hx_env_has_handoff(t.pamh));
	hx_txn_end(&t);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_same_process_no_litter, hx_reset),
		cmocka_unit_test_setup(test_record_not_written, hx_reset),
		cmocka_unit_test_setup(test_handle_removed_from_environment, hx_reset),
		cmocka_unit_test_setup(test_empty_rhost, hx_reset),
		cmocka_unit_test_setup(test_refused_options_drop_the_handle, hx_reset),
	};

	return FX_MAIN(argc, argv, hx_services, "handoff-edge", tests, hx_setup, fx_teardown);
}

#endif /* PA_NO_PAMTEST */
