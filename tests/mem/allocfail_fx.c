/*
 * allocfail_fx.c - the fixture of the allocation-failure tests (see
 * allocfail.h): a bundle and a JWKS with a token for each, the broker
 * key, a file secret, a configuration with two drop-ins and a broken one,
 * and the decision of the base request loaded once.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "identity.h"
#include "policy.h"
#include "util.h"
#include "tfx.h"
#include "tfx_id.h"
#include "allocfail.h"

char af_dir[TFX_DIR_MAX];
char af_path_bundle[256], af_path_jwks[256], af_path_conf[256], af_path_dropins[256];
char af_path_bad[256], af_path_broker_key[256], af_path_file_secret[256], af_path_audit[256];
char *af_token_spiffe, *af_token_oidc;
int64_t af_now;
char af_errbuf[1024];
struct pol_config *af_base_cfg;
struct id_identity *af_base_id;
struct pol_decision af_base_dec;
struct pol_request af_base_req;

#define CONFIG_TEXT \
	"[global]\n" \
	"audience = spiffe://example.org/host/web01\n" \
	"clock_skew = 30s\n" \
	"max_token_age = 1h\n" \
	"max_delegation_depth = 2\n" \
	"[trust_domain example.org]\n" \
	"bundle = %s\n" \
	"[issuer https://login.example.org]\n" \
	"jwks = %s\n" \
	"audience = pam-agent-web01\n" \
	"[service sshd]\n" \
	"class = write\n" \
	"[service agent-read]\n" \
	"class = read\n" \
	"[agent spiffe://example.org/agents/support-bot]\n" \
	"users = svc-support\n" \
	"services = agent-read sshd\n" \
	"max_class = write\n" \
	"max_session = 15m\n" \
	"require_task = yes\n" \
	"grants = tickets-ro tickets-rw legacy-db\n" \
	"[agent spiffe://example.org/orchestrator]\n" \
	"users = svc-support\n" \
	"services = agent-read sshd\n" \
	"max_class = write\n" \
	"grants = tickets-ro tickets-rw legacy-db\n" \
	"[agent https://login.example.org#*]\n" \
	"users = ci\n" \
	"services = agent-read\n" \
	"grants = tickets-ro\n" \
	"[grant tickets-ro]\n" \
	"class = read\n" \
	"source = mint\n" \
	"audience = https://tickets.example.org\n" \
	"scope = tickets:read\n" \
	"ttl = 10m\n"

static const char *dropin_text =
	"[grant tickets-rw]\n"
	"class = write\n"
	"source = exec\n"
	"command = /usr/libexec/vault-broker issue tickets-rw\n"
	"revoke = /usr/libexec/vault-broker revoke\n"
	"ttl = 5m\n"
	"[grant legacy-db]\n"
	"class = read\n"
	"source = file\n"
	"path = /etc/pam_agent/legacy-db.secret\n"
	"ttl = 10m\n";

static const char *dropin2_text =
	"[deny spiffe://example.org/agents/experimental/*]\n"
	"reason = experimental agents never log in here\n";

void af_fixture(void)
{
	struct id_signer *td, *oidc;
	char err[256], text[4096];
	json_t *claims;

	af_now = (int64_t)time(NULL);
	if (tfx_dir_new(af_dir, "allocfail") != 0)
		af_die("mkdtemp");
	snprintf(af_path_bundle, sizeof(af_path_bundle), "%s/bundle.json", af_dir);
	snprintf(af_path_jwks, sizeof(af_path_jwks), "%s/jwks.json", af_dir);
	snprintf(af_path_conf, sizeof(af_path_conf), "%s/pam_agent.conf", af_dir);
	snprintf(af_path_dropins, sizeof(af_path_dropins), "%s/pam_agent.d", af_dir);
	snprintf(af_path_bad, sizeof(af_path_bad), "%s/bad.conf", af_dir);
	snprintf(af_path_broker_key, sizeof(af_path_broker_key), "%s/broker.key", af_dir);
	snprintf(af_path_file_secret, sizeof(af_path_file_secret), "%s/file.secret", af_dir);
	snprintf(af_path_audit, sizeof(af_path_audit), "%s/audit.log", af_dir);

	td = id_signer_generate(ID_ALG_ES256, err, sizeof(err));
	oidc = id_signer_generate(ID_ALG_RS256, err, sizeof(err));
	if (td == NULL || oidc == NULL)
		af_die(err);
	tfx_write_json(af_path_bundle, tfx_jwks(td, "jwt-svid"), 0644);
	tfx_write_json(af_path_jwks, tfx_jwks(oidc, NULL), 0644);
	claims = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:{s:s}}",
			   "sub", "spiffe://example.org/agents/support-bot",
			   "aud", "spiffe://example.org/host/web01",
			   "iat", (json_int_t)af_now, "exp", (json_int_t)(af_now + 600),
			   "jti", "jti-0001", "task", "T-42", "scope", "write",
			   "act", "sub", "spiffe://example.org/orchestrator");
	af_token_spiffe = tfx_sign(td, claims);
	claims = json_pack("{s:s, s:s, s:[s], s:I, s:I}",
			   "iss", "https://login.example.org", "sub", "runner-7",
			   "aud", "pam-agent-web01", "iat", (json_int_t)af_now,
			   "exp", (json_int_t)(af_now + 600));
	af_token_oidc = tfx_sign(oidc, claims);
	if (id_signer_save(td, af_path_broker_key, err, sizeof(err)) != 0)
		af_die(err);
	id_signer_free(td);
	id_signer_free(oidc);

	snprintf(text, sizeof(text), CONFIG_TEXT, af_path_bundle, af_path_jwks);
	tfx_write(af_path_conf, text, 0644);
	if (mkdir(af_path_dropins, 0755) != 0)
		af_die(af_path_dropins);
	snprintf(text, sizeof(text), "%s/10-grants.conf", af_path_dropins);
	tfx_write(text, dropin_text, 0644);
	snprintf(text, sizeof(text), "%s/50-deny.conf", af_path_dropins);
	tfx_write(text, dropin2_text, 0644);
	/* a configuration with several problems: every run must refuse it */
	tfx_write(af_path_bad,
		  "[global]\naudience = a\nbogus = 1\n[service x]\nclass = none\n"
		  "[agent spiffe://example.org/a]\nusers = u\n[grant g]\nsource = mint\n",
		  0644);
	tfx_write(af_path_file_secret, "S3CR3T-file\n", 0600);
}

