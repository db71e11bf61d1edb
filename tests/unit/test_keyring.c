/*
 * test_keyring.c - the keyring engine (keyring/keyring.c) against the real
 * kernel keyring: kr_session_keyring_ensure, for the caller's own uid and
 * for another, with and without a session keyring of its own, and its
 * errors. The program runs in an anonymous session keyring of its own
 * (tests/run-test.sh); tests that change the session keyring or the ids
 * of the process do it in a forked child. Keys and keyrings made and
 * revoked are in test_keyring_ops.c, failures in test_keyring_inject.c.
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

static int real_branch = -1; /* -1: not runnable, 0: passed, 1: failed */
static char real_branch_msg[1024];

/* ---- kr_session_keyring_ensure ----------------------------------------------- */

/* Checks that ensure joined a new keyring owned by uid:gid with @u linked. */
static int check_joined(key_serial_t before, key_serial_t got, uid_t uid, gid_t gid, char *msg,
			size_t msglen)
{
	struct tfx_desc d;
	key_serial_t u;

	TFX_CHILD_CHECK(got > 0 && got != before, "ensure returned %d (session keyring was %d)",
			got,
			before);
	TFX_CHILD_CHECK(keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0) == got,
			"the new keyring %d is not the session keyring", got);
	TFX_CHILD_CHECK(tfx_describe(got, &d) == 0, "describe %d: %s", got, strerror(errno));
	TFX_CHILD_CHECK(strcmp(d.type, "keyring") == 0 && strcmp(d.text, "_ses") == 0,
			"new session keyring is %s %s", d.type, d.text);
	TFX_CHILD_CHECK(d.uid == (long)uid && d.gid == (long)gid,
			"new session keyring owned by %ld:%ld, expected %lu:%lu", d.uid, d.gid,
			(unsigned long)uid, (unsigned long)gid);
	/* the user keyring of uid is NOT linked in (a planted key there
	 * would be found next to the session's own) */
	{
		void *buf = NULL;
		long len = keyctl_read_alloc(got, &buf);
		key_serial_t *ids = buf;
		char want[32];
		int found = 0;
		long i;

		snprintf(want, sizeof(want), "_uid.%lu", (unsigned long)uid);
		TFX_CHILD_CHECK(len >= 0, "read %d: %s", got, strerror(errno));
		for (i = 0; i < len / (long)sizeof(key_serial_t); i++) {
			u = ids[i];
			if (tfx_describe(u, &d) == 0 && strcmp(d.text, want) == 0)
				found = 1;
		}
		free(buf);
		TFX_CHILD_CHECK(!found, "%s is linked in the new session keyring", want);
	}
	return 0;
}

static int check_ids(uid_t r, uid_t e, uid_t s, gid_t rg, gid_t eg, gid_t sg, char *msg,
		     size_t msglen)
{
	uid_t ru, eu, su;
	gid_t rgg, egg, sgg;

	TFX_CHILD_CHECK(getresuid(&ru, &eu, &su) == 0 && getresgid(&rgg, &egg, &sgg) == 0,
			"getres*id");
	TFX_CHILD_CHECK(ru == r && eu == e && su == s, "uids are %lu/%lu/%lu, expected %lu/%lu/%lu",
			(unsigned long)ru, (unsigned long)eu, (unsigned long)su, (unsigned long)r,
			(unsigned long)e, (unsigned long)s);
	TFX_CHILD_CHECK(rgg == rg && egg == eg && sgg == sg,
			"gids are %lu/%lu/%lu, expected %lu/%lu/%lu", (unsigned long)rgg,
			(unsigned long)egg, (unsigned long)sgg, (unsigned long)rg,
			(unsigned long)eg,
			(unsigned long)sg);
	return 0;
}

