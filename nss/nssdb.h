/*
 * nssdb.h - the agent account database of libnss_agent.so.2 (docs/nss.md):
 * one compact, root-written file that `pam-agent check --write-nss-db`
 * compiles from the configuration, and that the NSS module maps read-only.
 *
 * libc only: this folder is linked into every process of the host through
 * the NSS module, so it uses no other folder of the tree, no allocator it
 * cannot bound (the builder allocates; the reader never does), no logging.
 *
 * The file, in the host's byte order (a database is written on the host
 * that reads it):
 *
 *   header (64 bytes, struct nssdb_header)
 *   users[n_users]            struct nssdb_user, uid strictly increasing
 *   user_by_name[n_users]     uint32 indexes into users, name strictly increasing (strcmp)
 *   groups[n_groups]          struct nssdb_group, gid strictly increasing
 *   group_by_name[n_groups]   uint32 indexes into groups, name strictly increasing
 *   members[n_members]        uint32 string offsets (a group's members, contiguous)
 *   strings[strings_len]      NUL-terminated strings; the last byte is NUL
 *
 * checksum is FNV-1a 64 of every byte after the header. A reader accepts a
 * file only when every count, offset, order and the checksum agree.
 */
#ifndef PA_NSSDB_H
#define PA_NSSDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define NSSDB_MAGIC "PAAGNSS"  /* 8 bytes with its NUL */
#define NSSDB_VERSION 1u
#define NSSDB_MAX_SIZE (64u * 1024 * 1024) /* largest file accepted */
#define NSSDB_MAX_ENTRIES 1000000u	   /* most users, groups or members */
#define NSSDB_NAME_MAX 32		   /* longest account or group name, bytes */

struct nssdb_header {
	char magic[8];
	uint32_t version;
	uint32_t n_users;
	uint32_t n_groups;
	uint32_t n_members;
	uint64_t size; /* of the whole file */
	uint64_t checksum;
	uint32_t strings_off;
	uint32_t strings_len;
	uint32_t reserved[4]; /* zero */
};

struct nssdb_user {
	uint32_t uid, gid;
	uint32_t name, gecos, dir, shell; /* string offsets */
};

struct nssdb_group {
	uint32_t gid;
	uint32_t name;	    /* string offset */
	uint32_t mem_first; /* index into members */
	uint32_t mem_count;
};

/* A validated database in memory (mapped or not); points into base. */
struct nssdb {
	const unsigned char *base;
	size_t size;
	const struct nssdb_header *h;
	const struct nssdb_user *users;
	const uint32_t *user_by_name;
	const struct nssdb_group *groups;
	const uint32_t *group_by_name;
	const uint32_t *members;
	const char *strings;
};

/* FNV-1a 64 of n bytes. */
uint64_t nssdb_checksum(const void *p, size_t n);

/*
 * Validates the n bytes at p as a database and fills *db (pointing into p).
 * Returns 0, or -1 with a one-line reason in why (a static string).
 */
int nssdb_parse(const void *p, size_t n, struct nssdb *db, const char **why);

/* The user named name / with uid, or NULL. */
const struct nssdb_user *nssdb_user_by_name(const struct nssdb *db, const char *name);
const struct nssdb_user *nssdb_user_by_uid(const struct nssdb *db, uint32_t uid);
/* The group named name / with gid, or NULL. */
const struct nssdb_group *nssdb_group_by_name(const struct nssdb *db, const char *name);
const struct nssdb_group *nssdb_group_by_gid(const struct nssdb *db, uint32_t gid);
/* The string at offset off (validated by nssdb_parse). */
const char *nssdb_str(const struct nssdb *db, uint32_t off);

/*
 * Opens path (a regular file owned by root or the effective uid, not
 * group/world-writable, at most NSSDB_MAX_SIZE bytes), maps it read-only
 * and validates it. Returns 0 with *db, the mapping (*map, *map_len, for
 * munmap) and the file's status in *st (what a later stat(2) compares to), or -1 with a reason in why (a static string). Never
 * allocates with malloc, never logs.
 */
int nssdb_open(const char *path, struct nssdb *db, void **map, size_t *map_len,
	       struct stat *st, const char **why);

/* ---- builder (the CLI and the tests) --------------------------------------- */

struct nssdb_in_user {
	const char *name, *gecos, *dir, *shell;
	uint32_t uid, gid;
};

struct nssdb_in_group {
	const char *name;
	uint32_t gid;
	const char *const *members; /* n_members names */
	size_t n_members;
};

/*
 * Builds a database image of the users and groups (any order; names and
 * ids must be unique, which it checks). Returns 0 with a malloc'd image in
 * *out and *out_len, or -1 with a reason in err.
 */
int nssdb_build(const struct nssdb_in_user *users, size_t n_users,
		const struct nssdb_in_group *groups, size_t n_groups, unsigned char **out,
		size_t *out_len, char *err, size_t errlen);

#endif /* PA_NSSDB_H */
