/*
 * verify.c - `pam-agent verify`: checks a token with the module's own
 * code path (configuration, bundles, id_verify_token), for administrators
 * and tests. It does not record the jti in the replay cache (a dry run
 * must not use a single-use token up).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "identity.h"
#include "pa_json.h"
#include "policy.h"
#include "util.h"

static int usage(FILE *f, int code)
{
	fprintf(f,
		"usage: pam-agent verify [--config FILE] [--bundle [TD=]FILE… --audience AUD]\n"
		"                        [--now EPOCH] [--json] [TOKEN-FILE|-]\n"
		"       pam-agent verify [--config FILE] [--bundle TD=FILE…] [--now EPOCH]\n"
		"                        [--json] --x509 CHAIN-FILE|-\n"
		"\n"
		"Verifies a JWT-SVID, WIT-SVID or OIDC token exactly as pam_agent.so does.\n"
		"Trust comes from the configuration (default %s) or, with --bundle,\n"
		"from SPIFFE bundle files alone (TD= names the trust domain; without it the\n"
		"one bundle is taken for the token's own trust domain), with --audience.\n"
		"Exit 0 and the verified claims as JSON on stdout; exit 1 and\n"
		"'rejected: REASON' on stderr; exit 2 on usage or configuration errors.\n"
		"--json prints one line with the identity (agent id, kind, fingerprint,\n"
		"claims) instead. The token is read from TOKEN-FILE or standard input.\n"
		"--x509 verifies an X.509-SVID chain instead (PEM, leaf first, or the\n"
		"compact form) against the X.509 authorities of the leaf's trust domain;\n"
		"with --bundle, each bundle is named TD=FILE and --audience is not needed.\n",
		PA_DEFAULT_CONFIG);
	return code;
}

/* Trust domain named by the (unverified) sub of token, into td. */
static int token_trust_domain(const char *token, char *td, size_t tdlen)
{
	struct id_jws jws;
	const char *sub;
	char err[256];
	int ret = -1;

	memset(&jws, 0, sizeof(jws));
	if (id_jws_parse(token, strlen(token), true, &jws, err, sizeof(err)) == 0 &&
	    (sub = json_string_value(json_object_get(jws.claims, "sub"))) != NULL &&
	    id_spiffe_id_parse(sub, td, tdlen, err, sizeof(err)) == 0)
		ret = 0;
	id_jws_clear(&jws);
	return ret;
}

/*
 * Reads an X.509-SVID chain from path ("-": standard input), at most
 * ID_X509_CHAIN_MAX bytes. NULL with *code set when it cannot.
 */
