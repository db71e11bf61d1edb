/*
 * test_allocfail.c - allocation-failure injection (tests/mem/allocfail.h)
 * over the entry points of the identity, policy and audit engines and
 * of common/json.c: token verification (SPIFFE and OIDC, with the bundle
 * and JWKS load), key-set parsing, configuration with drop-ins (and one
 * that is refused), the verifier fill, the decision, explain, audit
 * events and their writing, and pa_json_* with jansson's own allocations
 * failed. The helper's entry points are in test_allocfail_helper.c.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "audit.h"
#include "identity.h"
#include "policy.h"
#include "pa_json.h"
#include "util.h"
#include "allocfail.h"

/* id_verifier_load (bundle + JWKS files) and id_verify_token, both paths */
static struct id_verifier ver;
static struct id_identity *ident;

static int run_verify(const char *token)
{
	af_armed = false; /* the fixture itself is not under test */
	if (af_verifier_fill(&ver) != 0)
		af_die("verifier");
	af_armed = true;
	if (id_verifier_load(&ver, af_errbuf, sizeof(af_errbuf)) != 0)
		return -1;
	return id_verify_token(&ver, token, strlen(token), af_now, &ident, af_errbuf,
			       sizeof(af_errbuf));
}

static int run_verify_spiffe(void)
{
	return run_verify(af_token_spiffe);
}

static int run_verify_oidc(void)
{
	return run_verify(af_token_oidc);
}

static char *render_identity(void)
{
	json_t *j = id_identity_to_json(ident);
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

	json_decref(j);
	return text;
}

static void release_verify(void)
{
	id_identity_free(ident);
	ident = NULL;
	id_verifier_clear(&ver);
}

/* id_keyset_parse of a JWKS with EC, RSA and OKP keys */
static char *jwks_doc;
static struct id_keyset *kset;

static int run_keyset(void)
{
	kset = id_keyset_parse(jwks_doc, strlen(jwks_doc), ID_KEYSET_OIDC, af_errbuf,
			       sizeof(af_errbuf));
	return kset != NULL ? 0 : -1;
}

static char *render_keyset(void)
{
	char *text = NULL;

	if (asprintf(&text, "%zu keys, a=%d b=%d c=%d", id_keyset_count(kset),
		     id_keyset_find(kset, "a") != NULL, id_keyset_find(kset, "b") != NULL,
		     id_keyset_find(kset, "c") != NULL) < 0)
		return NULL;
	return text;
}

static void release_keyset(void)
{
	id_keyset_free(kset);
	kset = NULL;
}

static void make_jwks_doc(void)
{
	struct id_signer *s[3];
	enum id_alg algs[3] = { ID_ALG_ES384, ID_ALG_PS256, ID_ALG_EDDSA };
	const char *kids[3] = { "a", "b", "c" };
	json_t *keys = json_array();
	char err[256];
	size_t i;

	for (i = 0; i < 3; i++) {
		json_t *jwk;

		s[i] = id_signer_generate(algs[i], err, sizeof(err));
		if (s[i] == NULL)
			af_die(err);
		jwk = id_signer_public_jwk(s[i], "sig");
		json_object_set_new(jwk, "kid", json_string(kids[i]));
		json_array_append_new(keys, jwk);
		id_signer_free(s[i]);
	}
	keys = json_pack("{s:o}", "keys", keys);
	jwks_doc = json_dumps(keys, JSON_COMPACT);
	json_decref(keys);
	if (jwks_doc == NULL)
		af_die("jwks doc");
}

/* pol_config_load: main file and two drop-ins */
static struct pol_config *cfg;
static struct pol_errors cfg_errors;

static int run_config(void)
{
	return pol_config_load(af_path_conf, af_path_dropins, &cfg, &cfg_errors);
}

static char *render_config(void)
{
	char *text = NULL;
	size_t i, len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return NULL;
	fprintf(f, "%s agents=%zu denies=%zu grants=%zu services=%zu files=%zu",
		cfg->global.audience, cfg->n_agents, cfg->n_denies, cfg->n_grants,
		cfg->n_services, cfg->n_files);
	for (i = 0; i < cfg->n_agents; i++)
		fprintf(f, " [%s users=%zu services=%zu]", cfg->agents[i].pattern,
			cfg->agents[i].users.n, cfg->agents[i].services.n);
	for (i = 0; i < cfg->n_grants; i++)
		fprintf(f, " <%s>", cfg->grants[i].name);
	fprintf(f, " match=%d", pol_config_match_agent(cfg, "spiffe://example.org/agents/support-bot") != NULL);
	fclose(f);
	return text;
}

static void release_config(void)
{
	pol_config_unref(cfg);
	cfg = NULL;
	pol_errors_clear(&cfg_errors);
}

