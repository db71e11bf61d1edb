/*
 * test_agentcred.c - libagentcred (agentcred/agent_cred.c, linked as the
 * built shared library) reading keys that the keyring engine placed in the
 * real kernel keyring, and the scoping of those keys between processes.
 *
 * The program runs in an anonymous session keyring of its own
 * (tests/run-test.sh); processes that change ids or session keyring are
 * forked children.
 *
 * About scoping as non-root: the keys are then owned by the test's own
 * uid, and KR_PERM gives the owner every permission, so a process of the
 * same uid outside the session cannot *find* the key (agent_cred_get says
 * ENOTFOUND) but can still read it by serial. That is exactly why the
 * module places root-owned keys. The real property -- a process of the
 * agent's uid outside the session gets EACCES even by serial, and the agent
 * inside the session can read but not modify -- needs a root-owned key and
 * an unprivileged uid: it is tested below when the program runs as root
 * (children switch to uid 65534), and end to end by the root-only layer.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cmocka.h>
#include <keyutils.h>

#include "agent_cred.h"
#include "keyring.h"
#include "util.h"
#include "tfx.h"
#include "tfx_keyring.h"

/* ---- reading --------------------------------------------------------------------- */

/*
 * libagentcred takes only root-owned keys (what the module and helper
 * place in production): a test reading one must place it as root.
 */
#define NEED_ROOT()                                                                                \
	do {                                                                                       \
		if (geteuid() != 0) {                                                              \
			print_message("      SKIP: needs root (libagentcred reads only "          \
				      "root-owned keys)\n");                                      \
			skip();                                                                    \
		}                                                                                  \
	} while (0)

static void test_get_round_trip(void **state)
{
	static const unsigned char binary[] = {'a', 0, 'b', 0xff, 0, '\n'};
	key_serial_t ring;
	char *secret = NULL;
	size_t len = 99;

	(void)state;
	NEED_ROOT();
	ring = tfx_ring(600);
	tfx_key_place(ring, "tickets-ro", "tok-123", 7, 60);
	tfx_key_place(ring, "bin.ary_1", binary, sizeof(binary), 60);

	assert_int_equal(agent_cred_get("tickets-ro", &secret, &len), 0);
	assert_int_equal(len, 7);
	assert_memory_equal(secret, "tok-123", 8); /* with its NUL */
	agent_cred_free(secret, len);

	assert_int_equal(agent_cred_get("bin.ary_1", &secret, &len), 0);
	assert_int_equal(len, sizeof(binary));
	assert_memory_equal(secret, binary, sizeof(binary));
	assert_int_equal(secret[len], '\0');
	agent_cred_free(secret, len);
	tfx_ring_revoke(ring);
}

static void test_not_found_and_invalid(void **state)
{
	static const char *const bad[] = {
	    "",	   "a b",
	    "a;b", "pam_agent:x",
	    "x\n", "0123456789012345678901234567890123456789012345678901234567890123x"};
	char *secret = (char *)"sentinel";
	size_t len = 5, i;
	key_serial_t ring;

	(void)state;
	/* a live session keyring without that grant */
	ring = tfx_ring(600);
	assert_int_equal(agent_cred_get("no-such-grant", &secret, &len), AGENT_CRED_ENOTFOUND);
	assert_null(secret);
	assert_int_equal(len, 0);
	tfx_ring_revoke(ring);
	for (i = 0; i < PA_ARRAY_SIZE(bad); i++)
		if (agent_cred_get(bad[i], &secret, &len) != AGENT_CRED_EINVAL)
			fail_msg("name \"%s\" not refused", bad[i]);
	assert_int_equal(agent_cred_get(NULL, &secret, &len), AGENT_CRED_EINVAL);
	assert_int_equal(agent_cred_get("x", NULL, &len), AGENT_CRED_EINVAL);
	assert_int_equal(agent_cred_get("x", &secret, NULL), AGENT_CRED_EINVAL);
	agent_cred_free(NULL, 0);
	agent_cred_free(NULL, 10);
}

