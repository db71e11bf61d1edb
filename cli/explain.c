/*
 * explain.c - `pam-agent explain`: the account-phase decision for an
 * identity given by hand (an agent id and the token's claims), a PAM
 * service, user and remote host (and, with --run-as, the session phase's
 * decision for a run-as target), at a given time, made by the module's own
 * code: the same two checks the module makes before the rules (the target
 * user exists; the token has not expired since authentication), then
 * pol_decide, printed with pol_explain. Nothing is verified (there is no
 * token) and nothing is recorded.
 */
#include "config.h"

#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "identity.h"
#include "pa_json.h"
#include "policy.h"
#include "util.h"

/* Lifetime of the token explain assumes when the claims give no exp. */
#define EXPLAIN_DEFAULT_TTL 300

static int usage(FILE *f, int code)
{
	fprintf(f,
		"usage: pam-agent explain --id ID --service S --user U [--run-as T]\n"
		"                         [--rhost H] [--claims JSON] [--config FILE]\n"
		"                         [--now EPOCH] [--runtime-pid PID]\n"
		"                         [--runtime-workload FILE] [--runtime-exe PATH]\n"
		"                         [--runtime-exe-sha256 HEX] [--runtime-unit UNIT]\n"
		"                         [--runtime-parent-exe-sha256 HEX] [--runtime-uid UID]\n"
		"                         [--task-state JSON]\n"
		"\n"
		"Prints the decision pam_agent.so's account phase makes for an agent (a\n"
		"SPIFFE ID, or ISSUER#SUBJECT for an OIDC identity) on PAM service S as\n"
		"user U from host H (none: local), under the configuration (default\n"
		"%s) at time EPOCH (default now):\n"
		"allow or deny, class, session length, grants and every reason.\n"
		"With --run-as, U is the invoking user (PAM_USER at authentication and\n"
		"account, as sudo sets it) and T the user the application switches\n"
		"PAM_USER to before the session (sudo -u T): the decision the session\n"
		"phase makes, which needs SERVICE:T in the run_as of the agent's rule.\n"
		"JSON is the token's claims as an object (task, scope, act, iat, exp, nbf,\n"
		"jti, iss, sub), taken as the verifier takes them. Without --claims the\n"
		"token is a fresh one: iat = now, exp = now + %ds. With --claims an\n"
		"absent exp is now + %ds and an absent iat stays absent, as in a token\n"
		"without one. The runtime.* rules see process PID attested as the module\n"
		"attests the process that started the application, FILE measured as the\n"
		"module measures agent-run's CMD, then the explicit --runtime-* values\n"
		"(docs/attestation.md); with --rhost, a remote login, nothing.\n"
		"A token with a task claim is decided against its task's ledger\n"
		"(docs/tasks.md): the one in STATE_DIR/tasks as it is now (read, not\n"
		"written), or the summary given as --task-state JSON, like\n"
		"'{\"sessions\":3,\"write\":1,\"open\":1}'.\n"
		"Exit 0 allow, 1 deny, 2 usage or configuration error.\n",
		PA_DEFAULT_CONFIG, EXPLAIN_DEFAULT_TTL, EXPLAIN_DEFAULT_TTL);
	return code;
}

