/*
 * config.c - pam_agent.conf and its drop-ins: safe reading of the files,
 * the configuration's life (new, reference counts, freeing) and the public
 * entry points. The parser's layers are beside it (config_int.h): the
 * schema of sections and keys (config_schema.c), values (config_values.c),
 * libinih (config_ini.c) and the checks across sections and files
 * (config_check.c). The whole configuration is refused on any problem,
 * and every problem is reported as "FILE:LINE: message".
 *
 * libinih (r55 as Debian 12 builds it) is driven through
 * ini_parse_stream() with a reader of our own over the buffer read from
 * the checked descriptor. The reader sees every raw line before libinih
 * does, which gives exact line numbers (the library is built without
 * INI_HANDLER_LINENO) and lets us refuse what libinih would silently
 * misread: lines longer than its buffer (split in two), section names
 * longer than 49 bytes (truncated), text after "]" (ignored), control
 * bytes, and indented lines that libinih glues to the previous key.
 * docs/configuration.md lists each of these.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_int.h"

#ifndef PA_HELPER_PATH
#error "PA_HELPER_PATH (the installed pam_agent_helper) must be defined by the build"
#endif

/* ---- small shared helpers ------------------------------------------------- */

static const char *const class_names[] = { "none", "read", "write", "escalate" };

const char *pol_class_name(enum pol_class cls)
{
	if ((unsigned)cls < PA_ARRAY_SIZE(class_names))
		return class_names[cls];
	return "none";
}

int pol_class_parse(const char *text, enum pol_class *cls)
{
	unsigned i;

	for (i = POL_CLASS_READ; i <= POL_CLASS_ESCALATE; i++) {
		if (strcmp(text, class_names[i]) == 0) {
			*cls = (enum pol_class)i;
			return 0;
		}
	}
	return -1;
}

const char *pol_source_name(enum pol_source source)
{
	switch (source) {
	case POL_SOURCE_MINT: return "mint";
	case POL_SOURCE_EXEC: return "exec";
	case POL_SOURCE_FILE: return "file";
	}
	return "unknown";
}

