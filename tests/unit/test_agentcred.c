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

#define NOBODY 65534

static key_serial_t witness; /* keeps revoked/expired keys linked for checks */

static const char *new_sid(void)
{
	static char sid[32];
	static unsigned n;

	snprintf(sid, sizeof(sid), "%08x%04x", (unsigned)getpid(), ++n);
	return sid;
}

static key_serial_t new_ring(void)
{
	char err[512] = "";
	key_serial_t ring = kr_session_create(new_sid(), 600, err, sizeof(err));

	if (ring <= 0)
		fail_msg("kr_session_create: %s", err);
	return ring;
}

static key_serial_t place(key_serial_t ring, const char *name, const void *secret, size_t len,
			  int64_t timeout)
{
	char err[512] = "";
	key_serial_t k = kr_key_add(ring, name, secret, len, timeout, err, sizeof(err));

	if (k <= 0)
		fail_msg("kr_key_add %s: %s", name, err);
	return k;
}

static void revoke_ring(key_serial_t ring)
{
	char err[512] = "";

	if (kr_session_revoke(ring, err, sizeof(err)) != 0)
		fail_msg("kr_session_revoke: %s", err);
}

typedef int (*child_fn)(void *arg, char *msg, size_t msglen);

/* Runs fn in a forked child; its failure message fails the test. */
static void in_child(child_fn fn, void *arg)
{
	char msg[1024] = "";
	int fds[2], status = 0;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int rc;

		close(fds[0]);
		rc = fn(arg, msg, sizeof(msg));
		if (write(fds[1], msg, strlen(msg)) < 0)
			rc = 2;
		_exit(rc);
	}
	close(fds[1]);
	n = read(fds[0], msg, sizeof(msg) - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("child failed (status 0x%x): %s", status, msg);
}

#define CHILD_CHECK(cond, ...)                                                                     \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			snprintf(msg, msglen, __VA_ARGS__);                                        \
			return 1;                                                                  \
		}                                                                                  \
	} while (0)

