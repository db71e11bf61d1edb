/*
 * test_keyring_ops.c - the keyring engine (keyring/keyring.c) against the
 * real kernel keyring: per-session keyrings and keys created, read,
 * listed, found, expired and revoked, with their permissions and
 * timeouts, names and session ids checked. The program runs in an
 * anonymous session keyring of its own (tests/run-test.sh).
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
#include "tfx_keyring.h"

/* ---- create, add, list, revoke ------------------------------------------------- */

static void test_round_trip(void **state)
{
	static const char *const names[] = {"tickets-ro", "tickets-rw", "legacy.db_1"};
	static const char *const secrets[] = {"s3cr3t-ro", "s3cr3t-rw", "hunter2"};
	struct kr_entry e[8];
	key_serial_t ring, keys[3];
	char err[512] = "", buf[64];
	const char *sid;
	size_t i, j;
	int n;

	(void)state;
	sid = tfx_sid();
	ring = kr_session_create(sid, 600, err, sizeof(err));
	assert_true(ring > 0);
	assert_true(tfx_links(KEY_SPEC_SESSION_KEYRING, ring));
	assert_int_equal(kr_session_find(sid, err, sizeof(err)), ring);
	assert_int_equal(kr_list(ring, e, PA_ARRAY_SIZE(e), err, sizeof(err)), 0);

	for (i = 0; i < 3; i++)
		keys[i] = tfx_key_add(ring, names[i], secrets[i], 60);
	n = kr_list(ring, e, PA_ARRAY_SIZE(e), err, sizeof(err));
	assert_int_equal(n, 3);
	for (i = 0; i < 3; i++) {
		for (j = 0; j < 3 && e[j].serial != keys[i]; j++)
			;
		assert_true(j < 3);
		assert_string_equal(e[j].name, names[i]);
		assert_int_equal(e[j].uid, geteuid());
		assert_int_equal(e[j].gid, getegid());
		assert_int_equal(e[j].perm, KR_PERM);
		/* the kernel holds exactly the secret */
		memset(buf, 0, sizeof(buf));
		assert_int_equal(keyctl_read(keys[i], buf, sizeof(buf)), strlen(secrets[i]));
		assert_string_equal(buf, secrets[i]);
		/* linked in the ring, not in the session keyring itself */
		assert_true(tfx_links(ring, keys[i]));
		assert_false(tfx_links(KEY_SPEC_SESSION_KEYRING, keys[i]));
	}
	/* nothing left behind in the thread keyring */
	{
		void *tbuf = NULL;
		long len = keyctl_read_alloc(KEY_SPEC_THREAD_KEYRING, &tbuf);

		assert_int_equal(len, 0);
		free(tbuf);
	}
	assert_int_equal(kr_revoke(keys[0], err, sizeof(err)), 0);
	assert_int_equal(kr_list(ring, e, PA_ARRAY_SIZE(e), err, sizeof(err)), 2);
	assert_int_equal(kr_session_revoke(ring, err, sizeof(err)), 0);
	assert_int_equal(kr_session_find(sid, err, sizeof(err)), 0);
	assert_int_equal(kr_list(ring, e, PA_ARRAY_SIZE(e), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "EKEYREVOKED"));
}

static void test_perms_and_timeouts(void **state)
{
	key_serial_t ring, timed_ring, key;
	struct tfx_desc d;
	char exp[32], err[512] = "";
	long secs;

	(void)state;
	ring = tfx_ring(0);
	timed_ring = tfx_ring(3000);
	key = tfx_key_add(ring, "perm-check", "x", 45);

	assert_int_equal(tfx_describe(ring, &d), 0);
	assert_string_equal(d.type, "keyring");
	assert_int_equal(d.perm, KR_PERM);
	assert_int_equal(d.uid, geteuid());
	assert_int_equal(d.gid, getegid());
	assert_int_equal(strncmp(d.text, KR_PREFIX, strlen(KR_PREFIX)), 0);

	assert_int_equal(tfx_describe(key, &d), 0);
	assert_string_equal(d.type, "user");
	assert_string_equal(d.text, KR_PREFIX "perm-check");
	assert_int_equal(d.perm, 0x0b3f0000);
	assert_int_equal(d.uid, geteuid());
	assert_int_equal(d.gid, getegid());

	/* /proc/keys shows the remaining lifetime the kernel enforces */
	tfx_key_expiry(key, exp, sizeof(exp));
	secs = tfx_expiry_seconds(exp);
	if (secs < 40 || secs > 45)
		fail_msg("key %d expiry in /proc/keys is \"%s\", expected 40s..45s", key, exp);
	tfx_key_expiry(timed_ring, exp, sizeof(exp));
	secs = tfx_expiry_seconds(exp);
	if (secs < 2940 || secs > 3000)
		fail_msg("keyring %d expiry in /proc/keys is \"%s\", expected 49m/50m", timed_ring,
			 exp);
	tfx_key_expiry(ring, exp, sizeof(exp));
	assert_string_equal(exp, "perm");

	assert_int_equal(kr_session_revoke(ring, err, sizeof(err)), 0);
	assert_int_equal(kr_session_revoke(timed_ring, err, sizeof(err)), 0);
}

