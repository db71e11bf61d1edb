/*
 * fuzz_config.c - libFuzzer target for the configuration: the libinih-based
 * parser and validator of policy/config.c (and index.c,
 * errors.c), reached two ways:
 *
 *   text     every input through pol_config_parse_text;
 *   files    when the input (at most FILES_MAX bytes) holds the line
 *            "#%drop-in" (a comment to the text parser), the part before
 *            it is written as the main file
 *            and each part after one as a drop-in (at most 3) in a private
 *            temporary directory, then pol_config_load reads them with the
 *            file checks, the drop-in directory listing and the ordering.
 *
 * A configuration that loads is then used the way the module uses it:
 * pol_config_to_verifier, the match functions, and pol_decide +
 * pol_explain for requests built from its own [agent] rules (so that the
 * allow paths are reached too), with and without an act chain and an
 * attested runtime. A refused configuration must come with at least one
 * message.
 * Built and run by `make fuzz` / `make fuzz-run` (docs/fuzzing.md).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEPARATOR "\n#%drop-in\n"
#define MAX_DROPINS 3
/* Tuesday 2023-11-14 22:13:20 UTC */
#define FUZZ_NOW INT64_C(1700000000)

static char tmpdir[64], main_path[128], dropin_dir[128];
static char dropin_path[MAX_DROPINS][160];

/*
 * pol_config_load reads each file into a buffer of the file size limit
 * (POL_FILE_MAX, 8 MiB) plus 2: under ASan every such allocation maps and
 * poisons 8 MiB, which made the files mode ~10 times slower than parsing.
 * The files mode only writes files of at most FILES_MAX bytes, so the
 * limit is lowered to that here (ld --wrap); the reading, the checks and
 * the parsing are the real ones.
 */
#define FILES_MAX (60 * 1024)
int __wrap_pa_read_file_safely(const char *path, const struct pa_file_rules *rules, char **out,
			       size_t *outlen, char *err, size_t errlen);
int __real_pa_read_file_safely(const char *path, const struct pa_file_rules *rules, char **out,
			       size_t *outlen, char *err, size_t errlen);

int __wrap_pa_read_file_safely(const char *path, const struct pa_file_rules *rules, char **out,
			       size_t *outlen, char *err, size_t errlen)
{
	struct pa_file_rules r = *rules;

	if (r.max_size > FILES_MAX)
		r.max_size = FILES_MAX;
	return __real_pa_read_file_safely(path, &r, out, outlen, err, errlen);
}

static void die(const char *what)
{
	fprintf(stderr, "fuzz_config: %s\n", what);
	abort();
}

static void cleanup(void)
{
	int i;

	for (i = 0; i < MAX_DROPINS; i++)
		unlink(dropin_path[i]);
	unlink(main_path);
	rmdir(dropin_dir);
	rmdir(tmpdir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *base = getenv("TMPDIR");
	int i;

	(void)argc;
	(void)argv;
	/* tmpfs when there is one: the files mode writes files on every run */
	if (base == NULL || base[0] != '/' || strlen(base) > 32)
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(tmpdir, sizeof(tmpdir), "%s/pa-fuzz-config.XXXXXX", base);
	if (mkdtemp(tmpdir) == NULL)
		die("mkdtemp failed");
	snprintf(main_path, sizeof(main_path), "%s/pam_agent.conf", tmpdir);
	snprintf(dropin_dir, sizeof(dropin_dir), "%s/pam_agent.conf.d", tmpdir);
	if (mkdir(dropin_dir, 0700) != 0)
		die("mkdir failed");
	for (i = 0; i < MAX_DROPINS; i++)
		snprintf(dropin_path[i], sizeof(dropin_path[i]), "%s/%02d-fuzz.conf", dropin_dir,
			 10 * (i + 1));
	atexit(cleanup);
	return 0;
}

static void write_file(const char *path, const uint8_t *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		die("cannot write a temporary file");
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("write failed");
		p += n;
		len -= (size_t)n;
	}
	close(fd);
}

/* One decision for the identity agent_id (act: an actor's id, or NULL). */
static void decide(const struct pol_config *cfg, const char *agent_id, const char *service,
		   const char *user, const char *act_sub, bool attested)
{
	static const struct pol_runtime runtime = { .unit = "agent.service",
						    .exe = "/usr/bin/agent",
						    .has_uid = true,
						    .uid = 1000 };
	struct id_identity id = { 0 };
	struct pol_request req = { 0 };
	struct pol_decision d;
	char *text;

	id.kind = strncmp(agent_id, "spiffe://", 9) == 0 ? ID_KIND_SPIFFE : ID_KIND_OIDC;
	id.agent_id = (char *)agent_id;
	id.subject = (char *)agent_id;
	id.issuer = id.kind == ID_KIND_OIDC ? (char *)"https://login.example.org" : NULL;
	id.task = (char *)"T-42";
	id.scope = (char *)"tickets:read";
	id.iat = FUZZ_NOW - 10;
	id.exp = FUZZ_NOW + 300;
	if (act_sub != NULL)
		id.act = json_pack("{s:s, s:{s:s}}", "sub", act_sub, "act", "sub",
				   "spiffe://example.org/orchestrator");
	req.id = &id;
	req.service = service;
	req.user = user;
	req.rhost = attested ? "ci.example.org" : NULL;
	req.tty = "ssh";
	req.now = FUZZ_NOW;
	req.runtime = attested ? &runtime : NULL;
	if (pol_decide(cfg, &req, &d) != 0)
		die("pol_decide ran out of memory");
	if (d.allow && (d.denial != NULL || d.max_session <= 0))
		die("an allow with a denial or without a session length");
	if (!d.allow && d.n_grants != 0)
		die("a deny with grants");
	text = pol_explain(&req, &d);
	if (text == NULL)
		die("pol_explain returned NULL");
	free(text);
	pol_decision_clear(&d);
	json_decref(id.act);
}