static void test_revoked(void **state)
{
	char *secret = NULL, err[512] = "";
	key_serial_t ring, k;
	size_t len = 0;

	(void)state;
	NEED_ROOT();
	ring = tfx_ring(600);
	k = tfx_key_place(ring, "gone-soon", "x", 1, 60);
	assert_int_equal(agent_cred_get("gone-soon", &secret, &len), 0);
	agent_cred_free(secret, len);
	/* the key is revoked, the ring still links it: EREVOKED */
	assert_int_equal(kr_revoke(k, err, sizeof(err)), 0);
	assert_int_equal(agent_cred_get("gone-soon", &secret, &len), AGENT_CRED_EREVOKED);
	assert_null(secret);
	/*
	 * Once the ring itself is revoked (the session closed) the kernel
	 * empties it: still EREVOKED, not "no such credential", while the
	 * revoked ring is linked in the session keyring.
	 */
	tfx_key_place(ring, "other", "y", 1, 60);
	tfx_ring_revoke(ring);
	assert_int_equal(agent_cred_get("other", &secret, &len), AGENT_CRED_EREVOKED);
	assert_int_equal(agent_cred_get("gone-soon", &secret, &len), AGENT_CRED_EREVOKED);
	assert_null(secret);
	/* a new live session keyring without the name: not found */
	ring = tfx_ring(600);
	assert_int_equal(agent_cred_get("other", &secret, &len), AGENT_CRED_ENOTFOUND);
	tfx_ring_revoke(ring);
}

/*
 * Only root-owned keys in root-owned per-session keyrings count: a key of
 * that name that any process of the session planted (it may write its
 * session keyring) or that is not root's is never returned.
 */
static void test_only_root_owned(void **state)
{
	char *secret = NULL;
	key_serial_t ring, planted, other, k;
	size_t len = 0;

	(void)state;
	if (geteuid() != 0 || getuid() != 0) {
		print_message("      SKIP: needs root (root-owned keys and uid %d)\n", TFX_NOBODY);
		skip();
	}
	/* planted directly in the session keyring */
	planted = add_key("user", KR_PREFIX "forged", "planted", 7, KEY_SPEC_SESSION_KEYRING);
	assert_true(planted > 0);
	ring = tfx_ring(600);
	assert_int_equal(agent_cred_get("forged", &secret, &len), AGENT_CRED_ENOTFOUND);
	assert_null(secret);
	/* in a per-session keyring that is not root's */
	other = add_key("keyring", KR_PREFIX "00ff00ff", NULL, 0, KEY_SPEC_SESSION_KEYRING);
	assert_true(other > 0);
	assert_true(add_key("user", KR_PREFIX "forged2", "planted", 7, other) > 0);
	assert_int_equal(keyctl_chown(other, TFX_NOBODY, (gid_t)-1), 0);
	assert_int_equal(agent_cred_get("forged2", &secret, &len), AGENT_CRED_ENOTFOUND);
	assert_null(secret);
	/* in root's per-session keyring, but owned by another user */
	k = tfx_key_place(ring, "not-roots", "x", 1, 60);
	assert_int_equal(keyctl_chown(k, TFX_NOBODY, (gid_t)-1), 0);
	assert_int_equal(agent_cred_get("not-roots", &secret, &len), AGENT_CRED_EACCES);
	assert_null(secret);
	/* the real one next to them still reads */
	tfx_key_place(ring, "real", "ok", 2, 60);
	assert_int_equal(agent_cred_get("real", &secret, &len), 0);
	assert_memory_equal(secret, "ok", 3);
	agent_cred_free(secret, len);
	assert_int_equal(keyctl_revoke(planted), 0);
	(void)keyctl_unlink(other, KEY_SPEC_SESSION_KEYRING);
	/* no longer root's to revoke: unlinked, it expires in 60 s */
	assert_int_equal(keyctl_unlink(k, ring), 0);
	tfx_ring_revoke(ring);
}

static void test_expired(void **state)
{
	char *secret = NULL;
	key_serial_t ring;
	size_t len = 0;

	(void)state;
	NEED_ROOT();
	ring = tfx_ring(600);
	tfx_key_place(ring, "short", "x", 1, 1);
	assert_int_equal(agent_cred_get("short", &secret, &len), 0);
	agent_cred_free(secret, len);
	sleep(2);
	assert_int_equal(agent_cred_get("short", &secret, &len), AGENT_CRED_EEXPIRED);
	tfx_ring_revoke(ring);
}