static void test_bad_names_and_sids(void **state)
{
	static const char *const bad_names[] = {
	    "",
	    "a b",
	    "a;b",
	    "a/b",
	    "a:b",
	    "caf\xc3\xa9",
	    "tab\t",
	    "line\n",
	    "%user",
	    "a\"b",
	    "0123456789012345678901234567890123456789012345678901234567890123x",
	};
	static const char *const bad_sids[] = {
	    "",	    "xyz",
	    "12 3", "0x12",
	    "abcg", "../..",
	    "a;b",  "00000000000000000000000000000000000000000000000000000000000000001",
	};
	static const char name64[] =
	    "0123456789012345678901234567890123456789012345678901234567890123";
	struct kr_entry e[2];
	char err[512] = "";
	key_serial_t ring, k, r2;
	size_t i;

	(void)state;
	ring = tfx_ring(60);
	for (i = 0; i < PA_ARRAY_SIZE(bad_names); i++) {
		err[0] = '\0';
		if (kr_key_add(ring, bad_names[i], "x", 1, 60, err, sizeof(err)) != -1)
			fail_msg("name \"%s\" accepted", bad_names[i]);
		if (strstr(err, "invalid credential name") == NULL)
			fail_msg("name \"%s\": %s", bad_names[i], err);
	}
	/* the message escapes what it quotes */
	kr_key_add(ring, "line\n", "x", 1, 60, err, sizeof(err));
	assert_non_null(strstr(err, "\"line\\x0a\""));
	assert_int_equal(kr_key_add(ring, NULL, "x", 1, 60, err, sizeof(err)), -1);
	/* other arguments */
	assert_int_equal(kr_key_add(ring, "ok", "x", 1, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "needs a timeout"));
	assert_int_equal(kr_key_add(ring, "ok", "x", 1, -5, err, sizeof(err)), -1);
	assert_int_equal(kr_key_add(ring, "ok", "x", 1, (int64_t)UINT_MAX + 1, err, sizeof(err)),
			 -1);
	assert_int_equal(kr_key_add(ring, "ok", "x", 0, 60, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "holds 1 to 32767"));
	assert_int_equal(kr_key_add(ring, "ok", NULL, 1, 60, err, sizeof(err)), -1);
	assert_int_equal(kr_key_add(0, "ok", "x", 1, 60, err, sizeof(err)), -1);
	assert_int_equal(kr_key_add(KEY_SPEC_SESSION_KEYRING, "ok", "x", 1, 60, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "invalid keyring serial"));
	{
		char *big = calloc(1, 32768);

		assert_non_null(big);
		assert_int_equal(kr_key_add(ring, "ok", big, 32768, 60, err, sizeof(err)), -1);
		free(big);
	}
	/* nothing of the above reached the kernel */
	assert_int_equal(kr_list(ring, e, PA_ARRAY_SIZE(e), err, sizeof(err)), 0);
	/* the longest name is fine */
	k = tfx_key_add(ring, name64, "x", 60);
	assert_int_equal(kr_list(ring, e, PA_ARRAY_SIZE(e), err, sizeof(err)), 1);
	assert_int_equal(e[0].serial, k);
	assert_string_equal(e[0].name, name64);

	for (i = 0; i < PA_ARRAY_SIZE(bad_sids); i++) {
		err[0] = '\0';
		if (kr_session_create(bad_sids[i], 60, err, sizeof(err)) != -1)
			fail_msg("sid \"%s\" accepted", bad_sids[i]);
		if (strstr(err, "invalid session id") == NULL)
			fail_msg("sid \"%s\": %s", bad_sids[i], err);
		if (kr_session_find(bad_sids[i], err, sizeof(err)) != -1)
			fail_msg("kr_session_find accepted sid \"%s\"", bad_sids[i]);
	}
	assert_int_equal(kr_session_create(NULL, 60, err, sizeof(err)), -1);
	assert_int_equal(kr_session_create("abc", -1, err, sizeof(err)), -1);
	/* 64 hex digits, either case */
	r2 = kr_session_create("0123456789abcdefABCDEF0123456789abcdefABCDEF0123456789abcdef0123",
			       60, err, sizeof(err));
	if (r2 <= 0)
		fail_msg("64-digit sid: %s", err);
	assert_int_equal(kr_session_revoke(r2, err, sizeof(err)), 0);
	assert_int_equal(kr_session_revoke(ring, err, sizeof(err)), 0);
}

