/*
 * cache.c - the configuration as the files are now, re-parsed only when
 * the main file, the drop-in directory or a drop-in changed. A refused
 * configuration is never replaced by the previous good one: the caller
 * gets the problems and denies.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "policy.h"

/*
 * A file changed within this many seconds of a snapshot could change again
 * within the same timestamp granule (coarse kernel clocks, 1 s on some
 * filesystems) without any visible difference: such a snapshot is "racy"
 * and never trusted, so the next call parses again (as git does).
 */
#define RACY_SECONDS 2

/* What stat said about one path; err is the errno of lstat, or 0. */
struct stamp {
	char *path;
	int err;
	dev_t dev;
	ino_t ino;
	off_t size;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	struct timespec mtime, ctime;
};

struct snapshot {
	char *main_path;
	char *dropin_dir; /* or NULL */
	struct stamp *v;
	size_t n;
	bool racy;
};

struct pol_cache {
	pthread_mutex_t lock;
	bool valid;		 /* snap describes what cfg/errors came from */
	struct snapshot snap;
	struct pol_config *cfg;	 /* NULL when the files were refused */
	struct pol_errors errors; /* the problems, when refused */
};

/* Frees what s owns; s is empty afterwards. */
static void snapshot_clear(struct snapshot *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i].path);
	free(s->v);
	free(s->main_path);
	free(s->dropin_dir);
	memset(s, 0, sizeof(*s));
}

/* Appends the lstat of path (taking ownership of path). Returns 0 or -1. */
static int add_stamp(struct snapshot *s, char *path, const struct timespec *now)
{
	struct stamp *grown, *st;
	struct stat sb;

	if (path == NULL)
		return -1;
	grown = realloc(s->v, (s->n + 1) * sizeof(*grown));
	if (grown == NULL) {
		free(path);
		return -1;
	}
	s->v = grown;
	st = &s->v[s->n++];
	memset(st, 0, sizeof(*st));
	st->path = path;
	if (lstat(path, &sb) != 0) {
		st->err = errno;
		return 0;
	}
	st->dev = sb.st_dev;
	st->ino = sb.st_ino;
	st->size = sb.st_size;
	st->mode = sb.st_mode;
	st->uid = sb.st_uid;
	st->gid = sb.st_gid;
	st->mtime = sb.st_mtim;
	st->ctime = sb.st_ctim;
	if (sb.st_mtim.tv_sec > now->tv_sec - RACY_SECONDS ||
	    sb.st_ctim.tv_sec > now->tv_sec - RACY_SECONDS)
		s->racy = true;
	return 0;
}

/* qsort order of paths: strcmp, as the loader reads them. */
static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Stamps the main file, the drop-in directory and every drop-in. */
static int take_snapshot(struct snapshot *s, const char *main_path, const char *dropin_dir)
{
	char **names = NULL;
	size_t n = 0, i;
	struct timespec now;
	struct dirent *de;
	DIR *d = NULL;
	int rc = -1;

	memset(s, 0, sizeof(*s));
	clock_gettime(CLOCK_REALTIME, &now);
	s->main_path = strdup(main_path);
	if (s->main_path == NULL || add_stamp(s, strdup(main_path), &now) != 0)
		goto out;
	if (dropin_dir == NULL) {
		rc = 0;
		goto out;
	}
	s->dropin_dir = strdup(dropin_dir);
	if (s->dropin_dir == NULL || add_stamp(s, strdup(dropin_dir), &now) != 0)
		goto out;
	/* no directory there (the usual case): nothing to list; the parse
	   refuses anything else, and its stamp changes when it becomes one */
	if (s->v[s->n - 1].err != 0 || !S_ISDIR(s->v[s->n - 1].mode)) {
		rc = 0;
		goto out;
	}
	d = opendir(dropin_dir);
	if (d == NULL) {
		rc = 0; /* the parse reports why, if it matters */
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char **grown;

		if (de->d_name[0] == '.' || len <= 5 || strcmp(de->d_name + len - 5, ".conf") != 0)
			continue;
		if (n > POL_DROPINS_MAX)
			break; /* the parse refuses this many */
		grown = realloc(names, (n + 1) * sizeof(*grown));
		if (grown == NULL)
			goto out;
		names = grown;
		if (asprintf(&names[n], "%s/%s", dropin_dir, de->d_name) < 0)
			goto out;
		n++;
	}
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n; i++) {
		char *p = names[i];

		names[i] = NULL;
		if (add_stamp(s, p, &now) != 0)
			goto out;
	}
	rc = 0;
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (d != NULL)
		closedir(d);
	if (rc != 0)
		snapshot_clear(s);
	return rc;
}