static void test_not_readable(void **state)
{
	char *secret = NULL;
	key_serial_t ring, k;
	size_t len = 0;

	(void)state;
	NEED_ROOT();
	ring = tfx_ring(600);
	k = tfx_key_place(ring, "unreadable", "x", 1, 60);
	/*
	 * Possessor view only, owner nothing. (A possessed key with search
	 * permission is readable even without read permission: keyctl_read
	 * lets a key found through the process's keyrings through. Without
	 * search permission the search itself answers EACCES.)
	 */
	assert_int_equal(keyctl_setperm(k, 0x01000000), 0);
	assert_int_equal(agent_cred_get("unreadable", &secret, &len), AGENT_CRED_EACCES);
	assert_int_equal(errno, EACCES);
	assert_null(secret);
	assert_int_equal(len, 0);
	/* its owner may not revoke it any more either: unlink it from our session */
	assert_int_equal(keyctl_unlink(ring, KEY_SPEC_SESSION_KEYRING), 0);
}

static void test_strerror(void **state)
{
	static const int codes[] = {0,
				    AGENT_CRED_ENOTFOUND,
				    AGENT_CRED_EEXPIRED,
				    AGENT_CRED_EREVOKED,
				    AGENT_CRED_EACCES,
				    AGENT_CRED_ENOSYS,
				    AGENT_CRED_ENOMEM,
				    AGENT_CRED_EINVAL};
	size_t i, j;

	(void)state;
	for (i = 0; i < PA_ARRAY_SIZE(codes); i++) {
		const char *s = agent_cred_strerror(codes[i]);

		assert_non_null(s);
		assert_true(strcmp(s, agent_cred_strerror(-100)) != 0);
		for (j = 0; j < i; j++)
			assert_true(strcmp(s, agent_cred_strerror(codes[j])) != 0);
	}
	assert_non_null(strstr(agent_cred_strerror(AGENT_CRED_EREVOKED), "revoked"));
	assert_string_equal(agent_cred_strerror(42), agent_cred_strerror(-100));
}

/* ---- scoping -------------------------------------------------------------------- */

struct scope {
	key_serial_t ring, key;
	const char *name, *secret;
};

/* Same uid, its own new session keyring: the key is out of its reach by name. */
static int child_same_uid_other_session(void *arg, char *msg, size_t msglen)
{
	const struct scope *sc = arg;
	char *secret = NULL, buf[64];
	size_t len = 0;
	int rc;

	TFX_CHILD_CHECK(agent_cred_get(sc->name, &secret, &len) == 0,
			"not readable in the session");
	agent_cred_free(secret, len);
	TFX_CHILD_CHECK(keyctl_join_session_keyring(NULL) > 0, "join: %s", strerror(errno));
	rc = agent_cred_get(sc->name, &secret, &len);
	TFX_CHILD_CHECK(rc == AGENT_CRED_ENOTFOUND, "other session: %d (%s)", rc,
			agent_cred_strerror(rc));
	TFX_CHILD_CHECK(keyctl_search(KEY_SPEC_SESSION_KEYRING, "user", KR_PREFIX "scoped",
				      0) < 0 && errno == ENOKEY,
			"keyctl_search found it from another session");
	/*
	 * By serial, the owner can still read it: owner perms of KR_PERM. This
	 * holds for root too (root owns the key it placed). Hence root-owned
	 * keys in production; see the root-only test below for the agent.
	 */
	TFX_CHILD_CHECK(keyctl_read(sc->key, buf, sizeof(buf)) == (long)strlen(sc->secret),
			"the owner could not read its own key by serial: %s", strerror(errno));
	return 0;
}

static void test_same_uid_other_session(void **state)
{
	struct scope sc = {.name = "scoped", .secret = "only-this-session"};

	(void)state;
	NEED_ROOT();
	sc.ring = tfx_ring(600);
	sc.key = tfx_key_place(sc.ring, sc.name, sc.secret, strlen(sc.secret), 60);
	tfx_in_child(child_same_uid_other_session, &sc);
	tfx_ring_revoke(sc.ring);
}

