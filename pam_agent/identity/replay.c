/*
 * replay.c - the host-wide replay cache for single-use tokens
 * (id_replay_check, see include/identity.h).
 *
 * One file, DIR/replay.db, shared by every process that loads the module
 * (sshd, sudo, su, agent-run, ...). Every check-and-insert runs under an
 * exclusive flock(2) on that file, so two processes can never both accept
 * the same (issuer, jti).
 *
 * File format, native byte order (the file lives on a local tmpfs such as
 * /run and is never carried between hosts; a foreign byte order shows up as
 * a bad version and fails closed):
 *
 *   header, 64 bytes (struct rc_header)
 *     magic      8 bytes "PAREPLAY"
 *     version    u32 1
 *     slot_size  u32 24
 *     capacity   u64 number of slots, a power of two
 *     count      u64 non-empty slots: live entries plus expired entries not
 *                    yet reclaimed (the live count depends on the clock, so
 *                    it is never stored; count is an upper bound of it)
 *     min_exp    i64 a lower bound of the expiry of every non-empty slot,
 *                    INT64_MAX when there is none (lets a full table answer
 *                    "full" without a scan)
 *     key        16 random bytes, the secret key of the slot hash
 *     reserved   8 zero bytes
 *   capacity slots of 24 bytes (struct rc_slot)
 *     hash       the first 16 bytes of SHA-256(key || issuer || 0x00 || jti)
 *                (neither string can contain a NUL, so the input is
 *                unambiguous; the key keeps token issuers from choosing jtis
 *                that collide and build long probe chains)
 *     exp        expiry in Unix seconds; 0 marks a never-used (empty) slot
 *
 * Open addressing with linear probing from hash & (capacity - 1).
 *
 * Slot states and tombstone semantics:
 *   - empty (exp == 0): never written since the file was built. It ends
 *     every probe chain. Slots only become empty again through a rebuild.
 *   - live (exp > now): a used token; a probe that meets a live slot with
 *     the same hash reports a replay.
 *   - expired (0 < exp <= now): a tombstone. It does NOT end a probe chain
 *     (a live entry for the same key may sit further on), but the first
 *     expired slot met on the chain is where a new entry goes once the whole
 *     chain up to the empty slot has been searched without a live match.
 * Since the chain is always searched to its empty slot before anything is
 * written, a key never has two live slots, and overwriting a tombstone
 * never hides an entry that sits further on the chain.
 *
 * Size and reclaiming: the capacity is the next power of two >= 2 *
 * max_entries (at least 8), and count is kept <= max_entries, so at most
 * half of the slots are non-empty and chains stay short. A new entry goes
 * into a tombstone on its chain when there is one, else into the empty
 * slot when count < max_entries. Otherwise, if no slot can have expired
 * (min_exp > now) the table holds max_entries live entries and the call
 * fails closed ("full"): a live entry is never evicted. If some may have
 * expired, the table is compacted: rebuilt with only its live entries.
 *
 * Rebuilds (first use, compaction, a change of max_entries that changes
 * the capacity) write a complete new table to DIR/replay.db.tmp (reserved
 * with posix_fallocate, so running out of space is reported here and later
 * writes into the table cannot fail for lack of space), fsync it and
 * rename it over replay.db while holding the lock on the old file and on
 * the new one. A process that was waiting for the lock on the old file sees
 * that the path now names another file and starts over with the new one.
 * Live entries are always carried over; a rebuild that would have to drop
 * a live entry (shrinking below the number of live entries) fails closed.
 *
 * A file that is not a replay cache of this version (bad magic, version,
 * size, or header fields) is never rebuilt automatically: it might hold
 * live entries that could not be read, and forgetting them would let used
 * tokens be replayed. Such a cache fails closed until an administrator
 * removes the file. An empty file (size 0) is a new cache.
 *
 * Entries are kept until exp + RC_EXP_MARGIN, so that a verifier that
 * accepts tokens up to its clock leeway after exp can never meet a token
 * whose entry has already been dropped (leeway must be <= the margin).
 *
 * Writes go through pwrite(2) into the page cache, so they are visible to
 * every other process at once; they are not fsync'ed per call (the cache
 * lives on tmpfs, and a crash of the host also ends every token session).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "identity.h"
#include "util.h"

#define RC_FILE "replay.db"
#define RC_TMP_FILE "replay.db.tmp"
#define RC_MAGIC "PAREPLAY"
#define RC_VERSION 1u
#define RC_HASH_LEN 16
#define RC_KEY_LEN 16
/* Entries outlive their token by this many seconds (see the top comment). */
#define RC_EXP_MARGIN 300
/* Largest max_entries accepted: 2^25 slots, a 768 MiB file. */
#define RC_MAX_ENTRIES ((size_t)1 << 24)
#define RC_MIN_CAPACITY 8
/* How long a caller waits for another process holding the lock. */
#define RC_LOCK_TIMEOUT_MS 5000
/* How often the file may be replaced under us before we give up. */
#define RC_MAX_ATTEMPTS 16
/* Slots read per pread() while probing, and while rebuilding. */
#define RC_PROBE_CHUNK 64
#define RC_REBUILD_CHUNK 4096