static void test_ensure_own_keyring(void **state)
{
	key_serial_t s = keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0);
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	char err[512] = "", msg[256];

	(void)state;
	assert_int_equal(getresuid(&ru, &eu, &su), 0);
	assert_int_equal(getresgid(&rg, &eg, &sg), 0);
	/* the run's own session keyring, owned by us: returned unchanged */
	assert_int_equal(kr_session_keyring_ensure(getuid(), getgid(), err, sizeof(err)), s);
	assert_int_equal(keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0), s);
	if (check_ids(ru, eu, su, rg, eg, sg, msg, sizeof(msg)) != 0)
		fail_msg("%s", msg);
	/* and again: idempotent */
	assert_int_equal(kr_session_keyring_ensure(getuid(), getgid(), err, sizeof(err)), s);
}

static int child_user_session_simulated(void *arg, char *msg, size_t msglen)
{
	key_serial_t before = keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0), got;
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	char err[512] = "";

	(void)arg;
	getresuid(&ru, &eu, &su);
	getresgid(&rg, &eg, &sg);
	tfx_inj.fake_session_once = 1;
	got = kr_session_keyring_ensure(getuid(), getgid(), err, sizeof(err));
	TFX_CHILD_CHECK(got > 0, "ensure: %s", err);
	TFX_CHILD_CHECK(tfx_inj.fake_session_once == 0,
			"ensure never looked at the session keyring");
	if (check_joined(before, got, getuid(), getgid(), msg, msglen) != 0)
		return 1;
	return check_ids(ru, eu, su, rg, eg, sg, msg, msglen);
}

/*
 * The branch where the process has no session keyring of its own. From a
 * process that already has one, no system call gives the user-session
 * keyring back as the session keyring (joining "_uid_ses.<uid>" by name
 * makes a new keyring of that name since Linux 4.14), so the kernel's
 * answer in that state -- the session-keyring query returns the serial of
 * the user-session keyring -- is simulated once through the wrapper.
 * Everything after it (id switch, join, link, restore) is real.
 * test_ensure_user_session_real covers the unsimulated state when the
 * program starts without a session keyring of its own.
 */
static void test_ensure_user_session_simulated(void **state)
{
	(void)state;
	tfx_in_child(child_user_session_simulated, NULL);
}

static void test_ensure_user_session_real(void **state)
{
	(void)state;
	if (real_branch < 0) {
		print_message(
		    "      (this run started in its own session keyring: "
		    "the unsimulated user-session branch needs a start without one, "
		    "e.g. the test binary run directly from a shell without pam_keyinit)\n");
		skip();
	}
	if (real_branch != 0)
		fail_msg("%s", real_branch_msg);
}

/* Run from group setup, before the program joins its own session keyring. */
static int child_user_session_real(void *arg, char *msg, size_t msglen)
{
	key_serial_t before = keyctl_get_keyring_ID(KEY_SPEC_USER_SESSION_KEYRING, 0), got;
	char err[512] = "";

	(void)arg;
	got = kr_session_keyring_ensure(getuid(), getgid(), err, sizeof(err));
	TFX_CHILD_CHECK(got > 0, "ensure: %s", err);
	return check_joined(before, got, getuid(), getgid(), msg, msglen);
}

static int child_other_user(void *arg, char *msg, size_t msglen)
{
	key_serial_t before = keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0), got, ring;
	char err[512] = "";
	struct tfx_desc d;

	(void)arg;
	/* root's session keyring is not nobody's: ensure makes nobody one */
	got = kr_session_keyring_ensure(TFX_NOBODY, TFX_NOBODY, err, sizeof(err));
	TFX_CHILD_CHECK(got > 0, "ensure: %s", err);
	if (check_joined(before, got, TFX_NOBODY, TFX_NOBODY, msg, msglen) != 0)
		return 1;
	if (check_ids(0, 0, 0, 0, 0, 0, msg, msglen) != 0)
		return 1;
	/* a second call keeps it */
	TFX_CHILD_CHECK(kr_session_keyring_ensure(TFX_NOBODY, TFX_NOBODY, err, sizeof(err)) == got,
			"second ensure: %s", err);
	/* the per-session keyring made by root in it is root's */
	ring = kr_session_create(tfx_sid(), 60, err, sizeof(err));
	TFX_CHILD_CHECK(ring > 0, "kr_session_create: %s", err);
	TFX_CHILD_CHECK(tfx_describe(ring,
				     &d) == 0 && d.uid == 0 && d.gid == 0 && d.perm == KR_PERM,
			"per-session keyring is %ld:%ld %08lx", d.uid, d.gid, d.perm);
	return 0;
}

