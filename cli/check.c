/*
 * check.c - `pam-agent check`: validates a configuration the way the module
 * will use it: the files (syntax, references, permissions, through the
 * policy engine's own loader), every trust bundle and issuer JWKS (each
 * loaded on its own, so every broken one is listed), then the verifier as
 * the module builds it, the replay cache directory and the audit log's
 * directory. Nothing is created or changed.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "session.h"
#include "identity.h"
#include "policy.h"
#include "util.h"

/* What was counted while checking, for the summary line. */
struct check_counts {
	size_t domain_keys;
};

static int usage(FILE *f, int code)
{
	fprintf(f,
		"usage: pam-agent check [--config FILE] [--write-nss-db] [--nss-db FILE]\n"
		"                        [--passwd-file FILE] [--group-file FILE]\n"
		"\n"
		"Validates the configuration (default %s) and its\n"
		"drop-ins (FILE without .conf, plus .d): syntax, references and file\n"
		"permissions, every trust bundle and issuer JWKS, the replay cache\n"
		"directory (with single_use) and the audit log's directory. Warns\n"
		"(FILE:LINE: warning: ..., exit status unchanged) when several [agent]\n"
		"rules can log in as one uid (one principal) and when an exec grant's\n"
		"command or revoke has a relative-looking file argument; an error when\n"
		"the module refuses sessions because of such a shared uid. A trust\n"
		"bundle or JWKS that cannot be used is an error (the module refuses the\n"
		"tokens of that trust domain or issuer, and only those); one without a\n"
		"usable key is a warning (its tokens are all refused: an empty bundle\n"
		"revokes them); each key the loader ignores (unknown \"use\" or \"kty\",\n"
		"unsupported curve or size) is a notice (FILE:LINE: notice: ...). A\n"
		"bundle or JWKS file older than its max_bundle_age is an error (the\n"
		"module refuses its tokens: docs/bundles.md), one past 3/4 of it a\n"
		"warning.\n"
		"Exit 0 and a one-line summary when everything is usable; exit 1 and\n"
		"one problem per line (FILE:LINE: message, or FILE: message) otherwise;\n"
		"exit 2 on usage errors.\n"
		"\n"
		"Agent accounts (docs/nss.md): each account the configuration gives\n"
		"that collides with another or with a name or id of /etc/passwd or\n"
		"/etc/group (--passwd-file, --group-file) is an error and is not\n"
		"served; so is a missing, corrupt or stale database (--nss-db, default\n"
		"%s). --write-nss-db compiles it and replaces it atomically.\n",
		PA_DEFAULT_CONFIG, PA_NSS_DB);
	return code;
}

/*
 * Loads one key set with the identity engine's loader. A set that cannot
 * be used is a problem (the module refuses the tokens of that trust
 * domain or issuer, and only those); a set without a usable key is a
 * warning (the trust domain has revoked its keys, or moved to keys this
 * verifier does not know); each element the loader ignored is a notice.
 * Adds the set's key count to *n_keys.
 */
static void check_keyset(const char *path, enum id_keyset_kind kind, const char *what,
			const struct pol_where *where, struct pol_errors *errors,
			struct pol_errors *warnings, size_t *n_keys)
{
	struct id_keyset *keys;
	char err[512];
	size_t i;

	keys = id_keyset_load(path, kind, err, sizeof(err));
	if (keys == NULL) {
		pol_errors_add(errors, "%s:%u: %s: %s", where->file, where->line, what, err);
		return;
	}
	for (i = 0; id_keyset_notice(keys, i) != NULL; i++)
		pol_errors_add(warnings, "%s:%u: notice: %s: %s", where->file, where->line, what,
			       id_keyset_notice(keys, i));
	if (id_keyset_ignored(keys) > i)
		pol_errors_add(warnings, "%s:%u: notice: %s: %zu more keys ignored", where->file,
			       where->line, what, id_keyset_ignored(keys) - i);
	if (id_keyset_count(keys) == 0)
		pol_errors_add(warnings, "%s:%u: warning: %s has no usable %s key: every token "
			       "of it is refused (its keys were revoked, or are all of kinds this "
			       "verifier ignores)", where->file, where->line, what,
			       kind == ID_KEYSET_SPIFFE ? "jwt-svid" : "signature");
	*n_keys += id_keyset_count(keys);
	id_keyset_free(keys);
}

