/*
 * agent_accounts.c - each agent identity's own local account (docs/nss.md):
 * the account names and uids the configuration gives its [agent] rules
 * (explicit, or derived from the identity so every host with the same
 * configuration derives the same), and the collisions that keep an
 * account from being served: with another account, or with a name or id
 * of /etc/passwd or /etc/group. `pam-agent check --write-nss-db` compiles
 * the result into libnss_agent's database; the module and the decision use
 * the same functions (agent-run's own account, users = self).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "policy.h"

bool pol_account_name_ok(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || strlen(s) > POL_ACCOUNT_NAME_MAX)
		return false;
	if (!(islower((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (i = 1; s[i] != '\0'; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '_' &&
		    s[i] != '-')
			return false;
	return true;
}

static int parse_uid(const char *s, const char **end, uint64_t *v)
{
	*v = 0;
	if (!isdigit((unsigned char)*s))
		return -1;
	while (isdigit((unsigned char)*s)) {
		*v = *v * 10 + (uint64_t)(*s - '0');
		if (*v >= (1ULL << 31))
			return -1;
		s++;
	}
	*end = s;
	return 0;
}

int pol_uid_range_parse(const char *s, uid_t *lo, uid_t *hi)
{
	const char *p;
	uint64_t a, b;

	if (s == NULL || parse_uid(s, &p, &a) != 0 || *p != '-' || parse_uid(p + 1, &p, &b) != 0 ||
	    *p != '\0' || a == 0 || a >= b)
		return -1;
	*lo = (uid_t)a;
	*hi = (uid_t)b;
	return 0;
}

/*
 * The derived name: "agent-" and the identity's last path segment (after
 * the last '/', or '#' for an OIDC subject), lower-cased, every byte
 * outside [a-z0-9_-] replaced by '-', cut to POL_ACCOUNT_NAME_MAX bytes.
 */
static int derive_name(const char *pattern, char *name)
{
	const char *seg = strrchr(pattern, '/'), *hash = strrchr(pattern, '#');
	size_t n = 0;

	if (hash != NULL && (seg == NULL || hash > seg))
		seg = hash;
	if (seg == NULL || seg[1] == '\0' ||
	    (strncmp(pattern, "spiffe://", 9) == 0 && seg < pattern + 9))
		return -1;
	n = (size_t)snprintf(name, POL_ACCOUNT_NAME_MAX + 1, "agent-%s", seg + 1);
	if (n > POL_ACCOUNT_NAME_MAX)
		n = POL_ACCOUNT_NAME_MAX;
	for (size_t i = 6; i < n; i++) {
		unsigned char ch = (unsigned char)tolower((unsigned char)name[i]);

		name[i] = (char)(islower(ch) || isdigit(ch) || ch == '_' || ch == '-' ? ch : '-');
	}
	return 0;
}

/* The derived uid: SHA-256 of the identity, its first 8 bytes modulo the
 * range without its first uid (the group's by default), plus that. */
static uid_t derive_uid(const char *pattern, uid_t lo, uid_t hi)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	uint64_t v = 0;
	int i;

	SHA256((const unsigned char *)pattern, strlen(pattern), md);
	for (i = 0; i < 8; i++)
		v = (v << 8) | md[i];
	return lo + 1 + (uid_t)(v % (uint64_t)(hi - lo));
}

static int set_problem(struct pol_account *a, const char *fmt, ...) PA_PRINTF(2, 3);
static int set_problem(struct pol_account *a, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	if (a->problem != NULL)
		return 0; /* the first reason is enough */
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	a->problem = strdup(buf);
	return a->problem == NULL ? -1 : 0;
}

