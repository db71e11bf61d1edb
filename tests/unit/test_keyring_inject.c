/*
 * test_keyring_inject.c - the keyring engine (keyring/keyring.c) when
 * things fail: no window in which a half-made key is reachable, a
 * per-session keyring only in a session keyring of the process's own,
 * injected failures of each keyctl call (the half-made key is revoked),
 * and failures the kernel produces for real (EACCES, EDQUOT, EPERM/ENOSYS
 * from a seccomp filter).
 *
 * Failure injection: the program is linked with -Wl,--wrap= for add_key,
 * keyctl_get_keyring_ID, keyctl_join_session_keyring, keyctl_setperm,
 * keyctl_set_timeout and keyctl_link; the wrappers (tests/lib/tfx_inject.c)
 * call the real function unless a test armed a failure.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <keyutils.h>

#include "keyring.h"
#include "util.h"
#include "tfx.h"
#include "tfx_inject.h"
#include "tfx_keyring.h"

/* Keys and keyrings are never reachable before they have KR_PERM and a timeout. */
static void test_no_window(void **state)
{
	key_serial_t s = keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0), ring, k;
	char err[512] = "", want[96], sid[32];

	(void)state;
	snprintf(sid, sizeof(sid), "%s", tfx_sid());
	memset(&tfx_inj, 0, sizeof(tfx_inj));
	tfx_inj.watch = s;
	ring = kr_session_create(sid, 600, err, sizeof(err));
	assert_true(ring > 0);
	assert_false(tfx_inj.linked_early);
	snprintf(want, sizeof(want),
		 "keyring;%lu;%lu;%08x;" KR_PREFIX "%s expiry=", (unsigned long)geteuid(),
		 (unsigned long)getegid(), KR_PERM, sid);
	if (strncmp(tfx_inj.at_link, want, strlen(want)) != 0 ||
	    tfx_expiry_seconds(tfx_inj.at_link + strlen(want)) < 540)
		fail_msg("per-session keyring when linked: %s", tfx_inj.at_link);

	memset(&tfx_inj, 0, sizeof(tfx_inj));
	tfx_inj.watch = ring;
	k = tfx_key_add(ring, "windowless", "x", 45);
	assert_false(tfx_inj.linked_early);
	snprintf(want, sizeof(want),
		 "user;%lu;%lu;%08x;" KR_PREFIX "windowless expiry=", (unsigned long)geteuid(),
		 (unsigned long)getegid(), KR_PERM);
	if (strncmp(tfx_inj.at_link, want, strlen(want)) != 0 ||
	    tfx_expiry_seconds(tfx_inj.at_link + strlen(want)) < 40)
		fail_msg("key %d when linked: %s", k, tfx_inj.at_link);
	memset(&tfx_inj, 0, sizeof(tfx_inj));
	assert_int_equal(kr_session_revoke(ring, err, sizeof(err)), 0);
}

/* The session keyring must be the process's own before anything is placed. */
static int child_no_own_session(void *arg, char *msg, size_t msglen)
{
	char err[512] = "";

	(void)arg;
	tfx_inj.fake_session_once = 1;
	TFX_CHILD_CHECK(kr_session_create(tfx_sid(), 60, err, sizeof(err)) == -1,
			"per-session keyring placed in the user-session keyring");
	TFX_CHILD_CHECK(strstr(err, "user-session keyring") != NULL, "message: %s", err);
	return 0;
}

static void test_create_needs_own_session(void **state)
{
	(void)state;
	tfx_in_child(child_no_own_session, NULL);
}

/* ---- failures -------------------------------------------------------------------- */

static void expect_quota_message(const char *err, uid_t uid)
{
	const char *root = uid == 0 ? "root_" : "";
	char want[96];

	if (strstr(err, "EDQUOT") == NULL)
		fail_msg("no EDQUOT in: %s", err);
	snprintf(want, sizeof(want), "kernel.keys.%smaxkeys (now %ld)", root,
		 tfx_keys_sysctl(uid == 0 ? "root_maxkeys" : "maxkeys"));
	if (strstr(err, want) == NULL)
		fail_msg("no \"%s\" in: %s", want, err);
	snprintf(want, sizeof(want), "kernel.keys.%smaxbytes (now %ld)", root,
		 tfx_keys_sysctl(uid == 0 ? "root_maxbytes" : "maxbytes"));
	if (strstr(err, want) == NULL)
		fail_msg("no \"%s\" in: %s", want, err);
	if (strstr(err, "/proc/key-users") == NULL)
		fail_msg("no /proc/key-users in: %s", err);
}

