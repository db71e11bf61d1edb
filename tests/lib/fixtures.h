/*
 * fixtures.h - trust domains, tokens and configuration files for the
 * PAM-stack tests, made inside the harness directory.
 */
#ifndef PA_TEST_FIXTURES_H
#define PA_TEST_FIXTURES_H

#include <stdint.h>
#include <sys/types.h>

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

#endif