void af_fixture_free(void)
{
	pol_decision_clear(&af_base_dec);
	id_identity_free(af_base_id);
	pol_config_unref(af_base_cfg);
	pa_free_secret(af_token_spiffe);
	pa_free_secret(af_token_oidc);
	if (getenv("PA_KEEP_TEST_DIR") == NULL)
		tfx_dir_remove(af_dir);
}

int af_verifier_fill(struct id_verifier *v)
{
	/* what pol_config_to_verifier gives, built by hand */
	memset(v, 0, sizeof(*v));
	v->leeway = 30;
	v->max_token_age = 3600;
	v->audience = strdup("spiffe://example.org/host/web01");
	v->domains = calloc(1, sizeof(*v->domains));
	v->issuers = calloc(1, sizeof(*v->issuers));
	if (v->audience == NULL || v->domains == NULL || v->issuers == NULL)
		return -1;
	v->n_domains = 1;
	v->n_issuers = 1;
	v->domains[0].name = strdup("example.org");
	v->domains[0].bundle_path = strdup(af_path_bundle);
	v->issuers[0].url = strdup("https://login.example.org");
	v->issuers[0].jwks_path = strdup(af_path_jwks);
	v->issuers[0].audience = strdup("pam-agent-web01");
	if (v->domains[0].name == NULL || v->domains[0].bundle_path == NULL ||
	    v->issuers[0].url == NULL || v->issuers[0].jwks_path == NULL ||
	    v->issuers[0].audience == NULL)
		return -1;
	return 0;
}

void af_load_base(void)
{
	struct pol_errors e = { 0 };
	struct id_verifier v;
	char err[512];

	if (pol_config_load(af_path_conf, af_path_dropins, &af_base_cfg, &e) != 0)
		af_die(e.n ? e.msgs[0] : "config");
	if (af_verifier_fill(&v) != 0 || id_verifier_load(&v, err, sizeof(err)) != 0 ||
	    id_verify_token(&v, af_token_spiffe, strlen(af_token_spiffe), af_now, &af_base_id,
			    err, sizeof(err)) != 0)
		af_die(err);
	id_verifier_clear(&v);
	af_base_req.id = af_base_id;
	af_base_req.service = "sshd";
	af_base_req.user = "svc-support";
	af_base_req.rhost = "10.0.0.7";
	af_base_req.tty = "ssh";
	af_base_req.now = af_now;
	if (pol_decide(af_base_cfg, &af_base_req, &af_base_dec) != 0 || !af_base_dec.allow) {
		char *why = pol_explain(&af_base_req, &af_base_dec);

		fprintf(stderr, "%s", why ? why : "");
		af_die("the base decision is not an allow");
	}
}
