/*
 * replay.c - the host-wide replay cache for single-use tokens
 * (id_replay_check_agent, see identity/identity.h and docs/replay-cache.md).
 *
 * One file, DIR/replay.db, shared by every process that loads the module
 * (sshd, sudo, su, agent-run, ...). Every check-and-insert runs under an
 * exclusive flock(2) on that file, so two processes can never both accept
 * the same (issuer, jti).
 *
 * File format (version 2), native byte order (the file lives on a local
 * tmpfs such as /run and is never carried between hosts; a foreign byte
 * order shows up as a bad version and fails closed):
 *
 *   header, 64 bytes (struct rc_header)
 *     magic      8 bytes "PAREPLAY"
 *     version    u32 2
 *     slot_size  u32 32
 *     capacity   u64 number of slots, a power of two; the agent table has
 *                    as many entries
 *     count      u64 non-empty slots: live entries plus expired entries not
 *                    yet reclaimed (the live count depends on the clock, so
 *                    it is never stored; count is an upper bound of it)
 *     min_exp    i64 a lower bound of the expiry of every non-empty slot,
 *                    INT64_MAX when there is none (lets a full table answer
 *                    "full" without a scan)
 *     key        16 random bytes, the secret key of the hashes
 *     agents     u64 non-empty entries of the agent table
 *   capacity slots of 32 bytes (struct rc_slot)
 *     hash       the first 16 bytes of SHA-256(key || issuer || 0x00 || jti)
 *                (neither string can contain a NUL, so the input is
 *                unambiguous; the key keeps token issuers from choosing jtis
 *                that collide and build long probe chains)
 *     exp        expiry in Unix seconds; 0 marks a never-used (empty) slot
 *     agent      the tag of the agent that used the token: the first 8
 *                bytes of SHA-256(key || 0x01 || agent id) with the top bit
 *                set (RC_TAG_UNKNOWN for entries carried over from a
 *                version 1 file, which did not record the agent)
 *   capacity agent entries of 32 bytes (struct rc_agent)
 *     tag        the agent's tag; 0 marks an empty entry
 *     count      non-empty slots of this agent (an upper bound of its live
 *                entries, as for the header's count)
 *     min_exp    a lower bound of the expiry of those slots
 *     floor      tokens of this agent whose entry would expire at or before
 *                floor are refused: their entries were evicted (see below)
 *
 * Open addressing with linear probing from hash & (capacity - 1), in both
 * tables.
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
 * never hides an entry that sits further on the chain. Agent entries are
 * never removed except by a rebuild, so their chains need no tombstones.
 *
 * Size and reclaiming: the capacity is the next power of two >= 2 *
 * max_entries (at least 8), and count is kept <= max_entries, so at most
 * half of the slots are non-empty and chains stay short. A new entry goes
 * into a tombstone on its chain when there is one, else into the empty
 * slot when count < max_entries. If no slot is free but some may have
 * expired (min_exp <= now), the table is compacted: rebuilt with only its
 * live entries.
 *
 * Quota and eviction (one agent must not lock every other out): an entry
 * is recorded only after the policy allowed the token (auth.c), and an
 * agent holding quota entries (the caller's replay_agent_quota share of
 * max_entries) gets no more until some expire. When the table holds
 * max_entries live entries and an agent under its quota needs a slot, the
 * agent with the most entries (the "victim", which must hold more than the
 * newcomer would) loses its oldest sixteenth: the table is rebuilt without
 * the victim's entries that expire at or before F, and the victim's floor
 * becomes F. A token of the victim that would expire at or before its
 * floor is then refused, so an evicted entry never turns into a replay:
 * the price of eviction is paid by the largest holder, in refused tokens,
 * never in accepted replays. Only when no agent holds more entries than
 * the newcomer (max_entries agents with one live token each, or every
 * agent at an equal share) is a new token refused as "full". Entries
 * carried over from a version 1 file belong to no known agent and are
 * never evicted. At most max_entries + max_entries / 2 agents (with live
 * entries or a floor) are tracked; beyond that new agents are refused
 * until entries expire.
 *
 * Rebuilds (first use, compaction, eviction, a change of max_entries that
 * changes the capacity, a version 1 file) write a complete new table to
 * DIR/replay.db.tmp (reserved with posix_fallocate, so running out of
 * space is reported here and later writes into the table cannot fail for
 * lack of space), fsync it and rename it over replay.db while holding the
 * lock on the old file and on the new one. A process that was waiting for
 * the lock on the old file sees that the path now names another file and
 * starts over with the new one. Live entries (but those an eviction drops
 * behind a floor) and floors are always carried over; a rebuild that would
 * have to drop a live entry (shrinking below the number of live entries)
 * fails closed.
 *
 * A file that is not a replay cache of version 1 or 2 (bad magic, version,
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
 * A process killed between its writes can leave an agent's count off by
 * one; every rebuild recounts.
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
#define RC_VERSION 2u
#define RC_VERSION_1 1u
#define RC_HASH_LEN 16
#define RC_KEY_LEN 16
/* Entries outlive their token by this many seconds (see the top comment). */
#define RC_EXP_MARGIN 300
/* Largest max_entries accepted: 2^25 slots and agent entries, a 2 GiB file. */
#define RC_MAX_ENTRIES ((size_t)1 << 24)
#define RC_MIN_CAPACITY 8
/* How long a caller waits for another process holding the lock. */
#define RC_LOCK_TIMEOUT_MS 5000
/* How often the file may be replaced under us before we give up. */
#define RC_MAX_ATTEMPTS 16
/* Slots read per pread() while probing, and while rebuilding. */
#define RC_PROBE_CHUNK 64
#define RC_REBUILD_CHUNK 4096
/* Real agent tags have the top bit set; this one marks version 1 entries. */
#define RC_TAG_BIT ((uint64_t)1 << 63)
#define RC_TAG_UNKNOWN ((uint64_t)1)
/* An eviction drops about this fraction (1/N) of the victim's entries. */
#define RC_EVICT_DIVISOR 16

