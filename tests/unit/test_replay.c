/*
 * test_replay.c - unit tests of the replay cache (identity/replay.c).
 *
 * Every test works in its own mkdtemp() directory, removed afterwards. The
 * cache directory is a not-yet-existing subdirectory, so its creation is
 * exercised too. Tests that need a file owned by another uid run only as
 * root and are skipped otherwise.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

/* Must match RC_EXP_MARGIN in replay.c: entries outlive exp by this much. */
#define MARGIN 300
#define NOW 1700000000
#define ERRLEN 512
/* Header, slot and agent entry sizes of the on-disk format (see replay.c). */
#define HDR_SIZE 64
#define SLOT_SIZE 32
#define AGENT_SIZE 32
/* File size of a table of cap slots: the slots, then as many agent entries. */
#define FILE_SIZE(cap) (HDR_SIZE + (cap) * (SLOT_SIZE + AGENT_SIZE))

struct fixture {
	char root[64];	 /* mkdtemp directory */
	char dir[96];	 /* cache directory (root/cache), created by the code */
	char db[128];	 /* dir/replay.db */
	char err[ERRLEN];
};

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	strcpy(f->root, "/tmp/pa_replay_test.XXXXXX");
	if (mkdtemp(f->root) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->dir, sizeof(f->dir), "%s/cache", f->root);
	snprintf(f->db, sizeof(f->db), "%s/replay.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int rc = nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);

	free(f);
	return rc;
}

/* id_replay_check on the fixture's directory; err goes into f->err. */
static int check(struct fixture *f, const char *iss, const char *jti,
		 int64_t exp, int64_t now, size_t max)
{
	f->err[0] = '\0';
	return id_replay_check(f->dir, iss, jti, exp, now, max, f->err, sizeof(f->err));
}