static int child_other_user_refused(void *arg, char *msg, size_t msglen)
{
	key_serial_t before = keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0);
	uid_t other = getuid() == TFX_NOBODY ? TFX_NOBODY - 1 : TFX_NOBODY;
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	char err[512] = "";

	(void)arg;
	getresuid(&ru, &eu, &su);
	getresgid(&rg, &eg, &sg);
	TFX_CHILD_CHECK(kr_session_keyring_ensure(other, getgid(), err, sizeof(err)) == -1,
			"a non-root process made a session keyring for uid %lu",
			(unsigned long)other);
	TFX_CHILD_CHECK(strstr(err, "cannot switch the real uid") != NULL, "message: %s", err);
	TFX_CHILD_CHECK(keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0) == before,
			"session keyring changed");
	return check_ids(ru, eu, su, rg, eg, sg, msg, msglen);
}

static void test_ensure_other_user(void **state)
{
	(void)state;
	if (geteuid() == 0)
		tfx_in_child(child_other_user, NULL);
	else
		tfx_in_child(child_other_user_refused, NULL);
}

/*
 * kr_session_keyring_new: a new session keyring owned by root with
 * KR_SESSION_PERM, whatever the caller's real ids (a setuid-root caller
 * such as su has the user's), inheriting nothing from the caller's
 * keyring; a process of the user inside it reads its keys but can neither
 * link the keyring into its user keyring nor change its permissions.
 */
static int child_new_keyring(void *arg, char *msg, size_t msglen)
{
	uid_t real = *(uid_t *)arg;
	key_serial_t before, planted, got, again, ring, k, found;
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	struct tfx_desc d;
	char err[512] = "", sid[32], buf[16];
	long n;
	int status;
	pid_t pid;

	/* a key of the caller's session keyring, as a root login's would be */
	planted = add_key("user", KR_PREFIX "planted", "caller-secret", 13, KEY_SPEC_SESSION_KEYRING);
	TFX_CHILD_CHECK(planted > 0, "add_key planted: %s", strerror(errno));
	if (real != 0)
		TFX_CHILD_CHECK(setresuid(real, (uid_t)-1, (uid_t)-1) == 0 &&
				    setresgid(real, (gid_t)-1, (gid_t)-1) == 0,
				"setres*id: %s", strerror(errno));
	before = keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0);
	getresuid(&ru, &eu, &su);
	getresgid(&rg, &eg, &sg);
	got = kr_session_keyring_new(err, sizeof(err));
	TFX_CHILD_CHECK(got > 0 && got != before, "kr_session_keyring_new: %d %s", got, err);
	TFX_CHILD_CHECK(keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0) == got,
			"the new keyring %d is not the session keyring", got);
	if (check_ids(ru, eu, su, rg, eg, sg, msg, msglen) != 0)
		return 1;
	TFX_CHILD_CHECK(tfx_describe(got, &d) == 0, "describe %d: %s", got, strerror(errno));
	TFX_CHILD_CHECK(strcmp(d.type, "keyring") == 0 && d.uid == 0 && d.gid == 0 &&
			    d.perm == KR_SESSION_PERM,
			"new session keyring is %s;%ld;%ld;%08lx, expected keyring;0;0;%08x",
			d.type,
			d.uid, d.gid, d.perm, KR_SESSION_PERM);
	found = (key_serial_t)keyctl_search(KEY_SPEC_SESSION_KEYRING, "user", KR_PREFIX "planted", 0);
	TFX_CHILD_CHECK(found < 0 && errno == ENOKEY,
			"the caller's key %d is reachable from the new session keyring (search: "
			"%d)",
			planted, found);
	again = kr_session_keyring_new(err, sizeof(err));
	TFX_CHILD_CHECK(again > 0 && again != got, "second kr_session_keyring_new: %d %s", again,
			err);
	if (check_ids(ru, eu, su, rg, eg, sg, msg, msglen) != 0)
		return 1;

	/* a key placed as the module does, then a process of nobody inside */
	snprintf(sid, sizeof(sid), "%s", tfx_sid());
	ring = kr_session_create(sid, 600, err, sizeof(err));
	TFX_CHILD_CHECK(ring > 0, "kr_session_create: %s", err);
	k = kr_key_add(ring, "inside", "in", 2, 60, err, sizeof(err));
	TFX_CHILD_CHECK(k > 0, "kr_key_add: %s", err);
	fflush(NULL);
	pid = fork();
	TFX_CHILD_CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		key_serial_t id;

		if (setgroups(0, NULL) != 0 || setresgid(TFX_NOBODY, TFX_NOBODY, TFX_NOBODY) != 0 ||
		    setresuid(TFX_NOBODY, TFX_NOBODY, TFX_NOBODY) != 0)
			_exit(10);
		id = (key_serial_t)keyctl_search(KEY_SPEC_SESSION_KEYRING, "user",
						 KR_PREFIX "inside", 0);
		if (id != k || keyctl_read(id, buf, sizeof(buf)) != 2)
			_exit(11); /* the agent reads its key */
		if (keyctl_link(KEY_SPEC_SESSION_KEYRING, KEY_SPEC_USER_KEYRING) == 0 ||
		    errno != EACCES)
			_exit(12); /* keyctl link @s @u */
		if (keyctl_setperm(KEY_SPEC_SESSION_KEYRING, 0x3f3f3f3f) == 0)
			_exit(13);
		if (keyctl_chown(KEY_SPEC_SESSION_KEYRING, TFX_NOBODY, (gid_t)-1) == 0)
			_exit(14);
		_exit(0);
	}
	TFX_CHILD_CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	n = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	TFX_CHILD_CHECK(n == 0, "as nobody inside the session: step %ld failed (11: read its key, "
			"12: link @s @u refused, 13: setperm refused, 14: chown refused)", n);
	TFX_CHILD_CHECK(kr_session_revoke(ring, err, sizeof(err)) == 0, "revoke: %s", err);
	(void)keyctl_revoke(planted);
	return 0;
}

