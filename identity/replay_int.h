/*
 * replay_int.h - the replay cache's file (replay_file.c: its layout, I/O,
 * directory, lock and rebuild) as the cache's logic (replay.c) uses it.
 * Used inside identity/ only; the format is described in replay.c.
 */
#ifndef PA_IDENTITY_REPLAY_INT_H
#define PA_IDENTITY_REPLAY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

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
#define RC_PROBE_CHUNK 16
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
	uid_t euid; /* read once per call: the owner the directory and file must have */
	char shown[PA_ESCAPE_MAX + sizeof("/" RC_FILE)]; /* escaped, for messages */
	char agent_shown[PA_ESCAPE_MAX];		   /* escaped agent id */
	struct rc_header hdr;
	uint32_t src_version;				   /* of the open file */
};

uint64_t id_rc_capacity_for(size_t max_entries);
uint64_t id_rc_agents_limit(size_t max_entries);
off_t id_rc_slot_off(uint64_t i);
off_t id_rc_agent_off(uint64_t cap, uint64_t i);
int id_rc_pread_full(int fd, void *buf, size_t len, off_t off);
int id_rc_pwrite_full(int fd, const void *buf, size_t len, off_t off);
int id_rc_hash(const unsigned char key[RC_KEY_LEN], const char *issuer,
		   const char *jti, unsigned char out[RC_HASH_LEN]);
int id_rc_agent_tag(const unsigned char key[RC_KEY_LEN], const char *agent, uint64_t *tag);
uint64_t id_rc_home(const unsigned char hash[RC_HASH_LEN], uint64_t cap);
uint64_t id_rc_agent_home(uint64_t tag, uint64_t cap);
int id_rc_open_dir(const char *dir, uid_t euid, char *err, size_t errlen);
int id_rc_check_file(const struct rc *rc, int fd, struct stat *st,
			 char *err, size_t errlen);
int id_rc_lock(const struct rc *rc, int fd, char *err, size_t errlen);
int id_rc_read_header(struct rc *rc, off_t size, char *err, size_t errlen);
int id_rc_rebuild(struct rc *rc, bool fresh, uint64_t new_cap, int64_t now,
		      size_t max_entries, uint64_t evict_tag, int64_t evict_floor,
		      char *err, size_t errlen);

#endif /* PA_IDENTITY_REPLAY_INT_H */