struct rc_header {
	char magic[8];
	uint32_t version;
	uint32_t slot_size;
	uint64_t capacity;
	uint64_t count;
	int64_t min_exp;
	unsigned char key[RC_KEY_LEN];
	unsigned char reserved[8];
};

struct rc_slot {
	unsigned char hash[RC_HASH_LEN];
	int64_t exp;
};

_Static_assert(sizeof(struct rc_header) == 64, "replay header must be 64 bytes");
_Static_assert(sizeof(struct rc_slot) == 24, "replay slot must be 24 bytes");
_Static_assert(offsetof(struct rc_header, min_exp) ==
	       offsetof(struct rc_header, count) + 8,
	       "count and min_exp are written together");

#define RC_HDR_SIZE ((off_t)sizeof(struct rc_header))
#define RC_SLOT_SIZE ((off_t)sizeof(struct rc_slot))

/* Outcome of one probe of an open, locked, valid table. */
enum rc_result {
	RC_FAIL = -1,
	RC_FIRST = 0,	/* not seen before, now recorded */
	RC_REPLAY = 1,	/* a live entry for the key exists */
	RC_COMPACT = 2,	/* no room, but entries may have expired: rebuild */
};

/* State of one id_replay_check() call. */
struct rc {
	int dirfd;
	int fd;
	char shown[PA_ESCAPE_MAX + sizeof("/" RC_FILE)]; /* escaped, for messages */
	struct rc_header hdr;
};

/* The slot count for max_entries: the next power of two >= 2 * max_entries. */
static uint64_t rc_capacity_for(size_t max_entries)
{
	uint64_t cap = RC_MIN_CAPACITY;

	while (cap < 2 * (uint64_t)max_entries)
		cap <<= 1;
	return cap;
}

/* File size of a table of cap slots. */
static off_t rc_file_size(uint64_t cap)
{
	return RC_HDR_SIZE + (off_t)cap * RC_SLOT_SIZE;
}

/* Reads exactly len bytes at off, or fails (a short file is an error). */
static int rc_pread_full(int fd, void *buf, size_t len, off_t off)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Writes exactly len bytes at off, or fails. */
static int rc_pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
	const unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/*
 * The keyed slot hash of (issuer, jti): the first RC_HASH_LEN bytes of
 * SHA-256(key || issuer || 0x00 || jti). Returns 0 or -1.
 */
