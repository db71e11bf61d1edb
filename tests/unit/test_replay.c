/*
 * test_replay.c - unit tests of the replay cache (identity/replay.c): first
 * use and replays, expiry and tombstones, a full table, a model check,
 * capacity changes, file and directory checks, corrupt files. Agent
 * quotas, eviction, version 1 files and two processes at once are in
 * test_replay_agents.c.
 *
 * Every test works in its own mkdtemp() directory, removed afterwards. The
 * cache directory is a not-yet-existing subdirectory, so its creation is
 * exercised too. Tests that need a file owned by another uid run only as
 * root and are skipped otherwise.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "identity.h"
#include "util.h"
#include "tfx.h"
#include "tfx_replay.h"

#define NOW 1700000000
#define ERRLEN TFX_REPLAY_ERRLEN
#define MARGIN TFX_REPLAY_MARGIN
#define FILE_SIZE(cap) TFX_REPLAY_FILE_SIZE(cap)

/* id_replay_check on the fixture's directory; err goes into f->err. */
static int check(struct tfx_replay *f, const char *iss, const char *jti,
		 int64_t exp, int64_t now, size_t max)
{
	f->err[0] = '\0';
	return id_replay_check(f->dir, iss, jti, exp, now, max, f->err, sizeof(f->err));
}

static void pwrite_at(const char *path, off_t off, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, data, len, off), (ssize_t)len);
	close(fd);
}

/* Calls the cache on a corrupted file: it must fail closed, twice, and
 * leave the file exactly as it was. */
static void assert_fails_closed(struct tfx_replay *f, const char *want)
{
	unsigned char *before, *after;
	size_t blen, alen;

	before = (unsigned char *)tfx_read(f->db, &blen);
	assert_int_equal(check(f, "iss", "new-jti", NOW + 60, NOW, 100), -1);
	assert_non_null(strstr(f->err, want));
	assert_non_null(strstr(f->err, f->db));
	assert_int_equal(check(f, "iss", "jti-1", NOW + 60, NOW, 100), -1);
	after = (unsigned char *)tfx_read(f->db, &alen);
	assert_int_equal(alen, blen);
	assert_memory_equal(after, before, blen);
	free(before);
	free(after);
}

