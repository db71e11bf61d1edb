/*
 * nssdb.c - reading the agent account database (nssdb.h): validation of a
 * whole image, the lookups (binary searches), and opening a file with the
 * checks a root-written database needs. libc only, no allocation, no
 * logging: this code runs in every process of the host.
 */
#include "config.h"

#include "nssdb.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

uint64_t nssdb_checksum(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 14695981039346656037ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ULL;
	}
	return h;
}

const char *nssdb_str(const struct nssdb *db, uint32_t off)
{
	return db->strings + off;
}

/* Bytes of the tables between the header and the strings, or 0 on overflow. */
static uint64_t tables_size(const struct nssdb_header *h)
{
	return (uint64_t)h->n_users * (sizeof(struct nssdb_user) + 4) +
	       (uint64_t)h->n_groups * (sizeof(struct nssdb_group) + 4) + (uint64_t)h->n_members * 4;
}

static int check_header(const struct nssdb_header *h, size_t n, const char **why)
{
	if (memcmp(h->magic, NSSDB_MAGIC, sizeof(h->magic)) != 0) {
		*why = "not an agent account database (bad magic)";
		return -1;
	}
	if (h->version != NSSDB_VERSION) {
		*why = "unsupported database version";
		return -1;
	}
	if (h->size != n) {
		*why = "truncated or extended database (size differs from the header's)";
		return -1;
	}
	if (h->n_users > NSSDB_MAX_ENTRIES || h->n_groups > NSSDB_MAX_ENTRIES ||
	    h->n_members > NSSDB_MAX_ENTRIES) {
		*why = "too many entries";
		return -1;
	}
	if (h->strings_off != sizeof(*h) + tables_size(h) || h->strings_len == 0 ||
	    (uint64_t)h->strings_off + h->strings_len != n) {
		*why = "inconsistent table sizes";
		return -1;
	}
	if (h->reserved[0] | h->reserved[1] | h->reserved[2] | h->reserved[3]) {
		*why = "reserved header fields are not zero";
		return -1;
	}
	return 0;
}

static bool str_ok(const struct nssdb *db, uint32_t off, bool nonempty)
{
	return off < db->h->strings_len && (!nonempty || db->strings[off] != '\0');
}

static int check_users(const struct nssdb *db, const char **why)
{
	uint32_t i, n = db->h->n_users;

	for (i = 0; i < n; i++) {
		const struct nssdb_user *u = &db->users[i];

		if (!str_ok(db, u->name, true) || !str_ok(db, u->gecos, false) ||
		    !str_ok(db, u->dir, true) || !str_ok(db, u->shell, true) ||
		    strlen(nssdb_str(db, u->name)) > NSSDB_NAME_MAX) {
			*why = "a user has a bad string";
			return -1;
		}
		if (i > 0 && db->users[i - 1].uid >= u->uid) {
			*why = "users are not in strictly increasing uid order";
			return -1;
		}
	}
	/* the index, once every name it can point to is known to be valid */
	for (i = 0; i < n; i++) {
		if (db->user_by_name[i] >= n ||
		    (i > 0 && strcmp(nssdb_str(db, db->users[db->user_by_name[i - 1]].name),
				     nssdb_str(db, db->users[db->user_by_name[i]].name)) >= 0)) {
			*why = "the user name index is not strictly increasing";
			return -1;
		}
	}
	return 0;
}

static int check_groups(const struct nssdb *db, const char **why)
{
	uint32_t i, j, n = db->h->n_groups;

	for (i = 0; i < n; i++) {
		const struct nssdb_group *g = &db->groups[i];

		if (!str_ok(db, g->name, true) || strlen(nssdb_str(db, g->name)) > NSSDB_NAME_MAX ||
		    g->mem_first > db->h->n_members || g->mem_count > db->h->n_members - g->mem_first) {
			*why = "a group has a bad string or member range";
			return -1;
		}
		for (j = 0; j < g->mem_count; j++)
			if (!str_ok(db, db->members[g->mem_first + j], true)) {
				*why = "a group member has a bad string";
				return -1;
			}
		if (i > 0 && db->groups[i - 1].gid >= g->gid) {
			*why = "groups are not in strictly increasing gid order";
			return -1;
		}
	}
	for (i = 0; i < n; i++) {
		if (db->group_by_name[i] >= n ||
		    (i > 0 && strcmp(nssdb_str(db, db->groups[db->group_by_name[i - 1]].name),
				     nssdb_str(db, db->groups[db->group_by_name[i]].name)) >= 0)) {
			*why = "the group name index is not strictly increasing";
			return -1;
		}
	}
	return 0;
}