/* Without root: a new keyring owned by the effective ids, same permissions. */
static int child_new_keyring_user(void *arg, char *msg, size_t msglen)
{
	key_serial_t before = keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0), got;
	char err[512] = "";
	struct tfx_desc d;

	(void)arg;
	got = kr_session_keyring_new(err, sizeof(err));
	TFX_CHILD_CHECK(got > 0 && got != before, "kr_session_keyring_new: %d %s", got, err);
	TFX_CHILD_CHECK(tfx_describe(got, &d) == 0 && d.uid == (long)geteuid() &&
			    d.gid == (long)getegid() && d.perm == KR_SESSION_PERM,
			"new session keyring is %ld:%ld %08lx", d.uid, d.gid, d.perm);
	TFX_CHILD_CHECK(keyctl_link(KEY_SPEC_SESSION_KEYRING, KEY_SPEC_USER_KEYRING) < 0 &&
			    errno == EACCES,
			"link @s @u: %s", strerror(errno));
	return 0;
}

static void test_new_keyring(void **state)
{
	uid_t real = 0;

	(void)state;
	if (geteuid() != 0) {
		tfx_in_child(child_new_keyring_user, NULL);
		return;
	}
	tfx_in_child(child_new_keyring, &real);
	/* a setuid-root caller: the user's real ids, effective root */
	real = TFX_NOBODY;
	tfx_in_child(child_new_keyring, &real);
}

