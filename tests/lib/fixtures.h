/*
 * fixtures.h - trust domains, tokens and configuration files for the
 * PAM-stack tests, made inside the harness directory, and what every
 * PAM-stack test does alike: its main(), its group setup, a conversation,
 * the checks of a PAM result and of the log. Include <cmocka.h> first.
 */
#ifndef PA_TEST_FIXTURES_H
#define PA_TEST_FIXTURES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <security/pam_appl.h>

#include "harness.h"
#include "identity.h"

#define FX_AUDIENCE "spiffe://example.org/host/test"

/* A test trust domain: a signing key and its SPIFFE bundle file. */
struct fx_domain {
	char name[64];
	struct id_signer *signer;
	char bundle[4096];
};

/* Makes a key for name and writes DIR/NAME.bundle.json. */
void fx_domain_init(struct fx_domain *d, const char *name, enum id_alg alg);
void fx_domain_free(struct fx_domain *d);

/*
 * Signs a JWT-SVID: sub, aud, iat, exp and a unique jti, then every member
 * of extra_json (a JSON object text, may be NULL) replaces or adds a claim
 * ("null" values remove one). Heap string; free with free().
 */
char *fx_mint(const struct fx_domain *d, const char *sub, const char *aud,
	      int64_t iat, int64_t exp, const char *extra_json);

/* Login name of the effective uid (the target user of the tests). */
const char *fx_user(void);

/*
 * Writes DIR/name with mode, replacing "@DIR@" by the harness directory and
 * "@USER@" by fx_user(). Returns the path (static buffer).
 */
const char *fx_file(const char *name, const char *content, mode_t mode);

/* Whether file DIR/name contains text. */
int fx_file_has(const char *name, const char *text);

/*
 * The trust domain example.org (ES256) that the tests sign with, and the
 * time their group started: made by fx_setup, freed by fx_teardown (group
 * setup and teardown for cmocka, or called from the test's own).
 */
extern struct fx_domain fx_example;
extern int64_t fx_now;
int fx_setup(void **state);
int fx_teardown(void **state);

/*
 * The start of a policy text (see fx_file): [global] with FX_AUDIENCE and
 * the audit file DIR/audit.jsonl; the test's own [global] lines follow.
 */
#define FX_POLICY_GLOBAL "[global]\naudience = " FX_AUDIENCE "\naudit_log = @DIR@/audit.jsonl\n"
/* The section of a policy text that trusts fx_example's bundle. */
#define FX_EXAMPLE_TRUST "[trust_domain example.org]\nbundle = @DIR@/example.org.bundle.json\n"

/*
 * The helper program of this build ($top_builddir/pam_agent_helper, an
 * absolute path), or NULL after saying on stderr that it is not there.
 */
const char *fx_helper(void);

/*
 * A broker for grants of "source = exec": DIR/issue.sh issues the secret
 * "lease-secret" with the revoke handle "h-1", DIR/revoke.sh appends each
 * revocation it is given to DIR/revoked.log.
 */
void fx_exec_broker(void);
/* The [grant lease] of a policy text, of class read, through fx_exec_broker; its ttl follows. */
#define FX_EXEC_LEASE "[grant lease]\nclass = read\nsource = exec\n" \
		      "command = @DIR@/issue.sh\nrevoke = @DIR@/revoke.sh\n"

/*
 * A conversation that answers every hidden prompt (PAM_PROMPT_ECHO_OFF)
 * with a copy of appdata, a string; no answer when appdata is NULL.
 */
int fx_conv(int n, const struct pam_message **msg, struct pam_response **resp, void *appdata);

/* pam_start on service for fx_user(), fx_conv answering with token (may be NULL). */
pam_handle_t *fx_start(const char *service, const char *token);

/* Fails the test, showing the log, unless the log since the last reset has text. */
void fx_expect_log(const char *text);
/* Fails the test, showing the log, when the log since the last reset has text. */
void fx_expect_no_log(const char *text);

/* Checks one PAM call's result, showing the log on failure. */
#define FX_EXPECT(call, want)                                                                      \
	do {                                                                                       \
		int rv_ = (call);                                                                  \
		if (rv_ != (want))                                                                 \
			fail_msg("%s: %d (%s), expected %d\nlog:\n%s", #call, rv_,                 \
				 pam_strerror(NULL, rv_), (want), pa_harness_log());               \
	} while (0)

/*
 * The main() of a PAM-stack test: pa_harness_init() with services, then
 * the cmocka group name of tests (an array) with the group's setup and
 * teardown (either may be NULL); returns the exit status.
 */
#define FX_MAIN(argc, argv, services, name, tests, setup, teardown)                                \
	fx_main(argc, argv, services, name, tests, sizeof(tests) / sizeof((tests)[0]), setup,      \
		teardown)
int fx_main(int argc, char **argv, const struct pa_service *services, const char *name,
	    const struct CMUnitTest *tests, size_t count, CMFixtureFunction setup,
	    CMFixtureFunction teardown);

#endif