static int become_nobody(char *msg, size_t msglen)
{
	CHILD_CHECK(setgroups(0, NULL) == 0, "setgroups: %s", strerror(errno));
	CHILD_CHECK(setresgid(NOBODY, NOBODY, NOBODY) == 0, "setresgid: %s", strerror(errno));
	CHILD_CHECK(setresuid(NOBODY, NOBODY, NOBODY) == 0, "setresuid: %s", strerror(errno));
	return 0;
}

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
	ring = new_ring();
	place(ring, "tickets-ro", "tok-123", 7, 60);
	place(ring, "bin.ary_1", binary, sizeof(binary), 60);

	assert_int_equal(agent_cred_get("tickets-ro", &secret, &len), 0);
	assert_int_equal(len, 7);
	assert_memory_equal(secret, "tok-123", 8); /* with its NUL */
	agent_cred_free(secret, len);

	assert_int_equal(agent_cred_get("bin.ary_1", &secret, &len), 0);
	assert_int_equal(len, sizeof(binary));
	assert_memory_equal(secret, binary, sizeof(binary));
	assert_int_equal(secret[len], '\0');
	agent_cred_free(secret, len);
	revoke_ring(ring);
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
	ring = new_ring();
	assert_int_equal(agent_cred_get("no-such-grant", &secret, &len), AGENT_CRED_ENOTFOUND);
	assert_null(secret);
	assert_int_equal(len, 0);
	revoke_ring(ring);
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
	ring = new_ring();
	k = place(ring, "gone-soon", "x", 1, 60);
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
	place(ring, "other", "y", 1, 60);
	revoke_ring(ring);
	assert_int_equal(agent_cred_get("other", &secret, &len), AGENT_CRED_EREVOKED);
	assert_int_equal(agent_cred_get("gone-soon", &secret, &len), AGENT_CRED_EREVOKED);
	assert_null(secret);
	/* a new live session keyring without the name: not found */
	ring = new_ring();
	assert_int_equal(agent_cred_get("other", &secret, &len), AGENT_CRED_ENOTFOUND);
	revoke_ring(ring);
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
		print_message("      SKIP: needs root (root-owned keys and uid %d)\n", NOBODY);
		skip();
	}
	/* planted directly in the session keyring */
	planted = add_key("user", KR_PREFIX "forged", "planted", 7, KEY_SPEC_SESSION_KEYRING);
	assert_true(planted > 0);
	ring = new_ring();
	assert_int_equal(agent_cred_get("forged", &secret, &len), AGENT_CRED_ENOTFOUND);
	assert_null(secret);
	/* in a per-session keyring that is not root's */
	other = add_key("keyring", KR_PREFIX "00ff00ff", NULL, 0, KEY_SPEC_SESSION_KEYRING);
	assert_true(other > 0);
	assert_true(add_key("user", KR_PREFIX "forged2", "planted", 7, other) > 0);
	assert_int_equal(keyctl_chown(other, NOBODY, (gid_t)-1), 0);
	assert_int_equal(agent_cred_get("forged2", &secret, &len), AGENT_CRED_ENOTFOUND);
	assert_null(secret);
	/* in root's per-session keyring, but owned by another user */
	k = place(ring, "not-roots", "x", 1, 60);
	assert_int_equal(keyctl_chown(k, NOBODY, (gid_t)-1), 0);
	assert_int_equal(agent_cred_get("not-roots", &secret, &len), AGENT_CRED_EACCES);
	assert_null(secret);
	/* the real one next to them still reads */
	place(ring, "real", "ok", 2, 60);
	assert_int_equal(agent_cred_get("real", &secret, &len), 0);
	assert_memory_equal(secret, "ok", 3);
	agent_cred_free(secret, len);
	assert_int_equal(keyctl_revoke(planted), 0);
	(void)keyctl_unlink(other, KEY_SPEC_SESSION_KEYRING);
	/* no longer root's to revoke: unlinked, it expires in 60 s */
	assert_int_equal(keyctl_unlink(k, ring), 0);
	revoke_ring(ring);
}

static void test_expired(void **state)
{
	char *secret = NULL;
	key_serial_t ring;
	size_t len = 0;

	(void)state;
	NEED_ROOT();
	ring = new_ring();
	place(ring, "short", "x", 1, 1);
	assert_int_equal(agent_cred_get("short", &secret, &len), 0);
	agent_cred_free(secret, len);
	sleep(2);
	assert_int_equal(agent_cred_get("short", &secret, &len), AGENT_CRED_EEXPIRED);
	revoke_ring(ring);
}

static void test_not_readable(void **state)
{
	char *secret = NULL;
	key_serial_t ring, k;
	size_t len = 0;

	(void)state;
	NEED_ROOT();
	ring = new_ring();
	k = place(ring, "unreadable", "x", 1, 60);
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

	CHILD_CHECK(agent_cred_get(sc->name, &secret, &len) == 0, "not readable in the session");
	agent_cred_free(secret, len);
	CHILD_CHECK(keyctl_join_session_keyring(NULL) > 0, "join: %s", strerror(errno));
	rc = agent_cred_get(sc->name, &secret, &len);
	CHILD_CHECK(rc == AGENT_CRED_ENOTFOUND, "other session: %d (%s)", rc,
		    agent_cred_strerror(rc));
	CHILD_CHECK(keyctl_search(KEY_SPEC_SESSION_KEYRING, "user", KR_PREFIX "scoped", 0) < 0 &&
			errno == ENOKEY,
		    "keyctl_search found it from another session");
	/*
	 * By serial, the owner can still read it: owner perms of KR_PERM. This
	 * holds for root too (root owns the key it placed). Hence root-owned
	 * keys in production; see the root-only test below for the agent.
	 */
	CHILD_CHECK(keyctl_read(sc->key, buf, sizeof(buf)) == (long)strlen(sc->secret),
		    "the owner could not read its own key by serial: %s", strerror(errno));
	return 0;
}

