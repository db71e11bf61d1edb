/*
 * nssdb_build.c - writing an agent account database image (nssdb.h), for
 * `pam-agent check --write-nss-db` and the tests. Not part of the NSS
 * module: it allocates. libc only.
 */
#include "config.h"

#include "nssdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct builder {
	unsigned char *img;
	size_t strings_off, strings_len;
};

/* Appends s to the string table; returns its offset. Capacity was reserved. */
static uint32_t add_str(struct builder *b, const char *s)
{
	size_t n = strlen(s) + 1, off = b->strings_len;

	memcpy(b->img + b->strings_off + off, s, n);
	b->strings_len += n;
	return (uint32_t)off;
}

static const struct nssdb_in_user *g_users;
static const struct nssdb_in_group *g_groups;

static int cmp_uid(const void *a, const void *b)
{
	uint32_t x = g_users[*(const uint32_t *)a].uid, y = g_users[*(const uint32_t *)b].uid;

	return x < y ? -1 : x > y;
}

static int cmp_gid(const void *a, const void *b)
{
	uint32_t x = g_groups[*(const uint32_t *)a].gid, y = g_groups[*(const uint32_t *)b].gid;

	return x < y ? -1 : x > y;
}

/* Sorts the indexes of a name index by the names of the already placed records. */
static const struct nssdb_user *s_urec;
static const struct nssdb_group *s_grec;
static const char *s_strings;

static int cmp_uname(const void *a, const void *b)
{
	return strcmp(s_strings + s_urec[*(const uint32_t *)a].name,
		      s_strings + s_urec[*(const uint32_t *)b].name);
}

static int cmp_gname(const void *a, const void *b)
{
	return strcmp(s_strings + s_grec[*(const uint32_t *)a].name,
		      s_strings + s_grec[*(const uint32_t *)b].name);
}

static int check_inputs(const struct nssdb_in_user *users, size_t n_users,
			const struct nssdb_in_group *groups, size_t n_groups, size_t *strbytes,
			size_t *n_members, char *err, size_t errlen)
{
	size_t i, j;

	*strbytes = 1;
	*n_members = 0;
	if (n_users > NSSDB_MAX_ENTRIES || n_groups > NSSDB_MAX_ENTRIES) {
		snprintf(err, errlen, "too many accounts or groups (at most %u)", NSSDB_MAX_ENTRIES);
		return -1;
	}
	for (i = 0; i < n_users; i++) {
		const struct nssdb_in_user *u = &users[i];

		if (u->name[0] == '\0' || strlen(u->name) > NSSDB_NAME_MAX || u->dir[0] == '\0' ||
		    u->shell[0] == '\0') {
			snprintf(err, errlen, "account %zu: empty or too long name, home or shell", i);
			return -1;
		}
		*strbytes += strlen(u->name) + strlen(u->gecos) + strlen(u->dir) +
			     strlen(u->shell) + 4;
	}
	for (i = 0; i < n_groups; i++) {
		if (groups[i].name[0] == '\0' || strlen(groups[i].name) > NSSDB_NAME_MAX) {
			snprintf(err, errlen, "group %zu: empty or too long name", i);
			return -1;
		}
		*strbytes += strlen(groups[i].name) + 1;
		for (j = 0; j < groups[i].n_members; j++)
			*strbytes += strlen(groups[i].members[j]) + 1;
		*n_members += groups[i].n_members;
	}
	if (*n_members > NSSDB_MAX_ENTRIES) {
		snprintf(err, errlen, "too many group members");
		return -1;
	}
	return 0;
}

static void place_users(struct builder *b, struct nssdb_header *h,
			const struct nssdb_in_user *users, uint32_t *order)
{
	struct nssdb_user *rec = (void *)(b->img + sizeof(*h));
	uint32_t *byname = (void *)(rec + h->n_users);
	uint32_t i;

	for (i = 0; i < h->n_users; i++)
		order[i] = i;
	g_users = users;
	qsort(order, h->n_users, sizeof(*order), cmp_uid);
	for (i = 0; i < h->n_users; i++) {
		const struct nssdb_in_user *u = &users[order[i]];

		rec[i].uid = u->uid;
		rec[i].gid = u->gid;
		rec[i].name = add_str(b, u->name);
		rec[i].gecos = add_str(b, u->gecos);
		rec[i].dir = add_str(b, u->dir);
		rec[i].shell = add_str(b, u->shell);
		byname[i] = i;
	}
	s_urec = rec;
	s_strings = (const char *)b->img + b->strings_off;
	qsort(byname, h->n_users, sizeof(*byname), cmp_uname);
}