static void test_duplicates(void **state)
{
	key_serial_t ring, k, again;
	char err[512] = "", buf[16] = "", sid[32];

	(void)state;
	snprintf(sid, sizeof(sid), "%s", tfx_sid());
	ring = kr_session_create(sid, 60, err, sizeof(err));
	assert_true(ring > 0);
	k = tfx_key_add(ring, "dup", "first", 60);
	again = kr_key_add(ring, "dup", "second", 6, 60, err, sizeof(err));
	assert_int_equal(again, -1);
	assert_non_null(strstr(err, "already exists"));
	assert_non_null(strstr(err, "refusing to replace it"));
	/* the first one is untouched (add_key would have updated it in place) */
	assert_int_equal(keyctl_read(k, buf, sizeof(buf) - 1), 5);
	assert_string_equal(buf, "first");
	/* a revoked key of that name does not block a new one */
	assert_int_equal(kr_revoke(k, err, sizeof(err)), 0);
	again = tfx_key_add(ring, "dup", "third", 60);
	assert_true(again != k);
	/* a second per-session keyring with the same sid is refused too */
	assert_int_equal(kr_session_create(sid, 60, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "already exists in the session keyring"));
	assert_int_equal(kr_session_find(sid, err, sizeof(err)), ring);
	assert_int_equal(kr_session_revoke(ring, err, sizeof(err)), 0);
}

/*
 * kr_key_add_seen refuses what kr_key_add refuses: a name it placed
 * itself, a name linked by someone else since its last call; and like it,
 * a revoked key of the name does not count. Each new key is noted once.
 */
static void test_duplicates_seen(void **state)
{
	struct kr_seen seen = { 0 };
	key_serial_t ring, a, other;
	char err[512] = "";

	(void)state;
	ring = tfx_ring(60);
	a = kr_key_add_seen(&seen, ring, "a", "1", 1, 60, err, sizeof(err));
	assert_true(a > 0);
	assert_true(kr_key_add_seen(&seen, ring, "b", "2", 1, 60, err, sizeof(err)) > 0);
	assert_int_equal(seen.n, 2);
	assert_int_equal(kr_key_add_seen(&seen, ring, "a", "3", 1, 60, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "already exists"));
	other = tfx_key_add(ring, "c", "4", 60);
	assert_int_equal(kr_key_add_seen(&seen, ring, "c", "5", 1, 60, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "already exists"));
	assert_int_equal(seen.n, 3); /* c, described once */
	assert_int_equal(seen.keys[2].serial, other);
	assert_int_equal(kr_revoke(a, err, sizeof(err)), 0);
	assert_true(kr_key_add_seen(&seen, ring, "a", "6", 1, 60, err, sizeof(err)) > 0);
	assert_int_equal(seen.n, 4);
	kr_seen_clear(&seen);
	assert_int_equal(seen.n, 0);
	assert_null(seen.keys);
	assert_int_equal(kr_session_revoke(ring, err, sizeof(err)), 0);
}

static void test_revoke_twice(void **state)
{
	key_serial_t ring, k;
	char err[512] = "";

	(void)state;
	ring = tfx_ring(60);
	k = tfx_key_add(ring, "twice", "x", 60);
	assert_int_equal(keyctl_link(k, tfx_witness), 0);
	assert_int_equal(kr_revoke(k, err, sizeof(err)), 0);
	assert_int_equal(tfx_read_errno(k), EKEYREVOKED);
	assert_int_equal(kr_revoke(k, err, sizeof(err)), 0);
	assert_int_equal(kr_revoke(ring, err, sizeof(err)), 0);
	assert_int_equal(kr_revoke(ring, err, sizeof(err)), 0);
	assert_int_equal(kr_session_revoke(ring, err, sizeof(err)), 0);
	/* a serial that never existed counts as gone */
	assert_int_equal(kr_revoke(0x7ffffff0, err, sizeof(err)), 0);
	assert_int_equal(kr_revoke(0, err, sizeof(err)), -1);
	assert_int_equal(kr_revoke(KEY_SPEC_SESSION_KEYRING, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "invalid key serial"));
	assert_int_equal(kr_session_revoke(-1, err, sizeof(err)), -1);
}

