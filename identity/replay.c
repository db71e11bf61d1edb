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

#include "replay_int.h"

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
	uint64_t i = id_rc_agent_home(tag, cap), probed = 0;

	memset(buf, 0, sizeof(buf)); /* each read fills what is used; no stale entry either way */

	while (probed < cap) {
		uint64_t n = cap - i, j;

		if (n > cap - probed)
			n = cap - probed;
		if (n > RC_PROBE_CHUNK)
			n = RC_PROBE_CHUNK;
		if (id_rc_pread_full(rc->fd, buf, (size_t)n * sizeof(buf[0]), id_rc_agent_off(cap, i)) != 0)
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
	if (id_rc_pwrite_full(rc->fd, a, sizeof(*a), id_rc_agent_off(rc->hdr.capacity, idx)) != 0)
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
	uint64_t idx = id_rc_home(w->hash, cap), probed = 0;

	memset(buf, 0, sizeof(buf));
	while (probed < cap && *empty == none) {
		uint64_t n = cap - idx, i;

		if (n > cap - probed)
			n = cap - probed;
		if (n > RC_PROBE_CHUNK)
			n = RC_PROBE_CHUNK;
		if (id_rc_pread_full(rc->fd, buf, (size_t)n * sizeof(buf[0]), id_rc_slot_off(idx)) != 0)
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
	if (!found && rc->hdr.agents >= id_rc_agents_limit(w->max_entries)) {
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
	if (id_rc_pwrite_full(rc->fd, &s, sizeof(s), id_rc_slot_off(idx)) != 0) {
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
	if (id_rc_pwrite_full(rc->fd, (const unsigned char *)&rc->hdr + RC_HDR_TAIL,
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
		if (id_rc_pread_full(rc->fd, chunk, (size_t)n * sizeof(struct rc_agent),
				  id_rc_agent_off(cap, i)) != 0) {
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
		if (id_rc_pread_full(rc->fd, chunk, (size_t)n * sizeof(struct rc_slot),
				  id_rc_slot_off(i)) != 0) {
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

	/* O_NOATIME: a check reads the file, and nothing needs its access time */
	rc->fd = openat(rc->dirfd, RC_FILE,
			O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NOATIME, 0600);
	if (rc->fd < 0) {
		if (errno == ELOOP)
			return pa_err(err, errlen, "replay cache %s: is a symbolic link", rc->shown);
		return pa_err(err, errlen, "replay cache %s: cannot open: %s", rc->shown,
			      strerror(errno));
	}
	/*
	 * Lock, then check: the file we locked must still be the one the name
	 * points at (a rebuild may have renamed a new file over it while we
	 * waited), and be ours (id_rc_check_file). Nothing is read before.
	 */
	if (id_rc_lock(rc, rc->fd, err, errlen) != 0)
		return -1;
	if (fstatat(rc->dirfd, RC_FILE, &cur, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT)
			return 1;
		return pa_err(err, errlen, "replay cache %s: cannot stat: %s", rc->shown,
			      strerror(errno));
	}
	if (id_rc_check_file(rc, rc->fd, st, err, errlen) != 0)
		return -1;
	return cur.st_dev != st->st_dev || cur.st_ino != st->st_ino ? 1 : 0;
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
	struct rc rc = { .dirfd = -1, .fd = -1, .euid = geteuid() };
	struct rc_want w;
	uint64_t want_cap;
	bool evicted = false;
	int attempt, rv = -1;

	memset(&w, 0, sizeof(w));
	if (rc_want_init(&w, dir, issuer, jti, agent, exp, now, max_entries, agent_quota, err,
			 errlen) != 0)
		return -1;
	want_cap = id_rc_capacity_for(max_entries);

	pa_escape(dir, strlen(dir), rc.shown, PA_ESCAPE_MAX);
	strcat(rc.shown, "/" RC_FILE);
	pa_escape(agent, strlen(agent), rc.agent_shown, sizeof(rc.agent_shown));
	rc.dirfd = id_rc_open_dir(dir, rc.euid, err, errlen);
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
			if (id_rc_rebuild(&rc, true, want_cap, now, max_entries, 0, 0, err, errlen) != 0)
				goto out;
			goto again;
		}
		if (id_rc_read_header(&rc, st.st_size, err, errlen) != 0)
			goto out;
		if (rc.src_version != RC_VERSION || rc.hdr.capacity != want_cap) {
			if (id_rc_rebuild(&rc, false, want_cap, now, max_entries, 0, 0, err, errlen) != 0)
				goto out;
			goto again;
		}
		/* the key belongs to this file: hash again after every reopen */
		if (id_rc_hash(rc.hdr.key, issuer, jti, w.hash) != 0 ||
		    id_rc_agent_tag(rc.hdr.key, agent, &w.tag) != 0) {
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
		if (id_rc_rebuild(&rc, false, want_cap, now, max_entries, victim, floor,
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