int nssdb_parse(const void *p, size_t n, struct nssdb *db, const char **why)
{
	const unsigned char *b = p;
	const struct nssdb_header *h = p;
	size_t off;

	memset(db, 0, sizeof(*db));
	if (p == NULL || n < sizeof(*h) || n > NSSDB_MAX_SIZE) {
		*why = n < sizeof(struct nssdb_header) ? "truncated database (no complete header)"
						       : "database too large";
		return -1;
	}
	if (((uintptr_t)p & 7) != 0) {
		*why = "misaligned image";
		return -1;
	}
	if (check_header(h, n, why) != 0)
		return -1;
	if (nssdb_checksum(b + sizeof(*h), n - sizeof(*h)) != h->checksum) {
		*why = "checksum mismatch (corrupt database)";
		return -1;
	}
	off = sizeof(*h);
	db->users = (const void *)(b + off);
	off += (size_t)h->n_users * sizeof(struct nssdb_user);
	db->user_by_name = (const void *)(b + off);
	off += (size_t)h->n_users * 4;
	db->groups = (const void *)(b + off);
	off += (size_t)h->n_groups * sizeof(struct nssdb_group);
	db->group_by_name = (const void *)(b + off);
	off += (size_t)h->n_groups * 4;
	db->members = (const void *)(b + off);
	db->strings = (const char *)(b + h->strings_off);
	db->base = b;
	db->size = n;
	db->h = h;
	if (db->strings[h->strings_len - 1] != '\0') {
		*why = "the string table does not end with NUL";
		return -1;
	}
	if (check_users(db, why) != 0 || check_groups(db, why) != 0)
		return -1;
	return 0;
}

const struct nssdb_user *nssdb_user_by_uid(const struct nssdb *db, uint32_t uid)
{
	uint32_t lo = 0, hi = db->h->n_users;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (db->users[mid].uid == uid)
			return &db->users[mid];
		if (db->users[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct nssdb_user *nssdb_user_by_name(const struct nssdb *db, const char *name)
{
	uint32_t lo = 0, hi = db->h->n_users;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct nssdb_user *u = &db->users[db->user_by_name[mid]];
		int c = strcmp(nssdb_str(db, u->name), name);

		if (c == 0)
			return u;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct nssdb_group *nssdb_group_by_gid(const struct nssdb *db, uint32_t gid)
{
	uint32_t lo = 0, hi = db->h->n_groups;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (db->groups[mid].gid == gid)
			return &db->groups[mid];
		if (db->groups[mid].gid < gid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct nssdb_group *nssdb_group_by_name(const struct nssdb *db, const char *name)
{
	uint32_t lo = 0, hi = db->h->n_groups;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct nssdb_group *g = &db->groups[db->group_by_name[mid]];
		int c = strcmp(nssdb_str(db, g->name), name);

		if (c == 0)
			return g;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int nssdb_open(const char *path, struct nssdb *db, void **map, size_t *map_len,
	       struct stat *stp, const char **why)
{
	struct stat st;
	void *m;
	int fd;

	*map = NULL;
	*map_len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		*why = errno == ENOENT ? "no database (run pam-agent check --write-nss-db)"
				       : "cannot open the database";
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		*why = "the database is not a regular file";
		goto fail;
	}
	if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 022) != 0) {
		*why = "the database is not owned by root or is group/world-writable";
		goto fail;
	}
	if (st.st_size < (off_t)sizeof(struct nssdb_header) || st.st_size > NSSDB_MAX_SIZE) {
		*why = st.st_size > NSSDB_MAX_SIZE ? "database too large"
						   : "truncated database (no complete header)";
		goto fail;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		*why = "cannot map the database";
		goto fail;
	}
	close(fd);
	if (nssdb_parse(m, (size_t)st.st_size, db, why) != 0) {
		munmap(m, (size_t)st.st_size);
		return -1;
	}
	*map = m;
	*map_len = (size_t)st.st_size;
	*stp = st;
	return 0;
fail:
	close(fd);
	return -1;
}