static void test_first_use_then_replay(void **state)
{
	struct tfx_replay *f = *state;
	struct stat st;

	assert_int_equal(check(f, "https://a.example", "jti-1", NOW + 60, NOW, 100), 0);
	assert_int_equal(check(f, "https://a.example", "jti-1", NOW + 60, NOW, 100), 1);
	/* same jti from another issuer is another token */
	assert_int_equal(check(f, "https://b.example", "jti-1", NOW + 60, NOW, 100), 0);
	assert_int_equal(check(f, "https://b.example", "jti-1", NOW + 60, NOW + 1, 100), 1);
	/* the NUL separator keeps ("ab", "c") apart from ("a", "bc") */
	assert_int_equal(check(f, "ab", "c", NOW + 60, NOW, 100), 0);
	assert_int_equal(check(f, "a", "bc", NOW + 60, NOW, 100), 0);
	assert_int_equal(check(f, "", "abc", NOW + 60, NOW, 100), 0);
	assert_int_equal(check(f, "a", "bc", NOW + 60, NOW, 100), 1);
	/* a replay with a different exp claim is still a replay */
	assert_int_equal(check(f, "https://a.example", "jti-1", NOW + 9999, NOW, 100), 1);

	/* the directory was created 0700, the file 0600, both ours */
	assert_int_equal(lstat(f->dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(lstat(f->db, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
	/* capacity 256 for max_entries 100 */
	assert_int_equal(st.st_size, FILE_SIZE(256));
}

static void test_bad_arguments(void **state)
{
	struct tfx_replay *f = *state;

	assert_int_equal(check(f, "iss", "", NOW + 60, NOW, 100), -1);
	assert_non_null(strstr(f->err, "empty jti"));
	assert_int_equal(id_replay_check(f->dir, NULL, "j", NOW + 60, NOW, 100,
					 f->err, sizeof(f->err)), -1);
	assert_int_equal(id_replay_check(f->dir, "i", NULL, NOW + 60, NOW, 100,
					 f->err, sizeof(f->err)), -1);
	assert_int_equal(id_replay_check(NULL, "i", "j", NOW + 60, NOW, 100,
					 f->err, sizeof(f->err)), -1);
	assert_int_equal(check(f, "iss", "j", NOW + 60, NOW, 0), -1);
	assert_non_null(strstr(f->err, "max_entries"));
	assert_int_equal(check(f, "iss", "j", NOW + 60, NOW, (size_t)1 << 30), -1);
	assert_int_equal(check(f, "iss", "j", NOW + 60, 0, 100), -1);
	/* a token already past exp + margin is never recorded */
	assert_int_equal(check(f, "iss", "j", NOW - MARGIN, NOW, 100), -1);
	assert_non_null(strstr(f->err, "expired"));
	/* within the margin it is */
	assert_int_equal(check(f, "iss", "j", NOW - MARGIN + 1, NOW, 100), 0);
	assert_int_equal(check(f, "iss", "j", NOW - MARGIN + 1, NOW, 100), 1);
}

static void test_expired_entries_reusable(void **state)
{
	struct tfx_replay *f = *state;
	const int64_t exp = NOW + 60;

	assert_int_equal(check(f, "iss", "jti-x", exp, NOW, 10), 0);
	assert_int_equal(check(f, "iss", "jti-x", exp, exp, 10), 1);
	/* still a replay through the margin after exp */
	assert_int_equal(check(f, "iss", "jti-x", exp, exp + MARGIN - 1, 10), 1);
	/* the entry has expired: the slot is free again */
	assert_int_equal(check(f, "iss", "jti-x", exp + 1000, exp + MARGIN, 10), 0);
	assert_int_equal(check(f, "iss", "jti-x", exp + 1000, exp + MARGIN + 1, 10), 1);
}

/*
 * Tombstones inside probe chains: fill a small table so that chains are
 * long, let the entries at the front of the chains expire, then check that
 * every live entry behind them is still found, and that reusing the
 * tombstones does not duplicate a live entry.
 */
static void test_tombstones_keep_chains(void **state)
{
	struct tfx_replay *f = *state;
	char jti[32];
	int i;

	/* max 8 -> 16 slots; 8 entries, every other one short-lived */
	for (i = 0; i < 8; i++) {
		snprintf(jti, sizeof(jti), "t-%d", i);
		assert_int_equal(check(f, "iss", jti, i % 2 ? NOW + 10000 : NOW + 1,
				       NOW, 8), 0);
	}
	/* at NOW + 1 + MARGIN the even ones have expired */
	for (i = 0; i < 8; i++) {
		snprintf(jti, sizeof(jti), "t-%d", i);
		assert_int_equal(check(f, "iss", jti, NOW + 20000,
				       NOW + 1 + MARGIN, 8), i % 2 ? 1 : 0);
	}
	/* the even ones were recorded again: now all 8 are live, table full */
	for (i = 0; i < 8; i++) {
		snprintf(jti, sizeof(jti), "t-%d", i);
		assert_int_equal(check(f, "iss", jti, NOW + 20000,
				       NOW + 2 + MARGIN, 8), 1);
	}
	assert_int_equal(check(f, "iss", "another", NOW + 20000, NOW + 2 + MARGIN, 8), -1);
	assert_non_null(strstr(f->err, "full"));
}

static void test_full_table_fails_closed(void **state)
{
	struct tfx_replay *f = *state;
	char jti[32];
	int i;

	for (i = 0; i < 4; i++) {
		snprintf(jti, sizeof(jti), "live-%d", i);
		assert_int_equal(check(f, "iss", jti, NOW + 100 + i, NOW, 4), 0);
	}
	assert_int_equal(check(f, "iss", "one-too-many", NOW + 100, NOW, 4), -1);
	assert_non_null(strstr(f->err, "full"));
	assert_non_null(strstr(f->err, f->db));
	/* no live jti is forgotten or accepted while full */
	for (i = 0; i < 4; i++) {
		snprintf(jti, sizeof(jti), "live-%d", i);
		assert_int_equal(check(f, "iss", jti, NOW + 100 + i, NOW + 5, 4), 1);
	}
	assert_int_equal(check(f, "iss", "one-too-many", NOW + 100, NOW + 10, 4), -1);
	/* once live-0 has expired (exp NOW+100, + margin) there is room again */
	assert_int_equal(check(f, "iss", "one-too-many", NOW + 500,
			       NOW + 100 + MARGIN, 4), 0);
	for (i = 1; i < 4; i++) {
		snprintf(jti, sizeof(jti), "live-%d", i);
		assert_int_equal(check(f, "iss", jti, NOW + 100 + i, NOW + 100 + MARGIN, 4), 1);
	}
	assert_int_equal(check(f, "iss", "one-too-many", NOW + 500,
			       NOW + 100 + MARGIN, 4), 1);
	assert_int_equal(check(f, "iss", "fifth", NOW + 500, NOW + 100 + MARGIN, 4), -1);
	assert_non_null(strstr(f->err, "full"));
}

/*
 * Model check: thousands of random calls with the clock moving so that
 * the table hovers around full; every answer must equal that of an exact
 * model (replay iff live, else full iff max_entries live, else accept).
 * This drives reuse of tombstones, compaction and the full check.
 */
static void test_matches_model(void **state)
{
	enum { ISS = 3, JTI = 40, MAX = 16, STEPS = 6000 };
	struct tfx_replay *f = *state;
	int64_t expiry[ISS][JTI] = { { 0 } };
	int64_t now = NOW;
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	int seen[3] = { 0, 0, 0 };
	char iss[16], jti[16];
	int step, a, b;

	for (step = 0; step < STEPS; step++) {
		int i = (int)(tfx_prng(&seed) % ISS), j = (int)(tfx_prng(&seed) % JTI);
		int64_t exp;
		int live = 0, want, got;

		now += (int64_t)(tfx_prng(&seed) % 40);
		exp = now + (int64_t)(tfx_prng(&seed) % 40);
		for (a = 0; a < ISS; a++)
			for (b = 0; b < JTI; b++)
				live += expiry[a][b] > now;
		if (expiry[i][j] > now)
			want = 1;
		else if (live >= MAX)
			want = -1;
		else
			want = 0;
		snprintf(iss, sizeof(iss), "iss-%d", i);
		snprintf(jti, sizeof(jti), "jti-%d", j);
		got = check(f, iss, jti, exp, now, MAX);
		if (got != want)
			fail_msg("step %d: %s/%s at %" PRId64 ": got %d, want %d (%d live): %s",
				 step, iss, jti, now, got, want, live, f->err);
		if (want == -1)
			assert_non_null(strstr(f->err, "full"));
		if (want == 0)
			expiry[i][j] = exp + MARGIN;
		seen[want + 1]++;
	}
	/* the run exercised every outcome */
	assert_true(seen[0] > 50);
	assert_true(seen[1] > 50);
	assert_true(seen[2] > 50);
	/* and the table never grew */
	assert_int_equal(tfx_file_size(f->db), FILE_SIZE(32));
}

static void test_capacity_change_keeps_live_entries(void **state)
{
	struct tfx_replay *f = *state;
	char jti[32];
	int i;

	for (i = 0; i < 4; i++) {
		snprintf(jti, sizeof(jti), "c-%d", i);
		assert_int_equal(check(f, "iss", jti, NOW + 100, NOW, 4), 0);
	}
	assert_int_equal(tfx_file_size(f->db), FILE_SIZE(8));
	/* grow: 1000 -> 2048 slots, every live entry carried over */
	for (i = 0; i < 4; i++) {
		snprintf(jti, sizeof(jti), "c-%d", i);
		assert_int_equal(check(f, "iss", jti, NOW + 100, NOW + 1, 1000), 1);
	}
	assert_int_equal(tfx_file_size(f->db), FILE_SIZE(2048));
	assert_int_equal(check(f, "iss", "c-4", NOW + 100, NOW + 1, 1000), 0);
	/* shrinking below the live entries would forget some: fail closed */
	assert_int_equal(check(f, "iss", "c-0", NOW + 100, NOW + 2, 2), -1);
	assert_non_null(strstr(f->err, "max_entries 2"));
	assert_int_equal(tfx_file_size(f->db), FILE_SIZE(2048));
	/* shrink to 5: all five live entries fit and are kept */
	for (i = 0; i < 5; i++) {
		snprintf(jti, sizeof(jti), "c-%d", i);
		assert_int_equal(check(f, "iss", jti, NOW + 100, NOW + 3, 5), 1);
	}
	assert_int_equal(tfx_file_size(f->db), FILE_SIZE(16));
	/* once they have expired the small size is fine */
	assert_int_equal(check(f, "iss", "c-0", NOW + 1000, NOW + 100 + MARGIN, 2), 0);
	assert_int_equal(tfx_file_size(f->db), FILE_SIZE(8));
	assert_int_equal(check(f, "iss", "c-0", NOW + 1000, NOW + 100 + MARGIN, 2), 1);
	/* no temporary file is left behind */
	{
		char tmp[160];
		struct stat st;

		snprintf(tmp, sizeof(tmp), "%s/replay.db.tmp", f->dir);
		assert_int_equal(lstat(tmp, &st), -1);
		assert_int_equal(errno, ENOENT);
	}
}

static void test_file_mode_refused(void **state)
{
	struct tfx_replay *f = *state;

	assert_int_equal(check(f, "iss", "m-1", NOW + 100, NOW, 10), 0);
	assert_int_equal(chmod(f->db, 0640), 0);
	assert_int_equal(check(f, "iss", "m-2", NOW + 100, NOW, 10), -1);
	assert_non_null(strstr(f->err, f->db));
	assert_non_null(strstr(f->err, "mode 0640"));
	assert_int_equal(chmod(f->db, 0604), 0);
	assert_int_equal(check(f, "iss", "m-2", NOW + 100, NOW, 10), -1);
	assert_non_null(strstr(f->err, "mode 0604"));
	/* back to 0600: the entry from before is still there */
	assert_int_equal(chmod(f->db, 0600), 0);
	assert_int_equal(check(f, "iss", "m-1", NOW + 100, NOW, 10), 1);
}

static void test_file_owner_refused(void **state)
{
	struct tfx_replay *f = *state;
	char want[64];

	if (geteuid() != 0)
		skip();
	assert_int_equal(check(f, "iss", "o-1", NOW + 100, NOW, 10), 0);
	assert_int_equal(chown(f->db, 1000, 1000), 0);
	assert_int_equal(check(f, "iss", "o-2", NOW + 100, NOW, 10), -1);
	snprintf(want, sizeof(want), "owned by uid 1000, must be %lu",
		 (unsigned long)geteuid());
	assert_non_null(strstr(f->err, want));
	assert_non_null(strstr(f->err, f->db));
}

static void test_dir_refused(void **state)
{
	struct tfx_replay *f = *state;
	char other[128];

	/* group-writable directory */
	assert_int_equal(mkdir(f->dir, 0700), 0);
	assert_int_equal(chmod(f->dir, 0770), 0);
	assert_int_equal(check(f, "iss", "d-1", NOW + 100, NOW, 10), -1);
	assert_non_null(strstr(f->err, "writable by group or others"));
	assert_non_null(strstr(f->err, f->dir));
	assert_int_equal(chmod(f->dir, 0755), 0); /* readable is fine */
	assert_int_equal(check(f, "iss", "d-1", NOW + 100, NOW, 10), 0);

	/* owned by someone else (root only) */
	if (geteuid() == 0) {
		assert_int_equal(chown(f->dir, 1000, 1000), 0);
		assert_int_equal(check(f, "iss", "d-2", NOW + 100, NOW, 10), -1);
		assert_non_null(strstr(f->err, "owned by uid 1000"));
		assert_int_equal(chown(f->dir, 0, 0), 0);
	}

	/* the directory is a symlink to a valid one */
	snprintf(other, sizeof(other), "%s/real", f->tmp.dir);
	assert_int_equal(rename(f->dir, other), 0);
	assert_int_equal(symlink(other, f->dir), 0);
	assert_int_equal(check(f, "iss", "d-3", NOW + 100, NOW, 10), -1);
	assert_non_null(strstr(f->err, "symbolic link"));

	/* the path is a regular file */
	assert_int_equal(unlink(f->dir), 0);
	{
		int fd = open(f->dir, O_CREAT | O_WRONLY, 0600);

		assert_true(fd >= 0);
		close(fd);
	}
	assert_int_equal(check(f, "iss", "d-4", NOW + 100, NOW, 10), -1);
	assert_non_null(strstr(f->err, "not a directory"));
}

static void test_file_symlink_refused(void **state)
{
	struct tfx_replay *f = *state;
	char target[128];
	struct stat st;

	/* a valid cache elsewhere, linked in under the expected name */
	assert_int_equal(check(f, "iss", "s-1", NOW + 100, NOW, 10), 0);
	snprintf(target, sizeof(target), "%s/elsewhere.db", f->tmp.dir);
	assert_int_equal(rename(f->db, target), 0);
	assert_int_equal(symlink(target, f->db), 0);
	assert_int_equal(check(f, "iss", "s-2", NOW + 100, NOW, 10), -1);
	assert_non_null(strstr(f->err, "symbolic link"));
	assert_non_null(strstr(f->err, f->db));
	/* a dangling symlink is not followed to create its target either */
	assert_int_equal(unlink(target), 0);
	assert_int_equal(check(f, "iss", "s-3", NOW + 100, NOW, 10), -1);
	assert_non_null(strstr(f->err, "symbolic link"));
	assert_int_equal(lstat(target, &st), -1);
}

static void test_corrupt_magic(void **state)
{
	struct tfx_replay *f = *state;

	assert_int_equal(check(f, "iss", "jti-1", NOW + 100, NOW, 100), 0);
	pwrite_at(f->db, 0, "GARBAGE!", 8);
	assert_fails_closed(f, "bad magic");
}

static void test_corrupt_size(void **state)
{
	struct tfx_replay *f = *state;

	assert_int_equal(check(f, "iss", "jti-1", NOW + 100, NOW, 100), 0);
	assert_int_equal(truncate(f->db, tfx_file_size(f->db) - 1), 0);
	assert_fails_closed(f, "corrupt");
}

static void test_corrupt_short(void **state)
{
	struct tfx_replay *f = *state;

	assert_int_equal(mkdir(f->dir, 0700), 0);
	{
		int fd = open(f->db, O_CREAT | O_WRONLY | O_EXCL, 0600);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, "PAREPLAY", 8), 8);
		close(fd);
	}
	assert_fails_closed(f, "shorter than the header");
}

static void test_corrupt_header_fields(void **state)
{
	struct tfx_replay *f = *state;
	uint32_t version = 7;
	uint64_t cap = 255, count = 100000;

	assert_int_equal(check(f, "iss", "jti-1", NOW + 100, NOW, 100), 0);
	pwrite_at(f->db, 8, &version, sizeof(version));
	assert_fails_closed(f, "unsupported version 7");

	version = 2;
	pwrite_at(f->db, 8, &version, sizeof(version));
	assert_int_equal(check(f, "iss", "jti-1", NOW + 100, NOW, 100), 1);
	pwrite_at(f->db, 16, &cap, sizeof(cap));
	assert_fails_closed(f, "corrupt header");

	cap = 256;
	pwrite_at(f->db, 16, &cap, sizeof(cap));
	assert_int_equal(check(f, "iss", "jti-1", NOW + 100, NOW, 100), 1);
	pwrite_at(f->db, 24, &count, sizeof(count));
	assert_fails_closed(f, "corrupt header");
}

/*
 * The empty file a crashed first creator may leave is a new cache, and a
 * stale temporary file from a crashed rebuild does not block rebuilds.
 */
static void test_empty_file_and_stale_tmp(void **state)
{
	struct tfx_replay *f = *state;
	char tmp[160];
	int fd;

	assert_int_equal(mkdir(f->dir, 0700), 0);
	fd = open(f->db, O_CREAT | O_WRONLY | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(tmp, sizeof(tmp), "%s/replay.db.tmp", f->dir);
	fd = open(tmp, O_CREAT | O_WRONLY | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "junk", 4), 4);
	close(fd);
	assert_int_equal(check(f, "iss", "e-1", NOW + 100, NOW, 10), 0);
	assert_int_equal(check(f, "iss", "e-1", NOW + 100, NOW, 10), 1);
	assert_int_equal(tfx_file_size(f->db), FILE_SIZE(32));
	assert_int_equal(access(tmp, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_use_then_replay, tfx_replay_setup,
						tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, tfx_replay_setup,
						tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_expired_entries_reusable, tfx_replay_setup,
						tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_tombstones_keep_chains, tfx_replay_setup,
						tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_full_table_fails_closed, tfx_replay_setup,
						tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_matches_model, tfx_replay_setup,
						tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_capacity_change_keeps_live_entries,
						tfx_replay_setup, tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_file_mode_refused, tfx_replay_setup,
						tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_file_owner_refused, tfx_replay_setup,
						tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_dir_refused, tfx_replay_setup,
						tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_file_symlink_refused, tfx_replay_setup,
						tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_magic, tfx_replay_setup,
						tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_size, tfx_replay_setup,
						tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_short, tfx_replay_setup,
						tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_header_fields, tfx_replay_setup,
						tfx_tmp_teardown),
		cmocka_unit_test_setup_teardown(test_empty_file_and_stale_tmp, tfx_replay_setup,
						tfx_tmp_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
