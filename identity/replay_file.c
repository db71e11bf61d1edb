/*
 * replay_file.c - the replay cache's file (replay_int.h; the format is
 * described in replay.c): sizes and offsets, whole reads and writes, the
 * keyed hashes, the directory and file checks, the lock, the header, and
 * the rebuild that writes a new file under the lock and renames it into
 * place.
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

#include "key_int.h"
#include "replay_int.h"

/* The slot count for max_entries: the next power of two >= 2 * max_entries. */
uint64_t id_rc_capacity_for(size_t max_entries)
{
	uint64_t cap = RC_MIN_CAPACITY;

	while (cap < 2 * (uint64_t)max_entries)
		cap <<= 1;
	return cap;
}

/* Most agents tracked at once (see the top comment); < the capacity. */
uint64_t id_rc_agents_limit(size_t max_entries)
{
	return (uint64_t)max_entries + (uint64_t)max_entries / 2;
}

/* File size of a table of cap slots (and cap agent entries). */
static off_t rc_file_size(uint64_t cap)
{
	return RC_HDR_SIZE + (off_t)cap * (RC_SLOT_SIZE + RC_AGENT_SIZE);
}

/* File size of a version 1 table of cap slots. */
static off_t rc_file_size_v1(uint64_t cap)
{
	return RC_HDR_SIZE + (off_t)cap * (off_t)sizeof(struct rc_slot_v1);
}

/* Offset of slot i, and of agent entry i, in a version 2 file of cap slots. */
off_t id_rc_slot_off(uint64_t i)
{
	return RC_HDR_SIZE + (off_t)i * RC_SLOT_SIZE;
}

off_t id_rc_agent_off(uint64_t cap, uint64_t i)
{
	return RC_HDR_SIZE + (off_t)cap * RC_SLOT_SIZE + (off_t)i * RC_AGENT_SIZE;
}

/* Reads exactly len bytes at off, or fails (a short file is an error). */
int id_rc_pread_full(int fd, void *buf, size_t len, off_t off)
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
int id_rc_pwrite_full(int fd, const void *buf, size_t len, off_t off)
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

