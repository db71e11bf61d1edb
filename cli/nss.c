/*
 * nss.c - the agent accounts part of `pam-agent check` (docs/nss.md):
 * every account the configuration gives, each collision that keeps one
 * from being served (with another account, with /etc/passwd or
 * /etc/group), and the database libnss_agent.so.2 reads: whether it is
 * there, valid and what the configuration gives now; with --write-nss-db,
 * compiled from the configuration and replaced atomically.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "cli.h"
#include "nssdb.h"
#include "policy.h"
#include "util.h"

/*
 * The comment field: the identity without its scheme, ':' (the passwd
 * separator) and ',' (gecos's) made '.', so `getent passwd` stays parsable.
 */
static void make_gecos(const char *id, char out[256])
{
	const char *p = strstr(id, "://");
	size_t i;

	snprintf(out, 256, "%s", p != NULL ? p + 3 : id);
	for (i = 0; out[i] != '\0'; i++)
		if (out[i] == ':' || out[i] == ',' || out[i] == '\n')
			out[i] = '.';
}

/* The database image of the accounts that are served. */
static int build_image(const struct pol_accounts *acc, unsigned char **img, size_t *len,
		       char *err, size_t errlen)
{
	struct nssdb_in_user *u = calloc(acc->n + 1, sizeof(*u));
	char(*gecos)[256] = calloc(acc->n + 1, sizeof(*gecos));
	struct nssdb_in_group g = { acc->group, acc->gid, NULL, 0 };
	size_t i, n = 0;
	int rc;

	if (u == NULL || gecos == NULL) {
		free(u);
		free(gecos);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < acc->n; i++) {
		const struct pol_account *a = &acc->v[i];

		if (a->problem != NULL)
			continue;
		make_gecos(a->rule->pattern, gecos[n]);
		u[n] = (struct nssdb_in_user){ a->name, gecos[n], a->home, a->shell,
					       (uint32_t)a->uid, (uint32_t)a->gid };
		n++;
	}
	rc = nssdb_build(u, n, &g, acc->group_problem == NULL && acc->group != NULL ? 1 : 0, img,
			 len, err, errlen);
	free(u);
	free(gecos);
	return rc;
}

/* Whether the database at path holds exactly img; why not in errors. */
static void compare_db(const char *path, const unsigned char *img, size_t len,
		       struct pol_errors *errors)
{
	struct nssdb db;
	struct stat st;
	void *map;
	size_t map_len;
	const char *why;

	if (nssdb_open(path, &db, &map, &map_len, &st, &why) != 0) {
		pol_errors_add(errors, "%s: agent accounts are not served: %s", path, why);
		return;
	}
	if (map_len != len || memcmp(map, img, len) != 0)
		pol_errors_add(errors, "%s: the database is not what the configuration gives "
			       "(%u accounts written; run pam-agent check --write-nss-db)", path,
			       db.h->n_users);
	munmap(map, map_len);
}

/* Creates the database's directory (one level, 0755) when it is missing. */
static void make_parent(const char *path)
{
	char dir[4096];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return;
	*slash = '\0';
	(void)mkdir(dir, 0755); /* an error shows in the write that follows */
}

int cli_check_accounts(const struct pol_config *cfg, const struct cli_nss_opts *o,
		       struct pol_errors *errors, size_t *n_served)
{
	struct pol_accounts acc;
	unsigned char *img = NULL;
	size_t len = 0, i;
	char err[512];

	*n_served = 0;
	if (pol_accounts_compute(cfg, true, o->passwd_file, o->group_file, &acc, err,
				 sizeof(err)) != 0) {
		pol_errors_add(errors, "agent accounts: %s", err);
		return -1;
	}
	for (i = 0; i < acc.n; i++) {
		const struct pol_account *a = &acc.v[i];

		if (a->problem != NULL)
			pol_errors_add(errors, "%s:%u: [agent %s]: account %s (uid %lu) is not "
				       "served: %s", a->rule->where.file, a->rule->where.line,
				       a->rule->pattern, a->name, (unsigned long)a->uid,
				       a->problem);
		else
			(*n_served)++;
	}
	if (acc.group_problem != NULL)
		pol_errors_add(errors, "%s:%u: agent_group %s (gid %lu) is not served: %s",
			       cfg->global.where.file, cfg->global.where.line, acc.group,
			       (unsigned long)acc.gid, acc.group_problem);
	if (cfg->global.uid_range == NULL && !o->write) {
		pol_accounts_clear(&acc);
		return 0; /* no agent accounts: the database is not needed */
	}
	if (build_image(&acc, &img, &len, err, sizeof(err)) != 0) {
		pol_errors_add(errors, "%s: cannot build the database: %s", o->db, err);
	} else if (o->write) {
		make_parent(o->db);
		if (pa_write_file_atomic(o->db, NULL, img, len, 0644, err, sizeof(err)) != 0)
			pol_errors_add(errors, "%s: %s", o->db, err);
		else
			printf("%s: %zu agent accounts written\n", o->db, *n_served);
	} else {
		compare_db(o->db, img, len, errors);
	}
	free(img);
	pol_accounts_clear(&acc);
	return 0;
}