static void test_session_revoke_all(void **state)
{
	key_serial_t ring, k[4];
	struct kr_entry e[4];
	char err[512] = "";
	size_t i;

	(void)state;
	ring = tfx_ring(600);
	k[0] = tfx_key_add(ring, "a", "1", 60);
	k[1] = tfx_key_add(ring, "b", "2", 60);
	k[2] = tfx_key_add(ring, "c", "3", 60);
	k[3] = ring;
	/* the tfx_witness keeps them alive after the ring is emptied */
	for (i = 0; i < 4; i++)
		assert_int_equal(keyctl_link(k[i], tfx_witness), 0);
	assert_int_equal(kr_revoke(k[1], err, sizeof(err)), 0); /* one already revoked */
	assert_int_equal(kr_session_revoke(ring, err, sizeof(err)), 0);
	for (i = 0; i < 4; i++)
		if (tfx_read_errno(k[i]) != EKEYREVOKED)
			fail_msg("key %d: read gives %s, not EKEYREVOKED", k[i],
				 strerror(tfx_read_errno(k[i])));
	assert_int_equal(kr_list(ring, e, PA_ARRAY_SIZE(e), err, sizeof(err)), -1);
	/* and once more: all gone is success */
	assert_int_equal(kr_session_revoke(ring, err, sizeof(err)), 0);
}

static void test_expiry(void **state)
{
	key_serial_t ring, k;
	struct kr_entry e[2];
	char err[512] = "";

	(void)state;
	ring = tfx_ring(60);
	k = tfx_key_add(ring, "short", "x", 1);
	assert_int_equal(keyctl_link(k, tfx_witness), 0);
	assert_int_equal(tfx_read_errno(k), 0);
	sleep(2);
	assert_int_equal(tfx_read_errno(k), EKEYEXPIRED);
	/* not listed any more, revoking it is fine, its name is free again */
	assert_int_equal(kr_list(ring, e, PA_ARRAY_SIZE(e), err, sizeof(err)), 0);
	assert_int_equal(kr_revoke(k, err, sizeof(err)), 0);
	assert_true(tfx_key_add(ring, "short", "y", 60) > 0);
	assert_int_equal(kr_session_revoke(ring, err, sizeof(err)), 0);
}

static void test_list_max_and_find(void **state)
{
	struct kr_entry e[2];
	key_serial_t ring;
	char err[512] = "", sid[32];

	(void)state;
	snprintf(sid, sizeof(sid), "%s", tfx_sid());
	ring = kr_session_create(sid, 60, err, sizeof(err));
	assert_true(ring > 0);
	tfx_key_add(ring, "one", "1", 60);
	tfx_key_add(ring, "two", "2", 60);
	tfx_key_add(ring, "three", "3", 60);
	/* a foreign entry is not a credential */
	assert_true(add_key("user", "other:thing", "z", 1, ring) > 0);
	memset(e, 0, sizeof(e));
	assert_int_equal(kr_list(ring, e, 2, err, sizeof(err)), 3);
	assert_true(e[0].serial > 0 && e[1].serial > 0);
	assert_int_equal(kr_list(ring, NULL, 0, err, sizeof(err)), 3);
	assert_int_equal(kr_list(0, e, 2, err, sizeof(err)), -1);
	assert_int_equal(kr_session_find(sid, err, sizeof(err)), ring);
	assert_int_equal(kr_session_find("deadbeef", err, sizeof(err)), 0);
	assert_int_equal(kr_session_revoke(ring, err, sizeof(err)), 0);
	assert_int_equal(kr_session_find(sid, err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_perms_and_timeouts),
	    cmocka_unit_test(test_bad_names_and_sids),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_duplicates_seen),
	    cmocka_unit_test(test_revoke_twice),
	    cmocka_unit_test(test_session_revoke_all),
	    cmocka_unit_test(test_expiry),
	    cmocka_unit_test(test_list_max_and_find),
	};

	return cmocka_run_group_tests(tests, tfx_keyring_setup, tfx_keyring_teardown);
}