/* The accounts of the rules, without any check. */
static int list_accounts(const struct pol_config *cfg, struct pol_accounts *out)
{
	const struct pol_global *g = &cfg->global;
	size_t i;

	out->v = calloc(cfg->n_agents + 1, sizeof(*out->v));
	if (out->v == NULL)
		return -1;
	for (i = 0; i < cfg->n_agents; i++) {
		const struct pol_agent *r = &cfg->agents[i];
		struct pol_account *a = &out->v[out->n];
		const char *pct;

		if (r->account == NULL && r->prefix)
			continue; /* a prefix rule has an account only when it names one */
		a->rule = r;
		if (r->account != NULL)
			snprintf(a->name, sizeof(a->name), "%s", r->account);
		else if (derive_name(r->pattern, a->name) != 0)
			continue; /* nothing to derive from: no account (the config check says so) */
		a->derived_name = r->account == NULL;
		a->derived_uid = !r->has_uid;
		a->uid = r->has_uid ? r->uid : derive_uid(r->pattern, g->uid_min, g->uid_max);
		a->gid = out->gid;
		a->shell = g->agent_shell;
		pct = strstr(g->agent_home, "%n");
		if (pct != NULL) {
			size_t len = strlen(g->agent_home) + strlen(a->name);

			a->home = malloc(len);
			if (a->home != NULL)
				snprintf(a->home, len, "%.*s%s%s", (int)(pct - g->agent_home),
					 g->agent_home, a->name, pct + 2);
		} else
			a->home = strdup(g->agent_home);
		out->n++;
		if (a->home == NULL)
			return -1;
	}
	return 0;
}

static int by_name(const void *x, const void *y, void *ctx)
{
	const struct pol_account *v = ctx;

	return strcmp(v[*(const size_t *)x].name, v[*(const size_t *)y].name);
}

static int by_uid(const void *x, const void *y, void *ctx)
{
	const struct pol_account *v = ctx;
	uid_t a = v[*(const size_t *)x].uid, b = v[*(const size_t *)y].uid;

	return a < b ? -1 : a > b;
}

/*
 * Accounts of two rules with one name or one uid: neither is served.
 * Sorted, not compared pairwise: the module computes this per request.
 */
static int check_collisions(struct pol_accounts *out)
{
	size_t *ix = calloc(out->n + 1, sizeof(*ix));
	size_t i, k;
	int rc = 0;

	if (ix == NULL)
		return -1;
	for (k = 0; k < 2 && rc == 0; k++) {
		for (i = 0; i < out->n; i++)
			ix[i] = i;
		qsort_r(ix, out->n, sizeof(*ix), k == 0 ? by_name : by_uid, out->v);
		for (i = 1; i < out->n && rc == 0; i++) {
			struct pol_account *a = &out->v[ix[i - 1]], *b = &out->v[ix[i]];

			if ((k == 0 ? strcmp(a->name, b->name) : a->uid != b->uid) != 0)
				continue;
			rc = set_problem(a, "its %s is also the %s of [agent %s]",
					 k == 0 ? "name" : "uid", k == 0 ? "account" : "uid",
					 b->rule->pattern);
			if (rc == 0)
				rc = set_problem(b, "its %s is also the %s of [agent %s]",
						 k == 0 ? "name" : "uid", k == 0 ? "account" : "uid",
						 a->rule->pattern);
		}
	}
	free(ix);
	return rc;
}