/*
 * Loads each trust bundle and each issuer JWKS on its own (check_keyset),
 * counting the trust domains' keys.
 */
static void check_keysets(const struct pol_config *cfg, struct pol_errors *errors,
			    struct pol_errors *warnings, struct check_counts *counts)
{
	char what[1024];
	size_t i, issuer_keys = 0;

	for (i = 0; i < cfg->n_domains; i++) {
		const struct pol_trust_domain *d = &cfg->domains[i];

		snprintf(what, sizeof(what), "[trust_domain %s] bundle", d->name);
		check_keyset(d->bundle, ID_KEYSET_SPIFFE, what, &d->where, errors,
			     warnings, &counts->domain_keys);
	}
	for (i = 0; i < cfg->n_issuers; i++) {
		const struct pol_issuer *is = &cfg->issuers[i];

		snprintf(what, sizeof(what), "[issuer %s] jwks", is->url);
		check_keyset(is->jwks, ID_KEYSET_OIDC, what, &is->where, errors,
			     warnings, &issuer_keys);
	}
}

/*
 * Builds and loads the verifier exactly as the module does
 * (pol_config_to_verifier + id_verifier_load), adding its refusal, if
 * any, as a problem of the main file: what the per-file pass cannot see
 * (no trust domain and no issuer, a missing audience, …). Key sets that
 * cannot be used are check_keysets' to report.
 */
/*
 * The age of each bundle and JWKS against its max_bundle_age
 * (docs/bundles.md), at now: over it an error (the module refuses its
 * tokens), past 3/4 of it a warning.
 */
/* One trust file's age: an error when stale, a warning when ageing. */
static void check_age(struct pol_errors *errors, struct pol_errors *warnings,
		      const struct id_keyset *keys, int64_t max_age, int64_t now,
		      const struct pol_where *where, const char *section, const char *file)
{
	char msg[768];
	enum cli_age a = cli_bundle_age(keys, max_age, now, msg, sizeof(msg));

	if (keys != NULL && a != CLI_AGE_FRESH)
		pol_errors_add(a == CLI_AGE_STALE ? errors : warnings, "%s:%u: %s%s %s: %s",
			       where->file, where->line, a == CLI_AGE_STALE ? "" : "warning: ",
			       section, file, msg);
}

static void check_ages(const struct pol_config *cfg, const struct id_verifier *v,
		       struct pol_errors *errors, struct pol_errors *warnings)
{
	int64_t now = (int64_t)time(NULL);
	char section[512];
	size_t i;

	for (i = 0; i < v->n_domains && i < cfg->n_domains; i++) {
		snprintf(section, sizeof(section), "[trust_domain %s] bundle", cfg->domains[i].name);
		check_age(errors, warnings, v->domains[i].keys, v->domains[i].max_bundle_age, now,
			  &cfg->domains[i].where, section, cfg->domains[i].bundle);
	}
	for (i = 0; i < v->n_issuers && i < cfg->n_issuers; i++) {
		snprintf(section, sizeof(section), "[issuer %s] jwks", cfg->issuers[i].url);
		check_age(errors, warnings, v->issuers[i].keys, v->issuers[i].max_bundle_age, now,
			  &cfg->issuers[i].where, section, cfg->issuers[i].jwks);
	}
}

static void check_verifier(const struct pol_config *cfg, struct pol_errors *errors,
			   struct pol_errors *warnings)
{
	struct id_verifier v;
	char err[512];
	size_t i;