static off_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/* Reads the whole file into a heap buffer. */
static unsigned char *slurp(const char *path, size_t *len)
{
	unsigned char *buf;
	FILE *fp = fopen(path, "rb");
	long n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
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
static void assert_fails_closed(struct fixture *f, const char *want)
{
	unsigned char *before, *after;
	size_t blen, alen;

	before = slurp(f->db, &blen);
	assert_int_equal(check(f, "iss", "new-jti", NOW + 60, NOW, 100), -1);
	assert_non_null(strstr(f->err, want));
	assert_non_null(strstr(f->err, f->db));
	assert_int_equal(check(f, "iss", "jti-1", NOW + 60, NOW, 100), -1);
	after = slurp(f->db, &alen);
	assert_int_equal(alen, blen);
	assert_memory_equal(after, before, blen);
	free(before);
	free(after);
}

static void test_first_use_then_replay(void **state)
{
	struct fixture *f = *state;
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
	struct fixture *f = *state;

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
	struct fixture *f = *state;
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
	struct fixture *f = *state;
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
	struct fixture *f = *state;
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

/* A small deterministic PRNG (xorshift64*) so runs are reproducible. */
static uint64_t prng(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
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
	struct fixture *f = *state;
	int64_t expiry[ISS][JTI] = { { 0 } };
	int64_t now = NOW;
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	int seen[3] = { 0, 0, 0 };
	char iss[16], jti[16];
	int step, a, b;

	for (step = 0; step < STEPS; step++) {
		int i = (int)(prng(&seed) % ISS), j = (int)(prng(&seed) % JTI);
		int64_t exp;
		int live = 0, want, got;

		now += (int64_t)(prng(&seed) % 40);
		exp = now + (int64_t)(prng(&seed) % 40);
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
	assert_int_equal(file_size(f->db), FILE_SIZE(32));
}

static void test_capacity_change_keeps_live_entries(void **state)
{
	struct fixture *f = *state;
	char jti[32];
	int i;

	for (i = 0; i < 4; i++) {
		snprintf(jti, sizeof(jti), "c-%d", i);
		assert_int_equal(check(f, "iss", jti, NOW + 100, NOW, 4), 0);
	}
	assert_int_equal(file_size(f->db), FILE_SIZE(8));
	/* grow: 1000 -> 2048 slots, every live entry carried over */
	for (i = 0; i < 4; i++) {
		snprintf(jti, sizeof(jti), "c-%d", i);
		assert_int_equal(check(f, "iss", jti, NOW + 100, NOW + 1, 1000), 1);
	}
	assert_int_equal(file_size(f->db), FILE_SIZE(2048));
	assert_int_equal(check(f, "iss", "c-4", NOW + 100, NOW + 1, 1000), 0);
	/* shrinking below the live entries would forget some: fail closed */
	assert_int_equal(check(f, "iss", "c-0", NOW + 100, NOW + 2, 2), -1);
	assert_non_null(strstr(f->err, "max_entries 2"));
	assert_int_equal(file_size(f->db), FILE_SIZE(2048));
	/* shrink to 5: all five live entries fit and are kept */
	for (i = 0; i < 5; i++) {
		snprintf(jti, sizeof(jti), "c-%d", i);
		assert_int_equal(check(f, "iss", jti, NOW + 100, NOW + 3, 5), 1);
	}
	assert_int_equal(file_size(f->db), FILE_SIZE(16));
	/* once they have expired the small size is fine */
	assert_int_equal(check(f, "iss", "c-0", NOW + 1000, NOW + 100 + MARGIN, 2), 0);
	assert_int_equal(file_size(f->db), FILE_SIZE(8));
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
	struct fixture *f = *state;

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
	struct fixture *f = *state;
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
	struct fixture *f = *state;
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
	snprintf(other, sizeof(other), "%s/real", f->root);
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
	struct fixture *f = *state;
	char target[128];
	struct stat st;

	/* a valid cache elsewhere, linked in under the expected name */
	assert_int_equal(check(f, "iss", "s-1", NOW + 100, NOW, 10), 0);
	snprintf(target, sizeof(target), "%s/elsewhere.db", f->root);
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
	struct fixture *f = *state;

	assert_int_equal(check(f, "iss", "jti-1", NOW + 100, NOW, 100), 0);
	pwrite_at(f->db, 0, "GARBAGE!", 8);
	assert_fails_closed(f, "bad magic");
}

static void test_corrupt_size(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(check(f, "iss", "jti-1", NOW + 100, NOW, 100), 0);
	assert_int_equal(truncate(f->db, file_size(f->db) - 1), 0);
	assert_fails_closed(f, "corrupt");
}

static void test_corrupt_short(void **state)
{
	struct fixture *f = *state;

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
	struct fixture *f = *state;
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
	struct fixture *f = *state;
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
	assert_int_equal(file_size(f->db), FILE_SIZE(32));
	assert_int_equal(access(tmp, F_OK), -1);
}

/*
 * Two processes try the same n jtis at the same time, in different orders
 * (and, when max_a != max_b, with capacities that differ, so nearly every
 * call replaces the file under the other process). Each jti must be
 * accepted by exactly one of them and reported as a replay to the other.
 */
static void race(struct fixture *f, int n, size_t max_a, size_t max_b)
{
	signed char *res;
	char *errs;
	int go[2], k, i, status, accepted[2] = { 0, 0 };
	pid_t pid[2];
	size_t maplen = 2 * (size_t)n + 2 * ERRLEN;

	res = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		   -1, 0);
	assert_true(res != MAP_FAILED);
	memset(res, 9, 2 * (size_t)n);
	errs = (char *)res + 2 * n;
	errs[0] = errs[ERRLEN] = '\0';
	assert_int_equal(pipe(go), 0);

	for (k = 0; k < 2; k++) {
		pid[k] = fork();
		assert_true(pid[k] >= 0);
		if (pid[k] == 0) {
			int *order = malloc((size_t)n * sizeof(*order));
			uint64_t seed = 12345;
			char jti[32], c;

			close(go[1]);
			if (order == NULL || read(go[0], &c, 1) != 0)
				_exit(3);
			for (i = 0; i < n; i++)
				order[i] = i;
			if (k == 1) {
				for (i = n - 1; i > 0; i--) {
					int j = (int)(prng(&seed) % (uint64_t)(i + 1));
					int t = order[i];

					order[i] = order[j];
					order[j] = t;
				}
			}
			for (i = 0; i < n; i++) {
				int r;

				snprintf(jti, sizeof(jti), "race-%d", order[i]);
				r = id_replay_check(f->dir, "https://issuer.example", jti,
						    NOW + 600, NOW, k == 0 ? max_a : max_b,
						    errs + k * ERRLEN, ERRLEN);
				res[k * n + order[i]] = (signed char)r;
				if (r < 0)
					_exit(2);
			}
			free(order);
			_exit(0);
		}
	}
	close(go[0]);
	close(go[1]); /* both children start now */
	for (k = 0; k < 2; k++) {
		assert_int_equal(waitpid(pid[k], &status, 0), pid[k]);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("child %d failed (status %d): %s", k, status,
				 errs + k * ERRLEN);
	}
	for (i = 0; i < n; i++) {
		int a = res[i], b = res[n + i];

		/* union: at least one accepted; intersection: not both */
		if (!((a == 0 && b == 1) || (a == 1 && b == 0)))
			fail_msg("jti %d: results %d and %d", i, a, b);
		accepted[0] += a == 0;
		accepted[1] += b == 0;
	}
	assert_int_equal(accepted[0] + accepted[1], n);
	print_message("race: %d accepted by the first process, %d by the second\n",
		      accepted[0], accepted[1]);
	munmap(res, maplen);
}

static void test_two_processes_10000(void **state)
{
	race(*state, 10000, 20000, 20000);
}

static void test_two_processes_while_rebuilding(void **state)
{
	struct fixture *f = *state;

	race(f, 600, 600, 2000);
	/* the last writer decided the size: one of the two capacities */
	assert_true(file_size(f->db) == FILE_SIZE(2048) ||
		    file_size(f->db) == FILE_SIZE(4096));
}

/* id_replay_check_agent with a quota; err goes into f->err. */
static int check_agent(struct fixture *f, const char *agent, const char *jti, int64_t exp,
		       int64_t now, size_t max, size_t quota)
{
	f->err[0] = '\0';
	return id_replay_check_agent(f->dir, "iss", jti, agent, exp, now, max, quota, f->err,
				     sizeof(f->err));
}

/*
 * F4: one agent filling its quota is refused while another agent is still
 * accepted; its replays are still replays, and it gets room again when its
 * entries expire.
 */
static void test_agent_quota(void **state)
{
	struct fixture *f = *state;
	char jti[32];
	int i;

	for (i = 0; i < 10; i++) {
		snprintf(jti, sizeof(jti), "a-%d", i);
		assert_int_equal(check_agent(f, "agent-a", jti, NOW + 100, NOW, 100, 10), 0);
	}
	assert_int_equal(check_agent(f, "agent-a", "a-10", NOW + 100, NOW, 100, 10), -1);
	assert_non_null(strstr(f->err, "agent agent-a holds 10 live entries, its quota"));
	/* a replay of the agent at its quota is still reported as a replay */
	assert_int_equal(check_agent(f, "agent-a", "a-3", NOW + 100, NOW, 100, 10), 1);
	/* the table is far from full: every other agent is accepted */
	for (i = 0; i < 10; i++) {
		snprintf(jti, sizeof(jti), "b-%d", i);
		assert_int_equal(check_agent(f, "agent-b", jti, NOW + 100, NOW, 100, 10), 0);
	}
	assert_int_equal(check_agent(f, "agent-c", "c-0", NOW + 100, NOW, 100, 10), 0);
	/* the same jti of another agent of the same issuer is still a replay */
	assert_int_equal(check_agent(f, "agent-b", "a-0", NOW + 100, NOW, 100, 10), 1);
	/* once a's entries have expired it has room again */
	assert_int_equal(check_agent(f, "agent-a", "a-10", NOW + 1000, NOW + 100 + MARGIN,
				     100, 10), 0);
}

/*
 * F4: a full cache does not refuse an agent under its quota: the agent with
 * the most entries loses its oldest, and its evicted tokens are refused
 * (behind its floor), never accepted again.
 */
static void test_full_cache_evicts_largest(void **state)
{
	struct fixture *f = *state;
	char jti[32];
	int i;

	/* max 16: a holds 12 (its quota), b 4: full */
	for (i = 0; i < 12; i++) {
		snprintf(jti, sizeof(jti), "a-%d", i);
		assert_int_equal(check_agent(f, "a", jti, NOW + 100 + i, NOW, 16, 12), 0);
	}
	for (i = 0; i < 4; i++) {
		snprintf(jti, sizeof(jti), "b-%d", i);
		assert_int_equal(check_agent(f, "b", jti, NOW + 200, NOW, 16, 12), 0);
	}
	/* c has nothing: it gets in, a loses its oldest entry (a-0) */
	assert_int_equal(check_agent(f, "c", "c-0", NOW + 300, NOW + 1, 16, 12), 0);
	/* a-0 is not accepted again: a's floor refuses it */
	assert_int_equal(check_agent(f, "a", "a-0", NOW + 100, NOW + 2, 16, 12), -1);
	assert_non_null(strstr(f->err, "agent a: the cache was full and its records up to"));
	/* every other entry is still there */
	for (i = 1; i < 12; i++) {
		snprintf(jti, sizeof(jti), "a-%d", i);
		assert_int_equal(check_agent(f, "a", jti, NOW + 100 + i, NOW + 2, 16, 12), 1);
	}
	for (i = 0; i < 4; i++) {
		snprintf(jti, sizeof(jti), "b-%d", i);
		assert_int_equal(check_agent(f, "b", jti, NOW + 200, NOW + 2, 16, 12), 1);
	}
	assert_int_equal(check_agent(f, "c", "c-0", NOW + 300, NOW + 2, 16, 12), 1);
	/* b (4) gets in again at a's expense (a has 11) */
	assert_int_equal(check_agent(f, "b", "b-4", NOW + 200, NOW + 2, 16, 12), 0);
	assert_int_equal(check_agent(f, "a", "a-1", NOW + 101, NOW + 2, 16, 12), -1);
	assert_non_null(strstr(f->err, "were dropped to make room"));
	/*
	 * a, now the newcomer with 10 entries, finds no agent holding more:
	 * the full cache refuses it rather than evicting others' entries
	 */
	assert_int_equal(check_agent(f, "a", "a-new", NOW + 400, NOW + 2, 16, 12), -1);
	assert_non_null(strstr(f->err, "full ("));
	assert_non_null(strstr(f->err, "no other agent holds more entries than agent a"));
	/* once a's floor has passed, a new token of a is fine (room made by expiry) */
	assert_int_equal(check_agent(f, "a", "a-new", NOW + 1000, NOW + 111 + MARGIN, 16, 12), 0);
}

/*
 * F4: whatever quotas and evictions do, a token accepted once is never
 * accepted again while its entry would be live: random calls of four
 * agents (one greedy) on a small table, each call presenting the current
 * token of an (agent, jti) again until its replay window has passed, then
 * a new token with that jti. Refusals are only quota, floor or "no other
 * agent holds more" ones.
 */
static void test_eviction_never_allows_replay(void **state)
{
	enum { AGENTS = 4, JTI = 60, MAX = 16, QUOTA = 6, STEPS = 5000 };
	struct fixture *f = *state;
	int64_t token_exp[AGENTS][JTI] = { { 0 } };
	bool accepted_once[AGENTS][JTI] = { { false } };
	int64_t now = NOW;
	uint64_t seed = 0x2545f4914f6cdd1dull;
	unsigned accepted = 0, refused = 0, replays = 0;
	unsigned quota = 0, floor = 0, full = 0, others_refused = 0, others_new = 0;
	char agent[16], jti[16];
	int step;

	for (step = 0; step < STEPS; step++) {
		/* agent 0 calls four times as often as each other one */
		int r = (int)(prng(&seed) % 7), i = r < 4 ? 0 : r - 3;
		int j = (int)(prng(&seed) % JTI);
		int got;

		now += (int64_t)(prng(&seed) % 40);
		if (token_exp[i][j] + MARGIN <= now) {
			/* the old token is past any replay window: a new one */
			token_exp[i][j] = now + 20 + (int64_t)(prng(&seed) % 40);
			accepted_once[i][j] = false;
		}
		snprintf(agent, sizeof(agent), "agent-%d", i);
		snprintf(jti, sizeof(jti), "%d-%d", i, j);
		got = check_agent(f, agent, jti, token_exp[i][j], now, MAX, QUOTA);
		if (accepted_once[i][j] && got == 0)
			fail_msg("step %d: token %s (exp %" PRId64 ") accepted twice, at %" PRId64,
				 step, jti, token_exp[i][j], now);
		if (!accepted_once[i][j] && got == 1)
			fail_msg("step %d: token %s called a replay before it was accepted: %s",
				 step, jti, f->err);
		if (got == 0) {
			accepted_once[i][j] = true;
			accepted++;
		} else if (got == 1) {
			replays++;
		} else {
			refused++;
			if (strstr(f->err, "quota") != NULL)
				quota++;
			else if (strstr(f->err, "dropped") != NULL)
				floor++;
			else if (strstr(f->err, "no other agent holds more") != NULL)
				full++;
			else
				fail_msg("step %d: unexpected refusal: %s", step, f->err);
			if (i != 0)
				others_refused++;
		}
		if (i != 0 && got != 1)
			others_new++;
	}
	print_message("%u accepted, %u replays, %u refused (%u quota, %u floor, %u full); "
		      "the other agents: %u of %u new tokens refused\n", accepted, replays,
		      refused, quota, floor, full, others_refused, others_new);
	assert_true(accepted > 500);
	assert_true(replays > 50);
	/* the greedy agent meets its quota; the others rarely meet a full cache */
	assert_true(quota > 100);
	assert_true(others_refused * 10 < others_new);
}

/*
 * A version 1 file (no agent tags) is carried over: its live entries stay
 * replays, belong to no agent and are never evicted.
 */
static void test_version1_file_carried_over(void **state)
{
	struct fixture *f = *state;
	unsigned char file[64 + 8 * 24], md[EVP_MAX_MD_SIZE];
	unsigned char key[16];
	unsigned int mdlen = 0;
	uint32_t u32;
	uint64_t u64, home;
	int64_t i64;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int fd;

	memset(file, 0, sizeof(file));
	memset(key, 0x42, sizeof(key));
	memcpy(file, "PAREPLAY", 8);
	u32 = 1;
	memcpy(file + 8, &u32, 4);
	u32 = 24;
	memcpy(file + 12, &u32, 4);
	u64 = 8;
	memcpy(file + 16, &u64, 8);
	u64 = 1;
	memcpy(file + 24, &u64, 8);
	i64 = NOW + 100 + MARGIN;
	memcpy(file + 32, &i64, 8);
	memcpy(file + 40, key, 16);
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, key, 16), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, "iss", 4), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, "old-jti", 7), 1);
	assert_int_equal(EVP_DigestFinal_ex(ctx, md, &mdlen), 1);
	EVP_MD_CTX_free(ctx);
	memcpy(&home, md, 8);
	home &= 7;
	memcpy(file + 64 + home * 24, md, 16);
	memcpy(file + 64 + home * 24 + 16, &i64, 8);
	assert_int_equal(mkdir(f->dir, 0700), 0);
	fd = open(f->db, O_CREAT | O_WRONLY | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, file, sizeof(file)), (ssize_t)sizeof(file));
	close(fd);

	assert_int_equal(check_agent(f, "a", "old-jti", NOW + 100, NOW, 4, 4), 1);
	assert_int_equal(file_size(f->db), FILE_SIZE(8));
	assert_int_equal(check_agent(f, "a", "a-1", NOW + 100, NOW, 4, 4), 0);
	assert_int_equal(check_agent(f, "a", "a-2", NOW + 100, NOW, 4, 4), 0);
	assert_int_equal(check_agent(f, "b", "b-1", NOW + 100, NOW, 4, 4), 0);
	/* full: a (2) is the largest agent; the old entry is never the victim */
	assert_int_equal(check_agent(f, "c", "c-1", NOW + 100, NOW, 4, 4), 0);
	assert_int_equal(check_agent(f, "a", "old-jti", NOW + 100, NOW, 4, 4), 1);
	assert_int_equal(check_agent(f, "zz", "old-jti", NOW + 100, NOW, 4, 4), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_use_then_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expired_entries_reusable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tombstones_keep_chains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_table_fails_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_matches_model, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capacity_change_keeps_live_entries,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_mode_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_owner_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dir_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_symlink_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_magic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_short, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_header_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_file_and_stale_tmp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agent_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_cache_evicts_largest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eviction_never_allows_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version1_file_carried_over, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_processes_10000, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_processes_while_rebuilding,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