/* a + b, saturated to the int64_t range. */
static int64_t sat_add(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/* Copies the optional string claim name into *field. Returns 0 or -1. */
static int copy_claim(const json_t *claims, const char *name, char **field,
		      char *err, size_t errlen)
{
	const char *s = NULL;
	int rc = id_claim_string(claims, name, &s, err, errlen);

	if (rc <= 0)
		return rc;
	*field = strdup(s);
	if (*field == NULL)
		return pa_err(err, errlen, "out of memory");
	return 0;
}

/*
 * Fills the names of id from agent_id as id_verify_token would have: a
 * SPIFFE ID is the subject and names the trust domain (iss, when given, is
 * kept as is); anything else is ISSUER#SUBJECT, split at the first '#'
 * (an issuer never contains one). sub and iss in the claims, when given,
 * must agree with agent_id. Returns 0 or -1 with err.
 */
static int identity_names(struct id_identity *id, const char *agent_id, const json_t *claims,
			  char *err, size_t errlen)
{
	const char *sub = NULL, *iss = NULL, *hash;
	char td[256], why[256], e[PA_ESCAPE_MAX];

	if (id_claim_string(claims, "sub", &sub, err, errlen) < 0 ||
	    id_claim_string(claims, "iss", &iss, err, errlen) < 0)
		return -1;
	pa_escape(agent_id, strlen(agent_id), e, sizeof(e));
	if (strncmp(agent_id, "spiffe://", 9) == 0) {
		if (id_spiffe_id_parse(agent_id, td, sizeof(td), why, sizeof(why)) != 0)
			return pa_err(err, errlen, "--id %s: %s", e, why);
		if (sub != NULL && strcmp(sub, agent_id) != 0)
			return pa_err(err, errlen, "\"sub\" differs from --id %s", e);
		id->kind = ID_KIND_SPIFFE;
		id->subject = strdup(agent_id);
		id->trust_domain = strdup(td);
		id->issuer = iss != NULL ? strdup(iss) : NULL;
		if (id->subject == NULL || id->trust_domain == NULL || (iss != NULL && !id->issuer))
			return pa_err(err, errlen, "out of memory");
		return 0;
	}
	hash = strchr(agent_id, '#');
	if (hash == NULL || hash == agent_id)
		return pa_err(err, errlen, "--id %s: neither a SPIFFE ID nor ISSUER#SUBJECT", e);
	id->kind = ID_KIND_OIDC;
	id->issuer = strndup(agent_id, (size_t)(hash - agent_id));
	id->subject = strdup(hash + 1);
	if (id->issuer == NULL || id->subject == NULL)
		return pa_err(err, errlen, "out of memory");
	if (!id_subject_printable(id->subject))
		return pa_err(err, errlen, "--id %s: the subject is empty or has control characters",
			      e);
	if (iss != NULL && strcmp(iss, id->issuer) != 0)
		return pa_err(err, errlen, "\"iss\" differs from the issuer of --id %s", e);
	if (sub != NULL && strcmp(sub, id->subject) != 0)
		return pa_err(err, errlen, "\"sub\" differs from the subject of --id %s", e);
	return 0;
}

/*
 * Builds the identity the verifier would have produced for a token with
 * these claims (claims NULL: a fresh token with no other claims) at now:
 * names from agent_id, jti/task/scope copied, act as given (the policy
 * engine judges its shape), exp/nbf/iat as NumericDates. Returns a new
 * identity, or NULL with err.
 */
static struct id_identity *build_identity(const char *agent_id, const json_t *claims,
					  int64_t now, char *err, size_t errlen)
{
	struct id_identity *id = NULL;
	json_t *all = NULL;
	int has_exp, has_nbf, has_iat;

	all = claims != NULL ? json_deep_copy(claims) : json_object();
	id = calloc(1, sizeof(*id));
	if (all == NULL || id == NULL) {
		pa_err(err, errlen, "out of memory");
		goto fail;
	}
	id->agent_id = agent_id != NULL ? strdup(agent_id) : NULL;
	if (id->agent_id == NULL) {
		pa_err(err, errlen, "out of memory");
		goto fail;
	}
	if (identity_names(id, agent_id, all, err, errlen) != 0 ||
	    copy_claim(all, "jti", &id->jti, err, errlen) != 0 ||
	    copy_claim(all, "task", &id->task, err, errlen) != 0 ||
	    copy_claim(all, "scope", &id->scope, err, errlen) != 0)
		goto fail;
	has_exp = id_claim_time(all, "exp", false, &id->exp, err, errlen);
	has_nbf = id_claim_time(all, "nbf", true, &id->nbf, err, errlen);
	has_iat = id_claim_time(all, "iat", true, &id->iat, err, errlen);
	if (has_exp < 0 || has_nbf < 0 || has_iat < 0)
		goto fail;
	if (has_exp == 0)
		id->exp = sat_add(now, EXPLAIN_DEFAULT_TTL);
	if (has_iat == 0 && claims == NULL)
		id->iat = now;
	id->act = json_incref(json_object_get(all, "act"));
	id->claims = all;
	return id;
fail:
	json_decref(all);
	id_identity_free(id);
	return NULL;
}

/*
 * Prints a note for each thing about this identity that the identity
 * engine would refuse at authentication, before any decision: the module
 * never reaches its account phase for such a token.
 */
static void print_auth_notes(const struct pol_config *cfg, const struct id_identity *id)
{
	const json_t *act = id->act;
	size_t i;
	bool known = false;

	for (i = 0; id->issuer != NULL && i < cfg->n_issuers; i++)
		if (strcmp(cfg->issuers[i].url, id->issuer) == 0)
			known = true;
	if (id->kind == ID_KIND_SPIFFE && known)
		printf("note: iss names a configured issuer: the module would verify this token "
		       "as %s#%s, not as this SPIFFE ID\n", id->issuer, id->agent_id);
	if (id->kind == ID_KIND_OIDC && !known)
		printf("note: issuer %s is not configured: the module refuses its tokens at "
		       "authentication\n", id->issuer);
	if (id->kind == ID_KIND_SPIFFE) {
		for (i = 0, known = false; i < cfg->n_domains; i++)
			if (strcmp(cfg->domains[i].name, id->trust_domain) == 0)
				known = true;
		if (!known)
			printf("note: trust domain %s is not configured: the module refuses its "
			       "tokens at authentication\n", id->trust_domain);
	}
	if (id->task != NULL && id->task[0] == '\0')
		printf("note: the \"task\" claim is empty: the module refuses such a token at "
		       "authentication\n");
	if (act != NULL && !json_is_object(act))
		printf("note: \"act\" is not a JSON object: the module refuses such a token at "
		       "authentication\n");
}

/*
 * Fills *d with the deny the module's account phase returns before the
 * rules are consulted: the one reason why, and the class of the service
 * asked for. Returns 0, or -1 when memory ran out.
 */
static int module_deny(const struct pol_config *cfg, const struct pol_request *req,
		       const char *why, struct pol_decision *d)
{
	const struct pol_service *svc = pol_config_find_service(cfg, req->service);

	memset(d, 0, sizeof(*d));
	d->reasons = calloc(1, sizeof(*d->reasons));
	if (d->reasons == NULL)
		return -1;
	d->reasons[0] = strdup(why);
	if (d->reasons[0] == NULL) {
		free(d->reasons);
		d->reasons = NULL;
		return -1;
	}
	d->n_reasons = 1;
	d->denial = d->reasons[0];
	d->cls = svc != NULL ? svc->cls : POL_CLASS_NONE;
	return 0;
}

/* Prints what the rules alone decide, for a request the module denied before them. */
static void print_rules_alone(const struct pol_config *cfg, const struct pol_request *req)
{
	struct pol_decision rules;
	size_t i;

	if (pol_decide(cfg, req, &rules) != 0) {
		pol_decision_clear(&rules);
		return;
	}
	printf("note: the module denies before consulting the rules; the rules alone would "
	       "decide: %s", rules.allow ? "allow" : "deny");
	if (rules.allow) {
		printf(", class %s, grants", pol_class_name(rules.cls));
		for (i = 0; i < rules.n_grants; i++)
			printf(" %s", rules.grants[i].name);
		if (rules.n_grants == 0)
			printf(" (none)");
	}
	printf("\n");
	pol_decision_clear(&rules);
}

/* Loads the configuration at path; on refusal prints every problem. */
static int load_config(const char *path, struct pol_config **cfg)
{
	struct pol_errors errors = { 0 };
	char dropins[4096];
	size_t i;

	pa_dropin_dir(path, dropins, sizeof(dropins));
	if (pol_config_load(path, dropins, cfg, &errors) == 0)
		return 0;
	fprintf(stderr, "pam-agent: configuration refused (everything would be denied):\n");
	for (i = 0; i < errors.n; i++)
		fprintf(stderr, "  %s\n", errors.msgs[i]);
	if (errors.dropped > 0)
		fprintf(stderr, "  ... and %zu more problems\n", errors.dropped);
	pol_errors_clear(&errors);
	return -1;
}

/* Whether the module's account phase finds user in the passwd database. */
static bool user_known(const char *user)
{
	struct passwd pw, *pwp = NULL;
	char buf[4096];

	return getpwnam_r(user, &pw, buf, sizeof(buf), &pwp) == 0 && pwp != NULL;
}

/* What the command line asks explain for. */
struct explain_opts {
	const char *agent, *service, *user, *rhost, *run_as, *config;
	json_t *claims; /* --claims, owned */
	const char *task_state; /* --task-state JSON, or NULL: the ledger */
	int64_t now;
	struct cli_runtime rt;
};

/* Parses the command line into *o: -1 to go on, else the exit code. */
static int explain_options(int argc, char **argv, struct explain_opts *o)
{
	static const struct option opts[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "service", required_argument, NULL, 's' },
		{ "user", required_argument, NULL, 'u' },
		{ "run-as", required_argument, NULL, 'a' },
		{ "rhost", required_argument, NULL, 'r' },
		{ "claims", required_argument, NULL, 'j' },
		{ "config", required_argument, NULL, 'c' },
		{ "now", required_argument, NULL, 'n' },
		{ "runtime-pid", required_argument, NULL, CLI_RT_PID },
		{ "runtime-uid", required_argument, NULL, CLI_RT_UID },
		{ "runtime-exe", required_argument, NULL, CLI_RT_EXE },
		{ "runtime-exe-sha256", required_argument, NULL, CLI_RT_SHA256 },
		{ "runtime-parent-exe-sha256", required_argument, NULL, CLI_RT_PARENT_SHA256 },
		{ "runtime-unit", required_argument, NULL, CLI_RT_UNIT },
		{ "runtime-workload", required_argument, NULL, CLI_RT_WORKLOAD },
		{ "task-state", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *claims_text = NULL;
	json_error_t jerr;
	int c, ret;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'i': o->agent = optarg; break;
		case 's': o->service = optarg; break;
		case 'u': o->user = optarg; break;
		case 'a': o->run_as = optarg; break;
		case 'r': o->rhost = optarg; break;
		case 'j': claims_text = optarg; break;
		case 'c': o->config = optarg; break;
		case 'T': o->task_state = optarg; break;
		case 'n':
			if (cli_parse_epoch(optarg, &o->now) != 0)
				return cli_usage_error("explain: --now %s: not an epoch time", optarg);
			break;
		case 'h': return usage(stdout, CLI_OK);
		case '?': return usage(stderr, CLI_USAGE);
		default:
			if ((ret = cli_runtime_option(&o->rt, c, optarg)) >= 0)
				return ret;
		}
	}
	if (optind != argc)
		return usage(stderr, CLI_USAGE);
	if (o->agent == NULL || o->service == NULL || o->user == NULL)
		return cli_usage_error("explain: --id, --service and --user are required");
	if (o->agent[0] == '\0' || o->service[0] == '\0' || o->user[0] == '\0' ||
	    o->config[0] == '\0' || (o->run_as != NULL && o->run_as[0] == '\0'))
		return cli_usage_error("explain: --id, --service, --user, --run-as and --config "
				       "must not be empty");
	if (claims_text != NULL) {
		/* the verifier's JSON rules: no duplicate names, no NUL in strings */
		o->claims = pa_json_loads(claims_text, JSON_REJECT_DUPLICATES, &jerr);
		if (o->claims == NULL)
			return cli_usage_error("explain: --claims: not valid JSON at column %d: %s",
					       jerr.column, jerr.text);
		if (!json_is_object(o->claims))
			return cli_usage_error("explain: --claims must be a JSON object");
	}
	return -1;
}