/* pol_config_load of a file with problems: always -1, the messages */
static int run_config_bad(void)
{
	/* refused, as it must be, with or without memory: that is the result
	 * compared (under memory failure messages may be fewer) */
	if (pol_config_load(af_path_bad, NULL, &cfg, &cfg_errors) == 0) {
		printf("FAIL: config_load_refused: a bad configuration was accepted "
		       "(allocation %lu failed)\n", af_injected ? af_fail_at : 0);
		af_violations++;
	}
	return 0;
}

static char *render_config_bad(void)
{
	return strdup(cfg == NULL ? "refused" : "accepted");
}

/* pol_decide: an allow (grants, act chain) and a deny */
static struct pol_decision dec, dec2;

static int run_decide(void)
{
	struct pol_request deny = af_base_req;

	deny.user = "root";
	if (pol_decide(af_base_cfg, &af_base_req, &dec) != 0)
		return -1;
	return pol_decide(af_base_cfg, &deny, &dec2);
}

static char *render_decision(void)
{
	char *a = pol_explain(&af_base_req, &dec), *b = pol_explain(&af_base_req, &dec2),
	*text = NULL;

	if (a != NULL && b != NULL && asprintf(&text, "%s\n----\n%s", a, b) < 0)
		text = NULL;
	free(a);
	free(b);
	return text;
}

static void release_decide(void)
{
	pol_decision_clear(&dec);
	pol_decision_clear(&dec2);
}

/* the task ledger (docs/tasks.md): open and lock, decide, apply, count, append, close */
static struct pol_decision task_dec;
static struct pol_request task_req;
static struct id_identity task_id;
static char task_name[] = "T-allocfail";

static int run_task_ledger(void)
{
	struct pol_ledger *l = NULL;
	struct pol_ledger_entry e = { .time = af_now, .event = "decision", .result = "allow" };
	int rc = -1;

	task_id = *af_base_id; /* shallow: af_base_id owns the strings */
	task_id.task = task_name;
	task_req = af_base_req;
	task_req.id = &task_id;
	if (pol_ledger_open(af_dir, task_id.agent_id, task_id.task, true, 100, &l, af_errbuf,
			    sizeof(af_errbuf)) != 0)
		return -1;
	if (pol_decide(af_base_cfg, &task_req, &task_dec) == 0 &&
	    pol_task_apply(af_base_cfg, &task_req, pol_ledger_state(l), &task_dec) == 0) {
		pol_task_count(pol_ledger_state(l), &task_dec, af_now);
		rc = pol_ledger_append(l, &e, af_errbuf, sizeof(af_errbuf));
	}
	pol_ledger_close(l);
	return rc;
}

static char *render_task_ledger(void)
{
	return pol_explain(&task_req, &task_dec);
}

static void release_task_ledger(void)
{
	pol_decision_clear(&task_dec);
}

/* pol_explain */
static char *explained;

static int run_explain(void)
{
	explained = pol_explain(&af_base_req, &af_base_dec);
	return explained != NULL ? 0 : -1;
}

static char *render_explain(void)
{
	return strdup(explained);
}

static void release_explain(void)
{
	free(explained);
	explained = NULL;
}

/* pol_config_to_verifier */
static int run_to_verifier(void)
{
	memset(&ver, 0, sizeof(ver));
	return pol_config_to_verifier(af_base_cfg, &ver, af_errbuf, sizeof(af_errbuf));
}

static char *render_verifier(void)
{
	char *text = NULL;

	if (asprintf(&text, "%s %zu %s %s %zu %s %s %s", ver.audience, ver.n_domains,
		     ver.domains[0].name, ver.domains[0].bundle_path, ver.n_issuers,
		     ver.issuers[0].url, ver.issuers[0].jwks_path,
		     ver.issuers[0].audience ? ver.issuers[0].audience : "-") < 0)
		return NULL;
	return text;
}

static void release_verifier(void)
{
	id_verifier_clear(&ver);
}

/* audit: an event with every setter, serialised */
static struct aud_event *ev;
static char *line;

static int run_audit(void)
{
	struct timespec when = { 1700000000, 0 };
	int rc = 0;

	ev = aud_event_new(AUD_DECISION, AUD_RESULT_ALLOW, &when);
	if (ev == NULL)
		return -1;
	rc |= aud_event_set_identity(ev, af_base_id);
	rc |= aud_event_set_context(ev, "sshd", "svc-support", "10.0.0.7", "ssh");
	rc |= aud_event_set_session(ev, "0123456789abcdef");
	rc |= aud_event_set_decision(ev, &af_base_dec);
	rc |= aud_event_add_reason(ev, "a reason with a token "
				       "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln");
	rc |= aud_event_add_key(ev, "tickets-ro", 1234);
	aud_event_set_duration_ms(ev, 12);
	if (rc != 0)
		return -1;
	line = aud_event_to_json(ev);
	return line != NULL ? 0 : -1;
}

static char *render_audit(void)
{
	return strdup(line);
}

static void release_audit(void)
{
	aud_event_free(ev);
	ev = NULL;
	free(line);
	line = NULL;
}

