/*
 * nss_agent.c - libnss_agent.so.2, the NSS module of agent accounts
 * (docs/nss.md): passwd and group lookups and enumeration answered from
 * the database `pam-agent check --write-nss-db` writes (nssdb.h).
 *
 * This code runs in every process of the host that looks up a user: it
 * links libc only, starts no thread, never logs, never allocates (one
 * read-only mapping of a bounded file), never blocks on anything but one
 * short mutex around a binary search and a copy, and never fails open: a
 * missing, unreadable or corrupt database answers "not found".
 *
 * The mapping is kept between calls and replaced when stat(2) of the path
 * shows another file (the database is replaced by rename, so an old
 * mapping stays valid until it is unmapped here).
 */
#include "config.h"

#include "nss_agent.h"
#include "nssdb.h"

#include <errno.h>
#include <grp.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#ifndef PA_NSS_DB
#define PA_NSS_DB "/var/lib/pam_agent/nss.db"
#endif

#define EXPORT __attribute__((visibility("default")))

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* Everything below is guarded by lock. */
static struct {
	void *map;
	size_t len;
	struct stat st;
	struct nssdb db;
} cur;
static uint64_t pw_next; /* enumeration: the next uid at or above this */
static uint64_t gr_next; /* enumeration: the next gid at or above this */

/*
 * fork(2) in one thread while another holds lock would leave the child a
 * lock nobody releases: fork waits for the lookup to end (prepare) and
 * both sides release it. glibc drops these handlers if the module is
 * unloaded.
 */
static void fork_prepare(void)
{
	pthread_mutex_lock(&lock);
}

static void fork_done(void)
{
	pthread_mutex_unlock(&lock);
}

__attribute__((constructor)) static void nss_agent_init(void)
{
	pthread_atfork(fork_prepare, fork_done, fork_done);
}

static const char *db_path(void)
{
#ifdef PA_NSS_TESTING
	/* the unit tests and the fuzz target only: never in the installed module */
	const char *p = getenv("PA_NSS_DB");

	if (p != NULL && *p != '\0')
		return p;
#endif
	return PA_NSS_DB;
}