/*
 * Linux-PAM lower-cases the service name in pam_start, so the module
 * never sees an upper-case one: the name to decide for (heap), or NULL.
 */
static char *service_as_pam_sees_it(const char *service)
{
	char *lc = service != NULL ? strdup(service) : NULL, *p;

	if (lc == NULL)
		return NULL;
	for (p = lc; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if (strcmp(lc, service) != 0)
		fprintf(stderr, "pam-agent: explain: Linux-PAM lower-cases service names: "
			"deciding for service %s\n", lc);
	return lc;
}

/*
 * The task ledger's effect on d (docs/tasks.md): the state given, or the
 * ledger's as it is now (read, never written); a ledger that cannot be
 * read denies, as in the module. 0, or -1 (usage error, printed).
 */
static int explain_task(const struct pol_config *cfg, const struct pol_request *req,
			const struct explain_opts *o, struct pol_decision *d)
{
	struct pol_task_state st;
	struct pol_ledger *l = NULL;
	char err[512];
	int rc;

	if (req->id->task == NULL || req->id->task[0] == '\0')
		return 0;
	memset(&st, 0, sizeof(st));
	if (o->task_state != NULL) {
		if (pol_task_state_parse(o->task_state, &st, err, sizeof(err)) != 0) {
			cli_usage_error("explain: --task-state: %s", err);
			return -1;
		}
	} else {
		rc = pol_ledger_open(cfg->global.state_dir, req->id->agent_id, req->id->task, false,
				     0, &l, err, sizeof(err));
		if (rc < 0) {
			/* the module denies a task-bound request it cannot count */
			pol_decision_deny(d, pol_decision_add_reason(d, "task ledger: %s", err));
			return 0;
		}
		if (rc == 0)
			st = *pol_ledger_state(l);
		pol_ledger_close(l);
	}
	if (pol_task_apply(cfg, req, &st, d) != 0) {
		cli_usage_error("explain: out of memory");
		return -1;
	}
	return 0;
}

/* Decides req under cfg as the account phase would, and prints why. */
static int explain_decision(const struct pol_config *cfg, const struct pol_request *req,
			    const struct explain_opts *o)
{
	struct pol_decision d;
	const char *early = NULL;
	char *text = NULL;
	int ret = CLI_USAGE;

	memset(&d, 0, sizeof(d));
	/* the account phase's own checks before the rules, with its reasons */
	if (!user_known(o->user) || (o->run_as != NULL && !user_known(o->run_as)))
		early = "target user unknown";
	else if (o->now >= sat_add(req->id->exp, cfg->global.clock_skew))
		early = "token expired since authentication";
	if (early != NULL ? module_deny(cfg, req, early, &d) != 0 : pol_decide(cfg, req, &d) != 0) {
		ret = cli_usage_error("explain: out of memory");
		goto out;
	}
	if (early == NULL && explain_task(cfg, req, o, &d) != 0)
		goto out;
	text = pol_explain(req, &d);
	if (text == NULL) {
		ret = cli_usage_error("explain: out of memory");
		goto out;
	}
	fputs(text, stdout);
	if (early != NULL)
		print_rules_alone(cfg, req);
	print_auth_notes(cfg, req->id);
	if (o->run_as != NULL && strcmp(o->run_as, o->user) != 0)
		printf("note: with --run-as this is the session phase's decision; the account "
		       "phase decides for user %s alone, so a run-as target the rule does not "
		       "allow is refused when the session opens\n", o->user);
	ret = d.allow ? CLI_OK : CLI_REJECT;
out:
	free(text);
	pol_decision_clear(&d);
	return ret;
}

int cmd_explain(int argc, char **argv)
{
	struct explain_opts o = { .config = PA_DEFAULT_CONFIG, .now = (int64_t)time(NULL) };
	struct pol_config *cfg = NULL;
	struct id_identity *id = NULL;
	struct pol_request req;
	struct pol_runtime runtime;
	char *service_lc = NULL, err[512];
	int ret = explain_options(argc, argv, &o);

	if (ret >= 0)
		goto out;
	ret = CLI_USAGE;
	if (load_config(o.config, &cfg) != 0)
		goto out;
	id = build_identity(o.agent, o.claims, o.now, err, sizeof(err));
	if (id == NULL) {
		ret = cli_usage_error("explain: %s", err);
		goto out;
	}
	service_lc = service_as_pam_sees_it(o.service);
	if (service_lc == NULL) {
		ret = cli_usage_error("explain: out of memory");
		goto out;
	}
	memset(&req, 0, sizeof(req));
	req.id = id;
	req.service = service_lc;
	req.user = o.user;
	req.run_as = o.run_as;
	req.rhost = o.rhost;
	req.now = o.now;
	if (cli_runtime_build(&o.rt, o.rhost, &runtime, err, sizeof(err)) != 0) {
		ret = cli_usage_error("explain: %s", err);
		goto out;
	}
	req.runtime = &runtime;
	ret = explain_decision(cfg, &req, &o);
out:
	cli_runtime_clear(&o.rt);
	free(service_lc);
	id_identity_free(id);
	json_decref(o.claims);
	pol_config_unref(cfg);
	return ret;
}