/* aud_emit to a file (no syslog) */
static int run_audit_emit(void)
{
	struct aud_sink sink = { .file = af_path_audit, .no_syslog = true };
	struct timespec when = { 1700000000, 0 };
	int rc;

	ev = aud_event_new(AUD_SESSION_CLOSED, AUD_RESULT_OK, &when);
	if (ev == NULL)
		return -1;
	if (aud_event_set_identity(ev, af_base_id) != 0 ||
	    aud_event_add_key(ev, "tickets-ro", 1234) != 0)
		return -1;
	rc = aud_emit(&sink, ev, af_errbuf, sizeof(af_errbuf));
	return rc;
}

static char *render_emit(void)
{
	return strdup("emitted");
}

/*
 * pa_json_loadb and pa_json_dumps with jansson's own allocations failed
 * too: a JWT-like document whose strings outgrow jansson's 16-byte string
 * buffer, without escapes (jansson 2.14 may stop on assert(0) in
 * lex_scan_string when a string with escapes loses a byte). Without the
 * ENOMEM check these succeed with bytes missing.
 */
static const char json_doc[] =
	"{\"iss\":\"https://issuer.example.org/tenants/production\","
	"\"sub\":\"spiffe://example.org/agents/support-bot/long/path\","
	"\"aud\":[\"pam_agent.host-01.example.org\",\"second-audience\"],"
	"\"act\":{\"sub\":\"spiffe://example.org/orchestrator/primary\"},"
	"\"exp\":1900000000,\"scope\":\"tickets:read tickets:write inventory:read\"}";
static json_t *json_parsed;
static char *json_text;

static int run_json_parse(void)
{
	json_error_t jerr;

	af_unshielded = true;
	json_parsed = pa_json_loadb(json_doc, strlen(json_doc), JSON_REJECT_DUPLICATES, &jerr);
	af_unshielded = false;
	return json_parsed != NULL ? 0 : -1;
}

static char *render_json_parse(void)
{
	return json_dumps(json_parsed, JSON_COMPACT | JSON_SORT_KEYS);
}

static void release_json_parse(void)
{
	json_decref(json_parsed);
	json_parsed = NULL;
}

/* id_attest of this process and its parents, then its JSON (caller attestation) */
static char *attest_text;

static int run_attest(void)
{
	struct id_runtime rt;
	json_t *doc;
	int rc = id_attest(getpid(), 3, &rt, af_errbuf, sizeof(af_errbuf));

	if (rc != 0)
		return -1;
	doc = id_runtime_to_json(&rt);
	id_runtime_clear(&rt);
	if (doc == NULL)
		return -1;
	attest_text = pa_json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	return attest_text != NULL ? 0 : -1;
}

static char *render_attest(void)
{
	return attest_text != NULL ? strdup(attest_text) : NULL;
}

static void release_attest(void)
{
	free(attest_text);
	attest_text = NULL;
}

static int run_json_dump(void)
{
	json_t *doc = json_loads(json_doc, 0, NULL); /* shielded: not what is tested */

	if (doc == NULL)
		return -1;
	json_text = pa_json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	return json_text != NULL ? 0 : -1;
}

static char *render_json_dump(void)
{
	return json_text != NULL ? strdup(json_text) : NULL;
}

static void release_json_dump(void)
{
	free(json_text);
	json_text = NULL;
}

static void release_emit(void)
{
	release_audit();
}

static void setup(void)
{
	af_fixture();
	make_jwks_doc();
	af_load_base();
}

static void cleanup(void)
{
	free(jwks_doc);
	af_fixture_free();
}

int main(void)
{
	static const struct af_entry entries[] = {
		{ "verify_spiffe", run_verify_spiffe, render_identity, release_verify, NULL },
		{ "verify_oidc", run_verify_oidc, render_identity, release_verify, NULL },
		{ "keyset_parse", run_keyset, render_keyset, release_keyset, NULL },
		{ "config_load", run_config, render_config, release_config, NULL },
		{ "config_load_refused", run_config_bad, render_config_bad, release_config, NULL },
		{ "config_to_verifier", run_to_verifier, render_verifier, release_verifier, NULL },
		{ "decide", run_decide, render_decision, release_decide, "decision:    allow" },
		{ "explain", run_explain, render_explain, release_explain, NULL },
		{ "task_ledger", run_task_ledger, render_task_ledger, release_task_ledger,
		  "decision:    allow" },
		{ "audit_event", run_audit, render_audit, release_audit, NULL },
		{ "audit_emit", run_audit_emit, render_emit, release_emit, NULL },
		{ "json_parse", run_json_parse, render_json_parse, release_json_parse, NULL },
		{ "json_dump", run_json_dump, render_json_dump, release_json_dump, NULL },
		{ "attest", run_attest, render_attest, release_attest, NULL },
	};

	return af_run(entries, PA_ARRAY_SIZE(entries), setup, cleanup);
}