/* Names and ids of /etc/passwd and /etc/group (as files, never through NSS). */
static int check_host(struct pol_accounts *out, const char *passwd_file, const char *group_file,
		      char *err, size_t errlen)
{
	FILE *f;
	struct passwd *pw;
	struct group *gr;
	size_t i;
	int rc = 0;

	f = fopen(passwd_file != NULL ? passwd_file : "/etc/passwd", "re");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", passwd_file ? passwd_file : "/etc/passwd",
			 strerror(errno));
		return -1;
	}
	while (rc == 0 && (pw = fgetpwent(f)) != NULL) {
		for (i = 0; rc == 0 && i < out->n; i++) {
			struct pol_account *a = &out->v[i];

			if (strcmp(pw->pw_name, a->name) == 0)
				rc = set_problem(a, "the name %s is in /etc/passwd (uid %lu)",
						 a->name, (unsigned long)pw->pw_uid);
			else if (pw->pw_uid == a->uid)
				rc = set_problem(a, "uid %lu is in /etc/passwd (user %s)",
						 (unsigned long)a->uid, pw->pw_name);
		}
		if (rc == 0 && pw->pw_gid == out->gid && out->group_problem == NULL &&
		    strcmp(pw->pw_name, "") != 0) {
			/* a real user whose primary gid is the agents' gid: the group is not ours */
			char buf[256];

			snprintf(buf, sizeof(buf), "gid %lu is the primary group of user %s in "
				 "/etc/passwd", (unsigned long)out->gid, pw->pw_name);
			out->group_problem = strdup(buf);
		}
	}
	fclose(f);
	f = fopen(group_file != NULL ? group_file : "/etc/group", "re");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", group_file ? group_file : "/etc/group",
			 strerror(errno));
		return -1;
	}
	while (rc == 0 && (gr = fgetgrent(f)) != NULL) {
		for (i = 0; rc == 0 && i < out->n; i++) {
			struct pol_account *a = &out->v[i];

			if (strcmp(gr->gr_name, a->name) == 0)
				rc = set_problem(a, "the name %s is a group in /etc/group (gid %lu)",
						 a->name, (unsigned long)gr->gr_gid);
			else if (gr->gr_gid == a->uid)
				rc = set_problem(a, "uid %lu is a gid in /etc/group (group %s)",
						 (unsigned long)a->uid, gr->gr_name);
		}
		if (rc == 0 && out->group_problem == NULL &&
		    (strcmp(gr->gr_name, out->group) == 0 || gr->gr_gid == out->gid)) {
			char buf[256];

			snprintf(buf, sizeof(buf), "group %s (gid %lu) is in /etc/group as %s (gid %lu)",
				 out->group, (unsigned long)out->gid, gr->gr_name,
				 (unsigned long)gr->gr_gid);
			out->group_problem = strdup(buf);
		}
	}
	fclose(f);
	if (rc != 0)
		snprintf(err, errlen, "out of memory");
	return rc;
}

int pol_accounts_compute(const struct pol_config *cfg, bool host, const char *passwd_file,
			 const char *group_file, struct pol_accounts *out, char *err,
			 size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (cfg->global.uid_range == NULL)
		return 0;
	out->group = cfg->global.agent_group;
	out->gid = cfg->global.has_agent_gid ? cfg->global.agent_gid : cfg->global.uid_min;
	if (list_accounts(cfg, out) != 0 || check_collisions(out) != 0) {
		snprintf(err, errlen, "out of memory");
		pol_accounts_clear(out);
		return -1;
	}
	if (host && check_host(out, passwd_file, group_file, err, errlen) != 0) {
		pol_accounts_clear(out);
		return -1;
	}
	return 0;
}

void pol_accounts_clear(struct pol_accounts *acc)
{
	size_t i;

	for (i = 0; i < acc->n; i++) {
		free(acc->v[i].home);
		free(acc->v[i].problem);
	}
	free(acc->v);
	free(acc->group_problem);
	memset(acc, 0, sizeof(*acc));
}

int pol_agent_account(const struct pol_config *cfg, const struct pol_agent *a, char *name,
		      uid_t *uid)
{
	struct pol_accounts acc;
	char err[128];
	size_t i;
	int rc = 1;

	if (pol_accounts_compute(cfg, false, NULL, NULL, &acc, err, sizeof(err)) != 0)
		return -1;
	for (i = 0; i < acc.n; i++)
		if (acc.v[i].rule == a && acc.v[i].problem == NULL) {
			memcpy(name, acc.v[i].name, sizeof(acc.v[i].name));
			*uid = acc.v[i].uid;
			rc = 0;
		}
	pol_accounts_clear(&acc);
	return rc;
}

bool pol_user_allowed(const struct pol_config *cfg, const struct pol_agent *a, const char *user)
{
	char name[POL_ACCOUNT_NAME_MAX + 1], err[256];
	uid_t uid, found;
	size_t i;

	if (user == NULL)
		return false;
	for (i = 0; i < a->users.n; i++) {
		if (strcmp(a->users.v[i], "self") != 0) {
			if (strcmp(a->users.v[i], user) == 0)
				return true;
			continue;
		}
		if (pol_agent_account(cfg, a, name, &uid) == 0 && strcmp(name, user) == 0 &&
		    pol_user_uid(NULL, name, &found, err, sizeof(err)) == 0 && found == uid)
			return true;
	}
	return false;
}