/* The agent: unprivileged, possessing the root-owned key through the session. */
static int child_agent_in_session(void *arg, char *msg, size_t msglen)
{
	const struct scope *sc = arg;
	char *secret = NULL, *desc = NULL;
	size_t len = 0;
	int rc;

	if (tfx_become_nobody(msg, msglen) != 0)
		return 1;
	rc = agent_cred_get(sc->name, &secret, &len);
	TFX_CHILD_CHECK(rc == 0, "the agent cannot read its key: %s", agent_cred_strerror(rc));
	TFX_CHILD_CHECK(len == strlen(sc->secret) && memcmp(secret, sc->secret, len) == 0,
			"wrong secret");
	agent_cred_free(secret, len);
	TFX_CHILD_CHECK(keyctl_describe_alloc(sc->key, &desc) > 0, "describe: %s", strerror(errno));
	free(desc);
	/* ... but cannot widen, extend, relink, unlink or revoke it */
	TFX_CHILD_CHECK(keyctl_setperm(sc->key, 0x3f3f3f3f) < 0 && errno == EACCES, "setperm: %s",
			strerror(errno));
	TFX_CHILD_CHECK(keyctl_set_timeout(sc->key, 0) < 0 && errno == EACCES, "set_timeout: %s",
			strerror(errno));
	TFX_CHILD_CHECK(keyctl_link(sc->key, KEY_SPEC_SESSION_KEYRING) < 0 && errno == EACCES,
			"link into the session keyring: %s", strerror(errno));
	TFX_CHILD_CHECK(keyctl_link(sc->key, KEY_SPEC_THREAD_KEYRING) < 0 && errno == EACCES,
			"link into its own keyring: %s", strerror(errno));
	TFX_CHILD_CHECK(keyctl_unlink(sc->key, sc->ring) < 0 && errno == EACCES, "unlink: %s",
			strerror(errno));
	TFX_CHILD_CHECK(keyctl_revoke(sc->key) < 0 && errno == EACCES, "revoke: %s",
			strerror(errno));
	TFX_CHILD_CHECK(keyctl_setperm(sc->ring, 0x3f3f3f3f) < 0 && errno == EACCES,
			"setperm on the ring: %s", strerror(errno));
	TFX_CHILD_CHECK(keyctl_clear(sc->ring) < 0 && errno == EACCES, "clear the ring: %s",
			strerror(errno));
	TFX_CHILD_CHECK(add_key("user", KR_PREFIX "planted", "x", 1,
				sc->ring) < 0 && errno == EACCES,
			"add a key to the ring: %s", strerror(errno));
	return 0;
}

/*
 * What the agent *can* do to its own key: KEYCTL_INVALIDATE needs only
 * search permission, which possessors must have for the key to be found
 * by name at all. So the agent can destroy (not keep, widen or extend) its
 * own credential; that harms no one else. Asserted so a change in the
 * kernel's rule is noticed.
 */
static int child_agent_invalidates(void *arg, char *msg, size_t msglen)
{
	const struct scope *sc = arg;
	char *secret = NULL;
	size_t len = 0;
	int rc;

	if (tfx_become_nobody(msg, msglen) != 0)
		return 1;

	TFX_CHILD_CHECK(keyctl_invalidate(sc->key) == 0, "invalidate: %s", strerror(errno));
	rc = agent_cred_get(sc->name, &secret, &len);
	TFX_CHILD_CHECK(rc == AGENT_CRED_ENOTFOUND || rc == AGENT_CRED_EREVOKED,
			"after invalidation: %d (%s)", rc, agent_cred_strerror(rc));
	return 0;
}