static void place_groups(struct builder *b, struct nssdb_header *h,
			 const struct nssdb_in_group *groups, uint32_t *order)
{
	struct nssdb_group *rec =
		(void *)(b->img + sizeof(*h) + (size_t)h->n_users * (sizeof(struct nssdb_user) + 4));
	uint32_t *byname = (void *)(rec + h->n_groups);
	uint32_t *members = byname + h->n_groups;
	uint32_t i, j, m = 0;

	for (i = 0; i < h->n_groups; i++)
		order[i] = i;
	g_groups = groups;
	qsort(order, h->n_groups, sizeof(*order), cmp_gid);
	for (i = 0; i < h->n_groups; i++) {
		const struct nssdb_in_group *g = &groups[order[i]];

		rec[i].gid = g->gid;
		rec[i].name = add_str(b, g->name);
		rec[i].mem_first = m;
		rec[i].mem_count = (uint32_t)g->n_members;
		for (j = 0; j < g->n_members; j++)
			members[m++] = add_str(b, g->members[j]);
		byname[i] = i;
	}
	s_grec = rec;
	s_strings = (const char *)b->img + b->strings_off;
	qsort(byname, h->n_groups, sizeof(*byname), cmp_gname);
}

int nssdb_build(const struct nssdb_in_user *users, size_t n_users,
		const struct nssdb_in_group *groups, size_t n_groups, unsigned char **out,
		size_t *out_len, char *err, size_t errlen)
{
	struct nssdb_header h;
	struct builder b = { 0 };
	struct nssdb db;
	uint32_t *order = NULL;
	size_t strbytes, n_members, total;
	const char *why;

	*out = NULL;
	*out_len = 0;
	if (check_inputs(users, n_users, groups, n_groups, &strbytes, &n_members, err, errlen))
		return -1;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, NSSDB_MAGIC, sizeof(h.magic));
	h.version = NSSDB_VERSION;
	h.n_users = (uint32_t)n_users;
	h.n_groups = (uint32_t)n_groups;
	h.n_members = (uint32_t)n_members;
	b.strings_off = sizeof(h) + (size_t)h.n_users * (sizeof(struct nssdb_user) + 4) +
			(size_t)h.n_groups * (sizeof(struct nssdb_group) + 4) + n_members * 4;
	total = b.strings_off + strbytes;
	if (total > NSSDB_MAX_SIZE) {
		snprintf(err, errlen, "database too large (%zu bytes)", total);
		return -1;
	}
	b.img = calloc(1, total);
	order = calloc(n_users + n_groups + 1, sizeof(*order));
	if (b.img == NULL || order == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	b.strings_len = 0;
	place_users(&b, &h, users, order);
	place_groups(&b, &h, groups, order);
	b.img[b.strings_off + b.strings_len] = '\0'; /* the final NUL (calloc'd) */
	b.strings_len++;
	total = b.strings_off + b.strings_len;
	h.size = total;
	h.strings_off = (uint32_t)b.strings_off;
	h.strings_len = (uint32_t)b.strings_len;
	h.checksum = nssdb_checksum(b.img + sizeof(h), total - sizeof(h));
	memcpy(b.img, &h, sizeof(h));
	if (nssdb_parse(b.img, total, &db, &why) != 0) {
		/* duplicate names or ids: the order checks catch them */
		snprintf(err, errlen, "%s (duplicate account or group name or id?)", why);
		goto fail;
	}
	free(order);
	*out = b.img;
	*out_len = total;
	return 0;
fail:
	free(order);
	free(b.img);
	return -1;
}
