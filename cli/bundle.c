/*
 * bundle.c - `pam-agent bundle fetch|show|check` (docs/bundles.md): keeps
 * the trust bundles and JWKS files of the configuration fresh from their
 * sources (bundle_src.c), refusing anything the module could not use, a
 * spiffe_sequence that goes backwards, and any error, which keeps the
 * installed file; and says how old each file is against max_bundle_age.
 * Run by pam-agent-bundle.timer, never by the module.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "audit.h"
#include "cli.h"
#include "util.h"

/* One run of a bundle subcommand. */
struct bundle_run {
	struct pol_config *cfg;
	struct cli_bundle *v;
	size_t n;
	const char *only; /* --name: one trust domain or issuer */
	bool force;	  /* fetch: also what is not due */
	int64_t now;
};

static int usage(FILE *f, int code)
{
	fprintf(
	    f,
	    "usage: pam-agent bundle fetch [--config FILE] [--name NAME] [--force] [--now EPOCH]\n"
	    "       pam-agent bundle show  [--config FILE] [--name NAME] [--now EPOCH]\n"
	    "       pam-agent bundle check [--config FILE] [--name NAME] [--now EPOCH]\n"
	    "\n"
	    "fetch: for each trust domain with bundle_endpoint, bundle_source_file or\n"
	    "bundle_source_dir, and each issuer with jwks_discovery = yes, whose file\n"
	    "is due (older than its refresh interval: spiffe_refresh_hint bounded to\n"
	    "%d s..%d s, %d s without one), gets the document, checks that the module\n"
	    "can use it and that its spiffe_sequence does not go backwards, and\n"
	    "replaces the file atomically; on any error the installed file is kept.\n"
	    "One line per trust domain or issuer, one audit event per fetch.\n"
	    "show: each file's sequence, keys, age, next fetch and age limit.\n"
	    "check: exit 1 when a file is stale (the module refuses its tokens) or\n"
	    "past 3/4 of max_bundle_age.\n"
	    "NAME is a trust domain or an issuer URL. Exit 0 when all went well,\n"
	    "1 when a fetch failed or a file is (nearly) stale, 2 on usage errors.\n",
	    ID_REFRESH_MIN, ID_REFRESH_MAX, ID_REFRESH_DEFAULT);
	return code;
}

/* The trust domains and issuers of the configuration, as cli_bundle entries. */
static int collect(struct bundle_run *r)
{
	const struct pol_config *cfg = r->cfg;
	size_t i;

	r->v = calloc(cfg->n_domains + cfg->n_issuers + 1, sizeof(*r->v));
	if (r->v == NULL)
		return cli_usage_error("out of memory");
	for (i = 0; i < cfg->n_domains; i++) {
		const struct pol_trust_domain *d = &cfg->domains[i];
		struct cli_bundle *b = &r->v[r->n];

		if (r->only != NULL && strcmp(r->only, d->name) != 0)
			continue;
		*b = (struct cli_bundle){
		    .what = "trust domain",
		    .name = d->name,
		    .kind = ID_KEYSET_SPIFFE,
		    .path = d->bundle,
		    .endpoint = d->bundle_endpoint,
		    .ca = d->bundle_endpoint_ca,
		    .source_dir = d->bundle_source_dir,
		    .source_file = d->bundle_source_file,
		    .max_bundle_age = pol_bundle_age(d->has_max_bundle_age, d->max_bundle_age,
						     pol_trust_domain_fetched(d))};
		r->n++;
	}
	for (i = 0; i < cfg->n_issuers; i++) {
		const struct pol_issuer *is = &cfg->issuers[i];
		struct cli_bundle *b = &r->v[r->n];

		if (r->only != NULL && strcmp(r->only, is->url) != 0)
			continue;
		*b = (struct cli_bundle){.what = "issuer",
					 .name = is->url,
					 .kind = ID_KEYSET_OIDC,
					 .path = is->jwks,
					 .issuer_url = is->jwks_discovery ? is->url : NULL,
					 .ca = is->jwks_ca,
					 .max_bundle_age = pol_bundle_age(is->has_max_bundle_age,
									  is->max_bundle_age,
									  is->jwks_discovery)};
		r->n++;
	}
	if (r->only != NULL && r->n == 0)
		return cli_usage_error("no trust domain or issuer %s in the configuration",
				       r->only);
	return 0;
}