static int child_ensure_errors(void *arg, char *msg, size_t msglen)
{
	uid_t target = *(uid_t *)arg;
	const char *root = target == 0 ? "root_" : "";
	char err[1024] = "", want[64];
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	getresuid(&ru, &eu, &su);
	getresgid(&rg, &eg, &sg);

	tfx_inj.get_id_errno = ENOSYS;
	TFX_CHILD_CHECK(kr_session_keyring_ensure(target, target, err, sizeof(err)) == -1,
			"ENOSYS");
	tfx_inj.get_id_errno = 0;
	TFX_CHILD_CHECK(strstr(err,
			       "kernel keyrings are not available (ENOSYS): kernel built without "
				    "CONFIG_KEYS?") != NULL,
			"ENOSYS message: %s", err);

	tfx_inj.fake_session_once = 1;
	tfx_inj.join_errno = EDQUOT;
	TFX_CHILD_CHECK(kr_session_keyring_ensure(target, target, err, sizeof(err)) == -1,
			"EDQUOT");
	TFX_CHILD_CHECK(strstr(err, "EDQUOT") != NULL, "EDQUOT message: %s", err);
	snprintf(want, sizeof(want), "kernel.keys.%smaxkeys (now %ld)", root,
		 tfx_keys_sysctl(target == 0 ? "root_maxkeys" : "maxkeys"));
	TFX_CHILD_CHECK(strstr(err, want) != NULL, "EDQUOT message lacks \"%s\": %s", want, err);
	snprintf(want, sizeof(want), "kernel.keys.%smaxbytes (now %ld)", root,
		 tfx_keys_sysctl(target == 0 ? "root_maxbytes" : "maxbytes"));
	TFX_CHILD_CHECK(strstr(err, want) != NULL, "EDQUOT message lacks \"%s\": %s", want, err);
	snprintf(want, sizeof(want), "key quota of uid %lu exceeded", (unsigned long)target);
	TFX_CHILD_CHECK(strstr(err, want) != NULL, "EDQUOT message lacks \"%s\": %s", want, err);
	if (check_ids(ru, eu, su, rg, eg, sg, msg, msglen) != 0)
		return 1;

	/* EPERM without a seccomp filter is not blamed on one */
	tfx_inj.fake_session_once = 1;
	tfx_inj.join_errno = EPERM;
	TFX_CHILD_CHECK(kr_session_keyring_ensure(target, target, err, sizeof(err)) == -1, "EPERM");
	TFX_CHILD_CHECK(strstr(err, "operation not permitted (EPERM)") != NULL &&
			    strstr(err, "seccomp") == NULL,
			"EPERM message: %s", err);
	tfx_inj.join_errno = 0;
	return check_ids(ru, eu, su, rg, eg, sg, msg, msglen);
}

static void test_ensure_errors(void **state)
{
	uid_t target = getuid();

	(void)state;
	tfx_in_child(child_ensure_errors, &target);
	if (geteuid() == 0) {
		/* the quota named is the target's, not root's */
		target = TFX_NOBODY;
		tfx_in_child(child_ensure_errors, &target);
	}
}

/* ---- setup --------------------------------------------------------------------- */

static int group_setup(void **state)
{
	char err[512] = "";
	key_serial_t s, us;

	(void)state;
	s = keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0);
	us = keyctl_get_keyring_ID(KEY_SPEC_USER_SESSION_KEYRING, 0);
	if (s < 0 || us < 0) {
		fprintf(stderr, "kernel keyrings unavailable: %s\n", strerror(errno));
		return -1;
	}
	if (s == us) {
		/* started without a session keyring of its own: the real
		 * user-session branch can be tested, then join one */
		int status = tfx_child_run(child_user_session_real, NULL, real_branch_msg,
					   sizeof(real_branch_msg));

		if (status < 0)
			return -1;
		real_branch = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
		if (kr_session_keyring_ensure(getuid(), getgid(), err, sizeof(err)) < 0) {
			fprintf(stderr, "ensure: %s\n", err);
			return -1;
		}
	}
	return tfx_keyring_setup(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ensure_own_keyring),
	    cmocka_unit_test(test_ensure_user_session_simulated),
	    cmocka_unit_test(test_ensure_user_session_real),
	    cmocka_unit_test(test_ensure_other_user),
	    cmocka_unit_test(test_ensure_errors),
	    cmocka_unit_test(test_new_keyring),
	};

	return cmocka_run_group_tests(tests, group_setup, tfx_keyring_teardown);
}