static int rc_hash(const unsigned char key[RC_KEY_LEN], const char *issuer,
		   const char *jti, unsigned char out[RC_HASH_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	int ok;

	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(ctx, key, RC_KEY_LEN) == 1 &&
	     EVP_DigestUpdate(ctx, issuer, strlen(issuer) + 1) == 1 &&
	     EVP_DigestUpdate(ctx, jti, strlen(jti)) == 1 &&
	     EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen >= RC_HASH_LEN;
	EVP_MD_CTX_free(ctx);
	if (ok)
		memcpy(out, md, RC_HASH_LEN);
	pa_overwrite(md, sizeof(md));
	return ok ? 0 : -1;
}

/* The home slot of a hash in a table with capacity cap (a power of two). */
static uint64_t rc_home(const unsigned char hash[RC_HASH_LEN], uint64_t cap)
{
	uint64_t h;

	memcpy(&h, hash, sizeof(h));
	return h & (cap - 1);
}

/*
 * Makes sure dir exists (creating it 0700 when missing) and opens it,
 * checking on the descriptor that it is a real directory (not a symlink)
 * owned by the effective uid and not writable by group or others.
 * Returns the descriptor, or -1 with err.
 */
static int rc_open_dir(const char *dir, char *err, size_t errlen)
{
	char shown[PA_ESCAPE_MAX];
	struct stat st;
	int dfd;

	pa_escape(dir, strlen(dir), shown, sizeof(shown));
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return pa_err(err, errlen, "replay cache directory %s: cannot create: %s",
			      shown, strerror(errno));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		/* with O_DIRECTORY, Linux reports a final symlink as ENOTDIR */
		if (errno == ELOOP ||
		    (errno == ENOTDIR && lstat(dir, &st) == 0 && S_ISLNK(st.st_mode)))
			return pa_err(err, errlen, "replay cache directory %s: is a symbolic link",
				      shown);
		if (errno == ENOTDIR)
			return pa_err(err, errlen, "replay cache directory %s: not a directory",
				      shown);
		return pa_err(err, errlen, "replay cache directory %s: cannot open: %s",
			      shown, strerror(errno));
	}
	if (fstat(dfd, &st) != 0) {
		pa_err(err, errlen, "replay cache directory %s: cannot stat: %s",
		       shown, strerror(errno));
		goto fail;
	}
	if (!S_ISDIR(st.st_mode)) {
		pa_err(err, errlen, "replay cache directory %s: not a directory", shown);
		goto fail;
	}
	if (st.st_uid != geteuid()) {
		pa_err(err, errlen, "replay cache directory %s: owned by uid %lu, must be %lu",
		       shown, (unsigned long)st.st_uid, (unsigned long)geteuid());
		goto fail;
	}
	if ((st.st_mode & 022) != 0) {
		pa_err(err, errlen,
		       "replay cache directory %s: mode %04o is writable by group or others",
		       shown, (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	return dfd;
fail:
	close(dfd);
	return -1;
}

/*
 * Checks an opened cache file: a regular file owned by the effective uid
 * with no group or other permission bits. Fills *st. Returns 0 or -1.
 */
static int rc_check_file(const struct rc *rc, int fd, struct stat *st,
			 char *err, size_t errlen)
{
	if (fstat(fd, st) != 0)
		return pa_err(err, errlen, "replay cache %s: cannot stat: %s",
			      rc->shown, strerror(errno));
	if (!S_ISREG(st->st_mode))
		return pa_err(err, errlen, "replay cache %s: not a regular file", rc->shown);
	if (st->st_uid != geteuid())
		return pa_err(err, errlen, "replay cache %s: owned by uid %lu, must be %lu",
			      rc->shown, (unsigned long)st->st_uid,
			      (unsigned long)geteuid());
	if ((st->st_mode & 077) != 0)
		return pa_err(err, errlen,
			      "replay cache %s: mode %04o is too open (must be 0600 or stricter)",
			      rc->shown, (unsigned)(st->st_mode & 07777));
	return 0;
}

/*
 * Takes an exclusive flock on fd, waiting at most RC_LOCK_TIMEOUT_MS for
 * another holder. Returns 0 or -1 with err.
 */
static int rc_lock(const struct rc *rc, int fd, char *err, size_t errlen)
{
	struct timespec start, now, pause = { 0, 50 * 1000 };
	long waited_ms;

	if (clock_gettime(CLOCK_MONOTONIC, &start) != 0)
		return pa_err(err, errlen, "replay cache %s: clock_gettime: %s",
			      rc->shown, strerror(errno));
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return pa_err(err, errlen, "replay cache %s: cannot lock: %s",
				      rc->shown, strerror(errno));
		if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
			return pa_err(err, errlen, "replay cache %s: clock_gettime: %s",
				      rc->shown, strerror(errno));
		waited_ms = (long)(now.tv_sec - start.tv_sec) * 1000 +
			    (now.tv_nsec - start.tv_nsec) / 1000000;
		if (waited_ms >= RC_LOCK_TIMEOUT_MS)
			return pa_err(err, errlen,
				      "replay cache %s: still locked by another process after %d ms",
				      rc->shown, RC_LOCK_TIMEOUT_MS);
		nanosleep(&pause, NULL);
		/* back off up to 2 ms between attempts */
		if (pause.tv_nsec < 2 * 1000 * 1000)
			pause.tv_nsec *= 2;
	}
}

/*
 * Reads and validates the header of a non-empty cache file of size bytes
 * into rc->hdr. Returns 0, or -1 with err naming what is wrong.
 */
static int rc_read_header(struct rc *rc, off_t size, char *err, size_t errlen)
{
	static const unsigned char zero[8];
	struct rc_header *h = &rc->hdr;

	if (size < RC_HDR_SIZE)
		return pa_err(err, errlen,
			      "replay cache %s: corrupt (%jd bytes, shorter than the header); "
			      "refusing to discard it, remove it to reset", rc->shown,
			      (intmax_t)size);
	if (rc_pread_full(rc->fd, h, sizeof(*h), 0) != 0)
		return pa_err(err, errlen, "replay cache %s: cannot read header: %s",
			      rc->shown, strerror(errno));
	if (memcmp(h->magic, RC_MAGIC, sizeof(h->magic)) != 0)
		return pa_err(err, errlen,
			      "replay cache %s: bad magic, not a replay cache; "
			      "refusing to discard it, remove it to reset", rc->shown);
	if (h->version != RC_VERSION || h->slot_size != sizeof(struct rc_slot))
		return pa_err(err, errlen,
			      "replay cache %s: unsupported version %" PRIu32
			      " (slot size %" PRIu32 "); refusing to discard it, "
			      "remove it to reset", rc->shown, h->version, h->slot_size);
	if (h->capacity < RC_MIN_CAPACITY ||
	    h->capacity > rc_capacity_for(RC_MAX_ENTRIES) ||
	    (h->capacity & (h->capacity - 1)) != 0 || h->count > h->capacity ||
	    memcmp(h->reserved, zero, sizeof(zero)) != 0)
		return pa_err(err, errlen,
			      "replay cache %s: corrupt header; refusing to discard it, "
			      "remove it to reset", rc->shown);
	if (size != rc_file_size(h->capacity))
		return pa_err(err, errlen,
			      "replay cache %s: corrupt (%jd bytes, expected %jd for %" PRIu64
			      " slots); refusing to discard it, remove it to reset",
			      rc->shown, (intmax_t)size,
			      (intmax_t)rc_file_size(h->capacity), h->capacity);
	return 0;
}

/*
 * Inserts a live entry into an in-memory table being built (linear probe
 * to the first empty slot; the caller guarantees one exists).
 */
static void rc_table_put(struct rc_slot *slots, uint64_t cap,
			 const struct rc_slot *s)
{
	uint64_t i = rc_home(s->hash, cap);

	while (slots[i].exp != 0)
		i = (i + 1) & (cap - 1);
	slots[i] = *s;
}

/*
 * Replaces DIR/replay.db with a freshly built table of new_cap slots that
 * holds every live entry (exp > now) of the currently open table, or no
 * entry when fresh is true (a new, empty file; a new hash key is drawn).
 * Never drops a live entry: when more than max_entries are live, nothing
 * is replaced and the call fails. Returns 0 when the new file is in place.
 */
static int rc_rebuild(struct rc *rc, bool fresh, uint64_t new_cap, int64_t now,
		      size_t max_entries, char *err, size_t errlen)
{
	struct rc_header nh;
	struct rc_slot *chunk = NULL;
	struct rc_slot *slots;
	unsigned char *map = MAP_FAILED;
	off_t size = rc_file_size(new_cap);
	uint64_t i, n;
	int tfd = -1, rv = -1, e;

	memset(&nh, 0, sizeof(nh));
	memcpy(nh.magic, RC_MAGIC, sizeof(nh.magic));
	nh.version = RC_VERSION;
	nh.slot_size = sizeof(struct rc_slot);
	nh.capacity = new_cap;
	nh.min_exp = INT64_MAX;
	if (fresh) {
		if (RAND_bytes(nh.key, RC_KEY_LEN) != 1)
			return pa_err(err, errlen, "replay cache %s: no random bytes for the key",
				      rc->shown);
	} else {
		memcpy(nh.key, rc->hdr.key, RC_KEY_LEN);
	}

	/* a stale temporary file can only come from a crash: we hold the lock */
	if (unlinkat(rc->dirfd, RC_TMP_FILE, 0) != 0 && errno != ENOENT) {
		pa_err(err, errlen, "replay cache %s: cannot remove stale %s: %s",
		       rc->shown, RC_TMP_FILE, strerror(errno));
		goto out;
	}
	tfd = openat(rc->dirfd, RC_TMP_FILE,
		     O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (tfd < 0) {
		pa_err(err, errlen, "replay cache %s: cannot create %s: %s",
		       rc->shown, RC_TMP_FILE, strerror(errno));
		goto out;
	}
	/* held until the new file has replaced the old one and is complete */
	if (fchmod(tfd, 0600) != 0 || flock(tfd, LOCK_EX | LOCK_NB) != 0) {
		pa_err(err, errlen, "replay cache %s: cannot set up %s: %s",
		       rc->shown, RC_TMP_FILE, strerror(errno));
		goto cleanup;
	}
	e = posix_fallocate(tfd, 0, size);
	if (e != 0) {
		pa_err(err, errlen, "replay cache %s: cannot allocate %jd bytes: %s",
		       rc->shown, (intmax_t)size, strerror(e));
		goto cleanup;
	}
	map = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, tfd, 0);
	if (map == MAP_FAILED) {
		pa_err(err, errlen, "replay cache %s: cannot map %s: %s",
		       rc->shown, RC_TMP_FILE, strerror(errno));
		goto cleanup;
	}
	/* mmap returns page-aligned memory; the 64-byte header keeps slots aligned */
	slots = (struct rc_slot *)(void *)(map + RC_HDR_SIZE);

	if (!fresh) {
		chunk = calloc(RC_REBUILD_CHUNK, sizeof(*chunk));
		if (chunk == NULL) {
			pa_err(err, errlen, "replay cache %s: out of memory", rc->shown);
			goto cleanup;
		}
		for (i = 0; i < rc->hdr.capacity; i += n) {
			uint64_t j;

			n = rc->hdr.capacity - i;
			if (n > RC_REBUILD_CHUNK)
				n = RC_REBUILD_CHUNK;
			if (rc_pread_full(rc->fd, chunk, (size_t)n * sizeof(*chunk),
					  RC_HDR_SIZE + (off_t)i * RC_SLOT_SIZE) != 0) {
				pa_err(err, errlen, "replay cache %s: cannot read: %s",
				       rc->shown, strerror(errno));
				goto cleanup;
			}
			for (j = 0; j < n; j++) {
				if (chunk[j].exp <= now)
					continue; /* empty or expired */
				if (nh.count >= max_entries) {
					pa_err(err, errlen,
					       "replay cache %s: holds more than max_entries %zu live "
					       "entries; not shrinking it, which would forget them "
					       "(raise max_entries or wait until they expire)",
					       rc->shown, max_entries);
					goto cleanup;
				}
				rc_table_put(slots, new_cap, &chunk[j]);
				nh.count++;
				if (chunk[j].exp < nh.min_exp)
					nh.min_exp = chunk[j].exp;
			}
		}
	}
	memcpy(map, &nh, sizeof(nh));
	if (msync(map, (size_t)size, MS_SYNC) != 0 || fsync(tfd) != 0) {
		pa_err(err, errlen, "replay cache %s: cannot sync %s: %s",
		       rc->shown, RC_TMP_FILE, strerror(errno));
		goto cleanup;
	}
	if (renameat(rc->dirfd, RC_TMP_FILE, rc->dirfd, RC_FILE) != 0) {
		pa_err(err, errlen, "replay cache %s: cannot rename %s over it: %s",
		       rc->shown, RC_TMP_FILE, strerror(errno));
		goto cleanup;
	}
	(void)fsync(rc->dirfd); /* best effort: the new name is in place */
	rv = 0;
	goto out;
cleanup:
	(void)unlinkat(rc->dirfd, RC_TMP_FILE, 0);
out:
	if (map != MAP_FAILED)
		munmap(map, (size_t)size);
	if (tfd >= 0)
		close(tfd); /* drops the lock on the new file */
	free(chunk);
	return rv;
}

/* Writes a slot and then the header's count and min_exp. Returns 0 or -1. */
static int rc_store(struct rc *rc, uint64_t idx, const struct rc_slot *s,
		    bool was_empty, char *err, size_t errlen)
{
	int64_t counters[2];

	if (rc_pwrite_full(rc->fd, s, sizeof(*s),
			   RC_HDR_SIZE + (off_t)idx * RC_SLOT_SIZE) != 0)
		return pa_err(err, errlen, "replay cache %s: cannot write: %s",
			      rc->shown, strerror(errno));
	if (was_empty)
		rc->hdr.count++;
	if (s->exp < rc->hdr.min_exp)
		rc->hdr.min_exp = s->exp;
	counters[0] = (int64_t)rc->hdr.count;
	counters[1] = rc->hdr.min_exp;
	if (rc_pwrite_full(rc->fd, counters, sizeof(counters),
			   (off_t)offsetof(struct rc_header, count)) != 0)
		return pa_err(err, errlen, "replay cache %s: cannot write header: %s",
			      rc->shown, strerror(errno));
	return 0;
}

/*
 * Looks the key up in the open, locked, validated table and records it
 * with expiry exp when it is not live there. Returns RC_REPLAY, RC_FIRST,
 * RC_COMPACT (no room unless expired entries are reclaimed) or RC_FAIL.
 */
static enum rc_result rc_probe(struct rc *rc, const unsigned char hash[RC_HASH_LEN],
			       int64_t exp, int64_t now, size_t max_entries,
			       char *err, size_t errlen)
{
	struct rc_slot buf[RC_PROBE_CHUNK] = { { { 0 }, 0 } };
	const uint64_t cap = rc->hdr.capacity, none = UINT64_MAX;
	uint64_t idx = rc_home(hash, cap), probed = 0;
	uint64_t reuse = none, empty = none;
	struct rc_slot s;

	while (probed < cap && empty == none) {
		uint64_t n = cap - idx, i;

		if (n > cap - probed)
			n = cap - probed;
		if (n > RC_PROBE_CHUNK)
			n = RC_PROBE_CHUNK;
		if (rc_pread_full(rc->fd, buf, (size_t)n * sizeof(buf[0]),
				  RC_HDR_SIZE + (off_t)idx * RC_SLOT_SIZE) != 0) {
			pa_err(err, errlen, "replay cache %s: cannot read: %s",
			       rc->shown, strerror(errno));
			return RC_FAIL;
		}
		for (i = 0; i < n; i++) {
			if (buf[i].exp == 0) {
				empty = idx;
				break;
			}
			if (buf[i].exp <= now) {
				/* tombstone: reusable, but the chain goes on */
				if (reuse == none)
					reuse = idx;
			} else if (memcmp(buf[i].hash, hash, RC_HASH_LEN) == 0) {
				return RC_REPLAY;
			}
			idx = (idx + 1) & (cap - 1);
			probed++;
		}
	}

	memcpy(s.hash, hash, RC_HASH_LEN);
	s.exp = exp;
	/* a tombstone keeps count unchanged: live entries stay <= count */
	if (reuse != none && rc->hdr.count <= max_entries)
		return rc_store(rc, reuse, &s, false, err, errlen) == 0 ? RC_FIRST : RC_FAIL;
	if (empty != none && rc->hdr.count < max_entries)
		return rc_store(rc, empty, &s, true, err, errlen) == 0 ? RC_FIRST : RC_FAIL;
	if (rc->hdr.min_exp > now) {
		pa_err(err, errlen,
		       "replay cache %s: full (%" PRIu64 " live entries, max_entries %zu); "
		       "refusing new tokens until entries expire", rc->shown,
		       rc->hdr.count, max_entries);
		return RC_FAIL;
	}
	return RC_COMPACT;
}

/*
 * Records (issuer, jti) until exp + RC_EXP_MARGIN in DIR/replay.db under
 * an exclusive lock. Returns 0 when the pair was not live in the cache (it
 * is now), 1 when it was (a replay), -1 with err when the cache cannot be
 * used: bad directory or file ownership/permissions, a corrupt file, a
 * full table, an I/O error. Never accepts when in doubt.
 */
int id_replay_check(const char *dir, const char *issuer, const char *jti,
		    int64_t exp, int64_t now, size_t max_entries,
		    char *err, size_t errlen)
{
	struct rc rc = { .dirfd = -1, .fd = -1 };
	unsigned char hash[RC_HASH_LEN];
	uint64_t want_cap;
	int64_t expiry;
	int attempt, rv = -1;

	if (dir == NULL || *dir == '\0' || issuer == NULL || jti == NULL)
		return pa_err(err, errlen, "replay cache: missing directory, issuer or jti");
	if (*jti == '\0')
		return pa_err(err, errlen, "replay cache: empty jti");
	if (max_entries < 1 || max_entries > RC_MAX_ENTRIES)
		return pa_err(err, errlen, "replay cache: max_entries %zu out of range 1..%zu",
			      max_entries, RC_MAX_ENTRIES);
	if (now <= 0)
		return pa_err(err, errlen, "replay cache: invalid current time %" PRId64, now);
	expiry = exp > INT64_MAX - RC_EXP_MARGIN ? INT64_MAX : exp + RC_EXP_MARGIN;
	if (expiry <= now)
		return pa_err(err, errlen,
			      "replay cache: token expired at %" PRId64 ", now is %" PRId64,
			      exp, now);
	want_cap = rc_capacity_for(max_entries);

	pa_escape(dir, strlen(dir), rc.shown, PA_ESCAPE_MAX);
	strcat(rc.shown, "/" RC_FILE);
	rc.dirfd = rc_open_dir(dir, err, errlen);
	if (rc.dirfd < 0)
		return -1;

	for (attempt = 0; attempt < RC_MAX_ATTEMPTS; attempt++) {
		struct stat st, cur;
		enum rc_result r;

		rc.fd = openat(rc.dirfd, RC_FILE,
			       O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
		if (rc.fd < 0) {
			if (errno == ELOOP)
				pa_err(err, errlen, "replay cache %s: is a symbolic link", rc.shown);
			else
				pa_err(err, errlen, "replay cache %s: cannot open: %s",
				       rc.shown, strerror(errno));
			goto out;
		}
		if (rc_check_file(&rc, rc.fd, &st, err, errlen) != 0 ||
		    rc_lock(&rc, rc.fd, err, errlen) != 0)
			goto out;
		/*
		 * The file we locked must still be the one the name points at:
		 * a rebuild may have renamed a new file over it while we waited.
		 */
		if (fstatat(rc.dirfd, RC_FILE, &cur, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno == ENOENT)
				goto again;
			pa_err(err, errlen, "replay cache %s: cannot stat: %s",
			       rc.shown, strerror(errno));
			goto out;
		}
		if (cur.st_dev != st.st_dev || cur.st_ino != st.st_ino)
			goto again;
		if (rc_check_file(&rc, rc.fd, &st, err, errlen) != 0)
			goto out;

		if (st.st_size == 0) {
			if (rc_rebuild(&rc, true, want_cap, now, max_entries, err, errlen) != 0)
				goto out;
			goto again;
		}
		if (rc_read_header(&rc, st.st_size, err, errlen) != 0)
			goto out;
		if (rc.hdr.capacity != want_cap) {
			if (rc_rebuild(&rc, false, want_cap, now, max_entries, err, errlen) != 0)
				goto out;
			goto again;
		}
		/* the key belongs to this file: hash again after every reopen */
		if (rc_hash(rc.hdr.key, issuer, jti, hash) != 0) {
			pa_err(err, errlen, "replay cache %s: SHA-256 failed", rc.shown);
			goto out;
		}
		r = rc_probe(&rc, hash, expiry, now, max_entries, err, errlen);
		if (r != RC_COMPACT) {
			rv = r == RC_FAIL ? -1 : (int)r;
			goto out;
		}
		if (rc_rebuild(&rc, false, want_cap, now, max_entries, err, errlen) != 0)
			goto out;
again:
		close(rc.fd);
		rc.fd = -1;
	}
	pa_err(err, errlen, "replay cache %s: the file kept being replaced, giving up",
	       rc.shown);
out:
	if (rc.fd >= 0)
		close(rc.fd);
	close(rc.dirfd);
	return rv;
}
