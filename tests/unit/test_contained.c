/*
 * test_contained.c - attacks from the security reviews that are contained
 * without a change (docs/security.md, "contained"), at unit level:
 *
 * - minted claims come from the configuration and the helper, never from
 *   the agent's token: a token's scope, or members hidden in its act
 *   chain, do not reach the top-level claims of a minted JWT;
 * - the published broker JWKS replaced by a symbolic link: the helper
 *   replaces the link itself (rename), never writes through it;
 * - drop-ins (pam_agent.d) and libinih quirks that try to lift a [deny]:
 *   a second [deny] section, an allowing [agent] rule, the same section
 *   name spelled with other blanks or case, a header with text after ']',
 *   a key continuing the main file's section - each refused at load or
 *   outvoted by the deny.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "session.h"
#include "identity.h"
#include "policy.h"
#include "tfx_policy.h"

#define AGENT "spiffe://example.org/agents/bot"
#define EVIL "spiffe://example.org/agents/evil"

/* ---- minted claims ----------------------------------------------------------------------- */

/* The claims of a compact JWS (not verified: the test signed it). */
static json_t *payload_of(const char *token)
{
	const char *a = strchr(token, '.'), *b = a != NULL ? strchr(a + 1, '.') : NULL;
	unsigned char *raw = NULL;
	size_t len = 0;
	json_t *claims;

	assert_non_null(b);
	assert_int_equal(id_b64url_decode(a + 1, (size_t)(b - a - 1), &raw, &len), 0);
	claims = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
	free(raw);
	assert_non_null(claims);
	return claims;
}

static void test_mint_claims_from_config(void **state)
{
	char err[512];
	struct id_signer *signer = id_signer_generate(ID_ALG_ES256, err, sizeof(err));
	/* what the helper gets from the token: the verified sub, task, scope and
	 * act - here an act chain carrying claims of its own */
	json_t *act = json_pack("{s:s,s:I,s:s,s:s,s:s}", "sub", "spiffe://example.org/orch",
				"exp", (json_int_t)99999999999, "aud", "https://evil.example",
				"scope", "admin root", "iss", "https://evil.example");
	struct ses_grant_ctx ctx = {
		.sid = "0123456789abcdef0123456789abcdef",
		.agent = AGENT,
		.task = "T-1\n\"injected\":true",
		.scope = "admin root tickets:write",
		.user = "svc",
		.act = act,
		.max_session = 3600,
		.now = 1718013600,
		.broker_key = "/nonexistent/signing.key", /* not read: signer is set */
		.broker_issuer = "https://web01.example.org/broker",
		.signer = signer,
	};
	struct ses_grant g = { .name = "tickets-ro", .source = POL_SOURCE_MINT,
			      .audience = "https://tickets.example.org",
			      .scope = "tickets:read", .ttl = 300 };
	struct ses_cred cred = { 0 };
	json_t *c;
	const char *key;
	json_t *v;

	(void)state;
	assert_non_null(signer);
	assert_non_null(act);
	if (ses_grant_mint(&ctx, &g, &cred, err, sizeof(err)) != 0)
		fail_msg("ses_grant_mint: %s", err);
	c = payload_of(cred.secret);
	/* exactly these claims, each from the configuration or the helper */
	json_object_foreach(c, key, v) {
		static const char *const allowed[] = { "iss", "sub", "aud", "scope", "iat", "exp",
						       "jti", "sid", "task", "act" };
		size_t i;
		bool ok = false;

		for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
			ok = ok || strcmp(key, allowed[i]) == 0;
		if (!ok)
			fail_msg("unexpected claim %s in a minted token", key);
	}
	assert_string_equal(json_string_value(json_object_get(c, "iss")),
			    "https://web01.example.org/broker");
	assert_string_equal(json_string_value(json_object_get(c, "aud")),
			    "https://tickets.example.org");
	/* the grant's scope, not the token's */
	assert_string_equal(json_string_value(json_object_get(c, "scope")), "tickets:read");
	assert_int_equal(json_integer_value(json_object_get(c, "iat")), 1718013600);
	assert_int_equal(json_integer_value(json_object_get(c, "exp")), 1718013600 + 300);
	assert_string_equal(json_string_value(json_object_get(c, "sub")), AGENT);
	/* task stays one string value; the act chain stays nested under "act"
	 * (RFC 8693 §4.1: claims inside act other than the actor's identity
	 * are not meaningful to a relying party) */
	assert_string_equal(json_string_value(json_object_get(c, "task")), ctx.task);
	assert_null(json_object_get(c, "injected"));
	assert_true(json_equal(json_object_get(c, "act"), act));
	json_decref(c);
	ses_cred_clear(&cred);

	/* a grant without a scope mints no scope, whatever the token had */
	g.scope = NULL;
	if (ses_grant_mint(&ctx, &g, &cred, err, sizeof(err)) != 0)
		fail_msg("ses_grant_mint: %s", err);
	c = payload_of(cred.secret);
	assert_null(json_object_get(c, "scope"));
	json_decref(c);
	ses_cred_clear(&cred);

	/* the session length caps the lifetime, not anything in the token */
	ctx.max_session = 60;
	g.ttl = 86400;
	if (ses_grant_mint(&ctx, &g, &cred, err, sizeof(err)) != 0)
		fail_msg("ses_grant_mint: %s", err);
	c = payload_of(cred.secret);
	assert_int_equal(json_integer_value(json_object_get(c, "exp")), 1718013600 + 60);
	json_decref(c);
	ses_cred_clear(&cred);
	json_decref(act);
	id_signer_free(signer);
}