bool pol_list_has(const struct pol_list *l, const char *s)
{
	size_t i;

	if (s == NULL)
		return false;
	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

/* Frees the words of l; l is empty afterwards. */
static void list_clear(struct pol_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* ---- freeing ---------------------------------------------------------------- */

/* Frees what an [agent] rule owns (not the struct). */
static void agent_clear(struct pol_agent *a)
{
	free(a->pattern);
	list_clear(&a->users);
	list_clear(&a->run_as);
	list_clear(&a->services);
	list_clear(&a->rhosts);
	list_clear(&a->grants);
	free(a->hours);
	free(a->runtime_unit);
	free(a->runtime_exe);
	list_clear(&a->runtime_exe_sha256);
	list_clear(&a->runtime_parent_sha256);
	free(a->account);
	list_clear(&a->task_forbid);
	free(a->task_mode);
}

/* Frees what a [grant] owns (not the struct). */
static void grant_clear(struct pol_grant *g)
{
	free(g->name);
	free(g->audience);
	free(g->scope);
	free(g->command);
	free(g->revoke);
	free(g->path);
}

/* Frees everything cfg owns and cfg itself. */
static void config_free(struct pol_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	free(cfg->global.audience);
	free(cfg->global.audit_log);
	free(cfg->global.replay_dir);
	free(cfg->global.broker_key);
	free(cfg->global.broker_issuer);
	free(cfg->global.broker_jwks);
	free(cfg->global.helper);
	free(cfg->global.helper_socket);
	free(cfg->global.state_dir);
	free(cfg->global.uid_range);
	free(cfg->global.agent_group);
	free(cfg->global.agent_home);
	free(cfg->global.agent_shell);
	for (i = 0; i < cfg->n_domains; i++) {
		free(cfg->domains[i].name);
		free(cfg->domains[i].bundle);
		free(cfg->domains[i].x509_authorities);
		free(cfg->domains[i].bundle_endpoint);
		free(cfg->domains[i].bundle_endpoint_ca);
		free(cfg->domains[i].bundle_source_dir);
		free(cfg->domains[i].bundle_source_file);
	}
	free(cfg->domains);
	for (i = 0; i < cfg->n_issuers; i++) {
		free(cfg->issuers[i].url);
		free(cfg->issuers[i].jwks);
		free(cfg->issuers[i].audience);
		free(cfg->issuers[i].jwks_ca);
	}
	free(cfg->issuers);
	for (i = 0; i < cfg->n_services; i++)
		free(cfg->services[i].name);
	free(cfg->services);
	for (i = 0; i < cfg->n_agents; i++)
		agent_clear(&cfg->agents[i]);
	free(cfg->agents);
	for (i = 0; i < cfg->n_denies; i++) {
		free(cfg->denies[i].pattern);
		free(cfg->denies[i].reason);
	}
	free(cfg->denies);
	for (i = 0; i < cfg->n_grants; i++)
		grant_clear(&cfg->grants[i]);
	free(cfg->grants);
	for (i = 0; i < cfg->n_files; i++)
		free(cfg->files[i]);
	free(cfg->files);
	pol_index_free(cfg->index);
	free(cfg);
}

struct pol_config *pol_config_ref(struct pol_config *cfg)
{
	if (cfg != NULL)
		__atomic_add_fetch(&cfg->refs, 1, __ATOMIC_RELAXED);
	return cfg;
}

void pol_config_unref(struct pol_config *cfg)
{
	if (cfg != NULL && __atomic_sub_fetch(&cfg->refs, 1, __ATOMIC_ACQ_REL) == 0)
		config_free(cfg);
}

/* Reports running out of memory at the current line. */
void pol_cfg_oom(struct parse_ctx *c)
{
	PERR(c, "%s:%u: out of memory", c->file, c->lineno);
}

/*
 * Returns arr (of elements of size sz, *cap allocated, n used) grown to
 * hold n + 1, new elements zeroed; NULL when out of memory (arr is kept).
 */
void *pol_cfg_grow(void *arr, size_t *cap, size_t n, size_t sz)
{
	void *p;
	size_t ncap;

	if (n < *cap)
		return arr;
	ncap = *cap ? *cap * 2 : 8;
	if (ncap > SIZE_MAX / sz)
		return NULL;
	p = realloc(arr, ncap * sz);
	if (p == NULL)
		return NULL;
	memset((char *)p + *cap * sz, 0, (ncap - *cap) * sz);
	*cap = ncap;
	return p;
}

/* Frees what c owns (not the config). */
static void ctx_clear(struct parse_ctx *c)
{
	size_t i;

	for (i = 0; i < c->n_recs; i++)
		free(c->recs[i].label);
	free(c->recs);
	c->recs = NULL;
	c->n_recs = 0;
}

/* A new, empty configuration with the [global] defaults. */
static struct pol_config *config_new(void)
{
	struct pol_config *cfg = calloc(1, sizeof(*cfg));

	if (cfg == NULL)
		return NULL;
	cfg->refs = 1;
	cfg->global.clock_skew = 30;
	cfg->global.max_token_age = 3600;
	cfg->global.replay_max_entries = 10000;
	cfg->global.replay_agent_quota = 10;
	cfg->global.escalate_max_age = 60;
	cfg->global.max_delegation_depth = 0;
	cfg->global.helper_timeout = 30;
	cfg->global.task_ledger_max_entries = 10000;
	cfg->global.task_expire = 24 * 3600;
	cfg->global.replay_dir = strdup("/run/pam_agent");
	cfg->global.state_dir = strdup("/run/pam_agent");
	cfg->global.helper = strdup(PA_HELPER_PATH);
	cfg->global.agent_group = strdup("agents");
	cfg->global.agent_home = strdup("/nonexistent");
	cfg->global.agent_shell = strdup("/usr/sbin/nologin");
	if (cfg->global.replay_dir == NULL || cfg->global.state_dir == NULL ||
	    cfg->global.helper == NULL || cfg->global.agent_group == NULL ||
	    cfg->global.agent_home == NULL || cfg->global.agent_shell == NULL) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* ---- files ------------------------------------------------------------------------ */

/* Reads path with the file checks and parses it. */
static void parse_file(struct parse_ctx *c, const char *path)
{
	struct pa_file_rules rules = { .owner = geteuid(), .or_root = true,
				       .forbid_mode = 022, .max_size = POL_FILE_MAX };
	char err[512];
	char *buf = NULL;
	size_t len = 0;

	if (pa_read_file_safely(path, &rules, &buf, &len, err, sizeof(err)) != 0) {
		PERR(c, "%s", err);
		c->unreadable = true;
		return;
	}
	pol_cfg_parse_buffer(c, path, buf, len);
	free(buf);
}

/* qsort order of drop-in paths: strcmp. */
static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether name is a drop-in: "*.conf", not hidden, something before ".conf". */
static bool is_dropin(const char *name)
{
	size_t len = strlen(name);

	return name[0] != '.' && len > 5 && strcmp(name + len - 5, ".conf") == 0;
}

/* Parses every drop-in of dir in strcmp order; a missing dir is fine. */
static void parse_dropins(struct parse_ctx *c, const char *dir)
{
	char **names = NULL;
	size_t n = 0, i;
	struct dirent *de;
	struct stat st;
	DIR *d = NULL;
	int fd;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return;
		PERR(c, "%s: cannot open the drop-in directory: %s", dir,
		     errno == ELOOP || errno == ENOTDIR ? "not a directory (or a symbolic link)"
							: strerror(errno));
		return;
	}
	if (fstat(fd, &st) != 0) {
		PERR(c, "%s: cannot stat: %s", dir, strerror(errno));
		close(fd);
		return;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		PERR(c, "%s: owned by uid %lu, must be owned by root%s", dir,
		     (unsigned long)st.st_uid, geteuid() != 0 ? " or the effective uid" : "");
		close(fd);
		return;
	}
	if ((st.st_mode & 022) != 0) {
		PERR(c, "%s: mode %04o is too open (must not have any of 0022)", dir,
		     (unsigned)(st.st_mode & 07777));
		close(fd);
		return;
	}
	d = fdopendir(fd);
	if (d == NULL) {
		PERR(c, "%s: cannot read: %s", dir, strerror(errno));
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char **grown;

		if (!is_dropin(de->d_name))
			continue;
		if (n >= POL_DROPINS_MAX) {
			PERR(c, "%s: more than %d drop-in files", dir, POL_DROPINS_MAX);
			goto out;
		}
		grown = realloc(names, (n + 1) * sizeof(*grown));
		if (grown == NULL || asprintf(&grown[n], "%s/%s", dir, de->d_name) < 0) {
			if (grown != NULL)
				names = grown;
			PERR(c, "%s: out of memory", dir);
			goto out;
		}
		names = grown;
		n++;
	}
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n; i++)
		parse_file(c, names[i]);
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
}

/*
 * One whole parse: the document text (len bytes) named name, or, when text
 * is NULL, the file name and the drop-ins of dropin_dir; then the checks
 * across them. 0 with *out, or -1 with the problems moved into errors.
 */
static int config_run(const char *name, const char *text, size_t len, const char *dropin_dir,
		      struct pol_config **out, struct pol_errors *errors)
{
	struct pol_errors local = { 0 };
	struct pol_config *cfg = NULL;
	struct parse_ctx c;

	*out = NULL;
	memset(&c, 0, sizeof(c));
	c.errors = &local;
	c.cfg = config_new();
	if (c.cfg == NULL) {
		pol_errors_add(errors, "%s: out of memory", name);
		return -1;
	}
	if (text != NULL) {
		pol_cfg_parse_buffer(&c, name, text, len);
	} else {
		parse_file(&c, name);
		if (dropin_dir != NULL)
			parse_dropins(&c, dropin_dir);
	}
	cfg = pol_cfg_finish(&c, name);
	ctx_clear(&c);
	if (cfg == NULL) {
		config_free(c.cfg);
		pol_errors_move(errors, &local);
		return -1;
	}
	*out = cfg;
	return 0;
}

int pol_config_parse_text(const char *name, const char *text, size_t len,
			  struct pol_config **out, struct pol_errors *errors)
{
	/* text may not be NULL here: it selects the document over the files */
	return config_run(name, text != NULL ? text : "", len, NULL, out, errors);
}

int pol_config_load(const char *main_path, const char *dropin_dir,
		    struct pol_config **out, struct pol_errors *errors)
{
	return config_run(main_path, NULL, 0, dropin_dir, out, errors);
}