struct rc_header {
	char magic[8];
	uint32_t version;
	uint32_t slot_size;
	uint64_t capacity;
	uint64_t count;
	int64_t min_exp;
	unsigned char key[RC_KEY_LEN];
	uint64_t agents; /* version 1: reserved, zero */
};

struct rc_slot {
	unsigned char hash[RC_HASH_LEN];
	int64_t exp;
	uint64_t agent;
};

/* A slot of a version 1 file, read only to carry its entries over. */
struct rc_slot_v1 {
	unsigned char hash[RC_HASH_LEN];
	int64_t exp;
};

struct rc_agent {
	uint64_t tag;
	uint64_t count;
	int64_t min_exp;
	int64_t floor;
};

_Static_assert(sizeof(struct rc_header) == 64, "replay header must be 64 bytes");
_Static_assert(sizeof(struct rc_slot) == 32, "replay slot must be 32 bytes");
#define RC_ENTRY_SIZE 32
_Static_assert(sizeof(struct rc_slot) == RC_ENTRY_SIZE && sizeof(struct rc_agent) == RC_ENTRY_SIZE,
	       "a rebuild chunk holds entries of either table");
_Static_assert(sizeof(struct rc_slot_v1) == 24, "version 1 slot must be 24 bytes");
_Static_assert(sizeof(struct rc_agent) == 32, "agent entry must be 32 bytes");
_Static_assert(offsetof(struct rc_header, agents) == 56, "agents ends the header");

#define RC_HDR_SIZE ((off_t)sizeof(struct rc_header))
#define RC_SLOT_SIZE ((off_t)sizeof(struct rc_slot))
#define RC_AGENT_SIZE ((off_t)sizeof(struct rc_agent))
/* The header's mutable tail: count, min_exp, key (unchanged), agents. */
#define RC_HDR_TAIL ((off_t)offsetof(struct rc_header, count))