/* ---- the broker JWKS replaced by a symbolic link ---------------------------------------------- */

static void test_jwks_symlink_replaced_not_followed(void **state)
{
	struct tfx_conf *f = *state;
	char err[512], victim[320], link[320], buf[64];
	struct id_signer *signer = id_signer_generate(ID_ALG_ES256, err, sizeof(err));
	struct id_keyset *set;
	struct stat st;
	int fd;
	ssize_t n;

	assert_non_null(signer);
	snprintf(victim, sizeof(victim), "%s/victim", f->tmp.dir);
	snprintf(link, sizeof(link), "%s/broker.jwks", f->tmp.dir);
	tfx_write(victim, "do not touch\n", 0600);
	assert_int_equal(symlink(victim, link), 0);
	if (ses_write_jwks(link, signer, err, sizeof(err)) != 0)
		fail_msg("ses_write_jwks: %s", err);
	/* the link was replaced by a regular file; its target is untouched */
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0644);
	fd = open(victim, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_int_equal(n, 13);
	buf[n] = '\0';
	assert_string_equal(buf, "do not touch\n");
	assert_int_equal(stat(victim, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* and what was written is the broker's JWKS */
	set = id_keyset_load(link, ID_KEYSET_OIDC, err, sizeof(err));
	if (set == NULL)
		fail_msg("id_keyset_load: %s", err);
	assert_int_equal(id_keyset_count(set), 1);
	id_keyset_free(set);
	/* a relying party reading a JWKS that was swapped for a link refuses it */
	unlink(link);
	assert_int_equal(symlink(victim, link), 0);
	assert_null(id_keyset_load(link, ID_KEYSET_OIDC, err, sizeof(err)));
	assert_non_null(strstr(err, "symbolic link"));
	id_signer_free(signer);
}

/* ---- drop-ins that try to lift a [deny] ------------------------------------------------------- */

static const char main_conf[] =
	"[global]\n"
	"audience = spiffe://example.org/host/web01\n"
	"[service sshd]\n"
	"class = read\n"
	"[agent spiffe://example.org/agents/*]\n"
	"users = svc\n"
	"services = sshd\n"
	"[deny " EVIL "]\n"
	"reason = quarantined\n";

/* Loads main + drop-ins: the configuration, or NULL with the first error in err. */
static struct pol_config *load(struct tfx_conf *f, char *err, size_t errlen)
{
	struct pol_errors e = { 0 };
	struct pol_config *cfg = tfx_load(f, &e);

	snprintf(err, errlen, "%s", e.n > 0 ? e.msgs[0] : "");
	pol_errors_clear(&e);
	return cfg;
}

/* Whether EVIL may log in to sshd as svc under cfg. */
static bool evil_allowed(const struct pol_config *cfg)
{
	struct id_identity id = { 0 };
	struct pol_request req = { 0 };
	struct pol_decision d;
	bool allow;

	id.kind = ID_KIND_SPIFFE;
	id.agent_id = (char *)EVIL;
	id.subject = (char *)EVIL;
	id.iat = time(NULL) - 10;
	id.exp = time(NULL) + 290;
	req.id = &id;
	req.service = "sshd";
	req.user = "svc";
	req.now = time(NULL);
	assert_int_equal(pol_decide(cfg, &req, &d), 0);
	allow = d.allow;
	pol_decision_clear(&d);
	return allow;
}

static void test_dropins_cannot_lift_deny(void **state)
{
	static const struct {
		const char *dropin;
		const char *refusal; /* NULL: loads, and the deny still holds */
	} cases[] = {
		/* the same deny again, to replace its reason or empty it */
		{ "[deny " EVIL "]\nreason = lifted\n", "duplicate section [deny " EVIL "]" },
		/* an allow rule naming the agent exactly: the deny still wins */
		{ "[agent " EVIL "]\nusers = svc\nservices = sshd\n", NULL },
		/* continuing the main file's [deny] section from a drop-in */
		{ "reason =\n", "outside of any section" },
		/* other spellings of the section */
		{ "[DENY " EVIL "]\nreason = x\n", "unknown section" },
		{ "[deny  " EVIL "]\nreason = x\n", "with one space and no other blanks" },
		{ "[deny\t" EVIL "]\nreason = x\n", "unknown section" },
		{ "[deny " EVIL "/]\nreason = x\n", "no empty path segment" },
		{ "[agent " EVIL " ]\nusers = svc\nservices = sshd\n", "with one space" },
		/* an allow rule for a case variant of the name: another agent */
		{ "[agent spiffe://example.org/agents/EVIL]\nusers = svc\nservices = sshd\n", NULL },
		{ "[deny " EVIL "] x\nreason = x\n", "text after ']'" },
		/* an indented header: libinih reads it as a continuation line */
		{ "[agent spiffe://example.org/agents/other]\nusers = svc\nservices = sshd\n"
		  "  [agent " EVIL "]\n", "indented line" },
		{ NULL, NULL },
	};
	struct tfx_conf *f = *state;
	struct pol_config *cfg;
	char err[600], p[320];
	size_t i;

	tfx_write(f->path, main_conf, 0644);
	cfg = load(f, err, sizeof(err));
	if (cfg == NULL)
		fail_msg("main: %s", err);
	assert_false(evil_allowed(cfg));
	pol_config_unref(cfg);
	for (i = 0; cases[i].dropin != NULL; i++) {
		tfx_dropin(f, "50-override.conf", cases[i].dropin);
		cfg = load(f, err, sizeof(err));
		if (cases[i].refusal != NULL) {
			if (cfg != NULL || strstr(err, cases[i].refusal) == NULL)
				fail_msg("drop-in %zu: expected a refusal with \"%s\", got %s", i,
					 cases[i].refusal, cfg != NULL ? "a configuration" : err);
		} else {
			if (cfg == NULL)
				fail_msg("drop-in %zu: refused: %s", i, err);
			if (evil_allowed(cfg))
				fail_msg("drop-in %zu lifted the deny", i);
			pol_config_unref(cfg);
		}
	}
	/* a NUL byte (hiding the rest of a line from C strings) in a drop-in: refused */
	snprintf(p, sizeof(p), "%s/50-override.conf", f->dropins);
	{
		static const char text[] = "[agent " EVIL "]\0\nusers = svc\nservices = sshd\n";
		int fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
		close(fd);
	}
	assert_null(load(f, err, sizeof(err)));
	/* a drop-in others may write is refused as a whole */
	tfx_dropin(f, "50-override.conf", "[agent " EVIL "]\nusers = svc\nservices = sshd\n");
	assert_int_equal(chmod(p, 0666), 0);
	assert_null(load(f, err, sizeof(err)));
	assert_non_null(strstr(err, "too open"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mint_claims_from_config),
		cmocka_unit_test_setup_teardown(test_jwks_symlink_replaced_not_followed,
						tfx_conf_setup, tfx_conf_teardown),
		cmocka_unit_test_setup_teardown(test_dropins_cannot_lift_deny, tfx_conf_setup,
						tfx_conf_teardown),
	};

	return cmocka_run_group_tests_name("contained", tests, NULL, NULL);
}