/* Where the age of keys stands (see cli.h). */
enum cli_age cli_bundle_age(const struct id_keyset *keys, int64_t max_bundle_age, int64_t now,
			    char *msg, size_t len)
{
	int64_t limit = id_bundle_age_limit(keys, max_bundle_age);
	int64_t mtime = id_keyset_mtime(keys);
	int64_t age = now > mtime ? now - mtime : 0;

	if (limit == 0) {
		snprintf(msg, len, "age %" PRId64 "s, no max_bundle_age", age);
		return CLI_AGE_FRESH;
	}
	if (id_bundle_check_age(keys, max_bundle_age, now, msg, len) != 0)
		return CLI_AGE_STALE;
	snprintf(msg, len, "age %" PRId64 "s of max_bundle_age %" PRId64 "s%s", age, limit,
		 age > limit / 4 * 3 ? ": past 3/4 of it, refused in " : "");
	if (age > limit / 4 * 3) {
		size_t used = strlen(msg);

		snprintf(msg + used, len - used,
			 "%" PRId64 "s (is pam-agent-bundle.timer "
			 "running? pam-agent bundle fetch --force)",
			 limit - age);
		return CLI_AGE_WARN;
	}
	return CLI_AGE_FRESH;
}

/* One audit event of a fetch (the fetch stands when the audit fails: it is said). */
static void audit(const struct bundle_run *r, bool ok, const char *line)
{
	struct aud_sink sink = {.file = r->cfg->global.audit_log};
	struct aud_event *ev =
	    aud_event_new(AUD_BUNDLE_FETCH, ok ? AUD_RESULT_OK : AUD_RESULT_FAILED, NULL);
	char err[512];

	if (ev == NULL || aud_event_add_reason(ev, line) != 0 ||
	    aud_emit(&sink, ev, err, sizeof(err)) != 0)
		fprintf(stderr, "pam-agent: warning: audit: %s\n",
			ev == NULL ? "out of memory" : err);
	aud_event_free(ev);
}

/*
 * Whether fresh may replace cur (the installed key set, or NULL): a
 * usable document, an OIDC JWKS with a key, and a spiffe_sequence that
 * does not go backwards. 0 or -1 with err.
 */
static int acceptable(const struct cli_bundle *b, const struct id_keyset *cur,
		      const struct id_keyset *fresh, char *err, size_t errlen)
{
	int64_t was = id_keyset_sequence(cur), got = id_keyset_sequence(fresh);

	if (b->kind == ID_KEYSET_OIDC && id_keyset_count(fresh) == 0)
		return pa_err(err, errlen, "the JWKS has no usable signature key");
	if (was >= 0 && got < 0)
		return pa_err(err, errlen,
			      "the new bundle has no spiffe_sequence, the installed "
			      "one %" PRId64,
			      was);
	if (was >= 0 && got < was)
		return pa_err(err, errlen,
			      "spiffe_sequence goes backwards: %" PRId64 " after the "
			      "installed %" PRId64,
			      got, was);
	return 0;
}

/* Gets, checks and installs the document of b; 0 or -1 with err. */
static int fetch_one(const struct cli_bundle *b, const struct id_keyset *cur,
		     struct id_keyset **fresh, bool *changed, char *err, size_t errlen)
{
	char *doc = NULL, *old = NULL, why[1024];
	size_t len = 0, oldlen = 0;
	struct pa_file_rules rules = {
	    .owner = 0,
	    .or_root = true,
	    .forbid_mode = 022,
	    .max_size = ID_BUNDLE_MAX,
	};
	int rc = -1;

	if (cli_bundle_get(b, &doc, &len, err, errlen) != 0)
		return -1;
	/* what the module will do with the file: the same parser */
	*fresh = id_keyset_parse(doc, len, b->kind, why, sizeof(why));
	if (*fresh == NULL) {
		pa_err(err, errlen, "not a usable %s: %s",
		       b->kind == ID_KEYSET_SPIFFE ? "SPIFFE bundle" : "JWKS", why);
		goto out;
	}
	if (acceptable(b, cur, *fresh, err, errlen) != 0)
		goto out;
	*changed = cur == NULL ||
		   pa_read_file_safely(b->path, &rules, &old, &oldlen, why, sizeof(why)) != 0 ||
		   oldlen != len || memcmp(old, doc, len) != 0;
	/* rewritten even when unchanged: its mtime is when it was last confirmed */
	if (pa_write_file_atomic(b->path, NULL, doc, len, 0644, why, sizeof(why)) != 0) {
		pa_err(err, errlen, "cannot install it: %s", why);
		goto out;
	}
	rc = 0;
out:
	free(old);
	free(doc);
	return rc;
}