static void drop(void)
{
	if (cur.map != NULL)
		munmap(cur.map, cur.len);
	memset(&cur, 0, sizeof(cur));
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Under lock: the current database, or NULL when there is none usable. */
static const struct nssdb *current(void)
{
	struct stat st;
	const char *why;

	if (stat(db_path(), &st) != 0) {
		drop();
		return NULL;
	}
	if (cur.map != NULL && same_file(&st, &cur.st))
		return &cur.db;
	drop();
	if (nssdb_open(db_path(), &cur.db, &cur.map, &cur.len, &cur.st, &why) != 0) {
		memset(&cur, 0, sizeof(cur));
		return NULL;
	}
	return &cur.db;
}

/* Copies s into the buffer at *pos; NULL when it does not fit. */
static char *put(const char *s, char **pos, size_t *left)
{
	size_t n = strlen(s) + 1;
	char *d = *pos;

	if (n > *left)
		return NULL;
	memcpy(d, s, n);
	*pos += n;
	*left -= n;
	return d;
}

static enum nss_status fill_pw(const struct nssdb *db, const struct nssdb_user *u,
			       struct passwd *pw, char *buf, size_t buflen, int *errnop)
{
	char *pos = buf;
	size_t left = buflen;

	pw->pw_name = put(nssdb_str(db, u->name), &pos, &left);
	pw->pw_passwd = put("*", &pos, &left);
	pw->pw_gecos = put(nssdb_str(db, u->gecos), &pos, &left);
	pw->pw_dir = put(nssdb_str(db, u->dir), &pos, &left);
	pw->pw_shell = put(nssdb_str(db, u->shell), &pos, &left);
	if (pw->pw_name == NULL || pw->pw_passwd == NULL || pw->pw_gecos == NULL ||
	    pw->pw_dir == NULL || pw->pw_shell == NULL) {
		*errnop = ERANGE;
		return NSS_STATUS_TRYAGAIN;
	}
	pw->pw_uid = u->uid;
	pw->pw_gid = u->gid;
	return NSS_STATUS_SUCCESS;
}

static enum nss_status fill_gr(const struct nssdb *db, const struct nssdb_group *g,
			       struct group *gr, char *buf, size_t buflen, int *errnop)
{
	uintptr_t a = ((uintptr_t)buf + sizeof(char *) - 1) & ~(uintptr_t)(sizeof(char *) - 1);
	size_t pad = a - (uintptr_t)buf, vec = ((size_t)g->mem_count + 1) * sizeof(char *);
	char **mem = (char **)a, *pos;
	size_t left, i;

	if (buflen < pad || buflen - pad < vec)
		goto erange;
	pos = buf + pad + vec;
	left = buflen - pad - vec;
	for (i = 0; i < g->mem_count; i++) {
		mem[i] = put(nssdb_str(db, db->members[g->mem_first + i]), &pos, &left);
		if (mem[i] == NULL)
			goto erange;
	}
	mem[i] = NULL;
	gr->gr_mem = mem;
	gr->gr_name = put(nssdb_str(db, g->name), &pos, &left);
	gr->gr_passwd = put("*", &pos, &left);
	if (gr->gr_name == NULL || gr->gr_passwd == NULL)
		goto erange;
	gr->gr_gid = g->gid;
	return NSS_STATUS_SUCCESS;
erange:
	*errnop = ERANGE;
	return NSS_STATUS_TRYAGAIN;
}

static enum nss_status not_found(int *errnop)
{
	*errnop = ENOENT;
	return NSS_STATUS_NOTFOUND;
}

EXPORT enum nss_status _nss_agent_getpwnam_r(const char *name, struct passwd *pw, char *buf,
					      size_t buflen, int *errnop)
{
	const struct nssdb *db;
	const struct nssdb_user *u;
	enum nss_status s;

	pthread_mutex_lock(&lock);
	db = current();
	u = db != NULL && name != NULL ? nssdb_user_by_name(db, name) : NULL;
	s = u != NULL ? fill_pw(db, u, pw, buf, buflen, errnop) : not_found(errnop);
	pthread_mutex_unlock(&lock);
	return s;
}

EXPORT enum nss_status _nss_agent_getpwuid_r(uid_t uid, struct passwd *pw, char *buf,
					      size_t buflen, int *errnop)
{
	const struct nssdb *db;
	const struct nssdb_user *u;
	enum nss_status s;

	pthread_mutex_lock(&lock);
	db = current();
	u = db != NULL ? nssdb_user_by_uid(db, uid) : NULL;
	s = u != NULL ? fill_pw(db, u, pw, buf, buflen, errnop) : not_found(errnop);
	pthread_mutex_unlock(&lock);
	return s;
}

EXPORT enum nss_status _nss_agent_getgrnam_r(const char *name, struct group *gr, char *buf,
					      size_t buflen, int *errnop)
{
	const struct nssdb *db;
	const struct nssdb_group *g;
	enum nss_status s;

	pthread_mutex_lock(&lock);
	db = current();
	g = db != NULL && name != NULL ? nssdb_group_by_name(db, name) : NULL;
	s = g != NULL ? fill_gr(db, g, gr, buf, buflen, errnop) : not_found(errnop);
	pthread_mutex_unlock(&lock);
	return s;
}

EXPORT enum nss_status _nss_agent_getgrgid_r(gid_t gid, struct group *gr, char *buf,
					      size_t buflen, int *errnop)
{
	const struct nssdb *db;
	const struct nssdb_group *g;
	enum nss_status s;

	pthread_mutex_lock(&lock);
	db = current();
	g = db != NULL ? nssdb_group_by_gid(db, gid) : NULL;
	s = g != NULL ? fill_gr(db, g, gr, buf, buflen, errnop) : not_found(errnop);
	pthread_mutex_unlock(&lock);
	return s;
}

/*
 * Enumeration resumes at the first id at or above the one after the last
 * returned, so a database replaced between two calls neither repeats an
 * entry nor loops; an entry that did not fit the buffer is returned again
 * by the next call.
 */
EXPORT enum nss_status _nss_agent_setpwent(int stayopen)
{
	(void)stayopen;
	pthread_mutex_lock(&lock);
	pw_next = 0;
	pthread_mutex_unlock(&lock);
	return NSS_STATUS_SUCCESS;
}

EXPORT enum nss_status _nss_agent_endpwent(void)
{
	return _nss_agent_setpwent(0);
}

/* The first entry of a table sorted by id with id >= next, as an index, or n. */
#define FIRST_AT(arr, n, field, next)                                       \
	({                                                                  \
		uint32_t lo_ = 0, hi_ = (n);                                \
		while (lo_ < hi_) {                                         \
			uint32_t m_ = lo_ + (hi_ - lo_) / 2;                \
			if ((uint64_t)(arr)[m_].field < (next))             \
				lo_ = m_ + 1;                               \
			else                                                \
				hi_ = m_;                                   \
		}                                                           \
		lo_;                                                        \
	})

EXPORT enum nss_status _nss_agent_getpwent_r(struct passwd *pw, char *buf, size_t buflen,
					      int *errnop)
{
	const struct nssdb *db;
	enum nss_status s;
	uint32_t i;

	pthread_mutex_lock(&lock);
	db = current();
	if (db == NULL) {
		s = not_found(errnop);
		goto out;
	}
	i = FIRST_AT(db->users, db->h->n_users, uid, pw_next);
	if (i >= db->h->n_users) {
		s = not_found(errnop);
		goto out;
	}
	s = fill_pw(db, &db->users[i], pw, buf, buflen, errnop);
	if (s == NSS_STATUS_SUCCESS)
		pw_next = (uint64_t)db->users[i].uid + 1;
out:
	pthread_mutex_unlock(&lock);
	return s;
}

EXPORT enum nss_status _nss_agent_setgrent(int stayopen)
{
	(void)stayopen;
	pthread_mutex_lock(&lock);
	gr_next = 0;
	pthread_mutex_unlock(&lock);
	return NSS_STATUS_SUCCESS;
}

EXPORT enum nss_status _nss_agent_endgrent(void)
{
	return _nss_agent_setgrent(0);
}

EXPORT enum nss_status _nss_agent_getgrent_r(struct group *gr, char *buf, size_t buflen,
					      int *errnop)
{
	const struct nssdb *db;
	enum nss_status s;
	uint32_t i;

	pthread_mutex_lock(&lock);
	db = current();
	if (db == NULL) {
		s = not_found(errnop);
		goto out;
	}
	i = FIRST_AT(db->groups, db->h->n_groups, gid, gr_next);
	if (i >= db->h->n_groups) {
		s = not_found(errnop);
		goto out;
	}
	s = fill_gr(db, &db->groups[i], gr, buf, buflen, errnop);
	if (s == NSS_STATUS_SUCCESS)
		gr_next = (uint64_t)db->groups[i].gid + 1;
out:
	pthread_mutex_unlock(&lock);
	return s;
}