/* The same uid as the agent outside the session: nothing, not even by serial. */
static int child_agent_outside(void *arg, char *msg, size_t msglen)
{
	const struct scope *sc = arg;
	char *secret = NULL, *desc = NULL, buf[64];
	size_t len = 0;
	int rc;

	if (tfx_become_nobody(msg, msglen) != 0)
		return 1;
	TFX_CHILD_CHECK(keyctl_join_session_keyring(NULL) > 0, "join: %s", strerror(errno));
	rc = agent_cred_get(sc->name, &secret, &len);
	TFX_CHILD_CHECK(rc == AGENT_CRED_ENOTFOUND, "outside the session: %d (%s)", rc,
			agent_cred_strerror(rc));
	TFX_CHILD_CHECK(keyctl_read(sc->key, buf, sizeof(buf)) < 0 && errno == EACCES,
			"read by serial: %s", strerror(errno));
	TFX_CHILD_CHECK(keyctl_describe_alloc(sc->key, &desc) < 0 && errno == EACCES,
			"describe by serial: %s", strerror(errno));
	free(desc);
	TFX_CHILD_CHECK(keyctl_revoke(sc->key) < 0 && errno == EACCES, "revoke: %s",
			strerror(errno));
	return 0;
}

/* Root in another session (the reaper) revokes by serial. */
static int child_reaper(void *arg, char *msg, size_t msglen)
{
	const struct scope *sc = arg;
	char err[512] = "";

	TFX_CHILD_CHECK(keyctl_join_session_keyring(NULL) > 0, "join: %s", strerror(errno));
	TFX_CHILD_CHECK(kr_session_revoke(sc->ring, err, sizeof(err)) == 0, "revoke: %s", err);
	return 0;
}

static void test_scoping_root(void **state)
{
	struct scope sc = {.name = "scoped", .secret = "root-owned"};
	char *secret = NULL, buf[16];
	size_t len = 0;

	(void)state;
	if (geteuid() != 0 || getuid() != 0) {
		print_message("      (needs root: root-owned keys and uid %d)\n", TFX_NOBODY);
		skip();
	}
	sc.ring = tfx_ring(600);
	sc.key = tfx_key_place(sc.ring, sc.name, sc.secret, strlen(sc.secret), 60);
	assert_int_equal(keyctl_link(sc.key, tfx_witness), 0);
	tfx_in_child(child_agent_in_session, &sc);
	tfx_in_child(child_agent_outside, &sc);
	/* still intact after both */
	assert_int_equal(agent_cred_get(sc.name, &secret, &len), 0);
	agent_cred_free(secret, len);
	tfx_in_child(child_reaper, &sc);
	assert_true(keyctl_read(sc.key, buf, sizeof(buf)) < 0);
	assert_int_equal(errno, EKEYREVOKED);

	sc.ring = tfx_ring(600);
	sc.name = "self-destruct";
	sc.key = tfx_key_place(sc.ring, sc.name, sc.secret, strlen(sc.secret), 60);
	tfx_in_child(child_agent_invalidates, &sc);
	tfx_ring_revoke(sc.ring);
}

/* ---- keyrings unavailable ------------------------------------------------------ */

static int child_seccomp(void *arg, char *msg, size_t msglen)
{
	char *secret = NULL;
	size_t len = 0;
	int rc;

	TFX_CHILD_CHECK(tfx_block_keyrings(*(int *)arg) == 0, "seccomp: %s", strerror(errno));
	rc = agent_cred_get("present", &secret, &len);
	TFX_CHILD_CHECK(rc == AGENT_CRED_ENOSYS, "got %d (%s)", rc, agent_cred_strerror(rc));
	TFX_CHILD_CHECK(secret == NULL && len == 0, "output set on failure");
	return 0;
}

static void test_keyrings_unavailable(void **state)
{
	key_serial_t ring;
	int e;

	(void)state;
	ring = tfx_ring(600);
	tfx_key_place(ring, "present", "x", 1, 60);
	e = ENOSYS;
	tfx_in_child(child_seccomp, &e);
	e = EPERM;
	tfx_in_child(child_seccomp, &e);
	tfx_ring_revoke(ring);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_get_round_trip),
	    cmocka_unit_test(test_not_found_and_invalid),
	    cmocka_unit_test(test_revoked),
	    cmocka_unit_test(test_only_root_owned),
	    cmocka_unit_test(test_expired),
	    cmocka_unit_test(test_not_readable),
	    cmocka_unit_test(test_strerror),
	    cmocka_unit_test(test_same_uid_other_session),
	    cmocka_unit_test(test_scoping_root),
	    cmocka_unit_test(test_keyrings_unavailable),
	};

	return cmocka_run_group_tests(tests, tfx_keyring_setup, tfx_keyring_teardown);
}