/* The summary of a key set: sequence, keys, authorities, refresh hint. */
static const char *describe(const struct id_keyset *k, char *buf, size_t len)
{
	int64_t seq = id_keyset_sequence(k), hint = id_keyset_refresh_hint(k);
	int n = snprintf(buf, len, "%zu jwt keys, %zu x509 authorities", id_keyset_count(k),
			 id_keyset_x509_count(k));

	if (n > 0 && (size_t)n < len && seq >= 0)
		n += snprintf(buf + n, len - (size_t)n, ", spiffe_sequence %" PRId64, seq);
	if (n > 0 && (size_t)n < len && hint >= 0)
		snprintf(buf + n, len - (size_t)n, ", spiffe_refresh_hint %" PRId64 "s", hint);
	return buf;
}

/*
 * Locks the directory of path (flock, waiting): two fetches of one file
 * (the timer's and a --force by hand) run one after the other, so the
 * sequence each checks is the one it replaces. The descriptor, or -1.
 */
static int lock_dir(const char *path)
{
	char dir[4200];
	const char *slash = path != NULL ? strrchr(path, '/') : NULL;
	int fd;

	/* the configuration has absolute paths only */
	if (slash == NULL) {
		errno = EINVAL;
		return -1;
	}
	snprintf(dir, sizeof(dir), "%.*s", slash != path ? (int)(slash - path) : 1, path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && flock(fd, LOCK_EX) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* fetch for one trust domain or issuer: one line, an audit event when it fetched. */
static int run_fetch(const struct bundle_run *r, const struct cli_bundle *b)
{
	char why[1024], err[1024], line[2400], desc[160], when[32];
	struct id_keyset *cur, *fresh = NULL;
	bool changed = false;
	int64_t due;
	int rc = CLI_OK, lock;

	if (cli_bundle_source(b) == NULL)
		return CLI_OK; /* nothing to fetch it from: show says so */
	lock = lock_dir(b->path);
	if (lock < 0) {
		snprintf(line, sizeof(line), "%s %s: fetch from %s failed: cannot lock the "
			 "directory of %s: %s", b->what, b->name, cli_bundle_source(b), b->path,
			 strerror(errno));
		printf("%s\n", line);
		audit(r, false, line);
		return CLI_REJECT;
	}
	cur = id_keyset_load(b->path, b->kind, why, sizeof(why));
	due = cur != NULL ? id_keyset_mtime(cur) + id_bundle_refresh_interval(cur) : 0;
	if (!r->force && cur != NULL && r->now < due) {
		printf("%s %s: not due; next fetch at %s (in %" PRId64 "s)\n", b->what, b->name,
		       cli_utc(due, when, sizeof(when)), due - r->now);
		id_keyset_free(cur);
		close(lock);
		return CLI_OK;
	}
	if (fetch_one(b, cur, &fresh, &changed, err, sizeof(err)) == 0) {
		snprintf(line, sizeof(line),
			 "%s %s: %s %s from %s (%s); next fetch at %s "
			 "(in %" PRId64 "s)",
			 b->what, b->name, changed ? "installed" : "confirmed", b->path,
			 cli_bundle_source(b), describe(fresh, desc, sizeof(desc)),
			 cli_utc(r->now + id_bundle_refresh_interval(fresh), when, sizeof(when)),
			 id_bundle_refresh_interval(fresh));
		printf("%s\n", line);
		audit(r, true, line);
	} else {
		snprintf(line, sizeof(line), "%s %s: fetch from %s failed, %s kept: %s", b->what,
			 b->name, cli_bundle_source(b),
			 cur != NULL ? "the installed file" : "no usable file, nothing", err);
		printf("%s\n", line);
		audit(r, false, line);
		rc = CLI_REJECT;
	}
	id_keyset_free(fresh);
	id_keyset_free(cur);
	close(lock);
	return rc;
}

/* show / check for one trust domain or issuer. */
static int run_show(const struct bundle_run *r, const struct cli_bundle *b, bool check)
{
	char why[1024], desc[160], when[32], age[512];
	const char *src = cli_bundle_source(b);
	struct id_keyset *cur = id_keyset_load(b->path, b->kind, why, sizeof(why));
	enum cli_age a;

	if (cur == NULL) {
		printf("%s %s: %s cannot be used (its tokens are refused): %s\n", b->what, b->name,
		       b->path, why);
		return CLI_REJECT;
	}
	a = cli_bundle_age(cur, b->max_bundle_age, r->now, age, sizeof(age));
	if (check && a == CLI_AGE_FRESH) {
		id_keyset_free(cur);
		return CLI_OK;
	}
	printf("%s %s: %s: %s; %s; %s", b->what, b->name, b->path,
	       describe(cur, desc, sizeof(desc)),
	       a == CLI_AGE_STALE  ? "STALE (its tokens are "
				     "refused)"
	       : a == CLI_AGE_WARN ? "warning"
				   : "fresh",
	       age);
	if (src != NULL)
		printf("; from %s, next fetch at %s%s\n", src,
		       cli_utc(id_keyset_mtime(cur) + id_bundle_refresh_interval(cur), when,
			       sizeof(when)),
		       id_keyset_mtime(cur) + id_bundle_refresh_interval(cur) <= r->now
			       ? " (due: at the next run of the timer)"
			       : "");
	else
		printf("; no source (not fetched by pam-agent bundle fetch)\n");
	id_keyset_free(cur);
	return a == CLI_AGE_FRESH ? CLI_OK : CLI_REJECT;
}

/* Parses the options after the subcommand into r; -1 to go on, else the exit code. */
static int options(int argc, char **argv, struct bundle_run *r, const char **config)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'}, {"name", required_argument, NULL, 'n'},
	    {"force", no_argument, NULL, 'f'},	      {"now", required_argument, NULL, 'N'},
	    {"help", no_argument, NULL, 'h'},	      {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:n:fh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			*config = optarg;
			break;
		case 'n':
			r->only = optarg;
			break;
		case 'f':
			r->force = true;
			break;
		case 'N':
			if (cli_parse_epoch(optarg, &r->now) != 0)
				return cli_usage_error("--now: not a time in seconds: %s", optarg);
			break;
		case 'h':
			return usage(stdout, CLI_OK);
		default:
			return usage(stderr, CLI_USAGE);
		}
	}
	if (optind != argc)
		return cli_usage_error("bundle: unexpected argument %s", argv[optind]);
	return -1;
}