/* Whether two timestamps are equal to the nanosecond. */
static bool same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* Whether two snapshots describe the same, settled files. */
static bool snapshot_equal(const struct snapshot *a, const struct snapshot *b)
{
	size_t i;

	if (a->racy || b->racy || a->n != b->n || strcmp(a->main_path, b->main_path) != 0 ||
	    (a->dropin_dir == NULL) != (b->dropin_dir == NULL) ||
	    (a->dropin_dir != NULL && strcmp(a->dropin_dir, b->dropin_dir) != 0))
		return false;
	for (i = 0; i < a->n; i++) {
		const struct stamp *x = &a->v[i], *y = &b->v[i];

		if (strcmp(x->path, y->path) != 0 || x->err != y->err || x->dev != y->dev ||
		    x->ino != y->ino || x->size != y->size || x->mode != y->mode ||
		    x->uid != y->uid || x->gid != y->gid || !same_time(&x->mtime, &y->mtime) ||
		    !same_time(&x->ctime, &y->ctime))
			return false;
	}
	return true;
}

struct pol_cache *pol_cache_new(void)
{
	struct pol_cache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	if (pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c);
		return NULL;
	}
	return c;
}

/* Forgets what the cache holds. */
static void cache_drop(struct pol_cache *c)
{
	pol_config_unref(c->cfg);
	c->cfg = NULL;
	pol_errors_clear(&c->errors);
	snapshot_clear(&c->snap);
	c->valid = false;
}

void pol_cache_free(struct pol_cache *cache)
{
	if (cache == NULL)
		return;
	cache_drop(cache);
	pthread_mutex_destroy(&cache->lock);
	free(cache);
}

/* Appends a copy of every message of from to to. */
static void errors_copy(struct pol_errors *to, const struct pol_errors *from)
{
	size_t i;

	for (i = 0; i < from->n; i++)
		pol_errors_add(to, "%s", from->msgs[i]);
	to->dropped += from->dropped;
}

int pol_config_cache_get(struct pol_cache *cache, const char *main_path,
			 const char *dropin_dir, struct pol_config **cfg_ref,
			 struct pol_errors *errors)
{
	struct snapshot snap;
	struct pol_config *cfg = NULL;
	int rc = -1;

	*cfg_ref = NULL;
	pthread_mutex_lock(&cache->lock);
	if (take_snapshot(&snap, main_path, dropin_dir) != 0) {
		cache_drop(cache);
		pol_errors_add(errors, "%s: out of memory", main_path);
		goto out;
	}
	if (cache->valid && snapshot_equal(&cache->snap, &snap)) {
		snapshot_clear(&snap);
		if (cache->cfg != NULL) {
			*cfg_ref = pol_config_ref(cache->cfg);
			rc = 0;
		} else {
			errors_copy(errors, &cache->errors);
		}
		goto out;
	}
	/* changed (or never read): parse into a new object, then swap */
	cache_drop(cache);
	cache->snap = snap;
	cache->valid = true;
	if (pol_config_load(main_path, dropin_dir, &cfg, &cache->errors) == 0) {
		cache->cfg = cfg;
		*cfg_ref = pol_config_ref(cfg);
		rc = 0;
	} else {
		errors_copy(errors, &cache->errors);
	}
out:
	pthread_mutex_unlock(&cache->lock);
	return rc;
}