/* Outcome of one probe of an open, locked, valid table. */
enum rc_result {
	RC_FAIL = -1,
	RC_FIRST = 0,	/* not seen before, now recorded */
	RC_REPLAY = 1,	/* a live entry for the key exists */
	RC_COMPACT = 2,	/* no room, but entries may have expired: rebuild */
	RC_EVICT = 3,	/* no room for an agent under its quota: evict */
};

/* State of one id_replay_check_agent() call. */
struct rc {
	int dirfd;
	int fd;
	char shown[PA_ESCAPE_MAX + sizeof("/" RC_FILE)]; /* escaped, for messages */
	char agent_shown[PA_ESCAPE_MAX];		   /* escaped agent id */
	struct rc_header hdr;
	uint32_t src_version;				   /* of the open file */
};

/* The slot count for max_entries: the next power of two >= 2 * max_entries. */
static uint64_t rc_capacity_for(size_t max_entries)
{
	uint64_t cap = RC_MIN_CAPACITY;

	while (cap < 2 * (uint64_t)max_entries)
		cap <<= 1;
	return cap;
}

/* Most agents tracked at once (see the top comment); < the capacity. */
static uint64_t rc_agents_limit(size_t max_entries)
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
static off_t rc_slot_off(uint64_t i)
{
	return RC_HDR_SIZE + (off_t)i * RC_SLOT_SIZE;
}