int cmd_bundle(int argc, char **argv)
{
	struct bundle_run r = {.now = (int64_t)time(NULL)};
	const char *config = PA_DEFAULT_CONFIG, *sub;
	int rc, ret = CLI_OK;
	size_t i, sources = 0;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return usage(argc < 2 ? stderr : stdout, argc < 2 ? CLI_USAGE : CLI_OK);
	sub = argv[1];
	if (strcmp(sub, "fetch") != 0 && strcmp(sub, "show") != 0 && strcmp(sub, "check") != 0)
		return cli_usage_error("bundle: unknown subcommand %s (fetch, show or check)", sub);
	rc = options(argc - 1, argv + 1, &r, &config);
	if (rc >= 0)
		return rc;
	if (cli_load_config(config, &r.cfg) != 0)
		return CLI_USAGE;
	if (collect(&r) != 0) {
		ret = CLI_USAGE;
		goto out;
	}
	if (strcmp(sub, "fetch") == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		ret = cli_usage_error("cannot initialise libcurl");
		goto out;
	}
	for (i = 0; i < r.n; i++) {
		rc = strcmp(sub, "fetch") == 0 ? run_fetch(&r, &r.v[i])
					       : run_show(&r, &r.v[i], strcmp(sub, "check") == 0);
		if (rc != CLI_OK)
			ret = rc;
		sources += cli_bundle_source(&r.v[i]) != NULL;
	}
	if (strcmp(sub, "fetch") == 0 && sources == 0)
		printf("nothing to fetch: no trust domain or issuer has a source (bundle_endpoint, "
		       "bundle_source_dir, bundle_source_file, jwks_discovery)\n");
	if (strcmp(sub, "fetch") == 0)
		curl_global_cleanup();
out:
	free(r.v);
	pol_config_unref(r.cfg);
	return ret;
}