	memset(&v, 0, sizeof(v));
	if (pol_config_to_verifier(cfg, &v, err, sizeof(err)) != 0 ||
	    id_verifier_load(&v, err, sizeof(err)) != 0)
		pol_errors_add(errors, "%s: %s", cfg->files[0], err);
	/* a bundle that cannot be used is check_keysets' to report; its x509_authorities here */
	for (i = 0; i < v.n_domains && i < cfg->n_domains; i++)
		if (v.domains[i].load_error != NULL &&
		    strncmp(v.domains[i].load_error, "x509_authorities: ", 18) == 0)
			pol_errors_add(errors, "%s:%u: [trust_domain %s] %s",
				       cfg->domains[i].where.file, cfg->domains[i].where.line,
				       cfg->domains[i].name, v.domains[i].load_error);
	check_ages(cfg, &v, errors, warnings);
	id_verifier_clear(&v);
}

/* Whether a file or directory owner is acceptable: root or the effective uid. */
static bool owner_ok(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* The directory part of path (which is absolute) into out. Returns out. */
static char *parent_dir(const char *path, char *out, size_t outlen)
{
	const char *slash = strrchr(path, '/');
	size_t len = slash != NULL ? (size_t)(slash - path) : 0;

	if (len == 0)
		len = 1; /* "/x" -> "/" */
	if (len >= outlen)
		len = outlen - 1;
	memcpy(out, path, len);
	out[len] = '\0';
	return out;
}

/*
 * With single_use, the replay cache directory must be usable by the
 * module: an existing real directory owned by root (or the effective uid),
 * not writable by group or others; or, when missing, a parent directory
 * that exists (the module creates only the last component, 0700).
 */
static void check_replay_dir(const struct pol_global *g, struct pol_errors *errors)
{
	const char *dir = g->replay_dir;
	char parent[4096];
	struct stat st;

	if (!g->single_use || dir == NULL)
		return;
	if (lstat(dir, &st) != 0) {
		if (errno != ENOENT) {
			pol_errors_add(errors, "%s:%u: [global] replay_dir %s: cannot stat: %s",
				       g->where.file, g->where.line, dir, strerror(errno));
			return;
		}
		parent_dir(dir, parent, sizeof(parent));
		if (stat(parent, &st) != 0 || !S_ISDIR(st.st_mode))
			pol_errors_add(errors,
				       "%s:%u: [global] replay_dir %s does not exist and its parent "
				       "directory %s does not exist either",
				       g->where.file, g->where.line, dir, parent);
		return;
	}
	if (S_ISLNK(st.st_mode))
		pol_errors_add(errors, "%s:%u: [global] replay_dir %s: is a symbolic link",
			       g->where.file, g->where.line, dir);
	else if (!S_ISDIR(st.st_mode))
		pol_errors_add(errors, "%s:%u: [global] replay_dir %s: not a directory",
			       g->where.file, g->where.line, dir);
	else if (!owner_ok(st.st_uid))
		pol_errors_add(errors, "%s:%u: [global] replay_dir %s: owned by uid %lu, must be "
			       "owned by root%s", g->where.file, g->where.line, dir,
			       (unsigned long)st.st_uid,
			       geteuid() != 0 ? " or the effective uid" : "");
	else if ((st.st_mode & 022) != 0)
		pol_errors_add(errors, "%s:%u: [global] replay_dir %s: mode %04o is writable by "
			       "group or others", g->where.file, g->where.line, dir,
			       (unsigned)(st.st_mode & 07777));
}

/*
 * The audit log's directory must exist (the module creates the file, not
 * directories); an existing log must pass the audit sink's own checks: a
 * regular file, not a symlink, owned by root (or the effective uid), not
 * writable by group or others.
 */
static void check_audit_log(const struct pol_global *g, struct pol_errors *errors)
{
	const char *path = g->audit_log;
	char parent[4096];
	struct stat st;

	if (path == NULL)
		return;
	parent_dir(path, parent, sizeof(parent));
	if (stat(parent, &st) != 0 || !S_ISDIR(st.st_mode)) {
		pol_errors_add(errors, "%s:%u: [global] audit_log %s: directory %s does not exist",
			       g->where.file, g->where.line, path, parent);
		return;
	}
	if (lstat(path, &st) != 0) {
		if (errno != ENOENT)
			pol_errors_add(errors, "%s:%u: [global] audit_log %s: cannot stat: %s",
				       g->where.file, g->where.line, path, strerror(errno));
		return; /* created 0600 at the first event */
	}
	if (S_ISLNK(st.st_mode))
		pol_errors_add(errors, "%s:%u: [global] audit_log %s: is a symbolic link",
			       g->where.file, g->where.line, path);
	else if (!S_ISREG(st.st_mode))
		pol_errors_add(errors, "%s:%u: [global] audit_log %s: not a regular file",
			       g->where.file, g->where.line, path);
	else if (!owner_ok(st.st_uid))
		pol_errors_add(errors, "%s:%u: [global] audit_log %s: owned by uid %lu, must be "
			       "owned by root%s", g->where.file, g->where.line, path,
			       (unsigned long)st.st_uid,
			       geteuid() != 0 ? " or the effective uid" : "");
	else if ((st.st_mode & 022) != 0)
		pol_errors_add(errors, "%s:%u: [global] audit_log %s: mode %04o is too open (must "
			       "not have any of 0022)", g->where.file, g->where.line, path,
			       (unsigned)(st.st_mode & 07777));
}

/* ---- warnings: usable, but weaker than it looks ------------------------------------- */

/* One name of one [agent] rule's users, and what it is here. */
struct check_login {
	const struct pol_agent *rule;
	const char *name;
	enum pol_class ceiling; /* pol_rule_ceiling of rule */
	int found;		/* 0: uid is its uid; 1: no such user here */
	uid_t uid;
	bool done; /* reported with an earlier one */
	char self[POL_ACCOUNT_NAME_MAX + 1]; /* users = self: the rule's own account */
};

/* Whether a and b are one account: one uid, or one name that is no user here. */
static bool same_account(const struct check_login *a, const struct check_login *b)
{
	if (a->found != b->found)
		return false;
	return a->found == 0 ? a->uid == b->uid : strcmp(a->name, b->name) == 0;
}

/*
 * Writes to f what the module refuses among the logins of one account
 * (g[0..n)): for each rule, its grants of a class above the lowest
 * ceiling of the other rules there, which no session of it gets placed
 * (pam_agent/session_checks.c, pa_shared_uid_boundary). Returns how many rules lose
 * sessions.
 */
static size_t refusals(const struct pol_config *cfg, struct check_login **g, size_t n, FILE *f)
{
	size_t i, j, k, refused = 0;

	for (i = 0; i < n; i++) {
		const struct pol_agent *r = g[i]->rule, *low = NULL;
		enum pol_class lowest = POL_CLASS_ESCALATE;
		bool first = true, seen = false;

		for (j = 0; j < i && !seen; j++)
			seen = g[j]->rule == r;
		if (seen)
			continue;
		for (j = 0; j < n; j++)
			if (g[j]->rule != r && (low == NULL || g[j]->ceiling < lowest)) {
				lowest = g[j]->ceiling;
				low = g[j]->rule;
			}
		if (low == NULL || lowest >= g[i]->ceiling)
			continue;
		for (k = 0; k < r->grants.n; k++) {
			const struct pol_grant *gr = pol_config_find_grant(cfg, r->grants.v[k]);

			if (gr == NULL || gr->cls <= lowest || gr->cls > g[i]->ceiling)
				continue;
			if (first)
				fprintf(f, "%s[agent %s] gets no session that would receive %s",
					refused > 0 ? "; " : "", r->pattern, gr->name);
			else
				fprintf(f, ", %s", gr->name);
			fprintf(f, " (%s)", pol_class_name(gr->cls));
			first = false;
		}
		if (!first) {
			fprintf(f, ", above the at most %s of [agent %s]", pol_class_name(lowest),
				low->pattern);
			refused++;
		}
	}
	return refused;
}

/*
 * The logins of every [agent] rule that opens sessions, one per name of
 * its users, with the uid each name has here, into l. A name whose lookup
 * fails is a problem. Returns how many.
 */
static size_t collect_logins(const struct pol_config *cfg, struct check_login *l,
			     struct pol_errors *errors)
{
	size_t i, k, n = 0;
	char why[512];

	for (i = 0; i < cfg->n_agents; i++) {
		const struct pol_agent *a = &cfg->agents[i];

		for (k = 0; k < a->users.n; k++) {
			struct check_login *e = &l[n];

			e->rule = a;
			e->name = a->users.v[k];
			e->ceiling = pol_rule_ceiling(cfg, a);
			if (e->ceiling == POL_CLASS_NONE)
				continue; /* the rule opens no session at all */
			if (strcmp(e->name, "self") == 0) {
				/* the agent's own account (docs/nss.md), or nobody */
				if (pol_agent_account(cfg, a, e->self, &e->uid) != 0)
					continue;
				e->name = e->self;
				e->found = 0;
				n++;
				continue;
			}
			e->found = pol_user_uid(NULL, e->name, &e->uid, why, sizeof(why));
			if (e->found < 0) {
				pol_errors_add(errors,
					       "%s:%u: [agent %s]: cannot look up user %s (%s): until "
					       "it can, the module refuses every session whose "
					       "credentials are above %s, the most this rule may hold",
					       a->where.file, a->where.line, a->pattern, e->name, why,
					       pol_class_name(e->ceiling));
				continue;
			}
			n++;
		}
	}
	return n;
}

/*
 * Writes to f the account one of g[0..ng) (rules rules) and what the
 * module refuses there; returns how many rules lose sessions.
 */
static size_t describe_account(FILE *f, const struct pol_config *cfg,
			       const struct check_login *first,
			       struct check_login **g, size_t ng, size_t rules)
{
	size_t j, k, refused;

	if (first->found == 0) {
		fprintf(f, "uid %lu (user", (unsigned long)first->uid);
		for (j = 0; j < ng; j++) {
			bool seen = false;

			for (k = 0; k < j && !seen; k++)
				seen = strcmp(g[k]->name, g[j]->name) == 0;
			if (!seen)
				fprintf(f, " %s", g[j]->name);
		}
		fprintf(f, ") is shared by %zu agent rules: ", rules);
	} else {
		fprintf(f, "user %s (no such user here) is named by %zu agent rules: ", first->name,
			rules);
	}
	for (j = 0; j < ng; j++)
		fprintf(f, "%s[agent %s] (%s:%u) as %s, at most %s", j > 0 ? ", " : "",
			g[j]->rule->pattern, g[j]->rule->where.file, g[j]->rule->where.line,
			g[j]->name, pol_class_name(g[j]->ceiling));
	fprintf(f, "; one uid is one principal: its processes read each other's "
		   "credentials (/proc/PID/fd and environ, files planted in the shared "
		   "home, ptrace)");
	fprintf(f, "%s", first->found == 0 ? ", and the module refuses: " :
		   "; where it is a user, the module refuses: ");
	refused = refusals(cfg, g, ng, f);
	if (refused == 0)
		fprintf(f, "nothing, the rules may hold the same classes");
	fprintf(f, "; give each agent an account of its own");
	return refused;
}

/*
 * A uid is one principal (docs/sessions.md, "Who can read a session's
 * keys"; security review H2): agents that log in as one uid read each
 * other's credentials through /proc/PID/fd and environ, the files of
 * their shared home and ptrace, and the module refuses to place
 * credentials of a class above what another rule of the uid may hold.
 * Each rule's users are looked up (two names can be one uid) and grouped
 * by uid; a name that is no user here is grouped by name. For each
 * account several rules can log in as (rules that open no session, their
 * services all above max_class or undefined, are left out): an error when
 * the module refuses
 * some of their sessions (exit 1, like every other configuration that
 * makes the module refuse requests), else a warning (they are one
 * principal). A lookup that fails is an error: the module refuses then.
 */
static void check_shared_uids(const struct pol_config *cfg, struct pol_errors *errors,
			      struct pol_errors *warnings)
{
	struct check_login *l = NULL, **g = NULL;
	size_t i, j, k, n, cap = 0, ng, rules;

	for (i = 0; i < cfg->n_agents; i++)
		cap += cfg->agents[i].users.n;
	if (cap == 0)
		return;
	l = calloc(cap, sizeof(*l));
	g = calloc(cap, sizeof(*g));
	if (l == NULL || g == NULL) {
		pol_errors_add(errors, "%s: out of memory", cfg->files[0]);
		goto out;
	}
	n = collect_logins(cfg, l, errors);
	for (i = 0; i < n; i++) {
		char *text = NULL;
		size_t len = 0, refused;
		FILE *f;

		if (l[i].done)
			continue;
		for (j = i, ng = 0, rules = 0; j < n; j++) {
			bool seen = false;

			if (!same_account(&l[i], &l[j]))
				continue;
			l[j].done = true;
			for (k = 0; k < ng && !seen; k++)
				seen = g[k]->rule == l[j].rule;
			rules += seen ? 0 : 1;
			g[ng++] = &l[j];
		}
		if (rules < 2)
			continue;
		f = open_memstream(&text, &len);
		if (f == NULL) {
			pol_errors_add(errors, "%s: out of memory", cfg->files[0]);
			break;
		}
		refused = describe_account(f, cfg, &l[i], g, ng, rules);
		if (fclose(f) != 0 || text == NULL) {
			free(text);
			pol_errors_add(errors, "%s: out of memory", cfg->files[0]);
			break;
		}
		if (refused > 0 && l[i].found == 0)
			pol_errors_add(errors, "%s:%u: %s", l[i].rule->where.file,
				       l[i].rule->where.line, text);
		else
			pol_errors_add(warnings, "%s:%u: warning: %s", l[i].rule->where.file,
				       l[i].rule->where.line, text);
		free(text);
	}
out:
	free(l);
	free(g);
}

/* Whether word ends in suffix. */
static bool ends_with(const char *word, const char *suffix)
{
	size_t w = strlen(word), s = strlen(suffix);

	return w > s && strcmp(word + w - s, suffix) == 0;
}

/*
 * The rule of docs/configuration.md for the arguments of exec commands:
 * brokers run as root in "/", and an argument that names a file must be
 * absolute. A word (or the value of --name=value) that does not start with
 * "/" looks like a relative file name when it is "." or "..", starts with
 * "./" or "../", or ends in a script extension; with a python program,
 * "-m NAME" (a module looked up from the working directory first) too.
 * Returns why, or NULL.
 */
static const char *relative_arg(const char *prog, const char *prev, const char *word)
{
	static const char *const exts[] = { ".py", ".pyc", ".pl", ".pm", ".rb", ".sh",
					    ".bash", ".js", ".mjs", ".cjs", ".php", ".lua",
					    ".jar", ".tcl", NULL };
	const char *base = strrchr(prog, '/') != NULL ? strrchr(prog, '/') + 1 : prog;
	bool python = strncmp(base, "python", 6) == 0;
	size_t i;

	if (python && (strcmp(prev, "-m") == 0 || (strncmp(word, "-m", 2) == 0 && word[2])))
		return "a python module name (-m), looked up in the working directory first";
	if (word[0] == '-' && strchr(word, '=') != NULL)
		word = strchr(word, '=') + 1;
	if (word[0] == '/' || word[0] == '\0' || strstr(word, "://") != NULL)
		return NULL;
	if (strcmp(word, ".") == 0 || strcmp(word, "..") == 0 || strncmp(word, "./", 2) == 0 ||
	    strncmp(word, "../", 3) == 0)
		return "a relative path";
	for (i = 0; exts[i] != NULL; i++)
		if (ends_with(word, exts[i]))
			return "a relative script file name";
	return NULL;
}

/* Warns about each relative-looking argument of an exec grant's command or revoke. */
static void warn_command(const struct pol_grant *g, const char *key, const char *command,
			 struct pol_errors *warnings)
{
	char **argv = NULL, err[256];
	const char *why;
	size_t i;

	if (command == NULL || ses_split_command(command, &argv, err, sizeof(err)) != 0)
		return; /* the loader refused it already */
	for (i = 1; argv[i] != NULL; i++) {
		why = relative_arg(argv[0], argv[i - 1], argv[i]);
		if (why == NULL)
			continue;
		pol_errors_add(warnings,
			       "%s:%u: warning: [grant %s] %s: argument '%s' is %s: brokers run "
			       "as root in \"/\", so it resolves against \"/\"; name files by "
			       "absolute paths",
			       g->where.file, g->where.line, g->name, key, argv[i], why);
	}
	ses_argv_free(argv);
}

static void warn_exec_arguments(const struct pol_config *cfg, struct pol_errors *warnings)
{
	size_t i;

	for (i = 0; i < cfg->n_grants; i++) {
		const struct pol_grant *g = &cfg->grants[i];

		if (g->source != POL_SOURCE_EXEC)
			continue;
		warn_command(g, "command", g->command, warnings);
		warn_command(g, "revoke", g->revoke, warnings);
	}
}

/* ", N agent accounts" when the configuration gives agent accounts. */
static const char *accounts_note(const struct pol_config *cfg, size_t n)
{
	static char note[64];

	if (cfg->global.uid_range == NULL)
		return "";
	snprintf(note, sizeof(note), ", %zu agent accounts", n);
	return note;
}

/*
 * Runs every check on the configuration at path. Prints the summary and
 * returns CLI_OK, or prints each problem on its own line and returns
 * CLI_REJECT.
 */
static int check_config(const char *path, const struct cli_nss_opts *nss)
{
	struct pol_errors errors = { 0 }, warnings = { 0 };
	struct check_counts counts = { 0 };
	struct pol_config *cfg = NULL;
	char dropins[4096];
	size_t i, n_accounts = 0;
	int ret = CLI_REJECT;

	pa_dropin_dir(path, dropins, sizeof(dropins));
	if (pol_config_load(path, dropins, &cfg, &errors) != 0)
		goto out;
	check_keysets(cfg, &errors, &warnings, &counts);
	check_verifier(cfg, &errors, &warnings);
	check_replay_dir(&cfg->global, &errors);
	check_audit_log(&cfg->global, &errors);
	check_shared_uids(cfg, &errors, &warnings);
	warn_exec_arguments(cfg, &warnings);
	cli_check_accounts(cfg, nss, &errors, &n_accounts);
	if (errors.n == 0 && errors.dropped == 0)
		ret = CLI_OK;
out:
	for (i = 0; i < errors.n; i++)
		printf("%s\n", errors.msgs[i]);
	if (errors.dropped > 0)
		printf("%s: ... and %zu more problems\n", path, errors.dropped);
	for (i = 0; i < warnings.n; i++)
		printf("%s\n", warnings.msgs[i]);
	if (warnings.dropped > 0)
		printf("%s: ... and %zu more warnings\n", path, warnings.dropped);
	if (ret == CLI_OK)
		printf("configuration OK: %zu files, %zu trust domains (%zu keys), %zu issuers, "
		       "%zu agent rules, %zu grants%s%s\n", cfg->n_files, cfg->n_domains,
		       counts.domain_keys, cfg->n_issuers, cfg->n_agents, cfg->n_grants,
		       accounts_note(cfg, n_accounts),
		       warnings.n + warnings.dropped > 0 ? " (with warnings above)" : "");
	pol_errors_clear(&errors);
	pol_errors_clear(&warnings);
	pol_config_unref(cfg);
	return ret;
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "nss-db", required_argument, NULL, 'n' },
		{ "write-nss-db", no_argument, NULL, 'w' },
		{ "passwd-file", required_argument, NULL, 'p' },
		{ "group-file", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = PA_DEFAULT_CONFIG;
	struct cli_nss_opts nss = { PA_NSS_DB, false, NULL, NULL };
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'n': nss.db = optarg; break;
		case 'w': nss.write = true; break;
		case 'p': nss.passwd_file = optarg; break;
		case 'g': nss.group_file = optarg; break;
		case 'h': return usage(stdout, CLI_OK);
		default: return usage(stderr, CLI_USAGE);
		}
	}
	if (optind != argc)
		return usage(stderr, CLI_USAGE);
	if (config[0] == '\0')
		return cli_usage_error("check: --config needs a file name");
	if (nss.db[0] != '/')
		return cli_usage_error("check: --nss-db needs an absolute path");
	return check_config(config, &nss);
}