/* SHA-256(key || a || b) into md. Returns 0 or -1. */
static int rc_sha256(const unsigned char key[RC_KEY_LEN], const void *a, size_t alen,
		     const void *b, size_t blen, unsigned char md[EVP_MAX_MD_SIZE])
{
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	int ok;

	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return -1;
	ok = EVP_DigestInit_ex(ctx, id_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(ctx, key, RC_KEY_LEN) == 1 &&
	     EVP_DigestUpdate(ctx, a, alen) == 1 &&
	     EVP_DigestUpdate(ctx, b, blen) == 1 &&
	     EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen >= RC_HASH_LEN;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

/*
 * The keyed slot hash of (issuer, jti): the first RC_HASH_LEN bytes of
 * SHA-256(key || issuer || 0x00 || jti). Returns 0 or -1.
 */
int id_rc_hash(const unsigned char key[RC_KEY_LEN], const char *issuer,
		   const char *jti, unsigned char out[RC_HASH_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	int rv = rc_sha256(key, issuer, strlen(issuer) + 1, jti, strlen(jti), md);

	if (rv == 0)
		memcpy(out, md, RC_HASH_LEN);
	pa_overwrite(md, sizeof(md));
	return rv;
}

/*
 * The tag of an agent id: the first 8 bytes of SHA-256(key || 0x01 ||
 * agent) with the top bit set, so that it is never 0 (an empty agent
 * entry) nor RC_TAG_UNKNOWN. Returns 0 or -1.
 */
int id_rc_agent_tag(const unsigned char key[RC_KEY_LEN], const char *agent, uint64_t *tag)
{
	static const unsigned char sep = 0x01;
	unsigned char md[EVP_MAX_MD_SIZE];

	if (rc_sha256(key, &sep, 1, agent, strlen(agent), md) != 0)
		return -1;
	memcpy(tag, md, sizeof(*tag));
	*tag |= RC_TAG_BIT;
	pa_overwrite(md, sizeof(md));
	return 0;
}

/* The home slot of a hash in a table with capacity cap (a power of two). */
uint64_t id_rc_home(const unsigned char hash[RC_HASH_LEN], uint64_t cap)
{
	uint64_t h;

	memcpy(&h, hash, sizeof(h));
	return h & (cap - 1);
}

/* The home entry of an agent tag (its low bits are uniform). */
uint64_t id_rc_agent_home(uint64_t tag, uint64_t cap)
{
	return tag & (cap - 1);
}

/*
 * Makes sure dir exists (creating it 0700 when missing) and opens it,
 * checking on the descriptor that it is a real directory (not a symlink)
 * owned by the effective uid and not writable by group or others.
 * Returns the descriptor (O_PATH: it only anchors openat, fstatat and
 * renameat, and opens faster than a readable one), or -1 with err.
 */
int id_rc_open_dir(const char *dir, uid_t euid, char *err, size_t errlen)
{
	char shown[PA_ESCAPE_MAX];
	struct stat st;
	int dfd;

	pa_escape(dir, strlen(dir), shown, sizeof(shown));
	/* it exists but on the first use: open first, create only when missing */
	dfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0 && errno == ENOENT) {
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return pa_err(err, errlen, "replay cache directory %s: cannot create: %s",
				      shown, strerror(errno));
		dfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
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
	if (st.st_uid != euid) {
		pa_err(err, errlen, "replay cache directory %s: owned by uid %lu, must be %lu",
		       shown, (unsigned long)st.st_uid, (unsigned long)euid);
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
int id_rc_check_file(const struct rc *rc, int fd, struct stat *st,
			 char *err, size_t errlen)
{
	if (fstat(fd, st) != 0)
		return pa_err(err, errlen, "replay cache %s: cannot stat: %s",
			      rc->shown, strerror(errno));
	if (!S_ISREG(st->st_mode))
		return pa_err(err, errlen, "replay cache %s: not a regular file", rc->shown);
	if (st->st_uid != rc->euid)
		return pa_err(err, errlen, "replay cache %s: owned by uid %lu, must be %lu",
			      rc->shown, (unsigned long)st->st_uid, (unsigned long)rc->euid);
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
int id_rc_lock(const struct rc *rc, int fd, char *err, size_t errlen)
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
 * into rc->hdr (version 2, or version 1 to be carried over). Returns 0, or
 * -1 with err naming what is wrong.
 */
int id_rc_read_header(struct rc *rc, off_t size, char *err, size_t errlen)
{
	struct rc_header *h = &rc->hdr;
	off_t want;

	if (size < RC_HDR_SIZE)
		return pa_err(err, errlen,
			      "replay cache %s: corrupt (%jd bytes, shorter than the header); "
			      "refusing to discard it, remove it to reset", rc->shown,
			      (intmax_t)size);
	if (id_rc_pread_full(rc->fd, h, sizeof(*h), 0) != 0)
		return pa_err(err, errlen, "replay cache %s: cannot read header: %s",
			      rc->shown, strerror(errno));
	if (memcmp(h->magic, RC_MAGIC, sizeof(h->magic)) != 0)
		return pa_err(err, errlen,
			      "replay cache %s: bad magic, not a replay cache; "
			      "refusing to discard it, remove it to reset", rc->shown);
	if (h->version == RC_VERSION && h->slot_size == sizeof(struct rc_slot)) {
		rc->src_version = RC_VERSION;
	} else if (h->version == RC_VERSION_1 && h->slot_size == sizeof(struct rc_slot_v1)) {
		rc->src_version = RC_VERSION_1;
	} else {
		return pa_err(err, errlen,
			      "replay cache %s: unsupported version %" PRIu32
			      " (slot size %" PRIu32 "); refusing to discard it, "
			      "remove it to reset", rc->shown, h->version, h->slot_size);
	}
	if (h->capacity < RC_MIN_CAPACITY ||
	    h->capacity > id_rc_capacity_for(RC_MAX_ENTRIES) ||
	    (h->capacity & (h->capacity - 1)) != 0 || h->count > h->capacity ||
	    (rc->src_version == RC_VERSION_1 ? h->agents != 0 : h->agents >= h->capacity))
		return pa_err(err, errlen,
			      "replay cache %s: corrupt header; refusing to discard it, "
			      "remove it to reset", rc->shown);
	want = rc->src_version == RC_VERSION ? rc_file_size(h->capacity)
					     : rc_file_size_v1(h->capacity);
	if (size != want)
		return pa_err(err, errlen,
			      "replay cache %s: corrupt (%jd bytes, expected %jd for %" PRIu64
			      " slots); refusing to discard it, remove it to reset",
			      rc->shown, (intmax_t)size, (intmax_t)want, h->capacity);
	return 0;
}

/*
 * Inserts a live entry into an in-memory table being built (linear probe
 * to the first empty slot; the caller guarantees one exists).
 */
static void rc_table_put(struct rc_slot *slots, uint64_t cap, const struct rc_slot *s)
{
	uint64_t i = id_rc_home(s->hash, cap);

	while (slots[i].exp != 0)
		i = (i + 1) & (cap - 1);
	slots[i] = *s;
}

/*
 * The entry of tag in an in-memory agent table being built, added when
 * missing (*n counts the entries). NULL when the table has no room left:
 * one empty entry is always kept, so that probes end.
 */
static struct rc_agent *rc_table_agent(struct rc_agent *agents, uint64_t cap, uint64_t tag,
				       uint64_t *n)
{
	uint64_t i = id_rc_agent_home(tag, cap);

	while (agents[i].tag != 0 && agents[i].tag != tag)
		i = (i + 1) & (cap - 1);
	if (agents[i].tag == 0) {
		if (*n + 1 >= cap)
			return NULL;
		agents[i].tag = tag;
		agents[i].min_exp = INT64_MAX;
		(*n)++;
	}
	return &agents[i];
}

/* One slot of the open file, whatever its version. */
static void rc_slot_at(const struct rc *rc, const unsigned char *chunk, uint64_t j,
		       struct rc_slot *out)
{
	if (rc->src_version == RC_VERSION) {
		memcpy(out, chunk + j * sizeof(struct rc_slot), sizeof(*out));
	} else {
		struct rc_slot_v1 v1;

		memcpy(&v1, chunk + j * sizeof(v1), sizeof(v1));
		memcpy(out->hash, v1.hash, RC_HASH_LEN);
		out->exp = v1.exp;
		out->agent = RC_TAG_UNKNOWN;
	}
}

/* Where a rebuild writes: the new file's header and tables. */
struct rc_target {
	struct rc_header *nh;
	struct rc_slot *slots;
	struct rc_agent *agents;
	uint64_t cap, n_agents;
};

/*
 * Copies the live entries of the old file into t, except an evicted
 * agent's entries below its new floor: 0, -1 with err, -2 when the agent
 * table is full.
 */
static int rc_copy_live(struct rc *rc, struct rc_target *t, unsigned char *chunk, int64_t now,
			size_t max_entries, uint64_t evict_tag, int64_t evict_floor, char *err,
			size_t errlen)
{
	const size_t src_slot = rc->src_version == RC_VERSION ? sizeof(struct rc_slot)
							       : sizeof(struct rc_slot_v1);
	struct rc_agent *a;
	uint64_t i, j, n;

	for (i = 0; i < rc->hdr.capacity; i += n) {
		n = rc->hdr.capacity - i;
		if (n > RC_REBUILD_CHUNK)
			n = RC_REBUILD_CHUNK;
		if (id_rc_pread_full(rc->fd, chunk, (size_t)n * src_slot,
				  RC_HDR_SIZE + (off_t)i * (off_t)src_slot) != 0)
			return pa_err(err, errlen, "replay cache %s: cannot read: %s", rc->shown,
				      strerror(errno));
		for (j = 0; j < n; j++) {
			struct rc_slot s;

			rc_slot_at(rc, chunk, j, &s);
			if (s.exp <= now)
				continue; /* empty or expired */
			if (evict_tag != 0 && s.agent == evict_tag && s.exp <= evict_floor)
				continue; /* evicted: the floor below refuses it */
			if (t->nh->count >= max_entries)
				return pa_err(err, errlen,
					      "replay cache %s: holds more than max_entries %zu live "
					      "entries; not shrinking it, which would forget them "
					      "(raise max_entries or wait until they expire)",
					      rc->shown, max_entries);
			a = rc_table_agent(t->agents, t->cap, s.agent, &t->n_agents);
			if (a == NULL)
				return -2;
			rc_table_put(t->slots, t->cap, &s);
			t->nh->count++;
			a->count++;
			if (s.exp < a->min_exp)
				a->min_exp = s.exp;
			if (s.exp < t->nh->min_exp)
				t->nh->min_exp = s.exp;
		}
	}
	return 0;
}

/*
 * Carries the floors still in force into t: they stand for evicted
 * entries and are never dropped. 0, -1 with err, -2 when the agent table
 * is full.
 */
static int rc_copy_floors(struct rc *rc, struct rc_target *t, unsigned char *chunk, int64_t now,
			  char *err, size_t errlen)
{
	struct rc_agent *old = (struct rc_agent *)(void *)chunk, *a;
	uint64_t i, j, n;

	for (i = 0; rc->src_version == RC_VERSION && i < rc->hdr.capacity; i += n) {
		n = rc->hdr.capacity - i;
		if (n > RC_REBUILD_CHUNK)
			n = RC_REBUILD_CHUNK;
		if (id_rc_pread_full(rc->fd, chunk, (size_t)n * sizeof(struct rc_agent),
				  id_rc_agent_off(rc->hdr.capacity, i)) != 0)
			return pa_err(err, errlen, "replay cache %s: cannot read: %s", rc->shown,
				      strerror(errno));
		for (j = 0; j < n; j++) {
			if (old[j].tag == 0 || old[j].floor <= now)
				continue;
			a = rc_table_agent(t->agents, t->cap, old[j].tag, &t->n_agents);
			if (a == NULL)
				return -2;
			if (old[j].floor > a->floor)
				a->floor = old[j].floor;
		}
	}
	return 0;
}

/* The header of a new file of capacity cap: a new key when fresh, else rc's. */
static int rc_new_header(const struct rc *rc, bool fresh, uint64_t cap, struct rc_header *nh,
			 char *err, size_t errlen)
{
	memset(nh, 0, sizeof(*nh));
	memcpy(nh->magic, RC_MAGIC, sizeof(nh->magic));
	nh->version = RC_VERSION;
	nh->slot_size = sizeof(struct rc_slot);
	nh->capacity = cap;
	nh->min_exp = INT64_MAX;
	if (fresh) {
		if (RAND_bytes(nh->key, RC_KEY_LEN) != 1)
			return pa_err(err, errlen, "replay cache %s: no random bytes for the key",
				      rc->shown);
	} else {
		memcpy(nh->key, rc->hdr.key, RC_KEY_LEN);
	}
	return 0;
}

/*
 * Creates the temporary file of size bytes (a stale one, from a crash, is
 * removed first: we hold the lock), locks it until it has replaced the
 * old one, and maps it into *map: 0, or -1 with err (*tfd >= 0 when the
 * file was created, and must be removed).
 */
static int rc_create_tmp(const struct rc *rc, off_t size, int *tfd, unsigned char **map,
			 char *err, size_t errlen)
{
	int e;

	if (unlinkat(rc->dirfd, RC_TMP_FILE, 0) != 0 && errno != ENOENT) {
		pa_err(err, errlen, "replay cache %s: cannot remove stale %s: %s",
		       rc->shown, RC_TMP_FILE, strerror(errno));
		return -1;
	}
	*tfd = openat(rc->dirfd, RC_TMP_FILE, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		      0600);
	if (*tfd < 0) {
		pa_err(err, errlen, "replay cache %s: cannot create %s: %s",
		       rc->shown, RC_TMP_FILE, strerror(errno));
		return -1;
	}
	/* held until the new file has replaced the old one and is complete */
	if (fchmod(*tfd, 0600) != 0 || flock(*tfd, LOCK_EX | LOCK_NB) != 0) {
		pa_err(err, errlen, "replay cache %s: cannot set up %s: %s",
		       rc->shown, RC_TMP_FILE, strerror(errno));
		return -1;
	}
	e = posix_fallocate(*tfd, 0, size);
	if (e != 0) {
		pa_err(err, errlen, "replay cache %s: cannot allocate %jd bytes: %s",
		       rc->shown, (intmax_t)size, strerror(e));
		return -1;
	}
	*map = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, *tfd, 0);
	if (*map == MAP_FAILED) {
		pa_err(err, errlen, "replay cache %s: cannot map %s: %s",
		       rc->shown, RC_TMP_FILE, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Replaces DIR/replay.db with a freshly built version 2 table of new_cap
 * slots that holds every live entry (exp > now) of the currently open
 * table (version 1 or 2) and every floor still in force, or nothing when
 * fresh is true (a new, empty file; a new hash key is drawn). When
 * evict_tag is not 0, that agent's entries that expire at or before
 * evict_floor are left out and its floor is raised to evict_floor. Never
 * drops any other live entry: when more than max_entries are live,
 * nothing is replaced and the call fails. Returns 0 when the new file is
 * in place.
 */
int id_rc_rebuild(struct rc *rc, bool fresh, uint64_t new_cap, int64_t now,
		      size_t max_entries, uint64_t evict_tag, int64_t evict_floor,
		      char *err, size_t errlen)
{
	struct rc_header nh;
	unsigned char *chunk = NULL;
	struct rc_slot *slots;
	struct rc_agent *agents, *a;
	unsigned char *map = MAP_FAILED;
	off_t size = rc_file_size(new_cap);
	uint64_t n_agents = 0;
	int tfd = -1, rv = -1;

	if (rc_new_header(rc, fresh, new_cap, &nh, err, errlen) != 0)
		return -1;
	if (rc_create_tmp(rc, size, &tfd, &map, err, errlen) != 0) {
		if (tfd >= 0)
			goto cleanup;
		goto out;
	}
	/* mmap returns page-aligned memory; the 64-byte header keeps both tables aligned */
	slots = (struct rc_slot *)(void *)(map + RC_HDR_SIZE);
	agents = (struct rc_agent *)(void *)(map + id_rc_agent_off(new_cap, 0));

	if (!fresh) {
		struct rc_target t = { &nh, slots, agents, new_cap, 0 };
		int r;

		/* a byte buffer for RC_REBUILD_CHUNK entries of either table
		 * (slots and agent entries are both RC_ENTRY_SIZE bytes) */
		chunk = calloc(RC_REBUILD_CHUNK, RC_ENTRY_SIZE);
		if (chunk == NULL) {
			pa_err(err, errlen, "replay cache %s: out of memory", rc->shown);
			goto cleanup;
		}
		r = rc_copy_live(rc, &t, chunk, now, max_entries, evict_tag, evict_floor, err,
				 errlen);
		if (r == 0)
			r = rc_copy_floors(rc, &t, chunk, now, err, errlen);
		if (r == 0 && evict_tag != 0 && evict_floor > now) {
			a = rc_table_agent(agents, new_cap, evict_tag, &t.n_agents);
			if (a == NULL)
				r = -2;
			else if (evict_floor > a->floor)
				a->floor = evict_floor;
		}
		if (r == -2)
			goto too_many;
		if (r != 0)
			goto cleanup;
		n_agents = t.n_agents;
	}
	nh.agents = n_agents;
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
	{
		/* best effort: the new name is in place (dirfd is O_PATH, which
		   cannot be synced: sync the directory through a descriptor of it) */
		int d = openat(rc->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (d >= 0) {
			(void)fsync(d);
			close(d);
		}
	}
	rv = 0;
	goto out;
too_many:
	pa_err(err, errlen, "replay cache %s: more agents with live entries or floors than "
	       "a table of %" PRIu64 " entries holds; not rebuilding it, which would forget "
	       "some (raise max_entries or wait until they expire)", rc->shown, new_cap);
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