/* Uses a configuration that loaded the way the module does. */
static void use_config(struct pol_config *cfg)
{
	struct id_verifier v;
	char err[256], *id;
	size_t i;

	if (pol_config_to_verifier(cfg, &v, err, sizeof(err)) != 0)
		die("pol_config_to_verifier failed on a loaded configuration");
	id_verifier_clear(&v);
	decide(cfg, "spiffe://example.org/agents/support-bot", "sshd", "svc-support", NULL, false);
	for (i = 0; i < cfg->n_agents && i < 4; i++) {
		const struct pol_agent *a = &cfg->agents[i];
		const struct pol_agent *m;
		size_t plen = strlen(a->pattern);

		/* an id the rule matches: the pattern, or its prefix + "x" */
		if (asprintf(&id, "%.*s%s", (int)(a->prefix ? plen - 1 : plen), a->pattern,
			     a->prefix ? "x" : "") < 0)
			die("out of memory");
		m = pol_config_match_agent(cfg, id);
		if (m == NULL)
			die("an id built from an [agent] pattern matches no rule");
		pol_config_match_deny(cfg, id);
		decide(cfg, id, a->services.n > 0 ? a->services.v[0] : "sshd",
		       a->users.n > 0 ? a->users.v[0] : "root", NULL, i % 2 == 1);
		decide(cfg, id, a->services.n > 0 ? a->services.v[a->services.n - 1] : "sudo",
		       a->users.n > 0 ? a->users.v[0] : "root", "spiffe://example.org/agents/x", true);
		free(id);
	}
	for (i = 0; i < cfg->n_services && i < 4; i++)
		if (pol_config_find_service(cfg, cfg->services[i].name) == NULL)
			die("a [service] section is not found by its name");
	for (i = 0; i < cfg->n_grants && i < 4; i++)
		if (pol_config_find_grant(cfg, cfg->grants[i].name) == NULL)
			die("a [grant] section is not found by its name");
}

static void check_result(int rc, struct pol_config *cfg, struct pol_errors *errors)
{
	if (rc == 0) {
		if (cfg == NULL)
			die("success without a configuration");
		use_config(cfg);
		pol_config_unref(cfg);
	} else if (cfg != NULL || (errors->n == 0 && errors->dropped == 0)) {
		die("a refusal without a message (or with a configuration)");
	}
	pol_errors_clear(errors);
}

/* The files mode: main file, then drop-ins, through pol_config_load. */
static void try_files(const uint8_t *data, size_t size, const uint8_t *sep)
{
	const size_t seplen = sizeof(SEPARATOR) - 1;
	struct pol_errors errors = { 0 };
	struct pol_config *cfg = NULL;
	const uint8_t *p;
	size_t left;
	int i, rc;

	write_file(main_path, data, (size_t)(sep - data));
	p = sep + seplen;
	left = size - (size_t)(p - data);
	for (i = 0; i < MAX_DROPINS; i++) {
		const uint8_t *next = p != NULL ? memmem(p, left, SEPARATOR, seplen) : NULL;
		size_t len = next != NULL ? (size_t)(next - p) : left;

		if (p == NULL) {
			unlink(dropin_path[i]);
			continue;
		}
		write_file(dropin_path[i], p, len);
		if (next != NULL) {
			left -= len + seplen;
			p = next + seplen;
		} else {
			p = NULL;
		}
	}
	rc = pol_config_load(main_path, dropin_dir, &cfg, &errors);
	check_result(rc, cfg, &errors);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pol_errors errors = { 0 };
	struct pol_config *cfg = NULL;
	const uint8_t *sep;
	int rc;

	if (size > 256 * 1024)
		return 0;
	rc = pol_config_parse_text("fuzz.conf", (const char *)data, size, &cfg, &errors);
	check_result(rc, cfg, &errors);
	sep = size <= FILES_MAX ? memmem(data, size, SEPARATOR, sizeof(SEPARATOR) - 1) : NULL;
	if (sep != NULL)
		try_files(data, size, sep);
	return 0;
}