static void test_inject_add_key(void **state)
{
	struct kr_entry e[2];
	key_serial_t ring;
	char err[1024] = "";

	(void)state;
	ring = tfx_ring(60);

	tfx_inj.add_key_type = "user";
	tfx_inj.add_key_errno = EDQUOT;
	assert_int_equal(kr_key_add(ring, "q", "x", 1, 60, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot add user pam_agent:q"));
	expect_quota_message(err, geteuid());

	tfx_inj.add_key_errno = ENOSYS;
	assert_int_equal(kr_key_add(ring, "q", "x", 1, 60, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "kernel keyrings are not available (ENOSYS): kernel built "
				    "without CONFIG_KEYS?"));

	tfx_inj.add_key_errno = EACCES;
	assert_int_equal(kr_key_add(ring, "q", "x", 1, 60, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "permission denied (EACCES)"));

	/* the staging keyring failing is reported the same way */
	tfx_inj.add_key_type = "keyring";
	tfx_inj.add_key_errno = EDQUOT;
	assert_int_equal(kr_key_add(ring, "q", "x", 1, 60, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "staging keyring"));
	expect_quota_message(err, geteuid());
	assert_int_equal(kr_session_create(tfx_sid(), 60, err, sizeof(err)), -1);
	expect_quota_message(err, geteuid());
	tfx_inj.add_key_errno = 0;
	tfx_inj.add_key_type = NULL;

	assert_int_equal(kr_list(ring, e, PA_ARRAY_SIZE(e), err, sizeof(err)), 0);
	assert_int_equal(kr_session_revoke(ring, err, sizeof(err)), 0);
}

/* A key whose permissions, timeout or link fail is revoked, never left. */
static void test_inject_half_made_key_revoked(void **state)
{
	int *const knobs[] = {&tfx_inj.setperm_errno, &tfx_inj.set_timeout_errno,
	&tfx_inj.link_errno};
	static const char *const what[] = {"cannot set permissions 0b3f0000",
					   "cannot set a timeout of 60 s", "cannot link"};
	struct kr_entry e[2];
	key_serial_t ring;
	char err[1024] = "";
	size_t i;

	(void)state;
	ring = tfx_ring(60);
	tfx_inj.witness = tfx_witness;
	for (i = 0; i < PA_ARRAY_SIZE(knobs); i++) {
		tfx_inj.victim = 0;
		*knobs[i] = EACCES; /* read by the injected keyctl wrappers */
		assert_int_equal(kr_key_add(ring, "half", "secret", 6, 60, err, sizeof(err)), -1);
		/* cppcheck-suppress redundantAssignment ; the wrappers read it */
		*knobs[i] = 0;
		if (strstr(err, what[i]) == NULL || strstr(err, "EACCES") == NULL)
			fail_msg("step %zu: %s", i, err);
		assert_true(tfx_inj.victim > 0);
		if (tfx_read_errno(tfx_inj.victim) != EKEYREVOKED)
			fail_msg("step %zu: key %d left %s", i, tfx_inj.victim,
				 strerror(tfx_read_errno(tfx_inj.victim)));
		assert_int_equal(kr_list(ring, e, PA_ARRAY_SIZE(e), err, sizeof(err)), 0);
	}
	/* the same for a per-session keyring */
	tfx_inj.victim = 0;
	tfx_inj.set_timeout_errno = EDQUOT;
	assert_int_equal(kr_session_create(tfx_sid(), 60, err, sizeof(err)), -1);
	tfx_inj.set_timeout_errno = 0;
	assert_true(tfx_inj.victim > 0);
	assert_int_equal(tfx_read_errno(tfx_inj.victim), EKEYREVOKED);
	assert_false(tfx_links(KEY_SPEC_SESSION_KEYRING, tfx_inj.victim));
	tfx_inj.witness = 0;
	assert_int_equal(kr_session_revoke(ring, err, sizeof(err)), 0);
}

/* Real EACCES: a keyring the caller may not write to. */
static void test_real_eacces(void **state)
{
	key_serial_t ring;
	char err[1024] = "";

	(void)state;
	ring = tfx_ring(60);
	/* possessor and owner may view, read, search: no write, no setattr */
	assert_int_equal(keyctl_setperm(ring, 0x0b0b0000), 0);
	assert_int_equal(kr_key_add(ring, "denied", "x", 1, 60, err, sizeof(err)), -1);
	if (strstr(err, "cannot link") == NULL || strstr(err, "permission denied (EACCES)") == NULL)
		fail_msg("%s", err);
	assert_int_equal(kr_revoke(ring, err, sizeof(err)), -1);
	if (strstr(err, "cannot revoke key") == NULL || strstr(err, "EACCES") == NULL)
		fail_msg("%s", err);
	assert_int_equal(kr_session_revoke(ring, err, sizeof(err)), -1);
	if (strstr(err, "could not revoke keyring") == NULL)
		fail_msg("%s", err);
	/* out of the session keyring it goes (we may write that one) */
	assert_int_equal(keyctl_unlink(ring, KEY_SPEC_SESSION_KEYRING), 0);
}

/* Real EDQUOT: one key larger than the byte quota of an unprivileged uid. */
static int child_real_edquot(void *arg, char *msg, size_t msglen)
{
	static char big[32767];
	key_serial_t ring;
	char err[1024] = "";

	(void)arg;
	if (geteuid() == 0 && tfx_become_nobody(msg, msglen) != 0)
		return 1;
	TFX_CHILD_CHECK(keyctl_join_session_keyring(NULL) > 0, "join: %s", strerror(errno));
	ring = kr_session_create(tfx_sid(), 60, err, sizeof(err));
	TFX_CHILD_CHECK(ring > 0, "kr_session_create: %s", err);
	memset(big, 'q', sizeof(big));
	TFX_CHILD_CHECK(kr_key_add(ring, "big", big, sizeof(big), 60, err, sizeof(err)) == -1,
			"a %zu-byte key fit in the quota", sizeof(big));
	TFX_CHILD_CHECK(strstr(err, "EDQUOT") != NULL && strstr(err,
								"kernel.keys.maxbytes") != NULL,
			"message: %s", err);
	TFX_CHILD_CHECK(strstr(err, "root_") == NULL, "message names root's quota: %s", err);
	return 0;
}

static void test_real_edquot(void **state)
{
	long maxbytes = tfx_keys_sysctl("maxbytes");

	(void)state;
	if (geteuid() != 0 && getuid() == 0) {
		print_message("      (needs real and effective uid to agree)\n");
		skip();
	}
	if (maxbytes < 0 || maxbytes > 32000) {
		print_message("      (kernel.keys.maxbytes = %ld: one user key cannot exceed it)\n",
			      maxbytes);
		skip();
	}
	tfx_in_child(child_real_edquot, NULL);
}

/* Real EPERM / ENOSYS from a seccomp filter, as in a container. */
static int child_seccomp(void *arg, char *msg, size_t msglen)
{
	int e = *(int *)arg;
	char err[1024] = "";

	TFX_CHILD_CHECK(tfx_block_keyrings(e) == 0, "seccomp: %s", strerror(errno));
	TFX_CHILD_CHECK(kr_session_keyring_ensure(getuid(), getgid(), err, sizeof(err)) == -1,
			"ensure worked under the filter");
	if (e == EPERM) {
		TFX_CHILD_CHECK(strstr(err, "operation not permitted (EPERM)") != NULL &&
				    strstr(err, "seccomp filter") != NULL &&
				    strstr(err, "container runtime") != NULL,
				"EPERM message: %s", err);
	} else {
		TFX_CHILD_CHECK(strstr(err, "kernel keyrings are not available (ENOSYS)") != NULL &&
				    strstr(err, "seccomp filter") != NULL,
				"ENOSYS message: %s", err);
	}
	TFX_CHILD_CHECK(kr_session_create(tfx_sid(), 60, err, sizeof(err)) == -1, "create worked");
	TFX_CHILD_CHECK(strstr(err, e == EPERM ? "(EPERM)" : "(ENOSYS)") != NULL, "create: %s",
			err);
	TFX_CHILD_CHECK(kr_key_add(tfx_witness, "x", "x", 1, 60, err, sizeof(err)) == -1,
			"add worked");
	TFX_CHILD_CHECK(strstr(err, e == EPERM ? "(EPERM)" : "(ENOSYS)") != NULL, "add: %s", err);
	return 0;
}

static void test_real_seccomp(void **state)
{
	int e;

	(void)state;
	e = EPERM;
	tfx_in_child(child_seccomp, &e);
	e = ENOSYS;
	tfx_in_child(child_seccomp, &e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_window),
	    cmocka_unit_test(test_create_needs_own_session),
	    cmocka_unit_test(test_inject_add_key),
	    cmocka_unit_test(test_inject_half_made_key_revoked),
	    cmocka_unit_test(test_real_eacces),
	    cmocka_unit_test(test_real_edquot),
	    cmocka_unit_test(test_real_seccomp),
	};

	return cmocka_run_group_tests(tests, tfx_keyring_setup, tfx_keyring_teardown);
}
