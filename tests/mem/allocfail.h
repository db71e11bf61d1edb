/*
 * allocfail.h - allocation-failure injection over the engines' entry
 * points that parse or build untrusted or complex data (test_allocfail,
 * test_allocfail_helper): the allocation counter, the injection loop
 * (allocfail.c) and the fixture the entry points share (allocfail_fx.c).
 *
 * Each program prints one line per entry point: failure points
 * exercised, how many returned an error and how many were absorbed.
 * Exit 0, or 1 on any violation. PA_ALLOCFAIL_ONLY=NAME runs one entry
 * point, PA_ALLOCFAIL_DEBUG=SEQ prints a backtrace where block SEQ is
 * made, PA_KEEP_TEST_DIR keeps the fixture's directory.
 */
#ifndef PA_ALLOCFAIL_H
#define PA_ALLOCFAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "identity.h"
#include "policy.h"
#include "tfx.h"

/* ---- the counter and the loop (allocfail.c) ---------------------------------------------- */

extern bool af_armed;		/* counting (and maybe failing) this call's allocations */
extern unsigned long af_fail_at; /* 0: none; k: the k-th fails */
extern bool af_injected;	/* the failure happened */
extern int af_violations;	/* failures of the rules so far */
/*
 * Set by the json_* entries, which check pam_agent's own answer to a
 * failure inside jansson's parser (common/json.c: a failed allocation
 * during the call refuses the result); the parser is shielded otherwise.
 */
extern bool af_unshielded;

/*
 * One entry point. run() makes the call (armed), returns 0 or -1 and on
 * success leaves what it made in its state; render() (not armed) turns
 * that into text to compare, heap string; release() frees the state.
 */
struct af_entry {
	const char *name;
	int (*run)(void);
	char *(*render)(void);
	void (*release)(void);
	/* a result without this text is a fail-closed answer (a deny), fine */
	const char *open_mark;
};

/*
 * Puts jansson's and OpenSSL's allocators on the counter, runs setup, each
 * of the n entries through the loop, then cleanup. Returns the exit status.
 */
int af_run(const struct af_entry *entries, size_t n, void (*setup)(void), void (*cleanup)(void));

/* Says what went wrong while setting up and exits 1. */
void af_die(const char *what);

/* ---- the fixture (allocfail_fx.c) -------------------------------------------------------- */

extern char af_dir[TFX_DIR_MAX];
extern char af_path_bundle[256], af_path_jwks[256], af_path_conf[256], af_path_dropins[256];
extern char af_path_bad[256], af_path_broker_key[256], af_path_file_secret[256],
	af_path_audit[256];
extern char *af_token_spiffe, *af_token_oidc; /* signed by the bundle's and the JWKS's key */
extern int64_t af_now;
extern char af_errbuf[1024]; /* for the calls under test */

/*
 * The files: the bundle and JWKS, the configuration (two drop-ins, one
 * with grants of every source), a configuration with several problems,
 * the broker key and a file secret; and a token for each key.
 */
void af_fixture(void);

/* What pol_config_to_verifier gives for the configuration, built by hand. 0 or -1. */
int af_verifier_fill(struct id_verifier *v);

/* The configuration and the identity of af_token_spiffe, loaded once, and their allow. */
extern struct pol_config *af_base_cfg;
extern struct id_identity *af_base_id;
extern struct pol_decision af_base_dec;
extern struct pol_request af_base_req; /* sshd as svc-support from 10.0.0.7 */
void af_load_base(void);

/* Frees the base decision and the tokens, removes the directory (see PA_KEEP_TEST_DIR). */
void af_fixture_free(void);

#endif