static off_t rc_agent_off(uint64_t cap, uint64_t i)
{
	return RC_HDR_SIZE + (off_t)cap * RC_SLOT_SIZE + (off_t)i * RC_AGENT_SIZE;
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
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
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
static int rc_hash(const unsigned char key[RC_KEY_LEN], const char *issuer,
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
static int rc_agent_tag(const unsigned char key[RC_KEY_LEN], const char *agent, uint64_t *tag)
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
static uint64_t rc_home(const unsigned char hash[RC_HASH_LEN], uint64_t cap)
{
	uint64_t h;

	memcpy(&h, hash, sizeof(h));
	return h & (cap - 1);
}

/* The home entry of an agent tag (its low bits are uniform). */
static uint64_t rc_agent_home(uint64_t tag, uint64_t cap)
{
	return tag & (cap - 1);
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
 * into rc->hdr (version 2, or version 1 to be carried over). Returns 0, or
 * -1 with err naming what is wrong.
 */
static int rc_read_header(struct rc *rc, off_t size, char *err, size_t errlen)
{
	struct rc_header *h = &rc->hdr;
	off_t want;

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
	    h->capacity > rc_capacity_for(RC_MAX_ENTRIES) ||
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
	uint64_t i = rc_home(s->hash, cap);

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
	uint64_t i = rc_agent_home(tag, cap);

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
		if (rc_pread_full(rc->fd, chunk, (size_t)n * src_slot,
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
		if (rc_pread_full(rc->fd, chunk, (size_t)n * sizeof(struct rc_agent),
				  rc_agent_off(rc->hdr.capacity, i)) != 0)
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
static int rc_rebuild(struct rc *rc, bool fresh, uint64_t new_cap, int64_t now,
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
	/* mmap returns page-aligned memory; the 64-byte header keeps both tables aligned */
	slots = (struct rc_slot *)(void *)(map + RC_HDR_SIZE);
	agents = (struct rc_agent *)(void *)(map + rc_agent_off(new_cap, 0));

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
	(void)fsync(rc->dirfd); /* best effort: the new name is in place */
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

/*
 * Looks tag up in the agent table of the open, locked table. Returns 1
 * with its entry in *a and its index in *idx, 0 when it has none (*idx is
 * then the empty entry where it goes and *a a new entry for it), -1 with
 * err.
 */
static int rc_agent_find(struct rc *rc, uint64_t tag, uint64_t *idx, struct rc_agent *a,
			 char *err, size_t errlen)
{
	struct rc_agent buf[RC_PROBE_CHUNK];
	const uint64_t cap = rc->hdr.capacity;
	uint64_t i = rc_agent_home(tag, cap), probed = 0;

	memset(buf, 0, sizeof(buf)); /* each read fills what is used; no stale entry either way */

	while (probed < cap) {
		uint64_t n = cap - i, j;

		if (n > cap - probed)
			n = cap - probed;
		if (n > RC_PROBE_CHUNK)
			n = RC_PROBE_CHUNK;
		if (rc_pread_full(rc->fd, buf, (size_t)n * sizeof(buf[0]), rc_agent_off(cap, i)) != 0)
			return pa_err(err, errlen, "replay cache %s: cannot read: %s",
				      rc->shown, strerror(errno));
		for (j = 0; j < n; j++) {
			if (buf[j].tag == tag || buf[j].tag == 0) {
				*idx = i;
				if (buf[j].tag == tag) {
					*a = buf[j];
					return 1;
				}
				memset(a, 0, sizeof(*a));
				a->tag = tag;
				a->min_exp = INT64_MAX;
				return 0;
			}
			i = (i + 1) & (cap - 1);
			probed++;
		}
	}
	return pa_err(err, errlen, "replay cache %s: corrupt (the agent table has no empty "
		      "entry); remove it to reset", rc->shown);
}

/* Writes agent entry idx. Returns 0 or -1 with err. */
static int rc_agent_store(struct rc *rc, uint64_t idx, const struct rc_agent *a,
			  char *err, size_t errlen)
{
	if (rc_pwrite_full(rc->fd, a, sizeof(*a), rc_agent_off(rc->hdr.capacity, idx)) != 0)
		return pa_err(err, errlen, "replay cache %s: cannot write: %s",
			      rc->shown, strerror(errno));
	return 0;
}

/* What one call asks of the table. */
struct rc_want {
	unsigned char hash[RC_HASH_LEN];
	uint64_t tag;		/* the agent's tag */
	int64_t exp;		/* expiry of the new entry */
	int64_t now;
	size_t max_entries;
	size_t quota;		/* entries one agent may hold; >= max_entries: no quota */
	bool compacted;		/* a rebuild already ran in this call: do not ask again */
	uint64_t agent_count;	/* out: the agent's entries, for the eviction */
};

/*
 * Walks the probe chain of w->hash from its home slot to the first empty
 * slot: 1 when the hash is there and live (a replay), 0 with the first
 * tombstone (*reuse, its owner *reuse_owner) and the empty slot (*empty),
 * either left UINT64_MAX when there is none, -1 with err.
 */
static int rc_scan(struct rc *rc, const struct rc_want *w, uint64_t *reuse,
		   uint64_t *reuse_owner, uint64_t *empty, char *err, size_t errlen)
{
	struct rc_slot buf[RC_PROBE_CHUNK];
	const uint64_t cap = rc->hdr.capacity, none = UINT64_MAX;
	uint64_t idx = rc_home(w->hash, cap), probed = 0;

	memset(buf, 0, sizeof(buf));
	while (probed < cap && *empty == none) {
		uint64_t n = cap - idx, i;

		if (n > cap - probed)
			n = cap - probed;
		if (n > RC_PROBE_CHUNK)
			n = RC_PROBE_CHUNK;
		if (rc_pread_full(rc->fd, buf, (size_t)n * sizeof(buf[0]), rc_slot_off(idx)) != 0)
			return pa_err(err, errlen, "replay cache %s: cannot read: %s", rc->shown,
				      strerror(errno));
		for (i = 0; i < n; i++) {
			if (buf[i].exp == 0) {
				*empty = idx;
				break;
			}
			if (buf[i].exp <= w->now) {
				/* tombstone: reusable, but the chain goes on */
				if (*reuse == none) {
					*reuse = idx;
					*reuse_owner = buf[i].agent;
				}
			} else if (memcmp(buf[i].hash, w->hash, RC_HASH_LEN) == 0) {
				return 1;
			}
			idx = (idx + 1) & (cap - 1);
			probed++;
		}
	}
	return 0;
}

/*
 * Looks the key up in the open, locked, validated version 2 table and
 * records it for the agent when it is not live there and the agent may
 * have it. Returns RC_REPLAY, RC_FIRST, RC_COMPACT (reclaiming expired
 * entries may make room), RC_EVICT (no room for an agent under its quota)
 * or RC_FAIL with err.
 */
static enum rc_result rc_probe(struct rc *rc, struct rc_want *w, char *err, size_t errlen)
{
	const uint64_t none = UINT64_MAX;
	uint64_t idx, aidx = 0, reuse = none, empty = none, reuse_owner = 0;
	struct rc_agent a;
	struct rc_slot s;
	bool found;
	int r;

	r = rc_scan(rc, w, &reuse, &reuse_owner, &empty, err, errlen);
	if (r != 0)
		return r < 0 ? RC_FAIL : RC_REPLAY;
	idx = empty;

	r = rc_agent_find(rc, w->tag, &aidx, &a, err, errlen);
	if (r < 0)
		return RC_FAIL;
	found = r == 1;
	w->agent_count = a.count;
	if (found && a.floor >= w->exp) {
		pa_err(err, errlen,
		       "replay cache %s: agent %s: the cache was full and its records up to %"
		       PRId64 " were dropped to make room for other agents, so its tokens that "
		       "expire by then are refused (use a fresh token)", rc->shown,
		       rc->agent_shown, a.floor - RC_EXP_MARGIN);
		return RC_FAIL;
	}
	if (w->quota < w->max_entries && a.count >= w->quota) {
		if (a.min_exp <= w->now && !w->compacted)
			return RC_COMPACT;
		pa_err(err, errlen,
		       "replay cache %s: agent %s holds %" PRIu64 " live entries, its quota "
		       "(replay_agent_quota) of %zu; refusing its new tokens until some expire",
		       rc->shown, rc->agent_shown, a.count, w->quota);
		return RC_FAIL;
	}
	if (!found && rc->hdr.agents >= rc_agents_limit(w->max_entries)) {
		if (!w->compacted)
			return RC_COMPACT;
		pa_err(err, errlen,
		       "replay cache %s: %" PRIu64 " agents hold live entries, the most it "
		       "tracks for max_entries %zu; refusing new agents until entries expire",
		       rc->shown, rc->hdr.agents, w->max_entries);
		return RC_FAIL;
	}

	memcpy(s.hash, w->hash, RC_HASH_LEN);
	s.exp = w->exp;
	s.agent = w->tag;
	/* a tombstone keeps count unchanged: live entries stay <= count */
	if (reuse != none && rc->hdr.count <= w->max_entries) {
		idx = reuse;
	} else if (empty != none && rc->hdr.count < w->max_entries) {
		idx = empty;
	} else if (rc->hdr.min_exp <= w->now && !w->compacted) {
		return RC_COMPACT;
	} else {
		return RC_EVICT;
	}

	/* the slot, then the agents' counts, then the header */
	if (rc_pwrite_full(rc->fd, &s, sizeof(s), rc_slot_off(idx)) != 0) {
		pa_err(err, errlen, "replay cache %s: cannot write: %s", rc->shown,
		       strerror(errno));
		return RC_FAIL;
	}
	if (idx == empty) {
		rc->hdr.count++;
		a.count++;
	} else if (reuse_owner != w->tag) {
		struct rc_agent owner;
		uint64_t oidx;

		a.count++;
		r = rc_agent_find(rc, reuse_owner, &oidx, &owner, err, errlen);
		if (r < 0)
			return RC_FAIL;
		if (r == 1 && owner.count > 0) {
			owner.count--;
			if (rc_agent_store(rc, oidx, &owner, err, errlen) != 0)
				return RC_FAIL;
		}
	}
	if (w->exp < a.min_exp)
		a.min_exp = w->exp;
	if (rc_agent_store(rc, aidx, &a, err, errlen) != 0)
		return RC_FAIL;
	if (!found)
		rc->hdr.agents++;
	if (w->exp < rc->hdr.min_exp)
		rc->hdr.min_exp = w->exp;
	if (rc_pwrite_full(rc->fd, (const unsigned char *)&rc->hdr + RC_HDR_TAIL,
			   sizeof(rc->hdr) - (size_t)RC_HDR_TAIL, RC_HDR_TAIL) != 0) {
		pa_err(err, errlen, "replay cache %s: cannot write header: %s",
		       rc->shown, strerror(errno));
		return RC_FAIL;
	}
	return RC_FIRST;
}

static int rc_cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

	return (a > b) - (a < b);
}

/*
 * Chooses what to evict so that an agent with agent_count entries gets a
 * slot in a table full of live entries: the agent with the most entries
 * (not the newcomer, not the unattributed version 1 entries), when it has
 * at least two and more than agent_count + 1, loses its oldest
 * 1/RC_EVICT_DIVISOR (at least one): *floor is the expiry at or before
 * which they expire. Returns 0 with *victim and *floor, 1 when there is
 * no such agent, -1 with err.
 */
static int rc_evict_plan(struct rc *rc, uint64_t tag, uint64_t agent_count, int64_t now,
			 uint64_t *victim, int64_t *floor, char *err, size_t errlen)
{
	const uint64_t cap = rc->hdr.capacity;
	struct rc_agent best, *ab;
	struct rc_slot *sb;
	int64_t *exps = NULL;
	size_t n_exps = 0, k;
	void *chunk;
	uint64_t i, n;
	int rv = -1;

	memset(&best, 0, sizeof(best));
	chunk = calloc(RC_REBUILD_CHUNK, sizeof(struct rc_slot));
	if (chunk == NULL)
		return pa_err(err, errlen, "replay cache %s: out of memory", rc->shown);
	ab = chunk;
	sb = chunk;
	for (i = 0; i < cap; i += n) {
		uint64_t j;

		n = cap - i < RC_REBUILD_CHUNK ? cap - i : RC_REBUILD_CHUNK;
		if (rc_pread_full(rc->fd, chunk, (size_t)n * sizeof(struct rc_agent),
				  rc_agent_off(cap, i)) != 0) {
			pa_err(err, errlen, "replay cache %s: cannot read: %s", rc->shown,
			       strerror(errno));
			goto out;
		}
		for (j = 0; j < n; j++)
			if (ab[j].tag != 0 && ab[j].tag != tag && ab[j].tag != RC_TAG_UNKNOWN &&
			    ab[j].count > best.count)
				best = ab[j];
	}
	if (best.count < 2 || best.count <= agent_count + 1) {
		rv = 1;
		goto out;
	}
	exps = calloc((size_t)best.count, sizeof(*exps));
	if (exps == NULL) {
		pa_err(err, errlen, "replay cache %s: out of memory", rc->shown);
		goto out;
	}
	for (i = 0; i < cap; i += n) {
		uint64_t j;

		n = cap - i < RC_REBUILD_CHUNK ? cap - i : RC_REBUILD_CHUNK;
		if (rc_pread_full(rc->fd, chunk, (size_t)n * sizeof(struct rc_slot),
				  rc_slot_off(i)) != 0) {
			pa_err(err, errlen, "replay cache %s: cannot read: %s", rc->shown,
			       strerror(errno));
			goto out;
		}
		for (j = 0; j < n && n_exps < best.count; j++)
			if (sb[j].agent == best.tag && sb[j].exp > now)
				exps[n_exps++] = sb[j].exp;
	}
	if (n_exps == 0) {
		rv = 1;
		goto out;
	}
	qsort(exps, n_exps, sizeof(*exps), rc_cmp_i64);
	k = n_exps / RC_EVICT_DIVISOR;
	*victim = best.tag;
	*floor = exps[k > 0 ? k - 1 : 0];
	rv = 0;
out:
	free(exps);
	free(chunk);
	return rv;
}

/* Checks the arguments of a check and fills w from them: 0, or -1 with err. */
static int rc_want_init(struct rc_want *w, const char *dir, const char *issuer, const char *jti,
			const char *agent, int64_t exp, int64_t now, size_t max_entries,
			size_t agent_quota, char *err, size_t errlen)
{
	if (dir == NULL || *dir == '\0' || issuer == NULL || jti == NULL || agent == NULL)
		return pa_err(err, errlen, "replay cache: missing directory, issuer, jti or agent");
	if (*jti == '\0')
		return pa_err(err, errlen, "replay cache: empty jti");
	if (max_entries < 1 || max_entries > RC_MAX_ENTRIES)
		return pa_err(err, errlen, "replay cache: max_entries %zu out of range 1..%zu",
			      max_entries, RC_MAX_ENTRIES);
	if (agent_quota < 1)
		return pa_err(err, errlen, "replay cache: agent quota 0");
	if (now <= 0)
		return pa_err(err, errlen, "replay cache: invalid current time %" PRId64, now);
	w->exp = exp > INT64_MAX - RC_EXP_MARGIN ? INT64_MAX : exp + RC_EXP_MARGIN;
	if (w->exp <= now)
		return pa_err(err, errlen,
			      "replay cache: token expired at %" PRId64 ", now is %" PRId64,
			      exp, now);
	w->now = now;
	w->max_entries = max_entries;
	w->quota = agent_quota;
	return 0;
}

/*
 * Opens the file under rc->dirfd and locks it: 0 when the locked file is
 * the one the name points at (checked again, *st its state), 1 when a
 * rebuild replaced it meanwhile (close and try again), -1 with err.
 */
static int rc_open_locked(struct rc *rc, struct stat *st, char *err, size_t errlen)
{
	struct stat cur;

	rc->fd = openat(rc->dirfd, RC_FILE, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
			0600);
	if (rc->fd < 0) {
		if (errno == ELOOP)
			return pa_err(err, errlen, "replay cache %s: is a symbolic link", rc->shown);
		return pa_err(err, errlen, "replay cache %s: cannot open: %s", rc->shown,
			      strerror(errno));
	}
	if (rc_check_file(rc, rc->fd, st, err, errlen) != 0 ||
	    rc_lock(rc, rc->fd, err, errlen) != 0)
		return -1;
	/*
	 * The file we locked must still be the one the name points at:
	 * a rebuild may have renamed a new file over it while we waited.
	 */
	if (fstatat(rc->dirfd, RC_FILE, &cur, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT)
			return 1;
		return pa_err(err, errlen, "replay cache %s: cannot stat: %s", rc->shown,
			      strerror(errno));
	}
	if (cur.st_dev != st->st_dev || cur.st_ino != st->st_ino)
		return 1;
	return rc_check_file(rc, rc->fd, st, err, errlen) != 0 ? -1 : 0;
}

/*
 * Records (issuer, jti) of agent until exp + RC_EXP_MARGIN in
 * DIR/replay.db under an exclusive lock. Returns 0 when the pair was not
 * live in the cache (it is now), 1 when it was (a replay), -1 with err
 * when the cache cannot be used or the agent may not record it: bad
 * directory or file ownership/permissions, a corrupt file, the agent at
 * its quota or behind its floor, a full table with nothing to evict, an
 * I/O error. Never accepts when in doubt.
 */
int id_replay_check_agent(const char *dir, const char *issuer, const char *jti,
			  const char *agent, int64_t exp, int64_t now, size_t max_entries,
			  size_t agent_quota, char *err, size_t errlen)
{
	struct rc rc = { .dirfd = -1, .fd = -1 };
	struct rc_want w;
	uint64_t want_cap;
	bool evicted = false;
	int attempt, rv = -1;

	memset(&w, 0, sizeof(w));
	if (rc_want_init(&w, dir, issuer, jti, agent, exp, now, max_entries, agent_quota, err,
			 errlen) != 0)
		return -1;
	want_cap = rc_capacity_for(max_entries);

	pa_escape(dir, strlen(dir), rc.shown, PA_ESCAPE_MAX);
	strcat(rc.shown, "/" RC_FILE);
	pa_escape(agent, strlen(agent), rc.agent_shown, sizeof(rc.agent_shown));
	rc.dirfd = rc_open_dir(dir, err, errlen);
	if (rc.dirfd < 0)
		return -1;

	for (attempt = 0; attempt < RC_MAX_ATTEMPTS; attempt++) {
		struct stat st;
		enum rc_result r;
		uint64_t victim = 0;
		int64_t floor = 0;

		switch (rc_open_locked(&rc, &st, err, errlen)) {
		case 0:
			break;
		case 1:
			goto again;
		default:
			goto out;
		}

		if (st.st_size == 0) {
			if (rc_rebuild(&rc, true, want_cap, now, max_entries, 0, 0, err, errlen) != 0)
				goto out;
			goto again;
		}
		if (rc_read_header(&rc, st.st_size, err, errlen) != 0)
			goto out;
		if (rc.src_version != RC_VERSION || rc.hdr.capacity != want_cap) {
			if (rc_rebuild(&rc, false, want_cap, now, max_entries, 0, 0, err, errlen) != 0)
				goto out;
			goto again;
		}
		/* the key belongs to this file: hash again after every reopen */
		if (rc_hash(rc.hdr.key, issuer, jti, w.hash) != 0 ||
		    rc_agent_tag(rc.hdr.key, agent, &w.tag) != 0) {
			pa_err(err, errlen, "replay cache %s: SHA-256 failed", rc.shown);
			goto out;
		}
		r = rc_probe(&rc, &w, err, errlen);
		if (r == RC_FAIL || r == RC_FIRST || r == RC_REPLAY) {
			rv = r == RC_FAIL ? -1 : (int)r;
			goto out;
		}
		if (r == RC_EVICT) {
			int p;

			if (evicted) {
				pa_err(err, errlen, "replay cache %s: still full after an eviction",
				       rc.shown);
				goto out;
			}
			p = rc_evict_plan(&rc, w.tag, w.agent_count, now, &victim, &floor,
					  err, errlen);
			if (p < 0)
				goto out;
			if (p > 0) {
				pa_err(err, errlen,
				       "replay cache %s: full (%" PRIu64 " live entries, max_entries "
				       "%zu) and no other agent holds more entries than agent %s "
				       "(%" PRIu64 "); refusing new tokens until entries expire",
				       rc.shown, rc.hdr.count, max_entries, rc.agent_shown,
				       w.agent_count);
				goto out;
			}
			evicted = true;
		}
		if (rc_rebuild(&rc, false, want_cap, now, max_entries, victim, floor,
			       err, errlen) != 0)
			goto out;
		w.compacted = true;
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

int id_replay_check(const char *dir, const char *issuer, const char *jti,
		    int64_t exp, int64_t now, size_t max_entries,
		    char *err, size_t errlen)
{
	/* one anonymous agent without a quota: the table's own limit alone */
	return id_replay_check_agent(dir, issuer, jti, "", exp, now, max_entries,
				     max_entries, err, errlen);
}