static void test_same_uid_other_session(void **state)
{
	struct scope sc = {.name = "scoped", .secret = "only-this-session"};

	(void)state;
	NEED_ROOT();
	sc.ring = new_ring();
	sc.key = place(sc.ring, sc.name, sc.secret, strlen(sc.secret), 60);
	in_child(child_same_uid_other_session, &sc);
	revoke_ring(sc.ring);
}

/* The agent: unprivileged, possessing the root-owned key through the session. */
static int child_agent_in_session(void *arg, char *msg, size_t msglen)
{
	const struct scope *sc = arg;
	char *secret = NULL, *desc = NULL;
	size_t len = 0;
	int rc;

	if (become_nobody(msg, msglen) != 0)
		return 1;
	rc = agent_cred_get(sc->name, &secret, &len);
	CHILD_CHECK(rc == 0, "the agent cannot read its key: %s", agent_cred_strerror(rc));
	CHILD_CHECK(len == strlen(sc->secret) && memcmp(secret, sc->secret, len) == 0,
		    "wrong secret");
	agent_cred_free(secret, len);
	CHILD_CHECK(keyctl_describe_alloc(sc->key, &desc) > 0, "describe: %s", strerror(errno));
	free(desc);
	/* ... but cannot widen, extend, relink, unlink or revoke it */
	CHILD_CHECK(keyctl_setperm(sc->key, 0x3f3f3f3f) < 0 && errno == EACCES, "setperm: %s",
		    strerror(errno));
	CHILD_CHECK(keyctl_set_timeout(sc->key, 0) < 0 && errno == EACCES, "set_timeout: %s",
		    strerror(errno));
	CHILD_CHECK(keyctl_link(sc->key, KEY_SPEC_SESSION_KEYRING) < 0 && errno == EACCES,
		    "link into the session keyring: %s", strerror(errno));
	CHILD_CHECK(keyctl_link(sc->key, KEY_SPEC_THREAD_KEYRING) < 0 && errno == EACCES,
		    "link into its own keyring: %s", strerror(errno));
	CHILD_CHECK(keyctl_unlink(sc->key, sc->ring) < 0 && errno == EACCES, "unlink: %s",
		    strerror(errno));
	CHILD_CHECK(keyctl_revoke(sc->key) < 0 && errno == EACCES, "revoke: %s", strerror(errno));
	CHILD_CHECK(keyctl_setperm(sc->ring, 0x3f3f3f3f) < 0 && errno == EACCES,
		    "setperm on the ring: %s", strerror(errno));
	CHILD_CHECK(keyctl_clear(sc->ring) < 0 && errno == EACCES, "clear the ring: %s",
		    strerror(errno));
	CHILD_CHECK(add_key("user", KR_PREFIX "planted", "x", 1, sc->ring) < 0 && errno == EACCES,
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

	if (become_nobody(msg, msglen) != 0)
		return 1;

	CHILD_CHECK(keyctl_invalidate(sc->key) == 0, "invalidate: %s", strerror(errno));
	rc = agent_cred_get(sc->name, &secret, &len);
	CHILD_CHECK(rc == AGENT_CRED_ENOTFOUND || rc == AGENT_CRED_EREVOKED,
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

	if (become_nobody(msg, msglen) != 0)
		return 1;
	CHILD_CHECK(keyctl_join_session_keyring(NULL) > 0, "join: %s", strerror(errno));
	rc = agent_cred_get(sc->name, &secret, &len);
	CHILD_CHECK(rc == AGENT_CRED_ENOTFOUND, "outside the session: %d (%s)", rc,
		    agent_cred_strerror(rc));
	CHILD_CHECK(keyctl_read(sc->key, buf, sizeof(buf)) < 0 && errno == EACCES,
		    "read by serial: %s", strerror(errno));
	CHILD_CHECK(keyctl_describe_alloc(sc->key, &desc) < 0 && errno == EACCES,
		    "describe by serial: %s", strerror(errno));
	free(desc);
	CHILD_CHECK(keyctl_revoke(sc->key) < 0 && errno == EACCES, "revoke: %s", strerror(errno));
	return 0;
}

/* Root in another session (the reaper) revokes by serial. */
static int child_reaper(void *arg, char *msg, size_t msglen)
{
	const struct scope *sc = arg;
	char err[512] = "";

	CHILD_CHECK(keyctl_join_session_keyring(NULL) > 0, "join: %s", strerror(errno));
	CHILD_CHECK(kr_session_revoke(sc->ring, err, sizeof(err)) == 0, "revoke: %s", err);
	return 0;
}

static void test_scoping_root(void **state)
{
	struct scope sc = {.name = "scoped", .secret = "root-owned"};
	char *secret = NULL, buf[16];
	size_t len = 0;

	(void)state;
	if (geteuid() != 0 || getuid() != 0) {
		print_message("      (needs root: root-owned keys and uid %d)\n", NOBODY);
		skip();
	}
	sc.ring = new_ring();
	sc.key = place(sc.ring, sc.name, sc.secret, strlen(sc.secret), 60);
	assert_int_equal(keyctl_link(sc.key, witness), 0);
	in_child(child_agent_in_session, &sc);
	in_child(child_agent_outside, &sc);
	/* still intact after both */
	assert_int_equal(agent_cred_get(sc.name, &secret, &len), 0);
	agent_cred_free(secret, len);
	in_child(child_reaper, &sc);
	assert_true(keyctl_read(sc.key, buf, sizeof(buf)) < 0);
	assert_int_equal(errno, EKEYREVOKED);

	sc.ring = new_ring();
	sc.name = "self-destruct";
	sc.key = place(sc.ring, sc.name, sc.secret, strlen(sc.secret), 60);
	in_child(child_agent_invalidates, &sc);
	revoke_ring(sc.ring);
}

/* ---- keyrings unavailable ------------------------------------------------------ */

static int block_keyrings(int err)
{
	/* No arch check: this only ever runs on the build architecture. */
	struct sock_filter f[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_keyctl, 3, 0),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_add_key, 2, 0),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_request_key, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
	};
	struct sock_fprog prog = {.len = (unsigned short)PA_ARRAY_SIZE(f), .filter = f};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

static int child_seccomp(void *arg, char *msg, size_t msglen)
{
	char *secret = NULL;
	size_t len = 0;
	int rc;

	CHILD_CHECK(block_keyrings(*(int *)arg) == 0, "seccomp: %s", strerror(errno));
	rc = agent_cred_get("present", &secret, &len);
	CHILD_CHECK(rc == AGENT_CRED_ENOSYS, "got %d (%s)", rc, agent_cred_strerror(rc));
	CHILD_CHECK(secret == NULL && len == 0, "output set on failure");
	return 0;
}

static void test_keyrings_unavailable(void **state)
{
	key_serial_t ring;
	int e;

	(void)state;
	ring = new_ring();
	place(ring, "present", "x", 1, 60);
	e = ENOSYS;
	in_child(child_seccomp, &e);
	e = EPERM;
	in_child(child_seccomp, &e);
	revoke_ring(ring);
}

static int group_setup(void **state)
{
	char err[512] = "";

	(void)state;
	/* a session keyring of our own even when run by hand */
	if (kr_session_keyring_ensure(getuid(), getgid(), err, sizeof(err)) < 0) {
		fprintf(stderr, "kr_session_keyring_ensure: %s\n", err);
		return -1;
	}
	witness = add_key("keyring", "test:witness", NULL, 0, KEY_SPEC_SESSION_KEYRING);
	return witness > 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	keyctl_revoke(witness);
	return 0;
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

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