static char *read_chain(const char *path, size_t *len, int *code)
{
	FILE *f = stdin;
	char *buf;

	*code = CLI_USAGE;
	if (strcmp(path, "-") != 0 && (f = fopen(path, "re")) == NULL) {
		fprintf(stderr, "pam-agent: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	buf = malloc(ID_X509_CHAIN_MAX + 2);
	if (buf != NULL)
		*len = fread(buf, 1, ID_X509_CHAIN_MAX + 1, f);
	if (f != stdin)
		fclose(f);
	if (buf == NULL) {
		fprintf(stderr, "pam-agent: out of memory\n");
		return NULL;
	}
	buf[*len] = '\0';
	if (*len > ID_X509_CHAIN_MAX || memchr(buf, '\0', *len) != NULL) {
		fprintf(stderr, "rejected: the chain is larger than %d bytes or has a NUL byte\n",
			ID_X509_CHAIN_MAX);
		*code = CLI_REJECT;
		free(buf);
		return NULL;
	}
	/* the compact form may end with a newline, as a token file does */
	while (*len > 0 && strchr(" \t\r\n", buf[*len - 1]) != NULL)
		buf[--(*len)] = '\0';
	return buf;
}

/* Verifies the chain in text with v at now into *id; prints the refusal. */
static int verify_x509(const struct id_verifier *v, const char *text, size_t len, int64_t now,
		       struct id_identity **id)
{
	struct id_x509_chain *c = NULL;
	char err[512];
	int rc;

	rc = id_x509_chain_parse(text, len, &c, err, sizeof(err));
	if (rc == 0)
		rc = id_x509_verify(v, c, now, id, err, sizeof(err));
	id_x509_chain_free(c);
	if (rc != 0)
		fprintf(stderr, "rejected: %s\n", err);
	return rc != 0 ? CLI_REJECT : CLI_OK;
}

/* Builds the verifier from --bundle/--audience. */
static int verifier_from_bundles(struct id_verifier *v, char **bundles, size_t n,
				 const char *audience, const char *token)
{
	size_t i;

	v->domains = calloc(n, sizeof(*v->domains));
	v->audience = strdup(audience);
	v->leeway = 30;
	v->max_token_age = 3600;
	if (v->domains == NULL || v->audience == NULL)
		return cli_usage_error("out of memory");
	for (i = 0; i < n; i++) {
		char *eq = strchr(bundles[i], '=');
		char td[256];

		if (eq != NULL) {
			v->domains[i].name = strndup(bundles[i], (size_t)(eq - bundles[i]));
			v->domains[i].bundle_path = strdup(eq + 1);
		} else if (n == 1 && token != NULL) {
			/* the bundle stands for the token's own trust domain; a
			 * token without one fails later as "unknown trust domain" */
			if (token_trust_domain(token, td, sizeof(td)) != 0)
				snprintf(td, sizeof(td), "%s", "invalid.invalid");
			v->domains[i].name = strdup(td);
			v->domains[i].bundle_path = strdup(bundles[i]);
		} else {
			return cli_usage_error("verify: with several --bundle or --x509, write each "
					       "bundle as TD=FILE");
		}
		v->n_domains = i + 1;
		if (v->domains[i].name == NULL || v->domains[i].bundle_path == NULL)
			return cli_usage_error("out of memory");
	}
	return 0;
}

/* Builds the verifier from the configuration files. */
static int verifier_from_config(struct id_verifier *v, const char *path, bool *single_use)
{
	struct pol_errors errors = { 0 };
	struct pol_config *cfg = NULL;
	char dropins[4096], err[512];
	size_t i;
	int ret = 0;

	pa_dropin_dir(path, dropins, sizeof(dropins));
	if (pol_config_load(path, dropins, &cfg, &errors) != 0) {
		fprintf(stderr, "pam-agent: configuration refused:\n");
		for (i = 0; i < errors.n; i++)
			fprintf(stderr, "  %s\n", errors.msgs[i]);
		pol_errors_clear(&errors);
		return CLI_USAGE;
	}
	*single_use = cfg->global.single_use;
	for (i = 0; i < cfg->n_issuers; i++)
		*single_use = *single_use || pol_single_use(cfg, cfg->issuers[i].url);
	if (pol_config_to_verifier(cfg, v, err, sizeof(err)) != 0)
		ret = cli_usage_error("configuration: %s", err);
	pol_config_unref(cfg);
	return ret;
}

/* Prints the claims of id, or with json_line the identity on one line. */
static int print_identity(const struct id_identity *id, bool json_line)
{
	json_t *out = NULL;
	char *text;

	if (json_line) {
		out = id_identity_to_json(id);
		text = out != NULL ? pa_json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	} else {
		text = pa_json_dumps(id->claims, JSON_INDENT(2) | JSON_SORT_KEYS);
	}
	json_decref(out);
	if (text == NULL)
		return -1;
	printf("%s\n", text);
	free(text);
	return 0;
}

int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "bundle", required_argument, NULL, 'b' },
		{ "audience", required_argument, NULL, 'a' },
		{ "now", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "x509", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *audience = NULL, *input = "-", *x509 = NULL;
	char *bundles[64], *token = NULL, err[512];
	struct id_verifier v;
	struct id_identity *id = NULL;
	int64_t now = (int64_t)time(NULL);
	size_t n_bundles = 0, len = 0;
	bool json_line = false, single_use = false;
	int c, ret = CLI_USAGE;

	memset(&v, 0, sizeof(v));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'b':
			if (n_bundles == PA_ARRAY_SIZE(bundles))
				return cli_usage_error("verify: too many --bundle");
			bundles[n_bundles++] = optarg;
			break;
		case 'a': audience = optarg; break;
		case 'n':
			if (cli_parse_epoch(optarg, &now) != 0)
				return cli_usage_error("verify: --now %s: not an epoch time", optarg);
			break;
		case 'j': json_line = true; break;
		case 'x': x509 = optarg; break;
		case 'h': return usage(stdout, CLI_OK);
		default: return usage(stderr, CLI_USAGE);
		}
	}
	if (optind + 1 == argc && x509 == NULL)
		input = argv[optind];
	else if (optind != argc)
		return usage(stderr, CLI_USAGE);
	if (n_bundles > 0 && config != NULL)
		return cli_usage_error("verify: give either --config or --bundle, not both");
	if (x509 == NULL && (n_bundles > 0) != (audience != NULL))
		return cli_usage_error("verify: --bundle and --audience go together");

	if (x509 != NULL)
		token = read_chain(x509, &len, &ret);
	else
		token = cli_read_token(input, &ret);
	if (token == NULL)
		return ret;
	if (n_bundles > 0)
		/* an X.509-SVID has no audience; the verifier wants one for JWT-SVIDs */
		ret = verifier_from_bundles(&v, bundles, n_bundles,
					    audience != NULL ? audience : "x509-svid",
					    x509 != NULL ? NULL : token);
	else
		ret = verifier_from_config(&v, config != NULL ? config : PA_DEFAULT_CONFIG,
					   &single_use);
	if (ret != 0)
		goto out;
	if (id_verifier_load(&v, err, sizeof(err)) != 0) {
		ret = cli_usage_error("%s", err);
		goto out;
	}
	if (x509 != NULL) {
		ret = verify_x509(&v, token, len, now, &id);
		if (ret != CLI_OK)
			goto out;
	} else if (id_verify_token(&v, token, strlen(token), now, &id, err, sizeof(err)) != 0) {
		fprintf(stderr, "rejected: %s\n", err);
		ret = CLI_REJECT;
		goto out;
	}
	if (print_identity(id, json_line) != 0) {
		ret = cli_usage_error("out of memory");
		goto out;
	}
	if (id->wit)
		fprintf(stderr, "note: a WIT-SVID: pam_agent.so accepts it only with a proof of "
			"possession by the key of its cnf.jwk (docs/proof-of-possession.md)\n");
	else if (single_use)
		fprintf(stderr, "note: single_use is on; verify did not record jti in the replay cache\n");
	ret = CLI_OK;
out:
	id_identity_free(id);
	id_verifier_clear(&v);
	pa_free_secret(token);
	return ret;
}
